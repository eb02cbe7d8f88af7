/* store_usage.c - quotas per user and department and the token usage
 * counters behind them (store.h, "quotas and usage"; schema migration 10).
 * Counters are aggregated per UTC day and use case: one upsert per request
 * and subject, a handful of rows per user and day, so reports and quota
 * checks are sums over an index range. */
#include "store/store_int.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

/* ---- days ----------------------------------------------------------------- */

int hh_store_day_parse(const char *text, int64_t *day)
{
    int y, m, d;
    char tail;
    if (!text || strlen(text) != 10 || sscanf(text, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || text[4] != '-' ||
        text[7] != '-' || y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
        return HH_EINVAL;
    struct tm tm = { 0 };
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    time_t t = timegm(&tm);
    /* timegm normalizes 02-30 to 03-02: a date that moved was not a date */
    if (tm.tm_mday != d || tm.tm_mon != m - 1)
        return HH_EINVAL;
    *day = (int64_t)t / 86400;
    return 0;
}

void hh_store_day_format(int64_t day, char *out)
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[48];   /* room for any int, so the compiler sees no truncation */
    snprintf(buf, sizeof buf, "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday);
    memcpy(out, buf, 10);
    out[10] = '\0';
}

int64_t hh_store_month_start(int64_t day)
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    return day - (tm.tm_mday - 1);
}

int64_t hh_store_next_month_start(int64_t day)
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_mday = 1;
    tm.tm_mon += 1;   /* timegm carries December into January */
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return (int64_t)timegm(&tm) / 86400;
}

/* ---- quotas --------------------------------------------------------------- */

/* The id of user or department name; HH_ENOENT naming what is missing.
 * Caller holds s->mu. */
static int subject_id_locked(hh_store_t *s, bool department, const char *name, int64_t *id, hh_err_t *err)
{
    const char *what = department ? "department" : "user";
    int rc = hh_store_name_ok(name, what, err);
    if (rc)
        return rc;
    return hh_store_id_by_name_locked(
        s, department ? "SELECT id FROM departments WHERE name = ? COLLATE NOCASE" : "SELECT id FROM users WHERE name = ?", what, name,
        id, err);
}

static bool limit_ok(int64_t v)
{
    return v >= HH_QUOTA_KEEP && v <= HH_QUOTA_MAX;
}

/* Binds a limit: KEEP -> the column's current value (the SQL coalesces a
 * NULL parameter with it), 0 -> no limit. Positions: new value at i, and a
 * flag at i + 1 saying "keep". */
static void bind_limit(sqlite3_stmt *st, int i, int64_t v)
{
    if (v > 0)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
    sqlite3_bind_int(st, i + 1, v == HH_QUOTA_KEEP);
}

