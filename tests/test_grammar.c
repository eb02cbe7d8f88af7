/* test_grammar.c - JSON Schema constrained decoding: byte-level acceptance
 * per construct (valid text accepted, invalid rejected, completion), schema
 * errors (unsupported keywords, bad JSON, deep nesting, huge enums, $ref
 * cycles), then generation with real vocabularies (gpt-2, llama-spm) from
 * random logits: every output must parse with cJSON and validate against the
 * schema with the independent validator below. Also measures (prints) the
 * cost of a full mask on the 50k gpt-2 vocabulary. */
#include "harness.h"
#include "base/err.h"
#include "sample/grammar.h"
#include "tok/tok.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- byte-level helpers ------------------------------------------------- */

/* Compiles schema (NULL: json_object mode); NULL on failure (printed). */
static hh_grammar_t *compile(const char *schema)
{
    hh_grammar_t *g = NULL;
    hh_err_t err;
    int rc = hh_grammar_from_json_schema(schema, schema ? strlen(schema) : 0, &g, &err);
    if (rc)
        fprintf(stderr, "  compile failed (%d): %s\n", rc, err.msg);
    return g;
}

/* 1 if text is accepted as a complete value, 0 if accepted but incomplete,
 * -1 if rejected, -2 on setup failure. */
static int match(const hh_grammar_t *g, const char *text)
{
    hh_grammar_state_t *s = NULL;
    if (hh_grammar_state_create(g, NULL, &s, NULL))
        return -2;
    int rc = hh_grammar_accept_bytes(s, text, strlen(text));
    int r = rc ? -1 : hh_grammar_complete(s) ? 1 : 0;
    hh_grammar_state_free(s);
    return r;
}

/* Checks a list of (text, expected match) for one schema. */
typedef struct { const char *text; int want; } case_t;

static bool run_cases(const char *schema, const case_t *cases, size_t n)
{
    hh_grammar_t *g = compile(schema);
    if (!g) {
        hh_test_fail(__FILE__, __LINE__, "schema did not compile: %s", schema ? schema : "(null)");
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        int got = match(g, cases[i].text);
        if (got != cases[i].want) {
            hh_test_fail(__FILE__, __LINE__, "schema %s, text '%s': expected %d, got %d", schema ? schema : "(null)",
                         cases[i].text, cases[i].want, got);
            ok = false;
        }
    }
    hh_grammar_free(g);
    return ok;
}

#define CASES(schema, ...) do { static const case_t _c[] = { __VA_ARGS__ };                 \
    if (!run_cases((schema), _c, sizeof _c / sizeof *_c)) return; } while (0)

TEST(grammar_json_object_mode)
{
    CASES(NULL,
          { "{}", 1 }, { "{\"a\":1}", 1 }, { " {\"a\": [1, \"x\", null, true, {\"b\": -2.5e3}]}", 1 },
          { "{\n  \"a\": {}\n}", 1 }, { "{\"a\":1", 0 }, { "{", 0 }, { "[]", -1 }, { "{,}", -1 },
          { "{\"a\"}", -1 }, { "{\"a\":1,}", -1 }, { "\"x\"", -1 }, { "{} ", -1 }, { "{}{}", -1 },
          { "{\"a\":tru}", -1 }, { "{\"a\":01}", -1 });
}

TEST(grammar_whitespace_is_bounded)
{
    char ok20[64], bad21[64];
    snprintf(ok20, sizeof ok20, "{\n%20s\"a\":1}", "");
    snprintf(bad21, sizeof bad21, "{\n%21s\"a\":1}", "");
    CASES(NULL, { "{ \"a\" : 1 }", 1 }, { "{\n\t\"a\":1\n}", 1 }, { "{  \"a\":1}", -1 }, { "{\n\n\"a\":1}", -1 },
          { "{ \n\"a\":1}", -1 });
    hh_grammar_t *g = compile(NULL);
    ASSERT_TRUE(g != NULL);
    ASSERT_EQ_INT(match(g, ok20), 1);
    ASSERT_EQ_INT(match(g, bad21), -1);
    hh_grammar_free(g);
}

TEST(grammar_strings_escapes_utf8)
{
    const char *sch = "{\"type\":\"string\"}";
    CASES(sch, { "\"\"", 1 }, { "\"abc\"", 1 }, { "\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\"", 1 },
          { "\"\\u00e9\\uFFFF\\uD7FF\"", 1 }, { "\"\\uD800\"", -1 }, { "\"\\udc00\"", -1 }, { "\"\\x\"", -1 },
          { "\"\\u12\"", -1 }, { "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 1 }, { "\"\xc0\x80\"", -1 },
          { "\"\x80\"", -1 }, { "\"\xed\xa0\x80\"", -1 }, { "\"\xf4\x90\x80\x80\"", -1 }, { "\"\xe2\x82\"", -1 },
          { "\"a\nb\"", -1 }, { "\"a\tb\"", -1 }, { "\"abc", 0 }, { "abc", -1 }, { "\"a\"\"", -1 });
}

