/* test_upgrade.c - upgrades: a database made by the real program of every
 * earlier schema version (tests/fixtures/schema/vK, made by make.sh there;
 * found by scanning the directory, so a new vK needs no code here) is copied,
 * opened by this program (the migrations run) and checked: newest schema,
 * integrity and foreign keys clean, the same schema text as a fresh
 * database, every table's rows kept, the printed API keys still verify to
 * the same users and roles, the documents, their stored originals and a
 * search, the audit chain verifies (API and `hoheit audit verify`), and a
 * second open changes nothing. A database from a newer program is refused
 * with a message and left byte for byte as it was; so is one whose
 * migration fails halfway (one transaction). */
#include "harness.h"
#include "kb_fill.h"
#include "http_helpers.h"

#include "govern/audit.h"
#include "kb/retrieve.h"
#include "store/store.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIXTURES "tests/fixtures/schema"
#define MAX_FIXTURES 64

/* ---- helpers ------------------------------------------------------------ */

/* Copies the file or directory tree src to dst (dst must not exist). */
static bool copy_tree(const char *src, const char *dst)
{
    struct stat st;
    if (stat(src, &st) != 0)
        return false;
    if (S_ISDIR(st.st_mode)) {
        if (mkdir(dst, 0700) != 0)
            return false;
        DIR *d = opendir(src);
        if (!d)
            return false;
        bool ok = true;
        struct dirent *e;
        while (ok && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char s2[1024], d2[1024];
            if (snprintf(s2, sizeof s2, "%s/%s", src, e->d_name) >= (int)sizeof s2 ||
                snprintf(d2, sizeof d2, "%s/%s", dst, e->d_name) >= (int)sizeof d2)
                ok = false;
            else
                ok = copy_tree(s2, d2);
        }
        closedir(d);
        return ok;
    }
    size_t n = 0;
    void *buf = hh_test_read_file(src, &n);
    if (!buf)
        return false;
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0600);
    bool ok = fd >= 0 && write(fd, buf, n) == (ssize_t)n;
    if (fd >= 0)
        close(fd);
    free(buf);
    return ok;
}

