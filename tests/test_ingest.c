/* test_ingest.c - ingestion: folders, hidden files and symlink loops,
 * hash skip, replace on change, stored originals, delete, gc, a failing
 * file that fails alone; uploads through the real server: a slow
 * extraction blocks no other upload, concurrent uploads of one path end as
 * one document, a forbidden upload is refused before its body is stored. */
#include "harness.h"
#include "http_helpers.h"
#include "kb/ingest.h"
#include "store/store_int.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static long long q_int(hh_store_t *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int count_files(hh_store_t *s)
{
    /* Stored originals: rows of documents whose file exists. */
    hh_store_doc_t *d = NULL;
    size_t n = 0;
    int k = 0;
    if (hh_store_doc_list(s, 0, 0, &d, &n, NULL) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char p[2048];
        if (hh_ingest_file_path(s, d[i].sha256, p, sizeof p, NULL) == 0 && access(p, R_OK) == 0)
            k++;
    }
    free(d);
    return k;
}

typedef struct seen {
    int  n_failed;
    char failed[256];
} seen_t;

static void on_file(void *ctx, const hh_ingest_file_t *f)
{
    seen_t *s = ctx;
    if (f->status == HH_INGEST_FAILED) {
        s->n_failed++;
        snprintf(s->failed, sizeof s->failed, "%s", f->path);
    }
}

TEST(ingest_folder_skip_replace_delete)
{
    char root[512], docs[600], sub[700], data[600];
    snprintf(root, sizeof root, "%s/ingest1", hh_test_tmpdir());
    snprintf(docs, sizeof docs, "%s/docs", root);
    snprintf(sub, sizeof sub, "%s/docs/sub", root);
    snprintf(data, sizeof data, "%s/data", root);
    mkdir(root, 0700);
    mkdir(docs, 0700);
    mkdir(sub, 0700);
    write_file(docs, "travel.md", "# Travel\n\n## Hotels\n\nHotels are booked by the travel desk.\n\n- Max 120 EUR\n");
    write_file(docs, "notes.txt", "Plain notes about the quarterly review.\n");
    write_file(sub, "deep.txt", "A file in a subfolder about parking rules.\n");
    write_file(docs, ".hidden.txt", "never ingested\n");
    write_file(docs, "empty.txt", "");   /* fails alone: 0 bytes */
    char link[800];
    snprintf(link, sizeof link, "%s/loop", sub);
    ASSERT_OK(symlink("..", link));      /* a folder loop, never entered */

    hh_store_t *s = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&s, data, &err));
    ASSERT_OK(hh_store_collection_ensure(s, "handbook", NULL, 0, NULL, &err));
    const char *paths[] = { docs };
    hh_ingest_totals_t t;
    seen_t seen = { 0 };
    ASSERT_OK(hh_ingest_paths(s, paths, 1, "handbook", 0, NULL, on_file, &seen, &t, &err));
    ASSERT_EQ_INT(t.files, 4);
    ASSERT_EQ_INT(t.added, 3);
    ASSERT_EQ_INT(t.failed, 1);
    ASSERT_EQ_INT(seen.n_failed, 1);
    ASSERT_TRUE(strstr(seen.failed, "empty.txt") != NULL);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM documents"), 3);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'hotels'"), 1);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks WHERE heading_path = 'Travel \xE2\x80\xBA Hotels'"), 1);
    ASSERT_EQ_INT(count_files(s), 3);
    ASSERT_EQ_INT(t.chunks, (size_t)q_int(s, "SELECT COUNT(*) FROM chunks"));

    /* Rerun: everything unchanged (the empty file fails again). */
    ASSERT_OK(hh_ingest_paths(s, paths, 1, "handbook", 0, NULL, NULL, NULL, &t, &err));
    ASSERT_EQ_INT(t.unchanged, 3);
    ASSERT_EQ_INT(t.added + t.updated, 0);

    /* A changed file replaces its document; the old original goes. */
    char np[800];
    snprintf(np, sizeof np, "%s/notes.txt", docs);
    hh_store_doc_t before;
    char abs[4096];
    ASSERT_TRUE(realpath(np, abs) != NULL);
    hh_store_collection_t c;
    ASSERT_OK(hh_store_collection_get(s, "handbook", &c, &err));
    ASSERT_OK(hh_store_doc_find_by_path(s, c.id, abs, &before, &err));
    char oldfile[2048];
    ASSERT_OK(hh_ingest_file_path(s, before.sha256, oldfile, sizeof oldfile, &err));
    ASSERT_EQ_INT(access(oldfile, R_OK), 0);
    write_file(docs, "notes.txt", "Revised notes: the review moved to Friday.\n");
    ASSERT_OK(hh_ingest_paths(s, paths, 1, "handbook", 0, NULL, NULL, NULL, &t, &err));
    ASSERT_EQ_INT(t.updated, 1);
    ASSERT_EQ_INT(t.unchanged, 2);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM documents"), 3);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'quarterly'"), 0);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'friday'"), 1);
    ASSERT_NE_INT(access(oldfile, F_OK), 0);

    /* Delete: chunks and the stored file go. */
    hh_store_doc_t after;
    ASSERT_OK(hh_store_doc_find_by_path(s, c.id, abs, &after, &err));
    char newfile[2048];
    ASSERT_OK(hh_ingest_file_path(s, after.sha256, newfile, sizeof newfile, &err));
    ASSERT_OK(hh_ingest_delete(s, after.id, &err));
    ASSERT_NE_INT(access(newfile, F_OK), 0);
    ASSERT_EQ_INT(hh_ingest_delete(s, after.id, &err), HH_ENOENT);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'friday'"), 0);

    /* gc: an orphan (as a crash between copy and commit leaves) goes,
     * referenced files stay. */
    char orphan[2048];
    const char *osha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    ASSERT_OK(hh_ingest_file_path(s, osha, orphan, sizeof orphan, &err));
    char odir[2048];
    snprintf(odir, sizeof odir, "%s/files/01", data);
    mkdir(odir, 0700);
    write_file(odir, osha, "orphan");
    write_file(odir, ".tmp-x-1", "partial");
    size_t removed = 0;
    ASSERT_OK(hh_ingest_gc(s, 3600, &removed, &err));
    ASSERT_EQ_INT(removed, 0);   /* too young */
    ASSERT_OK(hh_ingest_gc(s, 0, &removed, &err));
    ASSERT_EQ_INT(removed, 2);
    ASSERT_NE_INT(access(orphan, F_OK), 0);
    ASSERT_EQ_INT(count_files(s), 2);

    /* Unknown collection, no access: HH_ENOENT before any file is read. */
    ASSERT_EQ_INT(hh_ingest_paths(s, paths, 1, "nope", 0, NULL, NULL, NULL, &t, &err), HH_ENOENT);
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_ensure(s, "mallory", "member", &u, NULL, &err));
    ASSERT_EQ_INT(hh_ingest_paths(s, paths, 1, "handbook", u.id, NULL, NULL, NULL, &t, &err), HH_ENOENT);
    ASSERT_EQ_INT(t.files, 0);
    hh_store_close(s);
}

