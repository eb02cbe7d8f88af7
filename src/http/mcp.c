/* mcp.c - hoheit as a Model Context Protocol server (issue 16): POST /mcp
 * takes one JSON-RPC 2.0 message (streamable HTTP transport, answered as
 * application/json; no SSE), DELETE /mcp ends a session; GET /mcp answers
 * 405 (no server-initiated stream; the route table has no GET /mcp).
 *
 * Methods: initialize (protocol version negotiation: 2025-06-18,
 * 2025-03-26, 2024-11-05; any other asked version gets 2025-06-18),
 * notifications/initialized (and any notification or client response:
 * 202 without a body), ping, tools/list, tools/call. Tools:
 *   knowledge_search {"query"}: the agent tool (agent/tools.h), the 5 best
 *     passages of every collection the CALLER may read;
 *   ask {"question", "collections"?, "model"?, "k"?, "use_case"?,
 *     "retrieval"?}: /api/ask's grounded answer (answer, sources,
 *     confidence), under the use case's governance (ask.c).
 * Both run with the rights of the key that sends the request, every
 * time; the session only remembers the negotiated version.
 *
 * Sessions: initialize answers Mcp-Session-Id (32 random hex); every later
 * request must send it (none: 400, -32000) and it must be a live session
 * of the same user (else 404, -32001: another user's session answers
 * exactly like a missing one). An MCP-Protocol-Version header other than
 * the session's answers 400. Sessions are in memory (lost at restart: the
 * client initializes again on the 404), at most MCP_SESSIONS_PER_USER per
 * user (the user's least recently used one goes) and MCP_SESSIONS in all
 * (the least recently used one goes), idle for MCP_IDLE_S at most.
 *
 * JSON-RPC errors: -32700 parse error (400), -32600 invalid request (400;
 * batches too), -32601 unknown method, -32602 invalid params (unknown
 * tool, arguments outside the tool's schema); a tool's own failure (no
 * such collection, a quota, a model error) is a result with isError true.
 *
 * Audit: ask writes /api/ask's "request" record; knowledge_search a
 * "request" record with the query's SHA-256, the chunk ids returned and
 * the detail "mcp knowledge_search: N passages". */
#include "http/http_int.h"
#include "agent/tools.h"
#include "base/log.h"
#include "govern/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define MCP_SESSIONS          1024
#define MCP_SESSIONS_PER_USER 16
#define MCP_IDLE_S            (24 * 3600)
#define MCP_ID_LEN            32
#define MCP_LATEST            "2025-06-18"

static const char *const g_versions[] = { "2025-06-18", "2025-03-26", "2024-11-05" };
#define N_VERSIONS (sizeof g_versions / sizeof g_versions[0])

typedef struct mcp_session {
    char    id[MCP_ID_LEN + 1];   /* "" free */
    int64_t user_id;
    char    version[16];
    double  last;                 /* ht_now() of its last request */
} mcp_session_t;

struct ht_mcp {
    pthread_mutex_t mu;
    mcp_session_t   s[MCP_SESSIONS];
};

int ht_mcp_init(hh_http_server_t *s, hh_err_t *err)
{
    s->mcp = calloc(1, sizeof *s->mcp);
    if (!s->mcp)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    pthread_mutex_init(&s->mcp->mu, NULL);
    return 0;
}

void ht_mcp_fini(hh_http_server_t *s)
{
    if (!s->mcp)
        return;
    pthread_mutex_destroy(&s->mcp->mu);
    free(s->mcp);
    s->mcp = NULL;
}

static const char *version_supported(const char *v)
{
    for (size_t i = 0; v && i < N_VERSIONS; i++)
        if (!strcmp(v, g_versions[i]))
            return g_versions[i];
    return NULL;
}

