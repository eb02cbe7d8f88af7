/* bench_kb.c - dense retrieval benchmark: the vector index (src/kb/vindex)
 * at knowledge-base scale. Builds an index of N clustered, L2-normalized
 * vectors (embedding-like: chunks share topics), then measures build time,
 * search latency p50/p95 for the exact scan and HNSW (unfiltered and with a
 * filter allowing half of the ids), recall@10 of HNSW against exact,
 * throughput with 2 concurrent searchers, and save/load time. Prints the
 * markdown section "## Retrieval latency" to stdout, progress to stderr.
 *
 *   bench_kb [-n 100000] [-d 384] [-q 300] [-c 1000] [-s 1.0]
 *
 * Built and run by bench/run.sh (make bench). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cpu.h"
#include "kb/vindex.h"

static uint64_t rng_u64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static float rng_normal(uint64_t *s)
{
    float u = (float)((rng_u64(s) >> 11) * 0x1p-53), v = (float)((rng_u64(s) >> 11) * 0x1p-53);
    if (u < 1e-12f) u = 1e-12f;
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

static void normalize(float *x, int dim)
{
    double n = 0;
    for (int i = 0; i < dim; i++) n += (double)x[i] * x[i];
    float inv = (float)(1.0 / sqrt(n > 0 ? n : 1));
    for (int i = 0; i < dim; i++) x[i] *= inv;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of t[0..n) (sorts t). */
