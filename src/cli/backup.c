/* backup.c - `hoheit backup` / `hoheit restore` (backup.h has the layout).
 *
 * Consistency of the database and files/ while the server writes.
 * The server stores an original under files/xx/<sha256> (temp name, fsync,
 * rename) BEFORE the document row that references it commits, and removes
 * it only AFTER the row is gone (delete, GDPR erasure). Files are never
 * changed in place. So the backup runs:
 *   1. copy every stored file that exists now (hash checked against its name);
 *   2. snapshot the database (one read transaction);
 *   3. for every original the snapshot references: already copied in 1, or
 *      (uploaded between 1 and 2) copied now; its file existed when its row
 *      committed, so it is missing now only if the document was deleted
 *      after the snapshot - then the whole backup is taken again (a few
 *      tries: the window is 2-3, milliseconds to seconds, not the long copy
 *      of step 1);
 *   4. remove from the backup the files copied in 1 that the snapshot does
 *      not reference (deleted or GDPR-erased meanwhile): a backup must not
 *      bring back erased content, and restore can check "every listed file
 *      is referenced or a key".
 * Copying in the other order (snapshot first, then all of files/) would
 * have to retry on every delete during the whole, possibly long, file copy.
 * Keys are copied after the snapshot: they are written once and never
 * change, and one the snapshot relies on (audit.key, created with the first
 * audit record) exists by then.
 *
 * The audit record of a backup ("admin", decision "backup") is appended to
 * the LIVE log after the backup is complete, with the manifest's sha256 and
 * the last audit seq the snapshot holds: it binds this exact backup to the
 * chain. It cannot be inside the backup itself (its content would change
 * the hash it records); the backup's own log ends just before it. Restore
 * appends a "restore" record to the restored log. */
#include "cli/backup.h"
#include "cli/cmd.h"
#include "base/fs.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_ATTEMPTS 5
#define SHA_HEX      65

/* Top-level files of a data directory that are copied when present: the
 * install secret (API keys, sessions), the audit signing key and its public
 * half, the names list of PII redaction. Any other *.key / *.pub is copied
 * too (a key added later must not be lost by an old list). */
static const char *const g_key_files[] = { "secret.key", "audit.key", "audit.pub", "pii-names.txt" };

/* ---- small file helpers -------------------------------------------------- */

static int join(char *buf, size_t cap, const char *a, const char *b, hh_err_t *err)
{
    if (snprintf(buf, cap, "%s/%s", a, b) >= (int)cap)
        return hh_err_set(err, HH_EINVAL, -1, "path too long: %s/%s", a, b);
    return 0;
}

static bool is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == 64;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n > m && !strcmp(s + n - m, suf);
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Reads src (no symlinks) and, when dst is not NULL, writes it to dst
 * (created 0600, must not exist), hashing on the way. HH_ENOENT when src
 * does not exist. Not fsync'ed here: sync_tree makes the whole copy
 * durable with one syncfs before it is renamed into place (one fsync per
 * stored file made a backup of 2000 documents 5x slower). */
static int copy_hash(const char *src, const char *dst, char hex[SHA_HEX], int64_t *size, hh_err_t *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), out = -1, rc = 0;
    if (in < 0)
        return hh_err_set(err, errno == ENOENT ? HH_ENOENT : HH_EIO, -1, "cannot open %s: %s", src, strerror(errno));
    struct stat sb;
    if (fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(in);
        return hh_err_set(err, HH_EINVAL, -1, "%s is not a regular file", src);
    }
    if (dst && (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        rc = hh_err_set(err, HH_EIO, -1, "cannot create %s: %s", dst, strerror(errno));
        goto done;
    }
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    static const size_t BUF = 1 << 20;
    unsigned char *buf = malloc(BUF);
    if (!buf) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto done;
    }
    int64_t total = 0;
    ssize_t r;
    while ((r = read(in, buf, BUF)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = hh_err_set(err, HH_EIO, -1, "read %s: %s", src, strerror(errno));
            break;
        }
        crypto_hash_sha256_update(&h, buf, (unsigned long long)r);
        total += r;
        for (ssize_t off = 0; out >= 0 && off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = hh_err_set(err, HH_EIO, -1, "write %s: %s", dst, strerror(errno));
                goto freebuf;
            }
            off += w;
        }
    }
freebuf:
    free(buf);
    if (!rc) {
        unsigned char d[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_final(&h, d);
        sodium_bin2hex(hex, SHA_HEX, d, sizeof d);
        *size = total;
    }
done:
    close(in);
    if (out >= 0) {
        close(out);
        if (rc)
            unlink(dst);
    }
    return rc;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* Removes a directory tree we created (no symlinks followed). */
static void rm_tree(const char *path)
{
    if (path && path[0])
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdir 0700; an existing directory is fine. */
static int mkdir_private(const char *path, hh_err_t *err)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return hh_err_set(err, HH_EIO, -1, "cannot create %s: %s", path, strerror(errno));
    return 0;
}

/* ---- the manifest ------------------------------------------------------- */

typedef struct entry {
    char   *path;          /* relative to the backup root */
    int64_t size;
    char    sha256[SHA_HEX];
    char    kind[16];      /* database | key | document | model */
} entry_t;

typedef struct entries {
    entry_t *v;
    size_t   n, cap;
} entries_t;

static void entries_free(entries_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].path);
    free(e->v);
    memset(e, 0, sizeof *e);
}

static int entries_add(entries_t *e, const char *path, int64_t size, const char *sha, const char *kind, hh_err_t *err)
{
    if (e->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 64;
        entry_t *nv = realloc(e->v, nc * sizeof *nv);
        if (!nv)
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        e->v = nv;
        e->cap = nc;
    }
    entry_t *x = &e->v[e->n];
    memset(x, 0, sizeof *x);
    if (!(x->path = strdup(path)))
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    x->size = size;
    snprintf(x->sha256, sizeof x->sha256, "%s", sha);
    snprintf(x->kind, sizeof x->kind, "%s", kind);
    e->n++;
    return 0;
}