TEST(ingest_with_embedder_stores_vectors)
{
    const char *model = hh_test_data_path("reference/bert-q8_0.gguf");
    if (access(model, R_OK) != 0) {
        hh_test_fail(__FILE__, __LINE__, "missing test model %s", model);
        return;
    }
    char root[512], docs[600], data[600];
    snprintf(root, sizeof root, "%s/ingest-embed", hh_test_tmpdir());
    snprintf(docs, sizeof docs, "%s/docs", root);
    snprintf(data, sizeof data, "%s/data", root);
    mkdir(root, 0700);
    mkdir(docs, 0700);
    write_file(docs, "policy.md",
               "# Policy\n\nEmployees book hotels through the travel desk. Receipts are kept for ten years.\n\n"
               "## Cars\n\nRental cars need approval from the department head before the trip starts.\n");
    hh_store_t *s = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&s, data, &err));
    ASSERT_OK(hh_store_collection_ensure(s, "pol", NULL, 0, NULL, &err));
    hh_ingest_embedder_t *e = NULL;
    ASSERT_OK(hh_ingest_embedder_open(&e, model, 1, &err));
    hh_ingest_params_t p = hh_ingest_default_params();
    p.embedder = e;
    const char *paths[] = { docs };
    hh_ingest_totals_t t;
    ASSERT_OK(hh_ingest_paths(s, paths, 1, "pol", 0, &p, NULL, NULL, &t, &err));
    ASSERT_EQ_INT(t.added, 1);
    ASSERT_EQ_INT(t.chunks, 2);   /* one per heading section */
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunk_vectors"), 2);
    ASSERT_EQ_INT(q_int(s, "SELECT MIN(dim) FROM chunk_vectors"), hh_ingest_embedder_dim(e));
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunk_vectors WHERE model = 'bert-q8_0.gguf'"), 2);
    /* Stored vectors are the embedder's L2-normalized output. */
    sqlite3_stmt *st = NULL;
    ASSERT_EQ_INT(sqlite3_prepare_v2(s->db, "SELECT vec FROM chunk_vectors", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const float *v = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0) / 4;
        double ss = 0;
        for (int i = 0; i < n; i++)
            ss += (double)v[i] * v[i];
        if (fabs(ss - 1.0) > 1e-3) {
            hh_test_fail(__FILE__, __LINE__, "vector norm^2: expected 1, got %g", ss);
            break;
        }
    }
    sqlite3_finalize(st);
    /* Token counts are WordPiece counts: more than the word estimate's floor. */
    ASSERT_GE(q_int(s, "SELECT MIN(n_tokens) FROM chunks"), 10);
    hh_ingest_embedder_free(e);
    hh_store_close(s);
}

