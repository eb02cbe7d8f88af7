/* ingest.c - files into the knowledge base: hash, content-addressed copy,
 * sandboxed extraction, chunking, optional embedding, one transaction per
 * document (see ingest.h for the order that makes a crash harmless). */
#include "kb/ingest.h"
#include "kb/retrieve.h"
#include "model/model.h"
#include "tok/tok.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct hh_ingest_embedder {
    hh_model_t     *model;
    hh_vocab_t     *vocab;     /* owned (NULL for a hook) */
    const hh_vocab_t *tok;     /* vocab, or the hook's */
    hh_ingest_embed_hook_t hook;   /* hook.embed != NULL: no own model */
    hh_embed_ctx_t *ctx;
    int32_t         dim;
    int32_t         max_tokens;
    char            name[256];
    pthread_mutex_t mu;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

hh_ingest_params_t hh_ingest_default_params(void)
{
    return (hh_ingest_params_t){
        .chunk = hh_chunk_default_params(),
        .limits = NULL,
        .embedder = NULL,
        .embed_model = NULL,
        .max_file_bytes = (int64_t)256 << 20,
        .threads = 2,
    };
}

/* ---- embedder --------------------------------------------------------- */

int hh_ingest_embedder_open(hh_ingest_embedder_t **out, const char *path, int threads, hh_err_t *err)
{
    *out = NULL;
    hh_ingest_embedder_t *e = calloc(1, sizeof *e);
    if (!e)
        return hh_err_set(err, HH_ENOMEM, -1, "ingest: out of memory");
    pthread_mutex_init(&e->mu, NULL);
    int rc = hh_model_load(&e->model, path, NULL, err);
    if (rc)
        goto fail;
    if (!hh_model_is_embedding(e->model)) {
        rc = hh_err_set(err, HH_EUNSUPPORTED, -1, "ingest: %s is not an embedding model", path);
        goto fail;
    }
    hh_embed_params_t ep = hh_embed_default_params();
    ep.n_threads = threads > 0 ? threads : 0;
    if ((rc = hh_embed_ctx_create(&e->ctx, e->model, &ep, err)) || (rc = hh_vocab_load(&e->vocab, hh_model_gguf(e->model), err)))
        goto fail;
    e->tok = e->vocab;
    e->dim = hh_model_n_embd(e->model);
    e->max_tokens = hh_embed_max_tokens(e->ctx);
    const char *base = strrchr(path, '/');
    snprintf(e->name, sizeof e->name, "%s", base ? base + 1 : path);
    *out = e;
    return 0;
fail:
    hh_ingest_embedder_free(e);
    return rc;
}

int hh_ingest_embedder_from_hook(hh_ingest_embedder_t **out, const hh_ingest_embed_hook_t *hook, hh_err_t *err)
{
    *out = NULL;
    if (!hook || !hook->name || !hook->name[0] || hook->dim <= 0 || hook->max_tokens < 3 || !hook->vocab ||
        !hook->embed)
        return hh_err_set(err, HH_EINVAL, -1, "ingest: incomplete embedder hook");
    hh_ingest_embedder_t *e = calloc(1, sizeof *e);
    if (!e)
        return hh_err_set(err, HH_ENOMEM, -1, "ingest: out of memory");
    pthread_mutex_init(&e->mu, NULL);
    e->hook = *hook;
    e->hook.name = NULL;   /* copied into name below, not kept */
    e->tok = hook->vocab;
    e->dim = hook->dim;
    e->max_tokens = hook->max_tokens;
    snprintf(e->name, sizeof e->name, "%s", hook->name);
    *out = e;
    return 0;
}

