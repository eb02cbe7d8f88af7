/* test_backup.c - `hoheit backup` and `hoheit restore` (src/cli/backup.c)
 * against a real server: backups taken by the built binary while chat
 * completions, uploads and deletes run on an in-process server, restored
 * into new directories and served again (same keys, documents, sources,
 * audit records; `hoheit audit verify` passes); and every refusal: a
 * flipped byte, a missing manifest, a truncated database (caught by its
 * hash, and by the integrity check when the manifest is "fixed" too), a
 * missing file, a newer schema, a non-empty target, an existing DEST -
 * with nothing written to the target in any of them; the snapshot retaken
 * when a document is deleted under it (fault injection); models listed or
 * copied; an older schema left alone by backup and migrated by restore. */
#include "harness.h"
#include "http_helpers.h"
#include "govern/audit.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs `$HOHEIT_BIN ARGS`, stdout+stderr into out (cap bytes, may be NULL);
 * the exit status, -1 when HOHEIT_BIN is not set, -2 when it did not exit. */
static int run_cli(const char *args, char *out, size_t cap)
{
    int rc = hh_test_run_cli(args, NULL, true, out, cap);
    if (rc == -1 && out)
        snprintf(out, cap, "HOHEIT_BIN is not set (run through `make test`)");
    return rc;
}

static bool exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* Number of entries in dir (without . and ..), -1 when it cannot be read. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static cJSON *read_json(const char *path)
{
    size_t n = 0;
    char *t = hh_test_read_file(path, &n);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    free(t);
    return j;
}

static long long json_int(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsNumber(x) ? (long long)x->valuedouble : -1;
}

/* Every file under root has mode 0600 and every folder 0700; the first
 * offender into bad. */
static bool modes_private(const char *root, char *bad, size_t cap)
{
    DIR *d = opendir(root);
    if (!d)
        return false;
    bool ok = true;
    struct dirent *de;
    while (ok && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", root, de->d_name);
        struct stat sb;
        if (lstat(p, &sb) != 0)
            ok = false;
        else if (S_ISDIR(sb.st_mode))
            ok = (sb.st_mode & 0777) == 0700 && modes_private(p, bad, cap);
        else
            ok = S_ISREG(sb.st_mode) && (sb.st_mode & 0777) == 0600;
        if (!ok && !bad[0])
            snprintf(bad, cap, "%s (mode %o)", p, (unsigned)(sb.st_mode & 07777));
    }
    closedir(d);
    return ok;
}

/* "doc ids/chunk ids" of an /api/ask answer's sources, e.g. "3/7 1/1 ". */
static void ask_sources(int port, const char *key, const char *question, char *out, size_t cap, int *status)
{
    char body[512];
    snprintf(body, sizeof body, "{\"question\":\"%s\",\"retrieval\":\"bm25\"}", question);
    hh_test_resp_t r;
    out[0] = '\0';
    *status = -1;
    if (hh_test_http(port, "POST", "/api/ask", key, body, &r) != 0)
        return;
    *status = r.status;
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(r.j, "sources"), *s;
    size_t n = 0;
    cJSON_ArrayForEach(s, src) {
        int w = snprintf(out + n, cap - n, "%lld/%lld ", json_int(s, "document_id", NULL), json_int(s, "chunk_id", NULL));
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
    hh_test_resp_free(&r);
}

/* Number of documents GET /api/documents lists for key; -status on error. */
static int list_docs(int port, const char *key)
{
    hh_test_resp_t r;
    if (hh_test_http(port, "GET", "/api/documents", key, NULL, &r) != 0)
        return -1000;
    int n = r.status == 200 ? cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "data")) : -r.status;
    hh_test_resp_free(&r);
    return n;
}

/* The "hash" of every exported audit record with seq <= last, by seq
 * (hashes[seq], 65 bytes each); the number found. */
static int64_t audit_hashes(hh_store_t *s, int64_t last, char (*hashes)[65])
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -1;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_audit_export(s, 1, f, &err);
    fclose(f);
    int64_t n = 0;
    for (char *line = buf, *nl; !rc && line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "kind"), *h = cJSON_GetObjectItemCaseSensitive(j, "hash");
        long long seq = json_int(j, "seq", NULL);
        if (cJSON_IsString(k) && !strcmp(k->valuestring, "record") && cJSON_IsString(h) && seq >= 1 && seq <= last) {
            snprintf(hashes[seq], 65, "%s", h->valuestring);
            n++;
        }
        cJSON_Delete(j);
    }
    free(buf);
    return rc ? -1 : n;
}

/* ---- the load ------------------------------------------------------------ */

typedef struct load {
    int         port;
    const char *key;
    atomic_bool stop;
    atomic_int  chats_ok, chats_bad, uploads_ok, uploads_bad, deletes_ok;
    int         id;    /* worker number */
} load_t;

typedef struct worker {
    load_t *l;
    int     id;
} worker_t;

static void *chat_worker(void *arg)
{
    worker_t *w = arg;
    static const char *const prompts[] = { "Once upon a time", "The little dog", "Lily and Tom" };
    for (int i = 0; !atomic_load(&w->l->stop); i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}],\"max_tokens\":12}",
                 prompts[(i + w->id) % 3]);
        hh_test_resp_t r;
        if (hh_test_http(w->l->port, "POST", "/v1/chat/completions", w->l->key, body, &r) == 0 && r.status == 200)
            atomic_fetch_add(&w->l->chats_ok, 1);
        else
            atomic_fetch_add(&w->l->chats_bad, 1);
        hh_test_resp_free(&r);
    }
    return NULL;
}