/* ---- uploads over HTTP (the real server) ---------------------------------- */

/* A PDF that pdftotext takes seconds on while it is a few kilobytes
 * compressed or, here, one content stream shared by every page: each page
 * draws reps line segments (no text to extract, so the output stays tiny
 * and the time is all parsing). The hostile document of issue 12 finding 6
 * was of this kind. *len receives its size; caller frees. */
static char *slow_pdf(int pages, int reps, size_t *len)
{
    size_t cap = (size_t)reps * 16 + (size_t)pages * 160 + 4096;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    size_t n = 0, off[4096];
    int nobj = 0;
#define OUT(...) (n += (size_t)snprintf(b + n, cap - n, __VA_ARGS__))
    OUT("%%PDF-1.4\n");
    off[nobj++] = n;
    OUT("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    off[nobj++] = n;
    OUT("2 0 obj\n<< /Type /Pages /Count %d /Kids [", pages);
    for (int i = 0; i < pages; i++)
        OUT(" %d 0 R", 4 + i);
    OUT(" ] >>\nendobj\n");
    static const char op[] = "0 0 m 1 1 l S\n", text[] = "BT /F1 12 Tf 72 720 Td (Slow page) Tj ET\n";
    size_t slen = sizeof text - 1 + (size_t)reps * (sizeof op - 1);
    off[nobj++] = n;
    OUT("3 0 obj\n<< /Length %zu >>\nstream\n%s", slen, text);
    for (int i = 0; i < reps; i++)
        OUT("%s", op);
    OUT("\nendstream\nendobj\n");
    for (int i = 0; i < pages; i++) {
        off[nobj++] = n;
        OUT("%d 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
            "/Resources << /Font << /F1 %d 0 R >> >> >>\nendobj\n", 4 + i, 4 + pages);
    }
    off[nobj++] = n;
    OUT("%d 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n", 4 + pages);
    size_t xref = n;
    OUT("xref\n0 %d\n0000000000 65535 f \n", nobj + 1);
    for (int i = 0; i < nobj; i++)
        OUT("%010zu 00000 n \n", off[i]);
    OUT("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", nobj + 1, xref);
#undef OUT
    *len = n;
    return b;
}

/* A multipart body: the field "collection" first, then the file. */
static char *form_body(const char *coll, const char *name, const char *data, size_t dlen, size_t *len)
{
    char head[512];
    int h = snprintf(head, sizeof head,
                     "--hhB0undary\r\nContent-Disposition: form-data; name=\"collection\"\r\n\r\n%s\r\n"
                     "--hhB0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n",
                     coll, name);
    static const char tail[] = "\r\n--hhB0undary--\r\n";
    char *b = malloc((size_t)h + dlen + sizeof tail);
    if (!b)
        return NULL;
    memcpy(b, head, (size_t)h);
    memcpy(b + h, data, dlen);
    memcpy(b + h + dlen, tail, sizeof tail);
    *len = (size_t)h + dlen + sizeof tail - 1;
    return b;
}

typedef struct up_job {
    int          port;
    const char  *key, *coll, *name;
    const char  *data;
    size_t       dlen;
    atomic_int  *seq;        /* completion order, shared */
    int          status;     /* the answer's status */
    int          order;      /* this job's place in the completion order */
    atomic_bool  done;
} up_job_t;

static void *up_run(void *arg)
{
    up_job_t *j = arg;
    size_t blen = 0;
    char *body = form_body(j->coll, j->name, j->data, j->dlen, &blen);
    hh_test_resp_t r;
    hh_test_req_t q = { .method = "POST", .path = "/api/documents", .key = j->key,
                        .ctype = "multipart/form-data; boundary=hhB0undary", .body = body, .body_len = blen };
    j->status = body && hh_test_http_req(j->port, &q, &r) == 0 ? r.status : -1;
    if (j->status >= 300)
        printf("    upload of %s to %s: %d %s\n", j->name, j->coll, j->status, r.body ? r.body : "");
    if (body && j->status > 0)
        hh_test_resp_free(&r);
    free(body);
    j->order = atomic_fetch_add(j->seq, 1);
    atomic_store(&j->done, true);
    return NULL;
}

/* Two departments, one collection each: "xu" writes x, "yu" writes y. */
static void two_departments(hh_test_srv_t *t, char *kx, char *ky)
{
    hh_err_t err;
    const char *dx[] = { "Engineering" }, *dy[] = { "HR" };
    ASSERT_OK(hh_test_srv_user(t, "xu", "member", kx, NULL));
    ASSERT_OK(hh_test_srv_user(t, "yu", "member", ky, NULL));
    ASSERT_OK(hh_store_user_add_department(t->st, "xu", "Engineering", &err));
    ASSERT_OK(hh_store_user_add_department(t->st, "yu", "HR", &err));
    ASSERT_OK(hh_store_collection_ensure(t->st, "x", dx, 1, NULL, &err));
    ASSERT_OK(hh_store_collection_ensure(t->st, "y", dy, 1, NULL, &err));
    /* the departments upload into their own collections (create gives read) */
    ASSERT_OK(hh_store_collection_grant(t->st, "x", "Engineering", HH_RIGHT_WRITE, NULL, &err));
    ASSERT_OK(hh_store_collection_grant(t->st, "y", "HR", HH_RIGHT_WRITE, NULL, &err));
}

/* Issue 12 finding 6: a slow document in collection x held the document
 * lock through its extraction, so an upload to y waited for it. Now y's
 * upload completes while x's is still extracting. Ordering, not time: on
 * main y always finished second. */
TEST(ingest_http_slow_extraction_blocks_no_other_upload)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "ingest_http_slow", NULL));
    char kx[HH_KEY_LEN + 1], ky[HH_KEY_LEN + 1];
    two_departments(&t, kx, ky);
    size_t plen = 0;
    char *pdf = slow_pdf(60, 100000, &plen);
    ASSERT_TRUE(pdf != NULL);
    atomic_int seq = 0;
    up_job_t jx = { .port = t.port, .key = kx, .coll = "x", .name = "slow.pdf", .data = pdf, .dlen = plen,
                    .seq = &seq };
    up_job_t jy = { .port = t.port, .key = ky, .coll = "y", .name = "quick.md",
                    .data = "# Quick\n\nA short note.\n", .seq = &seq };
    jy.dlen = strlen(jy.data);
    atomic_init(&jx.done, false);
    atomic_init(&jy.done, false);
    pthread_t tx;
    ASSERT_EQ_INT(pthread_create(&tx, NULL, up_run, &jx), 0);
    usleep(700 * 1000);   /* x's body is in and its extraction under way */
    ASSERT_FALSE(atomic_load(&jx.done));
    up_run(&jy);
    bool x_still_running = !atomic_load(&jx.done);
    pthread_join(tx, NULL);
    printf("    slow pdf (%zu bytes) to x: %d; quick upload to y: %d, finished %s\n", plen, jx.status, jy.status,
           jy.order < jx.order ? "first" : "after x");
    ASSERT_EQ_INT(jy.status, 201);
    ASSERT_EQ_INT(jx.status, 201);   /* the slow one was really extracted */
    ASSERT_TRUE(x_still_running);
    ASSERT_EQ_INT(jy.order, 0);
    ASSERT_EQ_INT(jx.order, 1);
    free(pdf);
    hh_test_srv_stop(&t);
}