int hh_store_quota_set(hh_store_t *s, bool department, const char *name, const hh_store_quota_t *q, hh_err_t *err)
{
    if (!q || !limit_ok(q->tokens_per_day) || !limit_ok(q->tokens_per_month) || !limit_ok(q->requests_per_minute) ||
        !limit_ok(q->concurrent))
        return hh_err_set(err, HH_EINVAL, -1, "store: a limit must be 0 (none) or 1..%lld", (long long)HH_QUOTA_MAX);
    int64_t id = 0;
    sqlite3_stmt *st = NULL;
    int rc = hh_store_tx_begin(s, err);
    if (rc)
        return rc;
    if ((rc = subject_id_locked(s, department, name, &id, err)))
        goto done;
    /* Insert an empty row if none, then update each limit unless kept. */
    const char *ins = department ? "INSERT OR IGNORE INTO quotas (department_id, updated_at) VALUES (?1, ?2)"
                                 : "INSERT OR IGNORE INTO quotas (user_id, updated_at) VALUES (?1, ?2)";
    const char *upd = department
        ? "UPDATE quotas SET tokens_per_day = CASE WHEN ?2 THEN tokens_per_day ELSE ?1 END,"
          " tokens_per_month = CASE WHEN ?4 THEN tokens_per_month ELSE ?3 END,"
          " requests_per_minute = CASE WHEN ?6 THEN requests_per_minute ELSE ?5 END,"
          " concurrent = CASE WHEN ?8 THEN concurrent ELSE ?7 END, updated_at = ?9 WHERE department_id = ?10"
        : "UPDATE quotas SET tokens_per_day = CASE WHEN ?2 THEN tokens_per_day ELSE ?1 END,"
          " tokens_per_month = CASE WHEN ?4 THEN tokens_per_month ELSE ?3 END,"
          " requests_per_minute = CASE WHEN ?6 THEN requests_per_minute ELSE ?5 END,"
          " concurrent = CASE WHEN ?8 THEN concurrent ELSE ?7 END, updated_at = ?9 WHERE user_id = ?10";
    int64_t now = (int64_t)time(NULL);
    if (sqlite3_prepare_v2(s->db, ins, -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(s->db, upd, -1, &st, NULL) != SQLITE_OK)
        goto fail;
    bind_limit(st, 1, q->tokens_per_day);
    bind_limit(st, 3, q->tokens_per_month);
    bind_limit(st, 5, q->requests_per_minute);
    bind_limit(st, 7, q->concurrent);
    sqlite3_bind_int64(st, 9, now);
    sqlite3_bind_int64(st, 10, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    st = NULL;
    /* a quota without any limit is no quota */
    if (sqlite3_exec(s->db,
                     "DELETE FROM quotas WHERE tokens_per_day IS NULL AND tokens_per_month IS NULL AND "
                     "requests_per_minute IS NULL AND concurrent IS NULL",
                     NULL, NULL, NULL) == SQLITE_OK)
        goto done;
fail:
    rc = hh_store_db_fail(s, err, "set quota");
done:
    sqlite3_finalize(st);
    return hh_store_tx_end(s, rc, err);
}

int hh_store_quota_clear(hh_store_t *s, bool department, const char *name, hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    int64_t id = 0;
    sqlite3_stmt *st = NULL;
    int rc = subject_id_locked(s, department, name, &id, err);
    if (rc)
        goto done;
    const char *sql = department ? "DELETE FROM quotas WHERE department_id = ?" : "DELETE FROM quotas WHERE user_id = ?";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "clear quota");
        goto done;
    }
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "clear quota");
    else if (sqlite3_changes(s->db) == 0)
        rc = hh_err_set(err, HH_ENOENT, -1, "store: %s '%s' has no quota", department ? "department" : "user", name);
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Columns: kind (0 user, 1 department), id, name, the four limits, updated_at. */
#define QUOTA_COLS                                                                                          \
    "coalesce(q.tokens_per_day, 0), coalesce(q.tokens_per_month, 0), coalesce(q.requests_per_minute, 0), " \
    "coalesce(q.concurrent, 0), coalesce(q.updated_at, 0)"

static void read_quota(sqlite3_stmt *st, void *p)
{
    hh_store_quota_t *q = p;
    memset(q, 0, sizeof *q);
    q->department = sqlite3_column_int(st, 0) != 0;
    q->subject_id = sqlite3_column_int64(st, 1);
    copy_text(q->subject, sizeof q->subject, sqlite3_column_text(st, 2));
    q->tokens_per_day = sqlite3_column_int64(st, 3);
    q->tokens_per_month = sqlite3_column_int64(st, 4);
    q->requests_per_minute = sqlite3_column_int64(st, 5);
    q->concurrent = sqlite3_column_int64(st, 6);
    q->updated_at = sqlite3_column_int64(st, 7);
}

int hh_store_quota_list(hh_store_t *s, hh_store_quota_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_quota_t) };
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT 0, u.id, u.name, " QUOTA_COLS " FROM quotas q JOIN users u ON u.id = q.user_id "
                           "UNION ALL "
                           "SELECT 1, d.id, d.name, " QUOTA_COLS " FROM quotas q JOIN departments d ON d.id = q.department_id "
                           "ORDER BY 1, 3",
                           -1, &st, NULL) != SQLITE_OK)
        rc = hh_store_db_fail(s, err, "list quotas");
    else
        rc = hh_store_collect_rows(s, st, &g, read_quota, "list quotas", err);
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

