/* matmul.c - weights x activations on the thread pool.
 *
 * y = W x for a batch of tokens, W in any stored type. Threads split the
 * output rows in multiples of HH_MATMUL_TILE (16 F32 outputs = one cache
 * line per token row, so no two threads write the same line).
 *   one token (decode): one dot[type] per row, straight from the weights;
 *   several tokens (prefill): each tile of rows is dequantized once into the
 *   thread's F32 scratch and multiplied against every token, so the cost of
 *   dequantization is paid once per batch, not once per token.
 * Products that share their input (q/k/v, gate/up) go in one pool run. */
#include "model/model_int.h"

/* Multiply-adds below which a product runs on the calling thread. */
#define HH_MATMUL_MIN_PAR 16384.0

typedef struct matmul_job {
    const hh_kernels_t *kern;
    const hh_mat_t     *w;        /* the matrix being worked on */
    const float        *x;        /* (n_tok, n_in) */
    float              *y;        /* (n_tok, n_out) */
    int32_t             n_tok;
    float *const       *scratch;  /* per thread: (HH_MATMUL_TILE, n_in) */
    int                 n_mat;    /* products sharing x, done in one pool run */
    const hh_mat_t *const *ws;
    float *const       *ys;
} matmul_job_t;

static void matmul_rows_dot(const matmul_job_t *j, long lo, long hi)
{
    const hh_mat_t *w = j->w;
    hh_dot_f32_fn dot = j->kern->dot[w->type];
    const uint8_t *base = w->data;
    for (long r = lo; r < hi; r++)
        j->y[r] = dot(w->n_in, base + (size_t)r * w->row_bytes, j->x);
}

static void matmul_rows_tiled(const matmul_job_t *j, int ith, long lo, long hi)
{
    const hh_mat_t *w = j->w;
    const int64_t n_in = w->n_in, n_out = w->n_out;
    const uint8_t *base = w->data;
    hh_dequant_fn deq = j->kern->dequant[w->type];
    hh_dot_f32_fn dotf = j->kern->dot[HH_TYPE_F32];
    float *tile = j->scratch[ith];

    for (long r0 = lo; r0 < hi; r0 += HH_MATMUL_TILE) {
        long r1 = r0 + HH_MATMUL_TILE < hi ? r0 + HH_MATMUL_TILE : hi;
        const float *rows;          /* (r1 - r0, n_in) */
        if (w->type == HH_TYPE_F32) {
            rows = (const float *)(base + (size_t)r0 * w->row_bytes);
        } else {
            for (long r = r0; r < r1; r++)
                deq(base + (size_t)r * w->row_bytes, tile + (size_t)(r - r0) * n_in, n_in);
            rows = tile;
        }
        for (int32_t t = 0; t < j->n_tok; t++) {
            const float *xt = j->x + (size_t)t * n_in;
            float *yt = j->y + (size_t)t * n_out;
            for (long r = r0; r < r1; r++)
                yt[r] = dotf(n_in, rows + (size_t)(r - r0) * n_in, xt);
        }
    }
}

static void matmul_worker(void *ctx, int ith, int nth)
{
    matmul_job_t j = *(const matmul_job_t *)ctx;
    for (int k = 0; k < j.n_mat; k++) {
        j.w = j.ws[k];
        j.y = j.ys[k];
        long lo, hi;
        hh_pool_split((long)j.w->n_out, ith, nth, HH_MATMUL_TILE, &lo, &hi);
        if (lo >= hi)
            continue;
        if (j.n_tok == 1)
            matmul_rows_dot(&j, lo, hi);
        else
            matmul_rows_tiled(&j, ith, lo, hi);
    }
}

void hh_matmul_n(hh_pool_t *pool, const hh_kernels_t *kern, int n_mat, const hh_mat_t *const *w,
                 const float *x, float *const *y, int32_t n_tok, float *const *scratch)
{
    matmul_job_t j = { .kern = kern, .x = x, .n_tok = n_tok, .scratch = scratch,
                       .n_mat = n_mat, .ws = w, .ys = y };
    double work = 0;
    for (int k = 0; k < n_mat; k++)
        work += (double)w[k]->n_out * (double)w[k]->n_in * n_tok;
    /* Tiny products are not worth waking the pool for. */
    if (work < HH_MATMUL_MIN_PAR)
        matmul_worker(&j, 0, 1);
    else
        hh_pool_run(pool, matmul_worker, &j);
}

void hh_matmul(hh_pool_t *pool, const hh_kernels_t *kern, const hh_mat_t *w,
               const float *x, float *y, int32_t n_tok, float *const *scratch)
{
    hh_matmul_n(pool, kern, 1, &w, x, &y, n_tok, scratch);
}
