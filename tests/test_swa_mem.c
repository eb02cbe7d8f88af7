/* test_swa_mem.c - the KV cache of a Gemma-3-shape model (Gemma 3 4B's
 * attention: 8 query heads, 4 KV heads of 256, window 1024, every 6th layer
 * global; 6 layers, small n_embd) is bounded by the window on the local
 * layers: their rows stay at 2 * window + n_batch - 1 whatever n_ctx is,
 * while the global layer and a cache without the window (swa_full) grow
 * with n_ctx. Measured figures: docs/BENCHMARKS.md "Memory of a long
 * context" (bench/bench_swa.c). */
#include "harness.h"
#include "synth_model.h"
#include "model/model.h"

#include <stdio.h>

static synth_model_t gemma3_4b_shape(void)
{
    synth_model_t s = synth_model_defaults("gemma3");
    s.n_embd = 256;
    s.n_ff = 512;
    s.n_head = 8;
    s.n_head_kv = 4;
    s.head_dim = 256;
    s.n_layer = 6;
    s.n_ctx_train = 131072;
    s.swa = 1024;
    s.swa_period = 6;
    return s;
}

static size_t kv_bytes(const hh_model_t *m, int n_ctx, int n_batch, bool swa_full)
{
    hh_ctx_params_t cp = hh_ctx_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = n_batch;
    cp.n_threads = 1;
    cp.kv_type = HH_KV_F16;
    cp.swa_full = swa_full;
    hh_ctx_t *c = NULL;
    hh_err_t e;
    if (hh_ctx_create(&c, m, &cp, &e) != HH_OK) {
        printf("    hh_ctx_create n_ctx %d: %s\n", n_ctx, e.msg);
        return 0;
    }
    size_t b = hh_ctx_kv_bytes(c);
    hh_ctx_free(c);
    return b;
}

TEST(swa_mem_gemma3_local_layers_bounded_by_window)
{
    char path[512];
    snprintf(path, sizeof path, "%s/gemma3-4b-shape.gguf", hh_test_tmpdir());
    synth_model_t s = gemma3_4b_shape();
    hh_err_t e;
    ASSERT_OK(synth_model_write(&s, path, &e));
    hh_model_t *m = NULL;
    ASSERT_OK(hh_model_load(&m, path, NULL, &e));
    const hh_hparams_t *hp = hh_model_hparams(m);
    ASSERT_EQ_INT(hp->n_swa, 1024);
    ASSERT_EQ_INT(hp->swa_period, 6);
    ASSERT_EQ_INT(hp->head_dim, 256);

    /* one row of one layer: K and V, 4 KV heads x 256, F16 */
    const long long row = 2LL * 4 * 256 * 2;
    const int batch = 512;
    const long long local_rows = 2LL * 1024 + batch - 1;   /* 2559 */
    static const int ctxs[] = { 1024, 4096, 16384, 65536 };
    long long prev_local = -1;
    for (size_t i = 0; i < sizeof ctxs / sizeof ctxs[0]; i++) {
        const long long n = ctxs[i];
        long long win = (long long)kv_bytes(m, ctxs[i], batch, false);
        /* without the window (1.5 GiB at 64k) only up to 16k */
        long long full = n <= 16384 ? (long long)kv_bytes(m, ctxs[i], batch, true) : 6 * n * row;
        long long local = win - n * row;   /* the 5 local layers' share */
        printf("    n_ctx %6lld: kv %7.1f MiB with the window cache (local layers %5.1f MiB), %7.1f MiB without\n",
               n, win / 1048576.0, local / 1048576.0, full / 1048576.0);
        ASSERT_EQ_INT(full, 6 * n * row);
        /* local layers: never more than the window's rows, never more than n_ctx */
        long long want_local = 5 * (local_rows < n ? local_rows : n) * row;
        ASSERT_EQ_INT(local, want_local);
        ASSERT_LE(local, 5 * local_rows * row);
        if (n > local_rows) {
            if (prev_local >= 0 && ctxs[i - 1] > local_rows) ASSERT_EQ_INT(local, prev_local);
            ASSERT_LE(win, full);
        }
        prev_local = local;
    }
    /* 16k: 29179 rows instead of 98304, 3.4 times less */
    ASSERT_EQ_INT((long long)kv_bytes(m, 16384, batch, false), (16384LL + 5 * 2559) * row);

    /* the bound holds while decoding past the window: a short context with
     * a small window shows it (gemma3 window 8 in test_model.c covers the
     * logits); here the 4k context decodes its first batches */
    hh_ctx_params_t cp = hh_ctx_default_params();
    cp.n_ctx = 4096;
    cp.n_batch = 64;
    cp.n_threads = 1;
    hh_ctx_t *c = NULL;
    ASSERT_OK(hh_ctx_create(&c, m, &cp, &e));
    size_t before = hh_ctx_kv_bytes(c);
    int32_t ids[64];
    for (int i = 0; i < 64; i++) ids[i] = 3 + (i * 37) % 509;
    hh_batch_t b = { .n_tokens = 64, .tokens = ids };
    int rc = HH_OK;
    for (int k = 0; k < 3 && rc == HH_OK; k++) rc = hh_ctx_decode(c, &b, &e);
    size_t after = hh_ctx_kv_bytes(c);
    int32_t len = hh_ctx_seq_len(c, 0);
    hh_ctx_free(c);
    hh_model_free(m);
    ASSERT_OK(rc);
    ASSERT_EQ_INT(len, 192);
    ASSERT_EQ_INT(after, before);
    ASSERT_EQ_INT((long long)before, (4096LL + 5 * (2 * 1024 + 64 - 1)) * row);
}
