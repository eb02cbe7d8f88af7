/* analyze.c - index and query terms: stemming, German compounds,
 * synonyms, translations. See analyze.h.
 *
 * The lexical resources live in string tables (kb/lexmap.h: open
 * addressing over one byte arena each) filled once; after loading nothing
 * is written, so lookups need no lock. Snowball stemmers keep state per call, so each
 * analysis makes its own pair (cheap: a few small allocations). */
#include "kb/analyze.h"
#include "kb/lexmap.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "kb/retrieve.h"

#include <libstemmer.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utf8proc.h>

#define WORD_MAX      64    /* bytes of a word analyzed; longer ones are kept whole, unstemmed */
#define MIN_HEAD      4     /* compound parts: bytes of a head */
#define MIN_TAIL      3
#define SPLIT_DEPTH   4
#define MAX_PARTS     8
#define SYN_SET_MAX   12    /* members of a synonym set expanded to */
#define SYN_LINE_MAX  64    /* members of a synonym set looked up */
#define TRANS_SENSES  4     /* senses of a dictionary line used */
#define TRANS_ALTS    4     /* alternatives of a sense used */
#define PER_KEY_MAX   8     /* values kept per key */

#define SCORE_BASE    1024u   /* scores are offset so that repeats can lower them */
#define REPEAT_BONUS  4u      /* a value listed again for the same key ranks this much better */
#define SYN_REPEAT_BONUS 4096u   /* thesaurus: a synonym in several of a word's sets is its common sense */
/* Thesaurus scores by the key's mark in the set: colloquial (its standard
 * words, what a document says), then the word's main sense ("Hauptform"),
 * then the rest; a synonym reached from a colloquial key scores below
 * SYN_UGS_LIMIT whatever its repeats (the other bases lie far enough above
 * it that 64 repeats do not cross it). */
#define SYN_BASE_UGS   0u
#define SYN_BASE_MAIN  (1u << 20)
#define SYN_BASE_OTHER (1u << 21)
#define SYN_UGS_LIMIT  (1u << 19)

/* ---- the analyzer ------------------------------------------------------------ */

enum { WF_WORD = 1, WF_NOUN = 2, WF_LOWER = 4 };   /* listed; capitalized; listed lowercase */

struct hh_analyzer {
    char           *p_compounds, *p_thesaurus, *p_translations;   /* NULL = off */
    hh_strtab_t        words;      /* German word list, lowercased -> WF_* */
    hh_lexmap_t        syn;        /* German stem -> synonym stems */
    hh_lexmap_t        de_en;      /* German stem -> English words */
    hh_lexmap_t        en_de;      /* English stem -> German words */
    hh_lexmap_t        en_de_w;    /* English word -> German words (looked up first) */
    pthread_mutex_t mu;         /* guards the one-time loads */
    bool            words_ok;       /* the word list is readable: level 3 */
    atomic_bool     words_loaded;   /* tried (at the first analysis) */
    atomic_bool     query_loaded;   /* thesaurus and dictionary tried (at the first question) */
    double          compounds_ms, query_ms;
};

hh_analyzer_params_t hh_analyzer_default_params(void)
{
    return (hh_analyzer_params_t){
        .compounds = "/usr/share/dict/ngerman",
        .thesaurus = "/usr/share/openthesaurus-de/openthesaurus.txt",
        .translations = "/usr/share/trans/de-en",
    };
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* The stemmer pair of one analysis. */
typedef struct stemmers {
    struct sb_stemmer *de, *en;
} stemmers_t;

static int stemmers_open(stemmers_t *s)
{
    s->de = sb_stemmer_new("german", "UTF_8");
    s->en = sb_stemmer_new("english", "UTF_8");
    if (!s->de || !s->en) {
        sb_stemmer_delete(s->de);
        sb_stemmer_delete(s->en);
        s->de = s->en = NULL;
        return HH_ENOMEM;
    }
    return 0;
}

static void stemmers_close(stemmers_t *s)
{
    sb_stemmer_delete(s->de);
    sb_stemmer_delete(s->en);
}

/* The stem of w[0..n) (lowercase) into out (cap >= WORD_MAX + 1); its length. */
static size_t stem(struct sb_stemmer *st, const char *w, size_t n, char *out)
{
    const sb_symbol *r = n <= WORD_MAX ? sb_stemmer_stem(st, (const sb_symbol *)w, (int)n) : NULL;
    int rl = r ? sb_stemmer_length(st) : -1;
    if (!r || rl <= 0 || rl > WORD_MAX) {   /* too long or out of memory: the word itself */
        size_t k = n > WORD_MAX ? WORD_MAX : n;
        while (k > 0 && k < n && ((unsigned char)w[k] & 0xC0) == 0x80)
            k--;
        memcpy(out, w, k);
        out[k] = '\0';
        return k;
    }
    memcpy(out, r, (size_t)rl);
    out[rl] = '\0';
    return (size_t)rl;
}

/* w[0..n) lowercased into out (cap bytes); the length, 0 when it does not
 * fit or holds a non-word character. */
static size_t lower_word(const char *w, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)w + i, (utf8proc_ssize_t)(n - i), &cp);
        if (r <= 0)
            return 0;
        i += (size_t)r;
        cp = utf8proc_tolower(cp);
        utf8proc_uint8_t buf[4];
        utf8proc_ssize_t e = utf8proc_encode_char(cp, buf);
        if (e <= 0 || o + (size_t)e >= cap)
            return 0;
        memcpy(out + o, buf, (size_t)e);
        o += (size_t)e;
    }
    out[o] = '\0';
    return o;
}

/* Whether s[0..n) is one word (hh_kb_word_next finds exactly it). */
static bool one_word(const char *s, size_t n)
{
    size_t pos = 0, st, wl;
    return n > 0 && hh_kb_word_next(s, n, &pos, &st, &wl) && st == 0 && wl == n;
}

/* Reads a whole file; NULL when it cannot. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 65536) {
            size_t nc = cap ? cap * 2 : 1 << 20;
            char *nb = realloc(buf, nc + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int load_words(hh_analyzer_t *a)
{
    size_t len;
    char *buf = read_file(a->p_compounds, &len);
    if (!buf) {
        HH_LOGW("analyze: no German word list at %s: compound splitting is off", a->p_compounds);
        return 0;
    }
    int rc = 0;
    char low[WORD_MAX + 1];
    for (char *line = buf, *end; line < buf + len && !rc; line = end + 1) {
        end = memchr(line, '\n', (size_t)(buf + len - line));
        if (!end)
            end = buf + len;
        size_t n = (size_t)(end - line);
        if (n && line[n - 1] == '\r')
            n--;
        size_t ln = lower_word(line, n, low, sizeof low);
        if (ln < 3 || !one_word(low, ln))
            continue;
        uint32_t *v;
        if ((rc = hh_strtab_put(&a->words, low, ln, 0, &v, NULL)))
            break;
        *v |= WF_WORD | (ln != n || memcmp(low, line, n) ? WF_NOUN : WF_LOWER);
    }
    free(buf);
    if (rc) {
        hh_strtab_free(&a->words);
        HH_LOGW("analyze: out of memory loading %s: compound splitting is off", a->p_compounds);
    }
    return 0;
}

static bool is_stop(const char *w, size_t len);

/* Strips "{..}", "[..]", "(..)" and "<..>" notes and surrounding blanks from
 * s[0..n) into out (cap); English "to " before a verb too when en. */
