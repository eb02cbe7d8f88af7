/* test_embedders.c - the embedding-model registry (engine/embedders.h):
 * which models it refuses and why, sharing of a loaded model, the slot
 * limit (HH_EFULL while every slot is in use) and the unloading of the
 * least recently used idle model. bert-q8_0 from the shared test data,
 * linked into a models folder under several names. */
#include "harness.h"
#include "engine/embedders.h"
#include "http_helpers.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct em_env {
    char           dir[512];
    hh_engine_t   *engine;
    hh_embedders_t *reg;
} em_env_t;

/* A models folder with bert-q8_0 as bert0..bert{n_bert-1} and stories260K;
 * the engine and the registry on it. */
static bool env_open(em_env_t *v, const char *name, int n_bert)
{
    memset(v, 0, sizeof *v);
    snprintf(v->dir, sizeof v->dir, "%s/%s", hh_test_tmpdir(), name);
    if (mkdir(v->dir, 0700) != 0)
        return false;
    char src[PATH_MAX], dst[1024];
    if (!realpath(hh_test_data_path("reference/bert-q8_0.gguf"), src))
        return false;
    for (int i = 0; i < n_bert; i++) {
        snprintf(dst, sizeof dst, "%s/bert%d.gguf", v->dir, i);
        if (symlink(src, dst) != 0)
            return false;
    }
    snprintf(dst, sizeof dst, "%s/stories260K.gguf", v->dir);
    if (!hh_test_copy_data("models/stories260K.gguf", dst))
        return false;
    hh_engine_params_t ep = hh_engine_default_params();
    ep.models_dir = v->dir;
    ep.n_threads = 1;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_engine_create(&v->engine, &ep, &err) != 0 ||
        hh_embedders_create(&v->reg, v->engine, v->dir, 1, &err) != 0) {
        printf("    %s\n", err.msg);
        return false;
    }
    return true;
}

static void env_close(em_env_t *v)
{
    hh_embedders_free(v->reg);
    hh_engine_free(v->engine);
}

TEST(embedders_refusals)
{
    em_env_t v;
    ASSERT_TRUE(env_open(&v, "embedders-refusals", 1));
    ASSERT_STREQ(hh_embedders_dir(v.reg), v.dir);
    hh_embedder_t *em = NULL;
    hh_err_t err;
    static const char *const unknown[] = { "nope", "", "../bert0", ".hidden", "a/b" };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        hh_err_clear(&err);
        ASSERT_EQ_INT(hh_embedders_acquire(v.reg, unknown[i], &em, &err), HH_ENOENT);
        ASSERT_TRUE(em == NULL);
        ASSERT_TRUE(strstr(err.msg, "does not exist") != NULL);
    }
    hh_err_clear(&err);
    ASSERT_EQ_INT(hh_embedders_acquire(v.reg, "stories260K", &em, &err), HH_EINVAL);
    ASSERT_TRUE(em == NULL);
    ASSERT_TRUE(strstr(err.msg, "generative model") != NULL);
    /* the first embedding model by name: bert0, not the generative one */
    hh_embedders_acquire_first(v.reg, &em);
    ASSERT_TRUE(em != NULL);
    ASSERT_STREQ(hh_embedder_id(em), "bert0");
    hh_embedders_release(v.reg, em);
    env_close(&v);
}

