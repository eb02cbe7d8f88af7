/* fuzz_grammar.c - libFuzzer target for the JSON Schema compiler and the
 * byte matcher. Input: schema text, a NUL byte, then text to match (no NUL:
 * the whole input is the schema, matched against nothing). Checks, beyond
 * what ASan/UBSan catch:
 *   - compile either succeeds with a grammar or fails with a message;
 *   - accepting the text byte by byte and in one piece agree (same verdict,
 *     same completion);
 *   - a rejected byte leaves the state unchanged (the next byte is judged
 *     as if the rejected one had never been offered). */
#include "sample/grammar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t slen = nul ? (size_t)(nul - data) : size;
    const char *text = nul ? (const char *)nul + 1 : "";
    size_t tlen = nul ? size - slen - 1 : 0;

    hh_grammar_t *g = NULL;
    hh_err_t err;
    int rc = hh_grammar_from_json_schema((const char *)data, slen, &g, &err);
    if (rc != 0) {
        if (g != NULL || err.msg[0] == '\0')
            abort();   /* failure must come with a message and no grammar */
        return 0;
    }
    if (g == NULL)
        abort();
    hh_grammar_state_t *a = NULL, *b = NULL;
    if (hh_grammar_state_create(g, NULL, &a, NULL) || hh_grammar_state_create(g, NULL, &b, NULL))
        abort();
    bool ok_bytes = true;
    for (size_t i = 0; i < tlen && ok_bytes; i++)
        ok_bytes = hh_grammar_accept_bytes(a, text + i, 1) == 0;
    bool ok_whole = hh_grammar_accept_bytes(b, text, tlen) == 0;
    if (ok_bytes != ok_whole)
        abort();
    if (ok_whole && hh_grammar_complete(a) != hh_grammar_complete(b))
        abort();
    /* rejected bytes must not change the state: offer 0xFF (never valid
     * JSON text) then check completion is as before */
    bool before = hh_grammar_complete(b);
    if (hh_grammar_accept_bytes(b, "\xff", 1) == 0 || hh_grammar_complete(b) != before)
        abort();
    hh_grammar_state_free(a);
    hh_grammar_state_free(b);
    hh_grammar_free(g);
    return 0;
}
