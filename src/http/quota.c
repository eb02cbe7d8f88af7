/* quota.c - quotas on the generating routes and the usage they record
 * (docs/OPERATIONS.md "Quotas and usage"), GET /api/usage, and the usage
 * series of /metrics.
 *
 * A request is limited by its user's quota and by the quota of every
 * department the user is in (store.h: hh_store_quota_subjects), admins
 * included. Before any work: tokens per day / per month against the
 * recorded usage (UTC calendar day and month), then, under one mutex,
 * requests in the current UTC minute and requests running now. A request
 * that passes counts one request in this minute and one running request for
 * the user and each department, until ht_quota_end (called exactly once on
 * every way out: the answer, an error, a canceled stream, a client gone);
 * the end records the tokens actually processed. Token limits are checked
 * before the start only, so one request (or each of several running at
 * once) may end above the daily limit; the next one is refused.
 *
 * A refusal (429 quota_exceeded) names the limit and when it frees; the
 * value and the count that reached it only for the caller's own limit, or
 * for admins and auditors (a department's count is its other members' use).
 *
 * The windows follow a clock that is time(NULL) plus an offset that only
 * hh_http_quota_clock_advance moves (tests, drills). */
#include "http/http_int.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Counters of one subject (user or department). */
typedef struct qctr {
    bool    department;
    int64_t id;
    int64_t minute;      /* quota clock / 60 of n_minute */
    int64_t n_minute;    /* requests started in that minute */
    int64_t running;     /* requests between begin and end */
} qctr_t;

/* One /metrics series: tokens of a (department, use case). */
typedef struct useries {
    char     department[HH_STORE_NAME_MAX];
    char     use_case[64];
    uint64_t requests, prompt, completion;
} useries_t;

#define N_LIMITS 4
static const char *const g_limit_names[N_LIMITS] = { "tokens_per_day", "tokens_per_month", "requests_per_minute",
                                                     "concurrent" };

struct ht_quota {
    pthread_mutex_t mu;          /* guards everything below */
    qctr_t         *ctr;         /* one per user / department seen; bounded by their number */
    size_t          n_ctr, cap_ctr;
    int64_t         clock_offset;
    useries_t       series[HT_USAGE_MAX_SERIES];
    int             n_series;    /* the last one is the overflow series once full */
    uint64_t        rejected[N_LIMITS][2];   /* [limit][0 user, 1 department] */
};

int ht_quota_init(hh_http_server_t *s, hh_err_t *err)
{
    s->quota = calloc(1, sizeof *s->quota);
    if (!s->quota)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    pthread_mutex_init(&s->quota->mu, NULL);
    return 0;
}

void ht_quota_fini(hh_http_server_t *s)
{
    if (!s->quota)
        return;
    pthread_mutex_destroy(&s->quota->mu);
    free(s->quota->ctr);
    free(s->quota);
    s->quota = NULL;
}

int64_t ht_quota_now(hh_http_server_t *s)
{
    pthread_mutex_lock(&s->quota->mu);
    int64_t off = s->quota->clock_offset;
    pthread_mutex_unlock(&s->quota->mu);
    return (int64_t)time(NULL) + off;
}

void hh_http_quota_clock_advance(hh_http_server_t *s, int64_t seconds)
{
    pthread_mutex_lock(&s->quota->mu);
    s->quota->clock_offset += seconds;
    pthread_mutex_unlock(&s->quota->mu);
}

/* The counters of a subject, made on first use. Caller holds mu. NULL on
 * no memory. */
static qctr_t *ctr_get(ht_quota_t *q, bool department, int64_t id)
{
    for (size_t i = 0; i < q->n_ctr; i++)
        if (q->ctr[i].department == department && q->ctr[i].id == id)
            return &q->ctr[i];
    if (q->n_ctr == q->cap_ctr) {
        size_t nc = q->cap_ctr ? q->cap_ctr * 2 : 64;
        qctr_t *nv = realloc(q->ctr, nc * sizeof *nv);
        if (!nv)
            return NULL;
        q->ctr = nv;
        q->cap_ctr = nc;
    }
    qctr_t *c = &q->ctr[q->n_ctr++];
    *c = (qctr_t){ department, id, 0, 0, 0 };
    return c;
}

