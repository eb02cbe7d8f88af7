/* documents.c - the knowledge base's documents over HTTP:
 *   POST   /api/documents[?collection=NAME]   multipart/form-data: fields
 *                                  "collection" (unless in the query
 *                                  string; before the file) and "file";
 *                                  ingests the file (201)
 *   GET    /api/documents[?collection=NAME]   documents the caller may read
 *   DELETE /api/documents/{id}     removes a document, its chunks, vectors
 *                                  and stored file
 *   GET    /api/documents/{id}/file   the stored original, as a download
 *                                  (needs read; never rendered in the
 *                                  app's origin: attachment, nosniff and a
 *                                  CSP sandbox)
 * Access (store.h "Rights"): listing needs read, upload write, delete
 * manage; admins manage everything, auditors only read. A collection the
 * caller may not read answers 404, the same as a missing one; one they
 * read without the needed right answers 403 forbidden. Each listed
 * document carries the caller's "right" on its collection. The upload's
 * collection is checked before any byte of the file is written
 * (upload_begin for the query string, on_field when the file part
 * begins). Allowed uploads are streamed to a private temp folder in the
 * data directory (limit HT_MAX_UPLOAD), then ingested like `hoheit
 * ingest`: extraction, chunking and embedding outside the kb lock
 * (hh_ingest_prepare), the commit and the index update under it
 * (hh_ingest_commit). When the server has a knowledge-base embedding model
 * (kb/dense.h), every chunk gets its vector and the server's vector
 * index follows each upload and delete (hh_kb_dense_update). Every upload
 * and delete, and every refusal of one by rights, is an audit record
 * (audit_http.c; docs/COMPLIANCE.md "Action records"). */
#include "http/http_int.h"
#include "base/log.h"
#include "kb/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct upload {
    hh_http_server_t *s;
    const ht_conn_t  *cs;
    struct MHD_PostProcessor *pp;
    char      dir[PATH_MAX];     /* DATA/tmp/up-XXXXXX, "" until created */
    char      path[PATH_MAX];    /* dir/<file name> */
    char      name[256];         /* sanitized file name */
    char      collection[HH_STORE_NAME_MAX];   /* from the query string, else the form */
    char      field[HH_STORE_NAME_MAX];        /* the form's "collection" field */
    size_t    field_len;
    int64_t   coll_id;           /* valid when coll_checked */
    bool      coll_checked;      /* collection known, exists and is writable */
    int       refused;           /* HTTP status of a refusal decided while reading, 0 none */
    const char *refused_code, *refused_msg;
    int       fd;                /* -1 when no file part yet */
    uint64_t  size;
    int       n_files;
    bool      too_big, field_too_long, io_error;
} upload_t;

static enum MHD_Result send_err(struct MHD_Connection *c, ht_conn_t *cs, int status, const char *code,
                                const char *msg)
{
    hh_api_error_t e;
    hh_api_error_set(&e, status, status >= 500 ? "server_error" : "invalid_request_error", code, NULL, "%s", msg);
    return ht_send_error(c, cs, &e);
}

static void upload_free(void *p)
{
    upload_t *u = p;
    if (!u)
        return;
    if (u->pp)
        MHD_destroy_post_processor(u->pp);
    if (u->fd >= 0)
        close(u->fd);
    if (u->path[0])
        unlink(u->path);
    if (u->dir[0])
        rmdir(u->dir);
    free(u);
}

/* The file name's last component with path separators and control bytes
 * removed; "upload" when nothing is left. */
static void sanitize_name(const char *in, char *out, size_t cap)
{
    const char *base = in ? strrchr(in, '/') : NULL;
    base = base ? base + 1 : in ? in : "";
    const char *b2 = strrchr(base, '\\');
    if (b2)
        base = b2 + 1;
    size_t n = 0;
    for (const char *p = base; *p && n + 1 < cap; p++)
        if ((unsigned char)*p >= 0x20 && *p != 0x7f)
            out[n++] = *p;
    out[n] = '\0';
    if (n == 0 || !strcmp(out, ".") || !strcmp(out, ".."))
        snprintf(out, cap, "upload");
    else if (out[0] == '.')
        out[0] = '_';   /* no hidden files in the temp folder */
}

