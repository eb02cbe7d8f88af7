/* cmd_approvals.c - `hoheit approvals list|show|approve|edit|reject`: the
 * human-approval queue (govern/approvals.h) from the command line, for
 * approvers working on the server machine. The same rules as the API: the
 * acting user (--as) must exist, be enabled and have the role approver or
 * admin and, for an approver, the approval's use case must be one of
 * their departments' (hh_approvals_may_review); four-eyes and the HR rule
 * are those of hh_approvals_decide, which also writes the audit record of
 * every decision (user = the --as user). A second "admin" record names
 * the operating-system user who ran it: "cli:ACCOUNT", detail
 * "approvals approve ID as USER". */
#include "cli/cmd.h"
#include "base/err.h"
#include "govern/approvals.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AP_TEXT_MAX (1u << 20)   /* an edited answer: at most 1 MiB */

static void approvals_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit approvals list [--status pending|approved|edited|rejected|all] [--data DIR]\n"
            "       hoheit approvals show ID [--data DIR]\n"
            "       hoheit approvals approve ID --as USER [--reason TEXT] [--data DIR]\n"
            "       hoheit approvals edit ID --as USER --text-file F [--reason TEXT] [--data DIR]\n"
            "       hoheit approvals reject ID --as USER --reason TEXT [--data DIR]\n"
            "  list     held answers, oldest first (default: pending only)\n"
            "  show     one request as JSON: the input, the held draft, the decision\n"
            "  approve  releases the draft as generated\n"
            "  edit     releases the text of file F (UTF-8) instead of the draft\n"
            "  reject   never releases it; the reason is shown to the requester\n"
            "  --as     the deciding user: role approver or admin, never the requester\n"
            "           (four-eyes; always for employment/HR use cases)\n"
            "  --data   data directory (default $HOHEIT_DATA or ./hoheit-data)\n"
            "exit status: 0 done, 1 refused or failed (message on stderr), 2 usage\n");
}

/* "123" -> 123; false for anything else. */
static bool parse_id(const char *p, int64_t *out)
{
    char *end = NULL;
    long long v = p && *p >= '1' && *p <= '9' ? strtoll(p, &end, 10) : 0;
    if (v <= 0 || !end || *end)
        return false;
    *out = v;
    return true;
}

static void fmt_ms(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, cap, "%lld", (long long)ms);
}

/* Reads a whole text file (at most AP_TEXT_MAX bytes); caller frees. */
static char *read_text(const char *path, hh_err_t *err)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        hh_err_set(err, HH_EIO, -1, "cannot read %s", path);
        return NULL;
    }
    char *buf = malloc(AP_TEXT_MAX + 1);
    size_t n = buf ? fread(buf, 1, AP_TEXT_MAX + 1, f) : 0;
    bool bad = !buf || ferror(f);
    fclose(f);
    if (bad || n > AP_TEXT_MAX) {
        free(buf);
        hh_err_set(err, bad ? HH_EIO : HH_ERANGE, -1, bad ? "cannot read %s" : "%s is larger than 1 MiB", path);
        return NULL;
    }
    buf[n] = '\0';
    if (strlen(buf) != n) {
        free(buf);
        hh_err_set(err, HH_EFORMAT, -1, "%s holds a NUL byte", path);
        return NULL;
    }
    return buf;
}

static int do_list(hh_store_t *st, const char *status)
{
    bool all = !strcmp(status, "all");
    hh_approval_t *list = NULL;
    size_t n = 0;
    hh_err_t err;
    if (hh_approvals_list(st, !all && !strcmp(status, "pending"), &list, &n, &err)) {
        fprintf(stderr, "hoheit approvals list: %s\n", err.msg);
        return 1;
    }
    printf("%-16s %-9s %-24s %-16s %-20s %s\n", "ID", "STATUS", "USE CASE", "REQUESTER", "CREATED", "DECIDED BY");
    for (size_t i = 0; i < n; i++) {
        const hh_approval_t *a = &list[i];
        if (all || !strcmp(hh_approval_status_name(a->status), status)) {
            char created[32];
            fmt_ms(a->created_at, created, sizeof created);
            printf("%-16lld %-9s %-24s %-16s %-20s %s\n", (long long)a->id, hh_approval_status_name(a->status),
                   a->use_case, a->requester, created, a->decided_by[0] ? a->decided_by : "-");
        }
        hh_approval_clear(&list[i]);
    }
    free(list);
    return 0;
}

static int do_show(hh_store_t *st, int64_t id)
{
    hh_approval_t a;
    hh_err_t err;
    if (hh_approvals_get(st, id, &a, &err)) {
        fprintf(stderr, "hoheit approvals show: %s\n", err.msg);
        return 1;
    }
    cJSON *j = hh_approval_json(&a, true);
    hh_approval_clear(&a);
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        fprintf(stderr, "hoheit approvals show: out of memory\n");
        return 1;
    }
    puts(text);
    cJSON_free(text);
    return 0;
}

