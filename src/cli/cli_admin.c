/* cli_admin.c - what the admin commands share: the confirmation of a
 * destructive command (--yes, or y/N on a terminal) and the "admin" audit
 * record every administrative change from the command line appends. */
#include "cli/cmd.h"
#include "govern/audit.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

bool hh_cli_confirm(const char *cmd, const char *question, bool yes)
{
    if (yes)
        return true;
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr, "%s: %s: refused without --yes (stdin is not a terminal to ask on)\n", cmd, question);
        return false;
    }
    fprintf(stderr, "%s [y/N] ", question);
    char line[32];
    if (!fgets(line, sizeof line, stdin))
        line[0] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    bool ok = !strcasecmp(line, "y") || !strcasecmp(line, "yes");
    if (!ok)
        fprintf(stderr, "%s: cancelled\n", cmd);
    return ok;
}

const char *hh_cli_default_data(void)
{
    const char *d = getenv("HOHEIT_DATA");
    return d && d[0] ? d : "./hoheit-data";
}

const char *hh_cli_actor(char *buf, size_t cap)
{
    /* the account the process runs as, not $USER (anyone can set that);
     * under sudo the person who ran sudo */
    const char *sudo = getenv("SUDO_USER");
    const struct passwd *pw = getpwuid(geteuid());
    snprintf(buf, cap, "cli:%s", sudo && sudo[0] ? sudo : pw && pw->pw_name ? pw->pw_name : "unknown");
    return buf;
}

int hh_cli_audit(hh_store_t *s, const char *fmt, ...)
{
    char detail[1024], actor[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    hh_audit_entry_t e = { .kind = "admin", .user = hh_cli_actor(actor, sizeof actor), .decision = "done",
                           .detail = detail };
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_audit_append(s, NULL, &e, NULL, &err);
    if (rc)
        fprintf(stderr, "warning: done, but the audit record of '%s' was not written: %s\n", detail, err.msg);
    return rc;
}
