/* matmul.c - weights x activations on the thread pool.
 *
 * y = W x for a batch of tokens, W in any stored type. Threads split the
 * output rows in multiples of HH_MATMUL_TILE (16 F32 outputs = one cache
 * line per token row, so no two threads write the same line).
 *
 * Fast path (tier B): x is rounded to 8 bits per block (Q8_0 or Q8_K, as
 * the weight type asks) once per product, rows split over the pool, then
 *   one token (decode): one qdot per weight row, streaming the weights;
 *   several tokens (prefill): a tile of QTILE weight rows stays in cache
 *     while every token passes over it, 4 tokens per qdot call, so each
 *     weight block is unpacked once per 4 tokens.
 * Exact path (tier A, and types without a qdot kernel):
 *   one token: one F32 dot[type] per row, straight from the weights;
 *   several tokens: each tile of rows is dequantized once into the thread's
 *     F32 scratch and multiplied against every token.
 * Products that share their input (q/k/v, gate/up) go in one pool run.
 *
 * x4 matrices (rows interleaved by 4 at load, repack.c) take kern->gemm_x4
 * on hh_block_q8x activations: decode passes each thread's rows in one
 * call; prefill passes QTILE rows (kept in L2) with all the tokens. Their
 * exact path dequantizes rows from the x4 layout. */
#include "model/model_int.h"

#include <stdlib.h>
#include <string.h>

/* Multiply-adds below which a product runs on the calling thread. */
#define HH_MATMUL_MIN_PAR 16384.0
/* Weight rows kept in cache while the prefill tokens pass (fast path):
 * 64 rows of 5632 Q8_0 values are ~380 KiB, well inside L2. */
#define QTILE 64
#define MAX_MAT 4
/* Activation "type" of x4 matrices (hh_block_q8x), next to the hh types. */
#define ACT_Q8X HH_TYPE_COUNT

typedef struct matmul_job {
    const hh_kernels_t *kern;
    const float        *x;        /* (n_tok, n_in) */
    int32_t             n_tok;
    const hh_mm_ws_t   *ws;
    int                 n_mat;    /* products sharing x, done in one pool run */
    const hh_mat_t *const *ws_w;
    float *const       *ys;
    const uint8_t      *xq[MAX_MAT];   /* per product: quantized x, or NULL (exact path) */
    size_t              xs[MAX_MAT];   /* bytes per quantized row */
    /* activation quantization job */
    int                 n_act;
    uint32_t            act[2];
    uint8_t            *act_buf[2];
    size_t              act_xs[2];
    int64_t             n_in;
    /* segmented products (hh_matmul_seg): matrix k reads rows
     * seg[k / n_per] .. seg[k / n_per + 1] of x; its plan is xq[k % n_per] */
    const int32_t      *seg;
    int                 n_per;
} matmul_job_t;

static void rows_dot(const matmul_job_t *j, const hh_mat_t *w, float *y, int ith, long lo, long hi)
{
    if (w->x4) {
        hh_dot_f32_fn dotf = j->kern->dot[HH_TYPE_F32];
        float *row = j->ws->tile[ith];
        for (long r = lo; r < hi; r++) {
            hh_x4_dequant_row(w, r, row);
            y[r] = dotf(w->n_in, row, j->x);
        }
        return;
    }
    hh_dot_f32_fn dot = j->kern->dot[w->type];
    const uint8_t *base = w->data;
    for (long r = lo; r < hi; r++)
        y[r] = dot(w->n_in, base + (size_t)r * w->row_bytes, j->x);
}