void hh_ingest_embedder_free(hh_ingest_embedder_t *e)
{
    if (!e)
        return;
    hh_embed_ctx_free(e->ctx);
    hh_vocab_free(e->vocab);
    hh_model_free(e->model);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

int32_t hh_ingest_embedder_dim(const hh_ingest_embedder_t *e)
{
    return e->dim;
}

const char *hh_ingest_embedder_name(const hh_ingest_embedder_t *e)
{
    return e->name;
}

/* Token counter for the chunker: WordPiece ids without [CLS]/[SEP]. */
static int wp_count(void *ctx, const char *text, size_t len)
{
    hh_ingest_embedder_t *e = ctx;
    int32_t *ids = NULL;
    size_t n = 0;
    if (hh_tokenize(e->tok, text, len, false, false, &ids, &n, NULL) != 0)
        return hh_chunk_estimate_tokens(NULL, text, len);
    free(ids);
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* One vector per chunk into vecs (n * dim floats). */
static int embed_chunks(hh_ingest_embedder_t *e, const hh_chunk_t *c, size_t n, float *vecs, hh_err_t *err)
{
    int rc = 0;
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < n && !rc; i++) {
        int32_t *ids = NULL;
        size_t nid = 0;
        if ((rc = hh_tokenize(e->tok, c[i].text, strlen(c[i].text), true, false, &ids, &nid, err)))
            break;
        int32_t m = (int32_t)(nid > (size_t)e->max_tokens ? (size_t)e->max_tokens : nid);
        if (nid > (size_t)e->max_tokens)
            m = hh_embed_truncate(ids, (int32_t)(nid > INT32_MAX ? INT32_MAX : nid), e->max_tokens);
        if (e->hook.embed)
            rc = e->hook.embed(e->hook.user, ids, m, vecs + i * (size_t)e->dim, err);
        else
            rc = hh_embed(e->ctx, ids, m, vecs + i * (size_t)e->dim, err);
        free(ids);
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- content-addressed files ------------------------------------------ */

int hh_ingest_file_path(const hh_store_t *s, const char *sha256, char *buf, size_t cap, hh_err_t *err)
{
    if (!sha256 || strlen(sha256) != HH_SHA256_HEX_LEN)
        return hh_err_set(err, HH_EINVAL, -1, "ingest: bad sha256");
    int n = snprintf(buf, cap, "%s/files/%.2s/%s", hh_store_data_dir(s), sha256, sha256);
    if (n < 0 || (size_t)n >= cap)
        return hh_err_set(err, HH_EINVAL, -1, "ingest: data directory path too long");
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* Hashes the file (streaming) and reports its size. */
static int hash_file(const char *path, int64_t max_bytes, char hex[HH_SHA256_HEX_LEN + 1], int64_t *size,
                     hh_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hh_err_set(err, errno == ENOENT ? HH_ENOENT : HH_EIO, -1, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return hh_err_set(err, HH_EIO, -1, "not a regular file");
    }
    if (st.st_size > max_bytes) {
        close(fd);
        return hh_err_set(err, HH_ERANGE, -1, "file of %lld bytes is over the limit of %lld", (long long)st.st_size,
                          (long long)max_bytes);
    }
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    unsigned char buf[1 << 16];
    int64_t total = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        crypto_hash_sha256_update(&h, buf, (unsigned long long)r);
        total += r;
    }
    close(fd);
    if (r < 0)
        return hh_err_set(err, HH_EIO, -1, "read failed: %s", strerror(errno));
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&h, out);
    sodium_bin2hex(hex, HH_SHA256_HEX_LEN + 1, out, sizeof out);
    *size = total;
    return 0;
}

/* Copies src to DATA/files/<sha[0:2]>/<sha> through a temp name, fsync and
 * rename, so the final name only ever holds complete content. */
static int store_original(hh_store_t *s, const char *src, const char *sha, hh_err_t *err)
{
    char dst[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX + 32];
    int rc = hh_ingest_file_path(s, sha, dst, sizeof dst, err);
    if (rc)
        return rc;
    if (access(dst, F_OK) == 0)
        return 0;
    snprintf(dir, sizeof dir, "%s/files", hh_store_data_dir(s));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return hh_err_set(err, HH_EIO, -1, "cannot create %s: %s", dir, strerror(errno));
    snprintf(dir, sizeof dir, "%s/files/%.2s", hh_store_data_dir(s), sha);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return hh_err_set(err, HH_EIO, -1, "cannot create %s: %s", dir, strerror(errno));
    /* A temp name of its own: two uploads of the same bytes copy at once
     * (extraction runs outside the server's lock); the second rename just
     * puts identical content in place. */
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s-XXXXXX", dir, sha);
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1;
    if (in < 0)
        return hh_err_set(err, HH_EIO, -1, "cannot open: %s", strerror(errno));
    out = mkostemp(tmp, O_CLOEXEC);
    if (out < 0) {
        rc = hh_err_set(err, HH_EIO, -1, "cannot create %s: %s", tmp, strerror(errno));
        goto done;
    }
    unsigned char buf[1 << 16];
    ssize_t r;
    while ((r = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                rc = hh_err_set(err, HH_EIO, -1, "write %s: %s", tmp, strerror(errno));
                goto done;
            }
            off += w;
        }
    }
    if (r < 0) {
        rc = hh_err_set(err, HH_EIO, -1, "read failed: %s", strerror(errno));
        goto done;
    }
    if (fsync(out) != 0) {
        rc = hh_err_set(err, HH_EIO, -1, "fsync %s: %s", tmp, strerror(errno));
        goto done;
    }
    close(out);
    out = -1;
    if (rename(tmp, dst) != 0) {
        rc = hh_err_set(err, HH_EIO, -1, "rename to %s: %s", dst, strerror(errno));
        goto done;
    }
    if (fsync_dir(dir) != 0)
        rc = hh_err_set(err, HH_EIO, -1, "fsync %s: %s", dir, strerror(errno));
done:
    close(in);
    if (out >= 0)
        close(out);
    if (rc)
        unlink(tmp);
    return rc;
}

/* Removes the stored file of sha unless a document still references it. */
static void drop_original(hh_store_t *s, const char *sha)
{
    bool used = true;
    char path[PATH_MAX];
    if (!sha || !sha[0] || hh_store_sha_in_use(s, sha, &used, NULL) != 0 || used)
        return;
    if (hh_ingest_file_path(s, sha, path, sizeof path, NULL) == 0)
        unlink(path);
}

int hh_ingest_delete(hh_store_t *s, int64_t doc_id, hh_err_t *err)
{
    char sha[HH_SHA256_HEX_LEN + 1];
    int rc = hh_store_doc_delete(s, doc_id, sha, err);
    if (rc)
        return rc;
    drop_original(s, sha);
    return 0;
}

int hh_ingest_gc(hh_store_t *s, int64_t min_age_s, size_t *removed, hh_err_t *err)
{
    if (removed)
        *removed = 0;
    char root[PATH_MAX];
    snprintf(root, sizeof root, "%s/files", hh_store_data_dir(s));
    DIR *d = opendir(root);
    if (!d)
        return errno == ENOENT ? 0 : hh_err_set(err, HH_EIO, -1, "ingest: cannot read %s: %s", root, strerror(errno));
    time_t now = time(NULL);
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) && !rc) {
        if (strlen(de->d_name) != 2 || de->d_name[0] == '.')
            continue;
        char sub[PATH_MAX + 8];
        if (snprintf(sub, sizeof sub, "%s/%s", root, de->d_name) >= (int)sizeof sub)
            continue;
        DIR *d2 = opendir(sub);
        if (!d2)
            continue;
        struct dirent *f;
        while ((f = readdir(d2))) {
            if (!strcmp(f->d_name, ".") || !strcmp(f->d_name, ".."))
                continue;
            char p[PATH_MAX + 300];
            snprintf(p, sizeof p, "%s/%s", sub, f->d_name);
            struct stat st;
            if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode) || now - st.st_mtime < min_age_s)
                continue;
            bool orphan = true;
            if (f->d_name[0] != '.') { /* ".tmp-*": an interrupted copy */
                bool used = true;
                if (strlen(f->d_name) != HH_SHA256_HEX_LEN ||
                    (rc = hh_store_sha_in_use(s, f->d_name, &used, err)) != 0)
                    orphan = false;
                else
                    orphan = !used;
                if (rc)
                    break;
            }
            if (orphan && unlink(p) == 0 && removed)
                (*removed)++;
        }
        closedir(d2);
    }
    closedir(d);
    return rc;
}

