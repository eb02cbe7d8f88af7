/* test_service.c - running hoheit as a service: the `key = value` config
 * reader (base/conf.h), `hoheit serve --config FILE` through the real
 * binary ($HOHEIT_BIN; file values applied, errors with file:line and exit
 * 2, the command line winning), the binary under the systemd unit's
 * MemoryDenyWriteExecute=yes (PR_SET_MDWE), and the packaging checks
 * (packaging/test-package.sh: make install DESTDIR, make deb, systemd-analyze
 * verify of the unit). */
#include "harness.h"
#include "http_helpers.h"
#include "base/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Linux >= 6.3; Debian 12's headers (6.1) do not name them yet. */
#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#endif
#ifndef PR_MDWE_REFUSE_EXEC_GAIN
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

/* ---- the reader ----------------------------------------------------------- */

TEST(conf_parses_keys_values_comments_quotes)
{
    const char text[] = "# hoheit.conf\n"
                        "\n"
                        "  port = 8080\n"
                        "host=127.0.0.1\r\n"
                        "\t# indented comment\n"
                        "data = \"/var/lib/hoheit data\"\n"
                        "models = '/srv/models'\n"
                        "embed-model = a \"quoted\" word\n"
                        "tls-key =\n"
                        "threads = 4";   /* no final newline */
    hh_conf_t c;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_conf_parse(&c, "t.conf", text, sizeof text - 1, &err));
    ASSERT_EQ_INT(c.n, 7);
    ASSERT_STREQ(c.path, "t.conf");
    ASSERT_STREQ(c.v[0].key, "port");
    ASSERT_STREQ(c.v[0].value, "8080");
    ASSERT_EQ_INT(c.v[0].line, 3);
    ASSERT_STREQ(c.v[1].key, "host");
    ASSERT_STREQ(c.v[1].value, "127.0.0.1");   /* the \r of CRLF is not part of it */
    ASSERT_EQ_INT(c.v[1].line, 4);
    ASSERT_STREQ(hh_conf_get(&c, "data")->value, "/var/lib/hoheit data");
    ASSERT_EQ_INT(hh_conf_get(&c, "data")->line, 6);
    ASSERT_STREQ(hh_conf_get(&c, "models")->value, "/srv/models");
    ASSERT_STREQ(hh_conf_get(&c, "embed-model")->value, "a \"quoted\" word");
    ASSERT_STREQ(hh_conf_get(&c, "tls-key")->value, "");
    ASSERT_STREQ(hh_conf_get(&c, "threads")->value, "4");
    ASSERT_EQ_INT(hh_conf_get(&c, "threads")->line, 10);
    ASSERT_TRUE(hh_conf_get(&c, "slots") == NULL);
    hh_conf_free(&c);
    ASSERT_EQ_INT(c.n, 0);
    hh_conf_free(&c);   /* twice is harmless */
}

