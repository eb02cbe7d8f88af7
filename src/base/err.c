/* err.c - error table lookup and detail records. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *hh_strerror(int code)
{
    switch (code) {
#define HH_ERR_CASE(name, val, msg) case val: return msg;
    HH_ERR_TABLE(HH_ERR_CASE)
#undef HH_ERR_CASE
    default: return "unknown error";
    }
}

int hh_err_set(hh_err_t *err, int code, int64_t pos, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    err->pos = pos;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void hh_err_clear(hh_err_t *err)
{
    if (err == NULL)
        return;
    err->code = HH_OK;
    err->pos = -1;
    err->msg[0] = '\0';
}

const char *hh_err_describe(const hh_err_t *err, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    if (err == NULL) {
        buf[0] = '\0';
        return buf;
    }
    const char *msg = err->msg[0] ? err->msg : hh_strerror(err->code);
    if (err->pos >= 0)
        snprintf(buf, size, "%s (%s, at byte %lld)", msg, hh_strerror(err->code), (long long)err->pos);
    else
        snprintf(buf, size, "%s (%s)", msg, hh_strerror(err->code));
    return buf;
}
