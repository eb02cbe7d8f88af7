/* syscard.c - documentation generated from the live register (register.h):
 * Annex IV-style system cards per use case and the GDPR Art. 30 records of
 * processing activities, as Markdown or HTML; model file hashes cached by
 * size + mtime in the store (table model_hashes). */
#include "govern/register.h"
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- model hashes ----------------------------------------------------- */

static int hash_file(const char *path, char hex[HH_SHA256_HEX_LEN + 1], hh_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hh_err_set(err, HH_EIO, -1, "cannot open %s: %s", path, strerror(errno));
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    unsigned char *buf = malloc(1 << 20);
    int rc = 0;
    if (!buf) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = hh_err_set(err, HH_EIO, -1, "cannot read %s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        crypto_hash_sha256_update(&h, buf, (unsigned long long)n);
    }
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&h, out);
    sodium_bin2hex(hex, HH_SHA256_HEX_LEN + 1, out, sizeof out);
cleanup:
    free(buf);
    close(fd);
    return rc;
}

int hh_register_file_sha256(hh_store_t *s, const char *path, char hex[HH_SHA256_HEX_LEN + 1], hh_err_t *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return hh_err_set(err, HH_EIO, -1, "cannot stat %s: %s", path, strerror(errno));
    int64_t mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    sqlite3_stmt *st = NULL;
    bool cached = false;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, "SELECT sha256 FROM model_hashes WHERE path = ? AND size = ? AND mtime_ns = ?", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)sb.st_size);
        sqlite3_bind_int64(st, 3, mtime_ns);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == HH_SHA256_HEX_LEN) {
            memcpy(hex, sqlite3_column_text(st, 0), HH_SHA256_HEX_LEN + 1);
            cached = true;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    pthread_mutex_unlock(&s->mu);
    if (cached)
        return 0;
    int rc = hash_file(path, hex, err);   /* outside the lock: large files take seconds */
    if (rc)
        return rc;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO model_hashes (path, size, mtime_ns, sha256) VALUES (?,?,?,?)",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)sb.st_size);
        sqlite3_bind_int64(st, 3, mtime_ns);
        sqlite3_bind_text(st, 4, hex, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "model_hashes");
    } else {
        rc = hh_store_db_fail(s, err, "model_hashes");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- text output ------------------------------------------------------ */

typedef struct out {
    FILE            *f;
    hh_card_format_t fmt;
} out_t;

/* Writes v as text: HTML-escaped, or with Markdown's table/inline markup
 * characters made harmless (pipes escaped, newlines as spaces). */
static void put(out_t *o, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        char c = *p;
        if (o->fmt == HH_CARD_HTML) {
            switch (c) {
            case '&': fputs("&amp;", o->f); break;
            case '<': fputs("&lt;", o->f); break;
            case '>': fputs("&gt;", o->f); break;
            case '"': fputs("&quot;", o->f); break;
            case '\'': fputs("&#39;", o->f); break;
            default: fputc(c, o->f);
            }
        } else {
            if (c == '|' || c == '\\' || c == '<' || c == '>' || c == '`' || c == '*' || c == '[' ||
                c == ']')
                fputc('\\', o->f);
            fputc(c == '\n' || c == '\r' ? ' ' : c, o->f);
        }
    }
}

static void heading(out_t *o, int level, const char *text)
{
    if (o->fmt == HH_CARD_HTML) {
        fprintf(o->f, "<h%d>", level);
        put(o, text);
        fprintf(o->f, "</h%d>\n", level);
    } else {
        fprintf(o->f, "\n%.*s ", level, "######");
        put(o, text);
        fputs("\n\n", o->f);
    }
}

static void para(out_t *o, const char *text)
{
    fputs(o->fmt == HH_CARD_HTML ? "<p>" : "", o->f);
    put(o, text && text[0] ? text : "(none recorded)");
    fputs(o->fmt == HH_CARD_HTML ? "</p>\n" : "\n\n", o->f);
}

static void list_begin(out_t *o)
{
    if (o->fmt == HH_CARD_HTML)
        fputs("<ul>\n", o->f);
}

static void list_end(out_t *o)
{
    fputs(o->fmt == HH_CARD_HTML ? "</ul>\n" : "\n", o->f);
}

static void item_begin(out_t *o)
{
    fputs(o->fmt == HH_CARD_HTML ? "<li>" : "- ", o->f);
}

static void item_end(out_t *o)
{
    fputs(o->fmt == HH_CARD_HTML ? "</li>\n" : "\n", o->f);
}

static void item(out_t *o, const char *text)
{
    item_begin(o);
    put(o, text);
    item_end(o);
}

