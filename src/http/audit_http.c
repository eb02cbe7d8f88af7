/* audit_http.c - the one way an HTTP handler writes a security-relevant
 * action into the audit chain (govern/audit.h): who did it (the
 * authenticated user, or the name a login tried), the request's id (the
 * X-Request-Id of the answer and the access log), a decision and a short
 * detail. The record shapes per action are listed in docs/COMPLIANCE.md
 * ("Audit log", "Action records").
 *
 * A record that cannot be written does not change the answer: the action
 * already happened (or was refused) and answering 500 would tell the
 * client something false, and for a login would let a broken disk lock
 * everyone out. It does not pass silently either: it is logged as an
 * error naming the request id and the detail, and counted in
 * hoheit_audit_write_failures_total on /metrics, which an operator alerts
 * on. (Reads of the audit log itself, compliance.c, stay refused when
 * their record cannot be written: nothing has happened yet there.) */
#include "http/http_int.h"
#include "base/log.h"
#include "govern/audit.h"

#include <stdarg.h>
#include <stdio.h>

static int append_v(hh_http_server_t *s, const ht_conn_t *cs, const char *kind, const char *user,
                    const char *decision, const char *fmt, va_list ap)
{
    char detail[1024];
    vsnprintf(detail, sizeof detail, fmt, ap);
    const char *rid = cs && cs->log.request_id[0] ? cs->log.request_id : NULL;
    hh_audit_entry_t e = { .kind = kind, .user = user && user[0] ? user : NULL, .decision = decision,
                           .detail = detail, .request_id = rid };
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_audit_append(s->store, NULL, &e, NULL, &err);
    if (rc) {
        atomic_fetch_add(&s->audit_failures, 1);
        HH_LOGE("audit: the record of request %s (%s %s: %s) was not written: %s", rid ? rid : "-", kind,
                decision, detail, err.msg);
    }
    return rc;
}

int ht_audit(hh_http_server_t *s, const ht_conn_t *cs, const char *kind, const char *user, const char *decision,
             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = append_v(s, cs, kind, user, decision, fmt, ap);
    va_end(ap);
    return rc;
}

int ht_audit_action(hh_http_server_t *s, const ht_conn_t *cs, const char *decision, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = append_v(s, cs, "admin", cs->key.user, decision, fmt, ap);
    va_end(ap);
    return rc;
}