/* Uploads documents into "load" and deletes every other one again, so
 * stored files appear and disappear while the backups copy files/. */
static void *upload_worker(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; !atomic_load(&w->l->stop); i++) {
        char name[64], text[512];
        snprintf(name, sizeof name, "load-%d-%d.md", w->id, i);
        snprintf(text, sizeof text, "# Load %d\n\nLoad document %d of worker %d: the canteen opens at %d o'clock.\n", i,
                 i, w->id, 7 + i % 5);
        hh_test_resp_t r;
        int64_t id = -1;
        if (hh_test_http_upload(w->l->port, w->l->key, "load", name, text, &r) == 0 && r.status == 201) {
            atomic_fetch_add(&w->l->uploads_ok, 1);
            id = json_int(r.j, "id", NULL);
        } else {
            atomic_fetch_add(&w->l->uploads_bad, 1);
        }
        hh_test_resp_free(&r);
        if (id > 0 && i % 2 == 1) {
            char path[64];
            snprintf(path, sizeof path, "/api/documents/%lld", (long long)id);
            if (hh_test_http(w->l->port, "DELETE", path, w->l->key, NULL, &r) == 0 && r.status / 100 == 2)
                atomic_fetch_add(&w->l->deletes_ok, 1);
            hh_test_resp_free(&r);
        }
    }
    return NULL;
}

#define N_BACKUPS 4
#define QUESTION  "Which office books hotels for business travel?"

static const char *const g_handbook[] = {
    "# Travel\n\nHotels for business travel are booked by the travel office. Rooms cost up to 120 euro a night.\n",
    "# Expenses\n\nReceipts go to accounting within 30 days. The travel office checks hotel invoices.\n",
    "# Holidays\n\nHoliday requests go to your team lead two weeks ahead.\n",
    "# Security\n\nBadges are worn visibly. Visitors sign in at reception.\n",
};