static void utc_iso(time_t t, char *buf, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static cJSON *counts_json(const hh_store_counts_t *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "users", (double)c->users);
    cJSON_AddNumberToObject(o, "api_keys", (double)c->api_keys);
    cJSON_AddNumberToObject(o, "active_api_keys", (double)c->active_api_keys);
    cJSON_AddNumberToObject(o, "collections", (double)c->collections);
    cJSON_AddNumberToObject(o, "documents", (double)c->documents);
    cJSON_AddNumberToObject(o, "chunks", (double)c->chunks);
    cJSON_AddNumberToObject(o, "vectors", (double)c->vectors);
    cJSON_AddNumberToObject(o, "audit_records", (double)c->audit_records);
    cJSON_AddNumberToObject(o, "audit_last_seq", (double)c->audit_last_seq);
    return o;
}

/* Writes DIR/manifest.json (0600, fsync'ed) and its sha256 into sha. */
static int write_manifest(const char *dir, const hh_backup_params_t *p, const hh_backup_result_t *r,
                          const entries_t *files, const entries_t *models, char sha[SHA_HEX], hh_err_t *err)
{
    char path[PATH_MAX], when[32], src[PATH_MAX];
    int rc = join(path, sizeof path, dir, HH_BACKUP_MANIFEST, err);
    if (rc)
        return rc;
    time_t now = time(NULL);
    utc_iso(now, when, sizeof when);
    if (!realpath(p->data_dir, src))
        snprintf(src, sizeof src, "%s", p->data_dir);
    cJSON *m = cJSON_CreateObject(), *fa = NULL, *ma = NULL;
    char *txt = NULL;
    if (!m)
        goto nomem;
    cJSON_AddStringToObject(m, "format", HH_BACKUP_FORMAT);
    cJSON_AddNumberToObject(m, "format_version", HH_BACKUP_FORMAT_VERSION);
    cJSON_AddStringToObject(m, "hoheit_version", p->version ? p->version : "unknown");
    cJSON_AddStringToObject(m, "created_at", when);
    cJSON_AddNumberToObject(m, "created_at_unix", (double)now);
    cJSON_AddNumberToObject(m, "schema_version", r->schema_version);
    cJSON_AddStringToObject(m, "source_data_dir", src);
    cJSON_AddItemToObject(m, "counts", counts_json(&r->counts));
    cJSON_AddStringToObject(m, "vector_index",
                            "not copied: rebuilt at server start from the chunk_vectors table in hoheit.db");
    cJSON_AddItemToObject(m, "files", fa = cJSON_CreateArray());
    cJSON_AddItemToObject(m, "models", ma = cJSON_CreateArray());
    if (!fa || !ma)
        goto nomem;
    for (size_t i = 0; i < files->n; i++) {
        cJSON *f = cJSON_CreateObject();
        if (!f)
            goto nomem;
        cJSON_AddItemToArray(fa, f);
        cJSON_AddStringToObject(f, "path", files->v[i].path);
        cJSON_AddNumberToObject(f, "size", (double)files->v[i].size);
        cJSON_AddStringToObject(f, "sha256", files->v[i].sha256);
        cJSON_AddStringToObject(f, "kind", files->v[i].kind);
    }
    for (size_t i = 0; i < models->n; i++) {
        cJSON *f = cJSON_CreateObject();
        if (!f)
            goto nomem;
        cJSON_AddItemToArray(ma, f);
        cJSON_AddStringToObject(f, "name", models->v[i].path);
        cJSON_AddNumberToObject(f, "size", (double)models->v[i].size);
        cJSON_AddStringToObject(f, "sha256", models->v[i].sha256);
        cJSON_AddBoolToObject(f, "included", p->with_models);
    }
    if (!(txt = cJSON_Print(m)))
        goto nomem;
    size_t n = strlen(txt);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = hh_err_set(err, HH_EIO, -1, "cannot create %s: %s", path, strerror(errno));
        goto done;
    }
    bool ok = write(fd, txt, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        rc = hh_err_set(err, HH_EIO, -1, "cannot write %s", path);
        goto done;
    }
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)txt, n);
    crypto_hash_sha256_update(&h, (const unsigned char *)"\n", 1);
    crypto_hash_sha256_final(&h, d);
    sodium_bin2hex(sha, SHA_HEX, d, sizeof d);
    goto done;
nomem:
    rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
done:
    free(txt);
    cJSON_Delete(m);
    return rc;
}

/* ---- backup --------------------------------------------------------------- */