/* ---- one file --------------------------------------------------------- */

const char *hh_ingest_encoding_note(const char *encoding)
{
    if (encoding == NULL || encoding[0] == '\0' || strcmp(encoding, "utf-8") == 0)
        return NULL;
    if (strcmp(encoding, "windows-1252") == 0)
        return "the text was not UTF-8: read as Windows-1252 and converted to UTF-8";
    if (strcmp(encoding, "iso-8859-15") == 0)
        return "the text was not UTF-8: read as ISO-8859-15 and converted to UTF-8";
    if (strcmp(encoding, "utf-16le") == 0 || strcmp(encoding, "utf-16be") == 0)
        return "the text was UTF-16: converted to UTF-8";
    return "the HTML declares a charset other than UTF-8: converted to UTF-8";
}

/* A file hashed, extracted, chunked and embedded, its original stored:
 * everything but the database transaction. */
struct hh_ingest_prepared {
    char                 *path;         /* copies */
    char                 *source_path;
    int64_t               collection_id;
    bool                  reextract;
    bool                  same_hash;    /* the collection had the hash: nothing extracted */
    char                  sha[HH_SHA256_HEX_LEN + 1];
    int64_t               bytes;
    hh_doc_t              doc;
    hh_chunk_t           *chunks;
    size_t                n_chunks;
    float                *vecs;         /* n_chunks * dim, or NULL */
    char                **terms;        /* (n_chunks) index terms of each chunk (kb/analyze.h) */
    const char          **langs;        /* (n_chunks) "de" / "en" / "" (static strings) */
    int                   terms_level;
    hh_ingest_embedder_t *embedder;     /* borrowed from the params */
    double                t0;
};

