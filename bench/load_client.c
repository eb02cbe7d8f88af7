/* load_client.c - load driver for `hoheit serve` (bench/load.sh).
 *
 * Plain sockets, one thread per client, HTTP/1.1 with chunked transfer
 * decoding, SSE parsed event by event with cJSON. Modes:
 *
 *   stream N MAX_TOKENS [IDLE]  N concurrent streaming /v1/completions
 *       clients (distinct prompts, temperature 0, include_usage). With IDLE
 *       > 0, first opens IDLE connections that send nothing (even ones) or a
 *       partial request one byte per 200 ms (odd ones) and holds them open
 *       until the streams end. Prints one JSON object: wall time, tokens
 *       (from each stream's usage chunk), SSE chunks, streams that ended
 *       with a finish_reason and [DONE], time to first token, per-client
 *       tokens/s, the longest pause between two chunks of any stream, idle
 *       connections still open at the end.
 *   disconnect EVENTS  streams one request, reads EVENTS content chunks,
 *       prints the /metrics slot lines, closes the socket, then polls
 *       /metrics until hoheit_slots_busy is 0; prints the lines after and
 *       the time it took (JSON).
 *
 *   load_client PORT KEY MODEL MODE ARGS...   (server on 127.0.0.1)
 *
 * A benchmark tool, not library code: on a protocol error it reports the
 * stream as failed and goes on. */
#include <cjson/cJSON.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int         g_port;
static const char *g_key;
static const char *g_model;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)g_port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Sends a request; body may be NULL (GET). */
static bool send_request(int fd, const char *method, const char *path, const char *body)
{
    char head[1024];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     method, path, g_key, blen);
    if (n < 0 || (size_t)n >= sizeof head)
        return false;
    return send_all(fd, head, (size_t)n) && (blen == 0 || send_all(fd, body, blen));
}

/* Incremental reader of one HTTP response body (chunked or not). */
typedef struct reader {
    int    fd;
    char   buf[65536];
    size_t len;          /* bytes in buf */
    bool   headers_done;
    bool   chunked;
    int    status;
    long   chunk_left;   /* data bytes left in the current chunk; -1: expect a size line */
    bool   eof;
    char  *body;         /* decoded body bytes not yet consumed */
    size_t body_len, body_cap;
} reader_t;

static bool body_add(reader_t *r, const char *p, size_t n)
{
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (b == NULL)
            return false;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return true;
}

/* Moves decodable bytes from buf into body; false on a protocol error. */
static bool decode(reader_t *r)
{
    if (!r->headers_done) {
        char *end = memmem(r->buf, r->len, "\r\n\r\n", 4);
        if (end == NULL)
            return r->len < sizeof r->buf;
        *end = '\0';
        if (sscanf(r->buf, "HTTP/1.%*d %d", &r->status) != 1)
            return false;
        r->chunked = strcasestr(r->buf, "Transfer-Encoding: chunked") != NULL;
        r->headers_done = true;
        r->chunk_left = -1;
        size_t used = (size_t)(end + 4 - r->buf);
        memmove(r->buf, r->buf + used, r->len - used);
        r->len -= used;
    }
    if (!r->chunked) {
        bool ok = body_add(r, r->buf, r->len);
        r->len = 0;
        return ok;
    }
    /* chunk_left: -1 expects a size line, > 0 data bytes, 0 the CRLF after them. */
    size_t at = 0;
    while (!r->eof) {
        if (r->chunk_left < 0) {
            char *nl = memmem(r->buf + at, r->len - at, "\r\n", 2);
            if (nl == NULL)
                break;
            long size = strtol(r->buf + at, NULL, 16);
            if (size < 0)
                return false;
            at = (size_t)(nl + 2 - r->buf);
            r->chunk_left = size;
            r->eof = size == 0;
        } else if (r->chunk_left > 0) {
            size_t avail = r->len - at;
            size_t take = avail < (size_t)r->chunk_left ? avail : (size_t)r->chunk_left;
            if (take == 0)
                break;
            if (!body_add(r, r->buf + at, take))
                return false;
            at += take;
            r->chunk_left -= (long)take;
        } else {
            if (r->len - at < 2)
                break;
            at += 2;
            r->chunk_left = -1;
        }
    }
    memmove(r->buf, r->buf + at, r->len - at);
    r->len -= at;
    return true;
}