TEST(grammar_string_length_counts_code_points)
{
    const char *sch = "{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}";
    CASES(sch, { "\"a\"", -1 }, { "\"ab\"", 1 }, { "\"abc\"", 1 }, { "\"abcd\"", -1 },
          { "\"\xc3\xa9\xc3\xa9\xc3\xa9\"", 1 }, { "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"", -1 }, { "\"\\n\\u0041\"", 1 },
          { "\"ab", 0 });
}

TEST(grammar_numbers_and_integers)
{
    CASES("{\"type\":\"number\"}", { "0", 1 }, { "-0", 1 }, { "12", 1 }, { "-3.25", 1 }, { "1e5", 1 },
          { "1.5E-07", 1 }, { "2e+1", 1 }, { "01", -1 }, { "1.", 0 }, { "-", 0 }, { ".5", -1 }, { "1e", 0 },
          { "+1", -1 }, { "1.2.3", -1 }, { "12345678901234567890", 1 }, { "123456789012345678901", -1 },
          { "1e1234", -1 });
    CASES("{\"type\":\"integer\"}", { "0", 1 }, { "-17", 1 }, { "1.5", -1 }, { "1e3", -1 }, { "007", -1 });
    CASES("{\"type\":\"boolean\"}", { "true", 1 }, { "false", 1 }, { "tru", 0 }, { "null", -1 }, { "1", -1 });
    CASES("{\"type\":\"null\"}", { "null", 1 }, { "nul", 0 }, { "false", -1 });
    CASES("{\"type\":[\"string\",\"null\"]}", { "null", 1 }, { "\"x\"", 1 }, { "1", -1 });
    CASES("{\"type\":\"integer\",\"nullable\":true}", { "null", 1 }, { "5", 1 }, { "\"5\"", -1 });
}

TEST(grammar_object_properties_order_required_optional)
{
    const char *sch = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"string\"},"
                      "\"c\":{\"type\":\"boolean\"}},\"required\":[\"b\"],\"additionalProperties\":false}";
    CASES(sch, { "{\"b\":\"x\"}", 1 }, { "{\"a\":1,\"b\":\"x\"}", 1 }, { "{\"a\":1,\"b\":\"x\",\"c\":true}", 1 },
          { "{\"b\":\"x\",\"c\":false}", 1 }, { "{ \"a\" : 1 , \"b\" : \"x\" }", 1 }, { "{}", -1 },
          { "{\"a\":1}", -1 }, { "{\"b\":\"x\",\"a\":1}", -1 }, { "{\"b\":1}", -1 }, { "{\"c\":true,\"b\":\"x\"}", -1 },
          { "{\"b\":\"x\",\"d\":1}", -1 }, { "{\"b\":\"x\",}", -1 }, { "{\"b\":\"x\"", 0 });
    /* no additionalProperties keyword: only the listed properties are emitted */
    CASES("{\"properties\":{\"k\":{\"const\":\"v\"}}}", { "{}", 1 }, { "{\"k\":\"v\"}", 1 }, { "{\"k\":\"w\"}", -1 },
          { "{\"z\":1}", -1 });
    /* additionalProperties: schema, after the listed ones */
    CASES("{\"type\":\"object\",\"properties\":{\"k\":{\"type\":\"null\"}},\"additionalProperties\":{\"type\":\"integer\"}}",
          { "{\"k\":null,\"x\":1,\"y\":2}", 1 }, { "{\"x\":1}", 1 }, { "{\"x\":\"s\"}", -1 }, { "{}", 1 },
          { "{\"k\":null,\"k\":1}", -1 }, { "{\"k\":1}", -1 }, { "{\"kk\":1,\"\":2}", 1 },
          { "{\"\\u006b\":1}", -1 });
    /* extra names may not repeat any listed name, including prefixes' neighbours */
    CASES("{\"properties\":{\"ab\":{\"type\":\"null\"},\"abc\":{\"type\":\"null\"},\"\":{\"type\":\"null\"}},"
          "\"additionalProperties\":true}",
          { "{\"a\":1}", 1 }, { "{\"ab\":1}", -1 }, { "{\"abc\":1}", -1 }, { "{\"abcd\":1}", 1 }, { "{\"abd\":1}", 1 },
          { "{\"\":1}", -1 }, { "{\"ab\":null,\"b\":[]}", 1 }, { "{\"ab\":null,\"ab\":null}", -1 });
    /* required name that is not in properties: any value */
    CASES("{\"type\":\"object\",\"required\":[\"q\"]}", { "{\"q\":[1,{}]}", 1 }, { "{}", -1 });
    /* object without properties: any members, or none with additionalProperties false */
    CASES("{\"type\":\"object\"}", { "{\"any\":{\"x\":[]}}", 1 }, { "{}", 1 });
    CASES("{\"type\":\"object\",\"additionalProperties\":false}", { "{}", 1 }, { "{\"a\":1}", -1 });
    /* property names are JSON-escaped */
    CASES("{\"properties\":{\"a\\\"b\":{\"type\":\"null\"}},\"required\":[\"a\\\"b\"]}", { "{\"a\\\"b\":null}", 1 },
          { "{\"a\"b\":null}", -1 });
}