TEST(backup_under_load_restores_keys_documents_sources_audit)
{
    char out[16384];
    ASSERT_TRUE(getenv("HOHEIT_BIN") != NULL);
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.http.engine.n_slots = 2;
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "bk-live", &p));
    char admin[HH_KEY_LEN + 1], mia[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", admin, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "mia", "member", mia, NULL));
    hh_err_t err;
    hh_err_clear(&err);
    const char *sales[] = { "sales" };
    ASSERT_OK(hh_store_user_add_department(t.st, "mia", "sales", &err));
    ASSERT_OK(hh_store_collection_ensure(t.st, "handbook", sales, 1, NULL, &err));
    ASSERT_OK(hh_store_collection_ensure(t.st, "load", NULL, 0, NULL, &err));
    for (size_t i = 0; i < sizeof g_handbook / sizeof g_handbook[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "handbook-%zu.md", i);
        hh_test_resp_t r;
        ASSERT_OK(hh_test_http_upload(t.port, admin, "handbook", name, g_handbook[i], &r));
        ASSERT_EQ_INT(r.status, 201);
        hh_test_resp_free(&r);
    }
    /* the answer's sources on the original: the load never touches "handbook" */
    char want[512];
    int st = 0;
    ask_sources(t.port, mia, QUESTION, want, sizeof want, &st);
    ASSERT_EQ_INT(st, 200);
    ASSERT_TRUE(strlen(want) > 0);

    load_t l = { .port = t.port, .key = admin };
    atomic_init(&l.stop, false);
    worker_t ws[3] = { { &l, 0 }, { &l, 1 }, { &l, 2 } };
    pthread_t th[3];
    ASSERT_EQ_INT(pthread_create(&th[0], NULL, chat_worker, &ws[0]), 0);
    ASSERT_EQ_INT(pthread_create(&th[1], NULL, chat_worker, &ws[1]), 0);
    ASSERT_EQ_INT(pthread_create(&th[2], NULL, upload_worker, &ws[2]), 0);
    char dest[N_BACKUPS][600], args[4096];
    int brc[N_BACKUPS], during = 0;   /* requests completed while a backup ran */
    char bout[N_BACKUPS][4096];
    for (int b = 0; b < N_BACKUPS; b++) {
        /* let the load move on between backups */
        while (atomic_load(&l.chats_ok) + atomic_load(&l.uploads_ok) < 4 * (b + 1))
            usleep(20000);
        snprintf(dest[b], sizeof dest[b], "%s/bk-dest-%d", hh_test_tmpdir(), b);
        snprintf(args, sizeof args, "backup --data %s --out %s", t.data, dest[b]);
        int before = atomic_load(&l.chats_ok) + atomic_load(&l.uploads_ok) + atomic_load(&l.deletes_ok);
        brc[b] = run_cli(args, bout[b], sizeof bout[b]);
        during += atomic_load(&l.chats_ok) + atomic_load(&l.uploads_ok) + atomic_load(&l.deletes_ok) - before;
    }
    atomic_store(&l.stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    printf("    load: %d chats ok (%d failed), %d uploads ok (%d failed), %d deletes; %d of them completed while "
           "one of the %d backups ran\n",
           atomic_load(&l.chats_ok), atomic_load(&l.chats_bad), atomic_load(&l.uploads_ok),
           atomic_load(&l.uploads_bad), atomic_load(&l.deletes_ok), during, N_BACKUPS);
    ASSERT_GE(during, 1);
    for (int b = 0; b < N_BACKUPS; b++) {
        if (brc[b] != 0)
            printf("    backup %d: %s\n", b, bout[b]);
        ASSERT_EQ_INT(brc[b], 0);
    }
    ASSERT_TRUE(atomic_load(&l.chats_ok) > 0);
    ASSERT_EQ_INT(atomic_load(&l.chats_bad), 0);
    ASSERT_TRUE(atomic_load(&l.uploads_ok) > 0);
    ASSERT_EQ_INT(atomic_load(&l.uploads_bad), 0);

    int64_t prev_last = -1;
    for (int b = 0; b < N_BACKUPS; b++) {
        char bad[1200] = "", mpath[700], rdir[700], rname[64];
        const char *db = dest[b];
        ASSERT_TRUE(modes_private(dest[b], bad, sizeof bad));
        struct stat sb;
        ASSERT_OK(stat(dest[b], &sb));
        ASSERT_EQ_INT(sb.st_mode & 0777, 0700);
        ASSERT_TRUE(snprintf(mpath, sizeof mpath, "%s/manifest.json", db) < (int)sizeof mpath);
        cJSON *m = read_json(mpath);
        ASSERT_TRUE(m != NULL);
        long long m_docs = json_int(m, "counts", "documents"), m_last = json_int(m, "counts", "audit_last_seq");
        long long m_keys = json_int(m, "counts", "active_api_keys");
        cJSON_Delete(m);
        ASSERT_GE(m_docs, 4);
        ASSERT_GE(m_last, 1);
        ASSERT_EQ_INT(m_keys, 2);
        ASSERT_GE(m_last, prev_last + 1);   /* the load wrote audit records between backups */
        prev_last = m_last;
        /* the backup's own audit record is in the live log, after the snapshot's */
        ASSERT_TRUE(strstr(bout[b], "audit: recorded as seq") != NULL);

        snprintf(rname, sizeof rname, "bk-restored-%d", b);
        snprintf(rdir, sizeof rdir, "%s/%s", hh_test_tmpdir(), rname);
        snprintf(args, sizeof args, "restore --from %s --data %s", dest[b], rdir);
        int rrc = run_cli(args, out, sizeof out);
        if (rrc != 0)
            printf("    restore %d: %s\n", b, out);
        ASSERT_EQ_INT(rrc, 0);
        ASSERT_TRUE(strstr(out, "audit chain verified") != NULL);
        bad[0] = '\0';
        ASSERT_TRUE(modes_private(rdir, bad, sizeof bad));

        /* `hoheit audit verify` on the restored directory */
        snprintf(args, sizeof args, "audit verify --data %s", rdir);
        ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);

        hh_test_srv_t t2;
        ASSERT_OK(hh_test_srv_start(&t2, rname, NULL));
        /* the same keys work, every document of the snapshot is listed */
        ASSERT_EQ_INT(list_docs(t2.port, admin), m_docs);
        ASSERT_EQ_INT(list_docs(t2.port, mia), (int)(sizeof g_handbook / sizeof g_handbook[0]));
        /* the same sources for the same question */
        char got[512];
        ask_sources(t2.port, mia, QUESTION, got, sizeof got, &st);
        ASSERT_EQ_INT(st, 200);
        ASSERT_STREQ(got, want);
        /* every audit record of the snapshot, hash for hash as in the live log */
        char(*live)[65] = calloc((size_t)m_last + 1, 65), (*rest)[65] = calloc((size_t)m_last + 1, 65);
        ASSERT_TRUE(live && rest);
        int64_t n_live = audit_hashes(t.st, m_last, live), n_rest = audit_hashes(t2.st, m_last, rest);
        bool same = true;
        for (int64_t s = 1; s <= m_last; s++)
            same &= live[s][0] && !strcmp(live[s], rest[s]);
        free(live);
        free(rest);
        ASSERT_EQ_INT(n_live, m_last);
        ASSERT_EQ_INT(n_rest, m_last);
        ASSERT_TRUE(same);
        /* the restored server's own chain: the snapshot's records + the restore record */
        hh_audit_verify_result_t vr;
        ASSERT_OK(hh_audit_verify_store(t2.st, NULL, &vr, &err));
        ASSERT_TRUE(vr.ok);
        ASSERT_EQ_INT(vr.last_seq, m_last + 2);   /* + the restore record + the ask above */
        hh_test_srv_stop(&t2);
    }
    hh_test_srv_stop(&t);
}

/* ---- refusals -------------------------------------------------------------- */

/* A small backup to damage: one document, a key, audit records. */
static bool make_backup(const char *name, char *dest, size_t cap, char *sha, char *key)
{
    hh_test_srv_t t;
    if (hh_test_srv_start(&t, name, NULL) != 0)
        return false;
    bool ok = hh_test_srv_user(&t, "root", "admin", key, NULL) == 0;
    hh_err_t err;
    hh_err_clear(&err);
    ok = ok && hh_store_collection_ensure(t.st, "hb", NULL, 0, NULL, &err) == 0;
    hh_test_resp_t r;
    ok = ok && hh_test_http_upload(t.port, key, "hb", "a.md", "# A\n\nThe travel office books hotels.\n", &r) == 0 &&
         r.status == 201;
    if (ok)
        snprintf(sha, 65, "%s", hh_test_json_str(r.j, "sha256"));
    hh_test_resp_free(&r);
    ok = ok && hh_test_http(t.port, "POST", "/api/ask", key, "{\"question\":\"hotels\"}", &r) == 0 && r.status == 200;
    hh_test_resp_free(&r);
    snprintf(dest, cap, "%s/%s-backup", hh_test_tmpdir(), name);
    char args[2048], out[4096];
    snprintf(args, sizeof args, "backup --data %s --out %s", t.data, dest);
    int rc = run_cli(args, out, sizeof out);
    if (rc != 0)
        printf("    backup: %s\n", out);
    hh_test_srv_stop(&t);
    return ok && rc == 0;
}

