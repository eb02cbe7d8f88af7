/* refcheck.c - `hoheit logits --check REF.tokens.json` (refcheck.h).
 *
 * What is compared (reference README "MoE routing and how to compare"):
 * - tier B (default math): llama.cpp's logits.f32 / greedy_logits.f32 and
 *   greedy_ids with `tolerance`;
 * - tier A (--exact): logits_deq.f32 / greedy_logits_deq.f32 and
 *   greedy_ids_deq with `tolerance_deq`; an F32 model has no _deq files,
 *   llama.cpp's own run is exact math there and `tolerance`'s strict_*
 *   limits apply.
 * Mixture-of-experts files (they carry router_margin): tier B compares the
 * first `compare_positions` inputs (llama.cpp's 8-bit activations picked
 * other experts from the first rerouted position on, and later rows follow
 * causally) and the teacher-forced greedy rows before the first of
 * `rerouted_greedy_rows` (none when an input was rerouted). With an F16 KV
 * cache the f16kv_* cuts apply as well: rows from the first router margin
 * <= 0.003 may be rerouted by the cache's rounding. Dense files: all rows. */
#include "cli/refcheck.h"
#include "base/err.h"
#include "base/fs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUTS   4096
#define MAX_GREEDY   1024
#define JSON_MAX     (16u << 20)
#define F16KV_MARGIN 0.003   /* README: router margins below this may reroute under an F16 KV cache */

typedef struct want {
    int32_t in_ids[MAX_INPUTS];
    int32_t greedy[MAX_GREEDY];
    int     n_in, n_greedy, n_vocab;
    float  *logits;          /* (n_in, n_vocab) */
    float  *greedy_logits;   /* (n_greedy, n_vocab) */
    double  max_abs, rel_l2;
    int     greedy_prefix;   /* leading free greedy ids that must match */
    int     rows;            /* leading input rows compared */
    int     greedy_rows;     /* leading teacher-forced greedy rows compared */
    bool    moe;
} want_t;

typedef struct diff { double max_abs, rel_l2; } diff_t;

static cJSON *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "hoheit logits: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t len;
    int rc = hh_read_stream(f, JSON_MAX, &text, &len);
    fclose(f);
    if (rc != HH_OK) {
        fprintf(stderr, "hoheit logits: cannot read %s: %s\n", path, hh_strerror(rc));
        return NULL;
    }
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (j == NULL) fprintf(stderr, "hoheit logits: %s is not valid JSON\n", path);
    return j;
}

/* Reads exactly n little-endian floats from dir/file; NULL (and a message)
 * when the file is missing or of another size. */
static float *read_f32(const char *dir, const char *file, size_t n)
{
    char path[4096];
    if (strchr(file, '/') != NULL || snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) {
        fprintf(stderr, "hoheit logits: bad file name '%s' in the reference JSON\n", file);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "hoheit logits: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    float *x = malloc(sizeof *x * (n ? n : 1));
    unsigned char b[4];
    size_t i = 0;
    for (; x != NULL && i < n && fread(b, 1, 4, f) == 4; i++) {
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&x[i], &u, 4);
    }
    bool extra = fgetc(f) != EOF;
    fclose(f);
    if (x == NULL || i != n || extra) {
        fprintf(stderr, "hoheit logits: %s does not hold %zu floats\n", path, n);
        free(x);
        return NULL;
    }
    return x;
}

static double num(const cJSON *obj, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Reads an array of ids; count, or -1 when it is not one of at most max
 * integers. */
static int read_ids(const cJSON *arr, int32_t *out, int max)
{
    if (!cJSON_IsArray(arr)) return -1;
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (n >= max || !cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > INT32_MAX) return -1;
        out[n++] = (int32_t)it->valuedouble;
    }
    return n;
}

/* Leading entries of the array key before the first at most F16KV_MARGIN
 * (limit when the key is absent). */
static int rows_before_margin(const cJSON *json, const char *key, int limit)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(json, key);
    if (a == NULL) return limit;
    int n = 0;
    for (const cJSON *v = a->child; v && n < limit; v = v->next, n++)
        if (!cJSON_IsNumber(v) || v->valuedouble <= F16KV_MARGIN) break;
    return n;
}

static int clamp_rows(double v, int max) { return v < 0 ? 0 : v > max ? max : (int)v; }

