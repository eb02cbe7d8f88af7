/* ask.c - grounded answers over HTTP: POST /api/ask, and the
 * "hoheit": {"collections": [...]} extension of /v1/chat/completions.
 *
 * Both retrieve the passages the authenticated user may read (kb/retrieve:
 * the access filter is inside the search; hybrid BM25 + dense when the
 * server has an embedding model and its vector index, else BM25), answer
 * through kb/answer (the engine with a model, extractive without one; the
 * embedding model also scores citation support), and list the numbered
 * sources, the checked citations and the confidence.
 *
 *   POST /api/ask {question, collections?, model?, k?, use_case?,
 *                  retrieval?: "hybrid" (default; BM25 alone without an
 *                  embedding model) | "bm25" | "dense" (400 without one)}
 *     -> {answer, abstained, unsure, extractive, confidence,
 *         scores: {token_prob, retrieval, support},
 *         sources: [{n, document_id, title, heading_path, page, chunk_id, quote,
 *                    score, bm25_rank, dense_rank, dense}],
 *         citations: [{n, valid, supported, support}]}
 *     (202 with the pending approval id instead when the use case requires
 *     approval; the held answer keeps its sources, see approvals.c)
 */
#include "http/http_int.h"
#include "kb/answer.h"
#include "kb/msg.h"
#include "kb/retrieve.h"
#include "base/log.h"          /* audit hook */
#include "govern/audit.h"      /* audit hook */
#include "govern/register.h"   /* audit hook: the use case's audit detail */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define ASK_MAX_QUESTION    8192
#define ASK_MAX_COLLECTIONS 32
#define ASK_DEFAULT_K       5
#define ASK_MAX_K           20
#define ASK_MAX_TOKENS      32768   /* an answer's token limit; the model's context caps it further */
#define ASK_QUOTE_CHARS     1000

typedef struct ask_in {
    const char *question;
    const char *collections[ASK_MAX_COLLECTIONS];
    size_t      n_collections;
    const char *model;      /* NULL: extractive */
    int32_t     k;
    int32_t     max_tokens; /* 0: default */
    hh_kb_mode_t mode;      /* /api/ask "retrieval": hybrid (default), bm25, dense */
    hh_lang_t   lang;       /* of the answer's fixed texts: the question's, else Accept-Language, else English */
    bool        no_lookup;  /* "prompt_lookup": false: plain greedy decoding (default: prompt lookup) */
} ask_in_t;

typedef struct ask_out {
    hh_kb_hit_t   *hits;
    size_t         n_hits;
    size_t         n_listed;   /* the sources listed: those given to the model (ans.n_used) */
    hh_kb_answer_t ans;
} ask_out_t;

static void ask_out_free(ask_out_t *o)
{
    hh_kb_hits_free(o->hits, o->n_hits);
    hh_kb_answer_clear(&o->ans);
    memset(o, 0, sizeof *o);
}

/* ---- audit (govern/audit.h): one record per finished question (answered,
 * abstained or refused), with the retrieved chunk ids and the confidence;
 * the use case's policy chooses full text or hashes only. */
static void audit_ask(hh_http_server_t *s, const ht_conn_t *cs, const ask_in_t *in, const ask_out_t *o, int st,
                      const hh_api_error_t *e, int64_t pending_id)
{
    char why[64];
    snprintf(why, sizeof why, "approval %lld", (long long)pending_id);
    if (!s->store)
        return;
    const char *uc = cs->mark.use_case[0] ? cs->mark.use_case : NULL;   /* also a refused one */
    hh_reg_policy_t pol;
    bool hash_only = uc && hh_register_policy_for(s->store, uc, &pol, NULL) == 0 && pol.audit_detail == HH_AUDIT_HASHES;
    size_t n = st == 200 ? o->n_listed : 0;
    int64_t *ids = n ? calloc(n, sizeof *ids) : NULL;
    for (size_t i = 0; ids && i < n; i++)
        ids[i] = o->hits[i].chunk_id;
    char path[4096];
    bool have_path = st == 200 && in->model && !strchr(in->model, '/') && s->models_dir &&
                     snprintf(path, sizeof path, "%s/%s.gguf", s->models_dir, in->model) < (int)sizeof path;
    hh_audit_entry_t ae = { .kind = "request", .user = cs->key.user, .use_case = uc, .model = in->model,
                            .model_path = have_path ? path : NULL, .prompt = in->question,
                            .output = st == 200 ? o->ans.text : NULL, .chunk_ids = ids, .n_chunks = ids ? n : 0,
                            .has_confidence = st == 200, .confidence = st == 200 ? o->ans.confidence : 0,
                            .decision = st != 200      ? "refused"
                                        : pending_id   ? "pending"
                                        : o->ans.abstained ? "abstained"
                                                           : "released",
                            .detail = st != 200 ? e->message : pending_id ? why : NULL, .hash_only = hash_only,
                            .request_id = cs->log.request_id[0] ? cs->log.request_id : NULL };
    hh_err_t err;
    if (hh_audit_append(s->store, NULL, &ae, NULL, &err) != 0)
        hh_log(HH_LOG_ERROR, "audit: question not recorded: %s", err.msg);
    free(ids);
}
/* ---- end audit */

