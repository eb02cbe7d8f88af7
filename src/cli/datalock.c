/* datalock.c - the data-directory lock for CLI commands that change what a
 * running server keeps in memory (base/dirlock.h). */
#include "cli/cmd.h"

#include <stdio.h>

int hh_cli_lock_data(const char *data, const char *cmd, const char *instead, hh_dirlock_t **out)
{
    hh_err_t err;
    hh_err_clear(&err);
    int64_t pid = 0;
    int rc = hh_dirlock_acquire(out, data, cmd, &pid, &err);
    if (rc == HH_ESTATE)
        fprintf(stderr,
                "hoheit %s: refused: %s.\n"
                "  A running server keeps data of this directory in its memory, which this command\n"
                "  cannot reach: %s, or stop the server first.\n",
                cmd, err.msg, instead);
    else if (rc)
        fprintf(stderr, "hoheit %s: %s\n", cmd, err.msg[0] ? err.msg : hh_strerror(rc));
    return rc;
}