TEST(grammar_arrays_min_max_items)
{
    const char *sch = "{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":1,\"maxItems\":3}";
    CASES(sch, { "[]", -1 }, { "[1]", 1 }, { "[1, 2,3]", 1 }, { "[1,2,3,4]", -1 }, { "[1,]", -1 }, { "[\"a\"]", -1 },
          { "[ 1 ]", 1 }, { "[\n 1,\n 2\n]", 1 }, { "[1", 0 });
    CASES("{\"type\":\"array\",\"minItems\":2}", { "[1]", -1 }, { "[1,\"a\"]", 1 }, { "[1,\"a\",null,[],{}]", 1 });
    CASES("{\"type\":\"array\",\"maxItems\":0}", { "[]", 1 }, { "[1]", -1 });
}

TEST(grammar_enum_const_anyof)
{
    CASES("{\"enum\":[\"red\",\"green\",\"greenish\",1.5,null,{\"a\":[1,true]},[]]}", { "\"red\"", 1 },
          { "\"green\"", 1 }, { "\"greenish\"", 1 }, { "\"gree\"", -1 }, { "1.5", 1 }, { "null", 1 },
          { "{\"a\":[1,true]}", 1 }, { "[]", 1 }, { "\"blue\"", -1 }, { "\"greenis", 0 }, { "2", -1 });
    CASES("{\"type\":\"string\",\"enum\":[\"x\",1,\"y\"]}", { "\"x\"", 1 }, { "1", -1 }, { "\"y\"", 1 });
    CASES("{\"const\":\"only\"}", { "\"only\"", 1 }, { "\"onl\"", -1 });
    CASES("{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"array\",\"items\":{\"type\":\"boolean\"}}]}", { "7", 1 },
          { "[true,false]", 1 }, { "[1]", -1 }, { "\"s\"", -1 });
    CASES("{\"oneOf\":[{\"properties\":{\"a\":{\"type\":\"null\"}},\"required\":[\"a\"]},"
          "{\"properties\":{\"b\":{\"type\":\"null\"}},\"required\":[\"b\"]}]}",
          { "{\"a\":null}", 1 }, { "{\"b\":null}", 1 }, { "{\"c\":null}", -1 });
    CASES("{\"allOf\":[{\"type\":\"boolean\"}],\"description\":\"d\"}", { "true", 1 }, { "1", -1 });
    CASES("true", { "[1,{\"a\":\"b\"}]", 1 }, { "-1.5", 1 });
}

TEST(grammar_refs_and_recursion)
{
    const char *tree = "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},"
                       "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}}},\"required\":[\"v\"]}},"
                       "\"$ref\":\"#/$defs/node\"}";
    CASES(tree, { "{\"v\":1}", 1 }, { "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"v\":4,\"kids\":[]}]}]}", 1 },
          { "{\"v\":1,\"kids\":[{}]}", -1 }, { "{\"kids\":[]}", -1 });
    CASES("{\"definitions\":{\"s\":{\"type\":\"string\"}},\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/s\"}}",
          { "[\"a\",\"b\"]", 1 }, { "[1]", -1 });
    /* recursion through the root, with a way out */
    CASES("{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"array\",\"items\":{\"$ref\":\"#\"},\"maxItems\":1}]}",
          { "[[[null]]]", 1 }, { "[[null,null]]", -1 });
}

TEST(grammar_finished_and_complete)
{
    hh_grammar_t *g = compile("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"number\"}},\"required\":[\"n\"]}");
    ASSERT_TRUE(g != NULL);
    hh_grammar_state_t *s = NULL;
    ASSERT_OK(hh_grammar_state_create(g, NULL, &s, NULL));
    ASSERT_OK(hh_grammar_accept_bytes(s, "{\"n\":12", 7));
    ASSERT_FALSE(hh_grammar_complete(s));
    ASSERT_EQ_INT(hh_grammar_accept_bytes(s, "x", 1), HH_EINVAL);   /* rejected: state unchanged */
    ASSERT_OK(hh_grammar_accept_bytes(s, "}", 1));
    ASSERT_TRUE(hh_grammar_complete(s));
    ASSERT_TRUE(hh_grammar_finished(s));
    ASSERT_EQ_INT(hh_grammar_accept_bytes(s, " ", 1), HH_EINVAL);
    hh_grammar_state_reset(s);
    ASSERT_FALSE(hh_grammar_complete(s));
    ASSERT_OK(hh_grammar_accept_bytes(s, "{\"n\":1}", 7));
    ASSERT_TRUE(hh_grammar_finished(s));
    hh_grammar_state_free(s);
    hh_grammar_free(g);

    g = compile("{\"type\":\"integer\"}");
    ASSERT_TRUE(g != NULL);
    ASSERT_OK(hh_grammar_state_create(g, NULL, &s, NULL));
    ASSERT_OK(hh_grammar_accept_bytes(s, "42", 2));
    ASSERT_TRUE(hh_grammar_complete(s));
    ASSERT_FALSE(hh_grammar_finished(s));   /* more digits may follow */
    hh_grammar_state_free(s);
    hh_grammar_free(g);
}