int hh_store_quota_subjects(hh_store_t *s, int64_t user_id, hh_store_quota_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_quota_t) };
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc;
    /* the user first (kind 0), then its departments by name */
    if (sqlite3_prepare_v2(s->db,
                           "SELECT 0, u.id, u.name, " QUOTA_COLS " FROM users u LEFT JOIN quotas q ON q.user_id = u.id "
                           "WHERE u.id = ?1 "
                           "UNION ALL "
                           "SELECT 1, d.id, d.name, " QUOTA_COLS " FROM user_departments ud "
                           "JOIN departments d ON d.id = ud.department_id "
                           "LEFT JOIN quotas q ON q.department_id = d.id WHERE ud.user_id = ?1 "
                           "ORDER BY 1, 3",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "quota subjects");
    } else {
        sqlite3_bind_int64(st, 1, user_id);
        rc = hh_store_collect_rows(s, st, &g, read_quota, "quota subjects", err);
        if (!rc && (g.n == 0 || ((hh_store_quota_t *)g.v)[0].department))
            rc = hh_err_set(err, HH_ENOENT, -1, "store: no user with id %lld", (long long)user_id);
    }
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

/* ---- usage ---------------------------------------------------------------- */

int hh_store_usage_tokens(hh_store_t *s, bool department, int64_t subject_id, int64_t day_from, int64_t day_to,
                          int64_t *tokens, hh_err_t *err)
{
    *tokens = 0;
    const char *sql = department
        ? "SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) FROM usage_departments "
          "WHERE department_id = ? AND day BETWEEN ? AND ?"
        : "SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) FROM usage WHERE user_id = ? AND day BETWEEN ? AND ?";
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "usage tokens");
    } else {
        sqlite3_bind_int64(st, 1, subject_id);
        sqlite3_bind_int64(st, 2, day_from);
        sqlite3_bind_int64(st, 3, day_to);
        if (sqlite3_step(st) == SQLITE_ROW)
            *tokens = sqlite3_column_int64(st, 0);
        else
            rc = hh_store_db_fail(s, err, "usage tokens");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int upsert(hh_store_t *s, sqlite3_stmt *st, int64_t day, int64_t id, const char *use_case, int64_t p,
                  int64_t c)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, day);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_text(st, 3, use_case, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, p);
    sqlite3_bind_int64(st, 5, c);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

int hh_store_usage_add(hh_store_t *s, int64_t day, int64_t user_id, const int64_t *dept_ids, size_t n_dept,
                       const char *use_case, int64_t prompt_tokens, int64_t completion_tokens, hh_err_t *err)
{
    if (prompt_tokens < 0 || completion_tokens < 0 || (n_dept && !dept_ids))
        return hh_err_set(err, HH_EINVAL, -1, "store: bad usage");
    if (!use_case)
        use_case = "";
    sqlite3_stmt *su = NULL, *sd = NULL;
    int rc = hh_store_tx_begin(s, err);
    if (rc)
        return rc;
    /* ON CONFLICT targets the unique index; a user row pseudonymized to
     * NULL never conflicts again (NULLs are distinct in a UNIQUE index). */
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO usage (day, user_id, use_case, requests, prompt_tokens, completion_tokens) "
                           "VALUES (?1, ?2, ?3, 1, ?4, ?5) ON CONFLICT (user_id, day, use_case) DO UPDATE SET "
                           "requests = requests + 1, prompt_tokens = prompt_tokens + ?4, "
                           "completion_tokens = completion_tokens + ?5",
                           -1, &su, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "INSERT INTO usage_departments (day, department_id, use_case, requests, prompt_tokens, "
                           "completion_tokens) VALUES (?1, ?2, ?3, 1, ?4, ?5) "
                           "ON CONFLICT (department_id, day, use_case) DO UPDATE SET requests = requests + 1, "
                           "prompt_tokens = prompt_tokens + ?4, completion_tokens = completion_tokens + ?5",
                           -1, &sd, NULL) != SQLITE_OK)
        goto fail;
    if (user_id > 0 && upsert(s, su, day, user_id, use_case, prompt_tokens, completion_tokens))
        goto fail;
    for (size_t i = 0; i < n_dept; i++)
        if (upsert(s, sd, day, dept_ids[i], use_case, prompt_tokens, completion_tokens))
            goto fail;
    goto done;
fail:
    rc = hh_store_db_fail(s, err, "record usage");
done:
    sqlite3_finalize(su);
    sqlite3_finalize(sd);
    return hh_store_tx_end(s, rc, err);
}

static void read_usage_row(sqlite3_stmt *st, void *p)
{
    hh_store_usage_row_t *r = p;
    memset(r, 0, sizeof *r);
    copy_text(r->group, sizeof r->group, sqlite3_column_text(st, 0));
    r->requests = sqlite3_column_int64(st, 1);
    r->prompt_tokens = sqlite3_column_int64(st, 2);
    r->completion_tokens = sqlite3_column_int64(st, 3);
}