/* Fills e with the 429 of limit li of subject q; returns 429. */
static int refuse(hh_http_server_t *s, ht_conn_t *cs, const hh_store_quota_t *q, int li, int64_t limit,
                  int64_t used, int retry_after, hh_api_error_t *e)
{
    static const char *const what[N_LIMITS] = { "tokens in this UTC day", "tokens in this UTC month",
                                                 "requests in this minute", "requests running" };
    static const char *const when[N_LIMITS] = { "at 00:00 UTC", "on the 1st of next month, 00:00 UTC",
                                                 "at the next full minute", "when a running request ends" };
    pthread_mutex_lock(&s->quota->mu);
    s->quota->rejected[li][q->department]++;
    pthread_mutex_unlock(&s->quota->mu);
    cs->retry_after_s = retry_after > 0 ? retry_after : 1;
    /* A department's totals (tokens used, requests running) are what its
     * other members did: only admins and auditors, who see them in
     * /api/usage?by=department anyway, get the figures. */
    bool figures = !q->department || !strcmp(cs->key.role, "admin") || !strcmp(cs->key.role, "auditor");
    if (!figures)
        return hh_api_error_set(e, 429, li < 2 ? "tokens" : "requests", "quota_exceeded", g_limit_names[li],
                                "Quota exceeded: the %s limit of your department '%s' is reached; it frees %s "
                                "(Retry-After: %d s)",
                                g_limit_names[li], q->subject, when[li], cs->retry_after_s);
    return hh_api_error_set(e, 429, li < 2 ? "tokens" : "requests", "quota_exceeded", g_limit_names[li],
                            "Quota exceeded: the %s limit of %s '%s' is %lld (%lld %s); it frees %s "
                            "(Retry-After: %d s)",
                            g_limit_names[li], q->department ? "department" : "user", q->subject, (long long)limit,
                            (long long)used, what[li], when[li], cs->retry_after_s);
}

int ht_quota_begin(hh_http_server_t *s, ht_conn_t *cs, const char *use_case, hh_api_error_t *e)
{
    ht_quota_ticket_t *t = &cs->quota;
    if (t->active)
        return 0;   /* one ticket per request (a grounded chat passes twice) */
    hh_store_quota_t *subj = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_quota_subjects(s->store, cs->key.user_id, &subj, &n, &err) != 0)
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "quota check failed: %s", err.msg);
    int64_t now = ht_quota_now(s);
    int64_t day = now / 86400, month0 = hh_store_month_start(day);
    int st = 0;
    /* tokens: recorded usage of the user and of each department */
    for (size_t i = 0; i < n && !st; i++) {
        const hh_store_quota_t *q = &subj[i];
        for (int li = 0; li < 2 && !st; li++) {
            int64_t limit = li == 0 ? q->tokens_per_day : q->tokens_per_month, used = 0;
            if (limit <= 0)
                continue;
            if (hh_store_usage_tokens(s->store, q->department, q->subject_id, li == 0 ? day : month0, day, &used,
                                      &err) != 0) {
                st = hh_api_error_set(e, 500, "server_error", NULL, NULL, "quota check failed: %s", err.msg);
                break;
            }
            if (used >= limit) {
                int64_t end = li == 0 ? (day + 1) * 86400 : hh_store_next_month_start(day) * 86400;
                st = refuse(s, cs, q, li, limit, used, (int)(end - now), e);
            }
        }
    }
    if (st) {
        free(subj);
        return st;
    }
    /* requests per minute and running: check all, then count all, under
     * one lock, so two requests racing for the last place cannot both get it */
    ht_quota_t *qt = s->quota;
    int64_t minute = now / 60;
    const hh_store_quota_t *over = NULL;
    int over_li = 0;
    int64_t over_used = 0;
    pthread_mutex_lock(&qt->mu);
    for (size_t i = 0; i < n && !over && !st; i++) {
        qctr_t *c = ctr_get(qt, subj[i].department, subj[i].subject_id);
        if (!c) {
            st = hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
            break;
        }
        if (c->minute != minute) {
            c->minute = minute;
            c->n_minute = 0;
        }
        if (subj[i].requests_per_minute > 0 && c->n_minute >= subj[i].requests_per_minute) {
            over = &subj[i];
            over_li = 2;
            over_used = c->n_minute;
        } else if (subj[i].concurrent > 0 && c->running >= subj[i].concurrent) {
            over = &subj[i];
            over_li = 3;
            over_used = c->running;
        }
    }
    if (!over && !st) {
        for (size_t i = 0; i < n; i++) {
            qctr_t *c = ctr_get(qt, subj[i].department, subj[i].subject_id);   /* made above */
            c->n_minute++;
            c->running++;
        }
    }
    pthread_mutex_unlock(&qt->mu);
    if (over) {
        int64_t limit = over_li == 2 ? over->requests_per_minute : over->concurrent;
        st = refuse(s, cs, over, over_li, limit, over_used, over_li == 2 ? (int)(60 - now % 60) : 1, e);
    }
    if (st) {
        free(subj);
        return st;
    }
    memset(t, 0, sizeof *t);
    t->active = true;
    t->subj = subj;
    t->n_subj = n;
    t->start = now;
    snprintf(t->use_case, sizeof t->use_case, "%s", use_case ? use_case : "");
    return 0;
}