static int do_decide(hh_store_t *st, const char *verb, int64_t id, const char *as, hh_approval_status_t d,
                     const char *text, const char *reason)
{
    hh_err_t err;
    hh_store_user_t u;
    if (hh_store_user_get(st, as, &u, &err) != 0) {
        fprintf(stderr, "hoheit approvals %s: unknown user '%s'\n", verb, as);
        return 1;
    }
    if (u.disabled || (strcmp(u.role, "approver") != 0 && strcmp(u.role, "admin") != 0)) {
        fprintf(stderr, "hoheit approvals %s: '%s' may not decide approvals (%s%s; approver or admin needed)\n",
                verb, as, u.disabled ? "disabled, role " : "role ", u.role);
        return 1;
    }
    /* --as names who decides: that user must be allowed to see this
     * approval (an approver: a use case of their departments). */
    hh_approval_t a;
    bool ok = false;
    if (hh_approvals_get(st, id, &a, &err) != 0) {
        fprintf(stderr, "hoheit approvals %s: %s\n", verb, err.msg);
        return 1;
    }
    int vr = hh_approvals_may_review(st, &a, u.id, u.role, &ok, &err);
    hh_approval_clear(&a);
    if (vr != 0 || !ok) {
        fprintf(stderr, "hoheit approvals %s: %s\n", verb,
                vr ? err.msg : "that approval's use case is not of the --as user's departments");
        return 1;
    }
    hh_approvals_params_t p = hh_approvals_default_params();   /* no self-decision from the CLI */
    if (hh_approvals_decide(st, &p, id, u.name, d, text, reason, &a, &err) != 0) {
        fprintf(stderr, "hoheit approvals %s: %s\n", verb, err.msg);
        return 1;
    }
    /* The decision record names the --as user; this one who ran it. */
    if (hh_cli_audit(st, "approvals %s %lld as %s", verb, (long long)a.id, u.name) != 0) {
        hh_approval_clear(&a);
        return 1;
    }
    printf("approval %lld %s by %s (use case %s, requested by %s)\n", (long long)a.id,
           hh_approval_status_name(a.status), a.decided_by, a.use_case, a.requester);
    hh_approval_clear(&a);
    return 0;
}

int hh_cmd_approvals(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        approvals_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1], *data = hh_cli_default_data(), *status = "pending", *as = NULL, *text_file = NULL,
               *reason = NULL, *id_arg = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--status") && i + 1 < argc)
            status = argv[++i];
        else if (!strcmp(argv[i], "--as") && i + 1 < argc)
            as = argv[++i];
        else if (!strcmp(argv[i], "--text-file") && i + 1 < argc)
            text_file = argv[++i];
        else if (!strcmp(argv[i], "--reason") && i + 1 < argc)
            reason = argv[++i];
        else if (argv[i][0] != '-' && !id_arg)
            id_arg = argv[i];
        else {
            approvals_usage(stderr);
            return 2;
        }
    }
    bool list = !strcmp(verb, "list"), show = !strcmp(verb, "show");
    hh_approval_status_t d = HH_APPROVAL_PENDING;
    if (!strcmp(verb, "approve"))
        d = HH_APPROVAL_APPROVED;
    else if (!strcmp(verb, "edit"))
        d = HH_APPROVAL_EDITED;
    else if (!strcmp(verb, "reject"))
        d = HH_APPROVAL_REJECTED;
    int64_t id = 0;
    const char *why = NULL;
    if (!list && !show && d == HH_APPROVAL_PENDING)
        why = "unknown subcommand";
    else if (list && (id_arg || (strcmp(status, "all") && strcmp(status, "pending") && strcmp(status, "approved") &&
                                 strcmp(status, "edited") && strcmp(status, "rejected"))))
        why = "list takes --status pending|approved|edited|rejected|all and no id";
    else if (!list && (!id_arg || !parse_id(id_arg, &id)))
        why = "an approval id (a positive integer) is required";
    else if (d != HH_APPROVAL_PENDING && (!as || !as[0]))
        why = "a decision needs --as USER";
    else if (d == HH_APPROVAL_EDITED && !text_file)
        why = "edit needs --text-file F";
    else if (d == HH_APPROVAL_REJECTED && (!reason || !reason[0]))
        why = "reject needs --reason TEXT";
    if (why) {
        fprintf(stderr, "hoheit approvals: %s\n", why);
        approvals_usage(stderr);
        return 2;
    }
    hh_err_t err;
    char *text = NULL;
    if (text_file && !(text = read_text(text_file, &err))) {
        fprintf(stderr, "hoheit approvals edit: %s\n", err.msg);
        return 1;
    }
    hh_store_t *st = NULL;
    if (hh_store_open(&st, data, &err)) {
        fprintf(stderr, "hoheit approvals: %s\n", err.msg);
        free(text);
        return 1;
    }
    int rc = list ? do_list(st, status) : show ? do_show(st, id) : do_decide(st, verb, id, as, d, text, reason);
    hh_store_close(st);
    free(text);
    return rc;
}
