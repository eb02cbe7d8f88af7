/* cmd_users.c - `hoheit users passwd|list|disable|enable|role|delete`:
 * browser-login passwords, roles and the user list of the data directory's
 * store. A password is read from stdin (never from argv, where `ps` and
 * shell history would show it); only its argon2id hash is kept. Every
 * change (password, creation, role, disable/enable, deletion) appends an
 * "admin" audit record (cli_admin.c); a password never appears in it. */
#include "cli/cmd.h"
#include "base/err.h"
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static void users_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit users passwd NAME [--password-stdin] [--role ROLE] [--data DIR]\n"
            "       hoheit users list [--data DIR]\n"
            "       hoheit users disable|enable NAME [--data DIR]\n"
            "       hoheit users role NAME ROLE [--data DIR]\n"
            "       hoheit users delete NAME [--yes] [--data DIR]\n"
            "  passwd   sets NAME's password for the browser login (at least %d characters)\n"
            "           and ends all of NAME's sessions. The password is read from the\n"
            "           terminal (asked twice, not echoed), or with --password-stdin as the\n"
            "           first line of stdin. --role ROLE creates NAME if missing\n"
            "           (admin member auditor approver); for an existing user it must\n"
            "           be the role they have (change roles with `users role`).\n"
            "  list     name, role, departments, has password, disabled\n"
            "  disable  NAME can no longer log in or use keys; sessions end; not the\n"
            "           last enabled admin\n"
            "  role     changes NAME's role and ends their sessions; the last enabled\n"
            "           admin cannot be demoted\n"
            "  delete   removes NAME: API keys deleted, sessions ended, department\n"
            "           memberships removed; documents they ingested and approvals\n"
            "           stay; audit records stay and keep the name (use `hoheit gdpr\n"
            "           erase` to pseudonymize it). Not the last enabled admin.\n"
            "  --yes    delete without asking (needed when stdin is not a terminal)\n"
            "  --data   data directory (default $HOHEIT_DATA or ./hoheit-data)\n",
            HH_PASSWORD_MIN_LEN);
}

/* Reads one line (without its line end) into buf. echo_off: the terminal
 * does not show it. false on EOF, error, or a line longer than cap - 1. */
static bool read_line(char *buf, size_t cap, bool echo_off)
{
    struct termios old, quiet;
    bool restore = false;
    if (echo_off && tcgetattr(STDIN_FILENO, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
    bool ok = fgets(buf, (int)cap, stdin) != NULL;
    if (restore) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!ok)
        return false;
    size_t n = strlen(buf);
    if (n == cap - 1 && buf[n - 1] != '\n')
        return false;   /* longer than any allowed password */
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return true;
}

/* The new password into pw (cap bytes): from stdin, or asked twice on the
 * terminal. Returns 0 or an exit status. */
static int get_password(bool from_stdin, char *pw, size_t cap)
{
    if (from_stdin) {
        if (!read_line(pw, cap, false)) {
            fprintf(stderr, "users passwd: no password on stdin (or longer than %d bytes)\n", HH_PASSWORD_MAX_LEN);
            return 1;
        }
        return 0;
    }
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr, "users passwd: stdin is not a terminal; pass --password-stdin to read the password from it\n");
        return 2;
    }
    char again[HH_PASSWORD_MAX_LEN + 2];
    fprintf(stderr, "new password: ");
    bool ok = read_line(pw, cap, true);
    fprintf(stderr, "again: ");
    ok = ok && read_line(again, sizeof again, true);
    int rc = 0;
    if (!ok) {
        fprintf(stderr, "users passwd: no password read (or longer than %d bytes)\n", HH_PASSWORD_MAX_LEN);
        rc = 1;
    } else if (strcmp(pw, again) != 0) {
        fprintf(stderr, "users passwd: the two passwords differ\n");
        rc = 1;
    }
    sodium_memzero(again, sizeof again);
    return rc;
}

