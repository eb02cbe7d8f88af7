/* refcheck.h - `hoheit logits --check REF.tokens.json`: runs a reference
 * set's input ids (../shared/testdata/reference, README "MoE routing and
 * how to compare") through the engine and compares the logits with
 * llama.cpp's (tier B, logits.f32) or, exact, with the dequantized-weight
 * run (tier A, logits_deq.f32), the way tests/test_model.c does. */
#ifndef HH_CLI_REFCHECK_H
#define HH_CLI_REFCHECK_H

#include "model/model.h"

#include <stdbool.h>

typedef struct hh_refcheck_opts {
    const char  *json_path;    /* <name>.tokens.json */
    const char  *model_path;   /* NULL: the JSON's "model", next to the JSON */
    int          threads;      /* 0 = number of cores */
    bool         exact;        /* tier A: F32 math on the dequantized weights */
    hh_kv_type_t kv;
} hh_refcheck_opts_t;

/* Runs the check and prints, per compared row range, max abs and rel L2
 * against the tolerance, the free greedy ids matched, the teacher-forced
 * greedy rows, and the rows left out because llama.cpp rerouted experts
 * (or an F16 KV cache may). Returns the exit status: 0 within tolerance,
 * 1 outside it or on an error (printed on stderr). */
int hh_refcheck_run(const hh_refcheck_opts_t *o);

#endif
