/* cmd_audit.c - `hoheit audit verify|export`: checks the audit log's hash
 * chain and signatures (in the data directory's store, or an exported JSONL
 * file) and writes the log as JSONL. An export and an expiry append an
 * "admin" record (cli_admin.c); a verification only reads. */
#include "cli/cmd.h"
#include "base/err.h"
#include "govern/audit.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void audit_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit audit verify [--data DIR] [--file F [--pub KEYFILE]]\n"
            "       hoheit audit export [--data DIR] [--from SEQ] [--out FILE]\n"
            "       hoheit audit expire --older-than DAYS [--min-days D] [--data DIR]\n"
            "  verify   recomputes the hash chain and checks every signed checkpoint,\n"
            "           the anchor and the head; names the first bad record.\n"
            "           Exit 0: intact, 1: tampered or truncated, 2: could not check.\n"
            "           --file checks an exported JSONL file against the public key\n"
            "           (--pub, default DIR/audit.pub)\n"
            "  export   JSONL on stdout or --out: anchor, records, checkpoints, head\n"
            "  expire   deletes records older than DAYS (never younger than --min-days,\n"
            "           default 183: Art. 26(6) for high-risk use) behind a signed anchor\n"
            "  --data   data directory (default $HOHEIT_DATA or ./hoheit-data)\n");
}

