/* completions.c - POST /v1/chat/completions and /v1/completions: submit to
 * the engine, collect its events, answer in OpenAI's shapes (one JSON
 * object, or an SSE stream of chunks ending with `data: [DONE]`).
 *
 * Threads: the engine calls on_event on a model's scheduler thread; it only
 * copies into the gen context under its mutex and signals. The connection's
 * own thread (libmicrohttpd thread-per-connection) waits on the condition
 * and formats. A client that goes away makes MHD call stream_free, which
 * cancels the generation; the context lives until both sides let go
 * (refcount). */
#include "http/http_int.h"
#include "base/strbuf.h"
#include "base/log.h"
#include "govern/audit.h"      /* audit hook */
#include "govern/register.h"   /* audit hook: the use case's audit detail */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

typedef struct lp_entry {
    size_t        off, len;   /* the token's text in ctx->text (may be empty: held back) */
    hh_logprobs_t lp;
} lp_entry_t;

typedef struct gen_ctx {
    pthread_mutex_t   mu;
    pthread_cond_t    cv;
    int               refs;
    hh_http_server_t *srv;
    hh_gen_t         *g;
    hh_openai_req_t   req;
    char              id[48];
    int64_t           created;
    bool              forced_tool;   /* tool_choice required/named: output is one call object */
    ht_mark_t         mark;          /* transparency marker (usecases.c) */
    char              audit_user[HH_STORE_NAME_MAX];   /* audit: the requester (cs may be gone at stream end) */
    char              request_id[HT_REQUEST_ID_MAX + 1];   /* audit: the request's id (X-Request-Id) */
    ht_log_t         *log;           /* a stream's access-log counters in its ht_conn_t (stream_read only) */
    ht_quota_ticket_t quota;         /* a stream's quota place, moved from cs (quota.c); connection thread only */
    int64_t           conv_id, conv_user;   /* the conversation the turn is recorded in (conversations.c) */
    bool              conv_done;            /* recorded (a stream: once, connection thread only) */
    /* filled by on_event */
    char             *text;
    size_t            len, cap;
    lp_entry_t       *lps;
    size_t            n_lps, cap_lps;
    bool              done, failed, oom;
    hh_finish_t       finish;
    char             *content;
    hh_tool_call_t   *calls;         /* strings malloc'd */
    size_t            n_calls;
    int32_t           prompt_tokens, completion_tokens, cached_tokens;
    int               err_code;
    char              err_msg[256];
    double            t_submit, t_first, t_done;
    /* stream state (connection thread only) */
    size_t            sent_text, sent_lps;
    bool              sent_role, eof;
    char             *pend;
    size_t            pend_len, pend_off, pend_cap;
} gen_ctx_t;

static void ctx_unref(gen_ctx_t *x)
{
    pthread_mutex_lock(&x->mu);
    int left = --x->refs;
    pthread_mutex_unlock(&x->mu);
    if (left > 0)
        return;
    hh_openai_req_free(&x->req);
    free(x->text);
    free(x->lps);
    free(x->content);
    for (size_t i = 0; i < x->n_calls; i++) {
        free((char *)x->calls[i].name);
        free((char *)x->calls[i].arguments_json);
        free((char *)x->calls[i].id);
    }
    free(x->calls);
    free(x->pend);
    pthread_cond_destroy(&x->cv);
    pthread_mutex_destroy(&x->mu);
    free(x);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return false;
    *p = np;
    *cap = nc;
    return true;
}