void hh_ingest_prepared_free(hh_ingest_prepared_t *pr)
{
    if (!pr)
        return;
    free(pr->vecs);
    for (size_t i = 0; pr->terms && i < pr->n_chunks; i++)
        free(pr->terms[i]);
    free(pr->terms);
    free(pr->langs);
    hh_chunks_free(pr->chunks, pr->n_chunks);
    hh_doc_clear(&pr->doc);
    free(pr->path);
    free(pr->source_path);
    free(pr);
}

/* reextract: a stored original again (reingest): the source path is the
 * file name's hint and commit replaces even the same hash; extract: always
 * extract (no skip when the collection holds the hash). */
static int prepare_file(hh_store_t *s, const char *path, const char *source_path, int64_t collection_id,
                        const hh_ingest_params_t *p, bool reextract, bool extract, hh_ingest_prepared_t **out,
                        hh_err_t *err)
{
    hh_ingest_params_t dp = hh_ingest_default_params();
    if (!p)
        p = &dp;
    *out = NULL;
    if (!source_path)
        source_path = path;
    hh_ingest_prepared_t *pr = calloc(1, sizeof *pr);
    if (!pr || !(pr->path = strdup(path)) || !(pr->source_path = strdup(source_path))) {
        hh_ingest_prepared_free(pr);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    pr->t0 = now_s();
    pr->collection_id = collection_id;
    pr->reextract = reextract;
    pr->embedder = p->embedder;
    int rc = hash_file(path, p->max_file_bytes > 0 ? p->max_file_bytes : dp.max_file_bytes, pr->sha, &pr->bytes, err);
    if (rc)
        goto fail;
    hh_store_doc_t existing;
    rc = reextract || extract ? HH_ENOENT : hh_store_doc_find_by_hash(s, collection_id, pr->sha, &existing, err);
    if (rc == 0) {
        /* Commit looks again: it answers "unchanged" if the hash is still there. */
        pr->same_hash = true;
        *out = pr;
        return 0;
    }
    if (rc != HH_ENOENT)
        goto fail;
    if (err)
        hh_err_clear(err);
    if ((rc = hh_extract_file_named(path, reextract ? source_path : path, p->limits, &pr->doc, err)))
        goto fail;
    hh_chunk_params_t cp = p->chunk;
    if (p->embedder) {
        cp.count = wp_count;
        cp.count_ctx = p->embedder;
        /* [CLS] and [SEP] take two of the model's positions. */
        if (cp.max_tokens > p->embedder->max_tokens - 2)
            cp.max_tokens = p->embedder->max_tokens - 2;
    }
    if ((rc = hh_chunk_doc(&pr->doc, &cp, &pr->chunks, &pr->n_chunks, err)))
        goto fail;
    /* language and index terms, here outside any lock (the analysis of a
     * large document takes a while) */
    if (pr->n_chunks) {
        pr->terms = calloc(pr->n_chunks, sizeof *pr->terms);
        pr->langs = calloc(pr->n_chunks, sizeof *pr->langs);
        if (!pr->terms || !pr->langs) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
            goto fail;
        }
        pr->terms_level = hh_analyzer_level(p->analyzer);
        for (size_t i = 0; i < pr->n_chunks; i++)
            if ((rc = hh_kb_chunk_terms(p->analyzer, pr->chunks[i].text, pr->chunks[i].heading_path, &pr->langs[i],
                                        &pr->terms[i], err)))
                goto fail;
    }
    if (p->embedder && pr->n_chunks) {
        if (!(pr->vecs = malloc(pr->n_chunks * (size_t)p->embedder->dim * sizeof *pr->vecs))) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
            goto fail;
        }
        if ((rc = embed_chunks(p->embedder, pr->chunks, pr->n_chunks, pr->vecs, err)))
            goto fail;
    }
    /* The long copy happens here, outside any lock; commit only checks
     * that the file is still there. */
    if ((rc = store_original(s, path, pr->sha, err)))
        goto fail;
    *out = pr;
    return 0;
