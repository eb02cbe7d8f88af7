/* engine_sched.c - one scheduler thread per loaded model.
 *
 * Each iteration: drop canceled or timed-out waiting requests, admit
 * waiting requests into free slots (fair across users, prefix cache), then
 * run ONE hh_ctx_decode holding the next token of every decoding slot plus
 * up to n_prefill prompt tokens of prefilling slots in admission order
 * (continuous batching with chunked prefill: a burst of arrivals gets its
 * first tokens one chunk after another instead of all after the whole
 * burst's prefill), and sample, detokenize, check stop strings and emit
 * events for every slot that got logits. Sleeps on the model's condition
 * variable when it has nothing to do. */
#include "engine/engine_int.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* Scratch of one scheduling step (owned by the scheduler thread). */
typedef struct em_step {
    int32_t *tok;
    int32_t *seq;
    bool    *logits;
    int32_t  cap;
    char    *piece;      /* detokenizer output */
    size_t   piece_cap;
    float   *masked;     /* (n_vocab) logits under a grammar mask */
    em_slot_t **pf;      /* (n_slots) prefilling slots of a step, admission order */
    int32_t *draft;      /* (n_draft) a prompt-lookup draft */
} em_step_t;

/* Markers that open a tool call in a model's output; text from there on is
 * held back from streaming when the request has tools. */
static const char *const k_tool_markers[] = { "<tool_call>", "[TOOL_CALLS]", "<|python_tag|>" };

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* Longest k < len(pat) such that the last k bytes of s[0..n) equal the
 * first k bytes of pat (a stop string that may still be completing). */
static size_t partial_suffix(const char *s, size_t n, const char *pat)
{
    size_t pl = strlen(pat);
    for (size_t k = min_sz(pl - 1, n); k > 0; k--)
        if (memcmp(s + n - k, pat, k) == 0)
            return k;
    return 0;
}

static int text_append(em_slot_t *s, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (s->text_len + n + 1 > s->text_cap) {
        size_t cap = s->text_cap ? s->text_cap : 256;
        while (cap < s->text_len + n + 1)
            cap *= 2;
        char *t = realloc(s->text, cap);
        if (t == NULL)
            return HH_ENOMEM;
        s->text = t;
        s->text_cap = cap;
    }
    memcpy(s->text + s->text_len, p, n);
    s->text_len += n;
    s->text[s->text_len] = '\0';
    return 0;
}

static void emit_text(hh_gen_t *g, const char *text, size_t len, int32_t tok, const hh_logprobs_t *lp)
{
    hh_gen_event_t ev = { .kind = HH_GEN_TEXT, .text = text, .len = len, .token = tok, .logprobs = lp };
    g->cb(g->cb_user, &ev);
}

/* Frees the slot, then delivers the request's final event and drops the
 * engine's reference (scheduler thread). The slot is released first so
 * that a caller who sees DONE also sees the slot free (stats, unloading). */
static void slot_release(em_model_t *m, em_slot_t *s, const hh_gen_event_t *ev)
{
    hh_gen_t *g = s->g;
    hh_engine_t *e = m->engine;
    hh_sampler_free(s->smpl);
    s->smpl = NULL;
    hh_grammar_state_free(s->gstate);
    s->gstate = NULL;
    s->state = EM_SLOT_FREE;
    s->batch_i = -1;
    pthread_mutex_lock(&e->mu);
    s->g = NULL;
    m->n_active--;
    em_user_put(m, g->user);
    g->user = NULL;
    pthread_mutex_unlock(&e->mu);
    g->cb(g->cb_user, ev);
    atomic_store(&g->finished, true);
    em_gen_unref(g);
}

static void slot_error(em_model_t *m, em_slot_t *s, int code, const char *msg)
{
    hh_gen_event_t ev = { .kind = HH_GEN_ERROR, .error_code = code, .error_msg = msg };
    slot_release(m, s, &ev);
}

/* One tool call from a {"name": ..., "arguments": ...} object (the output
 * of a tool_call_json grammar); NULL if it does not have that shape. The
 * result is freed with hh_chat_tool_calls_free(calls, 1). */
