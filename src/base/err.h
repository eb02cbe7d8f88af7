/* err.h - hoheit's error codes, their messages, and the detail record.
 *
 * Every fallible function returns int: 0 on success, a negative HH_E* code
 * on failure. Details (a message naming the field, the byte offset in a
 * file) go to an optional hh_err_t out-parameter; there is no global
 * "last error". */
#ifndef HH_BASE_ERR_H
#define HH_BASE_ERR_H

#include <stddef.h>
#include <stdint.h>

/* One table: code name, value, message. hh_strerror() reads it. */
#define HH_ERR_TABLE(X)                                           \
    X(HH_OK,           0,  "success")                             \
    X(HH_EINVAL,      -1,  "invalid argument")                    \
    X(HH_ENOMEM,      -2,  "out of memory")                       \
    X(HH_EIO,         -3,  "input/output error")                  \
    X(HH_ENOENT,      -4,  "not found")                           \
    X(HH_EFORMAT,     -5,  "malformed data")                      \
    X(HH_ETRUNC,      -6,  "truncated data")                      \
    X(HH_EOVERFLOW,   -7,  "size overflow")                       \
    X(HH_EUNSUPPORTED,-8,  "unsupported")                         \
    X(HH_ERANGE,      -9,  "value out of range")                  \
    X(HH_ECANCELED,   -10, "canceled")                            \
    X(HH_EFULL,       -11, "capacity exhausted")                  \
    X(HH_ESTATE,      -12, "invalid state")

enum {
#define HH_ERR_ENUM(name, val, msg) name = val,
    HH_ERR_TABLE(HH_ERR_ENUM)
#undef HH_ERR_ENUM
};

/* Detail of a failure. pos is a byte offset into the input, or -1. */
typedef struct hh_err {
    int     code;
    int64_t pos;
    char    msg[512];
} hh_err_t;

/* Message for a code ("unknown error" for codes outside the table). */
const char *hh_strerror(int code);

/* Records code, pos and a printf-style message into err (may be NULL) and
 * returns code, so callers can write `return hh_err_set(err, ...)`. */
int hh_err_set(hh_err_t *err, int code, int64_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Resets err (may be NULL) to HH_OK, pos -1, empty message. */
void hh_err_clear(hh_err_t *err);

/* Formats "message (code text) at byte N" into buf; returns buf. */
const char *hh_err_describe(const hh_err_t *err, char *buf, size_t size);

#endif