fail:
    hh_ingest_prepared_free(pr);
    return rc;
}

int hh_ingest_prepare(hh_store_t *s, const char *path, const char *source_path, int64_t collection_id,
                      const hh_ingest_params_t *p, bool extract, hh_ingest_prepared_t **out, hh_err_t *err)
{
    return prepare_file(s, path, source_path, collection_id, p, false, extract, out, err);
}

int hh_ingest_commit(hh_store_t *s, hh_ingest_prepared_t *pr, int64_t user_id, hh_ingest_file_t *out, hh_err_t *err)
{
    hh_ingest_file_t r = { .path = pr->path, .status = HH_INGEST_FAILED, .bytes = pr->bytes };
    hh_err_clear(&r.err);
    hh_store_chunk_in_t *in = NULL;
    char old[HH_SHA256_HEX_LEN + 1] = "";
    /* Dedup is decided here, under the caller's lock, not at prepare time:
     * of two uploads of the same bytes only the first is stored. */
    hh_store_doc_t existing;
    int rc = pr->reextract ? HH_ENOENT : hh_store_doc_find_by_hash(s, pr->collection_id, pr->sha, &existing, &r.err);
    if (rc == 0) {
        r.status = HH_INGEST_UNCHANGED;
        r.doc_id = existing.id;
        r.n_chunks = (size_t)existing.n_chunks;
        snprintf(r.encoding, sizeof r.encoding, "%s", existing.encoding);
        goto done;
    }
    if (rc != HH_ENOENT)
        goto done;
    hh_err_clear(&r.err);
    if (pr->same_hash) {
        rc = hh_err_set(&r.err, HH_ESTATE, -1, "the document with these bytes was removed during the upload; send it again");
        goto done;
    }
    /* A concurrent delete may have removed a stored original of the same
     * bytes since prepare: put it back (nothing to do when it is there). */
    if ((rc = store_original(s, pr->path, pr->sha, &r.err)))
        goto done;
    if (pr->n_chunks && !(in = calloc(pr->n_chunks, sizeof *in))) {
        rc = hh_err_set(&r.err, HH_ENOMEM, -1, "out of memory");
        goto done;
    }
    int32_t dim = pr->embedder ? pr->embedder->dim : 0;
    for (size_t i = 0; i < pr->n_chunks; i++)
        in[i] = (hh_store_chunk_in_t){ pr->chunks[i].text, pr->chunks[i].heading_path, pr->chunks[i].page,
                                       pr->chunks[i].n_tokens, pr->vecs ? pr->vecs + i * (size_t)dim : NULL,
                                       pr->langs ? pr->langs[i] : NULL, pr->terms ? pr->terms[i] : NULL,
                                       pr->terms_level };
    const char *base = strrchr(pr->source_path, '/');
    base = base ? base + 1 : pr->source_path;
    hh_store_doc_in_t di = {
        .collection_id = pr->collection_id,
        .title = pr->doc.title && pr->doc.title[0] ? pr->doc.title : base,
        .source_path = pr->source_path,
        .mime = pr->doc.mime ? pr->doc.mime : "application/octet-stream",
        .sha256 = pr->sha,
        .size = pr->bytes,
        .user_id = user_id,
        .chunks = in,
        .n_chunks = pr->n_chunks,
        .vec_model = pr->embedder ? pr->embedder->name : NULL,
        .vec_dim = dim,
        .encoding = pr->doc.encoding,
    };
    char title[HH_STORE_TITLE_MAX];
    if (strlen(di.title) >= sizeof title) { /* cut at a character start */
        size_t n = sizeof title - 1;
        while (n > 0 && ((unsigned char)di.title[n] & 0xC0) == 0x80)
            n--;
        memcpy(title, di.title, n);
        title[n] = '\0';
        di.title = title;
    }
    if ((rc = hh_store_doc_replace(s, &di, &r.doc_id, old, &r.err))) {
        drop_original(s, pr->sha);
        goto done;
    }
    r.status = old[0] ? HH_INGEST_UPDATED : HH_INGEST_ADDED;
    snprintf(r.encoding, sizeof r.encoding, "%s", pr->doc.encoding ? pr->doc.encoding : "");
    r.n_chunks = pr->n_chunks;
    if (old[0] && strcmp(old, pr->sha) != 0)
        drop_original(s, old);
done:
    r.seconds = now_s() - pr->t0;
    if (rc)
        r.status = HH_INGEST_FAILED;
    free(in);
    if (rc && err)
        *err = r.err;
    if (out)
        *out = r;
    return rc;
}

