/* log.h - leveled logging to stderr. Stdout is reserved for command output
 * (generated text, JSON), so every diagnostic goes through here. */
#ifndef HH_BASE_LOG_H
#define HH_BASE_LOG_H

enum { HH_LOG_ERROR = 0, HH_LOG_WARN = 1, HH_LOG_INFO = 2, HH_LOG_DEBUG = 3 };

/* Level threshold: set once at start (CLI flags / HOHEIT_LOG=debug|info|warn|error). */
void hh_log_set_level(int level);
int  hh_log_level(void);
/* Reads HOHEIT_LOG from the environment, if set. */
void hh_log_init_from_env(void);

void hh_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define HH_LOGE(...) hh_log(HH_LOG_ERROR, __VA_ARGS__)
#define HH_LOGW(...) hh_log(HH_LOG_WARN, __VA_ARGS__)
#define HH_LOGI(...) hh_log(HH_LOG_INFO, __VA_ARGS__)
#define HH_LOGD(...) hh_log(HH_LOG_DEBUG, __VA_ARGS__)

#endif