static int cmp_sha(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Step 1: copies every DATA/files/xx/<sha256> present now into TMP/files,
 * each checked against its name. *copied receives the copied names
 * (malloc'd strings, sorted). */
static int copy_stored_files(const char *data, const char *tmp, char ***copied, size_t *n_copied, int64_t *bytes,
                             hh_err_t *err)
{
    char root[PATH_MAX], troot[PATH_MAX];
    int rc = join(root, sizeof root, data, "files", err);
    if (!rc)
        rc = join(troot, sizeof troot, tmp, "files", err);
    if (rc)
        return rc;
    *copied = NULL;
    *n_copied = 0;
    size_t cap = 0;
    DIR *d = opendir(root);
    if (!d)
        return errno == ENOENT ? 0 : hh_err_set(err, HH_EIO, -1, "cannot read %s: %s", root, strerror(errno));
    if ((rc = mkdir_private(troot, err))) {
        closedir(d);
        return rc;
    }
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (strlen(de->d_name) != 2 || de->d_name[0] == '.')
            continue;
        char sub[PATH_MAX], tsub[PATH_MAX];
        if ((rc = join(sub, sizeof sub, root, de->d_name, err)) || (rc = join(tsub, sizeof tsub, troot, de->d_name, err)))
            break;
        DIR *d2 = opendir(sub);
        if (!d2)
            continue;   /* not a directory, or removed meanwhile */
        struct dirent *f;
        while (!rc && (f = readdir(d2))) {
            if (!is_hex64(f->d_name) || strncmp(f->d_name, de->d_name, 2) != 0)
                continue;   /* ".tmp-*" copies in progress, anything foreign */
            char src[PATH_MAX], dst[PATH_MAX], hex[SHA_HEX];
            int64_t size = 0;
            if ((rc = join(src, sizeof src, sub, f->d_name, err)) || (rc = join(dst, sizeof dst, tsub, f->d_name, err)) ||
                (rc = mkdir_private(tsub, err)))
                break;
            hh_err_t e2;
            hh_err_clear(&e2);
            int cr = copy_hash(src, dst, hex, &size, &e2);
            if (cr == HH_ENOENT)
                continue;   /* deleted since readdir: step 3 decides whether it was needed */
            if (cr) {
                rc = hh_err_set(err, cr, -1, "%s", e2.msg);
                break;
            }
            if (strcmp(hex, f->d_name) != 0) {
                unlink(dst);
                rc = hh_err_set(err, HH_EFORMAT, -1,
                                "stored file %s is damaged: its sha256 is %s (the name says %s); backup refused "
                                "(restore that document from its source or delete it, then back up again)",
                                src, hex, f->d_name);
                break;
            }
            if (*n_copied == cap) {
                size_t nc = cap ? cap * 2 : 256;
                char **nv = realloc(*copied, nc * sizeof *nv);
                if (!nv) {
                    rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                    break;
                }
                *copied = nv;
                cap = nc;
            }
            if (!((*copied)[*n_copied] = strdup(hex))) {
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                break;
            }
            (*n_copied)++;
            *bytes += size;
        }
        closedir(d2);
    }
    closedir(d);
    if (*n_copied)
        qsort(*copied, *n_copied, sizeof **copied, cmp_sha);
    return rc;
}

/* Copies one top-level file of the data dir if present (kind "key"). */
static int copy_top(const char *data, const char *tmp, const char *name, entries_t *files, int64_t *bytes,
                    hh_err_t *err)
{
    char src[PATH_MAX], dst[PATH_MAX], hex[SHA_HEX];
    int64_t size = 0;
    int rc = join(src, sizeof src, data, name, err);
    if (!rc)
        rc = join(dst, sizeof dst, tmp, name, err);
    if (rc)
        return rc;
    rc = copy_hash(src, dst, hex, &size, err);
    if (rc == HH_ENOENT) {
        hh_err_clear(err);
        return 0;
    }
    if (!rc)
        rc = entries_add(files, name, size, hex, "key", err);
    *bytes += size;
    return rc;
}

static int copy_keys(const char *data, const char *tmp, entries_t *files, int64_t *bytes, hh_err_t *err)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof g_key_files / sizeof g_key_files[0]; i++)
        rc = copy_top(data, tmp, g_key_files[i], files, bytes, err);
    DIR *d = opendir(data);
    if (!d)
        return rc ? rc : hh_err_set(err, HH_EIO, -1, "cannot read %s: %s", data, strerror(errno));
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !(has_suffix(de->d_name, ".key") || has_suffix(de->d_name, ".pub")))
            continue;
        bool listed = false;
        for (size_t i = 0; i < sizeof g_key_files / sizeof g_key_files[0]; i++)
            listed |= !strcmp(de->d_name, g_key_files[i]);
        if (!listed)
            rc = copy_top(data, tmp, de->d_name, files, bytes, err);
    }
    closedir(d);
    return rc;
}

/* Lists (and with copy, copies into TMP/models) the *.gguf of models_dir. */
static int do_models(const char *models_dir, const char *tmp, bool copy, entries_t *models, int64_t *bytes,
                     hh_err_t *err)
{
    DIR *d = opendir(models_dir);
    if (!d)
        return errno == ENOENT ? 0 : hh_err_set(err, HH_EIO, -1, "cannot read %s: %s", models_dir, strerror(errno));
    char tdir[PATH_MAX];
    int rc = join(tdir, sizeof tdir, tmp, "models", err);
    if (!rc && copy)
        rc = mkdir_private(tdir, err);
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !has_suffix(de->d_name, ".gguf"))
            continue;
        char src[PATH_MAX], dst[PATH_MAX], hex[SHA_HEX];
        int64_t size = 0;
        if ((rc = join(src, sizeof src, models_dir, de->d_name, err)) || (rc = join(dst, sizeof dst, tdir, de->d_name, err)))
            break;
        rc = copy_hash(src, copy ? dst : NULL, hex, &size, err);
        if (rc == HH_ENOENT || rc == HH_EINVAL) {   /* gone meanwhile, or not a regular file */
            hh_err_clear(err);
            rc = 0;
            continue;
        }
        if (!rc)
            rc = entries_add(models, de->d_name, size, hex, "model", err);
        if (copy)
            *bytes += size;
    }
    closedir(d);
    return rc;
}

/* Fault injection for tests/test_backup.c (SQLite-style: the race is made
 * to happen, not hoped for): with HOHEIT_BACKUP_TEST_PAUSE_MS set, the first
 * attempt announces the end of each step on the log and waits that long,
 * so a test can upload between steps 1 and 2 and delete between 2 and 3. */
static void test_pause(const hh_backup_params_t *p, int attempt, int step)
{
    const char *ms = getenv("HOHEIT_BACKUP_TEST_PAUSE_MS");
    long v = ms ? strtol(ms, NULL, 10) : 0;
    if (attempt != 1 || v <= 0 || v > 60000)
        return;
    if (p->log) {
        fprintf(p->log, "backup: test pause after step %d\n", step);
        fflush(p->log);
    }
    usleep((useconds_t)v * 1000);
}

/* Steps 1-4 into an empty TMP (see the top of this file). *retry is set
 * when a referenced file vanished (the caller starts over). */