/* A labelled row ("**Label:** value" / <tr>). */
static void row(out_t *o, const char *label, const char *value)
{
    if (o->fmt == HH_CARD_HTML) {
        fputs("<tr><th>", o->f);
        put(o, label);
        fputs("</th><td>", o->f);
        put(o, value);
        fputs("</td></tr>\n", o->f);
    } else {
        fputs("| ", o->f);
        put(o, label);
        fputs(" | ", o->f);
        put(o, value);
        fputs(" |\n", o->f);
    }
}

static void table_begin(out_t *o, const char *left, const char *right)
{
    if (o->fmt == HH_CARD_HTML)
        fprintf(o->f, "<table>\n<tr><th>%s</th><th>%s</th></tr>\n", left, right);   /* literals: no escaping */
    else
        fprintf(o->f, "| %s | %s |\n|---|---|\n", left, right);
}

static void table_end(out_t *o)
{
    fputs(o->fmt == HH_CARD_HTML ? "</table>\n" : "\n", o->f);
}

static void doc_begin(out_t *o, const char *title)
{
    if (o->fmt == HH_CARD_HTML) {
        fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", o->f);
        put(o, title);
        fputs("</title></head><body>\n", o->f);
        heading(o, 1, title);
    } else {
        fputs("# ", o->f);
        put(o, title);
        fputs("\n", o->f);
    }
}

static void doc_end(out_t *o)
{
    if (o->fmt == HH_CARD_HTML)
        fputs("</body></html>\n", o->f);
}

/* A string array of the doc as comma-joined text (malloc'd; "" if empty). */
static char *joined(const cJSON *doc, const char *field)
{
    size_t n = 1;
    const cJSON *it;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, field);
    cJSON_ArrayForEach(it, arr)
        if (cJSON_IsString(it))
            n += strlen(it->valuestring) + 2;
    char *b = malloc(n);
    if (!b)
        return NULL;
    b[0] = '\0';
    size_t o = 0;
    cJSON_ArrayForEach(it, arr) {
        if (!cJSON_IsString(it))
            continue;
        o += (size_t)snprintf(b + o, n - o, "%s%s", o ? ", " : "", it->valuestring);
    }
    return b;
}

static void fmt_time(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Active users with role approver, by name: the human oversight. */
static int approvers(hh_store_t *s, out_t *o, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, n = 0;
    list_begin(o);
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, "SELECT name FROM users WHERE role = 'approver' AND disabled = 0 ORDER BY name", -1,
                           &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "users");
        goto cleanup;
    }
    int sr;
    while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
        item_begin(o);
        fputs("approver: ", o->f);
        put(o, (const char *)sqlite3_column_text(st, 0));
        item_end(o);
        n++;
    }
    if (sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "users");
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc == 0 && n == 0)
        item(o, "no user has the role approver: nobody can approve held answers");
    list_end(o);
    return rc;
}