/* The caller's right on the collection (store.h "Rights"): read lists,
 * write uploads and replaces, manage also deletes. */
static hh_right_t right_on(hh_http_server_t *s, const ht_conn_t *cs, int64_t coll)
{
    hh_right_t r = HH_RIGHT_NONE;
    if (hh_store_user_collection_right(s->store, cs->key.user_id, coll, &r, NULL) != 0)
        return HH_RIGHT_NONE;
    return r;
}

static void refuse(upload_t *u, int status, const char *code, const char *msg)
{
    if (!u->refused) {
        u->refused = status;
        u->refused_code = code;
        u->refused_msg = msg;
    }
}

/* The permission check, done as soon as the collection is known and before
 * any byte of the file is written: a collection that is missing or that
 * the caller may not read is 404 (the same answer for both), one the caller
 * may read but not change 403. */
static void check_collection(upload_t *u, const char *name)
{
    snprintf(u->collection, sizeof u->collection, "%s", name);
    hh_store_collection_t coll;
    hh_right_t right = HH_RIGHT_NONE;
    /* A refusal is recorded (an upload without the right is an attack
     * signal), for a missing collection as for a foreign one, so the
     * record's time cannot tell them apart either. */
    bool found = hh_store_collection_get(u->s->store, name, &coll, NULL) == 0;
    if (!found || (right = right_on(u->s, u->cs, coll.id)) == HH_RIGHT_NONE) {
        ht_audit_action(u->s, u->cs, "refused", "documents upload to %s: %s", name,
                        found ? "no right on the collection" : "no such collection");
        refuse(u, 404, "collection_not_found", "No such collection");
    } else if (right < HH_RIGHT_WRITE) {   /* readable, so its existence is known: 403, not 404 */
        ht_audit_action(u->s, u->cs, "refused", "documents upload to %s: read only (needs write)", name);
        refuse(u, 403, "forbidden", "You may read this collection but not upload to it (needs write)");
    } else {
        u->coll_id = coll.id;
        u->coll_checked = true;
    }
}

/* DATA/tmp/up-XXXXXX, made only once the upload is allowed. */
static int make_temp_dir(upload_t *u)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/tmp", hh_store_data_dir(u->s->store));
    mkdir(tmp, 0700);
    int n = snprintf(u->dir, sizeof u->dir, "%s/up-XXXXXX", tmp);
    if (n < 0 || (size_t)n >= sizeof u->dir || !mkdtemp(u->dir)) {
        u->dir[0] = '\0';
        return -1;
    }
    return 0;
}