void ht_quota_move(ht_quota_ticket_t *to, ht_quota_ticket_t *from)
{
    *to = *from;
    memset(from, 0, sizeof *from);
}

/* Adds tokens to the (department, use case) series; caller holds mu. */
static void series_add(ht_quota_t *q, const char *dept, const char *uc, int64_t p, int64_t c)
{
    useries_t *x = NULL;
    for (int i = 0; i < q->n_series && !x; i++)
        if (!strcmp(q->series[i].department, dept) && !strcmp(q->series[i].use_case, uc))
            x = &q->series[i];
    if (!x && q->n_series < HT_USAGE_MAX_SERIES - 1) {
        x = &q->series[q->n_series++];
        snprintf(x->department, sizeof x->department, "%s", dept);
        snprintf(x->use_case, sizeof x->use_case, "%s", uc);
    } else if (!x) {   /* bounded label sets: the rest goes to one series */
        x = &q->series[HT_USAGE_MAX_SERIES - 1];
        if (q->n_series < HT_USAGE_MAX_SERIES) {
            q->n_series = HT_USAGE_MAX_SERIES;
            snprintf(x->department, sizeof x->department, "(other)");
            snprintf(x->use_case, sizeof x->use_case, "(other)");
        }
    }
    x->requests++;
    x->prompt += (uint64_t)p;
    x->completion += (uint64_t)c;
}