TEST(conf_refuses_bad_lines_with_line_number)
{
    static const struct {
        const char *text;
        int         line;
        const char *msg;   /* expected part of the message */
    } cases[] = {
        { "port = 1\nport 8080\n", 2, "t.conf:2: expected `key = value`, got 'port 8080'" },
        { "= 5\n", 1, "t.conf:1: no key before '='" },
        { "\n\nPort = 5\n", 3, "t.conf:3: bad key 'Port'" },
        { "--port = 5\n", 1, "t.conf:1: bad key '--port'" },
        { "my key = 5\n", 1, "t.conf:1: bad key 'my key'" },
        { "data = \"/x\n", 1, "t.conf:1: unterminated \" quote" },
        { "data = '/x' y\n", 1, "t.conf:1: text after the closing quote" },
        { "port = 1\n# c\nslots = 2\nport = 2\n", 4, "t.conf:4: key 'port' given twice (first on line 1)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hh_conf_t c;
        hh_err_t err;
        hh_err_clear(&err);
        ASSERT_EQ_INT(hh_conf_parse(&c, "t.conf", cases[i].text, strlen(cases[i].text), &err), HH_EFORMAT);
        ASSERT_EQ_INT(err.pos, cases[i].line);
        if (!strstr(err.msg, cases[i].msg)) {
            hh_test_fail(__FILE__, __LINE__, "case %zu: expected \"%s\" in \"%s\"", i, cases[i].msg, err.msg);
            return;
        }
        ASSERT_EQ_INT(c.n, 0);      /* nothing half-parsed is left */
        ASSERT_TRUE(c.v == NULL);
    }
    /* a NUL byte: not a text file */
    hh_conf_t c;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_EQ_INT(hh_conf_parse(&c, "t.conf", "port = 1\nho\0st = x\n", 19, &err), HH_EFORMAT);
    ASSERT_EQ_INT(err.pos, 2);
    ASSERT_TRUE(strstr(err.msg, "t.conf:2: NUL byte") != NULL);
}

TEST(conf_read_refuses_unreadable_and_oversized_files)
{
    char path[600];
    hh_conf_t c;
    hh_err_t err;
    hh_err_clear(&err);
    snprintf(path, sizeof path, "%s/conf-missing.conf", hh_test_tmpdir());
    ASSERT_EQ_INT(hh_conf_read(&c, path, &err), HH_EIO);
    ASSERT_TRUE(strstr(err.msg, path) != NULL);
    ASSERT_TRUE(strstr(err.msg, "No such file or directory") != NULL);
    /* a directory opens but does not read */
    ASSERT_EQ_INT(hh_conf_read(&c, hh_test_tmpdir(), &err), HH_EIO);
    ASSERT_TRUE(strstr(err.msg, "Is a directory") != NULL);
    /* one byte over the limit */
    snprintf(path, sizeof path, "%s/conf-big.conf", hh_test_tmpdir());
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    for (unsigned i = 0; i <= HH_CONF_MAX_BYTES; i++)
        fputc(i % 64 == 63 ? '\n' : '#', f);
    ASSERT_EQ_INT(fclose(f), 0);
    ASSERT_EQ_INT(hh_conf_read(&c, path, &err), HH_EOVERFLOW);
    /* exactly at the limit: read (all comments) */
    ASSERT_EQ_INT(truncate(path, HH_CONF_MAX_BYTES), 0);
    ASSERT_OK(hh_conf_read(&c, path, &err));
    ASSERT_EQ_INT(c.n, 0);
    hh_conf_free(&c);
}

/* ---- the binary ------------------------------------------------------------ */

static bool write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Is PR_SET_MDWE (what systemd's MemoryDenyWriteExecute=yes uses on new
 * kernels) available? Probed in a child, since it cannot be undone. */
static bool mdwe_supported(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0L, 0L, 0L) == 0 ? 0 : 1);
    int st = 0;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Does an anonymous writable + executable mapping fail (as it must under
 * PR_SET_MDWE)? */
static bool mmap_wx_refused(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return true;
    munmap(p, 4096);
    return false;
}

/* In the child: the environment of a clean start (no inherited HOHEIT_*),
 * env ("NAME=value" entries, NULL-terminated, may be NULL) on top,
 * optionally under PR_SET_MDWE, then exec $HOHEIT_BIN with args. */
static void child_exec(const char *const *args, const char *const *env, bool mdwe)
{
    unsetenv("HOHEIT_DATA");
    unsetenv("HOHEIT_CONFIG");
    for (size_t i = 0; env && env[i]; i++)
        putenv((char *)env[i]);
    if (mdwe && prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0L, 0L, 0L) != 0)
        _exit(126);
    char *argv[32];
    size_t n = 0;
    argv[n++] = (char *)getenv("HOHEIT_BIN");
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    execv(argv[0], argv);
    _exit(127);
}

/* Runs $HOHEIT_BIN args to its end; stdout into out and stderr into errout
 * (cap bytes each, NUL-terminated). Returns the exit status, -1 when it
 * did not exit normally. */
