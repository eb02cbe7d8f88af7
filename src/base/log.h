/* log.h - leveled logging: the error log. Stdout is reserved for command
 * output (generated text, JSON), so every diagnostic goes through here.
 *
 * Lines go to stderr as "hoheit LEVEL: message" (journald or the terminal
 * add the time), or, after hh_log_open_file, to that file as
 * "2026-01-31T12:00:00.123Z hoheit LEVEL: message" (appended, mode 0600),
 * reopened by hh_log_reopen (SIGHUP, after logrotate moved it). */
#ifndef HH_BASE_LOG_H
#define HH_BASE_LOG_H

#include "base/err.h"

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdio.h>

enum { HH_LOG_ERROR = 0, HH_LOG_WARN = 1, HH_LOG_INFO = 2, HH_LOG_DEBUG = 3 };

/* Level threshold: set once at start (CLI flags / HOHEIT_LOG=debug|info|warn|error). */
void hh_log_set_level(int level);
int  hh_log_level(void);
/* Reads HOHEIT_LOG from the environment, if set. */
void hh_log_init_from_env(void);

/* Sends the log to path (appended, created 0600) instead of stderr; NULL
 * goes back to stderr. Process configuration, set once at start (the
 * server's --error-log). HH_EIO when the file cannot be opened (the log
 * then stays where it was). */
int  hh_log_open_file(const char *path, hh_err_t *err);
/* Reopens the file given to hh_log_open_file under its name (after a
 * rename by logrotate); no-op for stderr. HH_EIO when it cannot be opened
 * (the old file stays in use). Safe while other threads log. */
int  hh_log_reopen(hh_err_t *err);

/* Opens a log file at path for appending (created 0600, line-buffered,
 * close-on-exec); NULL and HH_EIO "cannot open WHAT PATH: REASON" in err
 * when it cannot (what: e.g. "log file", "the access log"). Refused too: a
 * symlink at path, or an existing file that is not a regular file of this
 * process's user (one planted in a world-writable folder). Used by the
 * error log and the access log. */
FILE *hh_log_open_append(const char *path, const char *what, hh_err_t *err);

/* out (cap >= 25): the time ms (UTC milliseconds since the epoch) as
 * "2026-01-31T12:00:00.123Z". Also used by the access log. */
void hh_log_iso_time(int64_t ms, char *out, size_t cap);
/* Now in UTC milliseconds since the epoch. */
int64_t hh_log_now_ms(void);

void hh_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define HH_LOGE(...) hh_log(HH_LOG_ERROR, __VA_ARGS__)
#define HH_LOGW(...) hh_log(HH_LOG_WARN, __VA_ARGS__)
#define HH_LOGI(...) hh_log(HH_LOG_INFO, __VA_ARGS__)
#define HH_LOGD(...) hh_log(HH_LOG_DEBUG, __VA_ARGS__)

#endif