void ht_quota_end(hh_http_server_t *s, ht_quota_ticket_t *t, int64_t prompt_tokens, int64_t completion_tokens)
{
    if (!t->active)
        return;
    t->active = false;
    int64_t p = t->prompt_tokens + (prompt_tokens > 0 ? prompt_tokens : 0);
    int64_t c = t->completion_tokens + (completion_tokens > 0 ? completion_tokens : 0);
    ht_quota_t *q = s->quota;
    size_t n_dept = t->n_subj ? t->n_subj - 1 : 0;
    int64_t *dept_ids = n_dept ? malloc(n_dept * sizeof *dept_ids) : NULL;
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < t->n_subj; i++) {
        qctr_t *ct = ctr_get(q, t->subj[i].department, t->subj[i].subject_id);   /* exists since begin */
        if (ct && ct->running > 0)
            ct->running--;
        if (i > 0 && dept_ids)
            dept_ids[i - 1] = t->subj[i].subject_id;
    }
    if (p + c > 0) {
        if (n_dept == 0)
            series_add(q, "(none)", t->use_case[0] ? t->use_case : "(none)", p, c);
        for (size_t i = 1; i < t->n_subj; i++)
            series_add(q, t->subj[i].subject, t->use_case[0] ? t->use_case : "(none)", p, c);
    }
    pthread_mutex_unlock(&q->mu);
    /* only requests that did work are recorded (a 404 for an unknown model
     * still counted against the minute, but used no tokens) */
    if (p + c > 0) {
        hh_err_t err;
        hh_err_clear(&err);
        if (n_dept && !dept_ids)
            hh_log(HH_LOG_ERROR, "usage: out of memory, departments not charged");
        if (hh_store_usage_add(s->store, t->start / 86400, t->subj ? t->subj[0].subject_id : 0, dept_ids,
                               dept_ids ? n_dept : 0, t->use_case, p, c, &err) != 0)
            hh_log(HH_LOG_ERROR, "usage: not recorded: %s", err.msg);
    }
    free(dept_ids);
    free(t->subj);
    t->subj = NULL;
    t->n_subj = 0;
}

/* ---- /metrics ------------------------------------------------------------------ */

/* Prometheus label value escaping: backslash, quote, newline. */
static void put_label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n') {
            fputs("\\n", f);
            continue;
        }
        fputc(*v, f);
    }
}

char *ht_quota_metrics(hh_http_server_t *s, bool with_departments)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    ht_quota_t *q = s->quota;
    pthread_mutex_lock(&q->mu);
    fputs("# HELP hoheit_usage_tokens_total Tokens processed, by department of the user (a user in several "
          "departments counts in each; \"(none)\": in none) and use case.\n"
          "# TYPE hoheit_usage_tokens_total counter\n",
          f);
    static const char *const kinds[2] = { "prompt", "completion" };
    int n_series = with_departments ? q->n_series : 0;   /* names stay, series only for admin / auditor */
    for (int i = 0; i < n_series; i++)
        for (int k = 0; k < 2; k++) {
            fputs("hoheit_usage_tokens_total{department=\"", f);
            put_label(f, q->series[i].department);
            fputs("\",use_case=\"", f);
            put_label(f, q->series[i].use_case);
            fprintf(f, "\",type=\"%s\"} %llu\n", kinds[k],
                    (unsigned long long)(k ? q->series[i].completion : q->series[i].prompt));
        }
    fputs("# HELP hoheit_usage_requests_total Requests that processed tokens, by department and use case.\n"
          "# TYPE hoheit_usage_requests_total counter\n",
          f);
    for (int i = 0; i < n_series; i++) {
        fputs("hoheit_usage_requests_total{department=\"", f);
        put_label(f, q->series[i].department);
        fputs("\",use_case=\"", f);
        put_label(f, q->series[i].use_case);
        fprintf(f, "\"} %llu\n", (unsigned long long)q->series[i].requests);
    }
    fputs("# HELP hoheit_quota_rejections_total Requests refused with 429 quota_exceeded, by limit and scope.\n"
          "# TYPE hoheit_quota_rejections_total counter\n",
          f);
    for (int li = 0; li < N_LIMITS; li++)
        for (int sc = 0; sc < 2; sc++)
            fprintf(f, "hoheit_quota_rejections_total{limit=\"%s\",scope=\"%s\"} %llu\n", g_limit_names[li],
                    sc ? "department" : "user", (unsigned long long)q->rejected[li][sc]);
    pthread_mutex_unlock(&q->mu);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- GET /api/usage ------------------------------------------------------------ */

/* The value of query parameter k, NULL when absent. */
static const char *query(struct MHD_Connection *c, const char *k)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

