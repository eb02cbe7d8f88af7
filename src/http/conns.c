/* conns.c - connection deadlines that a trickle cannot extend.
 *
 * libmicrohttpd's connection timeout is idle-based: every byte restarts it,
 * so a client sending one byte a second holds a connection (and, in
 * thread-per-connection mode, a thread) forever. This module tracks every
 * open connection from MHD's connect/close notifications and a watchdog
 * thread cuts (shutdown(2)) those that overrun:
 *
 *   headers: the request line and headers must be complete within
 *            header_timeout_s of the connection's first moment (or of the
 *            end of the previous response on a kept-alive connection);
 *   body:    after a grace of header_timeout_s from the end of the headers,
 *            the body must keep an average of body_min_rate bytes/s
 *            (deadline = end of headers + grace + received / rate).
 *
 * While the handler runs and the response is sent no deadline applies
 * (streamed answers take as long as the model does).
 *
 * The per-address connection cap is MHD's own
 * (MHD_OPTION_PER_IP_CONNECTION_LIMIT, set in server.c).
 *
 * Why shutdown and not close: the socket stays MHD's; shutdown only wakes
 * its connection thread (recv returns 0) and MHD closes and frees the
 * connection as for any client that went away. Entries leave the list in
 * the CLOSED notification, which MHD sends before it closes the descriptor,
 * and the watchdog touches descriptors only under the list's mutex, so it
 * never shuts down a reused descriptor. */
#include "http/http_int.h"
#include "base/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

typedef enum { CS_HEADERS, CS_BODY, CS_RESPONSE } cs_phase_t;

typedef struct ht_sock {
    struct ht_sock *prev, *next;
    int             fd;
    cs_phase_t      phase;
    double          t0;      /* start of the current phase (monotonic s) */
    uint64_t        bytes;   /* body bytes received in CS_BODY */
    bool            cut;     /* shut down once; MHD closes it */
} ht_sock_t;

struct ht_conns {
    pthread_mutex_t mu;
    pthread_cond_t  cv;      /* CLOCK_MONOTONIC; signaled at stop */
    pthread_t       thread;
    bool            started;
    bool            stop;
    ht_sock_t      *head;
    double          header_s;
    double          min_rate;   /* bytes/s; 0: no body rate check */
    uint64_t        cut_headers, cut_body;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *watchdog(void *arg)
{
    ht_conns_t *k = arg;
    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        double now = mono_now();
        for (ht_sock_t *p = k->head; p; p = p->next) {
            if (p->cut || p->phase == CS_RESPONSE)
                continue;
            bool late = p->phase == CS_HEADERS
                            ? now - p->t0 > k->header_s
                            : k->min_rate > 0 && now - p->t0 > k->header_s + (double)p->bytes / k->min_rate;
            if (!late)
                continue;
            p->cut = true;
            if (p->phase == CS_HEADERS)
                k->cut_headers++;
            else
                k->cut_body++;
            shutdown(p->fd, SHUT_RDWR);
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 100 * 1000 * 1000;   /* 0.1 s: the deadlines' resolution */
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&k->cv, &k->mu, &until);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

int ht_conns_start(hh_http_server_t *s, hh_err_t *err)
{
    ht_conns_t *k = calloc(1, sizeof *k);
    if (!k)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    pthread_mutex_init(&k->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->cv, &ca);
    pthread_condattr_destroy(&ca);
    k->header_s = s->params.header_timeout_s;
    k->min_rate = s->params.body_min_rate;
    if (pthread_create(&k->thread, NULL, watchdog, k) != 0) {
        pthread_cond_destroy(&k->cv);
        pthread_mutex_destroy(&k->mu);
        free(k);
        return hh_err_set(err, HH_EIO, -1, "cannot start the connection watchdog thread");
    }
    k->started = true;
    s->conns = k;
    return 0;
}

void ht_conns_stop(hh_http_server_t *s)
{
    ht_conns_t *k = s->conns;
    if (!k)
        return;
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    if (k->started)
        pthread_join(k->thread, NULL);
    /* MHD is stopped first (server.c): every CLOSED notification has run. */
    while (k->head) {
        ht_sock_t *p = k->head;
        k->head = p->next;
        free(p);
    }
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    free(k);
    s->conns = NULL;
}

void ht_conns_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe)
{
    hh_http_server_t *s = cls;
    ht_conns_t *k = s->conns;
    if (!k)
        return;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        ht_sock_t *p = ci ? calloc(1, sizeof *p) : NULL;
        if (!p)
            return;   /* untracked: MHD's idle timeout still applies */
        p->fd = ci->connect_fd;
        p->phase = CS_HEADERS;
        p->t0 = mono_now();
        pthread_mutex_lock(&k->mu);
        p->next = k->head;
        if (k->head)
            k->head->prev = p;
        k->head = p;
        pthread_mutex_unlock(&k->mu);
        *socket_context = p;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        ht_sock_t *p = *socket_context;
        if (!p)
            return;
        pthread_mutex_lock(&k->mu);
        if (p->prev)
            p->prev->next = p->next;
        else
            k->head = p->next;
        if (p->next)
            p->next->prev = p->prev;
        pthread_mutex_unlock(&k->mu);
        free(p);
        *socket_context = NULL;
    }
}

void ht_conns_phase(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_phase_t phase, size_t body_bytes)
{
    ht_conns_t *k = s->conns;
    const union MHD_ConnectionInfo *ci = k ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    ht_sock_t *p = ci ? ci->socket_context : NULL;
    if (!p)
        return;
    pthread_mutex_lock(&k->mu);
    switch (phase) {
    case HT_CONN_HEADERS_DONE:
        p->phase = CS_BODY;
        p->t0 = mono_now();
        p->bytes = 0;
        break;
    case HT_CONN_BODY_BYTES:
        p->bytes += body_bytes;
        break;
    case HT_CONN_BODY_DONE:
        p->phase = CS_RESPONSE;
        break;
    case HT_CONN_IDLE:
        p->phase = CS_HEADERS;
        p->t0 = mono_now();
        break;
    }
    pthread_mutex_unlock(&k->mu);
}

uint64_t ht_conns_cut(hh_http_server_t *s, bool body)
{
    ht_conns_t *k = s->conns;
    if (!k)
        return 0;
    pthread_mutex_lock(&k->mu);
    uint64_t n = body ? k->cut_body : k->cut_headers;
    pthread_mutex_unlock(&k->mu);
    return n;
}