static hh_tool_call_t *json_tool_call(const char *text)
{
    cJSON *root = cJSON_Parse(text);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(root, "arguments");
    hh_tool_call_t *call = NULL;
    if (cJSON_IsString(name) && args != NULL) {
        char *n = strdup(name->valuestring);
        char *a = cJSON_PrintUnformatted(args);
        call = calloc(1, sizeof *call);
        if (n == NULL || a == NULL || call == NULL) {
            free(n);
            free(call);
            call = NULL;
            if (a != NULL)
                cJSON_free(a);
        } else {
            /* hh_chat_tool_calls_free frees with free(): copy out of cJSON's allocator. */
            char *a2 = strdup(a);
            cJSON_free(a);
            if (a2 == NULL) {
                free(n);
                free(call);
                call = NULL;
            } else {
                call->name = n;
                call->arguments_json = a2;
            }
        }
    }
    cJSON_Delete(root);
    return call;
}

/* Sends the last text, the DONE event and frees the slot. stop_cut: the
 * text was already cut at a stop string. */
static void slot_finish(em_model_t *m, em_slot_t *s, em_step_t *st, hh_finish_t finish, bool stop_cut)
{
    hh_gen_t *g = s->g;
    if (!stop_cut) {
        int n = hh_detok_flush(&s->dt, st->piece, st->piece_cap);
        if (n > 0 && text_append(s, st->piece, (size_t)n) < 0) {
            slot_error(m, s, HH_ENOMEM, "out of memory for the generated text");
            return;
        }
    }
    hh_tool_call_t *calls = NULL;
    size_t n_calls = 0;
    char *rest = NULL;
    const char *content = s->text ? s->text : "";
    size_t content_len = s->text_len;
    if (g->tool_call_json && s->text_len > 0) {
        calls = json_tool_call(s->text);
        if (calls != NULL) {
            n_calls = 1;
            content = "";
            content_len = 0;
            if (finish == HH_FINISH_STOP)
                finish = HH_FINISH_TOOL_CALLS;
        }
    } else if (g->has_tools && s->text_len > 0) {
        hh_err_t perr;
        hh_err_clear(&perr);
        if (hh_chat_parse_tool_calls(g->fmt, s->text, s->text_len, &calls, &n_calls, &rest, &perr) < 0) {
            HH_LOGD("engine: tool call output not parsed: %s", perr.msg);
            calls = NULL;
            n_calls = 0;
            rest = NULL;
        }
        if (n_calls > 0) {
            content = rest ? rest : "";
            content_len = strlen(content);
            if (finish == HH_FINISH_STOP)
                finish = HH_FINISH_TOOL_CALLS;
        }
    }
    /* Held-back text goes out now, except tool-call markup that was parsed. */
    if (n_calls == 0 && s->n_emitted < s->text_len)
        emit_text(g, s->text + s->n_emitted, s->text_len - s->n_emitted, -1, NULL);
    s->n_emitted = s->text_len;

    double now = em_now();
    hh_gen_event_t ev = {
        .kind = HH_GEN_DONE, .finish = finish, .content = content, .content_len = content_len,
        .tool_calls = calls, .n_tool_calls = n_calls, .prompt_tokens = g->n_prompt,
        .completion_tokens = s->n_gen, .cached_tokens = s->n_cached,
        .queue_s = g->t_admit > 0 ? g->t_admit - g->t_submit : now - g->t_submit,
        .ttft_s = s->t_first > 0 ? s->t_first - g->t_submit : 0,
    };
    slot_release(m, s, &ev);
    hh_chat_tool_calls_free(calls, n_calls);
    free(rest);
}

/* Appends new text, cuts at a stop string, and streams what can no longer
 * become a stop string or tool markup. Returns true when a stop string
 * ended the generation. */