/* ---- schema errors ------------------------------------------------------ */

static int compile_rc(const char *schema, size_t len, hh_err_t *err)
{
    hh_grammar_t *g = NULL;
    int rc = hh_grammar_from_json_schema(schema, len, &g, err);
    hh_grammar_free(g);
    if (rc == 0 && g == NULL)
        return 1;   /* success must give a grammar */
    return rc;
}

#define EXPECT_ERR(schema, code, needle) do { hh_err_t _e; const char *_s = (schema);                \
    int _rc = compile_rc(_s, strlen(_s), &_e);                                                        \
    if (_rc != (code) || !strstr(_e.msg, (needle))) {                                                 \
        hh_test_fail(__FILE__, __LINE__, "schema %.200s: expected %d with \"%s\", got %d \"%s\"",     \
                     _s, (code), (needle), _rc, _rc ? _e.msg : "");                                  \
        return; } } while (0)

TEST(grammar_schema_errors)
{
    EXPECT_ERR("{\"type\":\"string\",\"pattern\":\"^a\"}", HH_EUNSUPPORTED, "\"pattern\"");
    EXPECT_ERR("{\"properties\":{\"x\":{\"type\":\"integer\",\"minimum\":0}}}", HH_EUNSUPPORTED, "/properties/x");
    EXPECT_ERR("{\"type\":\"object\",\"minProperties\":1}", HH_EUNSUPPORTED, "minProperties");
    EXPECT_ERR("{\"allOf\":[{\"type\":\"string\"},{\"maxLength\":2}]}", HH_EUNSUPPORTED, "allOf");
    EXPECT_ERR("{\"$ref\":\"#/$defs/a\",\"type\":\"string\",\"$defs\":{\"a\":true}}", HH_EUNSUPPORTED, "\"type\"");
    EXPECT_ERR("{\"$ref\":\"http://x/y.json\"}", HH_EUNSUPPORTED, "local");
    EXPECT_ERR("{\"type\":\"array\",\"items\":[{\"type\":\"string\"}]}", HH_EUNSUPPORTED, "tuple");
    EXPECT_ERR("{\"type\":\"array\",\"uniqueItems\":true}", HH_EUNSUPPORTED, "uniqueItems");
    EXPECT_ERR("{\"type\":", HH_EFORMAT, "not valid JSON");
    EXPECT_ERR("", HH_EFORMAT, "not valid JSON");
    /* stray bytes in a property name, an enum string or a const would let
     * the grammar accept bytes that are not JSON text (found by fuzz_grammar) */
    EXPECT_ERR("{\"type\":\"object\",\"properties\":{\"\xff\xff" "a\":{\"type\":\"string\"}}}", HH_EFORMAT,
               "not valid UTF-8");
    EXPECT_ERR("{\"enum\":[\"x\xc0\xaf\"]}", HH_EFORMAT, "not valid UTF-8");
    EXPECT_ERR("{\"const\":\"\xed\xa0\x80\"}", HH_EFORMAT, "not valid UTF-8");
    EXPECT_ERR("[1,2]", HH_EFORMAT, "object or a boolean");
    EXPECT_ERR("{\"type\":\"strin\"}", HH_EFORMAT, "unknown type");
    EXPECT_ERR("{\"type\":\"array\",\"minItems\":-1}", HH_EFORMAT, "minItems");
    EXPECT_ERR("{\"type\":\"array\",\"maxItems\":100000}", HH_ERANGE, "maxItems");
    EXPECT_ERR("{\"type\":\"array\",\"minItems\":3,\"maxItems\":2}", HH_EINVAL, "minItems > maxItems");
    EXPECT_ERR("{\"$ref\":\"#/$defs/missing\"}", HH_EINVAL, "does not resolve");
    EXPECT_ERR("{\"$ref\":\"#\"}", HH_EINVAL, "admits no value");
    EXPECT_ERR("{\"anyOf\":[{\"$ref\":\"#\"},{\"type\":\"null\"}]}", HH_EINVAL, "cycle");
    EXPECT_ERR("false", HH_EINVAL, "admits no value");
    EXPECT_ERR("{\"enum\":[1,2],\"type\":\"string\"}", HH_EINVAL, "admits no value");
    /* an object that must contain itself has no finite instance */
    EXPECT_ERR("{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#\"}},\"required\":[\"a\"]}", HH_EINVAL,
               "admits no value");
}

/* A schema nested n levels deep through "items" (JSON depth n) or through
 * "properties" (JSON depth 2n). Caller frees. */
static char *deep_schema(int n, bool props)
{
    const char *open = props ? "{\"properties\":{\"a\":" : "{\"items\":";
    const char *close = props ? "}}" : "}";
    size_t lo = strlen(open), lc = strlen(close), len = (size_t)n * (lo + lc) + 16;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, "true", 4);
    p += 4;
    for (int i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return s;
}