/* Fills w from the JSON for the tier and KV cache chosen; 0 or -1 (printed). */
static int want_load(want_t *w, const cJSON *j, const char *dir, bool exact, hh_kv_type_t kv)
{
    const cJSON *tol = cJSON_GetObjectItemCaseSensitive(j, "tolerance");
    const cJSON *tol_deq = cJSON_GetObjectItemCaseSensitive(j, "tolerance_deq");
    const char *kind = str(j, "kind");
    w->n_vocab = (int)num(j, "n_vocab", 0);
    w->n_in = read_ids(cJSON_GetObjectItemCaseSensitive(j, "input_ids"), w->in_ids, MAX_INPUTS);
    if (kind == NULL || strcmp(kind, "causal") != 0) {
        fprintf(stderr, "hoheit logits: --check takes a causal model's reference (this one is '%s')\n",
                kind ? kind : "?");
        return -1;
    }
    if (w->n_vocab <= 0 || w->n_vocab > (1 << 22) || w->n_in <= 0 || !cJSON_IsObject(tol)) {
        fprintf(stderr, "hoheit logits: the reference JSON lacks n_vocab, input_ids or tolerance\n");
        return -1;
    }
    const char *lf = str(j, "logits_file"), *glf = str(j, "greedy_logits_file");
    const char *ids_key = "greedy_ids";
    const cJSON *t = tol;
    bool strict = false;
    if (exact && str(j, "logits_deq_file") != NULL) {
        lf = str(j, "logits_deq_file");
        glf = str(j, "greedy_logits_deq_file");
        ids_key = "greedy_ids_deq";
        t = tol_deq;
    } else if (exact) {
        strict = true;   /* F32 model: llama.cpp's run is already exact math */
    }
    if (lf == NULL || glf == NULL || !cJSON_IsObject(t)) {
        fprintf(stderr, "hoheit logits: the reference JSON lacks the %s logits files or tolerance\n",
                exact ? "tier-A (_deq)" : "tier-B");
        return -1;
    }
    w->n_greedy = read_ids(cJSON_GetObjectItemCaseSensitive(j, ids_key), w->greedy, MAX_GREEDY);
    if (w->n_greedy < 1) {
        fprintf(stderr, "hoheit logits: the reference JSON lacks %s\n", ids_key);
        return -1;
    }
    w->max_abs = num(t, strict ? "strict_max_abs" : "max_abs", num(t, "max_abs", 0));
    w->rel_l2 = num(t, strict ? "strict_rel_l2" : "rel_l2", num(t, "rel_l2", 0));
    w->greedy_prefix = clamp_rows(num(t, strict ? "strict_greedy_prefix" : "greedy_prefix",
                                      num(t, "greedy_prefix", 0)), w->n_greedy);
    w->rows = w->n_in;
    w->greedy_rows = w->n_greedy;
    w->moe = cJSON_GetObjectItemCaseSensitive(j, "router_margin") != NULL;
    if (w->moe && !exact) {
        w->rows = clamp_rows(num(tol, "compare_positions", w->n_in), w->n_in);
        if (w->rows < w->n_in) {
            w->greedy_rows = 0;
        } else {
            const cJSON *rg = cJSON_GetObjectItemCaseSensitive(j, "rerouted_greedy_rows");
            for (const cJSON *v = rg ? rg->child : NULL; v; v = v->next)
                if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < w->greedy_rows)
                    w->greedy_rows = (int)v->valuedouble;
        }
    }
    if (w->moe && kv == HH_KV_F16) {
        const cJSON *t16 = tol_deq ? tol_deq : tol;
        int rows16 = clamp_rows(num(t16, "f16kv_compare_positions", w->n_in), w->n_in);
        int prefix16 = clamp_rows(num(t16, "f16kv_greedy_prefix", 0), w->n_greedy);
        int grows16 = rows16 < w->n_in ? 0
                      : rows_before_margin(j, tol_deq ? "router_margin_greedy_deq" : "router_margin_greedy",
                                           w->n_greedy);
        if (rows16 < w->rows) w->rows = rows16;
        if (prefix16 < w->greedy_prefix) w->greedy_prefix = prefix16;
        if (grows16 < w->greedy_rows) w->greedy_rows = grows16;
    }
    w->logits = read_f32(dir, lf, (size_t)w->n_in * (size_t)w->n_vocab);
    if (w->logits == NULL) return -1;
    w->greedy_logits = read_f32(dir, glf, (size_t)w->n_greedy * (size_t)w->n_vocab);
    return w->greedy_logits ? 0 : -1;
}