static size_t clean_entry(const char *s, size_t n, bool en, char *out, size_t cap)
{
    size_t o = 0;
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '{' || c == '[' || c == '(' || c == '<')
            depth++;
        else if ((c == '}' || c == ']' || c == ')' || c == '>') && depth > 0)
            depth--;
        else if (!depth) {
            if (o + 1 >= cap)
                return 0;
            out[o++] = c;
        }
    }
    size_t b = 0;
    while (b < o && (out[b] == ' ' || out[b] == '\t'))
        b++;
    while (o > b && (out[o - 1] == ' ' || out[o - 1] == '\t'))
        o--;
    if (en && o - b > 3 && !memcmp(out + b, "to ", 3))
        b += 3;
    memmove(out, out + b, o - b);
    out[o - b] = '\0';
    return o - b;
}

/* One alternative as a lowercase single word into low; its length or 0. */
static size_t entry_word(const char *s, size_t n, bool en, char *low)
{
    char tmp[4 * WORD_MAX];
    size_t cn = clean_entry(s, n, en, tmp, sizeof tmp);
    if (!cn || cn > WORD_MAX || !one_word(tmp, cn))
        return 0;
    size_t ln = lower_word(tmp, cn, low, WORD_MAX + 1);
    return ln >= 2 ? ln : 0;
}

/* Whether a thesaurus entry (notes such as "(sich)" skipped) starts with a
 * capital letter: German nouns do, verbs and adjectives do not. */
static bool entry_is_noun(const char *s, size_t n)
{
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '(' || c == '[' || c == '{' || c == '<')
            depth++;
        else if ((c == ')' || c == ']' || c == '}' || c == '>') && depth > 0)
            depth--;
        else if (!depth && c != ' ' && c != '\t') {
            utf8proc_int32_t cp;
            if (utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp) <= 0)
                return false;
            return utf8proc_isupper(cp);
        }
    }
    return false;
}

/* The thesaurus key of a stem: nouns and other words apart, so that the
 * verb "zahlen" (stem zahl) does not get the synonyms of the noun "Zahl".
 * Into out (cap >= WORD_MAX + 2); its length. */
static size_t syn_key(const char *stem_, size_t n, bool noun, char *out)
{
    out[0] = noun ? 'N' : 'W';
    memcpy(out + 1, stem_, n);
    out[n + 1] = '\0';
    return n + 1;
}

/* A thesaurus line is a synonym set: "a;b (ugs.);(sich) c;...". Every
 * single-word member (up to SYN_LINE_MAX) is a key; its values are the
 * first SYN_SET_MAX members that are neither marked (colloquial, vulgar,
 * dated, ...) nor function words, so that a member far down a long line
 * ("kriegen (ugs.)" after a dozen others) still reaches the set's plain
 * words. A key that is itself marked colloquial in a set ranks that set
 * first: a question is written the way people speak, so "kriegen" there
 * is "bekommen" rather than "Krieg". Otherwise smaller sets (narrower
 * senses) come first. */
static int load_thesaurus(hh_analyzer_t *a, stemmers_t *sm)
{
    size_t len;
    char *buf = read_file(a->p_thesaurus, &len);
    if (!buf) {
        HH_LOGW("analyze: no thesaurus at %s: synonym expansion is off", a->p_thesaurus);
        return 0;
    }
    int rc = 0;
    char low[WORD_MAX + 1], stems[SYN_LINE_MAX][WORD_MAX + 1];
    size_t sl[SYN_LINE_MAX];
    bool marked[SYN_LINE_MAX];   /* colloquial, vulgar or dated: found from, never expanded to */
    bool target[SYN_LINE_MAX];   /* expanded to */
    bool ugs[SYN_LINE_MAX];      /* marked colloquial */
    bool main_[SYN_LINE_MAX];    /* marked as the word's main form in this sense ("Hauptform") */
    bool noun[SYN_LINE_MAX];     /* capitalized: a noun */
    char key[WORD_MAX + 2];
    uint32_t *uc = NULL;   /* per key id: sets marking it colloquial << 16 | sets not */
    size_t n_uc = 0;
    for (char *line = buf, *end; line < buf + len && !rc; line = end + 1) {
        end = memchr(line, '\n', (size_t)(buf + len - line));
        if (!end)
            end = buf + len;
        if (line[0] == '#')
            continue;
        size_t m = 0, n_target = 0;
        for (char *p = line, *q; p < end && m < SYN_LINE_MAX; p = q + 1) {
            q = memchr(p, ';', (size_t)(end - p));
            if (!q)
                q = end;
            size_t ln = entry_word(p, (size_t)(q - p), false, low);
            if (!ln)
                continue;
            size_t rn = (size_t)(q - p);
            noun[m] = entry_is_noun(p, rn);
            ugs[m] = memmem(p, rn, "(ugs.", 5) || memmem(p, rn, " ugs.", 5);
            main_[m] = memmem(p, rn, "Hauptform", 9) != NULL;
            marked[m] = ugs[m] || memmem(p, rn, "(derb", 5) || memmem(p, rn, "(vulg", 5) ||
                        memmem(p, rn, "(veraltet", 9) || memmem(p, rn, "(abwertend", 10) ||
                        memmem(p, rn, "(scherzh", 8);
            size_t k = stem(sm->de, low, ln, stems[m]);
            bool dup = false;
            for (size_t j = 0; j < m && !dup; j++)
                dup = sl[j] == k && !memcmp(stems[j], stems[m], k);
            if (dup || k < 2)
                continue;
            sl[m] = k;
            target[m] = !marked[m] && k >= 3 && !is_stop(low, ln) && n_target < SYN_SET_MAX;
            n_target += target[m];
            m++;
        }
        for (size_t i = 0; i < m && !rc; i++) {
            uint32_t base = (ugs[i] ? SYN_BASE_UGS : main_[i] ? SYN_BASE_MAIN : SYN_BASE_OTHER) + (uint32_t)(m * 64);
            size_t kl = syn_key(stems[i], sl[i], noun[i], key);
            /* how often the word is marked colloquial, how often not */
            uint32_t *kid;
            if ((rc = hh_strtab_put(&a->syn.keys, key, kl, (uint32_t)a->syn.keys.n, &kid, NULL)))
                break;
            if (*kid >= n_uc) {
                size_t nn = n_uc ? n_uc * 2 : 65536;
                while (nn <= *kid)
                    nn *= 2;
                uint32_t *nu = realloc(uc, nn * sizeof *nu);
                if (!nu) {
                    rc = HH_ENOMEM;
                    break;
                }
                memset(nu + n_uc, 0, (nn - n_uc) * sizeof *nu);
                uc = nu;
                n_uc = nn;
            }
            uc[*kid] += ugs[i] ? 0x10000u : 1u;
            for (size_t j = 0; j < m && !rc; j++)
                if (i != j && target[j])
                    rc = hh_lexmap_add(&a->syn, key, kl, stems[j], sl[j], base + (uint32_t)j);
        }
    }
    free(buf);
    /* a word marked colloquial in no more of its sets than it is plain in
     * ("gut", "Chef", "laufen") is a standard word with a colloquial
     * sense: its sets rank as any other's */
    for (size_t i = 0; i < a->syn.n_pairs && !rc; i++) {
        uint32_t k = a->syn.pairs[i].key, c = k < n_uc ? uc[k] : 0;
        if (a->syn.pairs[i].score < SYN_UGS_LIMIT && (c >> 16) <= (c & 0xffffu))
            a->syn.pairs[i].score += SYN_BASE_OTHER;
    }
    free(uc);
    if (!rc)
        rc = hh_lexmap_finish(&a->syn, SYN_REPEAT_BONUS, PER_KEY_MAX);
    if (rc) {
        hh_lexmap_free(&a->syn);
        HH_LOGW("analyze: out of memory loading %s: synonym expansion is off", a->p_thesaurus);
    }
    return 0;
}