TEST(grammar_adversarial_schemas)
{
    hh_err_t e;
    char *s = deep_schema(200, false);
    ASSERT_TRUE(s != NULL);
    int rc = compile_rc(s, strlen(s), &e);
    free(s);
    ASSERT_EQ_INT(rc, HH_ERANGE);
    ASSERT_TRUE(strstr(e.msg, "nesting") != NULL);

    s = deep_schema(1000, true);   /* JSON depth 2000: the parser's limit or ours, cleanly */
    ASSERT_TRUE(s != NULL);
    rc = compile_rc(s, strlen(s), &e);
    free(s);
    ASSERT_TRUE(rc == HH_EFORMAT || rc == HH_ERANGE);
    ASSERT_TRUE(e.msg[0] != '\0');

    s = deep_schema(HH_GRAMMAR_MAX_DEPTH - 2, false);   /* just inside the limit: compiles */
    ASSERT_TRUE(s != NULL);
    rc = compile_rc(s, strlen(s), &e);
    free(s);
    ASSERT_EQ_INT(rc, 0);

    /* a 20000-value enum compiles into a trie and matches exactly its values */
    int n = 20000;
    size_t cap = (size_t)n * 16 + 64, len = 0;
    char *big = malloc(cap);
    ASSERT_TRUE(big != NULL);
    len += (size_t)snprintf(big + len, cap - len, "{\"enum\":[");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(big + len, cap - len, "%s\"v%d\"", i ? "," : "", i * 7);
    len += (size_t)snprintf(big + len, cap - len, "]}");
    hh_grammar_t *g = NULL;
    clock_t t0 = clock();
    rc = hh_grammar_from_json_schema(big, len, &g, &e);
    double ms = 1000.0 * (double)(clock() - t0) / CLOCKS_PER_SEC;
    free(big);
    ASSERT_EQ_INT(rc, 0);
    printf("  20000-value enum: %zu rules, compiled in %.1f ms\n", hh_grammar_n_rules(g), ms);
    ASSERT_EQ_INT(match(g, "\"v0\""), 1);
    ASSERT_EQ_INT(match(g, "\"v139993\""), 1);
    ASSERT_EQ_INT(match(g, "\"v7\""), 1);
    ASSERT_EQ_INT(match(g, "\"v8\""), -1);
    ASSERT_EQ_INT(match(g, "\"v13999\""), -1);   /* 13999 is no multiple of 7 */
    ASSERT_EQ_INT(match(g, "\"v1"), 0);     /* prefix of v14, v105, ... */
    ASSERT_EQ_INT(match(g, "\"v1\""), -1);  /* but not a value itself */
    hh_grammar_free(g);

    /* oversize text */
    ASSERT_EQ_INT(compile_rc("{}", (size_t)HH_GRAMMAR_MAX_SCHEMA_BYTES + 1, &e), HH_ERANGE);

    /* many maxLength strings: bounded grammar size, refused or compiled, never a crash */
    size_t cap2 = 4000 * 64, l2 = 0;
    char *many = malloc(cap2);
    ASSERT_TRUE(many != NULL);
    l2 += (size_t)snprintf(many + l2, cap2 - l2, "{\"properties\":{");
    for (int i = 0; i < 4000; i++)
        l2 += (size_t)snprintf(many + l2, cap2 - l2, "%s\"p%d\":{\"type\":\"string\",\"maxLength\":%d}", i ? "," : "",
                               i, 4096 - i);
    l2 += (size_t)snprintf(many + l2, cap2 - l2, "}}");
    rc = compile_rc(many, l2, &e);
    free(many);
    ASSERT_EQ_INT(rc, HH_ERANGE);
    ASSERT_TRUE(strstr(e.msg, "too large") != NULL);
}

/* ---- validator for the subset (independent of the compiler) ------------- */

static const cJSON *v_resolve(const cJSON *root, const char *ref)
{
    if (strcmp(ref, "#") == 0)
        return root;
    if (strncmp(ref, "#/$defs/", 8) == 0)
        return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "$defs"), ref + 8);
    if (strncmp(ref, "#/definitions/", 14) == 0)
        return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "definitions"), ref + 14);
    return NULL;
}

static size_t utf8_count(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((uint8_t)*s & 0xC0) != 0x80;
    return n;
}

static bool v_type(const char *t, const cJSON *v)
{
    if (!strcmp(t, "object")) return cJSON_IsObject(v);
    if (!strcmp(t, "array")) return cJSON_IsArray(v);
    if (!strcmp(t, "string")) return cJSON_IsString(v);
    if (!strcmp(t, "number")) return cJSON_IsNumber(v);
    if (!strcmp(t, "integer")) return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
    if (!strcmp(t, "boolean")) return cJSON_IsBool(v);
    if (!strcmp(t, "null")) return cJSON_IsNull(v);
    return false;
}