/* Copies the backup src to a fresh folder <tmp>/<name> (cp -a). */
static bool copy_backup(const char *src, const char *name, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s/%s", hh_test_tmpdir(), name);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", src, dst);
    return system(cmd) == 0;
}

/* Restores from into a new parent folder <tmp>/<name>-parent/new; exit
 * status, output in out. *clean: afterwards the parent holds nothing
 * (neither new nor a hidden temp folder). */
static int restore_into_fresh(const char *from, const char *name, char *out, size_t cap, bool *clean)
{
    char parent[600], target[700], args[2048];
    snprintf(parent, sizeof parent, "%s/%s-parent", hh_test_tmpdir(), name);
    mkdir(parent, 0700);
    snprintf(target, sizeof target, "%s/new", parent);
    snprintf(args, sizeof args, "restore --from %s --data %s", from, target);
    int rc = run_cli(args, out, cap);
    *clean = dir_entries(parent) == 0;
    return rc;
}

static bool set_manifest(const char *dir, const char *path, const char *field, double num, const char *str)
{
    char mp[1024];
    snprintf(mp, sizeof mp, "%s/manifest.json", dir);
    cJSON *m = read_json(mp), *f;
    if (!m)
        return false;
    bool done = false;
    if (!path) {
        cJSON_ReplaceItemInObject(m, field, cJSON_CreateNumber(num));
        done = true;
    }
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(m, "files")) {
        if (path && !strcmp(hh_test_json_str(f, "path"), path)) {
            cJSON_ReplaceItemInObject(f, field, str ? cJSON_CreateString(str) : cJSON_CreateNumber(num));
            done = true;
        }
    }
    char *txt = cJSON_Print(m);
    cJSON_Delete(m);
    FILE *fp = fopen(mp, "wb");
    bool ok = txt && fp && fputs(txt, fp) >= 0;
    if (fp)
        fclose(fp);
    free(txt);
    return ok && done;
}

/* Drops the manifest's entry for path. */
static bool drop_manifest_entry(const char *dir, const char *path)
{
    char mp[1024];
    snprintf(mp, sizeof mp, "%s/manifest.json", dir);
    cJSON *m = read_json(mp);
    cJSON *fa = cJSON_GetObjectItemCaseSensitive(m, "files");
    int idx = -1, i = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, fa) {
        if (!strcmp(hh_test_json_str(f, "path"), path))
            idx = i;
        i++;
    }
    if (idx >= 0)
        cJSON_DeleteItemFromArray(fa, idx);
    char *txt = m ? cJSON_Print(m) : NULL;
    cJSON_Delete(m);
    FILE *fp = txt ? fopen(mp, "wb") : NULL;
    bool ok = fp && fputs(txt, fp) >= 0;
    if (fp)
        fclose(fp);
    free(txt);
    return ok && idx >= 0;
}

static bool sha256_file(const char *path, char hex[65])
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    bool ok = fscanf(p, "%64s", hex) == 1;
    pclose(p);
    return ok && strlen(hex) == 64;
}