/* A new session for user_id with version; id gets its id. 0 or HH_EIO (no randomness). */
static int session_new(ht_mcp_t *m, int64_t user_id, const char *version, char id[MCP_ID_LEN + 1])
{
    unsigned char r[MCP_ID_LEN / 2];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return HH_EIO;
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(id + 2 * i, 3, "%02x", r[i]);
    double now = ht_now();
    pthread_mutex_lock(&m->mu);
    int free_i = -1, lru = 0, own_lru = -1, own = 0;
    for (int i = 0; i < MCP_SESSIONS; i++) {
        mcp_session_t *x = &m->s[i];
        if (x->id[0] && now - x->last > MCP_IDLE_S)
            x->id[0] = '\0';
        if (!x->id[0]) {
            if (free_i < 0)
                free_i = i;
            continue;
        }
        if (x->last < m->s[lru].last || !m->s[lru].id[0])
            lru = i;
        if (x->user_id == user_id) {
            own++;
            if (own_lru < 0 || x->last < m->s[own_lru].last)
                own_lru = i;
        }
    }
    int at = own >= MCP_SESSIONS_PER_USER ? own_lru : free_i >= 0 ? free_i : lru;
    mcp_session_t *x = &m->s[at];
    snprintf(x->id, sizeof x->id, "%s", id);
    x->user_id = user_id;
    snprintf(x->version, sizeof x->version, "%s", version);
    x->last = now;
    pthread_mutex_unlock(&m->mu);
    return 0;
}

/* a == b for two MCP_ID_LEN-character ids, in time independent of where they differ */
static bool id_equal(const char *a, const char *b)
{
    unsigned char d = 0;
    for (size_t i = 0; i < MCP_ID_LEN; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* Finds the live session id of user_id: true and its version (touched);
 * drop: ends it. Another user's session is not found. */
static bool session_use(ht_mcp_t *m, const char *id, int64_t user_id, bool drop, char version[16])
{
    if (!id || strlen(id) != MCP_ID_LEN)
        return false;
    double now = ht_now();
    bool found = false;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < MCP_SESSIONS && !found; i++) {
        mcp_session_t *x = &m->s[i];
        if (!x->id[0] || !id_equal(x->id, id))
            continue;
        if (now - x->last > MCP_IDLE_S) {
            x->id[0] = '\0';
            break;
        }
        if (x->user_id != user_id)
            break;
        found = true;
        snprintf(version, 16, "%s", x->version);
        x->last = now;
        if (drop)
            x->id[0] = '\0';
    }
    pthread_mutex_unlock(&m->mu);
    return found;
}

/* ---- JSON-RPC answers ---------------------------------------------------- */

static enum MHD_Result send_rpc(struct MHD_Connection *c, ht_conn_t *cs, int status, cJSON *j, const char *session)
{
    char *txt = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!txt)
        return MHD_NO;
    size_t len = strlen(txt);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, txt, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(txt);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (status == 200)
        ht_mark_headers(&cs->mark, r);   /* X-AI-Generated after an ask (usecases.c) */
    if (session)
        MHD_add_response_header(r, "Mcp-Session-Id", session);
    return ht_queue(c, cs, status, r, len);
}

static cJSON *rpc_id_dup(const cJSON *id)
{
    return id ? cJSON_Duplicate(id, true) : cJSON_CreateNull();
}

static enum MHD_Result send_rpc_error(struct MHD_Connection *c, ht_conn_t *cs, int status, const cJSON *id,
                                      int code, const char *msg)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "jsonrpc", "2.0");
    cJSON_AddItemToObject(j, "id", rpc_id_dup(id));
    cJSON *e = cJSON_AddObjectToObject(j, "error");
    cJSON_AddNumberToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", msg);
    return send_rpc(c, cs, status, j, NULL);
}

static enum MHD_Result send_rpc_result(struct MHD_Connection *c, ht_conn_t *cs, const cJSON *id, cJSON *result,
                                       const char *session)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "jsonrpc", "2.0");
    cJSON_AddItemToObject(j, "id", rpc_id_dup(id));
    cJSON_AddItemToObject(j, "result", result ? result : cJSON_CreateObject());
    return send_rpc(c, cs, 200, j, session);
}

static enum MHD_Result send_accepted(struct MHD_Connection *c, ht_conn_t *cs)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    return ht_queue(c, cs, 202, r, 0);
}