static int do_passwd(hh_store_t *s, const char *name, const char *role, bool from_stdin)
{
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_user_t u;
    int rc = hh_store_user_get(s, name, &u, &err);
    if (rc == HH_ENOENT && !role) {
        fprintf(stderr, "users passwd: no user '%s' (add --role ROLE to create it)\n", name);
        return 1;
    }
    /* --role only creates: a different role for an existing user is an
     * error, never silently ignored (roles change with `users role`). */
    if (rc == 0 && role && strcmp(role, u.role) != 0) {
        fprintf(stderr, "users passwd: %s is %s; --role only applies when creating a user. Change the role "
                        "with: hoheit users role %s %s\n", name, u.role, name, role);
        return 2;
    }
    char pw[HH_PASSWORD_MAX_LEN + 2];
    int status = get_password(from_stdin, pw, sizeof pw);
    if (status)
        goto done;
    /* Checked before a user is created, so a short password creates nothing. */
    if (strlen(pw) < HH_PASSWORD_MIN_LEN) {
        fprintf(stderr, "users passwd: the password must have at least %d characters (got %zu)\n",
                HH_PASSWORD_MIN_LEN, strlen(pw));
        status = 1;
        goto done;
    }
    bool created = false;
    if (rc == HH_ENOENT && (rc = hh_store_user_ensure(s, name, role, &u, &created, &err))) {
        fprintf(stderr, "users passwd: %s\n", err.msg);
        status = 1;
        goto done;
    }
    if ((rc = hh_store_user_set_password(s, name, pw, &err))) {
        fprintf(stderr, "users passwd: %s\n", err.msg);
        status = 1;
        goto done;
    }
    if (created)
        fprintf(stderr, "created user %s (%s)\n", u.name, u.role);
    fprintf(stderr, "password set for %s; their sessions were ended\n", name);
    if (created)
        status = hh_cli_audit(s, "users passwd %s: user created (%s), password set", u.name, u.role) ? 1 : 0;
    else
        status = hh_cli_audit(s, "users passwd %s: password set, sessions ended", name) ? 1 : 0;
done:
    sodium_memzero(pw, sizeof pw);
    return status;
}

static int do_list(hh_store_t *s)
{
    hh_store_user_info_t *list = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_user_list(s, &list, &n, &err)) {
        fprintf(stderr, "users list: %s\n", err.msg);
        return 1;
    }
    printf("%-20s %-9s %-30s %-8s %s\n", "name", "role", "departments", "password", "disabled");
    for (size_t i = 0; i < n; i++)
        printf("%-20s %-9s %-30s %-8s %s\n", list[i].user.name, list[i].user.role,
               list[i].departments[0] ? list[i].departments : "-", list[i].has_password ? "yes" : "no",
               list[i].user.disabled ? "yes" : "no");
    free(list);
    return 0;
}

