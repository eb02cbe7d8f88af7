/* cmd_quota.c - `hoheit quota set|list|clear` (limits per user or
 * department) and `hoheit usage` (token usage per user, department or use
 * case over UTC days). Both work on the data directory's store; a running
 * server reads quotas from it on every request, so a change applies to the
 * next request without a restart. Each set and clear appends an "admin"
 * audit record (cli_admin.c). */
#include "cli/cmd.h"
#include "base/err.h"
#include "http/server.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void quota_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit quota set (--user U | --department D) [--tokens-per-day N] [--tokens-per-month N]\n"
            "                        [--requests-per-minute N] [--concurrent N] [--data DIR]\n"
            "       hoheit quota list [--json] [--data DIR]\n"
            "       hoheit quota clear (--user U | --department D) [--data DIR]\n"
            "  set    sets the named limits (N > 0; 0 or 'none' removes that limit; limits not\n"
            "         named stay). Tokens count prompt + completion in UTC days and months.\n"
            "  list   every quota ('-': no limit)\n"
            "  clear  removes every limit of the user or department\n"
            "  --data data directory (default $HOHEIT_DATA or ./hoheit-data)\n");
}

static void usage_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit usage [--by user|department|use-case] [--from YYYY-MM-DD] [--to YYYY-MM-DD]\n"
            "                    [--json] [--data DIR]\n"
            "  requests and tokens per group over UTC days from..to (inclusive; default: this\n"
            "  month up to today). A user in several departments counts in each of them.\n"
            "  --json   the shape of GET /api/usage\n");
}

/* A limit argument: N >= 1, or 0 / "none" (remove). -2 when invalid. */
static int64_t parse_limit(const char *v)
{
    if (!strcmp(v, "none"))
        return 0;
    if (v[0] < '0' || v[0] > '9')
        return -2;   /* also a sign: negative numbers are refused */
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n > HH_QUOTA_MAX)
        return -2;
    return n;
}

static void put_limit(cJSON *o, const char *k, int64_t v)
{
    if (v > 0)
        cJSON_AddNumberToObject(o, k, (double)v);
    else
        cJSON_AddNullToObject(o, k);
}

static const char *limit_text(int64_t v, char *buf, size_t cap)
{
    if (v <= 0)
        return "-";
    snprintf(buf, cap, "%lld", (long long)v);
    return buf;
}

static int do_list(hh_store_t *s, bool json)
{
    hh_store_quota_t *q = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_quota_list(s, &q, &n, &err)) {
        fprintf(stderr, "quota list: %s\n", err.msg);
        return 1;
    }
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "scope", q[i].department ? "department" : "user");
            cJSON_AddStringToObject(o, "name", q[i].subject);
            put_limit(o, "tokens_per_day", q[i].tokens_per_day);
            put_limit(o, "tokens_per_month", q[i].tokens_per_month);
            put_limit(o, "requests_per_minute", q[i].requests_per_minute);
            put_limit(o, "concurrent", q[i].concurrent);
            cJSON_AddItemToArray(arr, o);
        }
        char *t = cJSON_Print(arr);
        cJSON_Delete(arr);
        if (t)
            printf("%s\n", t);
        free(t);
    } else {
        printf("%-10s  %-24s  %12s  %14s  %12s  %10s\n", "SCOPE", "NAME", "TOKENS/DAY", "TOKENS/MONTH", "REQUESTS/MIN",
               "CONCURRENT");
        for (size_t i = 0; i < n; i++) {
            char a[24], b[24], c[24], d[24];
            printf("%-10s  %-24s  %12s  %14s  %12s  %10s\n", q[i].department ? "department" : "user", q[i].subject,
                   limit_text(q[i].tokens_per_day, a, sizeof a), limit_text(q[i].tokens_per_month, b, sizeof b),
                   limit_text(q[i].requests_per_minute, c, sizeof c), limit_text(q[i].concurrent, d, sizeof d));
        }
        if (n == 0)
            fprintf(stderr, "no quotas: every user and department is unlimited\n");
    }
    free(q);
    return 0;
}