/* Reads "collections": an array of strings. Returns 0 or 400 with e. */
static int parse_collections(const cJSON *arr, ask_in_t *in, const char *param, hh_api_error_t *e)
{
    if (!arr || cJSON_IsNull(arr))
        return 0;
    if (!cJSON_IsArray(arr))
        return hh_api_error_set(e, 400, "invalid_request_error", NULL, param, "collections must be an array of names");
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (!cJSON_IsString(it) || !it->valuestring[0])
            return hh_api_error_set(e, 400, "invalid_request_error", NULL, param,
                                    "collections must hold non-empty strings");
        if (in->n_collections == ASK_MAX_COLLECTIONS)
            return hh_api_error_set(e, 400, "invalid_request_error", NULL, param, "at most %d collections",
                                    ASK_MAX_COLLECTIONS);
        in->collections[in->n_collections++] = it->valuestring;
    }
    return 0;
}

/* Retrieval + answer for the key's user. Returns 200 or an HTTP status with
 * e filled. */
static int ask_run(hh_http_server_t *s, const hh_store_key_t *key, const ask_in_t *in, ask_out_t *out,
                   hh_api_error_t *e)
{
    const char *user = key->user;
    memset(out, 0, sizeof *out);
    hh_kb_query_t q;
    memset(&q, 0, sizeof q);
    q.analyzer = s->analyzer;
    q.user = user;
    q.collections = in->n_collections ? in->collections : NULL;
    q.n_collections = in->n_collections;
    q.text = in->question;
    q.k = in->k;
    hh_err_t err;
    hh_err_clear(&err);
    hh_kb_embedder_t qe;
    hh_vindex_t *ix = hh_kb_dense_query(s->kb, &qe);   /* NULL: BM25 only */
    if (in->mode == HH_KB_DENSE_ONLY && !ix)
        return hh_api_error_set(e, 400, "invalid_request_error", "no_embedding_model", "retrieval",
                                "dense retrieval needs an embedding model (hoheit serve --embed-model)");
    int rc = hh_kb_retrieve_mode(s->store, ix, ix ? &qe : NULL, &q, in->mode, &out->hits, &out->n_hits, &err);
    if (rc == HH_ENOENT) {
        /* the name retrieval named, in the user's language (the same text for missing and unreadable) */
        for (size_t i = 0; in->lang == HH_LANG_DE && i < in->n_collections; i++) {
            char quoted[300];
            snprintf(quoted, sizeof quoted, "'%.280s'", in->collections[i]);
            if (strstr(err.msg, quoted))
                return hh_api_error_set(e, 404, "invalid_request_error", "collection_not_found", "collections",
                                        hh_kb_msg(HH_MSG_COLLECTION_GONE, in->lang), in->collections[i]);
        }
        return hh_api_error_set(e, 404, "invalid_request_error", "collection_not_found", "collections", "%s",
                                err.msg);
    }
    if (rc)
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "retrieval failed: %s", err.msg);
    hh_kb_answer_params_t ap = hh_kb_answer_default_params();
    if (in->max_tokens > 0)
        ap.max_tokens = in->max_tokens;
    ap.lang = in->lang;
    ap.analyzer = s->analyzer;   /* the extractive answer matches sentences as retrieval matched chunks */
    ap.prompt_lookup = !in->no_lookup;
    /* The grounding prompt holds passages this user may read and their
     * question: its KV is reused only by the same user (issue 12). */
    ap.cache_scope = (uint64_t)key->user_id;
    rc = hh_kb_answer(s->engine, in->model, user, in->question, out->hits, out->n_hits, ix ? &qe : NULL, &ap,
                      &out->ans, &err);
    if (rc) {
        int st = hh_openai_submit_error(rc, &err, in->model ? in->model : "", e);
        /* the texts a user reads, in German for a German question (code and type unchanged) */
        if (in->lang == HH_LANG_DE && st == 429)
            snprintf(e->message, sizeof e->message, "%s", hh_kb_msg(HH_MSG_BUSY, in->lang));
        else if (in->lang == HH_LANG_DE && rc == HH_ERANGE)
            snprintf(e->message, sizeof e->message, "%s (%.400s)",
                     hh_kb_msg(HH_MSG_QUESTION_TOO_LONG_FOR_MODEL, in->lang), err.msg);
        ask_out_free(out);
        return st;
    }
    /* sources [1]..[n_used] went into the prompt; the rest did not fit the
     * model's context and are not listed (citation numbers stay those of the prompt) */
    out->n_listed = out->ans.n_used < out->n_hits ? out->ans.n_used : out->n_hits;
    return 200;
}