static int snapshot_once(const hh_backup_params_t *p, int attempt, const char *tmp, hh_backup_result_t *r,
                         entries_t *files, bool *retry, char missing[80], hh_err_t *err)
{
    *retry = false;
    char **copied = NULL, **refs = NULL;
    size_t n_copied = 0, n_refs = 0;
    bool *used = NULL;
    hh_store_t *live = NULL, *snap = NULL;
    char dbpath[PATH_MAX], hex[SHA_HEX];
    int64_t size = 0;
    int rc = join(dbpath, sizeof dbpath, tmp, "hoheit.db", err);
    if (rc)
        return rc;
    /* 1 */
    if ((rc = copy_stored_files(p->data_dir, tmp, &copied, &n_copied, &r->bytes, err)))
        goto done;
    test_pause(p, attempt, 1);
    /* 2 */
    if ((rc = hh_store_open_readonly(&live, p->data_dir, err)) || (rc = hh_store_backup_to(live, dbpath, err)))
        goto done;
    hh_store_close(live);
    live = NULL;
    if ((rc = copy_hash(dbpath, NULL, hex, &size, err)) || (rc = entries_add(files, "hoheit.db", size, hex, "database", err)))
        goto done;
    r->bytes += size;
    if ((rc = hh_store_open_readonly(&snap, tmp, err)) || (rc = hh_store_schema_version(snap, &r->schema_version, err)) ||
        (rc = hh_store_counts(snap, &r->counts, err)) || (rc = hh_store_doc_file_hashes(snap, &refs, &n_refs, err)))
        goto done;
    hh_store_close(snap);
    snap = NULL;
    test_pause(p, attempt, 2);
    /* 3 */
    if (n_copied && !(used = calloc(n_copied, sizeof *used))) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_refs; i++) {
        char rel[80], src[PATH_MAX], dst[PATH_MAX], dir[PATH_MAX + 80];
        if (!is_hex64(refs[i])) {
            rc = hh_err_set(err, HH_EFORMAT, -1, "a document in the database has a malformed sha256 '%s'", refs[i]);
            goto done;
        }
        snprintf(rel, sizeof rel, "files/%.2s/%s", refs[i], refs[i]);
        char **hit = n_copied ? bsearch(&refs[i], copied, n_copied, sizeof *copied, cmp_sha) : NULL;
        if (hit) {
            used[hit - copied] = true;
        } else {
            snprintf(dir, sizeof dir, "%s/files/%.2s", tmp, refs[i]);
            if ((rc = join(src, sizeof src, p->data_dir, rel, err)) || (rc = join(dst, sizeof dst, tmp, rel, err)))
                goto done;
            char troot[PATH_MAX + 8];
            snprintf(troot, sizeof troot, "%s/files", tmp);
            if ((rc = mkdir_private(troot, err)) || (rc = mkdir_private(dir, err)))
                goto done;
            rc = copy_hash(src, dst, hex, &size, err);
            if (rc == HH_ENOENT) {
                if (p->log)
                    fprintf(p->log, "backup: %s was deleted while the backup ran; taking the snapshot again\n", rel);
                *retry = true;
                snprintf(missing, 80, "%s", rel);
                rc = 0;
                goto done;
            }
            if (rc)
                goto done;
            if (strcmp(hex, refs[i]) != 0) {
                rc = hh_err_set(err, HH_EFORMAT, -1, "stored file %s is damaged: its sha256 is %s; backup refused", src,
                                hex);
                goto done;
            }
            r->bytes += size;
        }
    }
    /* every referenced original into the manifest (its size from the copy) */
    for (size_t i = 0; i < n_refs; i++) {
        char rel[80], dst[PATH_MAX];
        snprintf(rel, sizeof rel, "files/%.2s/%s", refs[i], refs[i]);
        if ((rc = join(dst, sizeof dst, tmp, rel, err)))
            goto done;
        struct stat sb;
        if (stat(dst, &sb) != 0) {
            rc = hh_err_set(err, HH_EIO, -1, "cannot stat %s: %s", dst, strerror(errno));
            goto done;
        }
        if ((rc = entries_add(files, rel, (int64_t)sb.st_size, refs[i], "document", err)))
            goto done;
    }
    r->n_doc_files = n_refs;
    /* 4 */
    for (size_t i = 0; i < n_copied; i++) {
        if (used[i])
            continue;
        char dst[PATH_MAX + 80];
        snprintf(dst, sizeof dst, "%s/files/%.2s/%s", tmp, copied[i], copied[i]);
        unlink(dst);
        char dir[PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/files/%.2s", tmp, copied[i]);
        rmdir(dir);   /* fails while it still holds a file: fine */
    }
done:
    hh_store_close(live);
    hh_store_close(snap);
    hh_store_strings_free(copied, n_copied);
    hh_store_strings_free(refs, n_refs);
    free(used);
    return rc;
}

/* Makes everything written under root durable: one syncfs of its
 * filesystem (files and directory entries alike). */
static int sync_tree(const char *root, hh_err_t *err)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 ? syncfs(fd) : -1;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        return hh_err_set(err, HH_EIO, -1, "cannot sync %s: %s", root, strerror(e));
    return 0;
}

static void parent_of(const char *path, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    char *s = strrchr(buf, '/');
    if (!s)
        snprintf(buf, cap, ".");
    else if (s == buf)
        buf[1] = '\0';
    else
        *s = '\0';
}

/* Appends the backup's record to the live log. Only when the live database
 * is at this program's schema: opening it for writing would otherwise
 * migrate the database under a running older server. */