int hh_http_usage_parse(const char *by, const char *from, const char *to, int64_t today, hh_store_usage_by_t *by_out,
                   int64_t *d_from, int64_t *d_to, char *msg, size_t cap)
{
    *by_out = HH_USAGE_BY_USER;
    if (by && !strcmp(by, "department"))
        *by_out = HH_USAGE_BY_DEPARTMENT;
    else if (by && (!strcmp(by, "use-case") || !strcmp(by, "use_case")))
        *by_out = HH_USAGE_BY_USE_CASE;
    else if (by && strcmp(by, "user")) {
        snprintf(msg, cap, "by must be user, department or use-case (got '%.64s')", by);
        return HH_EINVAL;
    }
    *d_from = hh_store_month_start(today);
    *d_to = today;
    if (from && hh_store_day_parse(from, d_from) != 0) {
        snprintf(msg, cap, "from must be a date YYYY-MM-DD (got '%.64s')", from);
        return HH_EINVAL;
    }
    if (to && hh_store_day_parse(to, d_to) != 0) {
        snprintf(msg, cap, "to must be a date YYYY-MM-DD (got '%.64s')", to);
        return HH_EINVAL;
    }
    if (*d_from > *d_to) {
        snprintf(msg, cap, "from (%.16s) is after to (%.16s)", from ? from : "month start", to ? to : "today");
        return HH_EINVAL;
    }
    return 0;
}

cJSON *hh_http_usage_json(hh_store_usage_by_t by, int64_t d_from, int64_t d_to, const hh_store_usage_row_t *rows,
                     size_t n)
{
    static const char *const keys[] = { "user", "department", "use_case" };
    char day[11];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "object", "usage");
    cJSON_AddStringToObject(j, "by", keys[by]);
    hh_store_day_format(d_from, day);
    cJSON_AddStringToObject(j, "from", day);
    hh_store_day_format(d_to, day);
    cJSON_AddStringToObject(j, "to", day);
    cJSON_AddStringToObject(j, "timezone", "UTC");
    cJSON *arr = cJSON_AddArrayToObject(j, "data");
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (rows[i].group[0])
            cJSON_AddStringToObject(o, keys[by], rows[i].group);
        else
            cJSON_AddNullToObject(o, keys[by]);   /* erased user, or no use case */
        cJSON_AddNumberToObject(o, "requests", (double)rows[i].requests);
        cJSON_AddNumberToObject(o, "prompt_tokens", (double)rows[i].prompt_tokens);
        cJSON_AddNumberToObject(o, "completion_tokens", (double)rows[i].completion_tokens);
        cJSON_AddNumberToObject(o, "total_tokens", (double)(rows[i].prompt_tokens + rows[i].completion_tokens));
        cJSON_AddItemToArray(arr, o);
    }
    return j;
}

enum MHD_Result ht_handle_usage(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    hh_api_error_t e;
    hh_store_usage_by_t by;
    int64_t d_from, d_to;
    char msg[256];
    if (hh_http_usage_parse(query(c, "by"), query(c, "from"), query(c, "to"), ht_quota_now(s) / 86400, &by, &d_from,
                       &d_to, msg, sizeof msg) != 0) {
        hh_api_error_set(&e, 400, "invalid_request_error", NULL, NULL, "%s", msg);
        return ht_send_error(c, cs, &e);
    }
    /* admins and auditors see everyone; anyone else only their own rows,
     * and no department totals (they would show colleagues' usage) */
    bool all = !strcmp(cs->key.role, "admin") || !strcmp(cs->key.role, "auditor");
    if (!all && by == HH_USAGE_BY_DEPARTMENT) {
        hh_api_error_set(&e, 403, "permission_error", "forbidden", "by",
                         "usage by department is for admins and auditors; ask without by=department for your own");
        return ht_send_error(c, cs, &e);
    }
    hh_store_usage_row_t *rows = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_usage_report(s->store, by, d_from, d_to, all ? 0 : cs->key.user_id, &rows, &n, &err) != 0) {
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "usage report failed: %s", err.msg);
        return ht_send_error(c, cs, &e);
    }
    cJSON *j = hh_http_usage_json(by, d_from, d_to, rows, n);
    free(rows);
    return ht_send_json(c, cs, 200, j);
}