static cJSON *sources_json(const ask_out_t *o)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < o->n_listed; i++) {
        const hh_kb_hit_t *h = &o->hits[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "n", (double)(i + 1));
        cJSON_AddNumberToObject(j, "document_id", (double)h->document_id);
        cJSON_AddStringToObject(j, "title", h->title ? h->title : "");
        cJSON_AddStringToObject(j, "heading_path", h->heading_path ? h->heading_path : "");
        if (h->page > 0)
            cJSON_AddNumberToObject(j, "page", h->page);
        else
            cJSON_AddNullToObject(j, "page");
        cJSON_AddNumberToObject(j, "chunk_id", (double)h->chunk_id);
        const char *t = h->text ? h->text : "";
        size_t tl = strlen(t), cut = tl;
        if (cut > ASK_QUOTE_CHARS) {
            cut = ASK_QUOTE_CHARS;
            while (cut > 0 && ((unsigned char)t[cut] & 0xC0) == 0x80)
                cut--;
        }
        char *quote = strndup(t, cut);
        cJSON_AddStringToObject(j, "quote", quote ? quote : "");
        free(quote);
        cJSON_AddNumberToObject(j, "score", h->score);
        if (h->bm25_rank > 0)
            cJSON_AddNumberToObject(j, "bm25_rank", h->bm25_rank);
        else
            cJSON_AddNullToObject(j, "bm25_rank");
        if (h->dense_rank > 0) {
            cJSON_AddNumberToObject(j, "dense_rank", h->dense_rank);
            cJSON_AddNumberToObject(j, "dense", h->dense);
        } else {
            cJSON_AddNullToObject(j, "dense_rank");
            cJSON_AddNullToObject(j, "dense");
        }
        cJSON_AddItemToArray(arr, j);
    }
    return arr;
}

static cJSON *citations_json(const hh_kb_answer_t *a)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < a->n_cites; i++) {
        const hh_kb_citation_t *c = &a->cites[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "n", c->n);
        cJSON_AddBoolToObject(j, "valid", c->valid);
        cJSON_AddBoolToObject(j, "supported", c->supported);
        cJSON_AddNumberToObject(j, "support", c->support);
        cJSON_AddItemToArray(arr, j);
    }
    return arr;
}

/* The fields /api/ask and the chat extension share. */
static void add_grounding(cJSON *j, const ask_out_t *o)
{
    const hh_kb_answer_t *a = &o->ans;
    cJSON_AddBoolToObject(j, "abstained", a->abstained);
    cJSON_AddBoolToObject(j, "unsure", a->unsure);
    cJSON_AddBoolToObject(j, "extractive", a->extractive);
    cJSON_AddStringToObject(j, "lang", hh_lang_code(a->lang != HH_LANG_UNKNOWN ? a->lang : HH_LANG_EN));
    cJSON_AddNumberToObject(j, "confidence", a->confidence);
    cJSON *sc = cJSON_AddObjectToObject(j, "scores");
    if (a->token_prob >= 0)
        cJSON_AddNumberToObject(sc, "token_prob", a->token_prob);
    else
        cJSON_AddNullToObject(sc, "token_prob");
    cJSON_AddNumberToObject(sc, "retrieval", a->retrieval);
    if (a->support >= 0)
        cJSON_AddNumberToObject(sc, "support", a->support);
    else
        cJSON_AddNullToObject(sc, "support");
    cJSON_AddItemToObject(j, "sources", sources_json(o));
    cJSON_AddItemToObject(j, "citations", citations_json(a));
}