static bool validate(const cJSON *root, const cJSON *s, const cJSON *v, int depth)
{
    if (depth > 200 || !s)
        return false;
    if (cJSON_IsBool(s))
        return cJSON_IsTrue(s);
    const cJSON *k;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "$ref")))
        return validate(root, v_resolve(root, k->valuestring), v, depth + 1);
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "anyOf"))) {
        for (const cJSON *a = k->child; a; a = a->next)
            if (validate(root, a, v, depth + 1))
                return true;
        return false;
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "oneOf"))) {
        int hits = 0;
        for (const cJSON *a = k->child; a; a = a->next)
            hits += validate(root, a, v, depth + 1);
        return hits == 1;
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "enum"))) {
        bool found = false;
        for (const cJSON *a = k->child; a && !found; a = a->next)
            found = cJSON_Compare(a, v, true);
        if (!found)
            return false;
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "const")) && !cJSON_Compare(k, v, true))
        return false;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "type"))) {
        bool ok = false;
        if (cJSON_IsString(k))
            ok = v_type(k->valuestring, v);
        for (const cJSON *t = cJSON_IsArray(k) ? k->child : NULL; t && !ok; t = t->next)
            ok = v_type(t->valuestring, v);
        if (!ok)
            return false;
    }
    if (cJSON_IsObject(v)) {
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
        const cJSON *addl = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
        for (const cJSON *m = v->child; m; m = m->next) {
            const cJSON *ps = props ? cJSON_GetObjectItemCaseSensitive(props, m->string) : NULL;
            /* a listed name must not repeat (extra members may repeat each
             * other: a documented limit; each of them still validates) */
            for (const cJSON *o = v->child; o != m && ps; o = o->next)
                if (!strcmp(o->string, m->string))
                    return false;
            if (ps) {
                if (!validate(root, ps, m, depth + 1))
                    return false;
            } else if (addl && !validate(root, addl, m, depth + 1))
                return false;
        }
        const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
        for (const cJSON *r = req ? req->child : NULL; r; r = r->next)
            if (!cJSON_GetObjectItemCaseSensitive(v, r->valuestring))
                return false;
    }
    if (cJSON_IsArray(v)) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
        int n = cJSON_GetArraySize(v);
        if ((k = cJSON_GetObjectItemCaseSensitive(s, "minItems")) && n < k->valueint)
            return false;
        if ((k = cJSON_GetObjectItemCaseSensitive(s, "maxItems")) && n > k->valueint)
            return false;
        for (const cJSON *it = v->child; it && items; it = it->next)
            if (!validate(root, items, it, depth + 1))
                return false;
    }
    if (cJSON_IsString(v)) {
        size_t n = utf8_count(v->valuestring);
        if ((k = cJSON_GetObjectItemCaseSensitive(s, "minLength")) && n < (size_t)k->valueint)
            return false;
        if ((k = cJSON_GetObjectItemCaseSensitive(s, "maxLength")) && n > (size_t)k->valueint)
            return false;
    }
    return true;
}

/* Strict UTF-8 check (no overlongs, surrogates, or values above U+10FFFF). */
static bool utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n)
            return false;
        uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1Fu : len == 3 ? c & 0x0Fu : c & 0x07u;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3Fu);
        }
        static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* ---- generation with a real vocabulary ---------------------------------- */

static hh_vocab_t *load_vocab(const char *rel)
{
    hh_gguf_params_t p = hh_gguf_default_params();
    p.no_data = true;
    hh_gguf_t *g = NULL;
    hh_err_t err;
    if (hh_gguf_open(&g, hh_test_data_path(rel), &p, &err)) {
        fprintf(stderr, "  open %s: %s\n", rel, err.msg);
        return NULL;
    }
    hh_vocab_t *v = NULL;
    if (hh_vocab_load(&v, g, &err))
        fprintf(stderr, "  vocab %s: %s\n", rel, err.msg);
    hh_gguf_close(g);
    return v;
}

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static int32_t argmax(const float *l, int32_t n)
{
    int32_t best = -1;
    for (int32_t i = 0; i < n; i++)
        if (l[i] > -INFINITY && (best < 0 || l[i] > l[best]))
            best = i;
    return best;
}

static const char *const GEN_SCHEMAS[] = {
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":20},\"age\":{\"type\":\"integer\"},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"enum\":[\"a\",\"bb\",\"ccc\"]},\"maxItems\":3},"
    "\"email\":{\"type\":[\"string\",\"null\"]}},\"required\":[\"name\",\"age\"],\"additionalProperties\":false}",
    NULL,
    "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"number\"},\"kids\":{\"type\":\"array\","
    "\"items\":{\"$ref\":\"#/$defs/node\"},\"maxItems\":2}},\"required\":[\"v\"]}},\"$ref\":\"#/$defs/node\"}",
    "{\"anyOf\":[{\"const\":{\"k\":[1,2]}},{\"type\":\"boolean\"},{\"type\":\"array\",\"items\":{\"type\":\"number\"},"
    "\"minItems\":2,\"maxItems\":4}]}",
    "{\"type\":\"object\",\"properties\":{\"name\":{\"const\":\"get_weather\"},\"arguments\":{\"type\":\"object\","
    "\"properties\":{\"city\":{\"type\":\"string\",\"minLength\":1},\"unit\":{\"enum\":[\"c\",\"f\"]}},"
    "\"required\":[\"city\"]}},\"required\":[\"name\",\"arguments\"]}",
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},\"i\":{\"type\":\"null\"}},\"required\":[\"id\"],"
    "\"additionalProperties\":{\"type\":\"string\",\"maxLength\":8}}",
};