TEST(backup_restore_refuses_damage_and_nonempty_targets)
{
    ASSERT_TRUE(getenv("HOHEIT_BIN") != NULL);
    char good[600], sha[65] = "", key[HH_KEY_LEN + 1], out[8192], dir[700], file[900];
    bool clean = false;
    ASSERT_TRUE(make_backup("bk-ref", good, sizeof good, sha, key));
    ASSERT_EQ_INT(strlen(sha), 64);

    /* one flipped byte in a stored document */
    ASSERT_TRUE(copy_backup(good, "bk-flip", dir, sizeof dir));
    snprintf(file, sizeof file, "%s/files/%.2s/%s", dir, sha, sha);
    size_t n = 0;
    unsigned char *bytes = hh_test_read_file(file, &n);
    ASSERT_TRUE(bytes && n > 5);
    bytes[5] ^= 0x01;
    FILE *f = fopen(file, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ_INT(fwrite(bytes, 1, n, f), n);
    fclose(f);
    free(bytes);
    ASSERT_EQ_INT(restore_into_fresh(dir, "bk-flip", out, sizeof out, &clean), 1);
    char name[100];
    snprintf(name, sizeof name, "files/%.2s/%s", sha, sha);
    ASSERT_TRUE(strstr(out, name) != NULL);
    ASSERT_TRUE(strstr(out, "damaged") != NULL);
    ASSERT_TRUE(strstr(out, sha) != NULL);   /* expected hash named */
    ASSERT_TRUE(clean);

    /* manifest deleted */
    ASSERT_TRUE(copy_backup(good, "bk-nomanifest", dir, sizeof dir));
    snprintf(file, sizeof file, "%s/manifest.json", dir);
    ASSERT_OK(unlink(file));
    ASSERT_EQ_INT(restore_into_fresh(dir, "bk-nomanifest", out, sizeof out, &clean), 1);
    ASSERT_TRUE(strstr(out, "manifest.json is missing") != NULL);
    ASSERT_TRUE(clean);

    /* database truncated: caught by its hash */
    ASSERT_TRUE(copy_backup(good, "bk-trunc", dir, sizeof dir));
    snprintf(file, sizeof file, "%s/hoheit.db", dir);
    struct stat sb;
    ASSERT_OK(stat(file, &sb));
    ASSERT_OK(truncate(file, sb.st_size / 2));
    ASSERT_EQ_INT(restore_into_fresh(dir, "bk-trunc", out, sizeof out, &clean), 1);
    ASSERT_TRUE(strstr(out, "hoheit.db: expected") != NULL);
    ASSERT_TRUE(clean);
    /* ... and by SQLite's integrity check when the manifest was "fixed" to match */
    char hex[65];
    ASSERT_TRUE(sha256_file(file, hex));
    ASSERT_TRUE(set_manifest(dir, "hoheit.db", "sha256", 0, hex));
    ASSERT_TRUE(set_manifest(dir, "hoheit.db", "size", (double)(sb.st_size / 2), NULL));
    ASSERT_EQ_INT(restore_into_fresh(dir, "bk-trunc2", out, sizeof out, &clean), 1);
    ASSERT_TRUE(strstr(out, "integrity check") != NULL);
    ASSERT_TRUE(clean);

    /* a document's file missing, and the manifest edited to hide it */
    ASSERT_TRUE(copy_backup(good, "bk-hidden", dir, sizeof dir));
    snprintf(file, sizeof file, "%s/files/%.2s/%s", dir, sha, sha);
    ASSERT_OK(unlink(file));
    snprintf(name, sizeof name, "files/%.2s/%s", sha, sha);
    ASSERT_TRUE(drop_manifest_entry(dir, name));
    ASSERT_EQ_INT(restore_into_fresh(dir, "bk-hidden", out, sizeof out, &clean), 1);
    ASSERT_TRUE(strstr(out, "the backup does not hold") != NULL);
    ASSERT_TRUE(strstr(out, name) != NULL);
    ASSERT_TRUE(clean);

    /* a listed file missing */
    ASSERT_TRUE(copy_backup(good, "bk-missing", dir, sizeof dir));
    snprintf(file, sizeof file, "%s/audit.key", dir);
    ASSERT_OK(unlink(file));
    ASSERT_EQ_INT(restore_into_fresh(dir, "bk-missing", out, sizeof out, &clean), 1);
    ASSERT_TRUE(strstr(out, "audit.key is missing") != NULL);
    ASSERT_TRUE(clean);

    /* a backup from a newer schema than this binary */
    ASSERT_TRUE(copy_backup(good, "bk-newer", dir, sizeof dir));
    ASSERT_TRUE(set_manifest(dir, NULL, "schema_version", hh_store_schema_newest() + 1, NULL));
    ASSERT_EQ_INT(restore_into_fresh(dir, "bk-newer", out, sizeof out, &clean), 1);
    ASSERT_TRUE(strstr(out, "newer") != NULL || strstr(out, "knows up to") != NULL);
    ASSERT_TRUE(clean);

    /* a path that would leave NEWDIR */
    ASSERT_TRUE(copy_backup(good, "bk-escape", dir, sizeof dir));
    ASSERT_TRUE(set_manifest(dir, "audit.pub", "path", 0, "../escaped.pub"));
    ASSERT_EQ_INT(restore_into_fresh(dir, "bk-escape", out, sizeof out, &clean), 1);
    ASSERT_TRUE(strstr(out, "unsafe path") != NULL);
    ASSERT_TRUE(clean);
    snprintf(file, sizeof file, "%s/bk-escape-parent/escaped.pub", hh_test_tmpdir());
    ASSERT_FALSE(exists(file));

    /* a non-empty target: refused, its content untouched */
    char target[700], args[2048];
    snprintf(target, sizeof target, "%s/bk-nonempty", hh_test_tmpdir());
    mkdir(target, 0700);
    snprintf(file, sizeof file, "%s/precious.txt", target);
    f = fopen(file, "wb");
    ASSERT_TRUE(f != NULL);
    fputs("keep me", f);
    fclose(f);
    snprintf(args, sizeof args, "restore --from %s --data %s", good, target);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 1);
    ASSERT_TRUE(strstr(out, "not empty") != NULL);
    ASSERT_EQ_INT(dir_entries(target), 1);
    size_t pn = 0;
    char *kept = hh_test_read_file(file, &pn);
    ASSERT_TRUE(kept != NULL);
    ASSERT_EQ_INT(pn, 7);
    free(kept);

    /* an unknown extra file is a warning, and the restore goes on; an
     * empty target directory is fine */
    ASSERT_TRUE(copy_backup(good, "bk-extra", dir, sizeof dir));
    snprintf(file, sizeof file, "%s/stray.txt", dir);
    f = fopen(file, "wb");
    ASSERT_TRUE(f != NULL);
    fputs("stray", f);
    fclose(f);
    snprintf(target, sizeof target, "%s/bk-extra-target", hh_test_tmpdir());
    mkdir(target, 0700);
    snprintf(args, sizeof args, "restore --from %s --data %s", dir, target);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);
    ASSERT_TRUE(strstr(out, "warning: stray.txt is in the backup but not in its manifest") != NULL);
    snprintf(file, sizeof file, "%s/stray.txt", target);
    ASSERT_FALSE(exists(file));
    snprintf(file, sizeof file, "%s/files/%.2s/%s", target, sha, sha);
    ASSERT_TRUE(exists(file));
    /* the restored key works against the restored store */
    hh_store_t *s = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_open(&s, target, &err));
    hh_store_key_t k;
    int vrc = hh_store_key_verify(s, key, &k, &err);
    hh_store_close(s);
    ASSERT_OK(vrc);
    ASSERT_STREQ(k.user, "root");

    /* backup into an existing DEST: refused, DEST untouched */
    char live[600];
    snprintf(live, sizeof live, "%s/bk-ref", hh_test_tmpdir());
    snprintf(args, sizeof args, "backup --data %s --out %s", live, target);
    int before = dir_entries(target);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 1);
    ASSERT_TRUE(strstr(out, "already exists") != NULL);
    ASSERT_EQ_INT(dir_entries(target), before);
    /* a live directory that lost a stored original: refused, naming it */
    char lost[700], lost_out[700];
    snprintf(lost, sizeof lost, "%s/bk-lost", hh_test_tmpdir());
    snprintf(lost_out, sizeof lost_out, "%s/bk-lost-out", hh_test_tmpdir());
    ASSERT_TRUE(copy_backup(live, "bk-lost", lost, sizeof lost));
    snprintf(file, sizeof file, "%s/files/%.2s/%s", lost, sha, sha);
    ASSERT_OK(unlink(file));
    snprintf(args, sizeof args, "backup --data %s --out %s", lost, lost_out);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 1);
    ASSERT_TRUE(strstr(out, "missing from") != NULL);
    ASSERT_TRUE(strstr(out, sha) != NULL);
    ASSERT_FALSE(exists(lost_out));
    /* and from a directory without a database: nothing is created */
    snprintf(args, sizeof args, "backup --data %s/bk-nothing --out %s/bk-nothing-out", hh_test_tmpdir(),
             hh_test_tmpdir());
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 1);
    ASSERT_TRUE(strstr(out, "no hoheit database") != NULL);
    snprintf(file, sizeof file, "%s/bk-nothing", hh_test_tmpdir());
    ASSERT_FALSE(exists(file));
    snprintf(file, sizeof file, "%s/bk-nothing-out", hh_test_tmpdir());
    ASSERT_FALSE(exists(file));
}