/* Engine callback (scheduler thread): copy, signal, return. */
static void on_event(void *user, const hh_gen_event_t *ev)
{
    gen_ctx_t *x = user;
    pthread_mutex_lock(&x->mu);
    double now = ht_now();
    if (ev->kind == HH_GEN_TEXT) {
        if (x->t_first == 0)
            x->t_first = now;
        size_t off = x->len;
        if (ev->len && grow((void **)&x->text, &x->cap, x->len + ev->len + 1, 1)) {
            memcpy(x->text + x->len, ev->text, ev->len);
            x->len += ev->len;
            x->text[x->len] = '\0';
        } else if (ev->len) {
            x->oom = true;
        }
        if (ev->logprobs) {
            if (grow((void **)&x->lps, &x->cap_lps, x->n_lps + 1, sizeof *x->lps))
                x->lps[x->n_lps++] = (lp_entry_t){ off, x->len - off, *ev->logprobs };
            else
                x->oom = true;
        }
    } else {
        x->done = true;
        x->t_done = now;
        if (ev->kind == HH_GEN_ERROR) {
            x->failed = true;
            x->err_code = ev->error_code;
            snprintf(x->err_msg, sizeof x->err_msg, "%s", ev->error_msg ? ev->error_msg : hh_strerror(ev->error_code));
        } else {
            x->finish = ev->finish;
            x->content = ev->content ? hh_strdup_n(ev->content, ev->content_len)
                                     : hh_strdup_n(x->text ? x->text : "", x->len);
            if (!x->content)
                x->oom = true;
            x->prompt_tokens = ev->prompt_tokens;
            x->completion_tokens = ev->completion_tokens;
            x->cached_tokens = ev->cached_tokens;
            if (ev->n_tool_calls && (x->calls = calloc(ev->n_tool_calls, sizeof *x->calls))) {
                x->n_calls = ev->n_tool_calls;
                for (size_t i = 0; i < ev->n_tool_calls; i++) {
                    const hh_tool_call_t *c = &ev->tool_calls[i];
                    x->calls[i].name = c->name ? strdup(c->name) : strdup("");
                    x->calls[i].arguments_json = c->arguments_json ? strdup(c->arguments_json) : strdup("{}");
                    x->calls[i].id = c->id ? strdup(c->id) : NULL;
                }
            }
            double ttft = x->t_first ? x->t_first - x->t_submit : (ev->ttft_s > 0 ? ev->ttft_s : -1);
            double tpot = (x->t_first && ev->completion_tokens > 1)
                              ? (x->t_done - x->t_first) / (double)(ev->completion_tokens - 1)
                              : -1;
            ht_metrics_generation(x->srv, ttft, tpot, ev->finish == HH_FINISH_CANCELED);
        }
    }
    pthread_cond_broadcast(&x->cv);
    bool last = x->done;
    pthread_mutex_unlock(&x->mu);
    if (last)
        ctx_unref(x);   /* the engine never calls again after DONE/ERROR */
}

static void make_id(char *buf, size_t cap, const char *prefix)
{
    unsigned char r[12];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = (uint64_t)ht_now() * 1000003u ^ (uint64_t)(uintptr_t)buf;
        memcpy(r, &t, 8);
        memset(r + 8, 0x5a, 4);
    }
    static const char hex[] = "0123456789abcdef";
    size_t n = (size_t)snprintf(buf, cap, "%s", prefix);
    for (size_t i = 0; i < sizeof r && n + 2 < cap; i++) {
        buf[n++] = hex[r[i] >> 4];
        buf[n++] = hex[r[i] & 15];
    }
    buf[n < cap ? n : cap - 1] = '\0';
}

/* ---- JSON pieces ------------------------------------------------------ */

/* A token's text for logprobs: its piece when valid UTF-8, else OpenAI's
 * "bytes:\xNN" spelling. Writes into buf. */
static const char *token_str(const hh_vocab_t *v, int32_t id, char *buf, size_t cap, unsigned char *raw,
                             int *raw_len)
{
    int n = v ? hh_token_to_piece(v, id, false, (char *)raw, 64) : -1;
    if (n < 0 || n > 64) {
        *raw_len = 0;
        snprintf(buf, cap, "<%d>", id);
        return buf;
    }
    *raw_len = n;
    if (hh_utf8_valid((const char *)raw, (size_t)n)) {
        memcpy(buf, raw, (size_t)n);
        buf[n] = '\0';
        return buf;
    }
    size_t o = (size_t)snprintf(buf, cap, "bytes:");
    for (int i = 0; i < n && o + 5 < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", raw[i]);
    return buf;
}

static cJSON *bytes_array(const unsigned char *raw, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(raw[i]));
    return a;
}