/* MHD_NO stops the post processor: the refusal is answered right away. */
static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                const char *content_type, const char *transfer_encoding, const char *data,
                                uint64_t off, size_t size)
{
    upload_t *u = cls;
    if (!key || u->refused)
        return u->refused ? MHD_NO : MHD_YES;
    if (!strcmp(key, "collection")) {
        if (u->fd >= 0 || u->n_files > 0) {
            /* after the file: too late, the check must come first */
            refuse(u, 400, "collection_after_file",
                   "The collection must be named before the file: in the query string (?collection=NAME) or as a "
                   "form field 'collection' ahead of the field 'file'");
            return MHD_NO;
        }
        if (u->field_len + size >= sizeof u->field) {
            u->field_too_long = true;
            return MHD_YES;
        }
        memcpy(u->field + u->field_len, data, size);
        u->field_len += size;
        u->field[u->field_len] = '\0';
        return MHD_YES;
    }
    if (strcmp(key, "file") != 0 || u->too_big || u->io_error)
        return MHD_YES;
    if (u->fd < 0) {
        if (u->n_files++ > 0) /* one file per request */
            return MHD_YES;
        /* The file starts: the collection must be known and allowed now. */
        if (u->coll_checked) {
            if (u->field_len && strcmp(u->field, u->collection) != 0)
                refuse(u, 400, "conflicting_collection",
                       "The query string and the form name different collections");
        } else if (u->field_too_long || u->field_len == 0) {
            refuse(u, 400, "missing_collection",
                   "Name the collection (1..127 bytes) before the file: in the query string (?collection=NAME) or "
                   "as a form field 'collection' ahead of the field 'file'");
        } else {
            check_collection(u, u->field);
        }
        if (u->refused)
            return MHD_NO;
        if (make_temp_dir(u) != 0) {
            u->io_error = true;
            return MHD_YES;
        }
        sanitize_name(filename, u->name, sizeof u->name);
        int n = snprintf(u->path, sizeof u->path, "%s/%s", u->dir, u->name);
        if (n < 0 || (size_t)n >= sizeof u->path) {
            u->path[0] = '\0';
            u->io_error = true;
            return MHD_YES;
        }
        u->fd = open(u->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (u->fd < 0) {
            u->path[0] = '\0';
            u->io_error = true;
            return MHD_YES;
        }
    }
    if (size > HT_MAX_UPLOAD - u->size) {
        u->too_big = true;
        return MHD_YES;
    }
    for (size_t done = 0; done < size;) {
        ssize_t w = write(u->fd, data + done, size - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            u->io_error = true;
            return MHD_YES;
        }
        done += (size_t)w;
    }
    u->size += size;
    return MHD_YES;
}

static cJSON *doc_json(const hh_store_doc_t *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)d->id);
    cJSON_AddStringToObject(o, "collection", d->collection);
    cJSON_AddStringToObject(o, "title", d->title);
    cJSON_AddStringToObject(o, "source_path", d->source_path);
    cJSON_AddStringToObject(o, "mime", d->mime);
    cJSON_AddStringToObject(o, "sha256", d->sha256);
    cJSON_AddNumberToObject(o, "size", (double)d->size);
    cJSON_AddNumberToObject(o, "chunks", (double)d->n_chunks);
    cJSON_AddNumberToObject(o, "ingested_at", (double)d->ingested_at);
    cJSON_AddStringToObject(o, "ingested_by", d->ingested_by);
    cJSON_AddStringToObject(o, "encoding", d->encoding);
    return o;
}