static void rows_tiled(const matmul_job_t *j, const hh_mat_t *w, float *y, int ith, long lo, long hi)
{
    const int64_t n_in = w->n_in, n_out = w->n_out;
    const uint8_t *base = w->data;
    hh_dequant_fn deq = j->kern->dequant[w->type];
    hh_dot_f32_fn dotf = j->kern->dot[HH_TYPE_F32];
    float *tile = j->ws->tile[ith];

    for (long r0 = lo; r0 < hi; r0 += HH_MATMUL_TILE) {
        long r1 = r0 + HH_MATMUL_TILE < hi ? r0 + HH_MATMUL_TILE : hi;
        const float *rows;          /* (r1 - r0, n_in) */
        if (w->x4) {
            for (long r = r0; r < r1; r++)
                hh_x4_dequant_row(w, r, tile + (size_t)(r - r0) * n_in);
            rows = tile;
        } else if (w->type == HH_TYPE_F32) {
            rows = (const float *)(base + (size_t)r0 * w->row_bytes);
        } else {
            for (long r = r0; r < r1; r++)
                deq(base + (size_t)r * w->row_bytes, tile + (size_t)(r - r0) * n_in, n_in);
            rows = tile;
        }
        for (int32_t t = 0; t < j->n_tok; t++) {
            const float *xt = j->x + (size_t)t * n_in;
            float *yt = y + (size_t)t * n_out;
            for (long r = r0; r < r1; r++)
                yt[r] = dotf(n_in, rows + (size_t)(r - r0) * n_in, xt);
        }
    }
}

/* Fast path: rows lo..hi against every token's quantized x. */
static void rows_q(const matmul_job_t *j, const hh_mat_t *w, float *y, const uint8_t *xq, size_t xs,
                   long lo, long hi)
{
    hh_qdot_fn qdot = j->kern->qdot[w->type];
    const int64_t n_in = w->n_in, n_out = w->n_out;
    const uint8_t *base = w->data;
    if (j->n_tok == 1) {
        for (long r = lo; r < hi; r++)
            qdot(n_in, base + (size_t)r * w->row_bytes, xq, xs, 1, &y[r]);
        return;
    }
    for (long r0 = lo; r0 < hi; r0 += QTILE) {
        long r1 = r0 + QTILE < hi ? r0 + QTILE : hi;
        for (int32_t t = 0; t < j->n_tok; t += HH_QDOT_MAX_COLS) {
            int nc = j->n_tok - t < HH_QDOT_MAX_COLS ? j->n_tok - t : HH_QDOT_MAX_COLS;
            const uint8_t *xt = xq + (size_t)t * xs;
            float *yt = y + (size_t)t * n_out;
            for (long r = r0; r < r1; r++) {
                float out[HH_QDOT_MAX_COLS];
                qdot(n_in, base + (size_t)r * w->row_bytes, xt, xs, nc, out);
                for (int c = 0; c < nc; c++)
                    yt[(size_t)c * n_out + r] = out[c];
            }
        }
    }
}

/* Fast path, x4 layout: rows lo..hi (multiples of 4) against every token. */
static void rows_x4(const matmul_job_t *j, const hh_mat_t *w, float *y, const uint8_t *xq, size_t xs,
                    long lo, long hi)
{
    hh_gemm_x4_fn gemm = j->kern->gemm_x4[w->type];
    const size_t grp = HH_X4_ROWS * w->row_bytes;
    const uint8_t *base = w->data;
    const long step = j->n_tok == 1 ? hi - lo : QTILE;
    for (long r0 = lo; r0 < hi; r0 += step) {
        long r1 = r0 + step < hi ? r0 + step : hi;
        gemm(w->n_in, base + (size_t)(r0 / HH_X4_ROWS) * grp, (r1 - r0) / HH_X4_ROWS, grp,
             xq, xs, j->n_tok, y + r0, (size_t)w->n_out);
    }
}

/* This thread's share of product w (output y) of job j; xq NULL: exact. */
static void product(const matmul_job_t *j, const hh_mat_t *w, float *y, const uint8_t *xq, size_t xs,
                    int ith, int nth)
{
    long lo, hi;
    hh_pool_split((long)w->n_out, ith, nth, HH_MATMUL_TILE, &lo, &hi);
    if (lo >= hi)
        return;
    if (xq != NULL && w->x4)
        rows_x4(j, w, y, xq, xs, lo, hi);
    else if (xq != NULL)
        rows_q(j, w, y, xq, xs, lo, hi);
    else if (j->n_tok == 1)
        rows_dot(j, w, y, ith, lo, hi);
    else
        rows_tiled(j, w, y, ith, lo, hi);
}

static void matmul_worker(void *ctx, int ith, int nth)
{
    const matmul_job_t *j = ctx;
    for (int k = 0; k < j->n_mat; k++)
        product(j, j->ws_w[k], j->ys[k], k < MAX_MAT ? j->xq[k] : NULL, k < MAX_MAT ? j->xs[k] : 0, ith, nth);
}