/* ---- tools ------------------------------------------------------------- */

#define ASK_SCHEMA                                                                                        \
    "{\"type\":\"object\",\"properties\":{"                                                               \
    "\"question\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096,"                               \
    "\"description\":\"The question, in the language the answer should have\"},"                          \
    "\"collections\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"                                \
    "\"description\":\"Collections to search (default: every one you may read)\"},"                       \
    "\"model\":{\"type\":\"string\",\"description\":\"Model that writes the answer (default: extractive)\"}," \
    "\"k\":{\"type\":\"integer\",\"description\":\"Passages to retrieve, 1..20 (default 5)\"},"                                          \
    "\"use_case\":{\"type\":\"string\"},"                                                                 \
    "\"retrieval\":{\"type\":\"string\",\"enum\":[\"hybrid\",\"bm25\",\"dense\"]}},"                      \
    "\"required\":[\"question\"],\"additionalProperties\":false}"

static cJSON *tool_json(const char *name, const char *title, const char *desc, const char *schema)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "name", name);
    cJSON_AddStringToObject(t, "title", title);
    cJSON_AddStringToObject(t, "description", desc);
    cJSON_AddItemToObject(t, "inputSchema", cJSON_Parse(schema));
    cJSON *ann = cJSON_AddObjectToObject(t, "annotations");
    cJSON_AddBoolToObject(ann, "readOnlyHint", true);
    cJSON_AddBoolToObject(ann, "openWorldHint", false);
    return t;
}

static cJSON *tools_list(void)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(r, "tools");
    cJSON_AddItemToArray(arr, tool_json("knowledge_search", "Search the knowledge base",
                                        "The 5 best passages for a query from every collection of hoheit's knowledge "
                                        "base that you may read, with document and chunk ids.",
                                        hh_agent_tool_schema("knowledge_search")));
    cJSON_AddItemToArray(arr, tool_json("ask", "Grounded answer",
                                        "A grounded answer from hoheit's knowledge base (the collections you may "
                                        "read): the answer text with numbered citations, its sources and a "
                                        "confidence 0..1; it abstains when the sources do not answer the question.",
                                        ASK_SCHEMA));
    return r;
}

/* A tools/call result: text (taken or copied) as one text item, structured
 * (taken, may be NULL) as structuredContent. */
static cJSON *tool_result(const char *text, cJSON *structured, bool is_error)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *content = cJSON_AddArrayToObject(r, "content");
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "type", "text");
    cJSON_AddStringToObject(item, "text", text ? text : "");
    cJSON_AddItemToArray(content, item);
    if (structured)
        cJSON_AddItemToObject(r, "structuredContent", structured);
    cJSON_AddBoolToObject(r, "isError", is_error);
    return r;
}

static void audit_search(hh_http_server_t *s, const ht_conn_t *cs, const char *query, const cJSON *res,
                         const char *error)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(res, "results");
    int n = cJSON_GetArraySize(arr);
    int64_t ids[32];
    size_t n_ids = 0;
    for (int i = 0; i < n && n_ids < sizeof ids / sizeof ids[0]; i++) {
        const cJSON *cid = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, i), "chunk_id");
        if (cJSON_IsNumber(cid))
            ids[n_ids++] = (int64_t)cid->valuedouble;
    }
    char detail[300];
    snprintf(detail, sizeof detail, "mcp knowledge_search: %zu passages%s%.200s", n_ids, error ? "; error: " : "",
             error ? error : "");
    hh_audit_entry_t ae = { .kind = "request", .user = cs->key.user, .prompt = query, .chunk_ids = ids,
                            .n_chunks = n_ids, .decision = error ? "refused" : "released", .detail = detail,
                            .hash_only = true,
                            .request_id = cs->log.request_id[0] ? cs->log.request_id : NULL };
    hh_err_t err;
    if (hh_audit_append(s->store, NULL, &ae, NULL, &err) != 0) {
        atomic_fetch_add(&s->audit_failures, 1);
        hh_log(HH_LOG_ERROR, "audit: mcp knowledge_search not recorded: %s", err.msg);
    }
}

