/* cmd_documents.c - `hoheit documents list|delete|reingest`: the knowledge
 * base's documents, administered from the command line. Deleting goes
 * through hh_ingest_delete (the same function as DELETE /api/documents/ID:
 * chunks, FTS rows and vectors go in one transaction, the stored file when
 * no other document has its hash). Allowed beside a running server: it
 * drops deleted chunks from its answers at once, dense search included
 * (its in-memory vector index keeps the old vectors, but retrieval filters
 * by the chunk ids the database holds, recomputed whenever another process
 * changed it: kb/retrieve.c, test threat_cli_documents_delete_beside_server);
 * the index and DATA/vindex-MODEL.bin are rebuilt at its next start (the
 * file's tag no longer matches the stored vectors). Each change appends an
 * "admin" audit record. */
#include "cli/cmd.h"
#include "base/err.h"
#include "kb/ingest.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_IDS 4096

static void docs_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit documents list [--collection C] [--json] [--data DIR]\n"
            "       hoheit documents delete ID... [--yes] [--data DIR]\n"
            "       hoheit documents delete --collection C --all [--yes] [--data DIR]\n"
            "       hoheit documents reingest ID... | --collection C [--embed-model GGUF] [--data DIR]\n"
            "  list      id, collection, chunks, bytes, mime, ingested, by, source path\n"
            "  delete    removes documents with their chunks, vectors and (when no other\n"
            "            document has the same content) their stored files. --all with\n"
            "            --collection empties the collection but keeps it\n"
            "  reingest  extracts the stored original again and replaces the chunks\n"
            "            (after an extractor upgrade); the document gets a new id. Give\n"
            "            the --embed-model it was ingested with to keep vectors\n"
            "  --yes     delete without asking (needed when stdin is not a terminal)\n"
            "  --data    data directory (default $HOHEIT_DATA or ./hoheit-data)\n");
}

typedef struct args {
    const char *data, *collection, *embed_model;
    bool        json, all, yes;
    const char *sub;
    int64_t     ids[MAX_IDS];
    size_t      n_ids;
} args_t;

/* 0 ok, 1 help printed, 2 bad usage. */
static int parse(int argc, char **argv, args_t *a)
{
    memset(a, 0, sizeof *a);
    a->data = hh_cli_default_data();
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            docs_usage(stdout);
            return 1;
        } else if (!strcmp(s, "--data") && i + 1 < argc) {
            a->data = argv[++i];
        } else if (!strcmp(s, "--collection") && i + 1 < argc) {
            a->collection = argv[++i];
        } else if (!strcmp(s, "--embed-model") && i + 1 < argc) {
            a->embed_model = argv[++i];
        } else if (!strcmp(s, "--json")) {
            a->json = true;
        } else if (!strcmp(s, "--all")) {
            a->all = true;
        } else if (!strcmp(s, "--yes")) {
            a->yes = true;
        } else if (s[0] == '-') {
            fprintf(stderr, "documents: unknown or incomplete option '%s'\n", s);
            docs_usage(stderr);
            return 2;
        } else if (!a->sub) {
            a->sub = s;
        } else {
            char *end = NULL;
            errno = 0;
            long long id = strtoll(s, &end, 10);
            if (errno || end == s || *end || id <= 0) {
                fprintf(stderr, "documents: '%s' is not a document id\n", s);
                return 2;
            }
            if (a->n_ids == MAX_IDS) {
                fprintf(stderr, "documents: at most %d ids at once\n", MAX_IDS);
                return 2;
            }
            a->ids[a->n_ids++] = id;
        }
    }
    return 0;
}

static void fmt_time(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%MZ", &tm))
        snprintf(buf, cap, "%lld", (long long)t);
}

