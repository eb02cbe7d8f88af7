/* log.c - leveled logging to stderr. The level is process configuration set
 * once at start (like the CPU feature table), not per-request state. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_level = HH_LOG_INFO;

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
    fprintf(stderr, "hoheit %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], line);
}