static void make_chat_id(char *buf, size_t cap, const char *prefix)
{
    unsigned char r[12];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        memset(r, 0x5a, sizeof r);
    size_t n = (size_t)snprintf(buf, cap, "%s", prefix);
    for (size_t i = 0; i < sizeof r && n + 2 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%02x", r[i]);
}

/* The collections asked for (an empty list: every readable one). */
static cJSON *collections_json(const ask_in_t *in)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < in->n_collections; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(in->collections[i]));
    return arr;
}

/* conversations.c: the question and the answer with its sources go into
 * the caller's conversation named by the request (none: nothing); a held
 * answer by its approval id only. */
static void conv_note(hh_http_server_t *s, const ht_conn_t *cs, const ask_in_t *in, const ask_out_t *o, int64_t aid)
{
    if (!cs->conv_id)
        return;
    cJSON *g = cJSON_CreateObject(), *coll = collections_json(in);
    if (g)
        add_grounding(g, o);
    ht_conv_turn_t t = { .user_id = cs->key.user_id, .conv_id = cs->conv_id, .question = in->question,
                         .answer = o->ans.text, .grounding = g, .approval_id = aid, .use_case = cs->mark.use_case,
                         .model = in->model ? in->model : "", .collections = coll };
    ht_conv_record(s, &t);
    cJSON_Delete(g);
    cJSON_Delete(coll);
}

/* ---- POST /api/ask ------------------------------------------------------ */

/* Art. 14: a grounded answer queued for approval with its sources instead
 * of released. rq (taken) describes the request; the collections are added
 * here. Answers the 202 (or the error), audits, and frees o. */
static enum MHD_Result hold_grounded(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, cJSON *rq,
                                     const ask_in_t *in, ask_out_t *o, int st, hh_api_error_t *e, const char *id)
{
    cJSON_AddItemToObject(rq, "collections", collections_json(in));
    cJSON *g = cJSON_CreateObject();
    add_grounding(g, o);
    int64_t aid = 0;
    const char *text = o->ans.text ? o->ans.text : "";
    enum MHD_Result r = ht_approval_hold_grounded(s, c, cs, rq, g, &cs->mark, id, text, &aid);
    if (!aid)
        hh_api_error_set(e, 500, "server_error", NULL, NULL, "could not be queued for approval");
    else
        conv_note(s, cs, in, o, aid);   /* conversations.c */
    audit_ask(s, cs, in, o, aid ? st : 500, e, aid);   /* audit */
    ask_out_free(o);
    return r;
}

/* The grounded answer of the JSON object root (the /api/ask body) for the
 * caller. 200 and *out (the /api/ask answer, usage included); or an HTTP
 * status with e filled; or 0 when the answer was held for approval and the
 * 202 is queued already (*held gets MHD's result; only with can_hold set: the
 * MCP tool refuses a use case that requires approval before any work). */