static diff_t compare(const float *a, const float *b, size_t n)
{
    double mx = 0, num2 = 0, den2 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        if (!(fabs(d) <= mx)) mx = fabs(d);   /* NaN propagates as a failure */
        num2 += d * d;
        den2 += (double)b[i] * b[i];
    }
    return (diff_t){ mx, den2 > 0 ? sqrt(num2 / den2) : sqrt(num2) };
}

static bool within(diff_t d, const want_t *w) { return d.max_abs <= w->max_abs && d.rel_l2 <= w->rel_l2; }

static int32_t argmax(const float *x, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Prints the positions listed in the JSON array key (or "none"). */
static void print_list(const cJSON *j, const char *key)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key);
    int n = 0;
    for (const cJSON *v = a ? a->child : NULL; v; v = v->next)
        if (cJSON_IsNumber(v)) {
            printf(" %d", v->valueint);
            n++;
        }
    if (n == 0) printf(" none");
}

/* Decodes n ids of sequence 0; logits of every position when all. */
static int decode(hh_ctx_t *c, const int32_t *ids, int n, bool *want_all, hh_err_t *e)
{
    hh_batch_t b = { .n_tokens = n, .tokens = ids, .seq = NULL, .logits = want_all };
    return hh_ctx_decode(c, &b, e);
}

static void print_diff(const char *what, int rows, int total, diff_t d, const want_t *w, bool ok)
{
    if (rows == 0) {
        printf("  %s: none of %d compared\n", what, total);
        return;
    }
    printf("  %s rows 0-%d of %d: max abs %.3g rel L2 %.3g (limit %g / %g) %s\n", what, rows - 1, total,
           d.max_abs, d.rel_l2, w->max_abs, w->rel_l2, ok ? "pass" : "FAIL");
}