static enum MHD_Result finish_upload(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, upload_t *u)
{
    if (u->refused)
        return send_err(c, cs, u->refused, u->refused_code, u->refused_msg);
    if (u->too_big) {
        char m[96];
        snprintf(m, sizeof m, "The file is larger than %llu bytes", (unsigned long long)HT_MAX_UPLOAD);
        return send_err(c, cs, 413, "request_too_large", m);
    }
    if (u->io_error)
        return send_err(c, cs, 500, "upload_failed", "The upload could not be stored");
    if (!u->coll_checked) {
        /* no file part: still the same answers for the collection */
        if (u->field_too_long || u->field_len == 0)
            return send_err(c, cs, 400, "missing_collection", "The form needs a field 'collection' (1..127 bytes)");
        check_collection(u, u->field);
        if (u->refused)
            return send_err(c, cs, u->refused, u->refused_code, u->refused_msg);
    }
    if (u->fd < 0)
        return send_err(c, cs, 400, "missing_file", "The form needs a file field 'file'");
    if (fsync(u->fd) != 0 || close(u->fd) != 0) {
        u->fd = -1;
        return send_err(c, cs, 500, "upload_failed", "The upload could not be stored");
    }
    u->fd = -1;
    /* The stored source path names the upload: a re-upload of the same name
     * into the same collection replaces the document. */
    char source[HH_STORE_PATH_MAX];
    snprintf(source, sizeof source, "upload:%s", u->name);
    hh_ingest_params_t p = hh_ingest_default_params();
    p.max_file_bytes = (int64_t)HT_MAX_UPLOAD;
    p.embedder = hh_kb_dense_ingest_embedder(s->kb);
    p.analyzer = s->analyzer;
    hh_ingest_file_t r;
    hh_err_t err;
    hh_err_clear(&err);
    /* The slow part (sandboxed extraction, chunking, embedding, the copy
     * into files/) runs outside the kb lock, so one slow document delays no other
     * upload. Document changes and index updates run one at a time under
     * the kb lock (hh_kb_dense_lock): the dedup by sha256 and the replace by source path are decided
     * there, and the index drops exactly the chunks a replaced document had. */
    hh_store_doc_t d;
    int rc = 0;
    int64_t replaced = 0;   /* the document of the same name this upload replaced */
    /* Twice at most: a re-upload of bytes the collection holds skips the
     * extraction, and if a concurrent upload replaced them before the
     * commit (HH_ESTATE), the file is extracted after all. */
    for (int attempt = 0; attempt < 2; attempt++) {
        hh_ingest_prepared_t *prep = NULL;
        hh_err_clear(&err);
        rc = hh_ingest_prepare(s->store, u->path, source, u->coll_id, &p, attempt > 0, &prep, &err);
        if (rc == 0) {
            hh_kb_dense_lock(s->kb);
            int64_t *old_ids = NULL;
            size_t n_old = 0;
            hh_store_doc_t prev;
            bool had_prev = hh_store_doc_find_by_path(s->store, u->coll_id, source, &prev, NULL) == 0;
            if (p.embedder && had_prev && hh_kb_doc_chunk_ids(s->store, prev.id, &old_ids, &n_old, NULL) != 0)
                n_old = 0;
            rc = hh_ingest_commit(s->store, prep, cs->key.user_id, &r, &err);
            replaced = had_prev && rc == 0 && r.status == HH_INGEST_UPDATED ? prev.id : 0;
            if (rc == 0 && p.embedder && r.status != HH_INGEST_UNCHANGED)
                hh_kb_dense_update(s->kb, old_ids, n_old, r.doc_id);
            /* read back under the lock: a concurrent upload of the same name
             * may replace it (new id) right after */
            if (rc == 0 && hh_store_doc_get(s->store, r.doc_id, &d, NULL) != 0)
                rc = hh_err_set(&err, HH_EIO, -1, "the document vanished after ingestion");
            hh_kb_dense_unlock(s->kb);
            free(old_ids);
        }
        hh_ingest_prepared_free(prep);
        if (rc != HH_ESTATE)
            break;
    }
    hh_ingest_embedder_free(p.embedder);
    if (rc) {
        hh_api_error_t e;
        int status = rc == HH_EIO || rc == HH_ENOMEM ? 500 : rc == HH_ESTATE ? 409 : 422;
        hh_api_error_set(&e, status, status == 500 ? "server_error" : "invalid_request_error", "ingest_failed", "file",
                         "%s: %s", u->name, err.msg);
        return ht_send_error(c, cs, &e);
    }
    static const char *const st[] = { "added", "updated", "unchanged", "failed" };
    if (replaced)
        ht_audit_action(s, cs, "done", "documents upload %s: %s -> document %lld (replaces document %lld; %zu chunks, "
                        "%lld bytes, sha256 %s)", d.collection, d.source_path, (long long)d.id, (long long)replaced,
                        r.n_chunks, (long long)d.size, d.sha256);
    else
        ht_audit_action(s, cs, "done", "documents upload %s: %s -> document %lld (%s; %lld chunks, %lld bytes, "
                        "sha256 %s)", d.collection, d.source_path, (long long)d.id, st[r.status],
                        (long long)d.n_chunks, (long long)d.size, d.sha256);
    cJSON *j = doc_json(&d);
    cJSON_AddStringToObject(j, "status", st[r.status]);
    /* a legacy text encoding converted: said, so "Müller" is not a surprise */
    cJSON *warn = cJSON_AddArrayToObject(j, "warnings");
    const char *note = hh_ingest_encoding_note(r.encoding);
    if (warn && note)
        cJSON_AddItemToArray(warn, cJSON_CreateString(note));
    return ht_send_json(c, cs, r.status == HH_INGEST_UNCHANGED ? 200 : 201, j);
}

/* The upload's headers-only call: the form's parser and the collection
 * named in the query string, before any byte of the body is read (the
 * route table's limit has refused a Content-Length over
 * HT_UPLOAD_BODY_MAX already). */
static enum MHD_Result upload_begin(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs)
{
    upload_t *u = calloc(1, sizeof *u);
    if (!u)
        return MHD_NO;
    u->s = s;
    u->cs = cs;
    u->fd = -1;
    cs->ext = u;
    cs->ext_free = upload_free;
    u->pp = MHD_create_post_processor(c, 64 * 1024, on_field, u);
    if (!u->pp)
        return send_err(c, cs, 415, "unsupported_media_type", "Content-Type must be multipart/form-data");
    const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "collection");
    if (name) {
        if (!name[0] || strlen(name) >= sizeof u->collection)
            return send_err(c, cs, 400, "missing_collection", "The parameter 'collection' needs 1..127 bytes");
        check_collection(u, name);
        if (u->refused)
            return send_err(c, cs, u->refused, u->refused_code, u->refused_msg);
    }
    return MHD_YES;
}

