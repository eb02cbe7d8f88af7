/* cmd_gdpr.c - `hoheit gdpr export|erase` (data-subject rights, GDPR Art.
 * 15/17/20) and `hoheit retention sweep|set` (TTLs and the sweeper); see
 * govern/gdpr.h. */
#include "cli/cmd.h"
#include "base/err.h"
#include "govern/gdpr.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SUBJECTS 16

static void gdpr_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit gdpr export --subject S [--subject S ...] [--out FILE|DIR] [--lang de|en]\n"
            "                          [--data DIR]\n"
            "       hoheit gdpr erase --subject S [--subject S ...] --yes [--data DIR]\n"
            "  S        an e-mail address, a name or a user name (matched as a substring,\n"
            "           ASCII case-insensitively, in texts and files; a user account only\n"
            "           when its whole name is S: \"ann\" never deletes the user \"joanna\")\n"
            "  export   the Art. 15 copy: the subject's account (no secrets), conversations,\n"
            "           requests and answers, approvals, uploaded documents, usage, and every\n"
            "           place the subject occurs (documents, chunks, stored files, audit\n"
            "           texts, approvals) as one JSON document (Art. 15/20); --out DIR (an\n"
            "           existing directory, or a path ending in '/') writes access-copy.json\n"
            "           and the readable report access-copy.html there (--lang: its language,\n"
            "           default de); --out FILE writes the JSON only; no --out: JSON to stdout\n"
            "  erase    replaces the subject by a keyed pseudonym, deletes stored files and\n"
            "           the user account named S, then VACUUMs the database (Art. 17);\n"
            "           refused (nothing erased) when that account is the last enabled admin\n"
            "           refused while a server runs on DIR: erase through its API\n"
            "           (POST /api/gdpr/erase) so its memory is cleared too\n"
            "  --data   data directory (default $HOHEIT_DATA or ./hoheit-data)\n");
}

static void retention_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit retention sweep [--data DIR] [--conversation-retention-days N]\n"
            "       hoheit retention set COLLECTION DAYS [--data DIR]   (0 = keep forever)\n"
            "  sweep    deletes documents older than their collection's TTL, cuts audit\n"
            "           records older than the longest use-case retention from the chain,\n"
            "           expires the texts (prompt, output, user, detail) of records older\n"
            "           than their own use case's retention, deletes decided approvals\n"
            "           older than it (never pending ones; >= 183 days for high-risk use),\n"
            "           deletes stored conversations with no new message for N days\n"
            "           (--conversation-retention-days, default 365; 0 keeps them),\n"
            "           then VACUUMs; logs each step to stderr and the audit log;\n"
            "           refused while a server runs on DIR (it sweeps by itself)\n");
}

/* Writes text (and a '\n') to path with mode 0600, or to stdout for NULL. */
static bool write_text(const char *path, const char *text)
{
    FILE *f = stdout;
    if (path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
            if (fd >= 0)
                close(fd);
            fprintf(stderr, "hoheit gdpr export: cannot write %s\n", path);
            return false;
        }
    }
    bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    ok = (f == stdout ? fflush(f) == 0 : fclose(f) == 0) && ok;
    if (!ok)
        fprintf(stderr, "hoheit gdpr export: write failed%s%s\n", path ? ": " : "", path ? path : "");
    return ok;
}

/* The export as JSON to stdout (out NULL) or the file out, or, when out
 * is a directory (existing, or a path ending in '/': created 0700),
 * access-copy.json and access-copy.html in lang there. 0 or 1. */