static int run_bin(const char *const *args, const char *const *env, bool mdwe, char *out, char *errout, size_t cap)
{
    char po[600], pe[600];
    snprintf(po, sizeof po, "%s/service-run.out", hh_test_tmpdir());
    snprintf(pe, sizeof pe, "%s/service-run.err", hh_test_tmpdir());
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0)
            _exit(125);
        dup2(fo, 1);
        dup2(fe, 2);
        child_exec(args, env, mdwe);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    const char *paths[2] = { po, pe };
    char *bufs[2] = { out, errout };
    for (int k = 0; k < 2; k++) {
        size_t n = 0;
        char *t = hh_test_read_file(paths[k], &n);
        snprintf(bufs[k], cap, "%s", t ? t : "");
        free(t);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A `hoheit serve` child process. */
typedef struct served {
    pid_t pid;
    int   port;
    char  err_path[600];   /* its stderr */
} served_t;

/* Starts $HOHEIT_BIN serve args and waits (30 s at most) for its
 * "listening PORT" line. false, with the server's stderr printed, when it
 * exits or does not say it in time. */
static bool serve_start(served_t *s, const char *const *args, const char *const *env, bool mdwe)
{
    memset(s, 0, sizeof *s);
    snprintf(s->err_path, sizeof s->err_path, "%s/service-serve.err", hh_test_tmpdir());
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    fflush(stdout);
    s->pid = fork();
    if (s->pid < 0)
        return false;
    if (s->pid == 0) {
        int fe = open(s->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fe < 0)
            _exit(125);
        close(fds[0]);
        dup2(fds[1], 1);
        dup2(fe, 2);
        child_exec(args, env, mdwe);
    }
    close(fds[1]);
    char buf[256];
    size_t len = 0;
    for (int waited_ms = 0; waited_ms < 30000 && s->port == 0;) {
        struct pollfd pf = { .fd = fds[0], .events = POLLIN };
        int r = poll(&pf, 1, 100);
        waited_ms += 100;
        if (r <= 0)
            continue;
        ssize_t n = read(fds[0], buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;   /* EOF: it exited */
        len += (size_t)n;
        buf[len] = '\0';
        char *l = strstr(buf, "listening ");
        if (l && strchr(l, '\n'))
            s->port = atoi(l + 10);
    }
    close(fds[0]);   /* later stdout lines: none are written */
    if (s->port > 0)
        return true;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    char *e = hh_test_read_file(s->err_path, NULL);
    printf("    serve did not start; stderr:\n%s\n", e ? e : "(none)");
    free(e);
    return false;
}

/* SIGTERM, wait; the exit status (0 expected), -1 when killed otherwise. */
static int serve_stop(served_t *s)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    int st = 0;
    waitpid(s->pid, &st, 0);
    s->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* <tmp>/<name>/ with data/models/stories260K.gguf in it; paths into dir
 * and data. */
static bool make_site(const char *name, char *dir, char *data, size_t cap)
{
    char models[800], model[900];
    snprintf(dir, cap, "%s/%s", hh_test_tmpdir(), name);
    snprintf(data, cap, "%s/data", dir);
    snprintf(models, sizeof models, "%s/models", data);
    snprintf(model, sizeof model, "%s/stories260K.gguf", models);
    mkdir(dir, 0700);
    mkdir(data, 0700);
    mkdir(models, 0700);
    return hh_test_copy_data("models/stories260K.gguf", model);
}

/* An admin key for data dir, created through the binary, into key. */
static bool make_key(const char *data, char *key, size_t cap)
{
    const char *args[] = { "keys", "create", "--user", "ops", "--role", "admin", "--data", data, NULL };
    char out[512], err[2048];
    if (run_bin(args, NULL, false, out, err, sizeof out) != 0) {
        printf("    keys create: %s\n", err);
        return false;
    }
    size_t n = strcspn(out, "\r\n");
    if (n == 0 || n >= cap)
        return false;
    memcpy(key, out, n);
    key[n] = '\0';
    return true;
}

/* The value of an unlabeled metric line "name VALUE" of a Prometheus page,
 * -1 when absent. */
static double metric(const char *page, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = page; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, name, nl) && p[nl] == ' ')
            return atof(p + nl + 1);
    return -1;
}