/* SHA-256 of a file as hex; false when unreadable. */
static bool file_sha256(const char *path, char hex[65])
{
    size_t n = 0;
    unsigned char *buf = hh_test_read_file(path, &n), h[crypto_hash_sha256_BYTES];
    if (!buf)
        return false;
    crypto_hash_sha256(h, buf, n);
    free(buf);
    sodium_bin2hex(hex, 65, h, sizeof h);
    return true;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The schema versions that have a fixture directory vK, ascending. */
static size_t fixture_versions(int *out, size_t cap)
{
    DIR *d = opendir(FIXTURES);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        char *end = NULL;
        long v = e->d_name[0] == 'v' ? strtol(e->d_name + 1, &end, 10) : 0;
        if (v > 0 && v < 100000 && end && *end == '\0')
            out[n++] = (int)v;
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)   /* insertion sort: a handful of entries */
        for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

static cJSON *read_json(const char *path)
{
    size_t n = 0;
    char *text = hh_test_read_file(path, &n);
    cJSON *j = text ? cJSON_ParseWithLength(text, n) : NULL;
    free(text);
    return j;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The program under test ($HOHEIT_BIN), NULL when unset or empty. */
static const char *hoheit_bin(void)
{
    const char *b = getenv("HOHEIT_BIN");
    return b && *b ? b : NULL;
}


/* The schema text of a fresh database made by this program (caller frees). */
static char *fresh_schema(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/upgrade-fresh", hh_test_tmpdir());
    hh_store_t *s = NULL;
    char *text = NULL;
    if (hh_store_open(&s, dir, NULL) == 0)
        hh_store_schema_text(s, &text, NULL);
    hh_store_close(s);
    return text;
}

/* Prints the first line where the migrated and the fresh schema differ. */
static void print_first_difference(const char *migrated, const char *fresh)
{
    const char *a = migrated, *b = fresh;
    while (*a && *a == *b) {
        a++;
        b++;
    }
    while (a > migrated && a[-1] != '\n') {   /* back to the line start */
        a--;
        b--;
    }
    printf("    migrated: %.*s\n    fresh:    %.*s\n", (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
}

/* ---- the checks of one migrated fixture --------------------------------- */

/* Every check of a migrated copy of a fixture in data (open store s),
 * against its facts. Returns after the first failed assertion; *done is set
 * only when every check passed. */
static void check_migrated(hh_store_t *s, const char *data, const cJSON *facts, const char *fresh, bool *done)
{
    hh_err_t err;
    int version = 0;
    ASSERT_OK(hh_store_schema_version(s, &version, &err));
    ASSERT_EQ_INT(version, hh_store_schema_newest());

    char *report = NULL;
    ASSERT_OK(hh_store_check(s, &report, &err));
    if (report)
        printf("    %s", report);
    ASSERT_TRUE(report == NULL);

    /* the migrated schema reads exactly like a fresh one */
    char *schema = NULL;
    ASSERT_OK(hh_store_schema_text(s, &schema, &err));
    bool same = !strcmp(schema, fresh);
    if (!same)
        print_first_difference(schema, fresh);
    free(schema);
    ASSERT_TRUE(same);

    /* every row the old program wrote is still there */
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(facts, "rows")) {
        int64_t n = -1;
        ASSERT_OK(hh_store_row_count(s, t->string, &n, &err));
        int64_t want = !strcmp(t->string, "schema_version") ? hh_store_schema_newest() : (int64_t)t->valuedouble;
        if (n != want)
            printf("    table %s\n", t->string);
        ASSERT_EQ_INT(n, want);
    }

    /* the keys printed by the old program still verify, to the same user */
    const cJSON *k;
    int n_keys = 0;
    cJSON_ArrayForEach(k, cJSON_GetObjectItem(facts, "keys")) {
        hh_store_key_t info;
        ASSERT_OK(hh_store_key_verify(s, hh_test_json_str(k, "key"), &info, &err));
        ASSERT_STREQ(info.user, hh_test_json_str(k, "user"));
        ASSERT_STREQ(info.role, hh_test_json_str(k, "role"));
        n_keys++;
    }
    ASSERT_EQ_INT(n_keys, 4);
    /* a wrong key is still refused */
    hh_store_key_t info;
    ASSERT_TRUE(hh_store_key_verify(s, "hk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &info, &err) != 0);

    const cJSON *u;
    cJSON_ArrayForEach(u, cJSON_GetObjectItem(facts, "users")) {
        hh_store_user_t usr;
        ASSERT_OK(hh_store_user_get(s, hh_test_json_str(u, "name"), &usr, &err));
        ASSERT_STREQ(usr.role, hh_test_json_str(u, "role"));
    }

    /* documents: titles, stored originals, a search */
    const cJSON *titles = cJSON_GetObjectItem(facts, "documents");
    if (titles) {
        hh_store_doc_t *docs = NULL;
        size_t n = 0;
        ASSERT_OK(hh_store_doc_list(s, 0, 0, &docs, &n, &err));
        ASSERT_EQ_INT(n, cJSON_GetArraySize(titles));
        const char *got[16];
        ASSERT_TRUE(n <= 16);
        for (size_t i = 0; i < n; i++)
            got[i] = docs[i].title;
        qsort(got, n, sizeof got[0], str_cmp);
        bool titles_ok = true, files_ok = true;
        for (size_t i = 0; i < n; i++) {
            const char *want = cJSON_GetArrayItem(titles, (int)i)->valuestring;
            if (strcmp(got[i], want)) {
                printf("    title %zu: expected \"%s\", got \"%s\"\n", i, want, got[i]);
                titles_ok = false;
            }
            char path[1024], hex[65];
            snprintf(path, sizeof path, "%s/files/%.2s/%s", data, docs[i].sha256, docs[i].sha256);
            if (!file_sha256(path, hex) || strcmp(hex, docs[i].sha256)) {
                printf("    stored original of \"%s\" missing or changed\n", docs[i].title);
                files_ok = false;
            }
        }
        free(docs);
        ASSERT_TRUE(titles_ok);
        ASSERT_TRUE(files_ok);

        const cJSON *q = cJSON_GetObjectItem(facts, "search");
        hh_kb_query_t kq = { .user = hh_test_json_str(q, "user"), .text = hh_test_json_str(q, "query"), .k = 3 };
        hh_kb_hit_t *hits = NULL;
        size_t nh = 0;
        ASSERT_OK(kb_retrieve_mode_filled(s, NULL, NULL, &kq, HH_KB_BM25_ONLY, &hits, &nh, &err));
        bool top_ok = nh > 0 && !strcmp(hits[0].title, hh_test_json_str(q, "top"));
        if (!top_ok)
            printf("    search \"%s\": %zu hits, first \"%s\"\n", kq.text, nh, nh ? hits[0].title : "");
        hh_kb_hits_free(hits, nh);
        ASSERT_TRUE(top_ok);
    }

    /* the audit chain verifies, with every record */
    const cJSON *n_audit = cJSON_GetObjectItem(facts, "audit_records");
    if (n_audit && n_audit->valuedouble > 0) {
        hh_audit_verify_result_t res;
        ASSERT_OK(hh_audit_verify_store(s, NULL, &res, &err));
        if (!res.ok)
            printf("    audit: bad %lld: %s\n", (long long)res.bad_seq, res.why);
        ASSERT_TRUE(res.ok);
        ASSERT_EQ_INT(res.n_records, (int64_t)n_audit->valuedouble);
    }
    *done = true;
}

/* ---- tests ---------------------------------------------------------------- */

TEST(upgrade_every_schema_fixture_migrates_and_checks)
{
    int versions[MAX_FIXTURES];
    size_t nv = fixture_versions(versions, MAX_FIXTURES);
    int newest = hh_store_schema_newest();
    /* one fixture per earlier schema version (make.sh VERSION COMMIT adds one) */
    for (int v = 1; v < newest; v++) {
        bool found = false;
        for (size_t i = 0; i < nv; i++)
            found |= versions[i] == v;
        if (!found)
            printf("    no fixture for schema %d: run tests/fixtures/schema/make.sh %d COMMIT\n", v, v);
        ASSERT_TRUE(found);
    }
    char *fresh = fresh_schema();
    ASSERT_TRUE(fresh != NULL);
    ASSERT_TRUE(strstr(fresh, "CREATE TABLE users") != NULL);
    bool have_bin = hoheit_bin() != NULL;
    if (!have_bin)
        printf("    HOHEIT_BIN is not set: `hoheit audit verify` not run (the API checks run)\n");

    int failed_before = 0;
    for (size_t i = 0; i < nv; i++) {
        int v = versions[i];
        char src[256], root[700], data[800], path[900];
        snprintf(src, sizeof src, FIXTURES "/v%d", v);
        snprintf(root, sizeof root, "%s/upgrade-v%d", hh_test_tmpdir(), v);
        snprintf(data, sizeof data, "%s/data", root);
        mkdir(root, 0700);
        if (!copy_tree(src, data)) {
            printf("    v%d: cannot copy %s\n", v, src);
            ASSERT_TRUE(false);
        }
        snprintf(path, sizeof path, "%s/facts.json", data);
        cJSON *facts = read_json(path);
        ASSERT_TRUE(facts != NULL);
        ASSERT_EQ_INT(cJSON_GetObjectItem(facts, "schema")->valuedouble, v);
        ASSERT_TRUE(v <= newest);

        /* the fixture really is at version v: its schema_version rows say so
         * (checked by the row count: schema_version has one row per version) */
        const cJSON *sv = cJSON_GetObjectItem(cJSON_GetObjectItem(facts, "rows"), "schema_version");
        ASSERT_EQ_INT(sv ? sv->valuedouble : -1, v);

        hh_store_t *s = NULL;
        hh_err_t err;
        int rc = hh_store_open(&s, data, &err);
        if (rc)
            printf("    v%d: open: %s\n", v, err.msg);
        ASSERT_OK(rc);
        bool done = false;
        check_migrated(s, data, facts, fresh, &done);
        hh_store_close(s);
        if (!done) {
            printf("    (fixture v%d)\n", v);
            failed_before = 1;
            cJSON_Delete(facts);
            break;
        }

        /* `hoheit audit verify` on the migrated copy */
        if (have_bin && cJSON_GetObjectItem(facts, "audit_records")) {
            char args[1000], out[4096];
            snprintf(args, sizeof args, "audit verify --data %s", data);
            int st = hh_test_run_cli(args, NULL, true, out, sizeof out);
            if (st != 0)
                printf("    v%d: hoheit audit verify: %s", v, out);
            ASSERT_EQ_INT(st, 0);
        }

        /* a second open is a no-op: the file stays byte for byte the same */
        char h1[65], h2[65];
        snprintf(path, sizeof path, "%s/hoheit.db", data);
        ASSERT_TRUE(file_sha256(path, h1));
        ASSERT_OK(hh_store_open(&s, data, &err));
        int version = 0;
        ASSERT_OK(hh_store_schema_version(s, &version, &err));
        hh_store_close(s);
        ASSERT_EQ_INT(version, newest);
        ASSERT_TRUE(file_sha256(path, h2));
        ASSERT_STREQ(h2, h1);
        cJSON_Delete(facts);
    }
    free(fresh);
    ASSERT_EQ_INT(failed_before, 0);
    ASSERT_TRUE(nv >= 1);
}

/* Copies fixture dir name to a fresh temp data dir (path in data); returns
 * the SHA-256 of its hoheit.db in hex. */
static bool copy_special(const char *name, char *data, size_t cap, char hash[65])
{
    char src[256], root[700];
    snprintf(src, sizeof src, FIXTURES "/%s", name);
    snprintf(root, sizeof root, "%s/upgrade-special-%s", hh_test_tmpdir(), name);
    snprintf(data, cap, "%s/data", root);
    mkdir(root, 0700);
    char db[900];
    snprintf(db, sizeof db, "%s/hoheit.db", data);
    return copy_tree(src, data) && file_sha256(db, hash);
}

/* Neither -wal, -shm nor -journal beside data/hoheit.db. */
static bool no_side_files(const char *data)
{
    static const char *const sfx[] = { "-wal", "-shm", "-journal" };
    for (size_t i = 0; i < 3; i++) {
        char p[900];
        snprintf(p, sizeof p, "%s/hoheit.db%s", data, sfx[i]);
        if (exists(p)) {
            printf("    left behind: %s\n", p);
            return false;
        }
    }
    return true;
}

TEST(upgrade_refuses_newer_schema_untouched)
{
    char data[800], before[65], after[65], db[900];
    ASSERT_TRUE(copy_special("future", data, sizeof data, before));
    snprintf(db, sizeof db, "%s/hoheit.db", data);

    hh_store_t *s = NULL;
    hh_err_t err;
    ASSERT_EQ_INT(hh_store_open(&s, data, &err), HH_EFORMAT);
    ASSERT_TRUE(s == NULL);
    /* the message names both versions and what to do */
    char newest[32];
    snprintf(newest, sizeof newest, "program's %d", hh_store_schema_newest());
    if (!strstr(err.msg, "version 99") || !strstr(err.msg, newest))
        printf("    message: %s\n", err.msg);
    ASSERT_TRUE(strstr(err.msg, "schema version 99 is newer") != NULL);
    ASSERT_TRUE(strstr(err.msg, newest) != NULL);
    ASSERT_TRUE(strstr(err.msg, "restore the backup taken before the upgrade") != NULL);
    ASSERT_TRUE(strstr(err.msg, "install that newer hoheit") != NULL);
    ASSERT_TRUE(file_sha256(db, after));
    ASSERT_STREQ(after, before);
    ASSERT_TRUE(no_side_files(data));

    /* the program says the same and exits non-zero, still touching nothing */
    if (!hoheit_bin()) {
        printf("    HOHEIT_BIN is not set: the CLI refusal is not run (the store refusal was)\n");
        return;
    }
    char args[1000], out[4096];
    snprintf(args, sizeof args, "keys list --data %s", data);
    int st = hh_test_run_cli(args, NULL, true, out, sizeof out);
    ASSERT_NE_INT(st, 0);
    if (!strstr(out, "schema version 99 is newer"))
        printf("    output: %s\n", out);
    ASSERT_TRUE(strstr(out, "schema version 99 is newer") != NULL);
    ASSERT_TRUE(strstr(out, newest) != NULL);
    ASSERT_TRUE(file_sha256(db, after));
    ASSERT_STREQ(after, before);
    ASSERT_TRUE(no_side_files(data));
}

TEST(upgrade_failing_migration_rolls_back_whole_upgrade)
{
    /* a v1 database with a table of migration 3's name: migration 2 runs,
     * migration 3 fails, and the one transaction leaves version 1 as it was */
    char data[800], before[65], after[65], db[900];
    ASSERT_TRUE(copy_special("clash", data, sizeof data, before));
    snprintf(db, sizeof db, "%s/hoheit.db", data);

    hh_store_t *s = NULL;
    hh_err_t err;
    ASSERT_EQ_INT(hh_store_open(&s, data, &err), HH_EIO);
    ASSERT_TRUE(s == NULL);
    if (!strstr(err.msg, "audit_log already exists"))
        printf("    message: %s\n", err.msg);
    ASSERT_TRUE(strstr(err.msg, "audit_log already exists") != NULL);
    ASSERT_TRUE(strstr(err.msg, "upgrade to schema version 3 failed") != NULL);
    ASSERT_TRUE(strstr(err.msg, "stays at version 1, unchanged") != NULL);
    ASSERT_TRUE(file_sha256(db, after));
    ASSERT_STREQ(after, before);
    ASSERT_TRUE(no_side_files(data));

    if (!hoheit_bin()) {
        printf("    HOHEIT_BIN is not set: the CLI run is not made (the store run was)\n");
        return;
    }
    char args[1000], out[4096];
    snprintf(args, sizeof args, "keys list --data %s", data);
    ASSERT_NE_INT(hh_test_run_cli(args, NULL, true, out, sizeof out), 0);
    if (!strstr(out, "stays at version 1, unchanged"))
        printf("    output: %s\n", out);
    ASSERT_TRUE(strstr(out, "stays at version 1, unchanged") != NULL);
    ASSERT_TRUE(file_sha256(db, after));
    ASSERT_STREQ(after, before);
    ASSERT_TRUE(no_side_files(data));
}