/* Chat logprobs content entries for lps[from, to). */
static cJSON *chat_logprobs(gen_ctx_t *x, size_t from, size_t to)
{
    const hh_vocab_t *v = ht_vocab(x->srv, x->req.gen.model);
    cJSON *o = cJSON_CreateObject();
    cJSON *content = cJSON_AddArrayToObject(o, "content");
    for (size_t i = from; i < to; i++) {
        const lp_entry_t *e = &x->lps[i];
        char buf[512];
        unsigned char raw[72];
        int rn = 0;
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "token", token_str(v, e->lp.token, buf, sizeof buf, raw, &rn));
        cJSON_AddNumberToObject(t, "logprob", e->lp.logprob);
        cJSON_AddItemToObject(t, "bytes", bytes_array(raw, rn));
        cJSON *tops = cJSON_AddArrayToObject(t, "top_logprobs");
        int nt = e->lp.n_top < x->req.top_logprobs ? e->lp.n_top : x->req.top_logprobs;
        for (int k = 0; k < nt; k++) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddStringToObject(a, "token", token_str(v, e->lp.top_ids[k], buf, sizeof buf, raw, &rn));
            cJSON_AddNumberToObject(a, "logprob", e->lp.top_logprobs[k]);
            cJSON_AddItemToObject(a, "bytes", bytes_array(raw, rn));
            cJSON_AddItemToArray(tops, a);
        }
        cJSON_AddItemToArray(content, t);
    }
    cJSON_AddNullToObject(o, "refusal");
    return o;
}

/* Completions logprobs {tokens, token_logprobs, top_logprobs, text_offset}. */
static cJSON *completion_logprobs(gen_ctx_t *x, size_t from, size_t to, size_t text_base)
{
    const hh_vocab_t *v = ht_vocab(x->srv, x->req.gen.model);
    cJSON *o = cJSON_CreateObject();
    cJSON *toks = cJSON_AddArrayToObject(o, "tokens");
    cJSON *tlp = cJSON_AddArrayToObject(o, "token_logprobs");
    cJSON *top = cJSON_AddArrayToObject(o, "top_logprobs");
    cJSON *offs = cJSON_AddArrayToObject(o, "text_offset");
    for (size_t i = from; i < to; i++) {
        const lp_entry_t *e = &x->lps[i];
        char buf[512];
        unsigned char raw[72];
        int rn = 0;
        cJSON_AddItemToArray(toks, cJSON_CreateString(token_str(v, e->lp.token, buf, sizeof buf, raw, &rn)));
        cJSON_AddItemToArray(tlp, cJSON_CreateNumber(e->lp.logprob));
        cJSON *m = cJSON_CreateObject();
        int nt = e->lp.n_top < x->req.top_logprobs ? e->lp.n_top : x->req.top_logprobs;
        for (int k = 0; k < nt; k++) {
            const char *ts = token_str(v, e->lp.top_ids[k], buf, sizeof buf, raw, &rn);
            if (!cJSON_GetObjectItemCaseSensitive(m, ts))
                cJSON_AddNumberToObject(m, ts, e->lp.top_logprobs[k]);
        }
        cJSON_AddItemToArray(top, m);
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(text_base + e->off)));
    }
    return o;
}

static cJSON *usage_json(const gen_ctx_t *x)
{
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", x->prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", x->completion_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", x->prompt_tokens + x->completion_tokens);
    cJSON *d = cJSON_AddObjectToObject(u, "prompt_tokens_details");
    cJSON_AddNumberToObject(d, "cached_tokens", x->cached_tokens);
    return u;
}

/* A forced tool call's output is one JSON object {"name", "arguments"}:
 * turns it into a call. Returns false if it does not parse. */
static bool forced_call(gen_ctx_t *x)
{
    cJSON *j = cJSON_Parse(x->content ? x->content : "");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(j, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(j, "arguments");
    bool ok = false;
    if (cJSON_IsString(nm) && args && (x->calls = calloc(1, sizeof *x->calls))) {
        x->calls[0].name = strdup(nm->valuestring);
        x->calls[0].arguments_json = cJSON_PrintUnformatted(args);
        x->n_calls = 1;
        x->finish = HH_FINISH_TOOL_CALLS;
        ok = x->calls[0].name && x->calls[0].arguments_json;
    }
    cJSON_Delete(j);
    return ok;
}

static cJSON *tool_calls_json(const gen_ctx_t *x, bool with_index)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < x->n_calls; i++) {
        cJSON *c = cJSON_CreateObject();
        if (with_index)
            cJSON_AddNumberToObject(c, "index", (double)i);
        char id[48];
        if (x->calls[i].id && x->calls[i].id[0])
            snprintf(id, sizeof id, "%s", x->calls[i].id);
        else
            make_id(id, sizeof id, "call_");
        cJSON_AddStringToObject(c, "id", id);
        cJSON_AddStringToObject(c, "type", "function");
        cJSON *f = cJSON_AddObjectToObject(c, "function");
        cJSON_AddStringToObject(f, "name", x->calls[i].name);
        cJSON_AddStringToObject(f, "arguments", x->calls[i].arguments_json);
        cJSON_AddItemToArray(arr, c);
    }
    return arr;
}