/* Generates seeds × one output per schema from random logits and checks
 * each. full_mask_seeds: for that many seeds, every step also runs the full
 * mask and checks it against the per-token check. Returns false on failure
 * (already reported). */
static bool generate_and_check(const char *vocab_rel, int n_seeds, int full_mask_seeds)
{
    hh_vocab_t *v = load_vocab(vocab_rel);
    if (!v) {
        hh_test_fail(__FILE__, __LINE__, "cannot load %s", vocab_rel);
        return false;
    }
    hh_grammar_vocab_t *gv = NULL;
    hh_err_t err;
    bool ok = false;
    int32_t n = hh_vocab_n_tokens(v);
    float *logits = malloc((size_t)n * sizeof *logits), *masked = malloc((size_t)n * sizeof *masked);
    uint8_t *mask = malloc((size_t)n);
    char *text = malloc(65536);
    int32_t closers[8];
    int n_closers = 0;
    if (!logits || !masked || !mask || !text || hh_grammar_vocab_create(v, &gv, &err)) {
        hh_test_fail(__FILE__, __LINE__, "setup failed");
        goto done;
    }
    if (hh_grammar_vocab_n_tokens(gv) != n) {
        hh_test_fail(__FILE__, __LINE__, "grammar vocab has %d tokens, expected %d", hh_grammar_vocab_n_tokens(gv), n);
        goto done;
    }
    /* closing tokens get a boost late in a run so that outputs end */
    static const char *const close_txt[] = { "\"", "}", "]", "0", "," };
    for (size_t i = 0; i < sizeof close_txt / sizeof *close_txt; i++) {
        for (int32_t t = 0; t < n; t++) {
            char piece[16];
            int len = hh_token_to_piece(v, t, false, piece, sizeof piece);
            if (len == 1 && piece[0] == close_txt[i][0]) {
                closers[n_closers++] = t;
                break;
            }
        }
    }
    int total_tokens = 0, total_runs = 0, masked_steps = 0;
    for (size_t si = 0; si < sizeof GEN_SCHEMAS / sizeof *GEN_SCHEMAS; si++) {
        const char *sch = GEN_SCHEMAS[si];
        hh_grammar_t *g = compile(sch);
        cJSON *schema_doc = sch ? cJSON_Parse(sch) : cJSON_Parse("{\"type\":\"object\"}");
        if (!g || !schema_doc) {
            hh_test_fail(__FILE__, __LINE__, "schema %zu did not compile", si);
            hh_grammar_free(g);
            cJSON_Delete(schema_doc);
            goto done;
        }
        for (int seed = 0; seed < n_seeds; seed++) {
            hh_grammar_state_t *st = NULL;
            if (hh_grammar_state_create(g, gv, &st, &err)) {
                hh_test_fail(__FILE__, __LINE__, "state: %s", err.msg);
                goto fail_schema;
            }
            uint64_t rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(seed + 1) * 0x100000001B3ull) ^ si;
            size_t len = 0;
            bool ended = false;
            for (int step = 0; step < 400 && !ended; step++) {
                for (int32_t t = 0; t < n; t++)
                    logits[t] = (float)(rng_next(&rng) >> 40) * (1.0f / 16777216.0f) * 10.0f;
                if (step >= 25)
                    for (int i = 0; i < n_closers; i++)
                        logits[closers[i]] += 20.0f;
                bool full = seed < full_mask_seeds;
                int32_t tok = argmax(logits, n);
                bool cheap_ok = hh_grammar_token_allowed(st, tok);
                if (full || !cheap_ok) {
                    memcpy(masked, logits, (size_t)n * sizeof *masked);
                    int cnt = hh_grammar_apply(st, masked, n);
                    masked_steps++;
                    if (cnt <= 0) {
                        hh_test_fail(__FILE__, __LINE__, "schema %zu seed %d step %d: apply gave %d", si, seed, step,
                                     cnt);
                        hh_grammar_state_free(st);
                        goto fail_schema;
                    }
                    bool complete = hh_grammar_complete(st);
                    for (int32_t t = 0; t < n; t++)
                        if (hh_vocab_is_eog(v, t) && (masked[t] > -INFINITY) != complete) {
                            hh_test_fail(__FILE__, __LINE__, "EOG %d allowed=%d but complete=%d", t,
                                         masked[t] > -INFINITY, complete);
                            hh_grammar_state_free(st);
                            goto fail_schema;
                        }
                    if (full) {   /* mask and per-token check agree, on the pick and on sampled tokens */
                        for (int k = 0; k < 64; k++) {
                            int32_t t = k == 0 ? tok : (int32_t)(rng_next(&rng) % (uint64_t)n);
                            bool by_token = hh_grammar_token_allowed(st, t);
                            if ((masked[t] > -INFINITY) != by_token) {
                                hh_test_fail(__FILE__, __LINE__, "token %d: mask %d, token_allowed %d", t,
                                             masked[t] > -INFINITY, by_token);
                                hh_grammar_state_free(st);
                                goto fail_schema;
                            }
                        }
                    }
                    tok = argmax(masked, n);
                }
                if (hh_grammar_accept(st, tok) != 0) {
                    hh_test_fail(__FILE__, __LINE__, "schema %zu seed %d: token %d allowed but not accepted", si,
                                 seed, tok);
                    hh_grammar_state_free(st);
                    goto fail_schema;
                }
                total_tokens++;
                if (hh_vocab_is_eog(v, tok)) {
                    ended = true;
                    break;
                }
                char piece[1100];
                int pl = hh_token_to_piece(v, tok, false, piece, sizeof piece);
                if (pl > 0 && len + (size_t)pl < 65535) {
                    memcpy(text + len, piece, (size_t)pl);
                    len += (size_t)pl;
                }
                if (hh_grammar_finished(st))
                    ended = true;
            }
            text[len] = '\0';
            hh_grammar_state_free(st);
            if (!ended) {
                hh_test_fail(__FILE__, __LINE__, "schema %zu seed %d: no end within 400 tokens: %.300s", si, seed,
                             text);
                goto fail_schema;
            }
            cJSON *out = cJSON_ParseWithLength(text, len);
            bool valid = out && utf8_valid((const uint8_t *)text, len) && validate(schema_doc, schema_doc, out, 0);
            cJSON_Delete(out);
            if (!valid) {
                hh_test_fail(__FILE__, __LINE__, "schema %zu seed %d: output (%zu bytes) does not validate: %.2000s", si,
                             seed, len, text);
                goto fail_schema;
            }
            if (seed < 2)
                printf("  %s schema %zu seed %d: %.160s\n", vocab_rel, si, seed, text);
            total_runs++;
        }
        hh_grammar_free(g);
        cJSON_Delete(schema_doc);
        continue;
fail_schema:
        hh_grammar_free(g);
        cJSON_Delete(schema_doc);
        goto done;
    }
    printf("  %s: %d outputs valid, %d tokens, %d full masks\n", vocab_rel, total_runs, total_tokens, masked_steps);
    ok = true;
