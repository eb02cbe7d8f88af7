/* test_safety.c - operations safety (issue 11): `hoheit --version`, file
 * modes of the data directory, the data-directory lock (second server and
 * CLI commands that need the running server refused, stale lock after kill
 * -9), live key revocation, and the logs (access log lines, request ids in
 * headers, log and audit records, no prompt text, SIGHUP reopen).
 *
 * The server runs as the real binary ($HOHEIT_BIN serve) in a child
 * process, as an admin would start it; CLI commands run the same binary. */
#include "harness.h"
#include "http_helpers.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NEED_BIN()                                                                   \
    do {                                                                             \
        if (!getenv("HOHEIT_BIN")) {                                                 \
            hh_test_fail(__FILE__, __LINE__, "HOHEIT_BIN is not set (make test)");   \
            return;                                                                  \
        }                                                                            \
    } while (0)

/* ---- helpers -------------------------------------------------------------- */

/* Runs "$HOHEIT_BIN ARGS" through the shell; stdout and stderr (each may be
 * NULL: discarded) are captured into malloc'd strings. Returns the exit
 * status, or -1. */
static int run_bin(const char *args, char **out, char **err)
{
    char o[600], e[600], cmd[4096];
    static int seq;
    snprintf(o, sizeof o, "%s/run-%d-%d.out", hh_test_tmpdir(), (int)getpid(), ++seq);
    snprintf(e, sizeof e, "%s/run-%d-%d.err", hh_test_tmpdir(), (int)getpid(), seq);
    snprintf(cmd, sizeof cmd, "%s %s >'%s' 2>'%s'", getenv("HOHEIT_BIN"), args, o, e);
    int st = system(cmd);
    if (out)
        *out = hh_test_read_file(o, NULL);
    if (err)
        *err = hh_test_read_file(e, NULL);
    unlink(o);
    unlink(e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct srv_proc {
    pid_t pid;
    int   port;
    char  err_path[600];   /* its stderr */
} srv_proc_t;

/* Starts "$HOHEIT_BIN serve --port 0 --data DATA EXTRA" (stdout to a pipe
 * for the "listening PORT" line, stderr to a file). Returns 0 with sp
 * filled, or -1 when it did not come up within 60 s (*exit_status, may be
 * NULL, gets its exit status when it ended). */
static int serve_start(srv_proc_t *sp, const char *data, const char *extra, int *exit_status)
{
    static int seq;
    memset(sp, 0, sizeof *sp);
    snprintf(sp->err_path, sizeof sp->err_path, "%s/serve-%d-%d.err", hh_test_tmpdir(), (int)getpid(), ++seq);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec %s serve --port 0 --data '%s' -t 1 --slots 1 %s 2>'%s'", getenv("HOHEIT_BIN"),
             data, extra ? extra : "", sp->err_path);
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[256];
    size_t len = 0;
    int port = -1;
    time_t t0 = time(NULL);
    while (port < 0 && time(NULL) - t0 < 60 && len < sizeof buf - 1) {
        ssize_t r = read(fds[0], buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        const char *l = strstr(buf, "listening ");
        if (l && strchr(l, '\n'))
            port = atoi(l + 10);
    }
    close(fds[0]);
    if (port <= 0) {
        int st = 0;
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        if (exit_status)
            *exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        return -1;
    }
    sp->pid = pid;
    sp->port = port;
    return 0;
}

/* Runs "serve" on data expecting it to fail; its exit status, its stderr in *err. */
static int serve_refused(const char *data, char **err)
{
    srv_proc_t sp;
    int st = -1;
    if (serve_start(&sp, data, NULL, &st) == 0) {
        kill(sp.pid, SIGKILL);
        waitpid(sp.pid, NULL, 0);
        *err = hh_test_read_file(sp.err_path, NULL);
        return 0;
    }
    *err = hh_test_read_file(sp.err_path, NULL);
    return st;
}

/* SIGTERM (clean stop: the index saved, the lock released) or SIGKILL. */
static int serve_stop(srv_proc_t *sp, int sig)
{
    if (sp->pid <= 0)
        return -1;
    kill(sp->pid, sig);
    int st = 0;
    waitpid(sp->pid, &st, 0);
    sp->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* An admin API key for data (via `hoheit keys create`) into key. */
static bool make_key(const char *data, const char *user, const char *role, char *key, size_t cap)
{
    char args[1200], *out = NULL;
    snprintf(args, sizeof args, "keys create --user %s --role %s --data '%s'", user, role, data);
    int rc = run_bin(args, &out, NULL);
    bool ok = rc == 0 && out && strncmp(out, "hk_", 3) == 0;
    if (ok) {
        size_t n = strcspn(out, "\r\n");
        ok = n < cap;
        if (ok) {
            memcpy(key, out, n);
            key[n] = '\0';
        }
    }
    free(out);
    return ok;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Lines of a file that hold needle (NULL: all lines). */
static int count_lines(const char *path, const char *needle)
{
    char *t = hh_test_read_file(path, NULL);
    if (!t)
        return 0;
    int n = 0;
    for (char *p = t; *p;) {
        char *eol = strchr(p, '\n');
        if (eol)
            *eol = '\0';
        if (*p && (!needle || strstr(p, needle)))
            n++;
        if (!eol)
            break;
        p = eol + 1;
    }
    free(t);
    return n;
}

/* Waits up to 5 s until path has at least n lines (a request's line is
 * written when MHD reports it complete, just after the client read it). */
static int wait_lines(const char *path, int n)
{
    int have = 0;
    for (int i = 0; i < 500 && (have = count_lines(path, NULL)) < n; i++)
        usleep(10000);
    return have;
}

/* The access-log line with request_id id, parsed (caller frees), or NULL. */
static cJSON *log_line(const char *path, const char *id)
{
    char *t = hh_test_read_file(path, NULL);
    if (!t)
        return NULL;
    cJSON *found = NULL;
    for (char *p = t; *p && !found;) {
        char *eol = strchr(p, '\n');
        if (eol)
            *eol = '\0';
        cJSON *j = cJSON_Parse(p);
        const cJSON *rid = cJSON_GetObjectItemCaseSensitive(j, "request_id");
        if (cJSON_IsString(rid) && !strcmp(rid->valuestring, id))
            found = j;
        else
            cJSON_Delete(j);
        if (!eol)
            break;
        p = eol + 1;
    }
    free(t);
    return found;
}

static bool file_has(const char *path, const char *needle)
{
    char *t = hh_test_read_file(path, NULL);
    bool has = t && strstr(t, needle);
    free(t);
    return has;
}

/* ---- hoheit --version ------------------------------------------------------ */

TEST(version_prints_release_commit_flags_cpu)
{
    NEED_BIN();
    char *out = NULL, *out2 = NULL;
    ASSERT_EQ_INT(run_bin("--version", &out, NULL), 0);
    ASSERT_TRUE(out != NULL);
    char *ver = hh_test_read_file("VERSION", NULL);   /* tests run in the repository root */
    ASSERT_TRUE(ver != NULL);
    ver[strcspn(ver, " \r\n")] = '\0';
    char first[128];
    snprintf(first, sizeof first, "hoheit %s\n", ver);
    free(ver);
    ASSERT_TRUE(strncmp(out, first, strlen(first)) == 0);
    /* commit: hex (>= 7), optionally -dirty, or "unknown" outside git */
    const char *c = strstr(out, "\ncommit:   ");
    ASSERT_TRUE(c != NULL);
    c += strlen("\ncommit:   ");
    size_t hex = strspn(c, "0123456789abcdef");
    ASSERT_TRUE((hex >= 7 && (c[hex] == '\n' || strncmp(c + hex, "-dirty\n", 7) == 0)) ||
                strncmp(c, "unknown\n", 8) == 0);
    ASSERT_TRUE(strstr(out, "\ncompiler: ") != NULL);
    const char *fl = strstr(out, "\nflags:    ");
    ASSERT_TRUE(fl != NULL && fl[11] == '-');   /* -O2 ..., never empty */
    ASSERT_TRUE(strstr(out, " cores)\n") != NULL);
    ASSERT_EQ_INT(run_bin("version", &out2, NULL), 0);
    ASSERT_TRUE(out2 != NULL);
    ASSERT_STREQ(out2, out);   /* same text both ways (same environment) */
    free(out);
    free(out2);
    /* the kernel ISA follows HOHEIT_ISA */
    out = NULL;
    ASSERT_EQ_INT(run_bin("--version", &out, NULL), 0);
    setenv("HOHEIT_ISA", "scalar", 1);
    ASSERT_EQ_INT(run_bin("--version", &out2, NULL), 0);
    unsetenv("HOHEIT_ISA");
    ASSERT_TRUE(out2 && strstr(out2, "\nkernels:  scalar (HOHEIT_ISA=scalar)\n") != NULL);
    ASSERT_TRUE(strstr(out, "\nkernels:  ") != NULL);
    free(out);
    free(out2);
    ASSERT_EQ_INT(run_bin("version --bogus", NULL, NULL), 2);
}

/* ---- file modes ----------------------------------------------------------- */

static int g_bad_modes, g_n_files, g_n_dirs;
static char g_bad_first[700];

static int check_mode(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    mode_t want = type == FTW_D ? 0700 : S_ISREG(sb->st_mode) ? 0600 : 0;
    if (!want || strstr(path, "/models/"))   /* GGUF files are the admin's, copied in by hand */
        return 0;
    if (type == FTW_D)
        g_n_dirs++;
    else
        g_n_files++;
    if ((sb->st_mode & 07777) != want) {
        if (!g_bad_modes++)
            snprintf(g_bad_first, sizeof g_bad_first, "%s is %04o", path, (unsigned)(sb->st_mode & 07777));
    }
    return 0;
}

/* Every directory under root 0700, every file 0600 (but the GGUF files under
 * models/, which the admin copies in); n_files/n_dirs out. */
static int tree_bad_modes(const char *root, int *n_files, int *n_dirs)
{
    g_bad_modes = g_n_files = g_n_dirs = 0;
    g_bad_first[0] = '\0';
    nftw(root, check_mode, 16, FTW_PHYS);
    if (g_bad_modes)
        printf("    %d bad modes, first: %s\n", g_bad_modes, g_bad_first);
    *n_files = g_n_files;
    *n_dirs = g_n_dirs;
    return g_bad_modes;
}

static bool exists(const char *dir, const char *name)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* A data directory made by the real server and the CLI (keys, collections,
 * ingest, upload, chat, and the vector index of an embedding model) holds
 * only 0700 directories and 0600 files, even under umask 022. */
TEST(safety_modes_fresh_data_dir)
{
    NEED_BIN();
    char root[600], data[700], models[700], docs[700], path[900], args[2600], key[128];
    snprintf(root, sizeof root, "%s/safety-modes", hh_test_tmpdir());
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(models, sizeof models, "%s/models", root);
    snprintf(docs, sizeof docs, "%s/docs", root);
    mkdir(root, 0755);
    mkdir(models, 0755);
    mkdir(docs, 0755);
    snprintf(path, sizeof path, "%s/stories260K.gguf", models);
    ASSERT_TRUE(hh_test_copy_data("models/stories260K.gguf", path));
    snprintf(path, sizeof path, "%s/bert.gguf", models);
    ASSERT_TRUE(hh_test_copy_data("reference/bert-q8_0.gguf", path));
    snprintf(path, sizeof path, "%s/memo.md", docs);
    write_text(path, "# Memo\n\nThe quarterly figures are due on Friday.\n");
    mode_t old = umask(022);   /* a typical login umask: hoheit must not rely on the caller's */
    ASSERT_TRUE(make_key(data, "admin", "admin", key, sizeof key));
    snprintf(args, sizeof args, "collections create memos --data '%s'", data);
    ASSERT_EQ_INT(run_bin(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "ingest '%s' --collection memos --data '%s'", docs, data);
    ASSERT_EQ_INT(run_bin(args, NULL, NULL), 0);
    srv_proc_t sp;
    char extra[800];
    snprintf(extra, sizeof extra, "--models '%s'", models);
    ASSERT_OK(serve_start(&sp, data, extra, NULL));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http_upload(sp.port, key, "memos", "upload.md", "# Upload\n\nThe canteen opens at noon.\n", &r));
    int up = r.status;
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(sp.port, "POST", "/v1/chat/completions", key,
                           "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                           "\"max_tokens\":3}", &r));
    int chat = r.status;
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(serve_stop(&sp, SIGTERM), 0);
    umask(old);
    ASSERT_EQ_INT(up, 201);
    ASSERT_EQ_INT(chat, 200);
    const char *must[] = { "hoheit.db", "secret.key", "audit.key", "hoheit.lock", "files", "logs/access.log",
                           "vindex-bert.bin" };
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) {
        if (!exists(data, must[i]))
            printf("    missing: %s\n", must[i]);
        ASSERT_TRUE(exists(data, must[i]));
    }
    int nf = 0, nd = 0;
    ASSERT_EQ_INT(tree_bad_modes(data, &nf, &nd), 0);
    ASSERT_GE(nf, 8);   /* db, key files, lock, log, two stored files, the index at least */
    ASSERT_GE(nd, 3);   /* data, files/.., logs */
}

/* The in-process server (library code, no `main` umask) under umask 022:
 * the modes come from the code, not from the caller's umask. */
TEST(safety_modes_in_process_server)
{
    mode_t old = umask(022);
    hh_test_srv_params_t p = hh_test_srv_default_params();
    hh_test_srv_t t;
    int rc = hh_test_srv_start(&t, "safety-modes-lib", &p);
    char key[HH_KEY_LEN + 1];
    int up = 0;
    if (rc == 0 && hh_test_srv_user(&t, "admin", "admin", key, NULL) == 0 &&
        hh_store_collection_ensure(t.st, "memos", NULL, 0, NULL, NULL) == 0) {
        hh_test_resp_t r;
        if (hh_test_http_upload(t.port, key, "memos", "a.md", "# A\n\nSome text here.\n", &r) == 0)
            up = r.status;
        hh_test_resp_free(&r);
    }
    hh_test_srv_stop(&t);
    umask(old);
    ASSERT_OK(rc);
    ASSERT_EQ_INT(up, 201);
    int nf = 0, nd = 0;
    ASSERT_EQ_INT(tree_bad_modes(t.data, &nf, &nd), 0);
    ASSERT_GE(nf, 5);
}

/* A data directory an older version left open (0755, files 0644) is
 * tightened when hoheit opens it, with a log line. */
TEST(safety_modes_old_dir_tightened)
{
    NEED_BIN();
    char data[700], sub[800], f[900], args[2400], key[128], *err = NULL;
    snprintf(data, sizeof data, "%s/safety-old", hh_test_tmpdir());
    ASSERT_TRUE(make_key(data, "admin", "admin", key, sizeof key));
    snprintf(sub, sizeof sub, "%s/files", data);
    mkdir(sub, 0755);
    snprintf(f, sizeof f, "%s/files/doc.txt", data);
    write_text(f, "old document\n");
    /* what hoheit before 0.11 left behind */
    snprintf(args, sizeof args, "chmod -R u+rwX,go+rX '%s' && chmod 0644 '%s/hoheit.db' '%s/secret.key'", data, data,
             data);
    ASSERT_EQ_INT(system(args), 0);
    struct stat sb;
    ASSERT_EQ_INT(stat(data, &sb), 0);
    ASSERT_EQ_INT(sb.st_mode & 0777, 0755);
    snprintf(args, sizeof args, "keys list --data '%s'", data);
    ASSERT_EQ_INT(run_bin(args, NULL, &err), 0);
    ASSERT_TRUE(err && strstr(err, "open to other users (mode 0755)") != NULL);
    free(err);
    int nf = 0, nd = 0;
    ASSERT_EQ_INT(tree_bad_modes(data, &nf, &nd), 0);
    ASSERT_GE(nf, 3);
    /* a database file alone made readable again is fixed at the next open */
    snprintf(f, sizeof f, "%s/hoheit.db", data);
    chmod(f, 0644);
    err = NULL;
    ASSERT_EQ_INT(run_bin(args, NULL, &err), 0);
    ASSERT_TRUE(err && strstr(err, "hoheit.db was open to other users") != NULL);
    free(err);
    ASSERT_EQ_INT(stat(f, &sb), 0);
    ASSERT_EQ_INT(sb.st_mode & 0777, 0600);
}

/* ---- the data-directory lock ---------------------------------------------- */

/* Names, sizes and modification times of everything under dir, one line each. */
static char *snapshot(const char *dir)
{
    char cmd[1000];
    snprintf(cmd, sizeof cmd, "cd '%s' && find . -printf '%%p %%s %%T@ %%m\\n' | sort", dir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char line[2048];
    while (m && fgets(line, sizeof line, p))
        fputs(line, m);
    pclose(p);
    if (m)
        fclose(m);
    return buf;
}

TEST(safety_lock_second_server_and_cli_refused)
{
    NEED_BIN();
    char data[700], args[2000], pidstr[64], *err = NULL, *out = NULL;
    snprintf(data, sizeof data, "%s/safety-lock", hh_test_tmpdir());
    char key[128];
    ASSERT_TRUE(make_key(data, "admin", "admin", key, sizeof key));
    srv_proc_t a;
    ASSERT_OK(serve_start(&a, data, NULL, NULL));
    snprintf(pidstr, sizeof pidstr, "(pid %d)", (int)a.pid);
    /* the lock file names the holder */
    char lockf[800];
    snprintf(lockf, sizeof lockf, "%s/hoheit.lock", data);
    char *lk = hh_test_read_file(lockf, NULL);
    char want[64];
    snprintf(want, sizeof want, "%d hoheit serve\n", (int)a.pid);
    ASSERT_TRUE(lk != NULL);
    ASSERT_STREQ(lk, want);
    free(lk);

    /* a second server on the same directory: refused, naming the first, writing nothing */
    char *before = snapshot(data);
    int st = serve_refused(data, &err);
    char *after = snapshot(data);
    ASSERT_EQ_INT(st, 1);
    ASSERT_TRUE(err && strstr(err, "in use by hoheit serve") && strstr(err, pidstr));
    free(err);
    ASSERT_TRUE(before && after);
    ASSERT_STREQ(after, before);
    free(before);
    free(after);

    /* gdpr erase and retention sweep need the server: refused, naming it and the API route */
    snprintf(args, sizeof args, "gdpr erase --subject nobody@example.com --yes --data '%s'", data);
    err = NULL;
    ASSERT_EQ_INT(run_bin(args, NULL, &err), 1);
    ASSERT_TRUE(err && strstr(err, pidstr) && strstr(err, "POST /api/gdpr/erase"));
    free(err);
    snprintf(args, sizeof args, "retention sweep --data '%s'", data);
    err = NULL;
    ASSERT_EQ_INT(run_bin(args, NULL, &err), 1);
    ASSERT_TRUE(err && strstr(err, pidstr) && strstr(err, "POST /api/retention/sweep"));
    free(err);
    /* read-only and SQLite-transactional commands run beside it */
    snprintf(args, sizeof args, "gdpr export --subject nobody@example.com --data '%s'", data);
    ASSERT_EQ_INT(run_bin(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "keys list --data '%s'", data);
    ASSERT_EQ_INT(run_bin(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "audit verify --data '%s'", data);
    ASSERT_EQ_INT(run_bin(args, NULL, NULL), 0);
    /* the server is unharmed */
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(a.port, "GET", "/v1/models", key, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);

    /* killed hard: the lock file stays, but no longer blocks */
    ASSERT_EQ_INT(serve_stop(&a, SIGKILL), -1);
    ASSERT_TRUE(exists(data, "hoheit.lock"));
    snprintf(args, sizeof args, "gdpr erase --subject nobody@example.com --yes --data '%s'", data);
    ASSERT_EQ_INT(run_bin(args, &out, NULL), 0);
    ASSERT_TRUE(out && strstr(out, "chunks rewritten 0"));
    free(out);
    srv_proc_t b;
    ASSERT_OK(serve_start(&b, data, NULL, NULL));
    ASSERT_OK(hh_test_http(b.port, "GET", "/v1/models", key, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(serve_stop(&b, SIGTERM), 0);
    /* stopped cleanly: the CLI runs again */
    snprintf(args, sizeof args, "retention sweep --data '%s'", data);
    ASSERT_EQ_INT(run_bin(args, NULL, NULL), 0);
}

/* The server checks keys against the database on every request (no cache):
 * `hoheit keys revoke` beside a running server takes effect at once. */
TEST(safety_key_revoke_live)
{
    NEED_BIN();
    char data[700], args[1200], key[128], key2[128];
    snprintf(data, sizeof data, "%s/safety-revoke", hh_test_tmpdir());
    ASSERT_TRUE(make_key(data, "admin", "admin", key, sizeof key));
    ASSERT_TRUE(make_key(data, "mia", "member", key2, sizeof key2));
    srv_proc_t sp;
    ASSERT_OK(serve_start(&sp, data, NULL, NULL));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(sp.port, "GET", "/v1/models", key2, NULL, &r));
    int before = r.status;
    hh_test_resp_free(&r);
    char prefix[16];
    snprintf(prefix, sizeof prefix, "%.11s", key2);   /* hk_ + 8: the key's prefix */
    snprintf(args, sizeof args, "keys revoke %s --data '%s'", prefix, data);
    int rv = run_bin(args, NULL, NULL);
    ASSERT_OK(hh_test_http(sp.port, "GET", "/v1/models", key2, NULL, &r));
    int after = r.status;
    const char *code = hh_test_resp_err_code(&r);
    bool invalid = !strcmp(code, "invalid_api_key");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(sp.port, "GET", "/v1/models", key, NULL, &r));
    int other = r.status;
    hh_test_resp_free(&r);
    serve_stop(&sp, SIGTERM);
    ASSERT_EQ_INT(before, 200);
    ASSERT_EQ_INT(rv, 0);
    ASSERT_EQ_INT(after, 401);
    ASSERT_TRUE(invalid);
    ASSERT_EQ_INT(other, 200);   /* the other key still works */
}

/* ---- logs ----------------------------------------------------------------- */

#define MARKER "ZEBRA-MARKER-7781-secret-prompt"

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : cJSON_IsNull(v) ? "(null)" : "(absent)";
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* One request with X-Request-Id id; its status. */
static int req_id(int port, const char *method, const char *path, const char *key, const char *body,
                  const char *id, hh_test_resp_t *out)
{
    char h[200];
    snprintf(h, sizeof h, "X-Request-Id: %s", id ? id : "");
    hh_test_req_t q = { .method = method, .path = path, .key = key, .body = body, .headers = id ? h : NULL };
    if (hh_test_http_req(port, &q, out) != 0)
        return -1;
    return out->status;
}

TEST(logs_access_log_lines_ids_no_prompt)
{
    NEED_BIN();
    char data[700], models[800], path[900], key[128], alog[900], elog[900], args[2000], extra[1000];
    snprintf(data, sizeof data, "%s/logs-lines", hh_test_tmpdir());
    snprintf(models, sizeof models, "%s/models", data);
    ASSERT_TRUE(make_key(data, "admin", "admin", key, sizeof key));
    mkdir(models, 0700);
    snprintf(path, sizeof path, "%s/stories260K.gguf", models);
    ASSERT_TRUE(hh_test_copy_data("models/stories260K.gguf", path));
    snprintf(alog, sizeof alog, "%s/logs/access.log", data);
    snprintf(elog, sizeof elog, "%s/error.log", data);
    snprintf(extra, sizeof extra, "--error-log '%s'", elog);
    srv_proc_t sp;
    ASSERT_OK(serve_start(&sp, data, extra, NULL));

    hh_test_resp_t r[8];
    memset(r, 0, sizeof r);
    char chat[512];
    snprintf(chat, sizeof chat,
             "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"" MARKER "\"}],\"max_tokens\":4}");
    int st[8];
    st[0] = req_id(sp.port, "GET", "/health", NULL, NULL, "req-health-0001", &r[0]);
    st[1] = req_id(sp.port, "GET", "/v1/models", key, NULL, "req-models-0002", &r[1]);
    st[2] = req_id(sp.port, "GET", "/v1/models", NULL, NULL, "req-noauth-0003", &r[2]);
    st[3] = req_id(sp.port, "GET", "/v1/models/stories260K?api_key=QUERYSECRET", key, NULL, "req-model-0004", &r[3]);
    st[4] = req_id(sp.port, "GET", "/no/such/path/QUERYSECRET", key, NULL, "req-404-00005", &r[4]);
    st[5] = req_id(sp.port, "POST", "/v1/chat/completions", key, chat, "req-chat-00006", &r[5]);
    /* no id (generated) and an unusable one (replaced) */
    st[6] = req_id(sp.port, "POST", "/v1/chat/completions", key, chat, NULL, &r[6]);
    st[7] = req_id(sp.port, "GET", "/health", NULL, NULL, "bad id with spaces", &r[7]);
    char gen[80], bad[80], hdr[80];
    hh_test_resp_header(&r[6], "X-Request-Id", gen, sizeof gen);
    hh_test_resp_header(&r[7], "X-Request-Id", bad, sizeof bad);
    hh_test_resp_header(&r[2], "X-Request-Id", hdr, sizeof hdr);   /* an error answer carries it too */
    for (int i = 0; i < 8; i++)
        hh_test_resp_free(&r[i]);
    int n = wait_lines(alog, 8);
    ASSERT_EQ_INT(serve_stop(&sp, SIGTERM), 0);

    ASSERT_EQ_INT(st[0], 200);
    ASSERT_EQ_INT(st[1], 200);
    ASSERT_EQ_INT(st[2], 401);
    ASSERT_EQ_INT(st[3], 200);
    ASSERT_EQ_INT(st[4], 404);
    ASSERT_EQ_INT(st[5], 200);
    ASSERT_EQ_INT(st[6], 200);
    ASSERT_EQ_INT(st[7], 200);
    ASSERT_EQ_INT(n, 8);   /* one line per request */
    ASSERT_STREQ(hdr, "req-noauth-0003");
    ASSERT_EQ_INT(strlen(gen), 32);
    ASSERT_EQ_INT(strspn(gen, "0123456789abcdef"), 32);
    ASSERT_EQ_INT(strlen(bad), 32);   /* replaced, not echoed */

    struct { const char *id, *user, *method, *route; int status; } want[] = {
        { "req-health-0001", "(null)", "GET", "/health", 200 },
        { "req-models-0002", "admin", "GET", "/v1/models", 200 },
        { "req-noauth-0003", "(null)", "GET", "/v1/models", 401 },
        { "req-model-0004", "admin", "GET", "/v1/models/{id}", 200 },
        { "req-404-00005", "(null)", "GET", "(null)", 404 },
        { "req-chat-00006", "admin", "POST", "/v1/chat/completions", 200 },
        { gen, "admin", "POST", "/v1/chat/completions", 200 },
        { bad, "(null)", "GET", "/health", 200 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cJSON *j = log_line(alog, want[i].id);
        if (!j)
            printf("    no line for %s\n", want[i].id);
        ASSERT_TRUE(j != NULL);
        ASSERT_STREQ(jstr(j, "user"), want[i].user);
        ASSERT_STREQ(jstr(j, "method"), want[i].method);
        ASSERT_STREQ(jstr(j, "route"), want[i].route);
        ASSERT_EQ_INT(jnum(j, "status"), want[i].status);
        const char *t = jstr(j, "time");   /* 2026-01-31T12:00:00.123Z */
        ASSERT_EQ_INT(strlen(t), 24);
        ASSERT_TRUE(t[10] == 'T' && t[19] == '.' && t[23] == 'Z');
        ASSERT_GE(jnum(j, "latency_ms"), 0);
        ASSERT_GE(jnum(j, "bytes"), 1);
        bool chat_line = !strcmp(want[i].route, "/v1/chat/completions");
        if (chat_line) {
            ASSERT_GE(jnum(j, "prompt_tokens"), 1);
            ASSERT_GE(jnum(j, "completion_tokens"), 1);
            ASSERT_EQ_INT(jnum(j, "bytes_in"), strlen(chat));
        } else {
            ASSERT_TRUE(cJSON_GetObjectItemCaseSensitive(j, "prompt_tokens") == NULL);
        }
        cJSON_Delete(j);
    }
    /* no prompt text, query string, URL id or key in either log */
    ASSERT_FALSE(file_has(alog, "ZEBRA"));
    ASSERT_FALSE(file_has(alog, "QUERYSECRET"));
    ASSERT_FALSE(file_has(alog, "stories260K"));
    ASSERT_FALSE(file_has(alog, key));
    ASSERT_FALSE(file_has(elog, "ZEBRA"));
    ASSERT_FALSE(file_has(elog, key));
    ASSERT_TRUE(file_has(elog, "listening on"));   /* the error log got the diagnostics */
    struct stat sb;
    ASSERT_EQ_INT(stat(alog, &sb), 0);
    ASSERT_EQ_INT(sb.st_mode & 0777, 0600);
    ASSERT_EQ_INT(stat(elog, &sb), 0);
    ASSERT_EQ_INT(sb.st_mode & 0777, 0600);

    /* the audit record of each chat names the same request id */
    char *out = NULL;
    snprintf(args, sizeof args, "audit export --data '%s'", data);
    ASSERT_EQ_INT(run_bin(args, &out, NULL), 0);
    ASSERT_TRUE(out != NULL);
    char needle[120];
    snprintf(needle, sizeof needle, "\\\"request_id\\\":\\\"%s\\\"", gen);
    ASSERT_TRUE(strstr(out, needle) != NULL);
    ASSERT_TRUE(strstr(out, "\\\"request_id\\\":\\\"req-chat-00006\\\"") != NULL);
    free(out);
    snprintf(args, sizeof args, "audit verify --data '%s'", data);
    ASSERT_EQ_INT(run_bin(args, NULL, NULL), 0);   /* the new key keeps the chain valid */
}

TEST(logs_sighup_reopens_and_off)
{
    NEED_BIN();
    char data[700], key[128], alog[900], alog1[910], elog[900], elog1[910], extra[2000];
    snprintf(data, sizeof data, "%s/logs-hup", hh_test_tmpdir());
    ASSERT_TRUE(make_key(data, "admin", "admin", key, sizeof key));
    snprintf(alog, sizeof alog, "%s/access.jsonl", data);
    snprintf(alog1, sizeof alog1, "%s.1", alog);
    snprintf(elog, sizeof elog, "%s/error.log", data);
    snprintf(elog1, sizeof elog1, "%s.1", elog);
    snprintf(extra, sizeof extra, "--access-log '%s' --error-log '%s'", alog, elog);
    srv_proc_t sp;
    ASSERT_OK(serve_start(&sp, data, extra, NULL));
    hh_test_resp_t r;
    ASSERT_EQ_INT(req_id(sp.port, "GET", "/health", NULL, NULL, "hup-before-0001", &r), 200);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(wait_lines(alog, 1), 1);
    /* logrotate: rename, then SIGHUP */
    ASSERT_EQ_INT(rename(alog, alog1), 0);
    ASSERT_EQ_INT(rename(elog, elog1), 0);
    kill(sp.pid, SIGHUP);
    int tries = 0;
    while (access(elog, F_OK) != 0 && tries++ < 500)
        usleep(10000);
    ASSERT_EQ_INT(req_id(sp.port, "GET", "/health", NULL, NULL, "hup-after-00002", &r), 200);
    hh_test_resp_free(&r);
    int n_new = wait_lines(alog, 1);
    ASSERT_EQ_INT(serve_stop(&sp, SIGTERM), 0);
    ASSERT_EQ_INT(n_new, 1);
    ASSERT_EQ_INT(count_lines(alog, "hup-after-00002"), 1);
    ASSERT_EQ_INT(count_lines(alog1, NULL), 1);   /* the old file got nothing more */
    ASSERT_EQ_INT(count_lines(alog1, "hup-before-0001"), 1);
    ASSERT_EQ_INT(count_lines(elog, "SIGHUP: logs reopened"), 1);
    ASSERT_EQ_INT(count_lines(elog1, "listening on"), 1);
    ASSERT_EQ_INT(count_lines(elog, "SIGTERM, shutting down"), 1);

    /* --access-log off: no access log anywhere */
    char data2[700], dlog[900];
    snprintf(data2, sizeof data2, "%s/logs-off", hh_test_tmpdir());
    ASSERT_OK(serve_start(&sp, data2, "--access-log off", NULL));
    ASSERT_EQ_INT(req_id(sp.port, "GET", "/health", NULL, NULL, "off-00000001", &r), 200);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(serve_stop(&sp, SIGTERM), 0);
    snprintf(dlog, sizeof dlog, "%s/logs/access.log", data2);
    ASSERT_TRUE(access(dlog, F_OK) != 0);
}

/* Concurrent requests: every line whole (valid JSON), one per request; prints
 * the cost of the log (the same requests with --access-log off). */
typedef struct hammer {
    int port, n, ok;
} hammer_t;

static void *hammer_run(void *arg)
{
    hammer_t *h = arg;
    for (int i = 0; i < h->n; i++) {
        hh_test_resp_t r;
        if (hh_test_http(h->port, "GET", "/health", NULL, NULL, &r) == 0 && r.status == 200)
            h->ok++;
        hh_test_resp_free(&r);
    }
    return NULL;
}

static double hammer(int port, int threads, int per, int *ok)
{
    pthread_t th[8];
    hammer_t h[8];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < threads; i++) {
        h[i] = (hammer_t){ port, per, 0 };
        pthread_create(&th[i], NULL, hammer_run, &h[i]);
    }
    *ok = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        *ok += h[i].ok;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

TEST(logs_access_log_concurrent_whole_lines)
{
    NEED_BIN();
    enum { THREADS = 4, PER = 100 };
    char data[700], data2[700], alog[900];
    snprintf(data, sizeof data, "%s/logs-conc", hh_test_tmpdir());
    snprintf(data2, sizeof data2, "%s/logs-conc-off", hh_test_tmpdir());
    snprintf(alog, sizeof alog, "%s/logs/access.log", data);
    srv_proc_t on, off;
    ASSERT_OK(serve_start(&on, data, NULL, NULL));
    int ok_on = 0, ok_off = 0;
    double ms_on = hammer(on.port, THREADS, PER, &ok_on);
    int n = wait_lines(alog, THREADS * PER);
    ASSERT_EQ_INT(serve_stop(&on, SIGTERM), 0);
    ASSERT_OK(serve_start(&off, data2, "--access-log off", NULL));
    double ms_off = hammer(off.port, THREADS, PER, &ok_off);
    ASSERT_EQ_INT(serve_stop(&off, SIGTERM), 0);
    printf("    %d requests (%d threads): %.1f ms with the access log, %.1f ms without\n", THREADS * PER, THREADS,
           ms_on, ms_off);
    ASSERT_EQ_INT(ok_on, THREADS * PER);
    ASSERT_EQ_INT(ok_off, THREADS * PER);
    ASSERT_EQ_INT(n, THREADS * PER);
    char *t = hh_test_read_file(alog, NULL);
    ASSERT_TRUE(t != NULL);
    int good = 0;
    for (char *p = t; *p;) {
        char *eol = strchr(p, '\n');
        if (!eol)
            break;
        *eol = '\0';
        cJSON *j = cJSON_Parse(p);
        good += j && jnum(j, "status") == 200 && !strcmp(jstr(j, "route"), "/health");
        cJSON_Delete(j);
        p = eol + 1;
    }
    free(t);
    ASSERT_EQ_INT(good, THREADS * PER);
}

/* Attack: the admin runs `serve --access-log /tmp/hoheit-access.log` (or
 * --error-log there). A local user who got to the world-writable folder
 * first left (a) a symlink there pointing at a file of hoheit's user (the
 * server appended its lines to the target: here a stand-in for secret.key)
 * or (b) a file of their own, mode 0666, that the server appended to (the
 * attacker then read who used which route when). Both are refused at start:
 * a log file is never a symlink and, when it exists, a regular file of the
 * server's own user. The target and the planted file get nothing. */
TEST(logs_refuse_symlink_or_foreign_log_file)
{
    NEED_BIN();
    char data[700], pub[700], victim[800], link[800], planted[800], extra[2000];
    snprintf(data, sizeof data, "%s/logs-plant", hh_test_tmpdir());
    snprintf(pub, sizeof pub, "%s/logs-plant-tmp", hh_test_tmpdir());   /* stands for /tmp */
    mkdir(pub, 0777);
    chmod(pub, 01777);
    snprintf(victim, sizeof victim, "%s/victim.key", pub);
    snprintf(link, sizeof link, "%s/hoheit-access.log", pub);
    snprintf(planted, sizeof planted, "%s/hoheit-planted.log", pub);
    FILE *f = fopen(victim, "w");
    ASSERT_TRUE(f != NULL);
    fputs("precious\n", f);
    fclose(f);
    ASSERT_EQ_INT(symlink(victim, link), 0);
    f = fopen(planted, "w");
    ASSERT_TRUE(f != NULL);
    fclose(f);
    ASSERT_EQ_INT(chmod(planted, 0666), 0);
    uid_t other = geteuid() == 0 ? 65534 : geteuid();   /* "nobody" when the tests run as root */
    if (geteuid() == 0)
        ASSERT_EQ_INT(chown(planted, other, other), 0);

    const char *flags[] = { "--access-log", "--error-log" };
    for (int i = 0; i < 2; i++) {
        const char *paths[] = { link, geteuid() == 0 ? planted : NULL };
        for (int k = 0; k < 2 && paths[k]; k++) {
            srv_proc_t sp;
            int st = -1;
            snprintf(extra, sizeof extra, "%s '%s'", flags[i], paths[k]);
            if (serve_start(&sp, data, extra, &st) == 0) {
                hh_test_resp_t r;
                req_id(sp.port, "GET", "/health", NULL, NULL, "planted-00000001", &r);
                hh_test_resp_free(&r);
                serve_stop(&sp, SIGTERM);
                hh_test_fail(__FILE__, __LINE__, "serve %s started", extra);
                return;
            }
            ASSERT_EQ_INT(st, 1);
            char *err = hh_test_read_file(sp.err_path, NULL);
            ASSERT_TRUE(err != NULL && strstr(err, paths[k]) != NULL);   /* the message names the file */
            free(err);
        }
    }
    char *v = hh_test_read_file(victim, NULL);
    ASSERT_STREQ(v, "precious\n");
    free(v);
    struct stat sb;
    ASSERT_EQ_INT(stat(planted, &sb), 0);
    ASSERT_EQ_INT(sb.st_size, 0);
    /* a plain path of its own is still fine */
    char own[800];
    snprintf(own, sizeof own, "%s/own-access.log", pub);
    snprintf(extra, sizeof extra, "--access-log '%s'", own);
    srv_proc_t sp;
    ASSERT_OK(serve_start(&sp, data, extra, NULL));
    ASSERT_EQ_INT(serve_stop(&sp, SIGTERM), 0);
    ASSERT_EQ_INT(stat(own, &sb), 0);
    ASSERT_EQ_INT(sb.st_mode & 0777, 0600);
}