static int record_backup(const hh_backup_params_t *p, hh_backup_result_t *r, const char *dest, hh_err_t *err)
{
    if (r->schema_version != hh_store_schema_newest())
        return hh_err_set(err, HH_ESTATE, -1,
                          "the data directory is at schema %d and this hoheit at %d: recording would migrate the "
                          "live database",
                          r->schema_version, hh_store_schema_newest());
    /* appending without the signing key would create a new one, and the
     * chain's next signatures would no longer match its public key */
    char kpath[PATH_MAX];
    struct stat sb;
    int rc = join(kpath, sizeof kpath, p->data_dir, "audit.key", err);
    if (rc)
        return rc;
    if (r->counts.audit_records > 0 && stat(kpath, &sb) != 0)
        return hh_err_set(err, HH_ESTATE, -1,
                          "%s is missing although the log has records: the chain cannot be continued (put "
                          "audit.key back from a backup)",
                          kpath);
    hh_store_t *s = NULL;
    if ((rc = hh_store_open(&s, p->data_dir, err)))
        return rc;
    char detail[PATH_MAX + 300], actor[300], abs[PATH_MAX];
    if (!realpath(dest, abs))
        snprintf(abs, sizeof abs, "%s", dest);
    snprintf(detail, sizeof detail, "backup to %s: manifest sha256 %s, audit records up to seq %lld, %zu files", abs,
             r->manifest_sha256, (long long)r->counts.audit_last_seq, r->n_files);
    hh_cli_actor(actor, sizeof actor);
    hh_audit_entry_t e = { .kind = "admin", .user = actor, .decision = "backup", .detail = detail };
    rc = hh_audit_append(s, NULL, &e, &r->audit_seq, err);
    hh_store_close(s);
    return rc;
}

int hh_backup_create(const hh_backup_params_t *p, hh_backup_result_t *r, hh_err_t *err)
{
    memset(r, 0, sizeof *r);
    if (!p->data_dir || !p->out || !p->data_dir[0] || !p->out[0])
        return hh_err_set(err, HH_EINVAL, -1, "--data and --out are required");
    if (sodium_init() < 0)
        return hh_err_set(err, HH_EIO, -1, "libsodium failed to initialize");
    struct stat sb;
    if (lstat(p->out, &sb) == 0)
        return hh_err_set(err, HH_EINVAL, -1, "%s already exists (a backup is written to a new path only)",
                          p->out);
    char probe[PATH_MAX];
    int rc = join(probe, sizeof probe, p->data_dir, "hoheit.db", err);
    if (rc)
        return rc;
    if (stat(probe, &sb) != 0)
        return hh_err_set(err, HH_ENOENT, -1, "no hoheit database in %s", p->data_dir);
    char tmp[PATH_MAX], models_dir[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", p->out) >= (int)sizeof tmp)
        return hh_err_set(err, HH_EINVAL, -1, "path too long");
    if (p->models_dir)
        snprintf(models_dir, sizeof models_dir, "%s", p->models_dir);
    else if ((rc = join(models_dir, sizeof models_dir, p->data_dir, "models", err)))
        return rc;
    if (!mkdtemp(tmp))   /* mode 0700 */
        return hh_err_set(err, HH_EIO, -1, "cannot create %s: %s", tmp, strerror(errno));
    entries_t files = { 0 }, models = { 0 };
    int attempts = 0;
    char missing[80] = "", prev_missing[80] = "";
    for (;;) {
        attempts++;
        bool retry = false;
        rc = snapshot_once(p, attempts, tmp, r, &files, &retry, missing, err);
        if (rc || !retry)
            break;
        /* a document deleted under the snapshot is not in the next one: the
         * same file missing twice was lost from the data directory */
        if (!strcmp(missing, prev_missing)) {
            rc = hh_err_set(err, HH_EFORMAT, -1,
                            "%s is referenced by a document but missing from %s/files (lost, not deleted "
                            "meanwhile); backup refused (find the document with that sha256, delete it and upload "
                            "it again)",
                            missing, p->data_dir);
            break;
        }
        snprintf(prev_missing, sizeof prev_missing, "%s", missing);
        if (attempts >= MAX_ATTEMPTS) {
            rc = hh_err_set(err, HH_ESTATE, -1,
                            "documents were deleted under each of %d snapshots; try again when the "
                            "server is less busy",
                            MAX_ATTEMPTS);
            break;
        }
        /* start over in a clean folder */
        rm_tree(tmp);
        entries_free(&files);
        memset(r, 0, sizeof *r);
        snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", p->out);
        if (!mkdtemp(tmp)) {
            rc = hh_err_set(err, HH_EIO, -1, "cannot create %s: %s", tmp, strerror(errno));
            tmp[0] = '\0';
            break;
        }
    }
    r->attempts = attempts;
    if (rc)
        goto fail;
    if ((rc = copy_keys(p->data_dir, tmp, &files, &r->bytes, err)) ||
        (rc = do_models(models_dir, tmp, p->with_models, &models, &r->bytes, err)))
        goto fail;
    if (p->with_models)
        for (size_t i = 0; i < models.n; i++) {
            char rel[PATH_MAX];
            if (snprintf(rel, sizeof rel, "models/%s", models.v[i].path) >= (int)sizeof rel) {
                rc = hh_err_set(err, HH_EINVAL, -1, "model name too long");
                goto fail;
            }
            if ((rc = entries_add(&files, rel, models.v[i].size, models.v[i].sha256, "model", err)))
                goto fail;
        }
    r->n_files = files.n;
    r->n_models = models.n;
    if ((rc = write_manifest(tmp, p, r, &files, &models, r->manifest_sha256, err)) || (rc = sync_tree(tmp, err)))
        goto fail;
    /* DEST appears complete or not at all; RENAME_NOREPLACE refuses a DEST
     * made meanwhile (plain rename would replace an empty directory) */
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, p->out, RENAME_NOREPLACE) != 0) {
        rc = hh_err_set(err, errno == EEXIST ? HH_EINVAL : HH_EIO, -1, "cannot rename %s to %s: %s", tmp,
                        p->out, strerror(errno));
        goto fail;
    }
    char parent[PATH_MAX];
    parent_of(p->out, parent, sizeof parent);
    fsync_path(parent);
    entries_free(&files);
    entries_free(&models);
    if (!p->no_audit) {
        hh_err_t e2;
        hh_err_clear(&e2);
        if (record_backup(p, r, p->out, &e2) != 0 && p->log)
            fprintf(p->log, "backup: warning: not recorded in the audit log: %s\n", e2.msg);
    }
    return 0;