static int ask_core(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const cJSON *root, bool can_hold,
                    cJSON **out, enum MHD_Result *held, hh_api_error_t *e)
{
    *out = NULL;
    ask_in_t in;
    memset(&in, 0, sizeof in);
    in.k = ASK_DEFAULT_K;
    const cJSON *qj = cJSON_GetObjectItemCaseSensitive(root, "question");
    const cJSON *mj = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *kj = cJSON_GetObjectItemCaseSensitive(root, "k");
    const cJSON *rj = cJSON_GetObjectItemCaseSensitive(root, "retrieval");
    int st = 0;
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Language");
    hh_lang_t ulang = hh_kb_lang_from_accept(accept);   /* for errors before there is a question */
    if (!cJSON_IsString(qj) || !qj->valuestring[0])
        st = hh_api_error_set(e, 400, "invalid_request_error", NULL, "question", "%s",
                              hh_kb_msg(HH_MSG_QUESTION_EMPTY, ulang));
    else if (strlen(qj->valuestring) > ASK_MAX_QUESTION)
        st = hh_api_error_set(e, 400, "invalid_request_error", NULL, "question",
                              hh_kb_msg(HH_MSG_QUESTION_LONG, ulang), ASK_MAX_QUESTION);
    else if (mj && !cJSON_IsNull(mj) && !cJSON_IsString(mj))
        st = hh_api_error_set(e, 400, "invalid_request_error", NULL, "model", "model must be a string");
    else if (kj && !cJSON_IsNull(kj) &&
             (!cJSON_IsNumber(kj) || kj->valuedouble != (double)(int)kj->valuedouble || kj->valueint < 1 ||
              kj->valueint > ASK_MAX_K))
        st = hh_api_error_set(e, 400, "invalid_request_error", NULL, "k", "k must be an integer 1..%d", ASK_MAX_K);
    else
        st = parse_collections(cJSON_GetObjectItemCaseSensitive(root, "collections"), &in, "collections", e);
    if (!st && cJSON_IsString(rj) && !strcmp(rj->valuestring, "bm25"))
        in.mode = HH_KB_BM25_ONLY;
    else if (!st && cJSON_IsString(rj) && !strcmp(rj->valuestring, "dense"))
        in.mode = HH_KB_DENSE_ONLY;
    else if (!st && rj && !cJSON_IsNull(rj) && !(cJSON_IsString(rj) && !strcmp(rj->valuestring, "hybrid")))
        st = hh_api_error_set(e, 400, "invalid_request_error", NULL, "retrieval",
                              "retrieval must be \"hybrid\", \"bm25\" or \"dense\"");
    const cJSON *mtj = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
    if (!st && mtj && !cJSON_IsNull(mtj) &&
        (!cJSON_IsNumber(mtj) || !(mtj->valuedouble >= 1 && mtj->valuedouble <= ASK_MAX_TOKENS) ||
         mtj->valuedouble != (double)(int)mtj->valuedouble))   /* range first: no cast of a huge double */
        st = hh_api_error_set(e, 400, "invalid_request_error", NULL, "max_tokens",
                              "max_tokens must be an integer 1..%d", ASK_MAX_TOKENS);
    if (!st && cJSON_IsNumber(mtj))
        in.max_tokens = mtj->valueint;
    const cJSON *plj = cJSON_GetObjectItemCaseSensitive(root, "prompt_lookup");
    if (!st && plj && !cJSON_IsNull(plj) && !cJSON_IsBool(plj))
        st = hh_api_error_set(e, 400, "invalid_request_error", NULL, "prompt_lookup", "prompt_lookup must be a boolean");
    in.no_lookup = cJSON_IsFalse(plj);
    if (!st)
        st = ht_conv_target_ask(s, cs, root, qj->valuestring, e);   /* conversations.c: the caller's, or 404 */
    if (st)
        return st;
    in.question = qj->valuestring;
    in.lang = hh_kb_answer_lang(in.question, accept);
    in.model = cJSON_IsString(mj) && mj->valuestring[0] ? mj->valuestring : NULL;
    if (cJSON_IsNumber(kj))
        in.k = kj->valueint;
    ask_out_t o;
    memset(&o, 0, sizeof o);
    /* governance (usecases.c): the use case, its departments and policy */
    char *redacted = NULL;
    st = ht_usecase_select_ask(s, c, cs, root, in.model, e);
    if (!st && cs->mark.held && !can_hold)
        st = hh_api_error_set(e, 403, "permission_error", "approval_required", "use_case",
                              "use case '%s' requires a human approval: ask through POST /api/ask",
                              cs->mark.use_case);
    if (!st && cs->mark.redact_prompts && !(st = ht_redact_text(s, in.question, &redacted, &cs->mark, e)))
        in.question = redacted;   /* retrieval and the model see only the redacted question */
    if (!st)
        st = ht_quota_begin(s, cs, cs->mark.use_case, e);   /* quota.c: before any work */
    if (!st) {
        st = ask_run(s, &cs->key, &in, &o, e);
        ht_quota_end(s, &cs->quota, o.ans.prompt_tokens, o.ans.completion_tokens);
    }
    if (st == 200 && cs->mark.held) {   /* Art. 14: queued with its sources, not released */
        char id[48];
        make_chat_id(id, sizeof id, "ask-");
        cJSON *rq = cJSON_CreateObject();
        cJSON_AddStringToObject(rq, "model", in.model ? in.model : "");
        cJSON_AddStringToObject(rq, "question", in.question);
        *held = hold_grounded(s, c, cs, rq, &in, &o, st, e, id);
        free(redacted);
        return 0;
    }
    audit_ask(s, cs, &in, &o, st, e, 0);   /* audit */
    if (st == 200)
        conv_note(s, cs, &in, &o, 0);   /* conversations.c */
    free(redacted);
    if (st != 200)
        return st;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "answer", o.ans.text ? o.ans.text : "");
    add_grounding(j, &o);
    cJSON *usage = cJSON_AddObjectToObject(j, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", o.ans.prompt_tokens);
    cJSON_AddNumberToObject(usage, "completion_tokens", o.ans.completion_tokens);
    cJSON_AddNumberToObject(usage, "total_tokens", o.ans.prompt_tokens + o.ans.completion_tokens);
    ht_log_tokens(&cs->log, o.ans.prompt_tokens, o.ans.completion_tokens);   /* access log */
    ask_out_free(&o);
    *out = j;
    return 200;
}