static int do_role(hh_store_t *s, const char *name, const char *role)
{
    hh_err_t err;
    hh_err_clear(&err);
    char was[16] = "";
    if (hh_store_user_set_role(s, name, role, was, &err)) {
        fprintf(stderr, "users role: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "%s: role %s -> %s; their sessions were ended\n", name, was, role);
    return hh_cli_audit(s, "users role %s: %s -> %s", name, was, role) ? 1 : 0;
}

static int do_delete(hh_store_t *s, const char *name, bool yes)
{
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_user_t u;
    if (hh_store_user_get(s, name, &u, &err)) {
        fprintf(stderr, "users delete: no user '%s'\n", name);
        return 1;
    }
    char q[300];
    snprintf(q, sizeof q, "delete user %s (%s) with their API keys, sessions and conversations?", u.name, u.role);
    if (!hh_cli_confirm("users delete", q, yes))
        return 1;
    hh_store_user_removal_t r;
    if (hh_store_user_delete(s, name, &r, &err)) {
        fprintf(stderr, "users delete: %s\n", err.msg);
        return 1;
    }
    printf("deleted user %s: %lld API keys deleted, %lld sessions ended, %lld department memberships removed, "
           "%lld conversations deleted; kept: %lld documents (ingested_by now empty), %lld approvals, the audit "
           "records (hoheit gdpr erase --subject %s pseudonymizes the name there)\n",
           name, (long long)r.keys, (long long)r.sessions, (long long)r.departments, (long long)r.conversations,
           (long long)r.documents, (long long)r.approvals, name);
    return hh_cli_audit(s, "users delete %s (%s): %lld keys, %lld sessions, %lld memberships removed", name, u.role,
                        (long long)r.keys, (long long)r.sessions, (long long)r.departments) ? 1 : 0;
}

int hh_cmd_users(int argc, char **argv)
{
    const char *data = hh_cli_default_data();
    const char *sub = NULL, *name = NULL, *role = NULL, *new_role = NULL;
    bool from_stdin = false, yes = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            users_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(a, "--role") && i + 1 < argc) {
            role = argv[++i];
        } else if (!strcmp(a, "--password-stdin")) {
            from_stdin = true;
        } else if (!strcmp(a, "--yes")) {
            yes = true;
        } else if (a[0] == '-') {
            fprintf(stderr, "users: unknown or incomplete option '%s'\n", a);
            users_usage(stderr);
            return 2;
        } else if (!sub) {
            sub = a;
        } else if (!name) {
            name = a;
        } else if (!strcmp(sub, "role") && !new_role) {
            new_role = a;
        } else {
            fprintf(stderr, "users: unexpected argument '%s' (passwords are read from stdin, never from "
                            "arguments)\n", a);
            return 2;
        }
    }
    if (!sub) {
        users_usage(stderr);
        return 2;
    }
    bool is_passwd = !strcmp(sub, "passwd"), is_list = !strcmp(sub, "list"), is_disable = !strcmp(sub, "disable"),
         is_enable = !strcmp(sub, "enable"), is_role = !strcmp(sub, "role"), is_delete = !strcmp(sub, "delete");
    if (!is_passwd && !is_list && !is_disable && !is_enable && !is_role && !is_delete) {
        fprintf(stderr, "users: unknown subcommand '%s'\n", sub);
        users_usage(stderr);
        return 2;
    }
    if (!is_list && !name) {
        fprintf(stderr, "users %s: name the user\n", sub);
        return 2;
    }
    if (is_role && !new_role) {
        fprintf(stderr, "users role: name the new role (admin, member, auditor, approver)\n");
        return 2;
    }
    if (is_role && !role)
        role = new_role;
    else if (role && !is_passwd) {
        fprintf(stderr, "users %s: --role belongs to `users passwd` (new users); use `users role NAME ROLE`\n", sub);
        return 2;
    }
    if (role && !hh_store_role_valid(role)) {
        fprintf(stderr, "users: unknown role '%s' (admin, member, auditor, approver)\n", role);
        return 2;
    }

    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    if (hh_store_open(&s, data, &err)) {
        fprintf(stderr, "users: %s\n", err.msg);
        return 1;
    }
    int status = 0;
    if (is_passwd) {
        status = do_passwd(s, name, role, from_stdin);
    } else if (is_list) {
        status = do_list(s);
    } else if (is_role) {
        status = do_role(s, name, role);
    } else if (is_delete) {
        status = do_delete(s, name, yes);
    } else if (hh_store_user_set_disabled(s, name, is_disable, &err)) {
        fprintf(stderr, "users %s: %s\n", sub, err.msg);
        status = 1;
    } else {
        fprintf(stderr, "%s %s\n", is_disable ? "disabled" : "enabled", name);
        status = hh_cli_audit(s, "users %s %s", sub, name) ? 1 : 0;
    }
    hh_store_close(s);
    return status;
}