/* Reads more from the socket; false at EOF or error. */
static bool read_more(reader_t *r)
{
    if (r->eof || r->len == sizeof r->buf)
        return false;
    ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
    if (n < 0 && errno == EINTR)
        return true;
    if (n <= 0) {
        r->eof = true;
        return false;
    }
    r->len += (size_t)n;
    return decode(r);
}

/* Next complete SSE event ("data: ...\n\n") into *out (malloc'd, without
 * the "data: " prefix); false when the stream ended first. */
static bool next_event(reader_t *r, char **out)
{
    for (;;) {
        char *end = r->body ? strstr(r->body, "\n\n") : NULL;
        if (end != NULL) {
            size_t n = (size_t)(end - r->body);
            const char *p = r->body;
            if (n >= 6 && strncmp(p, "data: ", 6) == 0) {
                p += 6;
                n -= 6;
            }
            *out = strndup(p, n);
            size_t used = (size_t)(end + 2 - r->body);
            memmove(r->body, r->body + used, r->body_len - used + 1);
            r->body_len -= used;
            return *out != NULL;
        }
        if (!read_more(r))
            return false;
    }
}

/* One streaming client. */
typedef struct client {
    int     id;
    int     max_tokens;
    pthread_t th;
    double  t_start, t_first, t_end;
    double  t_last, max_gap;   /* last content chunk; longest pause between two */
    int     tokens;      /* usage.completion_tokens */
    int     chunks;      /* SSE chunks with content */
    bool    done;        /* saw [DONE] */
    char    finish[32];  /* finish_reason of the last choice chunk */
    char    error[128];
} client_t;

static char *completion_body(int id, int max_tokens)
{
    char prompt[160];
    /* LOAD_SALT (bench/load.sh burst mode: one per repetition) opens the
     * prompt so a repetition does not reuse the last one's prefix cache. */
    const char *salt = getenv("LOAD_SALT");
    if (salt != NULL && salt[0] != '\0')
        snprintf(prompt, sizeof prompt, "%.16s: story %d. Once upon a time, in a small town by the sea,", salt, id);
    else
        snprintf(prompt, sizeof prompt, "Story %d. Once upon a time, in a small town by the sea,", id);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", g_model);
    cJSON_AddStringToObject(j, "prompt", prompt);
    cJSON_AddNumberToObject(j, "max_tokens", max_tokens);
    cJSON_AddNumberToObject(j, "temperature", 0);
    cJSON_AddBoolToObject(j, "stream", true);
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(j, "stream_options"), "include_usage", true);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* Handles one SSE event of a completion stream. */
static void client_event(client_t *c, const char *ev)
{
    if (strcmp(ev, "[DONE]") == 0) {
        c->done = true;
        return;
    }
    cJSON *j = cJSON_Parse(ev);
    if (j == NULL) {
        snprintf(c->error, sizeof c->error, "bad SSE event: %.60s", ev);
        return;
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (err != NULL) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
        snprintf(c->error, sizeof c->error, "%s", cJSON_IsString(m) ? m->valuestring : "error event");
    }
    const cJSON *ch0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(ch0, "text");
    if (cJSON_IsString(text) && text->valuestring[0] != '\0') {
        double t = now_s();
        if (c->t_first == 0)
            c->t_first = t;
        else if (t - c->t_last > c->max_gap)
            c->max_gap = t - c->t_last;
        c->t_last = t;
        c->chunks++;
    }
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(ch0, "finish_reason");
    if (cJSON_IsString(fr))
        snprintf(c->finish, sizeof c->finish, "%s", fr->valuestring);
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "usage"), "completion_tokens");
    if (cJSON_IsNumber(ct))
        c->tokens = ct->valueint;
    cJSON_Delete(j);
}

static void *client_main(void *arg)
{
    client_t *c = arg;
    char *body = completion_body(c->id, c->max_tokens);
    reader_t *r = calloc(1, sizeof *r);
    c->t_start = now_s();
    int fd = body && r ? connect_server() : -1;
    if (fd < 0 || !send_request(fd, "POST", "/v1/completions", body)) {
        snprintf(c->error, sizeof c->error, "connect/send failed");
    } else {
        r->fd = fd;
        char *ev;
        while (!c->done && next_event(r, &ev)) {
            client_event(c, ev);
            free(ev);
        }
        if (r->status != 200 && c->error[0] == '\0')
            snprintf(c->error, sizeof c->error, "HTTP status %d", r->status);
    }
    c->t_end = now_s();
    if (fd >= 0)
        close(fd);
    if (r)
        free(r->body);
    free(r);
    cJSON_free(body);
    return NULL;
}