static int write_card(hh_store_t *s, const hh_usecase_t *u, const char *models_dir, out_t *o, hh_err_t *err)
{
    char title[HH_REG_SLUG_MAX + 300], buf[1536];
    snprintf(title, sizeof title, "System card: %s (%s)", hh_usecase_str(u, "name"), u->slug);
    doc_begin(o, title);
    char t1[32], t2[32], gen[32];
    fmt_time(u->created_at, t1, sizeof t1);
    fmt_time(u->updated_at, t2, sizeof t2);
    fmt_time((int64_t)time(NULL), gen, sizeof gen);
    snprintf(buf, sizeof buf, "Generated %s from the live configuration of hoheit (EU AI Act Annex IV style).", gen);
    para(o, buf);

    heading(o, 2, "1. General description and intended purpose");
    table_begin(o, "Field", "Value");
    row(o, "Use case", u->slug);
    row(o, "Name", hh_usecase_str(u, "name"));
    row(o, "Purpose", hh_usecase_str(u, "purpose"));
    row(o, "Owner", hh_usecase_str(u, "owner"));
    char *aff = joined(u->doc, "affected_persons");
    row(o, "Affected persons", aff && aff[0] ? aff : "(none recorded)");
    free(aff);
    row(o, "Registered", u->id ? t1 : "built in");
    row(o, "Last change", u->id ? t2 : "built in");
    table_end(o);
    heading(o, 3, "Who may use it");
    char *depts = joined(u->doc, "departments");
    snprintf(buf, sizeof buf, "%s%s",
             depts && depts[0] ? "Members of the departments: " : "Every user, of any department (no restriction "
                                                                   "recorded)",
             depts && depts[0] ? depts : "");
    free(depts);
    para(o, buf);
    para(o, "Roles do not widen this: admins manage the register but use a use case only as members of its "
            "departments.");

    heading(o, 2, "2. Models");
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(u->doc, "models");
    list_begin(o);
    if (cJSON_GetArraySize(models) == 0)
        item(o, "any model of the server (no restriction recorded)");
    const cJSON *it;
    cJSON_ArrayForEach(it, models) {
        char path[4096], hex[HH_SHA256_HEX_LEN + 1];
        hh_err_t e2;
        hh_err_clear(&e2);
        if (models_dir)
            snprintf(path, sizeof path, "%s/%s.gguf", models_dir, it->valuestring);
        else
            snprintf(path, sizeof path, "%s/models/%s.gguf", hh_store_data_dir(s), it->valuestring);
        item_begin(o);
        put(o, it->valuestring);
        if (strchr(it->valuestring, '/') || hh_register_file_sha256(s, path, hex, &e2) != 0) {
            fputs(": file not found in the models directory", o->f);
        } else {
            struct stat sb;
            fputs(o->fmt == HH_CARD_HTML ? ": file <code>" : ": file `", o->f);
            if (o->fmt == HH_CARD_HTML)
                put(o, path);
            else
                fputs(path, o->f);   /* inside a code span: kept as is (no backticks in ours) */
            fputs(o->fmt == HH_CARD_HTML ? "</code>" : "`", o->f);
            if (stat(path, &sb) == 0)
                fprintf(o->f, ", %lld bytes", (long long)sb.st_size);
            fprintf(o->f, ", sha256 %s", hex);
        }
        item_end(o);
    }
    list_end(o);

    heading(o, 2, "3. Knowledge-base collections");
    const cJSON *colls = cJSON_GetObjectItemCaseSensitive(u->doc, "collections");
    list_begin(o);
    if (cJSON_GetArraySize(colls) == 0)
        item(o, "none (answers are not grounded in a collection)");
    cJSON_ArrayForEach(it, colls) {
        hh_store_collection_t c;
        hh_err_t e2;
        item_begin(o);
        put(o, it->valuestring);
        if (hh_store_collection_get(s, it->valuestring, &c, &e2) == 0) {
            fprintf(o->f, ": %lld documents, departments: ", (long long)c.n_documents);
            put(o, c.departments[0] ? c.departments : "(admins only)");
        } else {
            fputs(": collection does not exist", o->f);
        }
        item_end(o);
    }
    list_end(o);

    heading(o, 2, "4. Risk classification");
    snprintf(buf, sizeof buf, "Risk class: %s", hh_risk_name(u->cls.risk));
    para(o, buf);
    heading(o, 3, "Reasons");
    list_begin(o);
    for (size_t i = 0; i < u->cls.n_reasons; i++)
        item(o, u->cls.reasons[i]);
    list_end(o);
    heading(o, 3, "Questionnaire answers");
    table_begin(o, "Question", "Answer");
    size_t nq = 0;
    const hh_reg_question_t *qs = hh_register_questions(&nq);
    const cJSON *answers = cJSON_GetObjectItemCaseSensitive(u->doc, "answers");
    for (size_t i = 0; i < nq; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(answers, qs[i].id);
        snprintf(buf, sizeof buf, "%s %s (%s)", qs[i].article, qs[i].text, qs[i].id);
        row(o, buf, !a ? "not answered (no)" : cJSON_IsTrue(a) ? "yes" : "no");
    }
    table_end(o);

    heading(o, 2, "5. Policy");
    table_begin(o, "Field", "Value");
    row(o, "Requests", u->policy.refused ? "refused (prohibited practice)" : "served");
    row(o, "Human approval of each answer",
        u->policy.approval_required ? (u->policy.approval_locked ? "required (Annex III point 4: always)" : "required")
                                    : "not required");
    row(o, "Audit detail", u->policy.audit_detail == HH_AUDIT_FULL ? "full text" : "hashes only");
    row(o, "PII redaction", u->policy.pii_redaction ? "on" : "off");
    row(o, "PII redaction of prompts (before the model)", u->policy.redact_prompts ? "on" : "off");
    snprintf(buf, sizeof buf, "%d days", u->policy.retention_days);
    row(o, "Retention", buf);
    snprintf(buf, sizeof buf, "%.2f", u->policy.confidence_threshold);
    row(o, "Confidence threshold", buf);
    table_end(o);

    heading(o, 2, "6. Human oversight (Art. 14)");
    para(o, u->policy.approval_required ? "Answers are held until a user with the role approver decides."
                                        : "Answers are released without prior approval; approvers can review the "
                                          "audit log.");
    int rc = approvers(s, o, err);
    if (rc)
        return rc;

    heading(o, 2, "7. Known limits");
    para(o, hh_usecase_str(u, "known_limits"));

    heading(o, 2, "8. Recorded measurements");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(u->doc, "measurements");
    list_begin(o);
    cJSON_ArrayForEach(it, ms) {
        item_begin(o);
        put(o, cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring);
        fputs(": ", o->f);
        put(o, cJSON_GetObjectItemCaseSensitive(it, "value")->valuestring);
        const char *link = cJSON_GetObjectItemCaseSensitive(it, "link")->valuestring;
        if (link[0]) {
            fputs(" (see ", o->f);
            put(o, link);
            fputs(")", o->f);
        }
        item_end(o);
    }
    item(o, "engine speed and retrieval quality of this build: docs/BENCHMARKS.md");
    list_end(o);

    heading(o, 2, "9. Change history");
    cJSON *hist = NULL;
    if (u->id && (rc = hh_register_history(s, u->id, &hist, err)))
        return rc;
    list_begin(o);
    if (!u->id)
        item(o, "built in; not changed");
    cJSON_ArrayForEach(it, hist) {
        char at[32];
        fmt_time((int64_t)cJSON_GetObjectItemCaseSensitive(it, "at")->valuedouble, at, sizeof at);
        char *d = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(it, "detail"));
        item_begin(o);
        put(o, at);
        fputs(" ", o->f);
        put(o, cJSON_GetObjectItemCaseSensitive(it, "action")->valuestring);
        fputs(" by ", o->f);
        put(o, cJSON_GetObjectItemCaseSensitive(it, "actor")->valuestring);
        if (d) {
            fputs(": ", o->f);
            put(o, strlen(d) > 600 ? "(fields changed; see the register's history)" : d);
        }
        item_end(o);
        cJSON_free(d);
    }
    list_end(o);
    cJSON_Delete(hist);
    doc_end(o);
    return 0;
}