/* One file; reextract: extract even when the collection has the same
 * hash (reingest), with the source path as the file name's hint. */
static int ingest_one_file(hh_store_t *s, const char *path, const char *source_path, int64_t collection_id,
                           int64_t user_id, const hh_ingest_params_t *p, bool reextract, hh_ingest_file_t *out,
                           hh_err_t *err)
{
    hh_ingest_prepared_t *pr = NULL;
    hh_err_t e;
    hh_err_clear(&e);
    int rc = prepare_file(s, path, source_path, collection_id, p, reextract, false, &pr, &e);
    if (rc) {
        if (out)
            *out = (hh_ingest_file_t){ .path = path, .status = HH_INGEST_FAILED, .err = e };
        if (err)
            *err = e;
        return rc;
    }
    rc = hh_ingest_commit(s, pr, user_id, out, err);
    if (out)
        out->path = path;   /* pr's copy dies below */
    hh_ingest_prepared_free(pr);
    return rc;
}

int hh_ingest_file(hh_store_t *s, const char *path, const char *source_path, int64_t collection_id,
                   int64_t user_id, const hh_ingest_params_t *p, hh_ingest_file_t *out, hh_err_t *err)
{
    return ingest_one_file(s, path, source_path, collection_id, user_id, p, false, out, err);
}

int hh_ingest_reingest(hh_store_t *s, int64_t doc_id, const hh_ingest_params_t *p, hh_ingest_file_t *out,
                       hh_err_t *err)
{
    hh_store_doc_t d;
    int rc = hh_store_doc_get(s, doc_id, &d, err);
    if (rc)
        return rc;
    char path[PATH_MAX];
    if ((rc = hh_ingest_file_path(s, d.sha256, path, sizeof path, err)))
        return rc;
    if (access(path, R_OK) != 0)
        return hh_err_set(err, HH_ENOENT, -1, "document %lld: its stored original %s is missing%s", (long long)doc_id,
                          path, errno == ENOENT ? " (erased, or lost: ingest the file again)" : "");
    /* ingested_by stays who it was (0 = unknown: the user was deleted) */
    int64_t uid = 0;
    hh_store_user_t u;
    if (d.ingested_by[0] && hh_store_user_get(s, d.ingested_by, &u, NULL) == 0)
        uid = u.id;
    return ingest_one_file(s, path, d.source_path, d.collection_id, uid, p, true, out, err);
}

/* ---- folders ---------------------------------------------------------- */

typedef struct walk {
    hh_store_t               *s;
    int64_t                   coll, user;
    const hh_ingest_params_t *p;
    hh_ingest_progress_fn     cb;
    void                     *ctx;
    hh_ingest_totals_t       *tot;
} walk_t;