/* tools/call. Returns 0 and *result, or -32602 with msg (unknown tool,
 * arguments that do not fit the schema). */
static int tool_call(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const cJSON *params,
                     cJSON **result, char *msg, size_t cap)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
    if (!cJSON_IsString(name)) {
        snprintf(msg, cap, "Invalid params: tools/call needs a tool name");
        return -32602;
    }
    if (args && !cJSON_IsObject(args)) {
        snprintf(msg, cap, "Invalid params: arguments must be an object");
        return -32602;
    }
    bool search = !strcmp(name->valuestring, "knowledge_search");
    if (!search && strcmp(name->valuestring, "ask") != 0) {
        snprintf(msg, cap, "Invalid params: unknown tool '%.100s'", name->valuestring);
        return -32602;
    }
    cJSON *empty = args ? NULL : cJSON_CreateObject();
    const cJSON *a = args ? args : empty;
    char *args_txt = cJSON_PrintUnformatted(a);
    hh_err_t err;
    hh_err_clear(&err);
    int rc = args_txt ? hh_agent_args_valid(search ? hh_agent_tool_schema("knowledge_search") : ASK_SCHEMA, args_txt,
                                            &err)
                      : HH_ENOMEM;
    cJSON_Delete(empty);
    if (rc) {
        free(args_txt);
        snprintf(msg, cap, "Invalid params: arguments of %s: %.300s", name->valuestring,
                 rc == HH_ENOMEM ? "out of memory" : err.msg);
        return -32602;
    }
    if (search) {
        hh_agent_env_t env = { .store = s->store, .analyzer = s->analyzer, .kb = s->kb, .user = cs->key.user };
        char *out = NULL;
        rc = hh_agent_tool_run(&env, "knowledge_search", args_txt, &out, &err);
        free(args_txt);
        const char *query = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, "query"));
        if (rc) {
            audit_search(s, cs, query, NULL, err.msg);
            *result = tool_result(err.msg, NULL, true);
            return 0;
        }
        cJSON *st = cJSON_Parse(out);
        audit_search(s, cs, query, st, NULL);
        *result = tool_result(out, st, false);
        free(out);
        return 0;
    }
    free(args_txt);
    hh_api_error_t e;
    cJSON *ans = NULL;
    int st = ht_ask_tool(s, c, cs, a, &ans, &e);
    if (st != 200) {
        *result = tool_result(e.message, NULL, true);
        return 0;
    }
    char *txt = cJSON_PrintUnformatted(ans);
    *result = tool_result(txt, ans, false);
    cJSON_free(txt);
    return 0;
}

/* ---- the route ----------------------------------------------------------- */

static enum MHD_Result handle_delete(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs)
{
    const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Mcp-Session-Id");
    char version[16];
    if (!sid)
        return send_rpc_error(c, cs, 400, NULL, -32000, "Bad Request: Mcp-Session-Id header is required");
    if (!session_use(s->mcp, sid, cs->key.user_id, true, version))
        return send_rpc_error(c, cs, 404, NULL, -32001, "Session not found");
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    return ht_queue(c, cs, 200, r, 0);
}

static enum MHD_Result handle_initialize(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                         const cJSON *id, const cJSON *params)
{
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(params, "protocolVersion");
    if (!cJSON_IsObject(params) || !cJSON_IsString(pv))
        return send_rpc_error(c, cs, 200, id, -32602, "Invalid params: initialize needs protocolVersion");
    const char *v = version_supported(pv->valuestring);
    if (!v)
        v = MCP_LATEST;   /* the client decides whether it speaks ours */
    char sid[MCP_ID_LEN + 1];
    if (session_new(s->mcp, cs->key.user_id, v, sid) != 0)
        return send_rpc_error(c, cs, 500, id, -32603, "Internal error: no session id");
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "protocolVersion", v);
    cJSON *caps = cJSON_AddObjectToObject(r, "capabilities");
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "tools"), "listChanged", false);
    cJSON *info = cJSON_AddObjectToObject(r, "serverInfo");
    cJSON_AddStringToObject(info, "name", "hoheit");
    cJSON_AddStringToObject(info, "version", "1.0.0");
    cJSON_AddStringToObject(r, "instructions",
                            "hoheit's knowledge base with your own rights: knowledge_search for passages, ask for a "
                            "grounded answer with sources and confidence.");
    return send_rpc_result(c, cs, id, r, sid);
}

