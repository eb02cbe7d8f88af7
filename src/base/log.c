/* log.c - leveled logging to stderr or an error-log file. The level and the
 * file are process configuration set once at start (like the CPU feature
 * table), not per-request state; the file is swapped under a mutex on
 * reopen so lines written meanwhile go to the old or the new file whole. */
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int g_level = HH_LOG_INFO;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *g_file;        /* NULL: stderr */
static char *g_path;        /* g_file's name, for reopen */

void hh_log_set_level(int level) { g_level = level; }
int hh_log_level(void) { return g_level; }

void hh_log_init_from_env(void)
{
    const char *s = getenv("HOHEIT_LOG");
    if (s == NULL) return;
    if (!strcmp(s, "error")) g_level = HH_LOG_ERROR;
    else if (!strcmp(s, "warn")) g_level = HH_LOG_WARN;
    else if (!strcmp(s, "info")) g_level = HH_LOG_INFO;
    else if (!strcmp(s, "debug")) g_level = HH_LOG_DEBUG;
}

int64_t hh_log_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hh_log_iso_time(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

FILE *hh_log_open_append(const char *path, const char *what, hh_err_t *err)
{
    /* O_NOFOLLOW: a symlink planted at the path (a world-writable folder)
     * must not lead the lines into a file of ours it points to */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    if (fd < 0) {
        hh_err_set(err, HH_EIO, -1, "cannot open %s %s: %s%s", what, path, strerror(errno),
                   errno == ELOOP ? " (it is a symlink; give the real path)" : "");
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid()) {
        hh_err_set(err, HH_EIO, -1, "refused %s %s: not a regular file of this user (uid %d)", what, path,
                   (int)geteuid());
        close(fd);
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    FILE *f = fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0 ? fdopen(fd, "a") : NULL;
    if (!f) {
        hh_err_set(err, HH_EIO, -1, "cannot open %s %s: %s", what, path, strerror(errno));
        close(fd);
        return NULL;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    return f;
}

int hh_log_open_file(const char *path, hh_err_t *err)
{
    FILE *f = NULL;
    char *p = NULL;
    if (path) {
        if (!(p = strdup(path)))
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        if (!(f = hh_log_open_append(path, "log file", err))) {
            free(p);
            return HH_EIO;
        }
    }
    pthread_mutex_lock(&g_mu);
    FILE *old = g_file;
    char *old_path = g_path;
    g_file = f;
    g_path = p;
    pthread_mutex_unlock(&g_mu);
    if (old)
        fclose(old);
    free(old_path);
    return 0;
}

int hh_log_reopen(hh_err_t *err)
{
    pthread_mutex_lock(&g_mu);
    int rc = 0;
    if (g_path) {
        FILE *f = hh_log_open_append(g_path, "log file", err);
        if (f) {
            fclose(g_file);
            g_file = f;
        } else {
            rc = HH_EIO;
        }
    }
    pthread_mutex_unlock(&g_mu);
    return rc;
}

void hh_log(int level, const char *fmt, ...)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    if (level > g_level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    const char *name = names[level < 0 ? 0 : level > 3 ? 3 : level];
    pthread_mutex_lock(&g_mu);
    if (g_file) {
        char ts[32];
        hh_log_iso_time(hh_log_now_ms(), ts, sizeof ts);
        fprintf(g_file, "%s hoheit %s: %s\n", ts, name, line);
    } else {
        fprintf(stderr, "hoheit %s: %s\n", name, line);
    }
    pthread_mutex_unlock(&g_mu);
}