static void account(walk_t *w, hh_ingest_file_t *r)
{
    hh_ingest_totals_t *t = w->tot;
    t->files++;
    switch (r->status) {
    case HH_INGEST_ADDED: t->added++; break;
    case HH_INGEST_UPDATED: t->updated++; break;
    case HH_INGEST_UNCHANGED: t->unchanged++; break;
    default: t->failed++; break;
    }
    if (r->status == HH_INGEST_ADDED || r->status == HH_INGEST_UPDATED) {
        t->chunks += r->n_chunks;
        t->bytes += r->bytes;
    }
    if (w->cb)
        w->cb(w->ctx, r);
}

static void ingest_one(walk_t *w, const char *path)
{
    char abs[PATH_MAX];
    hh_ingest_file_t r;
    /* The stored source path is absolute, so a rerun from another folder
     * finds the same document. */
    if (!realpath(path, abs)) {
        memset(&r, 0, sizeof r);
        r.path = path;
        r.status = HH_INGEST_FAILED;
        hh_err_set(&r.err, HH_ENOENT, -1, "cannot resolve: %s", strerror(errno));
    } else {
        hh_ingest_file(w->s, path, abs, w->coll, w->user, w->p, &r, NULL);
        r.path = path;
    }
    account(w, &r);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void walk_dir(walk_t *w, const char *dir, int depth)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0) {
        hh_ingest_file_t r = { .path = dir, .status = HH_INGEST_FAILED };
        hh_err_set(&r.err, HH_EIO, -1, "cannot read folder: %s", strerror(errno));
        account(w, &r);
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        if (nm[0] == '.')
            continue;
        size_t len = strlen(dir) + strlen(nm) + 2;
        char *p = malloc(len);
        if (!p)
            continue;
        snprintf(p, len, "%s/%s", dir, nm);
        struct stat ls, st;
        if (lstat(p, &ls) == 0 && stat(p, &st) == 0) {
            /* Directories are entered only when they are real ones (no
             * symlinked folders: no loops), and not beyond 64 levels. */
            if (S_ISDIR(st.st_mode)) {
                if (!S_ISLNK(ls.st_mode) && depth < 64)
                    walk_dir(w, p, depth + 1);
            } else if (S_ISREG(st.st_mode)) {
                ingest_one(w, p);
            }
        }
        free(p);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int hh_ingest_paths(hh_store_t *s, const char *const *paths, size_t n_paths, const char *collection,
                    int64_t user_id, const hh_ingest_params_t *p, hh_ingest_progress_fn cb, void *ctx,
                    hh_ingest_totals_t *totals, hh_err_t *err)
{
    hh_ingest_totals_t local;
    if (!totals)
        totals = &local;
    memset(totals, 0, sizeof *totals);
    hh_ingest_params_t pp = p ? *p : hh_ingest_default_params();
    hh_store_collection_t c;
    int rc = hh_store_collection_get(s, collection, &c, err);
    if (rc)
        return rc;
    if (user_id > 0) {
        hh_right_t r = HH_RIGHT_NONE;
        if ((rc = hh_store_user_collection_right(s, user_id, c.id, &r, err)))
            return rc;
        if (r == HH_RIGHT_NONE)
            /* Same answer as for a missing collection: no hint that it exists. */
            return hh_err_set(err, HH_ENOENT, -1, "store: no collection '%s'", collection);
        if (r < HH_RIGHT_WRITE)
            return hh_err_set(err, HH_ESTATE, -1, "collection '%s': needs write (have read)", collection);
    }
    hh_ingest_embedder_t *own = NULL;
    if (!pp.embedder && pp.embed_model) {
        if ((rc = hh_ingest_embedder_open(&own, pp.embed_model, pp.threads, err)))
            return rc;
        pp.embedder = own;
    }
    hh_analyzer_t *own_an = NULL;
    if (!pp.analyzer) {
        if ((rc = hh_analyzer_create(&own_an, NULL, err))) {
            hh_ingest_embedder_free(own);
            return rc;
        }
        pp.analyzer = own_an;
    }
    double t0 = now_s();
    walk_t w = { s, c.id, user_id, &pp, cb, ctx, totals };
    for (size_t i = 0; i < n_paths; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            walk_dir(&w, paths[i], 0);
        } else {
            ingest_one(&w, paths[i]);
        }
    }
    totals->seconds = now_s() - t0;
    hh_ingest_embedder_free(own);
    hh_analyzer_free(own_an);
    return 0;
}