static bool slot_text(em_slot_t *s, const char *piece, size_t n, int32_t tok, const hh_logprobs_t *lp, int *rc)
{
    hh_gen_t *g = s->g;
    size_t prev = s->text_len;
    if ((*rc = text_append(s, piece, n)) < 0)
        return false;
    bool stopped = false;
    if (g->n_stop > 0) {
        size_t from = prev > g->max_stop_len ? prev - g->max_stop_len + 1 : 0;
        if (from < s->n_emitted)
            from = s->n_emitted;
        size_t cut = s->text_len;
        for (size_t i = 0; i < g->n_stop; i++) {
            if (from >= s->text_len)
                break;
            const char *hit = memmem(s->text + from, s->text_len - from, g->stop[i], strlen(g->stop[i]));
            if (hit != NULL && (size_t)(hit - s->text) < cut) {
                cut = (size_t)(hit - s->text);
                stopped = true;
            }
        }
        if (stopped) {
            s->text_len = cut;
            s->text[cut] = '\0';
        }
    }
    size_t limit = s->text_len;
    if (!stopped) {
        for (size_t i = 0; i < g->n_stop; i++) {
            size_t k = partial_suffix(s->text, s->text_len, g->stop[i]);
            if (s->text_len - k < limit)
                limit = s->text_len - k;
        }
    }
    if (g->has_tools) {
        for (size_t i = 0; i < sizeof k_tool_markers / sizeof k_tool_markers[0]; i++) {
            const char *hit = strstr(s->text, k_tool_markers[i]);
            size_t at = hit ? (size_t)(hit - s->text) : s->text_len - partial_suffix(s->text, s->text_len, k_tool_markers[i]);
            if (at < limit)
                limit = at;
        }
        if (g->fmt == HH_CHAT_LLAMA31) {
            /* Llama 3.1 calls are a bare JSON object at the start of the reply. */
            size_t i = 0;
            while (i < s->text_len && (s->text[i] == ' ' || s->text[i] == '\n' || s->text[i] == '\t'))
                i++;
            if (i == s->text_len || s->text[i] == '{')
                limit = min_sz(limit, 0);
        }
    }
    if (limit < s->n_emitted)
        limit = s->n_emitted;
    /* Never split a UTF-8 character. */
    while (limit > s->n_emitted && limit < s->text_len && ((unsigned char)s->text[limit] & 0xC0) == 0x80)
        limit--;
    if (limit > s->n_emitted || g->logprobs) {
        emit_text(g, s->text + s->n_emitted, limit - s->n_emitted, tok, lp);
        s->n_emitted = limit;
    }
    return stopped;
}

/* Sets up an admitted slot: prefix reuse, sampler, detokenizer. */
static int slot_start(em_model_t *m, em_slot_t *s, em_step_t *st)
{
    hh_gen_t *g = s->g;
    hh_ctx_seq_truncate(m->ctx, s->id, s->n_cached);
    /* A sliding-window cache (gemma3) may have to drop the whole sequence
     * instead (model.h, hh_ctx_seq_truncate): prefill from what it kept. */
    s->n_cached = hh_ctx_seq_len(m->ctx, s->id);
    s->n_cache = s->n_cached;
    s->n_fed = s->n_cached;
    s->n_gen = 0;
    s->text_len = 0;
    s->n_emitted = 0;
    s->t_first = 0;
    s->batch_i = -1;
    s->n_draft = 0;
    s->draft_max = m->engine->p.n_draft;
    s->state = EM_SLOT_PREFILL;
    int rc = hh_sampler_create(&s->smpl, &g->sampling);
    if (rc < 0)
        return rc;
    if (g->grammar != NULL && (rc = hh_grammar_state_create(g->grammar, m->gvocab, &s->gstate, NULL)) < 0)
        return rc;
    for (int32_t i = 0; i < g->n_prompt; i++)
        if ((rc = hh_sampler_accept(s->smpl, g->prompt[i])) < 0)
            return rc;
    /* Prime the detokenizer with the prompt so the output is exactly what
     * the continuation adds (SPM's leading space). */
    hh_detok_init(&s->dt, m->vocab, g->has_tools);
    for (int32_t i = 0; i < g->n_prompt; i++)
        (void)hh_detok_push(&s->dt, g->prompt[i], st->piece, st->piece_cap);
    atomic_fetch_add(&m->engine->prompt_tokens, (unsigned long long)g->n_prompt);
    return 0;
}