int hh_register_card(hh_store_t *s, const char *id_or_slug, const char *models_dir, hh_card_format_t fmt,
                     char **out, hh_err_t *err)
{
    *out = NULL;
    hh_usecase_t u;
    int rc = hh_register_get(s, id_or_slug, &u, err);
    if (rc)
        return rc;
    char *body = NULL;
    size_t len = 0;
    out_t o = { open_memstream(&body, &len), fmt };
    if (!o.f) {
        hh_usecase_clear(&u);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    rc = write_card(s, &u, models_dir, &o, err);
    if (fclose(o.f) != 0 && rc == 0)
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    hh_usecase_clear(&u);
    if (rc) {
        free(body);
        return rc;
    }
    *out = body;
    return 0;
}

int hh_register_ropa(hh_store_t *s, hh_card_format_t fmt, char **out, hh_err_t *err)
{
    *out = NULL;
    hh_usecase_t *ucs = NULL;
    size_t n = 0;
    int rc = hh_register_list(s, &ucs, &n, err);
    if (rc)
        return rc;
    char *body = NULL;
    size_t len = 0;
    out_t o = { open_memstream(&body, &len), fmt };
    if (!o.f) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    doc_begin(&o, "Records of processing activities (GDPR Art. 30)");
    para(&o, "Generated from the hoheit use-case register; one record per use case. Controller details are "
             "added by the organisation.");
    if (n == 0)
        para(&o, "No use case is registered.");
    for (size_t i = 0; i < n; i++) {
        const hh_usecase_t *u = &ucs[i];
        char title[HH_REG_SLUG_MAX + 300], buf[64];
        snprintf(title, sizeof title, "%s (%s)", hh_usecase_str(u, "name"), u->slug);
        heading(&o, 2, title);
        table_begin(&o, "Field", "Value");
        row(&o, "Purpose of the processing", hh_usecase_str(u, "purpose"));
        row(&o, "Responsible owner", hh_usecase_str(u, "owner"));
        static const char *const lists[][2] = {
            { "affected_persons", "Categories of data subjects" },
            { "data_categories", "Categories of personal data" },
            { "recipients", "Categories of recipients" },
            { "safeguards", "Technical and organisational measures" },
        };
        for (size_t k = 0; k < 4; k++) {
            char *j = joined(u->doc, lists[k][0]);
            row(&o, lists[k][1], j && j[0] ? j : "(none recorded)");
            free(j);
        }
        snprintf(buf, sizeof buf, "%d days (audit records, per policy)", u->policy.retention_days);
        row(&o, "Time limits for erasure", buf);
        row(&o, "Transfers to third countries", "none: processed on the organisation's own hoheit server");
        row(&o, "AI Act risk class", hh_risk_name(u->cls.risk));
        row(&o, "PII redaction in audit records", u->policy.pii_redaction ? "on" : "off");
        table_end(&o);
    }
    doc_end(&o);
    if (fclose(o.f) != 0)
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
cleanup:
    for (size_t i = 0; i < n; i++)
        hh_usecase_clear(&ucs[i]);
    free(ucs);
    if (rc) {
        free(body);
        return rc;
    }
    *out = body;
    return 0;
}
