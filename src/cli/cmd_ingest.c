/* cmd_ingest.c - `hoheit ingest PATH... --collection NAME`: files and
 * folders into the knowledge base, one line per file and a totals line.
 * Every file added or replaced appends an "admin" audit record
 * (cli_admin.c); unchanged and failed files change nothing and get none. */
#include "cli/cmd.h"
#include "base/err.h"
#include "kb/ingest.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ingest_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit ingest PATH... --collection NAME [--data DIR] [--embed-model GGUF]\n"
            "                     [--max-tokens N] [--overlap PCT] [-t N] [--quiet]\n"
            "  PATH           files or folders (recursively; hidden entries skipped)\n"
            "  --collection   target collection (create it with `hoheit collections create`)\n"
            "  --embed-model  embedding model: chunks get vectors, budgets in its tokens\n"
            "  --max-tokens   chunk budget (default 256), --overlap percent (default 15)\n"
            "  --data         data directory (default $HOHEIT_DATA or ./hoheit-data)\n"
            "Output: one line per file, STATUS CHUNKS DOC_ID PATH [error], where STATUS is\n"
            "added, updated, unchanged or failed; then the totals. Exit status 1 when a\n"
            "file failed, 2 for bad usage.\n");
}

typedef struct on_file_ctx {
    bool        quiet;
    hh_store_t *s;
    const char *collection;
    size_t      unaudited;   /* files whose audit record could not be written */
} on_file_ctx_t;

static void on_file(void *ctx, const hh_ingest_file_t *f)
{
    static const char *const names[] = { "added", "updated", "unchanged", "failed" };
    on_file_ctx_t *x = ctx;
    if (f->status == HH_INGEST_ADDED || f->status == HH_INGEST_UPDATED) {
        hh_store_doc_t d;
        bool known = hh_store_doc_get(x->s, f->doc_id, &d, NULL) == 0;
        if (hh_cli_audit(x->s, "ingest %s: %s -> document %lld (%s; %zu chunks, sha256 %s)", x->collection,
                         known ? d.source_path : f->path, (long long)f->doc_id,
                         f->status == HH_INGEST_UPDATED ? "replaces the earlier version" : "added", f->n_chunks,
                         known ? d.sha256 : "?"))
            x->unaudited++;
    }
    if (x->quiet && f->status != HH_INGEST_FAILED)
        return;
    FILE *out = f->status == HH_INGEST_FAILED ? stderr : stdout;
    if (f->status == HH_INGEST_FAILED)
        fprintf(out, "%-9s %6zu %8lld  %s: %s\n", names[f->status], f->n_chunks, (long long)f->doc_id, f->path,
                f->err.msg);
    else
        fprintf(out, "%-9s %6zu %8lld  %s\n", names[f->status], f->n_chunks, (long long)f->doc_id, f->path);
    const char *note = f->status == HH_INGEST_FAILED ? NULL : hh_ingest_encoding_note(f->encoding);
    if (note != NULL)
        fprintf(out, "%-9s %6s %8s  %s: %s (%s)\n", "note", "", "", f->path, note, f->encoding);
    /* Each line is written after its commit: what is printed is stored. */
    fflush(out);
}

int hh_cmd_ingest(int argc, char **argv)
{
    const char *data = hh_cli_default_data();
    const char *collection = NULL;
    hh_ingest_params_t p = hh_ingest_default_params();
    bool quiet = false;
    const char **paths = calloc((size_t)argc, sizeof *paths);
    size_t n_paths = 0;
    if (!paths)
        return 1;
    int status = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            ingest_usage(stdout);
            status = 0;
            goto done;
        } else if (!strcmp(a, "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(a, "--collection") && i + 1 < argc) {
            collection = argv[++i];
        } else if (!strcmp(a, "--embed-model") && i + 1 < argc) {
            p.embed_model = argv[++i];
        } else if (!strcmp(a, "--max-tokens") && i + 1 < argc) {
            p.chunk.max_tokens = atoi(argv[++i]);
        } else if (!strcmp(a, "--overlap") && i + 1 < argc) {
            p.chunk.overlap_pct = atoi(argv[++i]);
        } else if (!strcmp(a, "-t") && i + 1 < argc) {
            p.threads = atoi(argv[++i]);
        } else if (!strcmp(a, "--quiet")) {
            quiet = true;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "ingest: unknown or incomplete option '%s'\n", a);
            ingest_usage(stderr);
            goto done;
        } else {
            paths[n_paths++] = a;
        }
    }
    if (!collection || n_paths == 0) {
        fprintf(stderr, "ingest: need PATH... and --collection NAME\n");
        ingest_usage(stderr);
        goto done;
    }
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    if (hh_store_open(&s, data, &err)) {
        fprintf(stderr, "ingest: %s\n", err.msg);
        status = 1;
        goto done;
    }
    /* Files a crash left behind (written, never committed) an hour ago or more. */
    size_t gc = 0;
    if (hh_ingest_gc(s, 3600, &gc, &err) == 0 && gc)
        fprintf(stderr, "ingest: removed %zu unreferenced stored files\n", gc);
    hh_ingest_totals_t t;
    on_file_ctx_t x = { .quiet = quiet, .s = s, .collection = collection };
    if (hh_ingest_paths(s, paths, n_paths, collection, 0, &p, on_file, &x, &t, &err)) {
        fprintf(stderr, "ingest: %s\n", err.msg);
        if (err.code == HH_ENOENT)
            fprintf(stderr, "  (create it: hoheit collections create %s --departments DEPT)\n", collection);
        status = 1;
    } else {
        double mb = (double)t.bytes / (1024.0 * 1024.0), sec = t.seconds > 0 ? t.seconds : 1e-9;
        printf("files %zu: added %zu, updated %zu, unchanged %zu, failed %zu; chunks %zu; %.2f MB in %.2f s "
               "(%.2f MB/s, %.0f chunks/s)\n",
               t.files, t.added, t.updated, t.unchanged, t.failed, t.chunks, mb, t.seconds, mb / sec,
               (double)t.chunks / sec);
        status = t.failed || x.unaudited ? 1 : 0;
    }
    hh_store_close(s);
done:
    free(paths);
    return status;
}