static cJSON *envelope(const gen_ctx_t *x, const char *object)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", x->id);
    cJSON_AddStringToObject(j, "object", object);
    cJSON_AddNumberToObject(j, "created", (double)x->created);
    cJSON_AddStringToObject(j, "model", x->req.gen.model);
    cJSON_AddStringToObject(j, "system_fingerprint", "hoheit");
    return j;
}

static void error_from_ctx(const gen_ctx_t *x, hh_api_error_t *e)
{
    if (x->oom) {
        hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory while collecting the output");
        return;
    }
    hh_err_t err;
    hh_err_clear(&err);
    snprintf(err.msg, sizeof err.msg, "%s", x->err_msg);
    hh_openai_submit_error(x->err_code, &err, x->req.gen.model, e);
    if (e->status == 404 || e->status == 429)   /* not from submit: a failure while running */
        hh_api_error_set(e, 500, "server_error", NULL, NULL, "%s", x->err_msg);
}

/* ---- non-stream ------------------------------------------------------- */

static cJSON *full_response(gen_ctx_t *x)
{
    bool chat = x->req.kind == HH_OPENAI_CHAT;
    cJSON *j = envelope(x, chat ? "chat.completion" : "text_completion");
    cJSON *choices = cJSON_AddArrayToObject(j, "choices");
    cJSON *ch = cJSON_CreateObject();
    cJSON_AddNumberToObject(ch, "index", 0);
    if (chat) {
        cJSON *msg = cJSON_AddObjectToObject(ch, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        if (x->n_calls && (x->forced_tool || !x->content || !x->content[0]))
            cJSON_AddNullToObject(msg, "content");
        else
            cJSON_AddStringToObject(msg, "content", x->content ? x->content : "");
        cJSON_AddNullToObject(msg, "refusal");
        if (x->n_calls)
            cJSON_AddItemToObject(msg, "tool_calls", tool_calls_json(x, false));
        if (x->req.logprobs)
            cJSON_AddItemToObject(ch, "logprobs", chat_logprobs(x, 0, x->n_lps));
        else
            cJSON_AddNullToObject(ch, "logprobs");
    } else {
        cJSON_AddStringToObject(ch, "text", x->content ? x->content : "");
        if (x->req.logprobs)
            cJSON_AddItemToObject(ch, "logprobs", completion_logprobs(x, 0, x->n_lps, 0));
        else
            cJSON_AddNullToObject(ch, "logprobs");
    }
    cJSON_AddStringToObject(ch, "finish_reason", hh_openai_finish_name(x->finish));
    cJSON_AddItemToArray(choices, ch);
    cJSON_AddItemToObject(j, "usage", usage_json(x));
    return j;
}

/* Waits for DONE; cancels if the server is stopping. Caller holds x->mu. */
static void wait_done(gen_ctx_t *x)
{
    bool canceled = false;
    while (!x->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&x->cv, &x->mu, &ts);
        if (!x->done && !canceled && atomic_load(&x->srv->stopping)) {
            canceled = true;
            hh_gen_cancel(x->g);
        }
    }
}

/* ---- stream ----------------------------------------------------------- */

static void record_turn(hh_http_server_t *s, const gen_ctx_t *x, const char *answer, int64_t approval_id);

static bool pend_add(gen_ctx_t *x, const char *s, size_t n)
{
    if (!grow((void **)&x->pend, &x->pend_cap, x->pend_len + n + 1, 1))
        return false;
    memcpy(x->pend + x->pend_len, s, n);
    x->pend_len += n;
    return true;
}