static long long tree_bytes(const char *dir);

/* Extraction runs in parallel now; the dedup by sha256 and the replace by
 * source path still hold: 8 uploads of the same name at once (4 contents,
 * each twice) end as one document of that name, and each content that
 * was committed more than once was "unchanged" the second time. */
TEST(ingest_http_same_path_at_once_one_document)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "ingest_http_same_path", NULL));
    char kx[HH_KEY_LEN + 1], ky[HH_KEY_LEN + 1];
    two_departments(&t, kx, ky);
    enum { N = 8 };
    char texts[N / 2][64];
    up_job_t jobs[N];
    pthread_t th[N];
    atomic_int seq = 0;
    for (int i = 0; i < N / 2; i++)
        snprintf(texts[i], sizeof texts[i], "# Same\n\nVersion %d of the same file.\n", i);
    for (int i = 0; i < N; i++) {
        jobs[i] = (up_job_t){ .port = t.port, .key = kx, .coll = "x", .name = "same.md", .data = texts[i % (N / 2)],
                              .dlen = strlen(texts[i % (N / 2)]), .seq = &seq };
        atomic_init(&jobs[i].done, false);
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, up_run, &jobs[i]), 0);
    }
    int created = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ASSERT_TRUE(jobs[i].status == 201 || jobs[i].status == 200);
        created += jobs[i].status == 201;
    }
    ASSERT_GE(created, 1);
    hh_store_doc_t *d = NULL;
    size_t n = 0;
    hh_err_t err;
    ASSERT_OK(hh_store_doc_list(t.st, 0, 0, &d, &n, &err));
    ASSERT_EQ_INT(n, 1);
    ASSERT_STREQ(d[0].source_path, "upload:same.md");
    /* its chunks are there once, and its stored original too */
    ASSERT_EQ_INT(q_int(t.st, "SELECT count(*) FROM chunks"), d[0].n_chunks);
    ASSERT_EQ_INT(count_files(t.st), 1);
    char files[700];
    snprintf(files, sizeof files, "%s/files", t.data);
    ASSERT_EQ_INT(tree_bytes(files), d[0].size);   /* no other original, no temp copy left */
    free(d);
    hh_test_srv_stop(&t);
}