/* ---- the race between the snapshot and files/ ----------------------------- */

typedef struct bg {
    char cmd[4096];
    int  status;
} bg_t;

static void *bg_run(void *arg)
{
    bg_t *b = arg;
    int st = system(b->cmd);
    b->status = WIFEXITED(st) ? WEXITSTATUS(st) : -2;
    return NULL;
}

/* Waits (up to 20 s) until the file at path contains needle. */
static bool wait_for(const char *path, const char *needle)
{
    for (int i = 0; i < 2000; i++) {
        size_t n = 0;
        char *t = hh_test_read_file(path, &n);
        bool hit = t && strstr(t, needle);
        free(t);
        if (hit)
            return true;
        usleep(10000);
    }
    return false;
}

TEST(backup_retakes_the_snapshot_when_a_document_goes_under_it)
{
    const char *bin = getenv("HOHEIT_BIN");
    ASSERT_TRUE(bin != NULL);
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "bk-race", NULL));
    char key[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", key, NULL));
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_collection_ensure(t.st, "hb", NULL, 0, NULL, &err));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http_upload(t.port, key, "hb", "keep.md", "# Keep\n\nThis document stays.\n", &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    /* an orphan in files/ (an interrupted ingest): not referenced, not backed up */
    char orphan_src[700], hex[65], odir[800], opath[900];
    snprintf(orphan_src, sizeof orphan_src, "%s/bk-race-orphan.txt", hh_test_tmpdir());
    FILE *f = fopen(orphan_src, "wb");
    ASSERT_TRUE(f != NULL);
    fputs("an orphaned original", f);
    fclose(f);
    ASSERT_TRUE(sha256_file(orphan_src, hex));
    snprintf(odir, sizeof odir, "%s/files/%.2s", t.data, hex);
    mkdir(odir, 0700);
    snprintf(opath, sizeof opath, "%s/%s", odir, hex);
    ASSERT_OK(rename(orphan_src, opath));

    bg_t b;
    char dest[600], log[600];
    snprintf(dest, sizeof dest, "%s/bk-race-dest", hh_test_tmpdir());
    snprintf(log, sizeof log, "%s/bk-race.log", hh_test_tmpdir());
    snprintf(b.cmd, sizeof b.cmd, "HOHEIT_BACKUP_TEST_PAUSE_MS=1500 %s backup --data %s --out %s >%s 2>&1", bin, t.data,
             dest, log);
    pthread_t th;
    ASSERT_EQ_INT(pthread_create(&th, NULL, bg_run, &b), 0);
    /* between the files copy and the snapshot: a new document (its file was
     * not copied in step 1) ... */
    bool seen1 = wait_for(log, "after step 1");
    int64_t id = -1;
    char gone_sha[65] = "";
    if (seen1 && hh_test_http_upload(t.port, key, "hb", "gone.md", "# Gone\n\nUploaded and deleted at once.\n", &r) == 0 &&
        r.status == 201) {
        id = json_int(r.j, "id", NULL);
        snprintf(gone_sha, sizeof gone_sha, "%s", hh_test_json_str(r.j, "sha256"));
    }
    hh_test_resp_free(&r);
    /* ... deleted after the snapshot, before its file is copied */
    bool seen2 = wait_for(log, "after step 2");
    int del = -1;
    if (seen2 && id > 0) {
        char path[64];
        snprintf(path, sizeof path, "/api/documents/%lld", (long long)id);
        if (hh_test_http(t.port, "DELETE", path, key, NULL, &r) == 0)
            del = r.status;
        hh_test_resp_free(&r);
    }
    pthread_join(th, NULL);
    size_t n = 0;
    char *out = hh_test_read_file(log, &n);
    printf("%s", out ? out : "");
    bool retook = out && strstr(out, "was deleted while the backup ran") && strstr(out, "2 snapshots were needed");
    free(out);
    ASSERT_TRUE(seen1);
    ASSERT_TRUE(seen2);
    ASSERT_TRUE(id > 0);
    ASSERT_EQ_INT(del / 100, 2);
    ASSERT_EQ_INT(b.status, 0);
    ASSERT_TRUE(retook);
    /* the second snapshot no longer has the document; neither file is in the backup */
    char mpath[700], p[900];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dest);
    cJSON *m = read_json(mpath);
    long long docs = json_int(m, "counts", "documents");
    cJSON_Delete(m);
    ASSERT_EQ_INT(docs, 1);
    snprintf(p, sizeof p, "%s/files/%.2s/%s", dest, gone_sha, gone_sha);
    ASSERT_FALSE(exists(p));
    snprintf(p, sizeof p, "%s/files/%.2s/%s", dest, hex, hex);
    ASSERT_FALSE(exists(p));
    ASSERT_TRUE(exists(opath));   /* the live orphan is left alone */
    /* and it restores */
    char rdir[700], args[2048], rout[4096];
    snprintf(rdir, sizeof rdir, "%s/bk-race-restored", hh_test_tmpdir());
    snprintf(args, sizeof args, "restore --from %s --data %s", dest, rdir);
    ASSERT_EQ_INT(run_cli(args, rout, sizeof rout), 0);
    hh_test_srv_stop(&t);
}