/* Segmented products: each matrix on its own rows of x (and of xq). */
static void seg_worker(void *ctx, int ith, int nth)
{
    const matmul_job_t *j = ctx;
    matmul_job_t jk = *j;
    for (int k = 0; k < j->n_mat; k++) {
        const int s = k / j->n_per, p = k % j->n_per;
        const int32_t r0 = j->seg[s], n = j->seg[s + 1] - r0;
        if (n <= 0)
            continue;
        jk.x = j->x + (size_t)r0 * (size_t)j->n_in;
        jk.n_tok = n;
        const hh_mat_t *w = j->ws_w[k], *w0 = j->ws_w[p];
        const bool same = w->type == w0->type && w->x4 == w0->x4;   /* rounded for w0's kernel */
        const uint8_t *xq = j->xq[p] != NULL && same ? j->xq[p] + (size_t)r0 * j->xs[p] : NULL;
        product(&jk, w, j->ys[k], xq, j->xs[p], ith, nth);
    }
}

/* Rounds the tokens' activations to each activation type the products need. */
static void quant_worker(void *ctx, int ith, int nth)
{
    const matmul_job_t *j = ctx;
    long lo, hi;
    hh_pool_split(j->n_tok, ith, nth, 1, &lo, &hi);
    for (int a = 0; a < j->n_act; a++) {
        hh_quant_act_fn q = j->act[a] == ACT_Q8X ? j->kern->quant_x4 : j->kern->quant_act[j->act[a]];
        for (long t = lo; t < hi; t++)
            q(j->x + (size_t)t * j->n_in, j->act_buf[a] + (size_t)t * j->act_xs[a], j->n_in);
    }
}

/* Bytes of each ws->xq buffer for n_batch rows of at most max_in values. */
static size_t xq_bytes(int32_t n_batch, int64_t max_in)
{
    /* Q8_K: 292 bytes per 256 values, Q8_0: 272, q8x: 320. */
    size_t row = (size_t)(max_in / HH_QK_K + 1) * sizeof(hh_block_q8_K);
    size_t row_x = (size_t)(max_in / 32 + 1) * sizeof(hh_block_q8x);
    if (row_x > row)
        row = row_x;
    return row * (size_t)n_batch;
}

