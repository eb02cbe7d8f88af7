/* test_run.c - `hoheit run` end to end: runs the real binary ($HOHEIT_BIN,
 * set by `make test`) on stories260K and checks stdout, stderr and the exit
 * status against stories260K.expected.json. */
#include "harness.h"
#include "gguf/gguf.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>

struct run_result {
    int    status;      /* exit status, or -1 if it did not exit normally */
    char  *out;         /* stdout (malloc'd) */
    char  *err;         /* stderr (malloc'd) */
};

static void run_result_free(struct run_result *r)
{
    free(r->out);
    free(r->err);
}

/* Runs "$HOHEIT_BIN run ARGS" (args are shell words, already quoted).
 * Returns false (and reports) if the binary cannot be run. */
static bool run_hoheit(struct run_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool run_hoheit(struct run_result *r, const char *fmt, ...)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    const char *bin = getenv("HOHEIT_BIN");
    if (bin == NULL || bin[0] == '\0') {
        printf("    HOHEIT_BIN is not set (run through `make test`)\n");
        return false;
    }
    char args[2048], cmd[4096], errpath[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(errpath, sizeof errpath, "%s/run_stderr.txt", hh_test_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' run %s 2>'%s'", bin, args, errpath);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return false;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - 1 - n, p)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    int ws = pclose(p);
    if (buf == NULL)
        return false;
    buf[n] = '\0';
    r->out = buf;
    r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    r->err = hh_test_read_file(errpath, NULL);
    if (r->err == NULL)
        r->err = strdup("");
    return r->err != NULL;
}

static const char *model_path(void)
{
    return hh_test_data_path("models/stories260K.gguf");
}

/* The expected greedy text and ids from stories260K.expected.json. */
static cJSON *load_expected(void)
{
    char *js = hh_test_read_file(hh_test_data_path("models/stories260K.expected.json"), NULL);
    if (js == NULL)
        return NULL;
    cJSON *root = cJSON_Parse(js);
    free(js);
    return root;
}

static int count_lines_with(const char *s, const char *prefix)
{
    int n = 0;
    size_t lp = strlen(prefix);
    for (const char *p = s; p && *p;) {
        if (!strncmp(p, prefix, lp))
            n++;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return n;
}

TEST(run_greedy_from_bos_prints_expected_story)
{
    cJSON *exp = load_expected();
    ASSERT_TRUE(exp != NULL);
    const char *want = cJSON_GetStringValue(cJSON_GetObjectItem(exp, "generated_text"));
    ASSERT_TRUE(want != NULL);
    /* --tokens 1 is BOS itself; SPM's leading space of "Once" is dropped */
    struct run_result r;
    bool ran = run_hoheit(&r, "-m '%s' --tokens 1 -n 200 --temp 0 -t 1", model_path());
    bool same = ran && !strcmp(r.out, want);
    int status = r.status;
    if (ran && !same)
        printf("    expected: %s\n    got:      %s\n    stderr: %s\n", want, r.out, r.err);
    run_result_free(&r);

    /* -p "": the tokenizer adds BOS, nothing else: same story */
    bool same_p = false;
    if (ran && run_hoheit(&r, "-m '%s' -p '' -n 200 --temp 0 -t 1", model_path())) {
        same_p = !strcmp(r.out, want);
        if (!same_p)
            printf("    -p '': got \"%s\" (exit %d), stderr: %s\n", r.out, r.status, r.err);
        run_result_free(&r);
    }
    cJSON_Delete(exp);
    ASSERT_TRUE(ran);
    ASSERT_EQ_INT(status, 0);
    ASSERT_TRUE(same);
    ASSERT_TRUE(same_p);
}

TEST(run_prompt_text_continues_the_story)
{
    /* "Once upon a time" is the story's own first four tokens, so greedy
     * continues exactly as the expected text does. */
    cJSON *exp = load_expected();
    ASSERT_TRUE(exp != NULL);
    const char *js_full = cJSON_GetStringValue(cJSON_GetObjectItem(exp, "generated_text"));
    char *full = js_full ? strdup(js_full) : NULL;
    cJSON_Delete(exp);
    ASSERT_TRUE(full != NULL);
    ASSERT_TRUE(!strncmp(full, "Once upon a time", 16));
    struct run_result r;
    bool ran = run_hoheit(&r, "-m '%s' -p 'Once upon a time' -n 196 --temp 0 -t 1", model_path());
    bool same = ran && !strcmp(r.out, full + 16);
    if (ran && !same)
        printf("    expected: %s\n    got:      %s\n    stderr: %s\n", full + 16, r.out, r.err);
    int status = r.status;
    run_result_free(&r);

    /* After "Once upon a" the continuation keeps its leading space: the
     * output is exactly what the new tokens add to the prompt's text. */
    bool ran2 = run_hoheit(&r, "-m '%s' -p 'Once upon a' -n 10 --temp 0 -t 1", model_path());
    size_t n2 = ran2 ? strlen(r.out) : 0;
    bool prefix2 = ran2 && n2 > 5 && !strncmp(r.out, full + 11, n2);
    if (ran2 && !prefix2)
        printf("    expected a prefix of: %.40s...\n    got: \"%s\"\n", full + 11, r.out);
    int status2 = r.status;
    run_result_free(&r);
    free(full);
    ASSERT_TRUE(ran);
    ASSERT_EQ_INT(status, 0);
    ASSERT_TRUE(same);
    ASSERT_TRUE(ran2);
    ASSERT_EQ_INT(status2, 0);
    ASSERT_TRUE(prefix2);
}

TEST(run_n_stops_and_logprobs_follow_greedy)
{
    cJSON *exp = load_expected();
    ASSERT_TRUE(exp != NULL);
    const cJSON *ids = cJSON_GetObjectItem(exp, "generated_ids");
    const char *full = cJSON_GetStringValue(cJSON_GetObjectItem(exp, "generated_text"));
    ASSERT_TRUE(cJSON_GetArraySize(ids) >= 5 && full != NULL);
    int want_ids[5];
    for (int i = 0; i < 5; i++)
        want_ids[i] = cJSON_GetArrayItem(ids, i)->valueint;
    char *text = strdup(full);
    cJSON_Delete(exp);
    ASSERT_TRUE(text != NULL);

    struct run_result r;
    ASSERT_TRUE(run_hoheit(&r, "-m '%s' --tokens 1 -n 5 --temp 0 --logprobs 3 -t 1", model_path()));
    int status = r.status;
    size_t out_len = strlen(r.out);
    bool prefix = out_len > 0 && out_len < strlen(text) && !strncmp(r.out, text, out_len);
    int n_lines = count_lines_with(r.err, "[logprobs]");
    /* "[logprobs] POS: ID "piece" LOGPROB | ID "piece" LP ..." : greedy picks the top one */
    int got_ids[5] = { -1, -1, -1, -1, -1 }, top_ids[5] = { -2, -2, -2, -2, -2 };
    const char *p = r.err;
    for (int i = 0; i < 5 && (p = strstr(p, "[logprobs]")) != NULL; i++) {
        int pos;
        sscanf(p, "[logprobs] %d: %d", &pos, &got_ids[i]);
        const char *bar = strchr(p, '|');
        if (bar)
            sscanf(bar + 1, " %d", &top_ids[i]);
        p += 10;
    }
    if (!prefix)
        printf("    stdout \"%s\" is not a proper prefix of the story\n", r.out);
    run_result_free(&r);
    free(text);
    ASSERT_EQ_INT(status, 0);
    ASSERT_TRUE(prefix);
    ASSERT_EQ_INT(n_lines, 5);
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ_INT(got_ids[i], want_ids[i]);
        ASSERT_EQ_INT(top_ids[i], want_ids[i]);
    }
}

TEST(run_seed_reproduces_and_differs)
{
    struct run_result a, b, c;
    const char *m = model_path();
    ASSERT_TRUE(run_hoheit(&a, "-m '%s' --tokens 1 -n 60 --temp 1 --seed 42 -t 1", m));
    ASSERT_TRUE(run_hoheit(&b, "-m '%s' --tokens 1 -n 60 --temp 1 --seed 42 -t 1", m));
    ASSERT_TRUE(run_hoheit(&c, "-m '%s' --tokens 1 -n 60 --temp 1 --seed 7 -t 1", m));
    int sa = a.status, sb = b.status, sc = c.status;
    bool ab = !strcmp(a.out, b.out), ac = !strcmp(a.out, c.out);
    size_t la = strlen(a.out);
    if (!ab || ac)
        printf("    seed 42: %s\n    seed 42: %s\n    seed 7:  %s\n", a.out, b.out, c.out);
    run_result_free(&a);
    run_result_free(&b);
    run_result_free(&c);
    ASSERT_EQ_INT(sa, 0);
    ASSERT_EQ_INT(sb, 0);
    ASSERT_EQ_INT(sc, 0);
    ASSERT_TRUE(la > 0);
    ASSERT_TRUE(ab);
    ASSERT_FALSE(ac);
}

TEST(run_stops_at_context_end)
{
    /* 1 prompt token in a 16-position context: 15 more fit, and the last
     * sampled token is printed without being evaluated, so 16 tokens. */
    struct run_result r;
    ASSERT_TRUE(run_hoheit(&r, "-m '%s' --tokens 1 -n -1 -c 16 --temp 1 --seed 3 --ignore-eos --logprobs 1 -t 1",
                           model_path()));
    int status = r.status;
    int n_lines = count_lines_with(r.err, "[logprobs]");
    bool said = strstr(r.err, "context full") != NULL;
    if (!said)
        printf("    stderr: %s\n", r.err);
    run_result_free(&r);
    ASSERT_EQ_INT(status, 0);
    ASSERT_EQ_INT(n_lines, 16);
    ASSERT_TRUE(said);
}

TEST(run_errors_and_usage_exit_codes)
{
    struct run_result r;
    /* bad model path: exit 1, a message, nothing on stdout */
    ASSERT_TRUE(run_hoheit(&r, "-m /nonexistent/model.gguf --tokens 1 -n 5"));
    int status = r.status;
    size_t out_len = strlen(r.out), err_len = strlen(r.err);
    bool names = strstr(r.err, "/nonexistent/model.gguf") != NULL || strstr(r.err, "model") != NULL;
    run_result_free(&r);
    ASSERT_EQ_INT(status, 1);
    ASSERT_EQ_INT(out_len, 0);
    ASSERT_TRUE(err_len > 0);
    ASSERT_TRUE(names);

    /* usage errors: exit 2 */
    const char *usage_cases[] = {
        "--tokens 1 -n 5",                               /* no -m */
        "-m x.gguf",                                     /* no prompt */
        "-m x.gguf -p hi --tokens 1",                    /* two prompts */
        "-m x.gguf -p hi --bogus",                       /* unknown option */
        "-m x.gguf -p hi -n abc",                        /* bad number */
        "-m x.gguf -p hi --top-p 1.5",                   /* out of range */
        "-m x.gguf -p hi --logprobs 21",
    };
    for (size_t i = 0; i < sizeof usage_cases / sizeof usage_cases[0]; i++) {
        ASSERT_TRUE(run_hoheit(&r, "%s", usage_cases[i]));
        status = r.status;
        out_len = strlen(r.out);
        run_result_free(&r);
        if (status != 2)
            printf("    case: %s\n", usage_cases[i]);
        ASSERT_EQ_INT(status, 2);
        ASSERT_EQ_INT(out_len, 0);
    }

    /* a token id outside the vocabulary: runtime error */
    ASSERT_TRUE(run_hoheit(&r, "-m '%s' --tokens 1,99999 -n 5 -t 1", model_path()));
    status = r.status;
    bool says = strstr(r.err, "99999") != NULL;
    run_result_free(&r);
    ASSERT_EQ_INT(status, 1);
    ASSERT_TRUE(says);

    /* --help: usage on stdout, exit 0 */
    ASSERT_TRUE(run_hoheit(&r, "--help"));
    status = r.status;
    bool usage = strstr(r.out, "usage: hoheit run") != NULL;
    run_result_free(&r);
    ASSERT_EQ_INT(status, 0);
    ASSERT_TRUE(usage);
}

/* Writes a copy of stories260K without its tokenizer.* keys to path. */
static int write_model_without_tokenizer(const char *path)
{
    hh_gguf_t *g = NULL;
    hh_gguf_writer_t *w = NULL;
    int rc = hh_gguf_open(&g, model_path(), NULL, NULL);
    if (rc < 0)
        return rc;
    if ((rc = hh_gguf_writer_create(&w, 3, hh_gguf_alignment(g))) < 0)
        goto cleanup;
    for (int64_t i = 0; i < hh_gguf_n_kv(g); i++) {
        const char *key = hh_gguf_kv_key(g, i);
        if (!strncmp(key, "tokenizer.", 10) && strcmp(key, "tokenizer.ggml.eos_token_id") != 0)
            continue;
        if ((rc = hh_gguf_writer_set_value(w, key, hh_gguf_kv_value(g, i))) < 0)
            goto cleanup;
    }
    for (int64_t i = 0; i < hh_gguf_n_tensors(g); i++) {
        const hh_gguf_tensor_t *t = hh_gguf_tensor(g, i);
        rc = hh_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, NULL, NULL);
        if (rc < 0)
            goto cleanup;
    }
    rc = hh_gguf_writer_write(w, path, NULL);
cleanup:
    hh_gguf_writer_free(w);
    hh_gguf_close(g);
    return rc;
}

TEST(run_tokens_work_without_a_tokenizer)
{
    char path[512];
    snprintf(path, sizeof path, "%s/stories-notok.gguf", hh_test_tmpdir());
    ASSERT_OK(write_model_without_tokenizer(path));
    cJSON *exp = load_expected();
    ASSERT_TRUE(exp != NULL);
    const cJSON *ids = cJSON_GetObjectItem(exp, "generated_ids");
    char want[256] = "";
    for (int i = 0; i < 8; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", i ? " " : "",
                 cJSON_GetArrayItem(ids, i)->valueint);
    cJSON_Delete(exp);

    /* ids instead of text */
    struct run_result r;
    ASSERT_TRUE(run_hoheit(&r, "-m '%s' --tokens 1 -n 8 --temp 0 -t 1", path));
    int status = r.status;
    bool same = !strcmp(r.out, want);
    if (!same)
        printf("    expected: %s\n    got:      %s\n    stderr: %s\n", want, r.out, r.err);
    run_result_free(&r);
    ASSERT_EQ_INT(status, 0);
    ASSERT_TRUE(same);

    /* a text prompt needs the tokenizer: a clear runtime error */
    ASSERT_TRUE(run_hoheit(&r, "-m '%s' -p 'Once' -n 8 -t 1", path));
    status = r.status;
    bool says = strstr(r.err, "tokenizer") != NULL;
    size_t out_len = strlen(r.out);
    if (!says)
        printf("    stderr: %s\n", r.err);
    run_result_free(&r);
    ASSERT_EQ_INT(status, 1);
    ASSERT_EQ_INT(out_len, 0);
    ASSERT_TRUE(says);
}

/* --chat renders the prompt with the chat format (here forced to llama2,
 * whose template writes BOS itself) and feeds it without a second BOS. */
TEST(run_chat_renders_template_once)
{
    struct run_result r;
    ASSERT_TRUE(run_hoheit(&r, "-m '%s' -p hi --system 'be brief' --chat-template llama2 -n 4 --temp 0 -t 1 -v",
                           model_path()));
    int status = r.status;
    bool rendered = strstr(r.err, "chat prompt: <s>[INST] <<SYS>>\nbe brief\n<</SYS>>\n\nhi [/INST]") != NULL;
    bool fmt = strstr(r.err, "chat format llama2") != NULL;
    if (!rendered)
        printf("    stderr: %s\n", r.err);
    run_result_free(&r);
    ASSERT_EQ_INT(status, 0);
    ASSERT_TRUE(fmt);
    ASSERT_TRUE(rendered);

    /* the same prompt without --chat is plain text: no template markers */
    ASSERT_TRUE(run_hoheit(&r, "-m '%s' -p hi -n 4 --temp 0 -t 1 -v", model_path()));
    bool plain = strstr(r.err, "chat prompt:") == NULL;
    status = r.status;
    run_result_free(&r);
    ASSERT_EQ_INT(status, 0);
    ASSERT_TRUE(plain);

    /* unknown template name: runtime error naming the valid ones */
    ASSERT_TRUE(run_hoheit(&r, "-m '%s' -p hi --chat-template nosuch -n 4", model_path()));
    status = r.status;
    bool lists = strstr(r.err, "llama3") != NULL;
    run_result_free(&r);
    ASSERT_EQ_INT(status, 1);
    ASSERT_TRUE(lists);

    /* --chat with --tokens is a usage error */
    ASSERT_TRUE(run_hoheit(&r, "-m '%s' --tokens 1 --chat", model_path()));
    status = r.status;
    run_result_free(&r);
    ASSERT_EQ_INT(status, 2);
}