static int docs_list(hh_store_t *s, const args_t *a, int64_t coll_id, hh_err_t *err)
{
    hh_store_doc_t *d = NULL;
    size_t n = 0;
    int rc = hh_store_doc_list(s, 0, coll_id, &d, &n, err);
    if (rc)
        return rc;
    if (a->json) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; arr && i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            if (!o)
                break;
            cJSON_AddNumberToObject(o, "id", (double)d[i].id);
            cJSON_AddStringToObject(o, "collection", d[i].collection);
            cJSON_AddStringToObject(o, "title", d[i].title);
            cJSON_AddStringToObject(o, "source_path", d[i].source_path);
            cJSON_AddStringToObject(o, "mime", d[i].mime);
            cJSON_AddStringToObject(o, "sha256", d[i].sha256);
            cJSON_AddStringToObject(o, "encoding", d[i].encoding);
            cJSON_AddNumberToObject(o, "size", (double)d[i].size);
            cJSON_AddNumberToObject(o, "chunks", (double)d[i].n_chunks);
            cJSON_AddNumberToObject(o, "ingested_at", (double)d[i].ingested_at);
            if (d[i].ingested_by[0])
                cJSON_AddStringToObject(o, "ingested_by", d[i].ingested_by);
            else
                cJSON_AddNullToObject(o, "ingested_by");
            cJSON_AddItemToArray(arr, o);
        }
        char *t = arr ? cJSON_Print(arr) : NULL;
        if (t)
            printf("%s\n", t);
        else
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        cJSON_free(t);
        cJSON_Delete(arr);
    } else {
        printf("%-16s %-20s %-7s %-10s %-18s %-12s %s\n", "id", "collection", "chunks", "bytes", "ingested", "by",
               "source");
        for (size_t i = 0; i < n; i++) {
            char when[32];
            fmt_time(d[i].ingested_at, when, sizeof when);
            printf("%-16lld %-20s %-7lld %-10lld %-18s %-12s %s\n", (long long)d[i].id, d[i].collection,
                   (long long)d[i].n_chunks, (long long)d[i].size, when, d[i].ingested_by[0] ? d[i].ingested_by : "-",
                   d[i].source_path);
        }
    }
    free(d);
    return rc;
}

/* The ids to act on: those given, or every document of the collection. */
static int collect_ids(hh_store_t *s, args_t *a, int64_t coll_id, hh_err_t *err)
{
    if (a->n_ids)
        return 0;
    hh_store_doc_t *d = NULL;
    size_t n = 0;
    int rc = hh_store_doc_list(s, 0, coll_id, &d, &n, err);
    if (rc)
        return rc;
    if (n > MAX_IDS)
        n = MAX_IDS;   /* the rest on the next run; said below */
    for (size_t i = 0; i < n; i++)
        a->ids[i] = d[i].id;
    a->n_ids = n;
    free(d);
    return 0;
}

static int docs_delete(hh_store_t *s, args_t *a, int64_t coll_id, hh_err_t *err)
{
    int rc = collect_ids(s, a, coll_id, err);
    if (rc)
        return rc;
    if (a->n_ids == 0) {
        printf("no documents in %s\n", a->collection);
        return 0;
    }
    /* Every id must exist (and lie in the collection when one is named)
     * before anything is deleted: a typo deletes nothing. */
    for (size_t i = 0; i < a->n_ids; i++) {
        hh_store_doc_t d;
        if ((rc = hh_store_doc_get(s, a->ids[i], &d, err)))
            return hh_err_set(err, rc, -1, "no document %lld (nothing was deleted)", (long long)a->ids[i]);
        if (coll_id && d.collection_id != coll_id)
            return hh_err_set(err, HH_EINVAL, -1, "document %lld is in collection %s, not %s (nothing was deleted)",
                              (long long)a->ids[i], d.collection, a->collection);
    }
    char q[200];
    if (a->all)
        snprintf(q, sizeof q, "delete all %zu documents of collection %s?", a->n_ids, a->collection);
    else
        snprintf(q, sizeof q, "delete %zu document%s?", a->n_ids, a->n_ids == 1 ? "" : "s");
    if (!hh_cli_confirm("documents delete", q, a->yes))
        return HH_ECANCELED;
    size_t done = 0;
    for (size_t i = 0; i < a->n_ids; i++) {
        hh_store_doc_t d;
        if ((rc = hh_store_doc_get(s, a->ids[i], &d, err)) || (rc = hh_ingest_delete(s, a->ids[i], err))) {
            fprintf(stderr, "documents delete: %lld: %s\n", (long long)a->ids[i], err->msg);
            break;
        }
        done++;
        printf("deleted document %lld (%s: %s)\n", (long long)d.id, d.collection, d.source_path);
        if (hh_cli_audit(s, "documents delete %lld (%s: %s, sha256 %s)", (long long)d.id, d.collection,
                         d.source_path, d.sha256)) {
            rc = HH_EIO;
            break;
        }
    }
    fprintf(stderr, "%zu of %zu documents deleted\n", done, a->n_ids);
    if (rc == 0 && a->all && a->n_ids == MAX_IDS)
        fprintf(stderr, "more documents may be left: run the command again\n");
    return rc == HH_EIO && done ? HH_EIO : rc;
}