/* Bytes of regular files under dir (recursively); 0 when it is missing. */
static long long tree_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    long long sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            sum += tree_bytes(p);
        else if (S_ISREG(st.st_mode))
            sum += st.st_size;
    }
    closedir(d);
    return sum;
}

static int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends all of b, or stops at the first failure (the server closed):
 * returns the bytes sent. */
static size_t send_some(int fd, const char *b, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = send(fd, b + done, n - done > 65536 ? 65536 : n - done, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    return done;
}

/* Reads what the server answers within ms milliseconds (up to cap - 1
 * bytes, NUL-terminated); returns the bytes read, -1 when it closed with
 * a reset and nothing came. */
static ssize_t read_answer(int fd, char *buf, size_t cap, int ms)
{
    size_t n = 0;
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, ms) <= 0)
            break;
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r < 0 && n == 0)
                return -1;
            break;
        }
        n += (size_t)r;
        if (n + 1 >= cap)
            break;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

/* Issue 12 finding 8: an upload to a collection the caller may not write
 * was streamed into DATA/tmp in full (up to 256 MB) and refused only at
 * its end. Now the refusal comes before any byte of the file is written:
 * with ?collection= in the query string the 404 answer comes right after
 * the headers; with the collection as the form's first field the
 * connection is closed when the file part begins. */