enum MHD_Result ht_handle_ask(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    hh_api_error_t e;
    cJSON *root = cJSON_ParseWithLength(cs->body ? cs->body : "", cs->len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        hh_api_error_set(&e, 400, "invalid_request_error", NULL, NULL, "The body must be a JSON object");
        return ht_send_error(c, cs, &e);
    }
    cJSON *j = NULL;
    enum MHD_Result held = MHD_NO;
    int st = ask_core(s, c, cs, root, true, &j, &held, &e);
    cJSON_Delete(root);
    if (st == 0)
        return held;
    if (st != 200)
        return ht_send_error(c, cs, &e);
    return ht_send_json(c, cs, 200, j);
}

int ht_ask_tool(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const cJSON *args, cJSON **out,
                hh_api_error_t *e)
{
    enum MHD_Result held = MHD_NO;
    int st = ask_core(s, c, cs, args, false, out, &held, e);
    if (st == 200)
        ht_mark_json(&cs->mark, *out);   /* ai_generated marking, as ht_send_json adds it */
    return st == 0 ? hh_api_error_set(e, 500, "server_error", NULL, NULL, "held unexpectedly") : st;
}

/* ---- /v1/chat/completions with "hoheit": {"collections": [...]} -------- */

bool ht_is_grounded_chat(const hh_openai_req_t *req)
{
    return req->kind == HH_OPENAI_CHAT && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(req->root, "hoheit"));
}