/* An idle connection: silent, or a partial request trickled byte by byte. */
typedef struct idle {
    int  fd;
    bool slow;
    bool open_at_end;
} idle_t;

typedef struct idle_set {
    idle_t          *conns;
    int              n;
    volatile bool    stop;
    pthread_t        th;
} idle_set_t;

static void *idle_main(void *arg)
{
    idle_set_t *s = arg;
    static const char partial[] = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n";
    size_t pos = 0;
    while (!s->stop) {
        for (int i = 0; i < s->n; i++)
            if (s->conns[i].slow && s->conns[i].fd >= 0 && pos < sizeof partial - 1)
                (void)send(s->conns[i].fd, partial + pos, 1, MSG_NOSIGNAL);
        pos++;
        usleep(200000);
    }
    return NULL;
}

/* True if the server has not closed fd (no EOF pending). */
static bool still_open(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 0) == 0)
        return true;
    char c;
    return recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) > 0;
}

static int mode_stream(int n, int max_tokens, int n_idle)
{
    idle_set_t idle = { 0 };
    if (n_idle > 0) {
        idle.conns = calloc((size_t)n_idle, sizeof *idle.conns);
        if (idle.conns == NULL)
            return 1;
        for (int i = 0; i < n_idle; i++) {
            idle.conns[i].fd = connect_server();
            idle.conns[i].slow = (i % 2) == 1;
            if (idle.conns[i].fd >= 0)
                idle.n = i + 1;
        }
        pthread_create(&idle.th, NULL, idle_main, &idle);
        usleep(300000);   /* let the server accept them all */
    }
    client_t *cs = calloc((size_t)n, sizeof *cs);
    if (cs == NULL)
        return 1;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        cs[i].id = i;
        cs[i].max_tokens = max_tokens;
        pthread_create(&cs[i].th, NULL, client_main, &cs[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(cs[i].th, NULL);
    double wall = now_s() - t0;
    int idle_open = 0;
    if (n_idle > 0) {
        idle.stop = true;
        pthread_join(idle.th, NULL);
        for (int i = 0; i < idle.n; i++) {
            if (idle.conns[i].fd >= 0 && still_open(idle.conns[i].fd))
                idle_open++;
            if (idle.conns[i].fd >= 0)
                close(idle.conns[i].fd);
        }
        free(idle.conns);
    }
    long tokens = 0, chunks = 0;
    int ok = 0;
    double ttft_sum = 0, ttft_max = 0, rate_min = 1e30, gap_max = 0;
    double *ttfts = calloc((size_t)n, sizeof *ttfts);
    for (int i = 0; i < n; i++) {
        client_t *c = &cs[i];
        tokens += c->tokens;
        chunks += c->chunks;
        bool good = c->done && c->finish[0] && c->error[0] == '\0' && c->tokens > 0;
        ok += good;
        if (!good)
            fprintf(stderr, "load_client: stream %d: done %d finish '%s' tokens %d error '%s'\n", i, c->done,
                    c->finish, c->tokens, c->error);
        double ttft = c->t_first > 0 ? c->t_first - c->t_start : 0;
        ttft_sum += ttft;
        if (ttfts != NULL) {   /* insertion sort for the median */
            int j = i;
            while (j > 0 && ttfts[j - 1] > ttft) {
                ttfts[j] = ttfts[j - 1];
                j--;
            }
            ttfts[j] = ttft;
        }
        if (ttft > ttft_max)
            ttft_max = ttft;
        double rate = c->t_end > c->t_start ? c->tokens / (c->t_end - c->t_start) : 0;
        if (rate < rate_min)
            rate_min = rate;
        if (c->max_gap > gap_max)
            gap_max = c->max_gap;
    }
    printf("{\"clients\":%d,\"max_tokens\":%d,\"idle\":%d,\"idle_open_at_end\":%d,\"ok\":%d,\"wall_s\":%.3f,"
           "\"tokens\":%ld,\"chunks\":%ld,\"tokens_per_s\":%.2f,\"ttft_mean_s\":%.3f,\"ttft_median_s\":%.3f,\"ttft_max_s\":%.3f,"
           "\"client_tokens_per_s_min\":%.2f,\"max_gap_s\":%.3f,\"finish\":\"%s\"}\n",
           n, max_tokens, idle.n, idle_open, ok, wall, tokens, chunks, wall > 0 ? tokens / wall : 0,
           ttft_sum / n, ttfts == NULL ? 0 : n % 2 ? ttfts[n / 2] : (ttfts[n / 2 - 1] + ttfts[n / 2]) / 2, ttft_max,
           rate_min, gap_max, cs[0].finish);
    free(ttfts);
    free(cs);
    return ok == n ? 0 : 1;
}

/* GET /metrics; returns the body (malloc'd) or NULL. */
static char *get_metrics(void)
{
    int fd = connect_server();
    if (fd < 0)
        return NULL;
    reader_t *r = calloc(1, sizeof *r);
    char *out = NULL;
    if (r != NULL && send_request(fd, "GET", "/metrics", NULL)) {
        r->fd = fd;
        while (read_more(r))
            ;
        if (r->status == 200)
            out = r->body;
        else
            free(r->body);
    }
    close(fd);
    free(r);
    return out;
}

/* The slot/queue/cancel lines of a metrics text, joined with "\n" into buf. */
static long metric_lines(const char *text, char *buf, size_t cap)
{
    static const char *const names[] = { "hoheit_slots_busy ", "hoheit_queue_depth ",
                                         "hoheit_canceled_requests_total " };
    long busy = -1;
    buf[0] = '\0';
    for (size_t i = 0; text && i < sizeof names / sizeof names[0]; i++) {
        const char *p = strstr(text, names[i]);
        while (p != NULL && p != text && p[-1] != '\n')
            p = strstr(p + 1, names[i]);
        if (p == NULL)
            continue;
        size_t n = strcspn(p, "\n");
        size_t l = strlen(buf);
        snprintf(buf + l, cap - l, "%s%.*s", l ? "\\n" : "", (int)n, p);
        if (i == 0)
            busy = strtol(p + strlen(names[i]), NULL, 10);
    }
    return busy;
}

static int mode_disconnect(int events)
{
    client_t c = { .id = 999, .max_tokens = 400 };
    char *body = completion_body(c.id, c.max_tokens);   /* long enough to be running at the disconnect */
    reader_t *r = calloc(1, sizeof *r);
    int fd = body && r ? connect_server() : -1;
    if (fd < 0 || !send_request(fd, "POST", "/v1/completions", body)) {
        fprintf(stderr, "load_client: connect/send failed\n");
        return 1;
    }
    r->fd = fd;
    char *ev;
    while (c.chunks < events && next_event(r, &ev)) {
        client_event(&c, ev);
        free(ev);
    }
    char before[512], after[512];
    char *m = get_metrics();
    long busy_before = metric_lines(m, before, sizeof before);
    free(m);
    double t0 = now_s();
    close(fd);
    long busy_after = -1;
    double waited = 0;
    for (int i = 0; i < 1000; i++) {   /* up to ~10 s */
        m = get_metrics();
        busy_after = metric_lines(m, after, sizeof after);
        free(m);
        waited = now_s() - t0;
        if (busy_after == 0)
            break;
        usleep(10000);
    }
    printf("{\"events_read\":%d,\"busy_before\":%ld,\"busy_after\":%ld,\"freed_after_s\":%.3f,"
           "\"before\":\"%s\",\"after\":\"%s\"}\n",
           c.chunks, busy_before, busy_after, waited, before, after);
    free(r->body);
    free(r);
    cJSON_free(body);
    return busy_before >= 1 && busy_after == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: load_client PORT KEY MODEL stream N MAX_TOKENS [IDLE]\n"
                        "       load_client PORT KEY MODEL disconnect EVENTS\n");
        return 2;
    }
    g_port = atoi(argv[1]);
    g_key = argv[2];
    g_model = argv[3];
    if (strcmp(argv[4], "stream") == 0 && argc >= 7)
        return mode_stream(atoi(argv[5]), atoi(argv[6]), argc > 7 ? atoi(argv[7]) : 0);
    if (strcmp(argv[4], "disconnect") == 0 && argc >= 6)
        return mode_disconnect(atoi(argv[5]));
    fprintf(stderr, "load_client: unknown mode %s\n", argv[4]);
    return 2;
}