/* ---- models ---------------------------------------------------------------- */

TEST(backup_lists_models_and_copies_them_with_with_models)
{
    ASSERT_TRUE(getenv("HOHEIT_BIN") != NULL);
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "bk-models", NULL));
    char data[512];
    snprintf(data, sizeof data, "%s", t.data);
    hh_test_srv_stop(&t);
    char model[700], want[65], args[2048], out[8192], dest[2][600], rdir[2][600];
    snprintf(model, sizeof model, "%s/models/stories260K.gguf", data);
    ASSERT_TRUE(sha256_file(model, want));
    for (int with = 0; with < 2; with++) {
        snprintf(dest[with], sizeof dest[with], "%s/bk-models-%d", hh_test_tmpdir(), with);
        snprintf(rdir[with], sizeof rdir[with], "%s/bk-models-restored-%d", hh_test_tmpdir(), with);
        snprintf(args, sizeof args, "backup --data %s --out %s --no-audit%s", data, dest[with],
                 with ? " --with-models" : "");
        ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);
        /* the manifest names the model with its sha256 either way */
        char mpath[700];
        snprintf(mpath, sizeof mpath, "%s/manifest.json", dest[with]);
        cJSON *m = read_json(mpath);
        const cJSON *mo = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "models"), 0);
        char name[64], sha[65];
        snprintf(name, sizeof name, "%s", hh_test_json_str(mo, "name"));
        snprintf(sha, sizeof sha, "%s", hh_test_json_str(mo, "sha256"));
        bool included = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(mo, "included"));
        cJSON_Delete(m);
        ASSERT_STREQ(name, "stories260K.gguf");
        ASSERT_STREQ(sha, want);
        ASSERT_EQ_INT(included, with);
        char copy[800], got[65] = "";
        snprintf(copy, sizeof copy, "%s/models/stories260K.gguf", dest[with]);
        ASSERT_EQ_INT(exists(copy), with);
        snprintf(args, sizeof args, "restore --from %s --data %s", dest[with], rdir[with]);
        ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);
        ASSERT_EQ_INT(strstr(out, "were not backed up") != NULL, !with);
        snprintf(copy, sizeof copy, "%s/models/stories260K.gguf", rdir[with]);
        ASSERT_EQ_INT(exists(copy), with);
        if (with) {
            ASSERT_TRUE(sha256_file(copy, got));
            ASSERT_STREQ(got, want);
        }
    }
}

/* ---- an older schema ------------------------------------------------------- */