/* Reads a whole file (NUL-terminated, *len without it); caller frees. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - 1 - n, f);
        n += r;
        if (r == 0)
            break;
    }
    bool bad = buf && ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static bool read_pub(const char *path, unsigned char pk[HH_AUDIT_PK_LEN])
{
    size_t n = 0;
    char *t = read_all(path, &n);
    if (!t)
        return false;
    while (n && (t[n - 1] == '\n' || t[n - 1] == '\r'))
        t[--n] = '\0';
    bool ok = n == 2 * HH_AUDIT_PK_LEN;
    for (size_t i = 0; ok && i < HH_AUDIT_PK_LEN; i++) {
        unsigned v = 0;
        ok = sscanf(t + 2 * i, "%2x", &v) == 1;
        pk[i] = (unsigned char)v;
    }
    free(t);
    return ok;
}

static void report(const hh_audit_verify_result_t *r, const char *what)
{
    if (r->ok) {
        printf("ok: %s: %" PRId64 " records (seq %" PRId64 "..%" PRId64 ")%s, %" PRId64 " checkpoints, head signed\n",
               what, r->n_records, r->first_seq, r->last_seq, r->anchored ? " behind a signed anchor" : "",
               r->n_checkpoints);
    } else {
        printf("BAD: %s: first bad record seq %" PRId64 ": %s\n", what, r->bad_seq, r->why);
    }
}

int hh_cmd_audit(int argc, char **argv)
{
    const char *data = hh_cli_default_data();
    const char *sub = NULL, *file = NULL, *pub = NULL, *out = NULL;
    int64_t from = 1, older_days = -1, min_days = 183;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            audit_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(a, "--file") && i + 1 < argc) {
            file = argv[++i];
        } else if (!strcmp(a, "--pub") && i + 1 < argc) {
            pub = argv[++i];
        } else if (!strcmp(a, "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if ((!strcmp(a, "--older-than") || !strcmp(a, "--min-days")) && i + 1 < argc) {
            char *end = NULL;
            errno = 0;
            long long v = strtoll(argv[++i], &end, 10);
            if (errno || !end || *end || v < 0 || v > 100000) {
                fprintf(stderr, "audit: %s needs a number of days\n", a);
                return 2;
            }
            *(a[2] == 'o' ? &older_days : &min_days) = v;
        } else if (!strcmp(a, "--from") && i + 1 < argc) {
            char *end = NULL;
            errno = 0;
            long long v = strtoll(argv[++i], &end, 10);
            if (errno || !end || *end || v < 1) {
                fprintf(stderr, "audit: --from needs a seq >= 1\n");
                return 2;
            }
            from = v;
        } else if (a[0] == '-' || sub) {
            fprintf(stderr, "audit: unknown or incomplete argument '%s'\n", a);
            audit_usage(stderr);
            return 2;
        } else {
            sub = a;
        }
    }
    if (!sub || (strcmp(sub, "verify") && strcmp(sub, "export") && strcmp(sub, "expire")) ||
        (!strcmp(sub, "expire") && older_days < 0)) {
        audit_usage(stderr);
        return 2;
    }
    hh_err_t err;
    hh_err_clear(&err);
    if (!strcmp(sub, "verify") && file) {
        char defpub[4096];
        if (!pub) {
            snprintf(defpub, sizeof defpub, "%s/audit.pub", data);
            pub = defpub;
        }
        unsigned char pk[HH_AUDIT_PK_LEN];
        if (!read_pub(pub, pk)) {
            fprintf(stderr, "audit: cannot read the public key %s (64 hex digits)\n", pub);
            return 2;
        }
        size_t len = 0;
        char *text = read_all(file, &len);
        if (!text) {
            fprintf(stderr, "audit: cannot read %s\n", file);
            return 2;
        }
        hh_audit_verify_result_t r;
        hh_audit_verify_jsonl(text, len, pk, &r);
        free(text);
        report(&r, file);
        return r.ok ? 0 : 1;
    }
    hh_store_t *s = NULL;
    int rc = hh_store_open(&s, data, &err);
    if (rc) {
        fprintf(stderr, "audit: %s\n", err.msg);
        return 2;
    }
    int status = 0;
    if (!strcmp(sub, "verify")) {
        unsigned char pk[HH_AUDIT_PK_LEN];
        bool have_pk = pub && read_pub(pub, pk);
        if (pub && !have_pk) {
            fprintf(stderr, "audit: cannot read the public key %s\n", pub);
            status = 2;
        } else {
            hh_audit_verify_result_t r;
            rc = hh_audit_verify_store(s, have_pk ? pk : NULL, &r, &err);
            if (rc) {
                fprintf(stderr, "audit: %s\n", err.msg);
                status = 2;
            } else {
                report(&r, data);
                status = r.ok ? 0 : 1;
            }
        }
    } else if (!strcmp(sub, "expire")) {
        const int64_t day = 24LL * 3600 * 1000;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, n = 0;
        rc = hh_audit_expire(s, now - older_days * day, min_days * day, &n, &err);
        if (rc) {
            fprintf(stderr, "audit: %s\n", err.msg);
            status = 2;
        } else {
            printf("expired %" PRId64 " records\n", n);
            /* the "retention" record says what went; this one who ran it */
            status = hh_cli_audit(s, "audit expire older than %lld days (at least %lld): %" PRId64 " records",
                                  (long long)older_days, (long long)min_days, n) ? 1 : 0;
        }
    } else {
        /* An export hands the log's texts out: recorded first, so the
         * export contains its own record (as over HTTP, compliance.c). */
        FILE *f = NULL;
        if (hh_cli_audit(s, "audit export from seq %lld (CLI%s%s)", (long long)from, out ? ", to " : "",
                         out ? out : "")) {
            fprintf(stderr, "audit: export refused: its access could not be recorded\n");
            status = 2;
        } else if (!(f = out ? fopen(out, "w") : stdout)) {
            fprintf(stderr, "audit: cannot create %s: %s\n", out, strerror(errno));
            status = 2;
        } else {
            rc = hh_audit_export(s, from, f, &err);
            if (out && fclose(f) != 0 && !rc)
                rc = hh_err_set(&err, HH_EIO, -1, "cannot write %s", out);
            if (rc) {
                fprintf(stderr, "audit: %s\n", err.msg);
                status = 2;
            }
        }
    }
    hh_store_close(s);
    return status;
}