static int write_export(const cJSON *doc, const char *out, const char *lang)
{
    struct stat sb;
    size_t ol = out ? strlen(out) : 0;
    bool dir = out && ((stat(out, &sb) == 0 && S_ISDIR(sb.st_mode)) || (ol && out[ol - 1] == '/'));
    if (dir && mkdir(out, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "hoheit gdpr export: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    char *text = cJSON_Print(doc), *html = NULL;
    hh_err_t err;
    int status = 1;
    char path[4096];
    if (!text) {
        fprintf(stderr, "hoheit gdpr export: out of memory\n");
    } else if (!dir) {
        status = write_text(out, text) ? 0 : 1;
    } else if (hh_gdpr_access_html(doc, lang, &html, NULL, &err)) {
        fprintf(stderr, "hoheit gdpr export: %s\n", err.msg);
    } else if (snprintf(path, sizeof path, "%s/access-copy.json", out) >= (int)sizeof path) {
        fprintf(stderr, "hoheit gdpr export: --out path too long\n");
    } else if (write_text(path, text)) {
        snprintf(path, sizeof path, "%s/access-copy.html", out);
        status = write_text(path, html) ? 0 : 1;
    }
    if (status == 0)
        fprintf(stderr, "hoheit gdpr export: %d hits%s%s\n", cJSON_GetObjectItemCaseSensitive(doc, "n_hits")->valueint,
                dir ? "; wrote access-copy.json and access-copy.html to " : "", dir ? out : "");
    free(text);
    free(html);
    return status;
}

int hh_cmd_gdpr(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        gdpr_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1], *data = hh_cli_default_data(), *out_path = NULL, *lang = "de";
    const char *subjects[MAX_SUBJECTS];
    size_t n = 0;
    bool yes = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--subject") && i + 1 < argc && n < MAX_SUBJECTS) {
            subjects[n++] = argv[++i];
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out_path = argv[++i];
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(argv[i], "--lang") && i + 1 < argc && hh_gdpr_lang_ok(argv[i + 1])) {
            lang = argv[++i];
        } else if (!strcmp(argv[i], "--yes")) {
            yes = true;
        } else {
            gdpr_usage(stderr);
            return 2;
        }
    }
    bool is_export = !strcmp(verb, "export"), is_erase = !strcmp(verb, "erase");
    if ((!is_export && !is_erase) || n == 0) {
        gdpr_usage(stderr);
        return 2;
    }
    if (is_erase && !yes) {
        fprintf(stderr, "hoheit gdpr erase: this cannot be undone; add --yes\n");
        return 2;
    }
    /* A server on this directory keeps the subject's chunks in its vector
     * index and prompt caches: the erasure must go through it. */
    hh_dirlock_t *lock = NULL;
    if (is_erase && hh_cli_lock_data(data, "gdpr erase", "erase through it with POST /api/gdpr/erase", &lock))
        return 1;
    hh_err_t err;
    hh_store_t *st = NULL;
    if (hh_store_open(&st, data, &err)) {
        fprintf(stderr, "hoheit gdpr: %s\n", err.msg);
        hh_dirlock_release(lock);
        return 1;
    }
    int status = 1;
    char actor[160];   /* the export / erasure record names who ran it */
    hh_cli_actor(actor, sizeof actor);
    if (is_export) {
        cJSON *doc = NULL;
        if (hh_gdpr_export(st, subjects, n, actor, &doc, &err))
            fprintf(stderr, "hoheit gdpr export: %s\n", err.msg);
        else
            status = write_export(doc, out_path, lang);
        cJSON_Delete(doc);
    } else {
        hh_gdpr_erase_result_t r;
        if (hh_gdpr_erase(st, subjects, n, actor, &r, &err)) {
            fprintf(stderr, "hoheit gdpr erase: %s\n", err.msg);
        } else {
            printf("chunks rewritten %" PRId64 " (vectors dropped %" PRId64 "), documents %" PRId64
                   ", stored files deleted %" PRId64 ", users deleted %" PRId64 ", audit texts rewritten %" PRId64
                   ", approval fields rewritten %" PRId64 "\n",
                   r.chunks, r.vectors, r.documents, r.files, r.users, r.audit_texts, r.approvals);
            if (r.usage_rows)
                printf("usage rows pseudonymized %" PRId64 "\n", r.usage_rows);
            if (r.conversations || r.conversation_texts)
                printf("conversations deleted %" PRId64 ", conversation texts rewritten %" PRId64 "\n",
                       r.conversations, r.conversation_texts);
            if (r.memories)
                printf("agent memories deleted %" PRId64 "\n", r.memories);
            if (r.audit_kept)
                fprintf(stderr, "hoheit gdpr erase: warning: %" PRId64 " hashed audit records still name the "
                                "subject (user or detail inside records written before migration 8); the chain cannot change them\n", r.audit_kept);
            status = 0;
        }
    }
    hh_store_close(st);
    hh_dirlock_release(lock);
    return status;
}