static int docs_reingest(hh_store_t *s, args_t *a, int64_t coll_id, hh_err_t *err)
{
    int rc = collect_ids(s, a, coll_id, err);
    if (rc)
        return rc;
    hh_ingest_params_t p = hh_ingest_default_params();
    hh_ingest_embedder_t *em = NULL;
    if (a->embed_model && (rc = hh_ingest_embedder_open(&em, a->embed_model, p.threads, err)))
        return rc;
    p.embedder = em;
    size_t ok = 0, failed = 0;
    for (size_t i = 0; i < a->n_ids; i++) {
        hh_ingest_file_t r;
        hh_err_t e;
        hh_err_clear(&e);
        if (hh_ingest_reingest(s, a->ids[i], &p, &r, &e)) {
            fprintf(stderr, "documents reingest: %lld: %s\n", (long long)a->ids[i], e.msg);
            failed++;
            continue;
        }
        ok++;
        printf("document %lld -> %lld: %zu chunks\n", (long long)a->ids[i], (long long)r.doc_id, r.n_chunks);
        if (hh_ingest_encoding_note(r.encoding) != NULL)
            printf("  note: %s (%s)\n", hh_ingest_encoding_note(r.encoding), r.encoding);
        if (hh_cli_audit(s, "documents reingest %lld -> %lld (%zu chunks)", (long long)a->ids[i],
                         (long long)r.doc_id, r.n_chunks)) {
            failed++;
            break;
        }
    }
    hh_ingest_embedder_free(em);
    fprintf(stderr, "%zu reingested, %zu failed\n", ok, failed);
    if (failed) {
        hh_err_set(err, HH_EIO, -1, "%zu of %zu documents not reingested", failed, a->n_ids);
        return HH_EIO;
    }
    return 0;
}

int hh_cmd_documents(int argc, char **argv)
{
    args_t *a = calloc(1, sizeof *a);   /* the id list is too big for the stack */
    if (!a) {
        fprintf(stderr, "documents: out of memory\n");
        return 1;
    }
    int pr = parse(argc, argv, a), status = 2;
    if (pr) {
        status = pr == 1 ? 0 : 2;
        goto out;
    }
    bool list = a->sub && !strcmp(a->sub, "list"), del = a->sub && !strcmp(a->sub, "delete"),
         re = a->sub && !strcmp(a->sub, "reingest");
    if (!list && !del && !re) {
        docs_usage(stderr);
        goto out;
    }
    if (list && a->n_ids) {
        fprintf(stderr, "documents list: takes no ids (use --collection C)\n");
        goto out;
    }
    if (del && a->n_ids == 0 && !(a->collection && a->all)) {
        fprintf(stderr, "documents delete: give document ids, or --collection C --all\n");
        goto out;
    }
    if (del && a->n_ids && a->all) {
        fprintf(stderr, "documents delete: give ids or --all, not both\n");
        goto out;
    }
    if (re && a->n_ids == 0 && !a->collection) {
        fprintf(stderr, "documents reingest: give document ids or --collection C\n");
        goto out;
    }
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    if (hh_store_open(&s, a->data, &err)) {
        fprintf(stderr, "documents: %s\n", err.msg);
        status = 1;
        goto out;
    }
    int64_t coll_id = 0;
    int rc = 0;
    if (a->collection) {
        hh_store_collection_t c;
        if ((rc = hh_store_collection_get(s, a->collection, &c, &err)) == 0)
            coll_id = c.id;
        else
            hh_err_set(&err, rc, -1, "no collection '%s'", a->collection);
    }
    if (rc == 0)
        rc = list ? docs_list(s, a, coll_id, &err) : del ? docs_delete(s, a, coll_id, &err)
                                                         : docs_reingest(s, a, coll_id, &err);
    if (rc && rc != HH_ECANCELED && err.msg[0])
        fprintf(stderr, "documents %s: %s\n", a->sub, err.msg);
    hh_store_close(s);
    status = rc ? 1 : 0;
out:
    free(a);
    return status;
}