enum MHD_Result ht_handle_grounded_chat(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                        const hh_openai_req_t *req)
{
    hh_api_error_t e;
    ask_in_t in;
    memset(&in, 0, sizeof in);
    in.k = ASK_DEFAULT_K;
    in.model = req->gen.model;
    in.max_tokens = req->gen.max_tokens;
    in.no_lookup = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(req->root, "prompt_lookup"));   /* a bool: openai.c */
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(req->root, "hoheit");
    const cJSON *kj = cJSON_GetObjectItemCaseSensitive(h, "k");
    if (kj && (!cJSON_IsNumber(kj) || kj->valueint < 1 || kj->valueint > ASK_MAX_K)) {
        hh_api_error_set(&e, 400, "invalid_request_error", NULL, "hoheit.k", "k must be an integer 1..%d", ASK_MAX_K);
        return ht_send_error(c, cs, &e);
    }
    if (kj)
        in.k = kj->valueint;
    if (parse_collections(cJSON_GetObjectItemCaseSensitive(h, "collections"), &in, "hoheit.collections", &e))
        return ht_send_error(c, cs, &e);
    for (size_t i = req->gen.n_messages; i-- > 0;)
        if (req->gen.messages[i].role == HH_ROLE_USER) {
            in.question = req->gen.messages[i].content;
            break;
        }
    if (!in.question || !in.question[0]) {
        hh_api_error_set(&e, 400, "invalid_request_error", NULL, "messages",
                         "grounded chat needs a user message with text");
        return ht_send_error(c, cs, &e);
    }
    in.lang = hh_kb_answer_lang(in.question, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Language"));
    ask_out_t o;
    int st = ask_run(s, &cs->key, &in, &o, &e);   /* the quota ticket was taken by completions.c */
    ht_quota_end(s, &cs->quota, o.ans.prompt_tokens, o.ans.completion_tokens);
    char id[48];
    make_chat_id(id, sizeof id, "chatcmpl-");
    if (st == 200 && cs->mark.held) {   /* Art. 14: queued with its sources, not released (not streamed) */
        cJSON *rq = cJSON_CreateObject();
        cJSON_AddStringToObject(rq, "model", req->gen.model ? req->gen.model : "");
        const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req->root, "messages");
        cJSON_AddItemToObject(rq, "messages", msgs ? cJSON_Duplicate(msgs, true) : cJSON_CreateArray());
        return hold_grounded(s, c, cs, rq, &in, &o, st, &e, id);
    }
    audit_ask(s, cs, &in, &o, st, &e, 0);   /* audit */
    if (st != 200)
        return ht_send_error(c, cs, &e);

    double created = (double)time(NULL);
    char *text = strdup(o.ans.text ? o.ans.text : "");   /* o is freed below */
    if (!text) {
        ask_out_free(&o);
        return MHD_NO;
    }
    cJSON *hj = cJSON_CreateObject();
    add_grounding(hj, &o);
    cJSON *usage = cJSON_CreateObject();
    cJSON_AddNumberToObject(usage, "prompt_tokens", o.ans.prompt_tokens);
    cJSON_AddNumberToObject(usage, "completion_tokens", o.ans.completion_tokens);
    cJSON_AddNumberToObject(usage, "total_tokens", o.ans.prompt_tokens + o.ans.completion_tokens);
    ht_log_tokens(&cs->log, o.ans.prompt_tokens, o.ans.completion_tokens);   /* access log */
    conv_note(s, cs, &in, &o, 0);   /* conversations.c */
    ask_out_free(&o);

    if (!req->stream) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "id", id);
        cJSON_AddStringToObject(j, "object", "chat.completion");
        cJSON_AddNumberToObject(j, "created", created);
        cJSON_AddStringToObject(j, "model", req->gen.model);
        cJSON_AddStringToObject(j, "system_fingerprint", "hoheit");
        cJSON *ch = cJSON_CreateObject();
        cJSON_AddNumberToObject(ch, "index", 0);
        cJSON *msg = cJSON_AddObjectToObject(ch, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON_AddStringToObject(msg, "content", text);
        cJSON_AddNullToObject(msg, "refusal");
        cJSON_AddNullToObject(ch, "logprobs");
        cJSON_AddStringToObject(ch, "finish_reason", "stop");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(j, "choices"), ch);
        cJSON_AddItemToObject(j, "usage", usage);
        cJSON_AddItemToObject(j, "hoheit", hj);
        free(text);
        return ht_send_json(c, cs, 200, j);
    }
    /* Stream: the answer is checked as a whole before it is sent, so it
     * goes out as one content chunk, then the finish chunk (with the
     * hoheit object) and [DONE]. */
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f) {
        free(text);
        cJSON_Delete(hj);
        cJSON_Delete(usage);
        return MHD_NO;
    }
    for (int part = 0; part < 2; part++) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "id", id);
        cJSON_AddStringToObject(j, "object", "chat.completion.chunk");
        cJSON_AddNumberToObject(j, "created", created);
        cJSON_AddStringToObject(j, "model", req->gen.model);
        cJSON_AddStringToObject(j, "system_fingerprint", "hoheit");
        cJSON *ch = cJSON_CreateObject();
        cJSON_AddNumberToObject(ch, "index", 0);
        cJSON *d = cJSON_AddObjectToObject(ch, "delta");
        if (part == 0) {
            cJSON_AddStringToObject(d, "role", "assistant");
            cJSON_AddStringToObject(d, "content", text);
            cJSON_AddNullToObject(ch, "finish_reason");
        } else {
            cJSON_AddStringToObject(ch, "finish_reason", "stop");
        }
        cJSON_AddNullToObject(ch, "logprobs");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(j, "choices"), ch);
        if (part == 1) {
            cJSON_AddItemToObject(j, "hoheit", hj);
            ht_mark_json(&cs->mark, j);   /* ai_generated marker (usecases.c) */
            if (req->include_usage)
                cJSON_AddItemToObject(j, "usage", usage);
            else
                cJSON_Delete(usage);
            hj = usage = NULL;
        }
        char *js = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (js)
            fprintf(f, "data: %s\n\n", js);
        cJSON_free(js);
    }
    free(text);
    fputs("data: [DONE]\n\n", f);
    if (fclose(f) != 0 || !body) {
        free(body);
        return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    ht_mark_headers(&cs->mark, r);
    return ht_queue(c, cs, 200, r, len);
}