int hh_cmd_retention(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        retention_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *data = hh_cli_default_data(), *pos[2] = { NULL, NULL };
    int n_pos = 0;
    hh_gdpr_sweep_params_t sp = hh_gdpr_sweep_default_params();
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(argv[i], "--conversation-retention-days") && i + 1 < argc) {
            char *e2 = NULL;
            long d = strtol(argv[++i], &e2, 10);
            if (!*argv[i] || *e2 || d < 0 || d > 36500) {
                fprintf(stderr, "hoheit retention: --conversation-retention-days takes 0..36500\n");
                return 2;
            }
            sp.conversation_retention_days = (int)d;
        } else if (argv[i][0] != '-' && n_pos < 2) {
            pos[n_pos++] = argv[i];
        } else {
            retention_usage(stderr);
            return 2;
        }
    }
    bool sweep = !strcmp(argv[1], "sweep") && n_pos == 0, set = !strcmp(argv[1], "set") && n_pos == 2;
    char *end = NULL;
    long days = set ? strtol(pos[1], &end, 10) : 0;
    if ((!sweep && !set) || (set && (!end || *end || days < 0 || days > 36500))) {
        retention_usage(stderr);
        return 2;
    }
    /* A sweep deletes documents whose vectors a running server holds in
     * memory; the server sweeps by itself (--retention-interval). */
    hh_dirlock_t *lock = NULL;
    if (sweep && hh_cli_lock_data(data, "retention sweep",
                                  "it sweeps by itself (--retention-interval); sweep now with POST "
                                  "/api/retention/sweep", &lock))
        return 1;
    hh_err_t err;
    hh_store_t *st = NULL;
    if (hh_store_open(&st, data, &err)) {
        fprintf(stderr, "hoheit retention: %s\n", err.msg);
        hh_dirlock_release(lock);
        return 1;
    }
    int status = 0;
    if (set) {
        if (hh_gdpr_collection_retention(st, pos[0], (int)days, &err)) {
            fprintf(stderr, "hoheit retention set: %s\n", err.msg);
            status = 1;
        } else {
            status = hh_cli_audit(st, "retention set %s %lld days%s", pos[0], (long long)days,
                                  days ? "" : " (keep forever)") ? 1 : 0;
        }
    } else {
        hh_gdpr_sweep_result_t r;
        if (hh_gdpr_retention_sweep_with(st, 0, &sp, stderr, &r, &err)) {
            fprintf(stderr, "hoheit retention sweep: %s\n", err.msg);
            status = 1;
        } else {
            printf("expired documents deleted %" PRId64 ", audit records expired %" PRId64 ", audit records whose "
                   "texts expired %" PRId64 ", decided approvals deleted %" PRId64 ", idle conversations "
                   "deleted %" PRId64 ", agent memories deleted %" PRId64 "\n",
                   r.documents, r.audit_records, r.audit_texts, r.approvals, r.conversations, r.memories);
            /* the sweep's own "retention" records say what went; this one who ran it */
            status = hh_cli_audit(st, "retention sweep (CLI): %" PRId64 " documents, %" PRId64 " audit records, %" PRId64
                                      " audit texts, %" PRId64 " approvals, %" PRId64 " conversations", r.documents,
                                  r.audit_records, r.audit_texts, r.approvals, r.conversations) ? 1 : 0;
        }
    }
    hh_store_close(st);
    hh_dirlock_release(lock);
    return status;
}