static double percentile(double *t, int n, double pct)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    int i = (int)ceil(pct / 100.0 * n) - 1;
    return t[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static bool allow_even(int64_t id, void *ctx) { (void)ctx; return id % 2 == 0; }

typedef struct {
    double p50_ms, p95_ms, recall;
} result_t;

/* Runs the nq queries in `mode` with `filter`; recall against exact_ids
 * (nq x 10) when given, else stores its own ids there. */
static int run_queries(hh_vindex_t *ix, const float *q, int nq, int dim, hh_vindex_mode_t mode,
                       const hh_vindex_filter_t *filter, int64_t *exact_ids, bool is_reference, result_t *r)
{
    double *t = malloc((size_t)nq * sizeof *t);
    if (!t) return -1;
    long hit = 0;
    for (int j = 0; j < nq; j++) {
        int64_t ids[10];
        float sc[10];
        int nf;
        hh_vindex_search_opts_t o = { .mode = mode };
        double a = now_s();
        int rc = hh_vindex_search_ex(ix, q + (size_t)j * dim, 10, filter, &o, ids, sc, &nf);
        t[j] = (now_s() - a) * 1e3;
        if (rc != 0 || nf != 10) {
            fprintf(stderr, "bench_kb: search failed (%d, %d found)\n", rc, nf);
            free(t);
            return -1;
        }
        int64_t *ref = exact_ids + (size_t)j * 10;
        if (is_reference) {
            memcpy(ref, ids, sizeof ids);
            hit += 10;
        } else {
            for (int i = 0; i < 10; i++)
                for (int e = 0; e < 10; e++)
                    if (ids[i] == ref[e]) {
                        hit++;
                        break;
                    }
        }
    }
    r->recall = (double)hit / (10.0 * nq);
    r->p50_ms = percentile(t, nq, 50);
    r->p95_ms = percentile(t, nq, 95);
    free(t);
    return 0;
}

typedef struct {
    hh_vindex_t *ix;
    const float *q;
    int          nq, dim, reps;
} tp_arg_t;

static void *tp_worker(void *p)
{
    tp_arg_t *a = p;
    int64_t ids[10];
    float sc[10];
    int nf;
    for (int r = 0; r < a->reps; r++)
        for (int j = 0; j < a->nq; j++)
            (void)hh_vindex_search(a->ix, a->q + (size_t)j * a->dim, 10, NULL, ids, sc, &nf);
    return NULL;
}

int main(int argc, char **argv)
{
    int n = 100000, dim = 384, nq = 300, n_clusters = 1000;
    float spread = 1.0f;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-d")) dim = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-q")) nq = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-c")) n_clusters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-s")) spread = (float)atof(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_kb [-n N] [-d DIM] [-q QUERIES] [-c CLUSTERS] [-s SPREAD]\n");
            return 2;
        }
    }
    if (n < 100 || dim < 1 || dim > 65536 || nq < 10 || n_clusters < 1) {
        fprintf(stderr, "bench_kb: bad sizes\n");
        return 2;
    }

    /* Data: n chunks + nq queries from the same clusters. */
    uint64_t s = 0x6b62ull;
    float *c = malloc((size_t)n_clusters * dim * sizeof *c);
    float *x = malloc((size_t)(n + nq) * dim * sizeof *x);
    int64_t *ref_all = malloc((size_t)nq * 10 * sizeof *ref_all);
    int64_t *ref_half = malloc((size_t)nq * 10 * sizeof *ref_half);
    if (!c || !x || !ref_all || !ref_half) {
        fprintf(stderr, "bench_kb: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < (size_t)n_clusters * dim; i++) c[i] = rng_normal(&s);
    for (int i = 0; i < n_clusters; i++) normalize(c + (size_t)i * dim, dim);
    float sd = spread / sqrtf((float)dim);
    for (int i = 0; i < n + nq; i++) {
        const float *ci = c + (size_t)(rng_u64(&s) % (uint64_t)n_clusters) * dim;
        float *xi = x + (size_t)i * dim;
        for (int d = 0; d < dim; d++) xi[d] = ci[d] + sd * rng_normal(&s);
        normalize(xi, dim);
    }
    const float *q = x + (size_t)n * dim;

    hh_vindex_params_t p = hh_vindex_default_params();
    hh_vindex_t *ix = NULL;
    if (hh_vindex_create(&ix, dim, &p) != 0) return 1;
    fprintf(stderr, "bench_kb: building %d x %d ...\n", n, dim);
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        if (hh_vindex_add(ix, i, x + (size_t)i * dim) != 0) {
            fprintf(stderr, "bench_kb: add failed\n");
            return 1;
        }
    double t_build = now_s() - t0;

    fprintf(stderr, "bench_kb: searching ...\n");
    hh_vindex_filter_t half = { .kind = HH_VINDEX_FILTER_FN, .allow = allow_even };
    result_t ex, ex_f, g, g_f, au;
    if (run_queries(ix, q, nq, dim, HH_VINDEX_EXACT, NULL, ref_all, true, &ex) ||
        run_queries(ix, q, nq, dim, HH_VINDEX_EXACT, &half, ref_half, true, &ex_f) ||
        run_queries(ix, q, nq, dim, HH_VINDEX_GRAPH, NULL, ref_all, false, &g) ||
        run_queries(ix, q, nq, dim, HH_VINDEX_GRAPH, &half, ref_half, false, &g_f) ||
        run_queries(ix, q, nq, dim, HH_VINDEX_AUTO, NULL, ref_all, false, &au))
        return 1;

    /* Throughput: two searcher threads at once (the 2-core target). */
    tp_arg_t ta = { ix, q, nq, dim, 3 };
    pthread_t th[2];
    t0 = now_s();
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, tp_worker, &ta);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    double qps = 2.0 * ta.reps * nq / (now_s() - t0);

    /* Persistence. */
    char path[] = "/tmp/bench_kb_XXXXXX";
    int fd = mkstemp(path);
    double t_save = -1, t_load = -1, mib = 0;
    if (fd >= 0) {
        close(fd);
        hh_err_t err;
        hh_vindex_t *back = NULL;
        t0 = now_s();
        if (hh_vindex_save(ix, path, 1, &err) == 0) {
            t_save = now_s() - t0;
            struct stat st;
            if (stat(path, &st) == 0) mib = (double)st.st_size / 1048576.0;
            t0 = now_s();
            if (hh_vindex_load(path, NULL, &back, NULL, &err) == 0) t_load = now_s() - t0;
            hh_vindex_free(back);
        }
        unlink(path);
    }

    char cpu[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10)) {
                char *v = strchr(line, ':');
                if (v) {
                    snprintf(cpu, sizeof cpu, "%s", v + 2);
                    cpu[strcspn(cpu, "\n")] = 0;
                }
                break;
            }
        fclose(f);
    }

    printf("\n## Retrieval latency\n\n");
    printf("Written by `bench/bench_kb.c` (from `bench/run.sh`): the dense vector index (`src/kb/vindex.c`) "
           "at knowledge-base scale, %d chunks x %d dims (F32, L2-normalized), %d clusters with spread %.2f "
           "(embedding-like: chunks share topics), %d queries from the same distribution, k = 10. "
           "CPU %s, dot kernel ISA %s, one search thread unless noted. "
           "HNSW M = %d, ef_construction = %d, ef_search = %d; \"50%% filter\" allows every even id "
           "(applied during the search, never after).\n\n",
           n, dim, n_clusters, spread, nq, cpu, hh_isa_name(hh_cpu_isa()), p.M, p.ef_construction,
           p.ef_search);
    printf("| search | p50 ms | p95 ms | recall@10 vs exact |\n|---|---|---|---|\n");
    printf("| exact scan | %.3f | %.3f | 1 (reference) |\n", ex.p50_ms, ex.p95_ms);
    printf("| exact scan, 50%% filter | %.3f | %.3f | 1 (reference) |\n", ex_f.p50_ms, ex_f.p95_ms);
    printf("| HNSW | %.3f | %.3f | %.4f |\n", g.p50_ms, g.p95_ms, g.recall);
    printf("| HNSW, 50%% filter | %.3f | %.3f | %.4f |\n", g_f.p50_ms, g_f.p95_ms, g_f.recall);
    printf("| auto (what retrieval calls) | %.3f | %.3f | %.4f |\n\n", au.p50_ms, au.p95_ms, au.recall);
    printf("| measure | value |\n|---|---|\n");
    printf("| build (single thread, %d adds) | %.1f s (%.0f vectors/s) |\n", n, t_build, n / t_build);
    printf("| throughput, 2 threads searching (auto) | %.0f queries/s |\n", qps);
    printf("| save (checksummed file, fsync) | %.2f s, %.0f MiB |\n", t_save, mib);
    printf("| load (checksum + structure checks) | %.2f s |\n\n", t_load);
    printf("Target: p95 < 50 ms for the whole retrieval on 2 cores; the vector part above is a small share of it.\n");

    hh_vindex_free(ix);
    free(c);
    free(x);
    free(ref_all);
    free(ref_half);
    return 0;
}