/* The alternatives of one sense: up to TRANS_ALTS lowercase single words. */
static size_t sense_words(const char *s, const char *e, bool en, char (*w)[WORD_MAX + 1], size_t *wl)
{
    size_t n = 0;
    for (const char *p = s, *q; p < e && n < TRANS_ALTS; p = q + 1) {
        q = memchr(p, ';', (size_t)(e - p));
        if (!q)
            q = e;
        size_t ln = entry_word(p, (size_t)(q - p), en, w[n]);
        if (ln)
            wl[n++] = ln;
    }
    return n;
}

static int load_translations(hh_analyzer_t *a, stemmers_t *sm)
{
    size_t len;
    char *buf = read_file(a->p_translations, &len);
    if (!buf) {
        HH_LOGW("analyze: no German-English dictionary at %s: cross-lingual search is off", a->p_translations);
        return 0;
    }
    int rc = 0;
    char dw[TRANS_ALTS][WORD_MAX + 1], ew[TRANS_ALTS][WORD_MAX + 1], st[WORD_MAX + 1];
    size_t dl[TRANS_ALTS], el[TRANS_ALTS];
    for (char *line = buf, *end; line < buf + len && !rc; line = end + 1) {
        end = memchr(line, '\n', (size_t)(buf + len - line));
        if (!end)
            end = buf + len;
        if (line[0] == '#')
            continue;
        char *sep = memmem(line, (size_t)(end - line), " :: ", 4);
        if (!sep)
            continue;
        const char *lp = line, *rp = sep + 4;
        for (int sense = 0; sense < TRANS_SENSES && lp < sep && rp < end && !rc; sense++) {
            const char *lq = memchr(lp, '|', (size_t)(sep - lp)), *rq = memchr(rp, '|', (size_t)(end - rp));
            if (!lq)
                lq = sep;
            if (!rq)
                rq = end;
            size_t nd = sense_words(lp, lq, false, dw, dl), ne = sense_words(rp, rq, true, ew, el);
            for (size_t i = 0; i < nd && !rc; i++)
                for (size_t j = 0; j < ne && !rc; j++) {
                    /* earlier senses and alternatives first, short (plain)
                     * words before long (compound) ones */
                    uint32_t score = SCORE_BASE + (uint32_t)(sense * 16 + i + j);
                    size_t k = stem(sm->de, dw[i], dl[i], st);
                    rc = hh_lexmap_add(&a->de_en, st, k, ew[j], el[j], score + (uint32_t)el[j] / 4);
                    if (!rc) {
                        k = stem(sm->en, ew[j], el[j], st);
                        rc = hh_lexmap_add(&a->en_de, st, k, dw[i], dl[i], score + (uint32_t)dl[i] / 4);
                    }
                    if (!rc)
                        rc = hh_lexmap_add(&a->en_de_w, ew[j], el[j], dw[i], dl[i], score + (uint32_t)dl[i] / 4);
                }
            lp = lq + 1;
            rp = rq + 1;
        }
    }
    free(buf);
    if (!rc)
        rc = hh_lexmap_finish(&a->de_en, REPEAT_BONUS, PER_KEY_MAX);
    if (!rc)
        rc = hh_lexmap_finish(&a->en_de, REPEAT_BONUS, PER_KEY_MAX);
    if (!rc)
        rc = hh_lexmap_finish(&a->en_de_w, REPEAT_BONUS, PER_KEY_MAX);
    if (rc) {
        hh_lexmap_free(&a->de_en);
        hh_lexmap_free(&a->en_de);
        hh_lexmap_free(&a->en_de_w);
        HH_LOGW("analyze: out of memory loading %s: cross-lingual search is off", a->p_translations);
    }
    return 0;
}

static char *path_or_null(const char *given, const char *def)
{
    const char *p = given ? given : def;
    return p && p[0] ? strdup(p) : NULL;
}

int hh_analyzer_create(hh_analyzer_t **out, const hh_analyzer_params_t *p, hh_err_t *err)
{
    *out = NULL;
    hh_analyzer_params_t d = hh_analyzer_default_params();
    if (!p)
        p = &d;
    stemmers_t sm;
    if (stemmers_open(&sm))
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "analyze: libstemmer has no german or english stemmer");
    stemmers_close(&sm);
    hh_analyzer_t *a = calloc(1, sizeof *a);
    if (!a)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    a->p_compounds = path_or_null(p->compounds, d.compounds);
    a->p_thesaurus = path_or_null(p->thesaurus, d.thesaurus);
    a->p_translations = path_or_null(p->translations, d.translations);
    pthread_mutex_init(&a->mu, NULL);
    /* the files are read at their first use (a server that is never asked
     * pays nothing); the level is known now: the word list is readable */
    a->words_ok = a->p_compounds && access(a->p_compounds, R_OK) == 0;
    *out = a;
    return 0;
}

/* Loads the word list if not tried yet. Thread-safe. */
static void ensure_words(hh_analyzer_t *a)
{
    if (!a || atomic_load(&a->words_loaded))
        return;
    pthread_mutex_lock(&a->mu);
    if (!atomic_load(&a->words_loaded)) {
        if (a->p_compounds) {
            double t0 = now_ms();
            load_words(a);
            a->compounds_ms = now_ms() - t0;
        }
        atomic_store(&a->words_loaded, true);
    }
    pthread_mutex_unlock(&a->mu);
}

