/* cmd_keys.c - `hoheit keys create|list|revoke`: API keys in the data
 * directory's store. A new key is printed once, to stdout; only its hash is
 * kept. Creations and revocations append an "admin" audit record
 * (cli_admin.c). */
#include "cli/cmd.h"
#include "base/err.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void keys_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit keys create --user NAME --role ROLE [--data DIR]\n"
            "       hoheit keys list [--data DIR]\n"
            "       hoheit keys revoke ID|PREFIX [--data DIR]\n"
            "  create   makes the user if missing (roles: admin member auditor approver)\n"
            "           and prints a new key ONCE on stdout\n"
            "  list     id, prefix, user, role, created, last used, revoked\n"
            "  revoke   by numeric id or by prefix (hk_xxxxxxxx)\n"
            "  --data   data directory (default $HOHEIT_DATA or ./hoheit-data)\n");
}

static void fmt_time(int64_t t, char *buf, size_t cap)
{
    if (t <= 0) {
        snprintf(buf, cap, "-");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int hh_cmd_keys(int argc, char **argv)
{
    const char *data = hh_cli_default_data();
    const char *user = NULL, *role = NULL, *sub = NULL, *target = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            keys_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(a, "--user") && i + 1 < argc) {
            user = argv[++i];
        } else if (!strcmp(a, "--role") && i + 1 < argc) {
            role = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "keys: unknown or incomplete option '%s'\n", a);
            keys_usage(stderr);
            return 2;
        } else if (!sub) {
            sub = a;
        } else if (!target) {
            target = a;
        } else {
            fprintf(stderr, "keys: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!sub) {
        keys_usage(stderr);
        return 2;
    }
    bool is_create = !strcmp(sub, "create"), is_list = !strcmp(sub, "list"), is_revoke = !strcmp(sub, "revoke");
    if (!is_create && !is_list && !is_revoke) {
        fprintf(stderr, "keys: unknown subcommand '%s'\n", sub);
        keys_usage(stderr);
        return 2;
    }
    if (is_create && (!user || !role)) {
        fprintf(stderr, "keys create: --user NAME and --role ROLE are required\n");
        return 2;
    }
    if (is_revoke && !target) {
        fprintf(stderr, "keys revoke: name the key by ID or PREFIX\n");
        return 2;
    }
    if (is_create && !hh_store_role_valid(role)) {
        fprintf(stderr, "keys create: unknown role '%s' (admin, member, auditor, approver)\n", role);
        return 2;
    }

    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    int rc = hh_store_open(&s, data, &err);
    if (rc) {
        fprintf(stderr, "keys: %s\n", err.msg);
        return 1;
    }
    int status = 0;
    if (is_create) {
        hh_store_user_t u;
        bool created = false;
        char key[HH_KEY_LEN + 1];
        hh_store_key_t info;
        if ((rc = hh_store_user_ensure(s, user, role, &u, &created, &err)) ||
            (rc = hh_store_key_create(s, u.id, key, sizeof key, &info, &err))) {
            fprintf(stderr, "keys create: %s\n", err.msg);
            status = 1;
        } else {
            if (created)
                fprintf(stderr, "created user %s (%s)\n", u.name, u.role);
            fprintf(stderr, "key %lld (%s) for %s; it is shown only now:\n", (long long)info.id, info.prefix, u.name);
            printf("%s\n", key);
            fflush(stdout);
            if (hh_cli_audit(s, "keys create %lld (%s) for %s (%s)%s", (long long)info.id, info.prefix, u.name, u.role,
                             created ? "; user created" : ""))
                status = 1;
        }
    } else if (is_list) {
        hh_store_key_t *keys = NULL;
        size_t n = 0;
        if ((rc = hh_store_key_list(s, &keys, &n, &err))) {
            fprintf(stderr, "keys list: %s\n", err.msg);
            status = 1;
        } else {
            printf("%-10s %-12s %-20s %-9s %-21s %-21s %s\n", "id", "prefix", "user", "role", "created", "last_used",
                   "revoked");
            for (size_t i = 0; i < n; i++) {
                char c[32], l[32], r[32];
                fmt_time(keys[i].created_at, c, sizeof c);
                fmt_time(keys[i].last_used_at, l, sizeof l);
                fmt_time(keys[i].revoked_at, r, sizeof r);
                printf("%-10lld %-12s %-20s %-9s %-21s %-21s %s\n", (long long)keys[i].id, keys[i].prefix,
                       keys[i].user, keys[i].role, c, l, r);
            }
            free(keys);
        }
    } else {
        if ((rc = hh_store_key_revoke(s, target, &err))) {
            fprintf(stderr, "keys revoke: %s\n", err.msg);
            status = 1;
        } else {
            fprintf(stderr, "revoked %s\n", target);
            if (hh_cli_audit(s, "keys revoke %s", target))
                status = 1;
        }
    }
    hh_store_close(s);
    return status;
}