int hh_mm_ws_init(hh_mm_ws_t *ws, int n_threads, int32_t n_batch, int64_t max_in, bool exact, hh_err_t *err)
{
    memset(ws, 0, sizeof *ws);
    ws->exact = exact;
    ws->tile = calloc((size_t)n_threads, sizeof *ws->tile);
    if (ws->tile == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory for thread scratch");
    ws->n_threads = n_threads;
    for (int i = 0; i < n_threads; i++) {
        ws->tile[i] = malloc(sizeof(float) * HH_MATMUL_TILE * (size_t)max_in);
        if (ws->tile[i] == NULL)
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory for thread scratch");
    }
    if (!exact) {
        ws->xq_cap = xq_bytes(n_batch, max_in);
        ws->xq[0] = malloc(ws->xq_cap);
        ws->xq[1] = malloc(ws->xq_cap);
        if (ws->xq[0] == NULL || ws->xq[1] == NULL)
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory for quantized activations");
    }
    return HH_OK;
}

void hh_mm_ws_free(hh_mm_ws_t *ws)
{
    for (int i = 0; ws->tile && i < ws->n_threads; i++)
        free(ws->tile[i]);
    free(ws->tile);
    free(ws->xq[0]);
    free(ws->xq[1]);
    memset(ws, 0, sizeof *ws);
}

/* Chooses the activation rounding of products w[0..n_plan) (fast path
 * where possible) and lists the activation types x must be rounded to. */
static void plan(matmul_job_t *j, const hh_kernels_t *kern, int n_plan, const hh_mat_t *const *w, int32_t n_tok,
                 const hh_mm_ws_t *ws)
{
    for (int k = 0; k < n_plan; k++) {
        if (ws->exact || k >= MAX_MAT || (kern->qdot[w[k]->type] == NULL && !w[k]->x4))
            continue;
        /* x4 Q4_K / Q6_K take plain Q8_K activations; x4 Q4_0 / Q5_0 / Q8_0 take q8x */
        uint32_t at = w[k]->x4 && kern->act_type[w[k]->type] != HH_TYPE_Q8_K ? ACT_Q8X : kern->act_type[w[k]->type];
        const int slot = at == HH_TYPE_Q8_K ? 1 : 0;
        size_t xs;
        if (at == ACT_Q8X)
            xs = (size_t)(w[k]->n_in / 32) * sizeof(hh_block_q8x);
        else if (hh_type_row_size(at, w[k]->n_in, &xs) != HH_OK)
            continue;   /* row length not a whole number of activation blocks */
        if (xs * (size_t)n_tok > ws->xq_cap || ws->xq[slot] == NULL)
            continue;
        bool clash = false;   /* slot 0 holds either Q8_0 or q8x rows in one run */
        for (int a = 0; a < j->n_act; a++)
            if (j->act[a] != at && (j->act[a] == HH_TYPE_Q8_K ? 1 : 0) == slot)
                clash = true;
        if (clash)
            continue;   /* takes the exact path (x4 rows too: dequantized) */
        int a = 0;
        while (a < j->n_act && j->act[a] != at)
            a++;
        if (a == j->n_act) {
            j->act[a] = at;
            j->act_buf[a] = ws->xq[slot];
            j->act_xs[a] = xs;
            j->n_act++;
        }
        j->xq[k] = ws->xq[slot];
        j->xs[k] = xs;
    }
}

void hh_matmul_n(hh_pool_t *pool, const hh_kernels_t *kern, int n_mat, const hh_mat_t *const *w,
                 const float *x, float *const *y, int32_t n_tok, const hh_mm_ws_t *ws)
{
    matmul_job_t j = { .kern = kern, .x = x, .n_tok = n_tok, .ws = ws,
                       .n_mat = n_mat, .ws_w = w, .ys = y, .n_in = w[0]->n_in };
    double work = 0;
    for (int k = 0; k < n_mat; k++)
        work += (double)w[k]->n_out * (double)w[k]->n_in * n_tok;
    plan(&j, kern, n_mat < MAX_MAT ? n_mat : MAX_MAT, w, n_tok, ws);
    /* Tiny products are not worth waking the pool for. */
    const bool par = work >= HH_MATMUL_MIN_PAR;
    if (j.n_act > 0) {
        if (par && n_tok > 1)
            hh_pool_run(pool, quant_worker, &j);
        else
            quant_worker(&j, 0, 1);
    }
    if (par)
        hh_pool_run(pool, matmul_worker, &j);
    else
        matmul_worker(&j, 0, 1);
}

void hh_matmul(hh_pool_t *pool, const hh_kernels_t *kern, const hh_mat_t *w,
               const float *x, float *y, int32_t n_tok, const hh_mm_ws_t *ws)
{
    hh_matmul_n(pool, kern, 1, &w, x, &y, n_tok, ws);
}

void hh_matmul_seg(hh_pool_t *pool, const hh_kernels_t *kern, int n_seg, int n_per, const hh_mat_t *const *w,
                   const float *x, const int32_t *seg, float *const *y, const hh_mm_ws_t *ws)
{
    if (n_seg < 1 || n_per < 1 || n_per > MAX_MAT || seg[n_seg] < 1)
        return;
    matmul_job_t j = { .kern = kern, .x = x, .n_tok = seg[n_seg], .ws = ws, .n_mat = n_seg * n_per,
                       .ws_w = w, .ys = y, .n_in = w[0]->n_in, .seg = seg, .n_per = n_per };
    double work = 0;
    for (int k = 0; k < j.n_mat; k++)
        work += (double)w[k]->n_out * (double)w[k]->n_in * (seg[k / n_per + 1] - seg[k / n_per]);
    plan(&j, kern, n_per, w, j.n_tok, ws);
    const bool par = work >= HH_MATMUL_MIN_PAR;
    if (j.n_act > 0) {
        if (par && j.n_tok > 1)
            hh_pool_run(pool, quant_worker, &j);
        else
            quant_worker(&j, 0, 1);
    }
    if (par)
        hh_pool_run(pool, seg_worker, &j);
    else
        seg_worker(&j, 0, 1);
}