enum MHD_Result ht_handle_mcp(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    if (!strcmp(cs->method, "DELETE"))
        return handle_delete(s, c, cs);
    cJSON *root = cJSON_ParseWithLength(cs->body ? cs->body : "", cs->len);
    if (!root)
        return send_rpc_error(c, cs, 400, NULL, -32700, "Parse error: the body is not JSON");
    enum MHD_Result ret;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(root, "method");
    const cJSON *jv = cJSON_GetObjectItemCaseSensitive(root, "jsonrpc");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
    bool is_response = cJSON_IsObject(root) && !method &&
                       (cJSON_GetObjectItemCaseSensitive(root, "result") ||
                        cJSON_GetObjectItemCaseSensitive(root, "error"));
    if (cJSON_IsArray(root)) {
        ret = send_rpc_error(c, cs, 400, NULL, -32600, "Invalid Request: batches are not supported");
        goto done;
    }
    if (!cJSON_IsObject(root) || !cJSON_IsString(jv) || strcmp(jv->valuestring, "2.0") != 0 ||
        (!is_response && !cJSON_IsString(method)) || (id && !cJSON_IsString(id) && !cJSON_IsNumber(id)) ||
        (params && !cJSON_IsObject(params) && !cJSON_IsArray(params))) {
        ret = send_rpc_error(c, cs, 400, cJSON_IsString(id) || cJSON_IsNumber(id) ? id : NULL, -32600,
                             "Invalid Request: not a JSON-RPC 2.0 message");
        goto done;
    }
    if (!is_response && id && !strcmp(method->valuestring, "initialize")) {
        ret = handle_initialize(s, c, cs, id, params);
        goto done;
    }
    /* every other message belongs to a session of this user */
    const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Mcp-Session-Id");
    char version[16];
    if (!sid) {
        ret = send_rpc_error(c, cs, 400, NULL, -32000, "Bad Request: Mcp-Session-Id header is required");
        goto done;
    }
    if (!session_use(s->mcp, sid, cs->key.user_id, false, version)) {
        ret = send_rpc_error(c, cs, 404, NULL, -32001, "Session not found");
        goto done;
    }
    const char *hv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "MCP-Protocol-Version");
    if (hv && strcmp(hv, version) != 0) {
        char m[160];
        snprintf(m, sizeof m, "Bad Request: unsupported protocol version '%.40s' (this session speaks %s)", hv,
                 version);
        ret = send_rpc_error(c, cs, 400, NULL, -32000, m);
        goto done;
    }
    if (is_response || !id) {   /* notifications/initialized and the like, a client's answer */
        ret = send_accepted(c, cs);
        goto done;
    }
    const char *m = method->valuestring;
    if (!strcmp(m, "ping")) {
        ret = send_rpc_result(c, cs, id, cJSON_CreateObject(), NULL);
    } else if (!strcmp(m, "tools/list")) {
        ret = send_rpc_result(c, cs, id, tools_list(), NULL);
    } else if (!strcmp(m, "tools/call")) {
        cJSON *result = NULL;
        char msg[512];
        int code = cJSON_IsObject(params) ? tool_call(s, c, cs, params, &result, msg, sizeof msg) : -32602;
        if (code == -32602 && !cJSON_IsObject(params))
            snprintf(msg, sizeof msg, "Invalid params: tools/call needs params {name, arguments}");
        ret = code ? send_rpc_error(c, cs, 200, id, code, msg) : send_rpc_result(c, cs, id, result, NULL);
    } else {
        char msg[160];
        snprintf(msg, sizeof msg, "Method not found: %.100s", m);
        ret = send_rpc_error(c, cs, 200, id, -32601, msg);
    }
done:
    cJSON_Delete(root);
    return ret;
}