void hh_analyzer_free(hh_analyzer_t *a)
{
    if (!a)
        return;
    hh_strtab_free(&a->words);
    hh_lexmap_free(&a->syn);
    hh_lexmap_free(&a->de_en);
    hh_lexmap_free(&a->en_de);
    hh_lexmap_free(&a->en_de_w);
    pthread_mutex_destroy(&a->mu);
    free(a->p_compounds);
    free(a->p_thesaurus);
    free(a->p_translations);
    free(a);
}

void hh_analyzer_load(hh_analyzer_t *a)
{
    if (!a)
        return;
    ensure_words(a);
    pthread_mutex_lock(&a->mu);
    if (!a->query_loaded) {
        double t0 = now_ms();
        stemmers_t sm;
        if (stemmers_open(&sm) == 0) {
            if (a->p_thesaurus)
                load_thesaurus(a, &sm);
            if (a->p_translations)
                load_translations(a, &sm);
            stemmers_close(&sm);
            atomic_store(&a->query_loaded, true);   /* tried once: a missing file stays off */
        }
        a->query_ms = now_ms() - t0;
    }
    pthread_mutex_unlock(&a->mu);
}

void hh_analyzer_stats(hh_analyzer_t *a, hh_analyzer_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!a)
        return;
    hh_analyzer_t *m = a;
    pthread_mutex_lock(&m->mu);
    out->compound_words = a->words.n;
    out->thesaurus_terms = a->syn.keys.n;
    out->translation_terms = a->de_en.keys.n + a->en_de.keys.n;
    out->bytes = hh_strtab_bytes(&a->words) + hh_lexmap_bytes(&a->syn) + hh_lexmap_bytes(&a->de_en) +
                 hh_lexmap_bytes(&a->en_de) + hh_lexmap_bytes(&a->en_de_w);
    out->compounds_ms = a->compounds_ms;
    out->query_files_ms = a->query_ms;
    pthread_mutex_unlock(&m->mu);
}

int hh_analyzer_level(hh_analyzer_t *a)
{
    return a && a->words_ok ? 3 : 1;
}

/* ---- compounds ---------------------------------------------------------------- */

static uint32_t word_flags(hh_analyzer_t *a, const char *w, size_t n)
{
    const uint32_t *v = hh_strtab_get(&a->words, w, n);
    return v ? *v : 0;
}

/* Whether w[0..n) can end a compound: a listed word (a 3-byte one only as a
 * noun), also after taking a plural or case ending off ("tage" -> "tag").
 * Derivational endings that are listed words on their own are not parts. */
typedef struct lit {
    const char *s;
    size_t      n;
} lit_t;
#define LIT(x) { x, sizeof x - 1 }

static bool in_lits(const lit_t *l, size_t n_l, const char *w, size_t n)
{
    for (size_t i = 0; i < n_l; i++)
        if (l[i].n == n && !memcmp(w, l[i].s, n))
            return true;
    return false;
}

static bool tail_ok(hh_analyzer_t *a, const char *w, size_t n)
{
    static const lit_t suffixes[] = { LIT("ung"), LIT("ungen"), LIT("heit"), LIT("keit"), LIT("schaft"),
                                      LIT("schaften"), LIT("lich"), LIT("chen"), LIT("lein"), LIT("tum"),
                                      LIT("nis"), LIT("isch"), LIT("ische"), LIT("ten"), LIT("ter") };
    if (in_lits(suffixes, sizeof suffixes / sizeof *suffixes, w, n))
        return false;
    uint32_t f = word_flags(a, w, n);
    if (n >= 4 && f)
        return true;
    if (n == 3 && (f & WF_NOUN))
        return true;
    static const lit_t endings[] = { LIT("e"), LIT("en"), LIT("n"), LIT("s"), LIT("es"), LIT("er"), LIT("ern"),
                                     LIT("ens"), LIT("nen") };
    for (size_t i = 0; i < sizeof endings / sizeof *endings; i++) {
        size_t el = endings[i].n;
        if (n >= el + 3 && !memcmp(w + n - el, endings[i].s, el)) {
            uint32_t g = word_flags(a, w, n - el);
            if ((n - el >= 4 && g) || (n - el == 3 && (g & WF_NOUN)))
                return true;
        }
    }
    return false;
}

/* Whether w[0..n) can begin a compound, and how well: 2 for a noun
 * ("Tank|stelle"), 1 for another listed word, 1 for a verb stem whose
 * infinitive is listed ("Abstell|platz": abstellen); 0 when it cannot. */
static int head_rank(hh_analyzer_t *a, const char *w, size_t n)
{
    static const lit_t no[] = { LIT("unter"), LIT("\xc3\xbc" "ber"), LIT("nach"), LIT("durch"), LIT("gegen"),
                                LIT("hinter"), LIT("wider"), LIT("ober"), LIT("auch"), LIT("sich"), LIT("eine"),
                                LIT("dies"), LIT("sein"), LIT("wenn"), LIT("dass"), LIT("oder"), LIT("aber") };
    if (n < MIN_HEAD || in_lits(no, sizeof no / sizeof *no, w, n))
        return 0;
    uint32_t f = word_flags(a, w, n);
    if (f & WF_NOUN)
        return 2;
    if (f)
        return 1;
    char inf[WORD_MAX + 3];
    if (n + 2 > WORD_MAX)
        return 0;
    memcpy(inf, w, n);
    memcpy(inf + n, "en", 2);
    uint32_t g = word_flags(a, inf, n + 2);
    return g && !(g & WF_NOUN) ? 1 : 0;
}

typedef struct span {
    uint16_t off, len;
} span_t;

static bool char_start(const char *w, size_t i)
{
    return ((unsigned char)w[i] & 0xC0) != 0x80;
}

/* Splits w[0..n) (lowercase) into head [linking element] tail: noun heads
 * first (so that "tankstelle" is tank|stelle, not the verb form
 * "tankst"|elle), longest first; the tail may split again. Appends the
 * parts (offsets from base) to out; returns how many (>= 2) or 0 when it
 * does not split. */
static int split(hh_analyzer_t *a, const char *base, size_t off, size_t n, int depth, span_t *out, int cap)
{
    static const lit_t links[] = { LIT("es"), LIT("s"), LIT("en"), LIT("n"), LIT("") };
    const char *w = base + off;
    if (depth >= SPLIT_DEPTH || cap < 2 || n < MIN_HEAD + MIN_TAIL)
        return 0;
    for (int want = 2; want >= 1; want--)
        for (size_t h = n - MIN_TAIL; h >= MIN_HEAD; h--) {
            if (!char_start(w, h) || head_rank(a, w, h) != want)
                continue;
            for (size_t li = 0; li < sizeof links / sizeof *links; li++) {
                size_t ll = links[li].n;
                if (ll && (h + ll > n || memcmp(w + h, links[li].s, ll)))
                    continue;
                size_t t = h + ll;
                if (n - t < MIN_TAIL)
                    continue;
                out[0] = (span_t){ (uint16_t)off, (uint16_t)h };
                if (tail_ok(a, w + t, n - t)) {
                    out[1] = (span_t){ (uint16_t)(off + t), (uint16_t)(n - t) };
                    return 2;
                }
                int k = split(a, base, off + t, n - t, depth + 1, out + 1, cap - 1);
                if (k)
                    return 1 + k;
            }
        }
    return 0;
}