done:
    hh_grammar_vocab_free(gv);
    hh_vocab_free(v);
    free(logits);
    free(masked);
    free(mask);
    free(text);
    return ok;
}

TEST(grammar_generate_gpt2_random_logits)
{
    ASSERT_TRUE(generate_and_check("vocab/ggml-vocab-gpt-2.gguf", 50, 3));
}

TEST(grammar_generate_llama_spm_random_logits)
{
    ASSERT_TRUE(generate_and_check("vocab/ggml-vocab-llama-spm.gguf", 20, 2));
}

/* Measures (prints, does not assert) a full mask on gpt-2's 50k vocabulary
 * in three states: start, inside a string (most tokens allowed, the worst
 * case), after an object key. */
TEST(grammar_mask_cost_gpt2)
{
    hh_vocab_t *v = load_vocab("vocab/ggml-vocab-gpt-2.gguf");
    ASSERT_TRUE(v != NULL);
    hh_grammar_vocab_t *gv = NULL;
    clock_t t0 = clock();
    ASSERT_OK(hh_grammar_vocab_create(v, &gv, NULL));
    double build_ms = 1000.0 * (double)(clock() - t0) / CLOCKS_PER_SEC;
    hh_grammar_t *g = compile(GEN_SCHEMAS[0]);
    ASSERT_TRUE(g != NULL);
    int32_t n = hh_vocab_n_tokens(v);
    float *l = malloc((size_t)n * sizeof *l);
    ASSERT_TRUE(l != NULL);
    static const char *const prefixes[] = { "", "{\"name\":\"Al", "{\"name\":\"A\",\"age\":" };
    printf("  gpt-2 vocab (%d tokens): trie built in %.1f ms\n", n, build_ms);
    for (int k = 0; k < 3; k++) {
        hh_grammar_state_t *s = NULL;
        ASSERT_OK(hh_grammar_state_create(g, gv, &s, NULL));
        ASSERT_OK(hh_grammar_accept_bytes(s, prefixes[k], strlen(prefixes[k])));
        int reps = 20, cnt = 0;
        t0 = clock();
        for (int r = 0; r < reps; r++) {
            for (int32_t t = 0; t < n; t++)
                l[t] = 0.0f;
            cnt = hh_grammar_apply(s, l, n);
        }
        double ms = 1000.0 * (double)(clock() - t0) / CLOCKS_PER_SEC / reps;
        t0 = clock();
        int allowed = 0;
        for (int32_t t = 0; t < n; t++)
            allowed += hh_grammar_token_allowed(s, t);
        double us = 1e6 * (double)(clock() - t0) / CLOCKS_PER_SEC / n;
        printf("  after '%s': apply %.2f ms/token (%d allowed), token_allowed %.2f us/token\n", prefixes[k], ms, cnt,
               us);
        hh_grammar_state_free(s);
        ASSERT_EQ_INT(allowed, cnt);
        ASSERT_TRUE(cnt > 0);
    }
    free(l);
    hh_grammar_free(g);
    hh_grammar_vocab_free(gv);
    hh_vocab_free(v);
}