fail:
    rm_tree(tmp);
    entries_free(&files);
    entries_free(&models);
    return rc;
}

/* ---- restore ---------------------------------------------------------- */

/* A manifest path is relative, made of [A-Za-z0-9._-] components that are
 * not "." or "..": nothing can be written outside NEWDIR. */
static bool path_safe(const char *p)
{
    if (!p[0] || p[0] == '/' || strlen(p) >= 512)
        return false;
    const char *c = p;
    while (*c) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        for (size_t i = 0; i < n; i++) {
            char ch = c[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                  ch == '_' || ch == '-'))
                return false;
        }
        c += n;
        if (*c == '/')
            c++;
        else
            break;
    }
    return p[strlen(p) - 1] != '/';
}

static int read_manifest(const char *from, cJSON **out, hh_err_t *err)
{
    char path[PATH_MAX];
    int rc = join(path, sizeof path, from, HH_BACKUP_MANIFEST, err);
    if (rc)
        return rc;
    struct stat sb;
    if (stat(from, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return hh_err_set(err, HH_ENOENT, -1, "%s is not a directory", from);
    FILE *f = fopen(path, "rb");
    if (!f)
        return hh_err_set(err, HH_ENOENT, -1,
                          "refused: %s is missing: not a hoheit backup, or an incomplete one", path);
    char *buf = NULL;
    size_t n = 0;
    rc = hh_read_stream(f, (size_t)256 << 20, &buf, &n);
    fclose(f);
    if (rc == HH_EFORMAT)
        return hh_err_set(err, HH_EFORMAT, -1, "refused: %s is too large", path);
    if (rc)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    cJSON *m = cJSON_Parse(buf);
    free(buf);
    if (!m || !cJSON_IsObject(m)) {
        cJSON_Delete(m);
        return hh_err_set(err, HH_EFORMAT, -1, "refused: %s is not valid JSON (damaged)", path);
    }
    *out = m;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->path, ((const entry_t *)b)->path);
}

/* Fills *files from the manifest's "files", checked for shape and safe
 * paths, and *schema from schema_version. */
static int manifest_files(const cJSON *m, entries_t *files, int *schema, hh_err_t *err)
{
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(m, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(m, "format_version");
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(m, "schema_version");
    const cJSON *fa = cJSON_GetObjectItemCaseSensitive(m, "files");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, HH_BACKUP_FORMAT) != 0)
        return hh_err_set(err, HH_EFORMAT, -1, "refused: the manifest is not a %s manifest", HH_BACKUP_FORMAT);
    if (!cJSON_IsNumber(ver) || ver->valuedouble != HH_BACKUP_FORMAT_VERSION)
        return hh_err_set(err, HH_EFORMAT, -1,
                          "refused: backup format version %g; this hoheit reads version %d (use a newer hoheit)",
                          cJSON_IsNumber(ver) ? ver->valuedouble : -1.0, HH_BACKUP_FORMAT_VERSION);
    if (!cJSON_IsNumber(sv) || sv->valuedouble < 1 || sv->valuedouble > 1e6)
        return hh_err_set(err, HH_EFORMAT, -1, "refused: the manifest has no schema_version");
    *schema = (int)sv->valuedouble;
    if (!cJSON_IsArray(fa))
        return hh_err_set(err, HH_EFORMAT, -1, "refused: the manifest lists no files");
    const cJSON *f;
    cJSON_ArrayForEach(f, fa) {
        const cJSON *pa = cJSON_GetObjectItemCaseSensitive(f, "path");
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(f, "size");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(f, "sha256");
        const cJSON *ki = cJSON_GetObjectItemCaseSensitive(f, "kind");
        if (!cJSON_IsString(pa) || !cJSON_IsNumber(sz) || !cJSON_IsString(sh) || !is_hex64(sh->valuestring) ||
            sz->valuedouble < 0 || sz->valuedouble > 9e15)
            return hh_err_set(err, HH_EFORMAT, -1, "refused: a manifest entry is malformed");
        if (!path_safe(pa->valuestring) || !strcmp(pa->valuestring, HH_BACKUP_MANIFEST))
            return hh_err_set(err, HH_EFORMAT, -1, "refused: the manifest names an unsafe path '%s'",
                              pa->valuestring);
        int rc = entries_add(files, pa->valuestring, (int64_t)sz->valuedouble, sh->valuestring,
                             cJSON_IsString(ki) ? ki->valuestring : "", err);
        if (rc)
            return rc;
    }
    /* sorted by path: duplicates side by side, and bsearch for the walk */
    if (files->n)
        qsort(files->v, files->n, sizeof *files->v, cmp_entry);
    for (size_t i = 1; i < files->n; i++)
        if (!strcmp(files->v[i - 1].path, files->v[i].path))
            return hh_err_set(err, HH_EFORMAT, -1, "refused: the manifest lists %s twice", files->v[i].path);
    bool have_db = false, have_secret = false;
    for (size_t i = 0; i < files->n; i++) {
        have_db |= !strcmp(files->v[i].path, "hoheit.db");
        have_secret |= !strcmp(files->v[i].path, "secret.key");
    }
    if (!have_db)
        return hh_err_set(err, HH_EFORMAT, -1, "refused: the manifest lists no hoheit.db");
    if (!have_secret)
        return hh_err_set(err, HH_EFORMAT, -1,
                          "refused: the backup has no secret.key (without it no API key or session of "
                          "the backup would work)");
    return 0;
}

/* Warns about every file under FROM/rel that the manifest does not list
 * (not restored); *n counts them. Symlinks and other non-files count too. */