TEST(ingest_http_forbidden_upload_refused_before_body)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "ingest_http_forbidden", NULL));
    char kx[HH_KEY_LEN + 1], ky[HH_KEY_LEN + 1];
    two_departments(&t, kx, ky);
    char tmp[700], files[700];
    snprintf(tmp, sizeof tmp, "%s/tmp", t.data);
    snprintf(files, sizeof files, "%s/files", t.data);
    const size_t big = (size_t)64 << 20;   /* 64 MiB of file */
    char *data = malloc(big);
    ASSERT_TRUE(data != NULL);
    memset(data, 'A', big);
    size_t blen = 0;
    char *body = form_body("y", "big.bin", data, big, &blen);   /* xu may not see y */
    free(data);
    ASSERT_TRUE(body != NULL);
    char head[1024], ans[4096];

    /* 1. the collection in the form, ahead of the file (what every client
     * sent so far): no byte reaches DATA/tmp, the server stops reading */
    int fd = connect_local(t.port);
    ASSERT_TRUE(fd >= 0);
    int hl = snprintf(head, sizeof head,
                      "POST /api/documents HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: multipart/form-data; boundary=hhB0undary\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      kx, blen);
    ASSERT_EQ_INT(send_some(fd, head, (size_t)hl), (size_t)hl);
    size_t first = (size_t)8 << 20;
    size_t sent = send_some(fd, body, first);
    usleep(500 * 1000);
    long long in_tmp = tree_bytes(tmp);
    if (sent == first)
        sent += send_some(fd, body + first, blen - first);
    ssize_t got = read_answer(fd, ans, sizeof ans, 2000);
    close(fd);
    printf("    form field first: sent %zu of %zu bytes, %lld bytes in DATA/tmp meanwhile, answer: %.12s\n", sent, blen,
           in_tmp, got > 0 ? ans : "(connection closed)");
    ASSERT_EQ_INT(in_tmp, 0);
    ASSERT_TRUE(sent < blen);
    ASSERT_TRUE(got <= 0 || strncmp(ans, "HTTP/1.1 2", 10) != 0);

    /* 2. the collection in the query string: 404, the same answer as for a
     * missing collection, before the client sends the body */
    const char *names[] = { "y", "nosuch" };
    for (int i = 0; i < 2; i++) {
        fd = connect_local(t.port);
        ASSERT_TRUE(fd >= 0);
        hl = snprintf(head, sizeof head,
                      "POST /api/documents?collection=%s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: multipart/form-data; boundary=hhB0undary\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      names[i], kx, blen);
        ASSERT_EQ_INT(send_some(fd, head, (size_t)hl), (size_t)hl);
        got = read_answer(fd, ans, sizeof ans, 5000);   /* nothing of the body sent yet */
        close(fd);
        ASSERT_TRUE(got > 0);
        ASSERT_TRUE(strncmp(ans, "HTTP/1.1 404", 12) == 0);
        ASSERT_TRUE(strstr(ans, "collection_not_found") != NULL);
    }
    /* an auditor may read y but not change it: 403, also before the body */
    char ka[HH_KEY_LEN + 1];
    hh_err_t err;
    ASSERT_OK(hh_test_srv_user(&t, "audrey", "auditor", ka, NULL));
    ASSERT_OK(hh_store_user_add_department(t.st, "audrey", "HR", &err));
    fd = connect_local(t.port);
    ASSERT_TRUE(fd >= 0);
    hl = snprintf(head, sizeof head,
                  "POST /api/documents?collection=y HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
                  "Content-Type: multipart/form-data; boundary=hhB0undary\r\nContent-Length: %zu\r\n"
                  "Connection: close\r\n\r\n",
                  ka, blen);
    ASSERT_EQ_INT(send_some(fd, head, (size_t)hl), (size_t)hl);
    got = read_answer(fd, ans, sizeof ans, 5000);
    close(fd);
    ASSERT_TRUE(got > 0 && strncmp(ans, "HTTP/1.1 403", 12) == 0);
    free(body);
    /* nothing was kept anywhere */
    ASSERT_EQ_INT(tree_bytes(tmp), 0);
    ASSERT_EQ_INT(tree_bytes(files), 0);

    /* the allowed uploads still work both ways, and a collection named
     * after the file is refused (the check must come first) */
    size_t sl = 0;
    char *small = form_body("x", "note.md", "# Note\n\nA note.\n", 16, &sl);
    ASSERT_TRUE(small != NULL);
    hh_test_resp_t r;
    hh_test_req_t q = { .method = "POST", .path = "/api/documents?collection=x", .key = kx,
                        .ctype = "multipart/form-data; boundary=hhB0undary", .body = small, .body_len = sl };
    ASSERT_OK(hh_test_http_req(t.port, &q, &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    q.path = "/api/documents?collection=y";   /* query and form disagree */
    ASSERT_OK(hh_test_http_req(t.port, &q, &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    free(small);
    ASSERT_EQ_INT(tree_bytes(tmp), 0);
    hh_test_srv_stop(&t);
}