/* Handles the logits of a slot: sample, stop conditions, text. */
static void slot_sample(em_model_t *m, em_slot_t *s, em_step_t *st, const float *logits)
{
    hh_gen_t *g = s->g;
    hh_logprobs_t lp;
    int32_t tok = hh_sampler_sample(s->smpl, logits, m->n_vocab, g->logprobs ? &lp : NULL);
    if (tok >= 0 && s->gstate != NULL && !hh_grammar_token_allowed(s->gstate, tok)) {
        /* Cheap check failed: mask every token the grammar forbids and draw
         * again; logprobs stay those of the model's own distribution. */
        memcpy(st->masked, logits, (size_t)m->n_vocab * sizeof *logits);
        int na = hh_grammar_apply(s->gstate, st->masked, m->n_vocab);
        if (na < 0) {
            slot_error(m, s, na, "grammar mask failed");
            return;
        }
        tok = hh_sampler_sample(s->smpl, st->masked, m->n_vocab, NULL);
        if (tok >= 0 && g->logprobs && hh_sampler_logprobs(logits, m->n_vocab, tok, g->sampling.n_probs, &lp) < 0)
            tok = HH_EINVAL;
    }
    if (tok < 0) {
        slot_error(m, s, tok, "sampling failed (logits are all NaN or -inf)");
        return;
    }
    if (hh_sampler_accept(s->smpl, tok) < 0) {
        slot_error(m, s, HH_ENOMEM, "out of memory in the sampler");
        return;
    }
    if (s->gstate != NULL && hh_grammar_accept(s->gstate, tok) < 0) {
        slot_error(m, s, HH_ESTATE, "the grammar rejected the sampled token");
        return;
    }
    if (s->t_first == 0)
        s->t_first = em_now();
    if (hh_vocab_is_eog(m->vocab, tok)) {
        slot_finish(m, s, st, HH_FINISH_STOP, false);
        return;
    }
    s->n_gen++;
    atomic_fetch_add(&m->engine->generated_tokens, 1);
    int n = hh_detok_push(&s->dt, tok, st->piece, st->piece_cap);
    if (n < 0)
        n = 0;
    int rc = 0;
    bool stopped = slot_text(s, st->piece, (size_t)n, tok, g->logprobs ? &lp : NULL, &rc);
    if (rc < 0) {
        slot_error(m, s, rc, "out of memory for the generated text");
        return;
    }
    if (stopped) {
        slot_finish(m, s, st, HH_FINISH_STOP, true);
        return;
    }
    if (s->gstate != NULL && hh_grammar_finished(s->gstate)) {
        slot_finish(m, s, st, HH_FINISH_STOP, false);
        return;
    }
    if (s->n_gen >= g->max_tokens || s->n_cache >= m->n_ctx) {
        slot_finish(m, s, st, HH_FINISH_LENGTH, false);
        return;
    }
    s->next_tok = tok;
    s->state = EM_SLOT_DECODE;
}

/* [mu held] Picks the waiting request whose user was served longest ago
 * (FIFO among equals) and unlinks it. */
static hh_gen_t *queue_pick_fair(em_model_t *m)
{
    hh_gen_t *best = NULL, *best_prev = NULL, *prev = NULL;
    for (hh_gen_t *g = m->q_head; g != NULL; prev = g, g = g->next)
        if (best == NULL || g->user->last_admit < best->user->last_admit) {
            best = g;
            best_prev = prev;
        }
    if (best == NULL)
        return NULL;
    if (best_prev != NULL)
        best_prev->next = best->next;
    else
        m->q_head = best->next;
    if (m->q_tail == best)
        m->q_tail = best_prev;
    best->next = NULL;
    m->n_queued--;
    best->user->last_admit = ++m->admit_tick;
    return best;
}

/* [mu held] The slot for g: among the free slots last used with g's cache
 * scope, the one whose cached tokens share the longest (non-empty) prefix
 * with g's prompt (ties: the one with the least cached); when none shares
 * anything, the least recently used free slot (never used ones first).
 * Another scope's cached tokens are never compared: which slot a request
 * takes, and so what it evicts, must not depend on what others asked
 * (issue 12). *lcp_out: the shared prefix (0 for a slot of another scope). */
static em_slot_t *slot_pick(em_model_t *m, const hh_gen_t *g, int32_t *lcp_out)
{
    em_slot_t *best = NULL, *lru = NULL;
    int32_t best_lcp = 0;
    for (int32_t i = 0; i < m->engine->p.n_slots; i++) {
        em_slot_t *s = &m->slots[i];
        if (s->g != NULL)
            continue;
        if (lru == NULL || s->last_admit < lru->last_admit)
            lru = s;
        if (s->scope != g->cache_scope)
            continue;
        int32_t n = s->n_cache < g->n_prompt ? s->n_cache : g->n_prompt, l = 0;
        while (l < n && s->cache[l] == g->prompt[l])
            l++;
        if (l > best_lcp || (l > 0 && l == best_lcp && s->n_cache < best->n_cache)) {
            best = s;
            best_lcp = l;
        }
    }
    *lcp_out = best != NULL ? best_lcp : 0;
    return best != NULL ? best : lru;
}