/* Schema version of DIR/hoheit.db read with plain SQLite, -1 on error. */
static int db_version(const char *dir)
{
    char path[700];
    snprintf(path, sizeof path, "%s/hoheit.db", dir);
    sqlite3 *db = NULL;
    int v = -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT MAX(version) FROM schema_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

TEST(backup_leaves_an_older_schema_alone_and_restore_migrates_it)
{
    ASSERT_TRUE(getenv("HOHEIT_BIN") != NULL);
    /* a data directory as schema version 1 left it: users and API keys */
    char data[600], path[700], dest[600], rdir[600], args[2048], out[8192];
    snprintf(data, sizeof data, "%s/bk-old", hh_test_tmpdir());
    ASSERT_OK(mkdir(data, 0700));
    snprintf(path, sizeof path, "%s/hoheit.db", data);
    sqlite3 *db = NULL;
    ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    int er = sqlite3_exec(db,
                          "PRAGMA journal_mode=WAL;"
                          "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);"
                          "INSERT INTO schema_version VALUES (1, 0);"
                          "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
                          "  role TEXT NOT NULL CHECK (role IN ('admin','member','auditor','approver')),"
                          "  created_at INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);"
                          "CREATE TABLE api_keys (id INTEGER PRIMARY KEY,"
                          "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
                          "  prefix TEXT NOT NULL, hash TEXT NOT NULL, created_at INTEGER NOT NULL,"
                          "  revoked_at INTEGER, last_used_at INTEGER);"
                          "CREATE INDEX api_keys_prefix ON api_keys(prefix);"
                          "INSERT INTO users (name, role, created_at) VALUES ('olga', 'admin', 1);",
                          NULL, NULL, NULL);
    sqlite3_close(db);
    ASSERT_EQ_INT(er, SQLITE_OK);
    snprintf(path, sizeof path, "%s/secret.key", data);
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ_INT(fwrite("0123456789abcdef0123456789abcdef", 1, 32, f), 32);
    fclose(f);
    ASSERT_OK(chmod(path, 0600));

    snprintf(dest, sizeof dest, "%s/bk-old-backup", hh_test_tmpdir());
    snprintf(args, sizeof args, "backup --data %s --out %s", data, dest);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);
    /* the backup did not migrate the source (nor record itself: that would) */
    ASSERT_EQ_INT(db_version(data), 1);
    ASSERT_TRUE(strstr(out, "not recorded in the audit log") != NULL);
    char mpath[700];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dest);
    cJSON *m = read_json(mpath);
    long long sv = json_int(m, "schema_version", NULL), users = json_int(m, "counts", "users");
    cJSON_Delete(m);
    ASSERT_EQ_INT(sv, 1);
    ASSERT_EQ_INT(users, 1);

    snprintf(rdir, sizeof rdir, "%s/bk-old-restored", hh_test_tmpdir());
    snprintf(args, sizeof args, "restore --from %s --data %s", dest, rdir);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);
    char want[64];
    snprintf(want, sizeof want, "migrated from schema 1 to %d", hh_store_schema_newest());
    ASSERT_TRUE(strstr(out, want) != NULL);
    ASSERT_EQ_INT(db_version(rdir), hh_store_schema_newest());
    hh_store_t *s = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_open(&s, rdir, &err));
    hh_store_user_t u;
    int rc = hh_store_user_get(s, "olga", &u, &err);
    hh_audit_verify_result_t vr;
    int vrc = hh_audit_verify_store(s, NULL, &vr, &err);
    hh_store_close(s);
    ASSERT_OK(rc);
    ASSERT_STREQ(u.role, "admin");
    ASSERT_OK(vrc);
    ASSERT_TRUE(vr.ok);
    ASSERT_EQ_INT(vr.last_seq, 1);   /* the restore record opened the chain */
}

/* Attack: whoever can write a backup folder (a share, a handed-over copy)
 * but not read some other folder the restoring admin can read (another
 * instance's files/, a secret) puts a symlink to it into the backup and
 * lists a file under it in the manifest (size and sha256: known, or read
 * off the "found N bytes with sha256 X" of a first try). Restore followed
 * the symlinked folder and copied the foreign file into NEWDIR. A listed
 * path is now read only through real folders of the backup. */
TEST(backup_restore_never_reads_through_a_symlinked_folder)
{
    ASSERT_TRUE(getenv("HOHEIT_BIN") != NULL);
    char good[600], sha[65] = "", key[HH_KEY_LEN + 1], out[8192], dir[700], outside[700], secret[800], link[800];
    bool clean = false;
    ASSERT_TRUE(make_backup("bk-symsrc", good, sizeof good, sha, key));
    ASSERT_TRUE(copy_backup(good, "bk-symlink", dir, sizeof dir));
    snprintf(outside, sizeof outside, "%s/bk-outside", hh_test_tmpdir());
    mkdir(outside, 0700);
    snprintf(secret, sizeof secret, "%s/secret.txt", outside);
    FILE *f = fopen(secret, "wb");
    ASSERT_TRUE(f != NULL);
    fputs("TOPSECRET of another team\n", f);
    fclose(f);
    char hex[65];
    ASSERT_TRUE(sha256_file(secret, hex));
    snprintf(link, sizeof link, "%s/extra", dir);
    ASSERT_EQ_INT(symlink(outside, link), 0);
    char mp[1024];
    snprintf(mp, sizeof mp, "%s/manifest.json", dir);
    cJSON *m = read_json(mp);
    ASSERT_TRUE(m != NULL);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "path", "extra/secret.txt");
    cJSON_AddNumberToObject(e, "size", 26);
    cJSON_AddStringToObject(e, "sha256", hex);
    cJSON_AddStringToObject(e, "kind", "key");
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(m, "files"), e);
    char *txt = cJSON_Print(m);
    cJSON_Delete(m);
    f = fopen(mp, "wb");
    ASSERT_TRUE(f != NULL && txt != NULL);
    fputs(txt, f);
    fclose(f);
    free(txt);
    int rc = restore_into_fresh(dir, "bk-symlink", out, sizeof out, &clean);
    char stolen[900];
    snprintf(stolen, sizeof stolen, "%s/bk-symlink-parent/new/extra/secret.txt", hh_test_tmpdir());
    ASSERT_FALSE(exists(stolen));
    ASSERT_EQ_INT(rc, 1);
    ASSERT_TRUE(strstr(out, "symlink") != NULL);
    ASSERT_TRUE(clean);
}
