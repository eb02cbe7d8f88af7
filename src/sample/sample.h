/* sample.h - token samplers: penalties, greedy, temperature, top-k, top-p,
 * min-p, a seeded private PRNG, and logprobs.
 *
 * Pipeline for one token (hh_sampler_sample):
 *   1. penalties on the raw logits, over the last repeat_last_n accepted
 *      tokens: repetition (llama.cpp style: a positive logit is divided by
 *      repeat_penalty, a negative one multiplied, once per distinct token),
 *      then frequency/presence (OpenAI style: logit -= count * frequency +
 *      (count > 0) * presence);
 *   2. temperature <= 0 (or top_k == 1): greedy argmax, lowest id on ties;
 *   3. otherwise top-k -> softmax of logit / temperature over the top-k set
 *      -> top-p (smallest highest-probability prefix with mass >= top_p) ->
 *      min-p (drop tokens with p < min_p * p_max) -> one draw from the
 *      renormalized survivors with the sampler's own xoshiro256** generator.
 * Ties between equal logits are always broken towards the lower id, so the
 * result depends only on the logits, the history and the seed.
 *
 * Logprobs are reported for the model's own distribution: log-softmax of
 * the raw logits at temperature 1, before penalties and truncation (what
 * OpenAI's API reports, and what a confidence estimate needs). So the
 * chosen token's logprob does not depend on the sampling settings.
 *
 * Cost per token is O(n_vocab) (one copy when penalties are active, one
 * selection pass for top-k, one exp pass) plus sorting only the candidates
 * that top-p actually needs; no full sort of a 150k vocabulary.
 *
 * A sampler is used by one thread at a time; it holds no global state. */
#ifndef HH_SAMPLE_SAMPLE_H
#define HH_SAMPLE_SAMPLE_H

#include <stdint.h>

#define HH_LOGPROBS_MAX 20
/* seed value that asks for a random seed (from getrandom, else the clock). */
#define HH_SEED_RANDOM UINT64_MAX

typedef struct hh_sampler_params {
    float    temperature;        /* <= 0: greedy. default 0.8 */
    int32_t  top_k;              /* <= 0 or >= n_vocab: off. default 40 */
    float    top_p;              /* >= 1: off. default 0.95 */
    float    min_p;              /* <= 0: off. default 0.05 */
    float    repeat_penalty;     /* 1: off. default 1.0 */
    int32_t  repeat_last_n;      /* window for all penalties; 0: off, -1: all accepted tokens. default 64 */
    float    frequency_penalty;  /* default 0 */
    float    presence_penalty;   /* default 0 */
    uint64_t seed;               /* HH_SEED_RANDOM (default): random, see hh_sampler_seed() */
    int32_t  n_probs;            /* top alternatives reported in hh_logprobs_t, 0..HH_LOGPROBS_MAX. default 0 */
} hh_sampler_params_t;

/* The chosen token's logprob and the n_top most likely alternatives (sorted
 * by logprob, descending; ties by lower id), all from the raw distribution. */
typedef struct hh_logprobs {
    int32_t token;
    float   logprob;
    int     n_top;
    int32_t top_ids[HH_LOGPROBS_MAX];
    float   top_logprobs[HH_LOGPROBS_MAX];
} hh_logprobs_t;

typedef struct hh_sampler hh_sampler_t;

hh_sampler_params_t hh_sampler_default_params(void);

/* Creates a sampler. Parameters are checked (HH_EINVAL for a non-finite
 * temperature or penalty, repeat_penalty <= 0, top_p/min_p outside [0, 1],
 * repeat_last_n < -1, n_probs outside [0, HH_LOGPROBS_MAX]); a negative
 * temperature means greedy, like 0. params NULL = defaults. Caller
 * owns *out; free with hh_sampler_free. */
int  hh_sampler_create(hh_sampler_t **out, const hh_sampler_params_t *params);
void hh_sampler_free(hh_sampler_t *s);

/* The parameters in use; seed is the actual seed (the drawn one when
 * HH_SEED_RANDOM was asked for), so a run can be reported and repeated. */
const hh_sampler_params_t *hh_sampler_params(const hh_sampler_t *s);
uint64_t hh_sampler_seed(const hh_sampler_t *s);

/* Picks the next token from logits[0..n_vocab). Does not modify logits and
 * does not record the token (call hh_sampler_accept). If lp is not NULL it
 * receives the chosen token's logprob and params.n_probs alternatives.
 * Returns the token id (>= 0), HH_EINVAL for n_vocab <= 0 or logits that
 * are all NaN / -inf, HH_ENOMEM. */
int32_t hh_sampler_sample(hh_sampler_t *s, const float *logits, int32_t n_vocab, hh_logprobs_t *lp);

/* Records a token in the penalty history (prompt tokens too, if they should
 * count). Returns 0 or HH_ENOMEM. */
int  hh_sampler_accept(hh_sampler_t *s, int32_t token);

/* Clears the history and restarts the generator from the seed, so the same
 * calls produce the same tokens again. */
void hh_sampler_reset(hh_sampler_t *s);

/* Applies the penalties of step 1 to logits[0..n_vocab) in place (history
 * tokens outside the vocabulary are ignored). For callers that want the
 * penalized logits themselves, and for tests. Returns 0, HH_EINVAL, HH_ENOMEM. */
int  hh_sampler_apply_penalties(const hh_sampler_t *s, float *logits, int32_t n_vocab);

/* Runs steps 1-3 without drawing: writes up to cap surviving candidates
 * (ids and renormalized probabilities, highest first when top_p < 1,
 * otherwise in unspecified order) and returns how many survive (may exceed
 * cap), or a negative code as hh_sampler_sample. Greedy gives one candidate
 * with probability 1. */
int32_t hh_sampler_candidates(hh_sampler_t *s, const float *logits, int32_t n_vocab,
                              int32_t *ids, float *probs, int32_t cap);

/* Log-softmax of raw logits (NaN counts as -inf): fills lp with token's
 * logprob and the n_probs (0..HH_LOGPROBS_MAX) most likely tokens. Returns 0,
 * or HH_EINVAL for a bad n_vocab, token, n_probs, or no finite logit. */
int  hh_sampler_logprobs(const float *logits, int32_t n_vocab, int32_t token, int n_probs, hh_logprobs_t *lp);

#endif