/* [mu held] hh_engine_drop_caches: free slots forget their KV and cached
 * tokens now, busy ones when their request has ended (truncating a
 * sequence is cheap and runs no decode, so it may run under mu). */
static void drop_caches(em_model_t *m)
{
    hh_engine_t *e = m->engine;
    const bool asked = m->drop_done != m->drop_req;
    bool changed = false;
    for (int32_t i = 0; i < e->p.n_slots; i++) {
        em_slot_t *s = &m->slots[i];
        if (s->g != NULL) {
            s->drop_on_free = s->drop_on_free || asked;
            continue;
        }
        if (!asked && !s->drop_on_free)
            continue;
        hh_ctx_seq_truncate(m->ctx, s->id, 0);
        s->n_cache = 0;
        s->drop_on_free = false;
        changed = true;
    }
    if (changed) {
        long long kv = 0;
        for (int32_t i = 0; i < e->p.n_slots; i++)
            kv += hh_ctx_seq_len(m->ctx, i);
        atomic_store(&m->kv_used, kv);
    }
    if (asked) {
        m->drop_done = m->drop_req;
        pthread_cond_broadcast(&e->drop_cv);
    }
}

/* Delivers the final event of a request that never got a slot. */
static void finish_unstarted(em_model_t *m, hh_gen_t *g, const hh_gen_event_t *ev)
{
    pthread_mutex_lock(&m->engine->mu);
    em_user_put(m, g->user);
    g->user = NULL;
    pthread_mutex_unlock(&m->engine->mu);
    g->cb(g->cb_user, ev);
    atomic_store(&g->finished, true);
    em_gen_unref(g);
}

static void finish_unstarted_done(em_model_t *m, hh_gen_t *g, hh_finish_t finish)
{
    hh_gen_event_t ev = { .kind = HH_GEN_DONE, .finish = finish, .content = "", .prompt_tokens = g->n_prompt,
                          .queue_s = em_now() - g->t_submit };
    finish_unstarted(m, g, &ev);
}

/* Prompt lookup: the tokens that followed the latest earlier occurrence of
 * the sequence's last 3 (else 2) tokens, ending with the not yet decoded
 * next_tok, written to out (at most max); returns how many. The sequence is
 * the slot's cache (prompt and generated tokens) plus next_tok. */
static int32_t lookup_draft(const em_slot_t *s, int32_t *out, int32_t max)
{
    const int32_t n = s->n_cache + 1;   /* history length with next_tok */
    const int32_t *h = s->cache;
#define HIST(i) ((i) == n - 1 ? s->next_tok : h[(i)])
    for (int32_t ng = 3; ng >= 2; ng--) {
        if (n <= ng)
            continue;
        /* latest start i < n - ng with h[i..i+ng) == the last ng tokens */
        for (int32_t i = n - ng - 1; i >= 0; i--) {
            int32_t k = 0;
            while (k < ng && HIST(i + k) == HIST(n - ng + k))
                k++;
            if (k < ng)
                continue;
            int32_t c = 0;
            for (int32_t j = i + ng; j < n && c < max; j++)
                out[c++] = HIST(j);
            if (c > 0)
                return c;
        }
    }
#undef HIST
    return 0;
}

/* A decoding slot whose next_tok went into the step with a draft behind
 * it: samples from the logits after next_tok, then after each drafted
 * token while the draft matched what was sampled (each through
 * slot_sample, so stop strings, end of generation and max_tokens act per
 * token exactly as without a draft). The KV keeps next_tok and the
 * accepted draft tokens; the rest is truncated. */