enum MHD_Result ht_handle_doc_upload(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    if (!cs->piece_size)
        return upload_begin(s, c, cs);
    const char *upload_data = cs->piece;
    size_t *upload_data_size = cs->piece_size;
    upload_t *u = cs->ext;
    if (!u)   /* upload_begin failed to allocate */
        return MHD_NO;
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (u->refused)
            return MHD_NO;
        if (MHD_post_process(u->pp, upload_data, n) != MHD_YES && !u->refused)
            u->io_error = true;
        if (u->refused) {
            /* Refused in the middle of the body (the collection came as a
             * form field): nothing of the file was written. MHD cannot
             * answer before the whole request is read, so the connection
             * is closed now rather than reading up to 256 MB for nothing;
             * a client that names the collection in the query string gets
             * the 404/403 answer before it sends the body. */
            HH_LOGI("upload refused while reading the form (%d %s): connection closed", u->refused,
                    u->refused_code);
            return MHD_NO;
        }
        return MHD_YES;
    }
    return finish_upload(s, c, cs, u);
}

enum MHD_Result ht_handle_doc_list(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "collection");
    int64_t coll_id = 0;
    if (name && name[0]) {
        hh_store_collection_t coll;
        bool readable = false;
        if (hh_store_collection_get(s->store, name, &coll, NULL) != 0 ||
            hh_store_user_can_read(s->store, cs->key.user_id, coll.id, &readable, NULL) != 0 || !readable)
            return send_err(c, cs, 404, "collection_not_found", "No such collection");
        coll_id = coll.id;
    }
    hh_store_doc_t *d = NULL;
    size_t n = 0;
    if (hh_store_doc_list(s->store, cs->key.user_id, coll_id, &d, &n, NULL) != 0)
        return send_err(c, cs, 500, "server_error", "Cannot list documents");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "object", "list");
    cJSON *arr = cJSON_AddArrayToObject(j, "data");
    int64_t last_coll = -1;
    hh_right_t right = HH_RIGHT_NONE;
    for (size_t i = 0; i < n; i++) {
        if (d[i].collection_id != last_coll) {   /* one lookup per collection run */
            last_coll = d[i].collection_id;
            right = right_on(s, cs, last_coll);
        }
        cJSON *o = doc_json(&d[i]);
        cJSON_AddStringToObject(o, "right", hh_right_name(right));
        cJSON_AddItemToArray(arr, o);
    }
    free(d);
    return ht_send_json(c, cs, 200, j);
}

enum MHD_Result ht_handle_doc_delete(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *id_s = url + strlen("/api/documents/");
    char *end = NULL;
    errno = 0;
    long long id = strtoll(id_s, &end, 10);
    if (errno || end == id_s || *end || id <= 0)
        return send_err(c, cs, 404, "document_not_found", "No such document");
    hh_store_doc_t d;
    hh_right_t right = HH_RIGHT_NONE;
    /* Refusals are recorded, a missing document's as a foreign one's (the
     * same work, so the same time). */
    bool found = hh_store_doc_get(s->store, id, &d, NULL) == 0;
    if (!found || (right = right_on(s, cs, d.collection_id)) == HH_RIGHT_NONE) {
        if (found)
            ht_audit_action(s, cs, "refused", "documents delete %lld (%s): no right on the collection", id,
                            d.collection);
        else
            ht_audit_action(s, cs, "refused", "documents delete %lld: no such document", id);
        return send_err(c, cs, 404, "document_not_found", "No such document");
    }
    if (right < HH_RIGHT_MANAGE) {
        ht_audit_action(s, cs, "refused", "documents delete %lld (%s): %s (needs manage)", id, d.collection,
                        hh_right_name(right));
        return send_err(c, cs, 403, "forbidden", "You may not delete documents of this collection (needs manage)");
    }
    hh_err_t err;
    hh_kb_dense_lock(s->kb);
    int64_t *old_ids = NULL;
    size_t n_old = 0;
    if (hh_kb_dense_on(s->kb) && hh_kb_doc_chunk_ids(s->store, id, &old_ids, &n_old, NULL) != 0)
        n_old = 0;
    int rc = hh_ingest_delete(s->store, id, &err);
    if (rc == 0)
        hh_kb_dense_update(s->kb, old_ids, n_old, 0);
    free(old_ids);
    hh_kb_dense_unlock(s->kb);
    if (rc != 0)
        return send_err(c, cs, err.code == HH_ENOENT ? 404 : 500, "delete_failed", err.msg);
    ht_audit_action(s, cs, "done", "documents delete %lld (%s: %s, sha256 %s)", id, d.collection, d.source_path,
                    d.sha256);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)id);
    cJSON_AddBoolToObject(j, "deleted", true);
    return ht_send_json(c, cs, 200, j);
}