/* The dictionary form of a compound part w[0..n), its length: a plural or
 * case ending taken off when what is left is a listed noun ("kurse" ->
 * "kurs", "tage" -> "tag"), so that a part stems the same whichever form
 * the compound holds it in (Snowball stems "kurse" to kurs but "kurs" to
 * kur; both parts become kur). */
static size_t part_lemma(hh_analyzer_t *a, const char *w, size_t n)
{
    static const lit_t endings[] = { LIT("nen"), LIT("ern"), LIT("en"), LIT("er"), LIT("es"), LIT("e"), LIT("n") };
    for (size_t i = 0; i < sizeof endings / sizeof *endings; i++) {
        size_t el = endings[i].n;
        if (n >= el + 3 && !memcmp(w + n - el, endings[i].s, el) && (word_flags(a, w, n - el) & WF_NOUN))
            return n - el;
    }
    return n;
}

/* The parts of w[0..n): the first split, then each part split again
 * (a head such as "reisekosten" -> reise kosten). */
static int compound_parts(hh_analyzer_t *a, const char *w, size_t n, span_t *out, int cap)
{
    if (!a || !a->words.n || n > WORD_MAX || n < MIN_HEAD + MIN_TAIL)
        return 0;
    int k = split(a, w, 0, n, 0, out, cap);
    for (int i = 0, top = k; i < top && k < cap; i++) {
        int more = split(a, w, out[i].off, out[i].len, 1, out + k, cap - k);
        k += more;
    }
    return k;
}

/* ---- index terms ---------------------------------------------------------------- */

static bool is_stop(const char *w, size_t len);

static void add_term(hh_strbuf_t *b, const char *t, size_t n)
{
    if (!n)
        return;
    if (b->len)
        hh_strbuf_add(b, " ", 1);
    hh_strbuf_add(b, t, n);
}

int hh_analyzer_index_terms(hh_analyzer_t *a, const char *text, size_t len, hh_lang_t lang, char **out,
                            hh_err_t *err)
{
    *out = NULL;
    if (!text || len == 0) {   /* an empty heading path: the common case */
        *out = strdup("");
        return *out ? 0 : hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    ensure_words(a);
    stemmers_t sm;
    if (stemmers_open(&sm))
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    hh_strbuf_t b = { 0 };
    size_t pos = 0, st, wl;
    char low[WORD_MAX + 1], s1[WORD_MAX + 1], s2[WORD_MAX + 1];
    while (text && hh_kb_word_next(text, len, &pos, &st, &wl)) {
        size_t n = lower_word(text + st, wl, low, sizeof low);
        if (!n) {   /* too long: the first WORD_MAX bytes, unstemmed */
            char tmp[WORD_MAX + 1];
            size_t k = wl > WORD_MAX ? WORD_MAX : wl;
            while (k > 0 && !char_start(text + st, k))
                k--;
            memcpy(tmp, text + st, k);
            n = lower_word(tmp, k, low, sizeof low);
            add_term(&b, low, n);
            continue;
        }
        size_t k1 = 0, k2 = 0;
        if (lang != HH_LANG_EN)
            k1 = stem(sm.de, low, n, s1);
        if (lang != HH_LANG_DE)
            k2 = stem(sm.en, low, n, s2);
        add_term(&b, s1, k1);
        if (k2 && !(k1 == k2 && !memcmp(s1, s2, k1)))
            add_term(&b, s2, k2);
        if (lang != HH_LANG_EN && !is_stop(low, n)) {
            span_t parts[MAX_PARTS];
            int np = compound_parts(a, low, n, parts, MAX_PARTS);
            for (int i = 0; i < np; i++) {
                size_t k = stem(sm.de, low + parts[i].off, part_lemma(a, low + parts[i].off, parts[i].len), s1);
                add_term(&b, s1, k);
            }
        }
    }
    stemmers_close(&sm);
    if (b.oom) {
        free(b.p);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    *out = b.p ? b.p : strdup("");
    return *out ? 0 : hh_err_set(err, HH_ENOMEM, -1, "out of memory");
}

/* ---- query terms ------------------------------------------------------------------ */

/* Function words of English and German: not searched (they match most
 * chunks and weigh nearly nothing) unless the question has nothing else.
 * Besides articles, pronouns and prepositions this holds what questions
 * are built from: question words, modal and auxiliary verbs, possessives
 * and the spoken contractions of them ("gibts", "nen"). */
static const char *const g_stopwords[] = {
    "a", "an", "and", "are", "as", "be", "but", "by", "can", "do", "does", "for", "from", "has", "have", "how",
    "i", "if", "in", "into", "is", "it", "its", "my", "no", "not", "of", "on", "or", "so", "that", "the",
    "their", "then", "there", "these", "this", "to", "was", "we", "what", "when", "where", "which", "why",
    "will", "with", "you", "your",
    "ab", "aber", "als", "am", "an", "auch", "auf", "aus", "bei", "beim", "bin", "bis", "bist", "da", "dann",
    "darf", "das", "dass", "dem", "den", "der", "des", "dich", "die", "dir", "doch", "du", "d\xc3\xbcrfen", "ein",
    "eine", "einem", "einen", "einer", "eines", "er", "es", "etwas", "euch", "f\xc3\xbcr", "f\xc3\xbcrs", "gibt",
    "gibts", "habe", "haben", "hast", "hat", "hatte", "ich", "ihm", "ihn", "ihnen", "ihr", "ihre", "im", "ins",
    "ist", "ja", "kann", "kannst", "k\xc3\xb6nnen", "k\xc3\xb6nnte", "man", "mein", "meine", "meinem", "meinen",
    "meiner", "meines", "mich", "mir", "mit", "m\303\266chte", "muss", "m\xc3\xbcssen", "nach", "ne", "nem", "nen",
    "nicht", "noch", "nur", "ob", "oder", "sein", "seine", "sich", "sie", "sind", "soll", "sollen", "sollte",
    "\303\274ber", "um", "und", "uns", "unser", "unsere", "vom", "von", "vor", "wann", "war", "warum", "was",
    "welche", "welchem", "welchen", "welcher", "welches", "wenn", "wenns", "wer", "werde", "werden", "weshalb",
    "wie", "wieso", "will", "wir", "wird", "wo", "wof\xc3\xbcr", "womit", "worauf", "zu", "zum", "zur",
};

/* After "wie" / "how" these ask for an amount, a time or a frequency
 * ("wie lange", "how many"): the answer holds a number and seldom the
 * word, never one of its synonyms. */
static const char *const g_measure[] = {
    "lang", "lange", "viel", "viele", "hoch", "oft", "schnell", "weit", "gro\xc3\x9f", "fr\xc3\xbch", "sp\xc3\xa4t",
    "long", "many", "much", "often", "soon", "fast", "far", "high",
};

/* Words searched but never expanded: their synonyms and translations are
 * generic ("haben" -> "besitzen", "get" -> "bekommen", ...). */
static const char *const g_noexpand[] = {
    "habe", "haben", "hast", "hatte", "viele", "viel", "mein", "meine", "meinem", "meinen", "meiner", "dein",
    "man", "muss", "m\xc3\xbcssen", "soll", "sollen", "darf", "gibt", "geben", "werden", "wurde", "sein",
    "bin", "welche", "welcher", "welches", "dieser", "diese", "alle", "mehr", "sehr", "gilt", "get", "got",
    "many", "much", "any", "some", "should", "must", "may", "would", "could", "our", "all", "more", "about",
    "been", "there", "they", "them", "me", "am", "any", "who", "whom",
};

static bool in_list(const char *const *list, size_t n_list, const char *w, size_t len)
{
    for (size_t i = 0; i < n_list; i++)
        if (strlen(list[i]) == len && !memcmp(list[i], w, len))
            return true;
    return false;
}

/* w is lowercase. */
static bool is_stop(const char *w, size_t len)
{
    return len <= 8 && in_list(g_stopwords, sizeof g_stopwords / sizeof *g_stopwords, w, len);
}

/* Whether low[0..n) (after the word prev) asks for an amount ("wie
 * lange"): searched at HH_AN_W_MEASURE (an answer may say "12 Zeichen
 * lang", most say a number), translated, never expanded by the thesaurus
 * (its synonyms, "ellenlang", "longitudinal", are noise). */
static bool is_measure(const char *low, size_t n, const char *prev)
{
    return (!strcmp(prev, "wie") || !strcmp(prev, "how")) &&
           in_list(g_measure, sizeof g_measure / sizeof *g_measure, low, n);
}

/* Whether w[0..n) is written in capitals throughout, 2 letters or more
 * ("IT", "EU", "PC"): an abbreviation, never the function word its
 * letters spell ("it", "eu"). */
static bool is_acronym(const char *w, size_t n)
{
    if (n < 2)
        return false;
    for (size_t i = 0; i < n; i++)
        if (w[i] < 'A' || w[i] > 'Z')
            return false;
    return true;
}

bool hh_an_is_stopword(const char *w, size_t len)
{
    char low[WORD_MAX + 1];
    size_t n = lower_word(w, len, low, sizeof low);
    return n && is_stop(low, n);
}

void hh_query_terms_free(hh_query_terms_t *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++)
        free(q->t[i].term);
    free(q->t);
    for (int32_t g = 0; g < q->n_groups; g++)
        free(q->words[g]);
    free(q->words);
    memset(q, 0, sizeof *q);
}

/* Adds term t[0..n) to q (the higher weight wins for a repeat). */
static int qadd(hh_query_terms_t *q, const char *t, size_t n, float w, int32_t g, hh_an_kind_t kind)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < q->n; i++)
        if (strlen(q->t[i].term) == n && !memcmp(q->t[i].term, t, n)) {
            if (w > q->t[i].weight) {
                q->t[i].weight = w;
                q->t[i].kind = kind;
                q->t[i].group = g;
            }
            return 0;
        }
    if (q->n >= HH_AN_MAX_TERMS)
        return 0;
    if (kind == HH_AN_SYN || kind == HH_AN_TRANS) {   /* every expansion is one more term to score */
        size_t ex = 0;
        for (size_t i = 0; i < q->n; i++)
            ex += q->t[i].kind == HH_AN_SYN || q->t[i].kind == HH_AN_TRANS;
        if (ex >= HH_AN_MAX_EXPANSIONS)
            return 0;
    }
    char *c = hh_strdup_n(t, n);
    if (!c)
        return HH_ENOMEM;
    q->t[q->n++] = (hh_qterm_t){ c, w, g, kind };
    return 0;
}