static void verify_draft(em_model_t *m, em_slot_t *s, em_step_t *st)
{
    const int32_t base = s->n_cache - 1 - s->n_draft;   /* KV length before this step */
    int32_t j = 0;
    for (;; j++) {
        const int32_t bi = j == 0 ? s->batch_i : s->draft_i + j - 1;
        /* What the sequence holds up to this point, for slot_sample's context-end check. */
        s->n_cache = base + 1 + j;
        const float *logits = hh_ctx_logits(m->ctx, bi);
        if (logits == NULL) {
            slot_error(m, s, HH_ESTATE, "the model returned no logits");
            break;
        }
        slot_sample(m, s, st, logits);
        if (s->g == NULL || j == s->n_draft || s->next_tok != st->tok[s->draft_i + j])
            break;
    }
    /* Accepted: j draft tokens (the sampled token behind them is next_tok).
     * Drafts that miss cost batch rows: the next draft is at most one
     * longer than what was kept, and grows back while drafts are kept. */
    atomic_fetch_add(&m->engine->draft_accepted, (unsigned long long)j);
    if (j == s->n_draft)
        s->draft_max = s->draft_max * 2 < m->engine->p.n_draft ? s->draft_max * 2 : m->engine->p.n_draft;
    else
        s->draft_max = j + 1;
    s->n_cache = base + 1 + j;
    hh_ctx_seq_truncate(m->ctx, s->id, s->n_cache);
    s->n_draft = 0;
}

/* Builds and runs one decode step; returns false if there was nothing to do. */
static bool run_step(em_model_t *m, em_step_t *st)
{
    hh_engine_t *e = m->engine;
    const int32_t n_slots = e->p.n_slots;
    int32_t n = 0;
    for (int32_t i = 0; i < n_slots; i++) {
        em_slot_t *s = &m->slots[i];
        s->batch_i = -1;
        if (s->g == NULL || s->state != EM_SLOT_DECODE)
            continue;
        st->tok[n] = s->next_tok;
        st->seq[n] = s->id;
        st->logits[n] = true;
        s->batch_i = n++;
        s->n_draft = 0;
    }
    /* Prompt tokens, at most n_prefill per step, in admission order (FIFO
     * within the fair admission): the oldest prefilling slot takes up to
     * three quarters of the budget, each next one up to what is left, so a
     * short prompt behind a long one finishes its prefill in a step or two
     * while the long one still advances every step; a second pass gives
     * what is still unused to the oldest again. */
    const int32_t budget0 = e->p.n_prefill;
    int32_t budget = budget0;
    int32_t n_pf = 0;
    for (int32_t i = 0; i < n_slots; i++) {
        em_slot_t *s = &m->slots[i];
        if (s->g == NULL || s->state != EM_SLOT_PREFILL)
            continue;
        int32_t j = n_pf++;   /* insertion sort by admission tick */
        while (j > 0 && st->pf[j - 1]->last_admit > s->last_admit) {
            st->pf[j] = st->pf[j - 1];
            j--;
        }
        st->pf[j] = s;
        s->pf_take = 0;
    }
    for (int pass = 0; pass < 2 && budget > 0; pass++) {
        for (int32_t i = 0; i < n_pf && budget > 0; i++) {
            em_slot_t *s = st->pf[i];
            int32_t left = s->g->n_prompt - s->n_fed - s->pf_take;
            int32_t cap = budget;
            if (pass == 0 && i + 1 < n_pf && cap > budget0 - budget0 / 4)
                cap = budget0 - budget0 / 4 > 0 ? budget0 - budget0 / 4 : 1;
            int32_t k = left < cap ? left : cap;
            s->pf_take += k;
            budget -= k;
        }
    }
    for (int32_t i = 0; i < n_pf; i++) {
        em_slot_t *s = st->pf[i];
        int32_t k = s->pf_take;
        if (k == 0)
            continue;
        for (int32_t j = 0; j < k; j++) {
            st->tok[n] = s->g->prompt[s->n_fed + j];
            st->seq[n] = s->id;
            st->logits[n] = false;
            n++;
        }
        if (s->n_fed + k == s->g->n_prompt) {
            st->logits[n - 1] = true;
            s->batch_i = n - 1;
        }
    }
    /* Prompt-lookup drafts in what the batch has left (n_batch + n_slots). */
    bool any_draft = false;
    for (int32_t i = 0; i < n_slots; i++) {
        em_slot_t *s = &m->slots[i];
        if (s->g == NULL || s->state != EM_SLOT_DECODE || !s->g->lookup)
            continue;
        int32_t max = s->draft_max;
        int32_t room = st->cap - n;
        if (max > room)
            max = room;
        if (max > m->n_ctx - s->n_cache - 1)   /* the sequence's KV must hold next_tok + the draft */
            max = m->n_ctx - s->n_cache - 1;
        if (max > s->g->max_tokens - s->n_gen - 1)   /* never decode past what may be generated */
            max = s->g->max_tokens - s->n_gen - 1;
        if (max <= 0)
            continue;
        int32_t k = lookup_draft(s, st->draft, max);
        if (k <= 0)
            continue;
        /* Behind next_tok (a sequence's tokens keep their order in a batch;
         * other sequences' tokens may sit between). */
        s->draft_i = n;
        for (int32_t j = 0; j < k; j++) {
            st->tok[n + j] = st->draft[j];
            st->seq[n + j] = s->id;
            st->logits[n + j] = true;
        }
        s->n_draft = k;
        any_draft = true;
        n += k;
        atomic_fetch_add(&e->draft_tokens, (unsigned long long)k);
    }
    if (n == 0)
        return false;

    hh_batch_t b = { .n_tokens = n, .tokens = st->tok, .seq = st->seq, .logits = st->logits };
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_ctx_decode(m->ctx, &b, &err);
    if (rc < 0) {
        HH_LOGE("engine: decode failed on model %s: %s", m->id, err.msg);
        for (int32_t i = 0; i < n_slots; i++) {
            em_slot_t *s = &m->slots[i];
            if (s->g == NULL || s->state == EM_SLOT_FREE)
                continue;
            /* The cache is unchanged on failure, but drop it: the error may repeat. */
            hh_ctx_seq_truncate(m->ctx, s->id, 0);
            s->n_cache = 0;
            slot_error(m, s, rc, err.msg[0] ? err.msg : hh_strerror(rc));
        }
        return true;
    }
    /* Record what entered each sequence's KV. */
    for (int32_t t = 0; t < n; t++) {
        em_slot_t *s = &m->slots[st->seq[t]];
        s->cache[s->n_cache++] = st->tok[t];
        if (s->state == EM_SLOT_PREFILL)
            s->n_fed++;
    }
    long long kv = 0;
    for (int32_t i = 0; i < n_slots; i++)
        kv += hh_ctx_seq_len(m->ctx, i);
    atomic_store(&m->kv_used, kv);

    for (int32_t i = 0; i < n_slots; i++) {
        em_slot_t *s = &m->slots[i];
        if (s->g == NULL || s->batch_i < 0)
            continue;
        if (s->state == EM_SLOT_DECODE && s->n_draft > 0) {
            verify_draft(m, s, st);
            continue;
        }
        const float *logits = hh_ctx_logits(m->ctx, s->batch_i);
        if (logits == NULL) {
            slot_error(m, s, HH_ESTATE, "the model returned no logits");
            continue;
        }
        slot_sample(m, s, st, logits);
    }
    if (any_draft) {   /* rejected drafts left the KV */
        kv = 0;
        for (int32_t i = 0; i < n_slots; i++)
            kv += hh_ctx_seq_len(m->ctx, i);
        atomic_store(&m->kv_used, kv);
    }
    return true;
}