/* Appends "data: JSON\n\n" (takes j). */
static bool pend_event(gen_ctx_t *x, cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s)
        return false;
    bool ok = pend_add(x, "data: ", 6) && pend_add(x, s, strlen(s)) && pend_add(x, "\n\n", 2);
    cJSON_free(s);
    return ok;
}

/* One chunk: a chat delta or a completion text piece. */
static cJSON *chunk(gen_ctx_t *x, const char *text, size_t len, cJSON *delta_extra, cJSON *logprobs,
                    const char *finish)
{
    bool chat = x->req.kind == HH_OPENAI_CHAT;
    cJSON *j = envelope(x, chat ? "chat.completion.chunk" : "text_completion");
    cJSON *choices = cJSON_AddArrayToObject(j, "choices");
    cJSON *ch = cJSON_CreateObject();
    cJSON_AddNumberToObject(ch, "index", 0);
    char *t = text ? hh_strdup_n(text, len) : NULL;
    if (chat) {
        cJSON *d = delta_extra ? delta_extra : cJSON_CreateObject();
        if (t)
            cJSON_AddStringToObject(d, "content", t);
        cJSON_AddItemToObject(ch, "delta", d);
    } else {
        cJSON_AddStringToObject(ch, "text", t ? t : "");
        cJSON_Delete(delta_extra);
    }
    free(t);
    if (logprobs)
        cJSON_AddItemToObject(ch, "logprobs", logprobs);
    else
        cJSON_AddNullToObject(ch, "logprobs");
    if (finish)
        cJSON_AddStringToObject(ch, "finish_reason", finish);
    else
        cJSON_AddNullToObject(ch, "finish_reason");
    cJSON_AddItemToArray(choices, ch);
    if (x->req.include_usage)
        cJSON_AddNullToObject(j, "usage");
    return j;
}