/* The infinitive of a German verb form w[0..n) that Snowball leaves as it
 * is ("zahlt", "bekommt", "arbeitet", "kriegst" -> zahlen, bekommen, ...):
 * a person ending taken off and "en" put on, when that is a listed word
 * and no noun, and w itself is no noun. Into out (cap >= WORD_MAX + 1);
 * its length, 0 when there is none. */
static size_t verb_infinitive(hh_analyzer_t *a, const char *w, size_t n, char *out)
{
    static const lit_t endings[] = { LIT("est"), LIT("et"), LIT("st"), LIT("t") };
    if (!a || !a->words.n || n > WORD_MAX - 2 || (word_flags(a, w, n) & WF_NOUN))
        return 0;
    for (size_t i = 0; i < sizeof endings / sizeof *endings; i++) {
        size_t el = endings[i].n;
        if (n < el + 3 || memcmp(w + n - el, endings[i].s, el))
            continue;
        size_t k = n - el;
        memcpy(out, w, k);
        memcpy(out + k, "en", 3);
        uint32_t f = word_flags(a, out, k + 2);
        if (f && !(f & WF_NOUN))
            return k + 2;
        /* a strong verb's umlaut in the 2nd/3rd person ("läuft", "fährt",
         * "stößt" -> laufen, fahren, stoßen): the last one undone */
        for (size_t j = k; j-- > 1;) {
            unsigned char c0 = (unsigned char)out[j - 1], c1 = (unsigned char)out[j];
            if (c0 != 0xc3 || (c1 != 0xa4 && c1 != 0xb6 && c1 != 0xbc))
                continue;
            char u[WORD_MAX + 1];
            memcpy(u, out, j - 1);
            u[j - 1] = c1 == 0xa4 ? 'a' : c1 == 0xb6 ? 'o' : 'u';
            memcpy(u + j, out + j + 1, k + 2 - j);   /* the rest and its NUL */
            f = word_flags(a, u, k + 1);
            if (f && !(f & WF_NOUN)) {
                memcpy(out, u, k + 2);
                return k + 1;
            }
            break;
        }
    }
    return 0;
}

/* Separable verb prefixes: a participle puts "ge" after them
 * ("aus|ge|zahlt"). */
static const lit_t g_sep_prefix[] = {
    LIT("ab"),   LIT("an"),  LIT("auf"), LIT("aus"), LIT("bei"), LIT("ein"), LIT("fest"), LIT("her"),
    LIT("hin"),  LIT("los"), LIT("mit"), LIT("nach"), LIT("vor"), LIT("weg"), LIT("zu"),  LIT("zur\xc3\xbc" "ck"),
    LIT("zusammen"),
};

/* The infinitive of a German verb form w[0..n) that Snowball keeps whole:
 * a person ending or a weak participle's -t/-et (verb_infinitive:
 * "zahlt", "erstattet"), a participle's "ge" taken out, at the start or
 * after a separable prefix ("gemeldet" -> melden, "ausgezahlt" ->
 * auszahlen, "abgegeben" -> abgeben). Only when the result is a listed
 * verb and w no listed noun ("Gedanken" stays). Into out; its length or
 * 0. */