/* Finishes every request the model holds (shutdown, or code != 0: an
 * ERROR for every waiting request when the scheduler cannot run). */
static void drain_all(em_model_t *m, em_step_t *st, int code)
{
    for (int32_t i = 0; i < m->engine->p.n_slots; i++)
        if (m->slots[i].g != NULL && m->slots[i].state != EM_SLOT_FREE)
            slot_finish(m, &m->slots[i], st, HH_FINISH_CANCELED, false);
    for (;;) {
        pthread_mutex_lock(&m->engine->mu);
        hh_gen_t *g = m->q_head;
        if (g != NULL) {
            m->q_head = g->next;
            if (m->q_head == NULL)
                m->q_tail = NULL;
            m->n_queued--;
            g->next = NULL;
        }
        pthread_mutex_unlock(&m->engine->mu);
        if (g == NULL)
            break;
        if (code == 0) {
            finish_unstarted_done(m, g, HH_FINISH_CANCELED);
        } else {
            hh_gen_event_t ev = { .kind = HH_GEN_ERROR, .error_code = code,
                                  .error_msg = "the model's scheduler could not start (out of memory)" };
            finish_unstarted(m, g, &ev);
        }
    }
}

void *em_sched_main(void *arg)
{
    em_model_t *m = arg;
    hh_engine_t *e = m->engine;
    const int32_t n_slots = e->p.n_slots;
    em_step_t st = { 0 };
    st.cap = e->p.n_batch + n_slots;
    st.tok = malloc((size_t)st.cap * sizeof *st.tok);
    st.seq = malloc((size_t)st.cap * sizeof *st.seq);
    st.logits = malloc((size_t)st.cap * sizeof *st.logits);
    st.piece_cap = 3 * ((size_t)hh_vocab_max_token_len(m->vocab) + 3) + 64;
    st.piece = malloc(st.piece_cap);
    st.masked = malloc((size_t)m->n_vocab * sizeof *st.masked);
    em_slot_t **admitted = malloc((size_t)n_slots * sizeof *admitted);
    st.pf = malloc((size_t)n_slots * sizeof *st.pf);
    st.draft = malloc((size_t)(e->p.n_draft > 0 ? e->p.n_draft : 1) * sizeof *st.draft);
    hh_gen_t *expired_head = NULL;
    bool oom = !st.tok || !st.seq || !st.logits || !st.piece || !st.masked || !st.pf || !st.draft || !admitted;

    for (;;) {
        int32_t n_admitted = 0;
        expired_head = NULL;
        pthread_mutex_lock(&e->mu);
        if (m->stop) {
            pthread_mutex_unlock(&e->mu);
            break;
        }
        drop_caches(m);
        if (oom) {
            /* Cannot schedule: refuse what waits, sleep until stopped. */
            if (m->q_head == NULL)
                pthread_cond_wait(&m->cv, &e->mu);
            pthread_mutex_unlock(&e->mu);
            drain_all(m, &st, HH_ENOMEM);
            continue;
        }
        double now = em_now();
        /* Waiting requests that were canceled or ran out of time. */
        for (hh_gen_t **pp = &m->q_head, *prev = NULL; *pp != NULL;) {
            hh_gen_t *g = *pp;
            if (atomic_load(&g->cancel) || (g->deadline > 0 && now >= g->deadline)) {
                *pp = g->next;
                if (m->q_tail == g)
                    m->q_tail = prev;
                m->n_queued--;
                g->next = expired_head;
                expired_head = g;
            } else {
                prev = g;
                pp = &g->next;
            }
        }
        /* Admit into free slots. */
        while (m->n_active < n_slots && m->q_head != NULL) {
            hh_gen_t *g = queue_pick_fair(m);
            int32_t lcp;
            em_slot_t *s = slot_pick(m, g, &lcp);
            s->g = g;
            s->n_cached = lcp < g->n_prompt - 1 ? lcp : g->n_prompt - 1;
            /* From here on the slot's KV is this scope's (slot_start drops
             * everything past n_cached, all of it for another scope). */
            s->scope = g->cache_scope;
            s->last_admit = m->admit_tick;
            g->t_admit = now;
            m->n_active++;
            admitted[n_admitted++] = s;
        }
        if (m->n_active == 0 && expired_head == NULL) {
            pthread_cond_wait(&m->cv, &e->mu);
            pthread_mutex_unlock(&e->mu);
            continue;
        }
        pthread_mutex_unlock(&e->mu);

        while (expired_head != NULL) {
            hh_gen_t *g = expired_head;
            expired_head = g->next;
            g->next = NULL;
            finish_unstarted_done(m, g, atomic_load(&g->cancel) ? HH_FINISH_CANCELED : HH_FINISH_TIMEOUT);
        }
        for (int32_t i = 0; i < n_admitted; i++) {
            int rc = slot_start(m, admitted[i], &st);
            if (rc < 0)
                slot_error(m, admitted[i], rc, "cannot start the request (out of memory)");
        }
        /* Canceled or timed-out running requests leave before the step. */
        now = em_now();
        for (int32_t i = 0; i < n_slots; i++) {
            em_slot_t *s = &m->slots[i];
            if (s->g == NULL || s->state == EM_SLOT_FREE)
                continue;
            if (atomic_load(&s->g->cancel))
                slot_finish(m, s, &st, HH_FINISH_CANCELED, false);
            else if (s->g->deadline > 0 && now >= s->g->deadline)
                slot_finish(m, s, &st, HH_FINISH_TIMEOUT, false);
        }
        run_step(m, &st);
    }
    drain_all(m, &st, oom ? HH_ENOMEM : 0);
    free(st.tok);
    free(st.seq);
    free(st.logits);
    free(st.piece);
    free(st.masked);
    free(st.pf);
    free(st.draft);
    free(admitted);
    return NULL;
}