/* Formats everything new since the last call into pend. Caller holds x->mu. */
static void stream_format(gen_ctx_t *x)
{
    bool chat = x->req.kind == HH_OPENAI_CHAT;
    if (chat && !x->sent_role) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "role", "assistant");
        cJSON_AddStringToObject(d, "content", "");
        cJSON_AddNullToObject(d, "refusal");
        pend_event(x, chunk(x, NULL, 0, d, NULL, NULL));
        x->sent_role = true;
    }
    if (!x->forced_tool) {
        if (x->req.logprobs) {
            for (; x->sent_lps < x->n_lps; x->sent_lps++) {
                const lp_entry_t *e = &x->lps[x->sent_lps];
                cJSON *lp = chat ? chat_logprobs(x, x->sent_lps, x->sent_lps + 1)
                                 : completion_logprobs(x, x->sent_lps, x->sent_lps + 1, 0);
                pend_event(x, chunk(x, x->text + e->off, e->len, NULL, lp, NULL));
                x->sent_text = e->off + e->len;
            }
        }
        if (x->sent_text < x->len) {
            pend_event(x, chunk(x, x->text + x->sent_text, x->len - x->sent_text, NULL, NULL, NULL));
            x->sent_text = x->len;
        }
    }
    if (!x->done || x->eof)
        return;
    if (x->failed || x->oom) {
        hh_api_error_t e;
        error_from_ctx(x, &e);
        char *ej = hh_api_error_json(&e);
        if (ej) {
            pend_add(x, "data: ", 6);
            pend_add(x, ej, strlen(ej));
            pend_add(x, "\n\n", 2);
            free(ej);
        }
    } else {
        if (x->forced_tool && x->n_calls == 0)
            (void)forced_call(x);   /* a call cut off by max_tokens or the context keeps "length" */
        cJSON *d = NULL;
        if (chat && x->n_calls) {
            d = cJSON_CreateObject();
            cJSON_AddItemToObject(d, "tool_calls", tool_calls_json(x, true));
        }
        cJSON *fin = chunk(x, NULL, 0, d, NULL, hh_openai_finish_name(x->finish));
        ht_mark_json(&x->mark, fin);   /* the final chunk carries the hoheit marker */
        pend_event(x, fin);
        if (x->req.include_usage) {
            cJSON *j = envelope(x, chat ? "chat.completion.chunk" : "text_completion");
            cJSON_AddArrayToObject(j, "choices");
            cJSON_AddItemToObject(j, "usage", usage_json(x));
            pend_event(x, j);
        }
    }
    pend_add(x, "data: [DONE]\n\n", 14);
    x->eof = true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    gen_ctx_t *x = cls;
    pthread_mutex_lock(&x->mu);
    bool canceled = false;
    while (x->pend_off == x->pend_len) {
        x->pend_off = x->pend_len = 0;
        if (x->eof) {
            pthread_mutex_unlock(&x->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        stream_format(x);
        if (x->pend_len)
            break;
        /* Thread per connection: blocking here only holds this client. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&x->cv, &x->mu, &ts);
        if (!canceled && !x->done && atomic_load(&x->srv->stopping)) {
            canceled = true;
            hh_gen_cancel(x->g);
        }
    }
    size_t n = x->pend_len - x->pend_off;
    if (n > max)
        n = max;
    memcpy(buf, x->pend + x->pend_off, n);
    x->pend_off += n;
    if (x->log) {   /* the connection is live while MHD reads: cs is valid */
        x->log->bytes_out += n;
        ht_log_tokens(x->log, x->prompt_tokens, x->completion_tokens);
    }
    bool ended = x->eof;
    int64_t pt = x->prompt_tokens, ct = x->completion_tokens;
    pthread_mutex_unlock(&x->mu);
    /* the last bytes are out of the engine: free the quota place before the
     * client sees [DONE], so its next request finds it free */
    if (ended)
        ht_quota_end(x->srv, &x->quota, pt, ct);
    if (ended && !x->conv_done) {   /* conversations.c: stored before the client sees [DONE] */
        x->conv_done = true;
        if (!x->failed && !x->oom)
            record_turn(x->srv, x, x->content, 0);
    }
    return (ssize_t)n;
}

/* ---- audit (govern/audit.h): one record per finished request, written on
 * the connection's thread (never the engine's). decision: "released",
 * "refused" (why = the reason), "failed", "canceled". The use case's policy
 * chooses full text or hashes only; without a policy, full text. */
static void audit_generation(hh_http_server_t *s, gen_ctx_t *x, const char *user, bool submitted,
                             const char *decision, const char *why)
{
    if (!s->store)
        return;
    const char *uc = x->mark.use_case[0] ? x->mark.use_case : NULL;
    hh_reg_policy_t pol;
    bool hash_only = uc && hh_register_policy_for(s->store, uc, &pol, NULL) == 0 && pol.audit_detail == HH_AUDIT_HASHES;
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(x->req.root, x->req.kind == HH_OPENAI_CHAT ? "messages" : "prompt");
    char *prompt = cJSON_IsString(pj) ? strdup(pj->valuestring) : pj ? cJSON_PrintUnformatted(pj) : NULL;
    const char *model = x->req.gen.model;
    char path[4096];
    bool have_path = submitted && model && !strchr(model, '/') && s->models_dir &&
                     snprintf(path, sizeof path, "%s/%s.gguf", s->models_dir, model) < (int)sizeof path;
    pthread_mutex_lock(&x->mu);
    char *out = x->content ? strdup(x->content) : hh_strdup_n(x->text ? x->text : "", x->len);
    pthread_mutex_unlock(&x->mu);
    hh_audit_entry_t e = { .kind = "request", .user = user, .use_case = uc, .model = model,
                           .model_path = have_path ? path : NULL, .prompt = prompt,
                           .output = strcmp(decision, "refused") ? out : NULL, .decision = decision,
                           .detail = why, .hash_only = hash_only,
                           .request_id = x->request_id[0] ? x->request_id : NULL };
    hh_err_t err;
    if (hh_audit_append(s->store, NULL, &e, NULL, &err) != 0)
        hh_log(HH_LOG_ERROR, "audit: request not recorded: %s", err.msg);
    free(prompt);
    free(out);
}
/* ---- end audit */

/* Records the question and the answer in the request's conversation (none:
 * nothing); a held answer by its approval id (conversations.c). */
static void record_turn(hh_http_server_t *s, const gen_ctx_t *x, const char *answer, int64_t approval_id)
{
    ht_conv_turn_t t = { .user_id = x->conv_user, .conv_id = x->conv_id, .question = ht_conv_question(&x->req),
                         .answer = answer, .approval_id = approval_id, .use_case = x->mark.use_case,
                         .model = x->req.gen.model };
    ht_conv_record(s, &t);
}

/* MHD is done with the response: finished, or the client went away. */
static void stream_free(void *cls)
{
    gen_ctx_t *x = cls;
    pthread_mutex_lock(&x->mu);
    bool running = !x->done;
    bool failed = x->failed || x->oom;
    pthread_mutex_unlock(&x->mu);
    audit_generation(x->srv, x, x->audit_user, true, running ? "canceled" : failed ? "failed" : "released",
                     NULL);   /* audit */
    if (!failed && x->conv_id && !x->conv_done) {   /* conversations.c: a stopped answer keeps what was sent */
        pthread_mutex_lock(&x->mu);
        char *text = running ? hh_strdup_n(x->text ? x->text : "", x->len) : NULL;
        pthread_mutex_unlock(&x->mu);
        record_turn(x->srv, x, running ? (text ? text : "") : x->content, 0);
        free(text);
    }
    if (running)
        hh_gen_cancel(x->g);   /* slot free within one decode step */
    if (x->quota.active) {
        /* charge the tokens processed before the cancel: DONE carries them
         * (wait a bounded time for it; a stuck engine must not hold MHD) */
        pthread_mutex_lock(&x->mu);
        double until = ht_now() + 10.0;
        while (!x->done && ht_now() < until) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&x->cv, &x->mu, &ts);
        }
        int64_t pt = x->prompt_tokens, ct = x->completion_tokens;
        pthread_mutex_unlock(&x->mu);
        ht_quota_end(x->srv, &x->quota, pt, ct);
    }
    hh_gen_release(x->g);
    x->g = NULL;
    ctx_unref(x);
}