TEST(embedders_share_and_embed)
{
    em_env_t v;
    ASSERT_TRUE(env_open(&v, "embedders-share", 1));
    hh_embedder_t *a = NULL, *b = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_embedders_acquire(v.reg, "bert0", &a, &err));
    ASSERT_OK(hh_embedders_acquire(v.reg, "bert0", &b, &err));
    ASSERT_TRUE(a == b);   /* loaded once */
    ASSERT_STREQ(hh_embedder_id(a), "bert0");
    const int32_t dim = hh_embedder_n_embd(a);
    ASSERT_GE(dim, 8);
    ASSERT_GE(hh_embedder_max_tokens(a), 8);
    ASSERT_TRUE(hh_embedder_vocab(a) != NULL);
    float *x = calloc((size_t)dim, sizeof *x), *y = calloc((size_t)dim, sizeof *y);
    ASSERT_TRUE(x && y);
    ASSERT_OK(hh_embedder_run_text(a, "the works council decides the holiday plan", x, &err));
    ASSERT_OK(hh_embedder_run_text(b, "the works council decides the holiday plan", y, &err));
    double norm = 0;
    for (int32_t i = 0; i < dim; i++) {
        ASSERT_EQ_INT(x[i] == y[i], 1);   /* the same text, the same vector */
        norm += (double)x[i] * x[i];
    }
    ASSERT_GE(norm, 1e-6);
    /* a text longer than the model's context is cut, not refused */
    size_t n_words = (size_t)hh_embedder_max_tokens(a) * 2;
    char *long_text = malloc(n_words * 6 + 1);
    ASSERT_TRUE(long_text != NULL);
    for (size_t i = 0; i < n_words; i++)
        memcpy(long_text + i * 6, "plan, ", 6);
    long_text[n_words * 6] = '\0';
    hh_err_clear(&err);
    int rc = hh_embedder_run_text(a, long_text, y, &err);
    free(long_text);
    ASSERT_OK(rc);
    free(x);
    free(y);
    hh_embedders_release(v.reg, a);
    hh_embedders_release(v.reg, b);
    env_close(&v);
}

TEST(embedders_slots_full_then_lru)
{
    em_env_t v;
    ASSERT_TRUE(env_open(&v, "embedders-slots", HH_EMBEDDERS_MAX + 1));
    hh_embedder_t *held[HH_EMBEDDERS_MAX];
    hh_err_t err;
    char id[32];
    for (int i = 0; i < HH_EMBEDDERS_MAX; i++) {
        snprintf(id, sizeof id, "bert%d", i);
        ASSERT_OK(hh_embedders_acquire(v.reg, id, &held[i], &err));
    }
    /* every slot in use: the next model is refused, nothing is unloaded */
    hh_embedder_t *extra = NULL;
    snprintf(id, sizeof id, "bert%d", HH_EMBEDDERS_MAX);
    hh_err_clear(&err);
    ASSERT_EQ_INT(hh_embedders_acquire(v.reg, id, &extra, &err), HH_EFULL);
    ASSERT_TRUE(extra == NULL);
    ASSERT_TRUE(strstr(err.msg, "busy") != NULL);
    /* bert1 is used again, so once bert0 and bert1 are idle bert0 is the
     * least recently used: the new model takes its slot */
    hh_embedder_t *again = NULL;
    ASSERT_OK(hh_embedders_acquire(v.reg, "bert1", &again, &err));
    hh_embedders_release(v.reg, again);
    hh_embedders_release(v.reg, held[1]);
    hh_embedders_release(v.reg, held[0]);
    ASSERT_OK(hh_embedders_acquire(v.reg, id, &extra, &err));
    ASSERT_STREQ(hh_embedder_id(extra), id);
    /* bert1 is still loaded (the same object), bert0 was unloaded */
    ASSERT_OK(hh_embedders_acquire(v.reg, "bert1", &again, &err));
    ASSERT_TRUE(again == held[1]);
    hh_embedders_release(v.reg, again);
    /* every slot busy again but bert1's: bert0 comes back in bert1's slot */
    hh_embedder_t *b0 = NULL;
    ASSERT_OK(hh_embedders_acquire(v.reg, "bert0", &b0, &err));
    ASSERT_STREQ(hh_embedder_id(b0), "bert0");
    hh_embedders_release(v.reg, b0);
    hh_embedders_release(v.reg, extra);
    for (int i = 2; i < HH_EMBEDDERS_MAX; i++)
        hh_embedders_release(v.reg, held[i]);
    env_close(&v);
}