static size_t verb_lemma(hh_analyzer_t *a, const char *w, size_t n, char *out)
{
    size_t k = verb_infinitive(a, w, n, out);
    if (k || !a || !a->words.n || n < 6 || n > WORD_MAX || (word_flags(a, w, n) & WF_NOUN))
        return k;
    for (size_t i = 0; i <= sizeof g_sep_prefix / sizeof *g_sep_prefix; i++) {
        size_t pl = i == 0 ? 0 : g_sep_prefix[i - 1].n;
        if (i > 0 && memcmp(w, g_sep_prefix[i - 1].s, pl))
            continue;
        if (n < pl + 5 || memcmp(w + pl, "ge", 2))
            continue;
        char v[WORD_MAX + 1];
        memcpy(v, w, pl);
        memcpy(v + pl, w + pl + 2, n - pl - 2);
        size_t vn = n - 2;
        v[vn] = '\0';
        if (vn >= 5 && !memcmp(v + vn - 2, "en", 2)) {   /* strong: "abgegeben" -> abgeben */
            uint32_t f = word_flags(a, v, vn);
            if (f && !(f & WF_NOUN)) {
                memcpy(out, v, vn + 1);
                return vn;
            }
            continue;
        }
        if ((k = verb_infinitive(a, v, vn, out)))   /* weak: "ausgezahlt" -> auszahlen */
            return k;
    }
    return 0;
}

/* The noun a German verb in -eln/-ern makes with -ung, when listed
 * ("umwandeln" -> "umwandlung", "ändern" -> "änderung"): Snowball stems
 * the verb to umwandeln but the noun to umwandl, while for other verbs
 * the two meet (zahlen, Zahlung: zahl). Into out; its length or 0. */
static size_t verb_noun(hh_analyzer_t *a, const char *w, size_t n, char *out)
{
    if (!a || !a->words.n || n < 6 || n + 2 > WORD_MAX || (word_flags(a, w, n) & WF_NOUN))
        return 0;
    if (memcmp(w + n - 3, "eln", 3) && memcmp(w + n - 3, "ern", 3))
        return 0;
    memcpy(out, w, n - 3);
    out[n - 3] = w[n - 2];   /* l or r */
    memcpy(out + n - 2, "ung", 4);
    return word_flags(a, out, n + 1) & WF_NOUN ? n + 1 : 0;
}

/* One content word (lowercase) as group g. */
/* Whether w[0..n) begins with a capital letter. */
static bool is_capital(const char *w, size_t n)
{
    utf8proc_int32_t cp;
    return utf8proc_iterate((const utf8proc_uint8_t *)w, (utf8proc_ssize_t)n, &cp) > 0 && utf8proc_isupper(cp);
}

/* The synonyms of stem s[0..k): those of a noun when noun, of other words
 * otherwise; the other class's when that has none. */
static size_t syn_get(hh_analyzer_t *a, const char *s, size_t k, bool noun, const char **v, uint32_t *sc, size_t cap)
{
    char key[WORD_MAX + 2];
    size_t kl = syn_key(s, k, noun, key);
    size_t nv = hh_lexmap_get_scored(&a->syn, key, kl, v, sc, cap);
    if (!nv) {
        kl = syn_key(s, k, !noun, key);
        nv = hh_lexmap_get_scored(&a->syn, key, kl, v, sc, cap);
    }
    return nv;
}

/* Expansions (synonyms, translations) wait until every word has its own
 * terms, then go in by rank: every word's first expansion before any
 * word's second, so that the HH_AN_MAX_EXPANSIONS budget is shared by the
 * words of a question rather than spent on its first ones. */
typedef struct pend {
    char         term[WORD_MAX + 1];
    float        w;
    int32_t      g, rank, seq;   /* seq: order added */
    hh_an_kind_t kind;
} pend_t;

typedef struct pending {
    pend_t *p;
    size_t  n, cap;
} pending_t;

static void pend_add(pending_t *pd, const char *t, size_t n, float w, int32_t g, int32_t rank, hh_an_kind_t kind)
{
    if (!n || n > WORD_MAX || pd->n == pd->cap)
        return;
    pend_t *e = &pd->p[pd->n++];
    memcpy(e->term, t, n);
    e->term[n] = '\0';
    e->w = w;
    e->g = g;
    e->rank = rank;
    e->seq = (int32_t)(pd->n - 1);
    e->kind = kind;
}