/* ---- the stored original ------------------------------------------------ */

/* The last path part of a source path (after the last '/', '\\' or the
 * "upload:" of an uploaded file), cut to [A-Za-z0-9._ -] (every other
 * byte, UTF-8 included, becomes '_'), no leading dot; "document" when
 * nothing is left. Safe inside a quoted Content-Disposition filename. */
static void download_name(const char *source_path, char *out, size_t cap)
{
    const char *base = source_path;
    for (const char *p = source_path; *p; p++)   /* "upload:NAME", "DIR/NAME" */
        if (*p == '/' || *p == ':' || *p == '\\')
            base = p + 1;
    size_t n = 0;
    for (const char *p = base; *p && n + 1 < cap && n < 200; p++) {
        unsigned char ch = (unsigned char)*p;
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  ch == '.' || ch == '_' || ch == '-' || ch == ' ';
        if (n == 0 && (ch == '.' || ch == ' '))
            continue;
        out[n++] = ok ? (char)ch : '_';
    }
    out[n] = 0;
    if (!n)
        snprintf(out, cap, "document");
}

/* A stored media type is sent only when it is a plain "type/subtype"
 * (with parameters), nothing that could end or split a header. */
static bool media_type_ok(const char *m)
{
    if (!m[0] || !strchr(m, '/'))
        return false;
    for (const char *p = m; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
            return false;
    }
    return true;
}

enum MHD_Result ht_handle_doc_file(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *id_s = url + strlen("/api/documents/");
    char *end = NULL;
    errno = 0;
    long long id = strtoll(id_s, &end, 10);
    if (errno || end == id_s || strcmp(end, "/file") || id <= 0)
        return send_err(c, cs, 404, "document_not_found", "No such document");
    hh_store_doc_t d;
    /* A missing document and another department's answer the same 404. */
    bool found = hh_store_doc_get(s->store, id, &d, NULL) == 0;
    if (!found || right_on(s, cs, d.collection_id) < HH_RIGHT_READ) {
        if (found)
            ht_audit_action(s, cs, "refused", "documents download %lld (%s): no right on the collection", id,
                            d.collection);
        else
            ht_audit_action(s, cs, "refused", "documents download %lld: no such document", id);
        return send_err(c, cs, 404, "document_not_found", "No such document");
    }
    char path[PATH_MAX];
    if (hh_ingest_file_path(s->store, d.sha256, path, sizeof path, NULL) != 0)
        return send_err(c, cs, 404, "document_not_found", "No such document");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    /* Deleted since the lookup (the file goes with the last document of
     * these bytes): gone, like a missing document. */
    if (fd < 0)
        return send_err(c, cs, 404, "document_not_found", "No such document");
    ht_audit_action(s, cs, "done", "documents download %lld (%s: %s, sha256 %s)", id, d.collection, d.source_path,
                    d.sha256);
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);   /* owns fd now */
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    char name[256];
    download_name(d.source_path, name, sizeof name);
    char disp[320];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            media_type_ok(d.mime) ? d.mime : "application/octet-stream");
    MHD_add_response_header(r, "Content-Disposition", disp);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy", "sandbox; default-src 'none'");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return ht_queue(c, cs, 200, r, (uint64_t)st.st_size);
}