#define NEED_BIN()                                                      \
    do {                                                                \
        if (!getenv("HOHEIT_BIN")) {                                    \
            printf("    HOHEIT_BIN is not set (run through `make test`)\n"); \
            return;                                                     \
        }                                                               \
    } while (0)

TEST(service_config_file_starts_server_with_its_values)
{
    NEED_BIN();
    char dir[512], data[512], conf[700], text[2048], key[128];
    ASSERT_TRUE(make_site("svc-conf", dir, data, sizeof dir));
    ASSERT_TRUE(make_key(data, key, sizeof key));
    snprintf(conf, sizeof conf, "%s/hoheit.conf", dir);
    snprintf(text, sizeof text,
             "# hoheit test configuration\n"
             "host = 127.0.0.1\n"
             "port = 0\n"
             "\n"
             "data = \"%s\"\n"
             "slots = 3\n"
             "threads = 1\n"
             "retention-interval = 0\n",
             data);
    ASSERT_TRUE(write_text(conf, text));
    const char *args[] = { "serve", "--config", conf, NULL };
    served_t s;
    ASSERT_TRUE(serve_start(&s, args, NULL, false));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(s.port, "GET", "/health", NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    /* the key made in <data> works: the server uses that data dir */
    ASSERT_OK(hh_test_http(s.port, "POST", "/v1/chat/completions", key,
                           "{\"model\":\"stories260K\",\"max_tokens\":4,"
                           "\"messages\":[{\"role\":\"user\",\"content\":\"Once\"}]}",
                           &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    /* slots = 3 from the file: the loaded model has 3 slots */
    ASSERT_OK(hh_test_http(s.port, "GET", "/metrics", key, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(metric(r.body, "hoheit_slots_total"), 3);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(serve_stop(&s), 0);
}

TEST(service_config_file_errors_name_file_and_line)
{
    NEED_BIN();
    char dir[512], data[512], conf[700], text[2048], out[4096], err[4096], expect[1024];
    ASSERT_TRUE(make_site("svc-bad", dir, data, sizeof dir));
    snprintf(conf, sizeof conf, "%s/bad.conf", dir);
    static const struct {
        const char *body;   /* after "data = <dir>\n" on line 1 */
        const char *msg;    /* expected after "serve: <conf>:" */
    } cases[] = {
        { "port = 0\n# fine so far\nprot = 8080\n", "4: unknown key 'prot'" },
        { "port = 0\nport 8080\n", "3: expected `key = value`, got 'port 8080'" },
        { "port = eighty\n", "2: bad value for port: 'eighty'" },
        { "port = 65536\n", "2: bad value for port: '65536'" },
        { "slots = 0\n", "2: bad value for slots: '0'" },
        { "port = 0 # inline comments are not comments\n", "2: bad value for port: '0 # inline" },
        { "t = 2\n", "2: unknown key 't'" },            /* only long names */
        { "config = /etc/x.conf\n", "2: 'config' cannot be set inside a config file" },
        { "embed-model =\n", "2: bad value for embed-model: ''" },
        { "port = 0\nport = 1\n", "3: key 'port' given twice (first on line 2)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "data = %s\n%s", data, cases[i].body);
        ASSERT_TRUE(write_text(conf, text));
        const char *args[] = { "serve", "--config", conf, NULL };
        int rc = run_bin(args, NULL, false, out, err, sizeof out);
        snprintf(expect, sizeof expect, "serve: %s:%s", conf, cases[i].msg);
        if (rc != 2 || !strstr(err, expect)) {
            hh_test_fail(__FILE__, __LINE__, "case %zu: expected exit 2 and \"%s\", got %d and \"%s\"", i, expect,
                         rc, err);
            return;
        }
    }
    /* the same refusal through $HOHEIT_CONFIG */
    snprintf(text, sizeof text, "data = %s\nprot = 1\n", data);
    ASSERT_TRUE(write_text(conf, text));
    char envc[800];
    snprintf(envc, sizeof envc, "HOHEIT_CONFIG=%s", conf);
    const char *env[] = { envc, NULL };
    const char *plain[] = { "serve", NULL };
    ASSERT_EQ_INT(run_bin(plain, env, false, out, err, sizeof out), 2);
    snprintf(expect, sizeof expect, "serve: %s:2: unknown key 'prot'", conf);
    ASSERT_TRUE(strstr(err, expect) != NULL);
    /* unreadable: missing, a directory */
    char missing[800];
    snprintf(missing, sizeof missing, "%s/none.conf", dir);
    const char *a1[] = { "serve", "--config", missing, NULL };
    ASSERT_EQ_INT(run_bin(a1, NULL, false, out, err, sizeof out), 2);
    snprintf(expect, sizeof expect, "serve: %s: cannot open: No such file or directory", missing);
    ASSERT_TRUE(strstr(err, expect) != NULL);
    const char *a2[] = { "serve", "--config", dir, NULL };
    ASSERT_EQ_INT(run_bin(a2, NULL, false, out, err, sizeof out), 2);
    ASSERT_TRUE(strstr(err, "Is a directory") != NULL);
    /* a command-line option without its value */
    const char *a3[] = { "serve", "--port", NULL };
    ASSERT_EQ_INT(run_bin(a3, NULL, false, out, err, sizeof out), 2);
    ASSERT_TRUE(strstr(err, "missing value: --port") != NULL);
    /* nothing was served, and no database appeared */
    snprintf(text, sizeof text, "%s/hoheit.db", data);
    ASSERT_FALSE(exists(text));
}

TEST(service_command_line_wins_over_config_file)
{
    NEED_BIN();
    char dir[512], data[512], conf[700], text[2048], key[128], other[600], db[700];
    ASSERT_TRUE(make_site("svc-override", dir, data, sizeof dir));
    ASSERT_TRUE(make_key(data, key, sizeof key));
    snprintf(other, sizeof other, "%s/not-this-one", dir);
    snprintf(conf, sizeof conf, "%s/hoheit.conf", dir);
    /* the file names another data dir, 2 slots and port 1 */
    snprintf(text, sizeof text, "data = %s\nslots = 2\nport = 1\nthreads = 1\nretention-interval = 0\n", other);
    ASSERT_TRUE(write_text(conf, text));
    const char *args[] = { "serve", "--data", data, "--config", conf, "--port", "0", "--slots", "1", NULL };
    served_t s;
    ASSERT_TRUE(serve_start(&s, args, NULL, false));
    ASSERT_TRUE(s.port != 1);
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(s.port, "POST", "/v1/completions", key,
                           "{\"model\":\"stories260K\",\"max_tokens\":2,\"prompt\":\"Once\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(s.port, "GET", "/metrics", key, NULL, &r));
    ASSERT_EQ_INT(metric(r.body, "hoheit_slots_total"), 1);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(serve_stop(&s), 0);
    snprintf(db, sizeof db, "%s/hoheit.db", data);
    ASSERT_TRUE(exists(db));
    ASSERT_FALSE(exists(other));   /* the file's data dir was never created */

    /* $HOHEIT_DATA beats the file, the command line beats both */
    char env_data[800];
    snprintf(env_data, sizeof env_data, "HOHEIT_DATA=%s", data);
    snprintf(text, sizeof text, "data = %s\nport = 0\nthreads = 1\nretention-interval = 0\n", other);
    ASSERT_TRUE(write_text(conf, text));
    const char *env[] = { env_data, NULL };
    const char *args2[] = { "serve", "--config", conf, NULL };
    ASSERT_TRUE(serve_start(&s, args2, env, false));
    ASSERT_OK(hh_test_http(s.port, "GET", "/v1/models", key, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);   /* the key of <data> is known: <data> is served */
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(serve_stop(&s), 0);
    ASSERT_FALSE(exists(other));
}

/* The unit sets MemoryDenyWriteExecute=yes: no memory may become writable
 * and executable. PCRE2's JIT (the BPE pre-tokenizer regexes) needs that,
 * so it must fail cleanly and fall back to the interpreter with the same
 * tokens, and the engine must serve. PR_SET_MDWE is the kernel feature
 * systemd uses for it on Linux >= 6.3. */
TEST(service_runs_under_memory_deny_write_execute)
{
    NEED_BIN();
    if (!mdwe_supported()) {
        printf("    PR_SET_MDWE is not supported by this kernel (< 6.3): not checked here\n");
        return;
    }
    /* the refused mapping really is refused in such a process (else the
     * test would prove nothing) */
    pid_t pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0L, 0L, 0L) != 0)
            _exit(2);
        _exit(mmap_wx_refused() ? 0 : 1);
    }
    int st = 0;
    ASSERT_EQ_INT(waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);

    const char *vocab = hh_test_data_path("vocab/ggml-vocab-gpt-2.gguf");
    const char *tok[] = { "tokenize", "-m", vocab, "--ids", " Hello World! 3.14 it's   ünïcödé\n", NULL };
    char plain[4096], guarded[4096], err[4096];
    ASSERT_EQ_INT(run_bin(tok, NULL, false, plain, err, sizeof plain), 0);
    ASSERT_EQ_INT(run_bin(tok, NULL, true, guarded, err, sizeof guarded), 0);
    ASSERT_TRUE(strlen(plain) > 4);
    ASSERT_STREQ(guarded, plain);

    char dir[512], data[512], key[128];
    ASSERT_TRUE(make_site("svc-mdwe", dir, data, sizeof dir));
    ASSERT_TRUE(make_key(data, key, sizeof key));
    const char *args[] = { "serve", "--data", data, "--port", "0", "--threads", "2", "--retention-interval", "0",
                           NULL };
    served_t s;
    ASSERT_TRUE(serve_start(&s, args, NULL, true));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(s.port, "POST", "/v1/chat/completions", key,
                           "{\"model\":\"stories260K\",\"max_tokens\":8,"
                           "\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}]}",
                           &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "choices"), 0), "message");
    ASSERT_TRUE(strlen(hh_test_json_str(msg, "content")) > 0);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(serve_stop(&s), 0);
}

/* ---- man page and package ------------------------------------------------------ */

/* Every command `hoheit help` lists has its own section in docs/hoheit.1
 * (a command added without one fails here). */
TEST(service_man_page_names_every_command)
{
    NEED_BIN();
    char *man = hh_test_read_file("docs/hoheit.1", NULL);
    if (!man) {
        hh_test_fail(__FILE__, __LINE__, "docs/hoheit.1 not readable (tests run from the repository root)");
        return;
    }
    const char *args[] = { "help", NULL };
    char out[16384], err[4096];
    int rc = run_bin(args, NULL, false, out, err, sizeof out);
    int n = 0;
    bool listed = false;
    for (char *l = strtok(out, "\n"); l && rc == 0; l = strtok(NULL, "\n")) {
        if (!strcmp(l, "commands:")) {
            listed = true;
            continue;
        }
        if (!listed || strncmp(l, "  ", 2) != 0)
            continue;
        char name[64], want[96];
        if (sscanf(l, " %63s", name) != 1)
            continue;
        snprintf(want, sizeof want, ".SS \"hoheit %s", name);
        if (!strstr(man, want)) {
            hh_test_fail(__FILE__, __LINE__, "docs/hoheit.1 has no section %s\"", want);
            free(man);
            return;
        }
        n++;
    }
    free(man);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_GE(n, 19);   /* the commands of issue 10; more come */
}

/* packaging/test-package.sh: make install/uninstall DESTDIR, make deb and
 * its control data, systemd-analyze verify/security of the unit, and
 * dpkg -i/-r/-P for real in an overlay of / (~20 s). */
TEST(service_package_checks)
{
    NEED_BIN();
    char cmd[1200], log[600];
    snprintf(log, sizeof log, "%s/service-package.log", hh_test_tmpdir());
    snprintf(cmd, sizeof cmd, "bash packaging/test-package.sh '%s' >'%s' 2>&1", getenv("HOHEIT_BIN"), log);
    fflush(stdout);
    int st = system(cmd);
    char *text = hh_test_read_file(log, NULL);
    const char *sum = text ? strstr(text, "package: ") : NULL;
    int passed = -1, failed = -1, skipped = -1;
    if (sum)
        sscanf(sum, "package: %d passed, %d failed, %d skipped", &passed, &failed, &skipped);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || failed != 0) {
        /* the failing lines and their details */
        for (char *l = text ? strtok(text, "\n") : NULL; l; l = strtok(NULL, "\n"))
            if (strncmp(l, "ok ", 3) != 0)
                printf("    %s\n", l);
        free(text);
        hh_test_fail(__FILE__, __LINE__, "packaging/test-package.sh: exit %d, %d failed",
                     WIFEXITED(st) ? WEXITSTATUS(st) : -1, failed);
        return;
    }
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n"))
        if (!strncmp(l, "skip ", 5))
            printf("    %s\n", l);
    printf("    package: %d passed, %d skipped\n", passed, skipped);
    free(text);
    ASSERT_GE(passed, 60);
}

/* Every hoheit_* metric that docs/OPERATIONS.md "Monitoring with
 * Prometheus" names (scrape notes, alert rules) is exported by a running
 * server's /metrics under exactly that name (histogram series by their
 * base name). The hoheit_audit_verify_* metrics are written by the
 * documented cron script, not by hoheit, and are left out. */
TEST(service_alert_rules_use_existing_metrics)
{
    char *doc = hh_test_read_file("docs/OPERATIONS.md", NULL);
    if (!doc) {
        hh_test_fail(__FILE__, __LINE__, "docs/OPERATIONS.md not readable (tests run from the repository root)");
        return;
    }
    char *sec = strstr(doc, "\n## Monitoring with Prometheus");
    char *end = sec ? strstr(sec + 1, "\n## ") : NULL;
    if (!sec) {
        free(doc);
        hh_test_fail(__FILE__, __LINE__, "no section \"Monitoring with Prometheus\"");
        return;
    }
    if (end)
        *end = '\0';

    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "svc-metrics", NULL));
    char key[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "prom", "auditor", key, NULL));   /* as docs/OPERATIONS.md tells */
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.port, "GET", "/metrics", key, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);

    int checked = 0;
    bool has_requests_total = false, has_ttft = false;
    for (const char *p = sec; (p = strstr(p, "hoheit_")) != NULL;) {
        /* a metric name: hoheit_ then [a-z0-9_]; not part of a longer word */
        bool word_start = p == sec || !((p[-1] >= 'a' && p[-1] <= 'z') || p[-1] == '_' || p[-1] == '-');
        size_t n = 7;
        while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9') || p[n] == '_')
            n++;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), p);
        p += n;
        if (!word_start || n == 7 || !strncmp(name, "hoheit_audit", 12))
            continue;
        static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
        char want[192];
        snprintf(want, sizeof want, "# TYPE %s ", name);
        if (!strstr(r.body, want)) {
            for (size_t k = 0; k < 3; k++) {
                size_t ln = strlen(name), ls = strlen(suffixes[k]);
                if (ln > ls && !strcmp(name + ln - ls, suffixes[k])) {
                    snprintf(want, sizeof want, "# TYPE %.*s histogram", (int)(ln - ls), name);
                    break;
                }
            }
        }
        if (!strstr(r.body, want)) {
            hh_test_fail(__FILE__, __LINE__, "docs/OPERATIONS.md names %s, which /metrics does not export", name);
            hh_test_resp_free(&r);
            hh_test_srv_stop(&t);
            free(doc);
            return;
        }
        has_requests_total |= !strcmp(name, "hoheit_http_requests_total");
        has_ttft |= !strcmp(name, "hoheit_time_to_first_token_seconds_bucket");
        checked++;
    }
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
    free(doc);
    ASSERT_TRUE(has_requests_total);   /* the 5xx and 429 rules */
    ASSERT_TRUE(has_ttft);             /* the latency rule */
    ASSERT_GE(checked, 15);
}