static void warn_unknown(const char *from, const char *rel, const entries_t *files, FILE *log, size_t *n, int depth)
{
    char dir[PATH_MAX];
    if (depth > 16 || snprintf(dir, sizeof dir, "%s%s%s", from, rel[0] ? "/" : "", rel) >= (int)sizeof dir)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char sub[PATH_MAX], full[PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) >= (int)sizeof sub ||
            snprintf(full, sizeof full, "%s/%s", dir, de->d_name) >= (int)sizeof full)
            continue;
        struct stat sb;
        if (lstat(full, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            warn_unknown(from, sub, files, log, n, depth + 1);
            continue;
        }
        if (!strcmp(sub, HH_BACKUP_MANIFEST))
            continue;
        entry_t key = { .path = sub };
        if (files->n && bsearch(&key, files->v, files->n, sizeof *files->v, cmp_entry))
            continue;
        (*n)++;
        if (log)
            fprintf(log, "restore: warning: %s is in the backup but not in its manifest: not restored\n", sub);
    }
    closedir(d);
}

/* NEWDIR must be absent or an empty directory. */
static int check_target(const char *dir, bool *exists, hh_err_t *err)
{
    struct stat sb;
    *exists = false;
    if (lstat(dir, &sb) != 0) {
        if (errno == ENOENT)
            return 0;
        return hh_err_set(err, HH_EIO, -1, "cannot check %s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return hh_err_set(err, HH_EINVAL, -1, "refused: %s exists and is not a directory", dir);
    DIR *d = opendir(dir);
    if (!d)
        return hh_err_set(err, HH_EIO, -1, "cannot read %s: %s", dir, strerror(errno));
    struct dirent *de;
    bool empty = true;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            empty = false;
    closedir(d);
    if (!empty)
        return hh_err_set(err, HH_EINVAL, -1,
                          "refused: %s is not empty (restore writes only into a new or empty directory)", dir);
    *exists = true;
    return 0;
}

/* Every folder of src below FROM (src = FROM/rel, from_len = strlen(FROM))
 * is a real folder, not a symlink: a listed path is read only from inside
 * the backup (the last component is opened with O_NOFOLLOW). */
static int no_symlinked_folder(char *src, size_t from_len, const char *rel, hh_err_t *err)
{
    for (char *s = src + from_len + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        struct stat sb;
        bool ok = lstat(src, &sb) == 0 && S_ISDIR(sb.st_mode);
        *s = '/';
        if (!ok)
            return hh_err_set(err, HH_EFORMAT, -1,
                              "refused: %s: a folder of it in the backup is a symlink or not a folder (a "
                              "restore reads only from inside the backup)",
                              rel);
    }
    return 0;
}

/* Copies every listed file from FROM into TMP, checking size and sha256. */
static int copy_listed(const char *from, const char *tmp, const entries_t *files, hh_err_t *err)
{
    for (size_t i = 0; i < files->n; i++) {
        const entry_t *x = &files->v[i];
        char src[PATH_MAX], dst[PATH_MAX], hex[SHA_HEX];
        int rc = join(src, sizeof src, from, x->path, err);
        if (!rc)
            rc = join(dst, sizeof dst, tmp, x->path, err);
        if (!rc)
            rc = no_symlinked_folder(src, strlen(from), x->path, err);
        if (rc)
            return rc;
        /* parent folders, 0700 */
        for (char *s = dst + strlen(tmp) + 1; (s = strchr(s, '/')); s++) {
            *s = '\0';
            rc = mkdir_private(dst, err);
            *s = '/';
            if (rc)
                return rc;
        }
        int64_t size = 0;
        hh_err_t e2;
        hh_err_clear(&e2);
        rc = copy_hash(src, dst, hex, &size, &e2);
        if (rc == HH_ENOENT)
            return hh_err_set(err, HH_ENOENT, -1, "refused: the backup is incomplete: %s is missing", x->path);
        if (rc)
            return hh_err_set(err, rc, -1, "%s", e2.msg);
        if (size != x->size || strcmp(hex, x->sha256) != 0)
            return hh_err_set(err, HH_EFORMAT, -1,
                              "refused: the backup is damaged: %s: expected %lld bytes with sha256 %s, "
                              "found %lld bytes with sha256 %s",
                              x->path, (long long)x->size, x->sha256, (long long)size, hex);
    }
    return 0;
}

/* The database checks on the copy, before it is opened for writing. */
static int check_db(const char *tmp, int *schema, hh_err_t *err)
{
    hh_store_t *s = NULL;
    char **refs = NULL;
    size_t n = 0;
    int rc = hh_store_open_readonly(&s, tmp, err);
    if (rc)
        return rc;
    bool ok = false;
    char msg[512];
    if ((rc = hh_store_integrity_check(s, &ok, msg, sizeof msg, err)))
        goto done;
    if (!ok) {
        rc = hh_err_set(err, HH_EFORMAT, -1, "refused: hoheit.db fails SQLite's integrity check: %s", msg);
        goto done;
    }
    if ((rc = hh_store_schema_version(s, schema, err)) || (rc = hh_store_doc_file_hashes(s, &refs, &n, err)))
        goto done;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct stat sb;
        if (snprintf(path, sizeof path, "%s/files/%.2s/%s", tmp, refs[i], refs[i]) >= (int)sizeof path ||
            stat(path, &sb) != 0) {
            rc = hh_err_set(err, HH_EFORMAT, -1,
                            "refused: the backup is incomplete: a document references files/%.2s/%s, which "
                            "the backup does not hold",
                            refs[i], refs[i]);
            goto done;
        }
    }
done:
    hh_store_strings_free(refs, n);
    hh_store_close(s);
    return rc;
}

int hh_backup_restore(const hh_restore_params_t *p, hh_restore_result_t *r, hh_err_t *err)
{
    memset(r, 0, sizeof *r);
    if (!p->from || !p->data_dir || !p->from[0] || !p->data_dir[0])
        return hh_err_set(err, HH_EINVAL, -1, "--from and --data are required");
    if (sodium_init() < 0)
        return hh_err_set(err, HH_EIO, -1, "libsodium failed to initialize");
    cJSON *m = NULL;
    entries_t files = { 0 };
    hh_store_t *s = NULL;
    char tmp[PATH_MAX] = "";
    bool target_exists = false;
    int rc = read_manifest(p->from, &m, err);
    if (rc)
        return rc;
    if ((rc = manifest_files(m, &files, &r->schema_backup, err)))
        goto fail;
    const cJSON *mo;
    cJSON_ArrayForEach(mo, cJSON_GetObjectItemCaseSensitive(m, "models"))
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(mo, "included")))
            r->n_models_absent++;
    const cJSON *ca = cJSON_GetObjectItemCaseSensitive(m, "created_at");
    snprintf(r->created_at, sizeof r->created_at, "%s", cJSON_IsString(ca) ? ca->valuestring : "?");
    if (r->schema_backup > hh_store_schema_newest()) {
        rc = hh_err_set(err, HH_EFORMAT, -1,
                        "refused: the backup is at database schema %d, this hoheit knows up to %d "
                        "(restore with the hoheit version that made it, or a newer one)",
                        r->schema_backup, hh_store_schema_newest());
        goto fail;
    }
    if ((rc = check_target(p->data_dir, &target_exists, err)))
        goto fail;
    warn_unknown(p->from, "", &files, p->log, &r->n_unknown, 0);
    /* the checked copy is built next to NEWDIR (same filesystem: the final
     * rename is atomic) under a hidden name */
    char parent[PATH_MAX], base[PATH_MAX];
    parent_of(p->data_dir, parent, sizeof parent);
    snprintf(base, sizeof base, "%s", p->data_dir);
    for (size_t n = strlen(base); n > 1 && base[n - 1] == '/';)
        base[--n] = '\0';
    const char *bn = strrchr(base, '/') ? strrchr(base, '/') + 1 : base;
    if (snprintf(tmp, sizeof tmp, "%s/.%s.restore-XXXXXX", parent, bn) >= (int)sizeof tmp) {
        rc = hh_err_set(err, HH_EINVAL, -1, "path too long");
        tmp[0] = '\0';
        goto fail;
    }
    if (!mkdtemp(tmp)) {
        rc = hh_err_set(err, HH_EIO, -1, "cannot create %s: %s", tmp, strerror(errno));
        tmp[0] = '\0';
        goto fail;
    }
    if ((rc = copy_listed(p->from, tmp, &files, err)))
        goto fail;
    r->n_files = files.n;
    int schema_db = 0;
    if ((rc = check_db(tmp, &schema_db, err)))
        goto fail;
    if (schema_db != r->schema_backup) {
        rc = hh_err_set(err, HH_EFORMAT, -1, "refused: hoheit.db is at schema %d, the manifest says %d",
                        schema_db, r->schema_backup);
        goto fail;
    }
    /* opening runs the migrations of an older backup */
    if ((rc = hh_store_open(&s, tmp, err)))
        goto fail;
    if ((rc = hh_store_schema_version(s, &r->schema_now, err)))
        goto fail;
    hh_store_counts_t before;
    if ((rc = hh_store_counts(s, &before, err)))
        goto fail;
    char kpath[PATH_MAX];
    struct stat sb;
    if ((rc = join(kpath, sizeof kpath, tmp, "audit.key", err)))
        goto fail;
    if (before.audit_records > 0 && stat(kpath, &sb) != 0) {
        rc = hh_err_set(err, HH_EFORMAT, -1,
                        "refused: the backup holds %lld audit records but no audit.key (the chain could "
                        "not be continued)",
                        (long long)before.audit_records);
        goto fail;
    }
    /* The restore record goes onto the restored chain first: the verify
     * below then also proves that audit.key signs for this chain's public
     * key (a foreign key's head signature fails). */
    char detail[PATH_MAX + 300], actor[300], abs[PATH_MAX];
    if (!realpath(p->from, abs))
        snprintf(abs, sizeof abs, "%s", p->from);
    snprintf(detail, sizeof detail, "restore from %s (backup of %s, schema %d, %lld audit records)", abs,
             r->created_at, r->schema_backup, (long long)before.audit_records);
    hh_cli_actor(actor, sizeof actor);
    hh_audit_entry_t e = { .kind = "admin", .user = actor, .decision = "restored", .detail = detail };
    if ((rc = hh_audit_append(s, NULL, &e, NULL, err)))
        goto fail;
    if ((rc = hh_audit_verify_store(s, NULL, &r->audit, err)))
        goto fail;
    if (!r->audit.ok) {
        rc = hh_err_set(err, HH_EFORMAT, -1, "refused: the audit chain does not verify at seq %lld: %s",
                        (long long)r->audit.bad_seq, r->audit.why);
        goto fail;
    }
    if ((rc = hh_store_counts(s, &r->counts, err)))
        goto fail;
    hh_store_close(s);   /* checkpoints the WAL into hoheit.db */
    s = NULL;
    if ((rc = sync_tree(tmp, err)))
        goto fail;
    if (target_exists && rmdir(p->data_dir) != 0) {
        rc = hh_err_set(err, HH_EIO, -1, "cannot replace the empty %s: %s", p->data_dir, strerror(errno));
        goto fail;
    }
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, p->data_dir, RENAME_NOREPLACE) != 0) {
        rc = hh_err_set(err, HH_EIO, -1, "cannot rename %s to %s: %s", tmp, p->data_dir, strerror(errno));
        goto fail;
    }
    fsync_path(parent);
    cJSON_Delete(m);
    entries_free(&files);
    return 0;
fail:
    hh_store_close(s);
    if (tmp[0])
        rm_tree(tmp);
    cJSON_Delete(m);
    entries_free(&files);
    return rc;
}