/* By rank, then as added (groups ascending). */
static int cmp_pend(const void *a, const void *b)
{
    const pend_t *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* noun: whether the word is used as a noun (capitalized inside the
 * question, or only listed capitalized); measure: see is_measure. Its own
 * terms go into q, its expansions into pd. */
static int query_word(hh_analyzer_t *a, stemmers_t *sm, hh_query_terms_t *q, pending_t *pd, const char *low,
                      size_t n, int32_t g, hh_lang_t lang, bool few_words, bool noun, bool measure)
{
    char s1[WORD_MAX + 1], s2[WORD_MAX + 1];
    size_t k1 = stem(sm->de, low, n, s1), k2 = stem(sm->en, low, n, s2);
    float we = measure ? HH_AN_W_MEASURE : HH_AN_W_EXACT;
    int rc = qadd(q, s1, k1, we, g, HH_AN_EXACT);
    /* a German question's words are German: their English stem would be
     * one more term that German chunks (indexed with German stems) lack */
    if (!rc && lang != HH_LANG_DE)
        rc = qadd(q, s2, k2, we, g, HH_AN_EXACT);
    if (rc || lang == HH_LANG_EN)
        goto expand;
    /* a verb form the stemmer keeps whole is searched, and expanded, as its
     * infinitive's stem too ("zahlt": zahl, as "zahlen" and "Zahlung" are) */
    char inf[WORD_MAX + 1], vn[WORD_MAX + 1];
    size_t ni = verb_lemma(a, low, n, inf);
    size_t nn = ni ? verb_noun(a, inf, ni, vn) : verb_noun(a, low, n, vn);
    if (nn) {
        char sv[WORD_MAX + 1];
        size_t kv = stem(sm->de, vn, nn, sv);
        rc = qadd(q, sv, kv, HH_AN_W_EXACT, g, HH_AN_EXACT);
    }
    if (ni) {
        char si[WORD_MAX + 1];
        size_t ki = stem(sm->de, inf, ni, si);
        if (!(ki == k1 && !memcmp(si, s1, ki))) {
            rc = qadd(q, si, ki, HH_AN_W_EXACT, g, HH_AN_EXACT);
            if (!rc) {   /* a verb: looked up in the thesaurus and dictionary as the infinitive */
                memcpy(s1, si, ki + 1);
                k1 = ki;
                noun = false;
            }
        }
    }
    span_t parts[MAX_PARTS];
    int np = compound_parts(a, low, n, parts, MAX_PARTS);
    for (int i = 0; i < np && !rc; i++) {
        char sp[WORD_MAX + 1];
        size_t k = stem(sm->de, low + parts[i].off, part_lemma(a, low + parts[i].off, parts[i].len), sp);
        rc = qadd(q, sp, k, HH_AN_W_PART, g, HH_AN_PART);
    }
expand:
    if (rc || !a || in_list(g_noexpand, sizeof g_noexpand / sizeof *g_noexpand, low, n))
        return rc;
    const char *v[PER_KEY_MAX];
    char t[WORD_MAX + 1];
    /* a longer question of unknown language is expanded both ways, less
     * per way */
    bool less = lang == HH_LANG_UNKNOWN && !few_words;
    size_t max_syn = measure ? 0 : less ? 2 : HH_AN_MAX_SYN;
    size_t max_tr = less ? 1 : HH_AN_MAX_TRANS;
    if (lang != HH_LANG_EN) {
        uint32_t sc[PER_KEY_MAX];
        size_t nv = syn_get(a, s1, k1, noun, v, sc, max_syn);
        for (size_t i = 0; i < nv; i++)   /* a colloquial word's standard words weigh more */
            pend_add(pd, v[i], strlen(v[i]), sc[i] < SYN_UGS_LIMIT ? HH_AN_W_SYN_UGS : HH_AN_W_SYN, g, (int32_t)i,
                     HH_AN_SYN);
        nv = hh_lexmap_get(&a->de_en, s1, k1, v, max_tr);
        for (size_t i = 0; i < nv; i++) {
            size_t k = stem(sm->en, v[i], strlen(v[i]), t);
            pend_add(pd, t, k, HH_AN_W_TRANS, g, (int32_t)i, HH_AN_TRANS);
        }
    }
    if (lang != HH_LANG_DE) {
        /* the word's own entries first, then those of its stem */
        size_t nv = hh_lexmap_get(&a->en_de_w, low, n, v, max_tr);
        const char *more[PER_KEY_MAX];
        size_t nm = hh_lexmap_get(&a->en_de, s2, k2, more, PER_KEY_MAX);
        for (size_t i = 0; i < nm && nv < max_tr; i++) {
            bool dup = false;
            for (size_t j = 0; j < nv && !dup; j++)
                dup = !strcmp(v[j], more[i]);
            if (!dup)
                v[nv++] = more[i];
        }
        for (size_t i = 0; i < nv; i++) {
            /* (a compound translation's parts are not added: each common
             * part is one more term to score at 100k chunks) */
            size_t k = stem(sm->de, v[i], strlen(v[i]), t);
            pend_add(pd, t, k, HH_AN_W_TRANS, g, (int32_t)i, HH_AN_TRANS);
        }
    }
    return rc;
}

int hh_analyzer_query_terms(hh_analyzer_t *a, const char *text, hh_query_terms_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    size_t len = text ? strlen(text) : 0;
    out->lang = hh_lang_detect(text ? text : "", len);
    if (a && !atomic_load(&a->query_loaded))
        hh_analyzer_load(a);
    stemmers_t sm;
    if (stemmers_open(&sm))
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    int rc = 0;
    pending_t pd = { .cap = (size_t)HH_AN_MAX_WORDS * (HH_AN_MAX_SYN + 2 * HH_AN_MAX_TRANS) };
    pd.p = malloc(pd.cap * sizeof *pd.p);
    out->t = calloc(HH_AN_MAX_TERMS, sizeof *out->t);
    out->words = calloc(HH_AN_MAX_WORDS, sizeof *out->words);
    if (!out->t || !out->words || !pd.p) {
        rc = HH_ENOMEM;
        goto done;
    }
    /* content words: up to 3 get the full expansion in any language */
    size_t n_content = 0, first_word = 0;
    {
        size_t pos = 0, st, wl;
        bool first = true;
        char low[WORD_MAX + 1], prev[WORD_MAX + 1] = "";
        while (hh_kb_word_next(text, len, &pos, &st, &wl)) {
            size_t n = lower_word(text + st, wl, low, sizeof low);
            n_content += n && (!is_stop(low, n) || is_acronym(text + st, wl));
            if (first)
                first_word = st;
            first = false;
            if (n)
                memcpy(prev, low, n + 1);
            else
                prev[0] = '\0';
        }
    }
    /* two passes: content words; function words only when there are none */
    for (int pass = 0; pass < 2 && out->n_groups == 0 && !rc; pass++) {
        size_t pos = 0, st, wl;
        char low[WORD_MAX + 1], prev[WORD_MAX + 1] = "";
        while (!rc && out->n_groups < HH_AN_MAX_WORDS && hh_kb_word_next(text, len, &pos, &st, &wl)) {
            size_t n = lower_word(text + st, wl, low, sizeof low);
            bool stop = n && is_stop(low, n) && !is_acronym(text + st, wl);
            bool measure = n && is_measure(low, n, prev);
            if (n)
                memcpy(prev, low, n + 1);
            else
                prev[0] = '\0';
            if (!n) {   /* too long: its first WORD_MAX bytes, as the index keeps it */
                char tmp[WORD_MAX + 1];
                size_t k = wl > WORD_MAX ? WORD_MAX : wl;
                while (k > 0 && !char_start(text + st, k))
                    k--;
                memcpy(tmp, text + st, k);
                if (!(n = lower_word(tmp, k, low, sizeof low)))
                    continue;
                bool dup = false;
                for (size_t i = 0; i < out->n && !dup; i++)
                    dup = !strcmp(out->t[i].term, low);
                if (dup || !(out->words[out->n_groups] = hh_strdup_n(low, n))) {
                    rc = dup ? 0 : HH_ENOMEM;
                    continue;
                }
                rc = qadd(out, low, n, HH_AN_W_EXACT, out->n_groups, HH_AN_EXACT);
                out->n_groups++;
                continue;
            }
            if (pass == 0 && stop)
                continue;
            bool dup = false;
            for (int32_t g = 0; g < out->n_groups && !dup; g++)
                dup = !strcmp(out->words[g], low);
            if (dup)
                continue;
            if (!(out->words[out->n_groups] = hh_strdup_n(low, n))) {
                rc = HH_ENOMEM;
                break;
            }
            /* a noun is capitalized; the first word of a question always is,
             * so there the word list decides (a verb form is listed lowercase) */
            bool noun;
            if (st > first_word)
                noun = is_capital(text + st, wl);
            else
                noun = a && !(word_flags(a, low, n) & WF_LOWER);
            rc = query_word(a, &sm, out, &pd, low, n, out->n_groups, out->lang, n_content <= 3, noun, measure);
            out->n_groups++;
        }
    }
    qsort(pd.p, pd.n, sizeof *pd.p, cmp_pend);
    for (size_t i = 0; i < pd.n && !rc; i++)
        rc = qadd(out, pd.p[i].term, strlen(pd.p[i].term), pd.p[i].w, pd.p[i].g, pd.p[i].kind);
done:
    free(pd.p);
    stemmers_close(&sm);
    if (rc) {
        hh_query_terms_free(out);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    return 0;
}