int hh_store_usage_report(hh_store_t *s, hh_store_usage_by_t by, int64_t day_from, int64_t day_to, int64_t user_id,
                          hh_store_usage_row_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
#define SUMS "sum(g.requests), sum(g.prompt_tokens), sum(g.completion_tokens)"
#define ORDER " ORDER BY sum(g.prompt_tokens + g.completion_tokens) DESC, 1"
    const char *sql;
    switch (by) {
    case HH_USAGE_BY_USER:
        sql = "SELECT coalesce(u.name, ''), " SUMS " FROM usage g LEFT JOIN users u ON u.id = g.user_id "
              "WHERE g.day BETWEEN ?1 AND ?2 AND (?3 = 0 OR g.user_id = ?3) GROUP BY g.user_id" ORDER;
        break;
    case HH_USAGE_BY_DEPARTMENT:
        sql = "SELECT d.name, " SUMS " FROM usage_departments g JOIN departments d ON d.id = g.department_id "
              "WHERE g.day BETWEEN ?1 AND ?2 AND ?3 = ?3 GROUP BY g.department_id" ORDER;
        break;
    case HH_USAGE_BY_USE_CASE:
        sql = "SELECT g.use_case, " SUMS " FROM usage g "
              "WHERE g.day BETWEEN ?1 AND ?2 AND (?3 = 0 OR g.user_id = ?3) GROUP BY g.use_case" ORDER;
        break;
    default:
        return hh_err_set(err, HH_EINVAL, -1, "store: unknown usage grouping");
    }
#undef SUMS
#undef ORDER
    hh_store_rows_t g = { .elem = sizeof(hh_store_usage_row_t) };
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "usage report");
    } else {
        sqlite3_bind_int64(st, 1, day_from);
        sqlite3_bind_int64(st, 2, day_to);
        sqlite3_bind_int64(st, 3, user_id > 0 ? user_id : 0);
        rc = hh_store_collect_rows(s, st, &g, read_usage_row, "usage report", err);
    }
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

/* ---- for govern/gdpr.c (caller holds s->mu) ------------------------------------ */

static void read_usage_day(sqlite3_stmt *st, void *p)
{
    hh_store_usage_day_t *r = p;
    memset(r, 0, sizeof *r);
    r->day = sqlite3_column_int64(st, 0);
    copy_text(r->use_case, sizeof r->use_case, sqlite3_column_text(st, 1));
    r->requests = sqlite3_column_int64(st, 2);
    r->prompt_tokens = sqlite3_column_int64(st, 3);
    r->completion_tokens = sqlite3_column_int64(st, 4);
}

int hh_store_usage_of_user_locked(hh_store_t *s, int64_t user_id, hh_store_usage_day_t **out, size_t *n,
                                  hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_usage_day_t) };
    sqlite3_stmt *st = NULL;
    int rc;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT day, use_case, requests, prompt_tokens, completion_tokens FROM usage "
                           "WHERE user_id = ? ORDER BY day, use_case",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "usage of user");
    } else {
        sqlite3_bind_int64(st, 1, user_id);
        rc = hh_store_collect_rows(s, st, &g, read_usage_day, "usage of user", err);
    }
    sqlite3_finalize(st);
    if (rc) {
        free(g.v);
        return rc;
    }
    *out = g.v;
    *n = g.n;
    return 0;
}

static int forget(hh_store_t *s, const char *sql, const char *text, int64_t num, int64_t *n, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return hh_store_db_fail(s, err, "pseudonymize usage");
    if (text)
        sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_int64(st, 1, num);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "pseudonymize usage");
    else if (n)
        *n += sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return rc;
}

int hh_store_usage_forget_subject_locked(hh_store_t *s, const char *subject, int64_t *n, hh_err_t *err)
{
    return forget(s,
                  "UPDATE usage SET user_id = NULL WHERE user_id IN "
                  "(SELECT id FROM users WHERE lower(name) = lower(?1))",
                  subject, 0, n, err);
}

int hh_store_usage_expire_locked(hh_store_t *s, int64_t before_day, int64_t *n, hh_err_t *err)
{
    return forget(s, "UPDATE usage SET user_id = NULL WHERE user_id IS NOT NULL AND day < ?1", NULL, before_day, n,
                  err);
}