int hh_cmd_quota(int argc, char **argv)
{
    const char *data = hh_cli_default_data(), *sub = NULL, *user = NULL, *dept = NULL;
    hh_store_quota_t q = { .tokens_per_day = HH_QUOTA_KEEP, .tokens_per_month = HH_QUOTA_KEEP,
                           .requests_per_minute = HH_QUOTA_KEEP, .concurrent = HH_QUOTA_KEEP };
    bool json = false, any_limit = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int64_t *limit = !strcmp(a, "--tokens-per-day")        ? &q.tokens_per_day
                         : !strcmp(a, "--tokens-per-month")    ? &q.tokens_per_month
                         : !strcmp(a, "--requests-per-minute") ? &q.requests_per_minute
                         : !strcmp(a, "--concurrent")          ? &q.concurrent
                                                               : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            quota_usage(stdout);
            return 0;
        } else if (limit && i + 1 < argc) {
            *limit = parse_limit(argv[++i]);
            if (*limit < 0) {
                fprintf(stderr, "quota: %s needs a whole number 1..%lld, or 0 / none to remove the limit (got '%s')\n",
                        a, (long long)HH_QUOTA_MAX, argv[i]);
                return 2;
            }
            any_limit = true;
        } else if (!strcmp(a, "--user") && i + 1 < argc) {
            user = argv[++i];
        } else if (!strcmp(a, "--department") && i + 1 < argc) {
            dept = argv[++i];
        } else if (!strcmp(a, "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (a[0] == '-') {
            fprintf(stderr, "quota: unknown or incomplete option '%s'\n", a);
            quota_usage(stderr);
            return 2;
        } else if (!sub) {
            sub = a;
        } else {
            fprintf(stderr, "quota: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    bool is_set = sub && !strcmp(sub, "set"), is_list = sub && !strcmp(sub, "list"),
         is_clear = sub && !strcmp(sub, "clear");
    if (!is_set && !is_list && !is_clear) {
        if (sub)
            fprintf(stderr, "quota: unknown subcommand '%s'\n", sub);
        quota_usage(stderr);
        return 2;
    }
    if (!is_list && !user == !dept) {
        fprintf(stderr, "quota %s: name exactly one of --user U and --department D\n", sub);
        return 2;
    }
    if (is_set && !any_limit) {
        fprintf(stderr, "quota set: name at least one limit (--tokens-per-day, --tokens-per-month, "
                        "--requests-per-minute, --concurrent)\n");
        return 2;
    }
    if (!is_set && any_limit) {
        fprintf(stderr, "quota %s: limits are only for quota set\n", sub);
        return 2;
    }
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    if (hh_store_open(&s, data, &err)) {
        fprintf(stderr, "quota: %s\n", err.msg);
        return 1;
    }
    int status = 0;
    if (is_list) {
        status = do_list(s, json);
    } else if (is_set) {
        if (hh_store_quota_set(s, dept != NULL, dept ? dept : user, &q, &err)) {
            fprintf(stderr, "quota set: %s\n", err.msg);
            status = 1;
        } else {
            fprintf(stderr, "quota of %s '%s' set\n", dept ? "department" : "user", dept ? dept : user);
            char lim[4][24];
            const int64_t v[4] = { q.tokens_per_day, q.tokens_per_month, q.requests_per_minute, q.concurrent };
            for (int i = 0; i < 4; i++) {
                if (v[i] == HH_QUOTA_KEEP)
                    snprintf(lim[i], sizeof lim[i], "kept");
                else if (v[i] == 0)
                    snprintf(lim[i], sizeof lim[i], "none");
                else
                    snprintf(lim[i], sizeof lim[i], "%lld", (long long)v[i]);
            }
            status = hh_cli_audit(s, "quota set %s %s: tokens/day %s, tokens/month %s, requests/minute %s, "
                                     "concurrent %s", dept ? "department" : "user", dept ? dept : user, lim[0], lim[1],
                                  lim[2], lim[3]) ? 1 : 0;
        }
    } else if (hh_store_quota_clear(s, dept != NULL, dept ? dept : user, &err)) {
        fprintf(stderr, "quota clear: %s\n", err.msg);
        status = 1;
    } else {
        fprintf(stderr, "quota of %s '%s' cleared\n", dept ? "department" : "user", dept ? dept : user);
        status = hh_cli_audit(s, "quota clear %s %s", dept ? "department" : "user", dept ? dept : user) ? 1 : 0;
    }
    hh_store_close(s);
    return status;
}

int hh_cmd_usage(int argc, char **argv)
{
    const char *data = hh_cli_default_data(), *by = NULL, *from = NULL, *to = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--by") && i + 1 < argc) {
            by = argv[++i];
        } else if (!strcmp(a, "--from") && i + 1 < argc) {
            from = argv[++i];
        } else if (!strcmp(a, "--to") && i + 1 < argc) {
            to = argv[++i];
        } else if (!strcmp(a, "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else {
            fprintf(stderr, "usage: unknown or incomplete option '%s'\n", a);
            usage_usage(stderr);
            return 2;
        }
    }
    hh_store_usage_by_t g;
    int64_t d_from, d_to;
    char msg[256];
    if (hh_http_usage_parse(by, from, to, (int64_t)time(NULL) / 86400, &g, &d_from, &d_to, msg, sizeof msg)) {
        fprintf(stderr, "usage: %s\n", msg);
        return 2;
    }
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    if (hh_store_open(&s, data, &err)) {
        fprintf(stderr, "usage: %s\n", err.msg);
        return 1;
    }
    hh_store_usage_row_t *rows = NULL;
    size_t n = 0;
    int rc = hh_store_usage_report(s, g, d_from, d_to, 0, &rows, &n, &err);
    hh_store_close(s);
    if (rc) {
        fprintf(stderr, "usage: %s\n", err.msg);
        return 1;
    }
    cJSON *j = hh_http_usage_json(g, d_from, d_to, rows, n);
    if (json) {
        char *t = cJSON_Print(j);
        if (t)
            printf("%s\n", t);
        free(t);
    } else {
        static const char *const heads[] = { "USER", "DEPARTMENT", "USE CASE" };
        static const char *const none[] = { "(erased)", "-", "(none)" };
        char df[11], dt[11];
        hh_store_day_format(d_from, df);
        hh_store_day_format(d_to, dt);
        printf("usage %s .. %s (UTC)\n%-24s  %10s  %14s  %17s  %14s\n", df, dt, heads[g], "REQUESTS",
               "PROMPT_TOKENS", "COMPLETION_TOKENS", "TOTAL_TOKENS");
        for (size_t i = 0; i < n; i++)
            printf("%-24s  %10lld  %14lld  %17lld  %14lld\n", rows[i].group[0] ? rows[i].group : none[g],
                   (long long)rows[i].requests, (long long)rows[i].prompt_tokens,
                   (long long)rows[i].completion_tokens,
                   (long long)(rows[i].prompt_tokens + rows[i].completion_tokens));
    }
    cJSON_Delete(j);
    free(rows);
    return 0;
}