int hh_refcheck_run(const hh_refcheck_opts_t *o)
{
    int status = 1;
    want_t *w = calloc(1, sizeof *w);
    cJSON *j = read_json(o->json_path);
    hh_model_t *m = NULL;
    hh_ctx_t *c = NULL;
    float *got = NULL, *got_g = NULL;
    bool *all = NULL;
    hh_err_t e;
    hh_err_clear(&e);
    char buf[640], dir[4096], model_path[4096];
    if (w == NULL || j == NULL) goto cleanup;

    snprintf(dir, sizeof dir, "%s", o->json_path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    if (want_load(w, j, dir, o->exact, o->kv) != 0) goto cleanup;
    if (o->model_path != NULL) {
        snprintf(model_path, sizeof model_path, "%s", o->model_path);
    } else {
        const char *mf = str(j, "model");
        if (mf == NULL || strchr(mf, '/') != NULL ||
            snprintf(model_path, sizeof model_path, "%s/%s", dir, mf) >= (int)sizeof model_path) {
            fprintf(stderr, "hoheit logits: the reference JSON names no model file next to it; pass -m MODEL\n");
            goto cleanup;
        }
    }

    if (hh_model_load(&m, model_path, NULL, &e) != HH_OK) {
        fprintf(stderr, "hoheit logits: %s: %s\n", model_path, hh_err_describe(&e, buf, sizeof buf));
        goto cleanup;
    }
    const hh_hparams_t *hp = hh_model_hparams(m);
    if (hp->n_vocab != w->n_vocab) {
        fprintf(stderr, "hoheit logits: %s has %d vocabulary entries, the reference %d\n", model_path,
                hp->n_vocab, w->n_vocab);
        goto cleanup;
    }
    hh_ctx_params_t cp = hh_ctx_default_params();
    cp.n_ctx = w->n_in + w->n_greedy + 1;
    cp.n_batch = w->n_in;
    cp.n_threads = o->threads;
    cp.kv_type = o->kv;
    cp.exact = o->exact;
    if (hh_ctx_create(&c, m, &cp, &e) != HH_OK) {
        fprintf(stderr, "hoheit logits: %s\n", hh_err_describe(&e, buf, sizeof buf));
        goto cleanup;
    }
    const size_t V = (size_t)w->n_vocab;
    got = malloc(sizeof *got * (size_t)w->n_in * V);
    got_g = malloc(sizeof *got_g * (size_t)w->n_greedy * V);
    all = malloc(sizeof *all * (size_t)w->n_in);
    if (got == NULL || got_g == NULL || all == NULL) {
        fprintf(stderr, "hoheit logits: out of memory\n");
        goto cleanup;
    }
    for (int i = 0; i < w->n_in; i++) all[i] = true;

    printf("refcheck %s (%s): tier %s, kv %s, %d inputs, %d greedy steps, vocab %d\n", model_path,
           hp->arch_name, o->exact ? "A (exact F32 math vs the dequantized-weight run)"
                                   : "B (default math vs llama.cpp)",
           o->kv == HH_KV_F16 ? "f16" : "f32", w->n_in, w->n_greedy, w->n_vocab);

    /* the inputs as one batch */
    if (decode(c, w->in_ids, w->n_in, all, &e) != HH_OK) goto decode_failed;
    for (int i = 0; i < w->n_in; i++)
        memcpy(got + (size_t)i * V, hh_ctx_logits(c, i), sizeof *got * V);
    diff_t d_in = compare(got, w->logits, (size_t)w->rows * V);
    bool ok_in = within(d_in, w);
    print_diff("inputs", w->rows, w->n_in, d_in, w, ok_in);

    /* free greedy decoding from the batch's last row */
    int matched = 0;
    int32_t tok = argmax(got + (size_t)(w->n_in - 1) * V, w->n_vocab);
    for (int k = 0; k < w->greedy_prefix; k++) {
        if (tok != w->greedy[k]) break;
        matched++;
        if (decode(c, &tok, 1, NULL, &e) != HH_OK) goto decode_failed;
        tok = argmax(hh_ctx_logits(c, 0), w->n_vocab);
    }
    bool ok_greedy = matched == w->greedy_prefix;
    printf("  greedy: %d of %d ids match (greedy_prefix %d) %s\n", matched, w->greedy_prefix,
           w->greedy_prefix, ok_greedy ? "pass" : "FAIL");

    /* teacher forcing along the reference's greedy ids, from a fresh prefill
     * (a window cache may no longer hold what going back needs) */
    if (hh_ctx_seq_truncate(c, 0, 0) != HH_OK || decode(c, w->in_ids, w->n_in, NULL, &e) != HH_OK)
        goto decode_failed;
    memcpy(got_g, hh_ctx_logits(c, w->n_in - 1), sizeof *got_g * V);
    for (int k = 0; k + 1 < w->greedy_rows; k++) {
        if (decode(c, &w->greedy[k], 1, NULL, &e) != HH_OK) goto decode_failed;
        memcpy(got_g + (size_t)(k + 1) * V, hh_ctx_logits(c, 0), sizeof *got_g * V);
    }
    diff_t d_tf = compare(got_g, w->greedy_logits, (size_t)w->greedy_rows * V);
    bool ok_tf = within(d_tf, w);
    print_diff("teacher-forced greedy", w->greedy_rows, w->n_greedy, d_tf, w, ok_tf);

    if (w->moe) {
        printf("  llama.cpp rerouted input positions:");
        print_list(j, "rerouted_positions");
        printf("; greedy rows:");
        print_list(j, "rerouted_greedy_rows");
        printf("\n");
        if (w->rows < w->n_in)
            printf("  skipped input rows %d-%d: %s\n", w->rows, w->n_in - 1,
                   !o->exact && w->rows == (int)num(cJSON_GetObjectItemCaseSensitive(j, "tolerance"),
                                                    "compare_positions", w->n_in)
                       ? "from llama.cpp's first rerouted position on (later rows follow causally)"
                       : "from the first router margin <= 0.003 on (an F16 KV cache may reroute there)");
        if (w->greedy_rows < w->n_greedy)
            printf("  skipped greedy rows %d-%d\n", w->greedy_rows, w->n_greedy - 1);
        if (o->exact && o->kv == HH_KV_F32)
            printf("  exact math routes as the dequantized-weight run: every row compared\n");
    }
    status = ok_in && ok_greedy && ok_tf ? 0 : 1;
    printf("refcheck: %s\n", status == 0 ? "pass" : "FAIL (outside tolerance)");
    goto cleanup;

decode_failed:
    fprintf(stderr, "hoheit logits: %s\n", hh_err_describe(&e, buf, sizeof buf));
cleanup:
    free(all);
    free(got);
    free(got_g);
    hh_ctx_free(c);
    hh_model_free(m);
    cJSON_Delete(j);
    if (w != NULL) {
        free(w->logits);
        free(w->greedy_logits);
        free(w);
    }
    return status;
}
