/* cmd_inspect.c - `hoheit inspect FILE`: what a GGUF file holds (format,
 * architecture and hyperparameters, tokenizer summary, other metadata, the
 * tensor table with per-type counts), as text or as JSON (--json), and at
 * the end whether hoheit runs the file: the chat format its template maps
 * to and the loader's verdict (the model is loaded with its weights mapped,
 * not read, so a refusal names what is missing, e.g. phi3 LongRoPE). */
#include "cli/cmd.h"

#include "gguf/gguf.h"
#include "kernels/quant.h"
#include "model/model.h"
#include "tok/chat.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit inspect [--kv-arrays] [--json] FILE\n"
            "  prints the GGUF version, architecture, hyperparameters, tokenizer summary,\n"
            "  other metadata and the tensor table\n"
            "  --kv-arrays   print every element of array values (default: a short preview)\n"
            "  --json        one JSON object on stdout instead of text\n");
}

/* Prints s (len bytes) quoted, escaping control bytes; at most max bytes. */
static void put_quoted(FILE *f, const char *s, uint64_t len, uint64_t max)
{
    fputc('\'', f);
    uint64_t n = len < max ? len : max;
    for (uint64_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\'' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    fputc('\'', f);
    if (len > max)
        fprintf(f, "... (%" PRIu64 " bytes)", len);
}

static double arr_num(const hh_gguf_value_t *v, uint64_t i, bool *is_float, int64_t *iv, uint64_t *uv)
{
    const void *d = v->v.arr.data;
    *is_float = false;
    *iv = 0;
    *uv = 0;
    switch (v->v.arr.elem) {
    case HH_GGUF_U8:   *uv = ((const uint8_t *)d)[i]; break;
    case HH_GGUF_BOOL: *uv = ((const uint8_t *)d)[i] != 0; break;
    case HH_GGUF_I8:   *iv = ((const int8_t *)d)[i]; break;
    case HH_GGUF_U16:  *uv = ((const uint16_t *)d)[i]; break;
    case HH_GGUF_I16:  *iv = ((const int16_t *)d)[i]; break;
    case HH_GGUF_U32:  *uv = ((const uint32_t *)d)[i]; break;
    case HH_GGUF_I32:  *iv = ((const int32_t *)d)[i]; break;
    case HH_GGUF_U64:  *uv = ((const uint64_t *)d)[i]; break;
    case HH_GGUF_I64:  *iv = ((const int64_t *)d)[i]; break;
    case HH_GGUF_F32:  *is_float = true; return ((const float *)d)[i];
    case HH_GGUF_F64:  *is_float = true; return ((const double *)d)[i];
    default: break;
    }
    return 0;
}

static bool is_signed_t(hh_gguf_vtype_t t)
{
    return t == HH_GGUF_I8 || t == HH_GGUF_I16 || t == HH_GGUF_I32 || t == HH_GGUF_I64;
}

static void put_value(FILE *f, const hh_gguf_value_t *v, bool full)
{
    switch (v->type) {
    case HH_GGUF_STR:
        put_quoted(f, v->v.str.s, v->v.str.len, full ? UINT64_MAX : 120);
        return;
    case HH_GGUF_F32: case HH_GGUF_F64:
        fprintf(f, "%.9g", v->v.f);
        return;
    case HH_GGUF_BOOL:
        fputs(v->v.u ? "true" : "false", f);
        return;
    case HH_GGUF_ARR:
        break;
    default:
        if (is_signed_t(v->type))
            fprintf(f, "%" PRId64, v->v.i);
        else
            fprintf(f, "%" PRIu64, v->v.u);
        return;
    }
    uint64_t n = v->v.arr.n;
    uint64_t shown = full ? n : (n < 5 ? n : 5);
    fprintf(f, "[%s x %" PRIu64 "] [", hh_gguf_vtype_name(v->v.arr.elem), n);
    for (uint64_t i = 0; i < shown; i++) {
        if (i)
            fputs(", ", f);
        if (v->v.arr.elem == HH_GGUF_STR) {
            put_quoted(f, v->v.arr.strs[i], v->v.arr.str_lens[i], full ? UINT64_MAX : 40);
        } else if (v->v.arr.elem == HH_GGUF_ARR) {
            put_value(f, &v->v.arr.items[i], full);
        } else {
            bool fl;
            int64_t iv;
            uint64_t uv;
            double d = arr_num(v, i, &fl, &iv, &uv);
            if (fl)
                fprintf(f, "%.9g", d);
            else if (v->v.arr.elem == HH_GGUF_BOOL)
                fputs(uv ? "true" : "false", f);
            else if (is_signed_t(v->v.arr.elem))
                fprintf(f, "%" PRId64, iv);
            else
                fprintf(f, "%" PRIu64, uv);
        }
    }
    fputs(shown < n ? ", ...]" : "]", f);
}

/* "attention.head_count_kv" -> "attention head count kv" */
static void put_label(FILE *f, const char *key, size_t width)
{
    size_t n = 0;
    for (const char *p = key; *p; p++, n++)
        fputc(*p == '.' || *p == '_' ? ' ' : *p, f);
    for (; n < width; n++)
        fputc(' ', f);
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static void put_size(FILE *f, uint64_t b)
{
    if (b >= (1ull << 30))
        fprintf(f, "%" PRIu64 " bytes (%.2f GiB)", b, (double)b / (1ull << 30));
    else if (b >= (1ull << 20))
        fprintf(f, "%" PRIu64 " bytes (%.2f MiB)", b, (double)b / (1ull << 20));
    else if (b >= 1024)
        fprintf(f, "%" PRIu64 " bytes (%.1f KiB)", b, (double)b / 1024);
    else
        fprintf(f, "%" PRIu64 " bytes", b);
}

/* Keys the tokenizer section summarizes instead of listing. */
static bool tok_summarized(const char *k)
{
    static const char *const keys[] = {
        "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
        "tokenizer.ggml.token_type", "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id",
        "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
        "tokenizer.chat_template",
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(k, keys[i]))
            return true;
    return false;
}

static void put_token_id(FILE *f, const hh_gguf_t *g, const char *label, const char *key)
{
    fprintf(f, "  %-22s", label);
    uint32_t id;
    int rc = hh_gguf_get_u32(g, key, &id);
    if (rc == HH_ENOENT) {
        fputs("-\n", f);
        return;
    }
    if (rc) {
        fputs("(invalid)\n", f);
        return;
    }
    fprintf(f, "%u", id);
    const hh_gguf_value_t *toks;
    if (hh_gguf_get_arr(g, "tokenizer.ggml.tokens", HH_GGUF_STR, &toks) == 0) {
        if (id < toks->v.arr.n) {
            fputc(' ', f);
            put_quoted(f, toks->v.arr.strs[id], toks->v.arr.str_lens[id], 60);
        } else {
            fputs(" (out of vocabulary!)", f);
        }
    }
    fputc('\n', f);
}

static void print_text(FILE *f, const hh_gguf_t *g, const char *path, bool full)
{
    int64_t nkv = hh_gguf_n_kv(g), nt = hh_gguf_n_tensors(g);
    const char *arch = NULL;
    hh_gguf_get_str(g, "general.architecture", &arch);

    fprintf(f, "file: %s\n", path);
    fprintf(f, "  GGUF version %u, ", hh_gguf_version(g));
    put_size(f, hh_gguf_file_size(g));
    fprintf(f, ", %lld kv, %lld tensors, alignment %" PRIu64 ", data at offset %" PRIu64 "\n",
            (long long)nkv, (long long)nt, hh_gguf_alignment(g), hh_gguf_data_offset(g));

    fprintf(f, "\ngeneral:\n");
    for (int64_t i = 0; i < nkv; i++) {
        const char *k = hh_gguf_kv_key(g, i);
        if (!has_prefix(k, "general."))
            continue;
        fputs("  ", f);
        put_label(f, k + 8, 22);
        put_value(f, hh_gguf_kv_value(g, i), full);
        fputc('\n', f);
    }

    char prefix[256] = "";
    if (arch && strlen(arch) < sizeof prefix - 2)
        snprintf(prefix, sizeof prefix, "%s.", arch);
    fprintf(f, "\nhyperparameters (%s):\n", arch ? arch : "no general.architecture");
    int nh = 0;
    for (int64_t i = 0; prefix[0] && i < nkv; i++) {
        const char *k = hh_gguf_kv_key(g, i);
        if (!has_prefix(k, prefix))
            continue;
        fputs("  ", f);
        size_t lw = strlen(k + strlen(prefix));
        put_label(f, k + strlen(prefix), 30);
        if (lw >= 30)
            fputc(' ', f);
        put_value(f, hh_gguf_kv_value(g, i), full);
        fputc('\n', f);
        nh++;
    }
    if (nh == 0)
        fprintf(f, "  (none)\n");

    fprintf(f, "\ntokenizer:\n");
    const char *s;
    fprintf(f, "  %-22s%s\n", "model", hh_gguf_get_str(g, "tokenizer.ggml.model", &s) == 0 ? s : "-");
    fprintf(f, "  %-22s%s\n", "pre", hh_gguf_get_str(g, "tokenizer.ggml.pre", &s) == 0 ? s : "-");
    const hh_gguf_value_t *v;
    if (hh_gguf_get_arr(g, "tokenizer.ggml.tokens", HH_GGUF_STR, &v) == 0)
        fprintf(f, "  %-22s%" PRIu64 "\n", "vocab size", v->v.arr.n);
    else
        fprintf(f, "  %-22s-\n", "vocab size");
    if (hh_gguf_get_arr(g, "tokenizer.ggml.merges", HH_GGUF_STR, &v) == 0)
        fprintf(f, "  %-22s%" PRIu64 "\n", "merges", v->v.arr.n);
    fprintf(f, "  %-22s%s\n", "scores", hh_gguf_get(g, "tokenizer.ggml.scores") ? "yes" : "no");
    fprintf(f, "  %-22s%s\n", "token types", hh_gguf_get(g, "tokenizer.ggml.token_type") ? "yes" : "no");
    put_token_id(f, g, "bos", "tokenizer.ggml.bos_token_id");
    put_token_id(f, g, "eos", "tokenizer.ggml.eos_token_id");
    put_token_id(f, g, "unk", "tokenizer.ggml.unknown_token_id");
    put_token_id(f, g, "pad", "tokenizer.ggml.padding_token_id");
    v = hh_gguf_get(g, "tokenizer.chat_template");
    if (v && v->type == HH_GGUF_STR)
        fprintf(f, "  %-22spresent (%" PRIu64 " bytes)\n", "chat template", v->v.str.len);
    else
        fprintf(f, "  %-22snone\n", "chat template");
    for (int64_t i = 0; i < nkv; i++) {
        const char *k = hh_gguf_kv_key(g, i);
        if (!has_prefix(k, "tokenizer.") || tok_summarized(k))
            continue;
        fprintf(f, "  %s = ", k);
        put_value(f, hh_gguf_kv_value(g, i), full);
        fputc('\n', f);
    }
    if (full) {
        for (int64_t i = 0; i < nkv; i++) {
            const char *k = hh_gguf_kv_key(g, i);
            const hh_gguf_value_t *tv = hh_gguf_kv_value(g, i);
            if (!has_prefix(k, "tokenizer.") || !tok_summarized(k) || tv->type != HH_GGUF_ARR)
                continue;
            fprintf(f, "  %s = ", k);
            put_value(f, tv, true);
            fputc('\n', f);
        }
    }

    int other = 0;
    for (int64_t i = 0; i < nkv; i++) {
        const char *k = hh_gguf_kv_key(g, i);
        if (has_prefix(k, "general.") || has_prefix(k, "tokenizer.") || (prefix[0] && has_prefix(k, prefix)))
            continue;
        if (other++ == 0)
            fprintf(f, "\nother metadata:\n");
        fprintf(f, "  %s = ", k);
        put_value(f, hh_gguf_kv_value(g, i), full);
        fputc('\n', f);
    }

    uint64_t total = 0;
    int64_t counts[HH_TYPE_COUNT] = { 0 };
    size_t wname = 4;
    for (int64_t i = 0; i < nt; i++) {
        const hh_gguf_tensor_t *t = hh_gguf_tensor(g, i);
        total += t->nbytes;
        if (t->type < HH_TYPE_COUNT)
            counts[t->type]++;
        if (strlen(t->name) > wname)
            wname = strlen(t->name);
    }
    fprintf(f, "\ntensors: %lld, ", (long long)nt);
    put_size(f, total);
    fprintf(f, "\n  types:");
    bool first = true;
    bool noncompute = false;
    for (uint32_t ty = 0; ty < HH_TYPE_COUNT; ty++) {
        if (counts[ty] == 0)
            continue;
        const hh_type_traits_t *tr = hh_type_traits(ty);
        fprintf(f, "%s %s x%lld%s", first ? "" : ",", hh_type_name(ty), (long long)counts[ty],
                tr && !tr->compute ? " (not computable by hoheit)" : "");
        noncompute |= tr && !tr->compute;
        first = false;
    }
    fprintf(f, "%s\n", first ? " -" : "");
    if (noncompute)
        fprintf(f, "  note: hoheit computes with %s\n", hh_type_supported_list());
    if (nt)
        fprintf(f, "  %5s  %-*s  %-8s  %-20s  %12s  %12s\n", "#", (int)wname, "name", "type", "dims",
                "offset", "bytes");
    for (int64_t i = 0; i < nt; i++) {
        const hh_gguf_tensor_t *t = hh_gguf_tensor(g, i);
        char dims[128];
        int k = 0;
        for (uint32_t d = 0; d < t->n_dims; d++)
            k += snprintf(dims + k, sizeof dims - (size_t)k, "%s%lld", d ? ", " : "[", (long long)t->ne[d]);
        snprintf(dims + k, sizeof dims - (size_t)k, "]");
        fprintf(f, "  %5lld  %-*s  %-8s  %-20s  %12" PRIu64 "  %12zu\n", (long long)i, (int)wname, t->name,
                hh_type_name(t->type), dims, t->offset, t->nbytes);
    }
}

/* What hoheit makes of the file: the chat format of its template (NULL
 * when it has none; fell_back when not recognized) and whether the model
 * loads (why holds the loader's message when not). */
typedef struct verdict {
    const char *chat_format;
    bool        fell_back;
    bool        runs;
    bool        embedding;
    char        why[640];
} verdict_t;

static void get_verdict(const hh_gguf_t *g, const char *path, verdict_t *v)
{
    memset(v, 0, sizeof *v);
    const char *tmpl = NULL;
    (void)hh_gguf_get_str(g, "tokenizer.chat_template", &tmpl);
    hh_err_t e;
    hh_err_clear(&e);
    hh_chat_format_t f;
    int rc = hh_chat_detect(tmpl, &f, &e);
    if (tmpl != NULL) {
        v->chat_format = hh_chat_format_name(f);
        v->fell_back = rc != 0;
    }
    hh_model_t *m = NULL;
    hh_err_clear(&e);
    if (hh_model_load(&m, path, NULL, &e) == HH_OK) {
        v->runs = true;
        v->embedding = hh_model_is_embedding(m);
        hh_model_free(m);
    } else {
        hh_err_describe(&e, v->why, sizeof v->why);
    }
}

static void print_verdict(FILE *f, const verdict_t *v)
{
    fprintf(f, "\nhoheit:\n");
    if (v->chat_format == NULL)
        fprintf(f, "  %-22snone (no chat template; chatml unless the family has its own)\n", "chat format");
    else
        fprintf(f, "  %-22s%s%s\n", "chat format", v->chat_format,
                v->fell_back ? " (template not recognized, fallback)" : "");
    if (v->runs)
        fprintf(f, "  %-22syes%s\n", "runs", v->embedding ? " (embedding model)" : "");
    else
        fprintf(f, "  %-22sno: %s\n", "runs", v->why);
}

/* JSON form of a value; arrays longer than 5 are cut unless full. */
static cJSON *json_value(const hh_gguf_value_t *v, bool full)
{
    switch (v->type) {
    case HH_GGUF_STR: {
        /* cJSON strings end at NUL; GGUF strings may contain one. */
        return cJSON_CreateString(v->v.str.s);
    }
    case HH_GGUF_F32: case HH_GGUF_F64:
        return cJSON_CreateNumber(v->v.f);
    case HH_GGUF_BOOL:
        return cJSON_CreateBool(v->v.u != 0);
    case HH_GGUF_ARR:
        break;
    default:
        return cJSON_CreateNumber(is_signed_t(v->type) ? (double)v->v.i : (double)v->v.u);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", hh_gguf_vtype_name(v->v.arr.elem));
    cJSON_AddNumberToObject(o, "n", (double)v->v.arr.n);
    cJSON *items = cJSON_AddArrayToObject(o, "items");
    uint64_t shown = full ? v->v.arr.n : (v->v.arr.n < 5 ? v->v.arr.n : 5);
    for (uint64_t i = 0; i < shown; i++) {
        cJSON *it;
        if (v->v.arr.elem == HH_GGUF_STR) {
            it = cJSON_CreateString(v->v.arr.strs[i]);
        } else if (v->v.arr.elem == HH_GGUF_ARR) {
            it = json_value(&v->v.arr.items[i], full);
        } else {
            bool fl;
            int64_t iv;
            uint64_t uv;
            double d = arr_num(v, i, &fl, &iv, &uv);
            if (v->v.arr.elem == HH_GGUF_BOOL)
                it = cJSON_CreateBool(uv != 0);
            else
                it = cJSON_CreateNumber(fl ? d : is_signed_t(v->v.arr.elem) ? (double)iv : (double)uv);
        }
        cJSON_AddItemToArray(items, it);
    }
    if (shown < v->v.arr.n)
        cJSON_AddBoolToObject(o, "truncated", true);
    return o;
}

static int print_json(FILE *f, const hh_gguf_t *g, const char *path, bool full, const verdict_t *vd)
{
    cJSON *root = cJSON_CreateObject();
    if (root == NULL)
        return -1;
    cJSON *h = cJSON_AddObjectToObject(root, "hoheit");
    if (vd->chat_format) cJSON_AddStringToObject(h, "chat_format", vd->chat_format);
    else cJSON_AddNullToObject(h, "chat_format");
    cJSON_AddBoolToObject(h, "chat_template_recognized", vd->chat_format != NULL && !vd->fell_back);
    cJSON_AddBoolToObject(h, "runs", vd->runs);
    if (!vd->runs) cJSON_AddStringToObject(h, "refusal", vd->why);
    cJSON_AddStringToObject(root, "file", path);
    cJSON_AddNumberToObject(root, "version", hh_gguf_version(g));
    cJSON_AddNumberToObject(root, "file_size", (double)hh_gguf_file_size(g));
    cJSON_AddNumberToObject(root, "alignment", (double)hh_gguf_alignment(g));
    cJSON_AddNumberToObject(root, "data_offset", (double)hh_gguf_data_offset(g));
    cJSON *kv = cJSON_AddObjectToObject(root, "metadata");
    for (int64_t i = 0; i < hh_gguf_n_kv(g); i++)
        cJSON_AddItemToObject(kv, hh_gguf_kv_key(g, i), json_value(hh_gguf_kv_value(g, i), full));
    cJSON *ts = cJSON_AddArrayToObject(root, "tensors");
    for (int64_t i = 0; i < hh_gguf_n_tensors(g); i++) {
        const hh_gguf_tensor_t *t = hh_gguf_tensor(g, i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "type", hh_type_name(t->type));
        cJSON *dims = cJSON_AddArrayToObject(o, "dims");
        for (uint32_t d = 0; d < t->n_dims; d++)
            cJSON_AddItemToArray(dims, cJSON_CreateNumber((double)t->ne[d]));
        cJSON_AddNumberToObject(o, "offset", (double)t->offset);
        cJSON_AddNumberToObject(o, "bytes", (double)t->nbytes);
        cJSON_AddItemToArray(ts, o);
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (s == NULL)
        return -1;
    fprintf(f, "%s\n", s);
    cJSON_free(s);
    return 0;
}

int hh_cmd_inspect(int argc, char **argv)
{
    bool full = false, json = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--kv-arrays")) {
            full = true;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "hoheit inspect: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (path == NULL) {
            path = argv[i];
        } else {
            fprintf(stderr, "hoheit inspect: one FILE only\n");
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL) {
        usage(stderr);
        return 2;
    }
    hh_gguf_params_t p = hh_gguf_default_params();
    p.no_data = true;
    hh_gguf_t *g = NULL;
    hh_err_t err;
    if (hh_gguf_open(&g, path, &p, &err) != 0) {
        char buf[700];
        fprintf(stderr, "hoheit inspect: %s: %s\n", path, hh_err_describe(&err, buf, sizeof buf));
        return 1;
    }
    int rc = 0;
    verdict_t vd;
    get_verdict(g, path, &vd);
    if (json) {
        if (print_json(stdout, g, path, full, &vd) != 0) {
            fprintf(stderr, "hoheit inspect: out of memory building JSON\n");
            rc = 1;
        }
    } else {
        print_text(stdout, g, path, full);
        print_verdict(stdout, &vd);
    }
    hh_gguf_close(g);
    return rc;
}
