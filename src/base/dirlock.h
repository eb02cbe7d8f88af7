/* dirlock.h - the data-directory lock: one process at a time may run a
 * server (or a command that changes what a server keeps in memory) on a
 * data directory.
 *
 * The lock is flock(LOCK_EX) on DATA/hoheit.lock (mode 0600), which holds
 * "PID WHAT\n" of the holder. The kernel drops a flock when its process
 * ends, however it ends (kill -9 too), so a file left behind by a dead
 * process never blocks anybody: only a live holder does. The file itself
 * is never removed (removing it would let a second process lock a new
 * inode while the first still holds the old one). Local file systems only:
 * flock over NFS is not reliable on every client. */
#ifndef HH_BASE_DIRLOCK_H
#define HH_BASE_DIRLOCK_H

#include "base/err.h"

#include <stdint.h>

#define HH_DIRLOCK_FILE "hoheit.lock"

typedef struct hh_dirlock hh_dirlock_t;

/* Creates data_dir (0700, parents too) when missing, then takes the lock
 * without waiting and writes "PID WHAT" into the file (what: a short name
 * of the holder, e.g. "hoheit serve"). Caller owns *out and releases it
 * with hh_dirlock_release. Errors: HH_ESTATE when another process holds
 * it (*holder_pid, may be NULL, gets its pid, 0 when unknown; err says
 * "DIR is in use by WHAT (pid N)"), HH_EIO (directory, file), HH_ENOMEM. */
int  hh_dirlock_acquire(hh_dirlock_t **out, const char *data_dir, const char *what, int64_t *holder_pid,
                        hh_err_t *err);
/* Releases the lock (closes the file; it stays). NULL is a no-op. */
void hh_dirlock_release(hh_dirlock_t *l);

#endif