/* ---- handler ---------------------------------------------------------- */

static enum MHD_Result handle_generate(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                       hh_openai_kind_t kind)
{
    hh_api_error_t e;
    gen_ctx_t *x = calloc(1, sizeof *x);
    if (!x) {
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
        return ht_send_error(c, cs, &e);
    }
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    x->refs = 1;
    x->srv = s;
    snprintf(x->request_id, sizeof x->request_id, "%s", cs->log.request_id);   /* audit */
    if (hh_openai_parse(kind, cs->body ? cs->body : "", cs->len, &x->req, &e) != 0 ||
        ht_conv_target_chat(s, cs, &x->req, &e) != 0) {   /* conversations.c: the caller's, or 404 */
        ctx_unref(x);
        return ht_send_error(c, cs, &e);
    }
    /* ---- governance (usecases.c): the use case this request runs under;
     * prohibited or model not listed -> 403; otherwise cs->mark makes every
     * 200 answer carry the ai_generated marker, and mark.held queues the
     * answer for a human approval instead (approvals.c: 202, never streamed). */
    if (ht_usecase_select(s, c, cs, &x->req, &e) != 0) {
        x->mark = cs->mark;   /* not on, but names the refused use case for the audit record */
        audit_generation(s, x, cs->key.user, false, "refused", e.message);   /* audit */
        ctx_unref(x);
        return ht_send_error(c, cs, &e);
    }
    /* The policy may redact personal data before the model sees it: from
     * here on the request (engine input, approval queue, audit record) holds
     * only the redacted text. */
    if (cs->mark.redact_prompts && ht_redact_request(s, &x->req, &cs->mark, &e) != 0) {
        audit_generation(s, x, cs->key.user, false, "refused", e.message);   /* audit */
        ctx_unref(x);
        return ht_send_error(c, cs, &e);
    }
    x->mark = cs->mark;
    /* ---- end governance */
    /* quotas (quota.c): refused before any work; from here on every path
     * ends the ticket (below, in the stream, or in on_completed) */
    if (ht_quota_begin(s, cs, cs->mark.use_case, &e) != 0) {
        audit_generation(s, x, cs->key.user, false, "refused", e.message);   /* audit */
        ctx_unref(x);
        return ht_send_error(c, cs, &e);
    }
    /* hoheit extension: grounded answer from the knowledge base (ask.c);
     * held there too when the use case requires approval */
    if (ht_is_grounded_chat(&x->req) && ht_hoheit_grounded(&x->req)) {
        enum MHD_Result r = ht_handle_grounded_chat(s, c, cs, &x->req);
        ht_quota_end(s, &cs->quota, 0, 0);   /* its early refusals ran nothing */
        ctx_unref(x);
        return r;
    }
    snprintf(x->audit_user, sizeof x->audit_user, "%s", cs->key.user);   /* audit */
    x->conv_id = cs->conv_id;   /* conversations.c */
    x->conv_user = cs->key.user_id;
    x->forced_tool = x->req.gen.tool_call_json;
    make_id(x->id, sizeof x->id, kind == HH_OPENAI_CHAT ? "chatcmpl-" : "cmpl-");
    x->created = (int64_t)time(NULL);
    x->req.gen.user = cs->key.user;
    /* prefix cache per user (issue 12, docs/SECURITY.md): whatever its key */
    x->req.gen.cache_scope = (uint64_t)cs->key.user_id;
    x->req.gen.cb = on_event;
    x->req.gen.cb_user = x;
    x->t_submit = ht_now();
    x->refs = 2;   /* this side + the engine's callback */
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_engine_submit(s->engine, &x->req.gen, &x->g, &err);
    if (rc) {
        x->refs = 1;
        ht_quota_end(s, &cs->quota, 0, 0);   /* before the answer: the client may come again at once */
        hh_openai_submit_error(rc, &err, x->req.gen.model, &e);
        audit_generation(s, x, cs->key.user, false, "refused", e.message);   /* audit */
        ctx_unref(x);
        return ht_send_error(c, cs, &e);
    }
    if (x->req.stream && !x->mark.held) {
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, x,
                                                                   stream_free);
        if (!r) {
            hh_gen_cancel(x->g);
            hh_gen_release(x->g);
            ctx_unref(x);
            return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        MHD_add_response_header(r, "X-Accel-Buffering", "no");
        ht_mark_headers(&x->mark, r);
        x->log = &cs->log;   /* stream_read counts bytes and tokens for the access log */
        ht_quota_move(&x->quota, &cs->quota);   /* ends with the stream (stream_read, stream_free) */
        /* MHD holds its own reference; stream_free runs when it lets go */
        return ht_queue(c, cs, 200, r, HT_BYTES_UNKNOWN);
    }
    pthread_mutex_lock(&x->mu);
    wait_done(x);
    pthread_mutex_unlock(&x->mu);
    hh_gen_release(x->g);
    x->g = NULL;
    ht_quota_end(s, &cs->quota, x->prompt_tokens, x->completion_tokens);
    enum MHD_Result ok;
    if (x->failed || x->oom) {
        error_from_ctx(x, &e);
        ok = ht_send_error(c, cs, &e);
    } else if (x->mark.held) {   /* Art. 14: queued, not released (approvals.c) */
        int64_t aid = 0;
        ok = ht_approval_hold(s, c, cs, &x->req, &x->mark, x->id, x->content ? x->content : "", &aid);
        if (aid)
            record_turn(s, x, NULL, aid);   /* conversations.c */
        char why[64];
        snprintf(why, sizeof why, "approval %lld", (long long)aid);
        audit_generation(s, x, cs->key.user, true, aid ? "pending" : "failed",
                         aid ? why : "could not be queued for approval");   /* audit */
        ctx_unref(x);
        return ok;
    } else {
        if (x->forced_tool && x->n_calls == 0)
            (void)forced_call(x);   /* a call cut off by max_tokens or the context keeps "length" */
        record_turn(s, x, x->content, 0);   /* conversations.c */
        ok = ht_send_json(c, cs, 200, full_response(x));
    }
    audit_generation(s, x, cs->key.user, true, x->failed || x->oom ? "failed" : "released", NULL);   /* audit */
    ctx_unref(x);
    return ok;
}

enum MHD_Result ht_handle_chat(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return handle_generate(s, c, cs, HH_OPENAI_CHAT);
}

enum MHD_Result ht_handle_completions(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return handle_generate(s, c, cs, HH_OPENAI_COMPLETION);
}
