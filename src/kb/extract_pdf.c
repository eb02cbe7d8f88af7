/* extract_pdf.c - PDF through poppler-utils, run as children (their own
 * memory and CPU limits, killed at the wall-clock deadline, output capped).
 * `pdfinfo` gives the title.
 *
 * A PDF file on disk goes through `pdftohtml -xml -i -stdout`, which gives
 * every text line with its page, position, height and font (size, bold);
 * the layout makes the blocks (extract_pdf_layout in this file):
 *  - the body size is the font size that carries the most characters; a
 *    line clearly larger (>= 1.15 x) is a heading, levels by size (largest
 *    1); a short line set wholly in bold at about body size, alone on its
 *    line, starting with a capital or a digit and not ending like a
 *    sentence is a heading one level below the smallest larger size (a
 *    bold "-c" or "blank" beside or above its description is none);
 *    consecutive heading lines of one size join;
 *  - lines repeated at the top or bottom of most pages (page headers and
 *    footers, digits compared as one; three pages or more) and lone page
 *    numbers there are dropped; each block keeps its page number;
 *  - body lines join into a paragraph until a vertical gap larger than the
 *    usual line distance, a heading or a new page; a line ending in a
 *    hyphen after a letter joins the next without the hyphen when that
 *    starts with a lower-case letter ("Ken-" "nung" -> "Kennung"), except
 *    before "und", "oder", "bis", "bzw." ... ("Ein- und Ausgang"), and
 *    keeps the hyphen without a space before an upper-case letter
 *    ("E-" "Mail" -> "E-Mail").
 * Bytes in memory (an e-mail attachment) have no file for pdftohtml to
 * seek in: `pdftotext -layout` reads them from stdin, pages from its form
 * feeds, paragraphs from blank lines. */
#include "kb/extract_int.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs argv with in_data on its stdin (in_data NULL: /dev/null); collects
 * stdout (at most max_out bytes, else HH_ERANGE) and the start of stderr.
 * *status gets the wait status. */
static int run_tool(char *const argv[], const uint8_t *in_data, size_t in_len,
                    const hh_extract_limits_t *lim, uint64_t max_out,
                    hh_xstr_t *out, char *errbuf, size_t errcap, int *status, hh_err_t *err)
{
    int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
    int rc = 0;
    size_t errlen = 0;
    pid_t pid = -1;
    sigset_t pipe_set, old_set;
    errbuf[0] = '\0';
    /* a tool that exits before reading all input must not kill us with SIGPIPE */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    if ((in_data && pipe2(pin, O_CLOEXEC) != 0) || pipe2(pout, O_CLOEXEC) != 0 || pipe2(perr, O_CLOEXEC) != 0) {
        rc = hh_err_set(err, HH_EIO, -1, "pipe: %s", strerror(errno));
        goto cleanup;
    }
    pid = fork();
    if (pid < 0) {
        rc = hh_err_set(err, HH_EIO, -1, "fork: %s", strerror(errno));
        goto cleanup;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int in = in_data ? pin[0] : open("/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(pout[1], 1) < 0 || dup2(perr[1], 2) < 0)
            _exit(126);
        if (close_range(3, ~0u, 0) != 0)
            for (int fd = 3; fd < 4096; fd++)
                close(fd);
        struct rlimit rl;
        if (lim->mem_bytes > 0) {
            rl.rlim_cur = rl.rlim_max = lim->mem_bytes;
            setrlimit(RLIMIT_AS, &rl);
        }
        if (lim->cpu_seconds > 0) {
            rl.rlim_cur = lim->cpu_seconds;
            rl.rlim_max = (rlim_t)lim->cpu_seconds + 1;
            setrlimit(RLIMIT_CPU, &rl);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pout[1]);
    pout[1] = -1;
    close(perr[1]);
    perr[1] = -1;
    if (in_data) {
        close(pin[0]);
        pin[0] = -1;
        fcntl(pin[1], F_SETFL, O_NONBLOCK);
    }
    size_t in_off = 0;
    int64_t deadline = mono_ms() + (lim->wall_ms ? lim->wall_ms : 60000);
    bool out_open = true, err_open = true, timed_out = false, too_big = false;
    char chunk[65536];
    while (out_open || err_open) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pf[3];
        int np = 0, iout = -1, ierr = -1, iin = -1;
        if (out_open) {
            pf[np] = (struct pollfd){ .fd = pout[0], .events = POLLIN };
            iout = np++;
        }
        if (err_open) {
            pf[np] = (struct pollfd){ .fd = perr[0], .events = POLLIN };
            ierr = np++;
        }
        if (pin[1] >= 0) {
            pf[np] = (struct pollfd){ .fd = pin[1], .events = POLLOUT };
            iin = np++;
        }
        int pr = poll(pf, (nfds_t)np, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno != EINTR) {
            rc = hh_err_set(err, HH_EIO, -1, "poll: %s", strerror(errno));
            break;
        }
        if (pr <= 0)
            continue;
        if (iin >= 0 && pf[iin].revents) {
            ssize_t w = write(pin[1], in_data + in_off, in_len - in_off);
            if (w > 0)
                in_off += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len) {
                close(pin[1]);
                pin[1] = -1;
            }
        }
        if (iout >= 0 && pf[iout].revents) {
            ssize_t r = read(pout[0], chunk, sizeof chunk);
            if (r > 0) {
                if (out->len + (uint64_t)r > max_out) {
                    too_big = true;
                    break;
                }
                if (hh_xstr_append(out, chunk, (size_t)r)) {
                    rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                    break;
                }
            } else if (r == 0 || errno != EINTR) {
                out_open = false;
            }
        }
        if (ierr >= 0 && pf[ierr].revents) {
            ssize_t r = read(perr[0], chunk, sizeof chunk);
            if (r > 0) {
                size_t k = (size_t)r < errcap - 1 - errlen ? (size_t)r : errcap - 1 - errlen;
                memcpy(errbuf + errlen, chunk, k);
                errlen += k;
                errbuf[errlen] = '\0';
            } else if (r == 0 || errno != EINTR) {
                err_open = false;
            }
        }
    }
    if (timed_out || too_big || rc != 0)
        kill(pid, SIGKILL);
    /* the output is closed: the tool is exiting; the sandbox's own deadline
     * bounds this wait if it does not */
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (rc == 0 && timed_out)
        rc = hh_err_set(err, HH_ERANGE, -1, "%s timed out after %.1f s", argv[0],
                        (lim->wall_ms ? lim->wall_ms : 60000) / 1000.0);
    else if (rc == 0 && too_big)
        rc = hh_err_set(err, HH_ERANGE, -1, "%s output larger than the limit of %llu bytes", argv[0],
                        (unsigned long long)max_out);
cleanup:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, status, 0);
    }
    for (int i = 0; i < 2; i++) {
        if (pin[i] >= 0)
            close(pin[i]);
        if (pout[i] >= 0)
            close(pout[i]);
        if (perr[i] >= 0)
            close(perr[i]);
    }
    /* drop a SIGPIPE raised while it was blocked, then restore the mask */
    struct timespec zero = { 0, 0 };
    while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
        ;
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    return rc;
}

/* First line of a tool's stderr, for messages. */
static void first_line(char *s)
{
    char *nl = strchr(s, '\n');
    if (nl)
        *nl = '\0';
}

static int pdf_title(hh_xb_t *b, char *file, const uint8_t *data, size_t len)
{
    char *argv[] = { "pdfinfo", "-enc", "UTF-8", file, NULL };
    hh_xstr_t out = { 0 };
    char ebuf[256];
    int status = 0, rc = 0;
    hh_err_t e;
    if (run_tool(argv, file[0] == '-' ? data : NULL, len, b->lim, 1 << 20, &out, ebuf, sizeof ebuf,
                 &status, &e) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && out.data) {
        for (char *l = out.data; l && *l; ) {
            char *nl = strchr(l, '\n');
            if (strncmp(l, "Title:", 6) == 0) {
                char *v = l + 6;
                size_t n = nl ? (size_t)(nl - v) : strlen(v);
                rc = hh_xb_title(b, v, n);
                break;
            }
            l = nl ? nl + 1 : NULL;
        }
    }
    hh_xstr_free(&out);
    return rc;
}

/* ---- layout: pdftohtml -xml ---------------------------------------------- */

typedef struct pline {
    int32_t page;
    double  top, left, height, size, page_h;
    bool    bold;
    bool    drop;         /* header, footer, page number */
    int     level;        /* heading level, 0 = body */
    char   *text;         /* cleaned, collapsed */
    size_t  len;
} pline_t;

typedef struct playout {
    pline_t *v;
    size_t   n, cap;
    double   font_size[256];  /* by fontspec id; 0 = unknown */
} playout_t;

static void layout_free(playout_t *L)
{
    for (size_t i = 0; i < L->n; i++)
        free(L->v[i].text);
    free(L->v);
}

static double attr_num(xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    double x = v ? strtod((const char *)v, NULL) : 0;
    xmlFree(v);
    return isfinite(x) ? x : 0;
}

/* Every non-blank character of the text element sits inside a <b>. */
static bool all_bold(xmlNode *t)
{
    bool any = false;
    for (xmlNode *c = t->children; c != NULL; c = c->next) {
        if (c->type == XML_TEXT_NODE) {
            for (const xmlChar *p = c->content; p && *p; p++)
                if (*p != ' ' && *p != '\t' && *p != '\n')
                    return false;
        } else if (c->type == XML_ELEMENT_NODE) {
            if (strcmp((const char *)c->name, "b") != 0) {
                /* <i>, <a> around a <b>: look one level in */
                if (c->children == NULL || c->children->next != NULL || c->children->type != XML_ELEMENT_NODE ||
                    strcmp((const char *)c->children->name, "b") != 0)
                    return false;
            }
            any = true;
        }
    }
    return any;
}

static int collect_lines(playout_t *L, xmlNode *root, hh_err_t *err)
{
    for (xmlNode *pg = root ? root->children : NULL; pg != NULL; pg = pg->next) {
        if (pg->type != XML_ELEMENT_NODE || strcmp((const char *)pg->name, "page") != 0)
            continue;
        double num = attr_num(pg, "number"), ph = attr_num(pg, "height");
        int32_t page = num >= 1 && num < 1e7 ? (int32_t)num : 0;
        for (xmlNode *t = pg->children; t != NULL; t = t->next) {
            if (t->type != XML_ELEMENT_NODE)
                continue;
            if (strcmp((const char *)t->name, "fontspec") == 0) {
                double id = attr_num(t, "id"), size = attr_num(t, "size");
                if (id >= 0 && id < 256)
                    L->font_size[(int)id] = size;
                continue;
            }
            if (strcmp((const char *)t->name, "text") != 0)
                continue;
            xmlChar *c = xmlNodeGetContent(t);
            if (c == NULL)
                return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
            size_t cl;
            char *clean = hh_x_clean((const char *)c, strlen((const char *)c), true, &cl);
            xmlFree(c);
            if (clean == NULL)
                return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
            if (cl == 0) {
                free(clean);
                continue;
            }
            if (L->n == L->cap) {
                size_t nc = L->cap ? L->cap * 2 : 256;
                pline_t *nv = realloc(L->v, nc * sizeof *nv);
                if (nv == NULL) {
                    free(clean);
                    return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                }
                L->v = nv;
                L->cap = nc;
            }
            double font = attr_num(t, "font");
            double size = font >= 0 && font < 256 ? L->font_size[(int)font] : 0;
            if (size <= 0)
                size = attr_num(t, "height");
            L->v[L->n++] = (pline_t){ .page = page, .top = attr_num(t, "top"), .left = attr_num(t, "left"),
                                      .height = attr_num(t, "height"), .size = size, .page_h = ph,
                                      .bold = all_bold(t), .text = clean, .len = cl };
        }
    }
    return 0;
}

/* A line's text with digit runs as '#': page footers differ in the number. */
static void shape_key(const char *s, char *out, size_t cap)
{
    size_t w = 0;
    for (; *s && w + 1 < cap; s++) {
        if (*s >= '0' && *s <= '9') {
            if (w == 0 || out[w - 1] != '#')
                out[w++] = '#';
        } else {
            out[w++] = *s;
        }
    }
    out[w] = '\0';
}

/* "12", "- 12 -", "Seite 3 von 9", "Page 3", "3/9", "iv" */
static bool is_page_number(const char *s)
{
    char k[64];
    shape_key(s, k, sizeof k);
    static const char *const forms[] = { "#", "- # -", "-#-", "# / #", "#/#", "Seite #", "Seite # von #",
                                         "Seite #/#", "Page #", "Page # of #", "S. #", NULL };
    for (size_t i = 0; forms[i]; i++)
        if (strcasecmp(k, forms[i]) == 0)
            return true;
    size_t n = strlen(s);
    return n > 0 && n <= 5 && strspn(s, "ivxlcIVXLC") == n;
}

static bool in_margin(const pline_t *l)
{
    return l->page_h > 0 && (l->top < l->page_h * 0.1 || l->top + l->height > l->page_h * 0.9);
}

typedef struct mkey {
    char    key[128];
    int32_t page;
    size_t  line;
} mkey_t;

static int mkey_cmp(const void *a, const void *b)
{
    const mkey_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->page > y->page) - (x->page < y->page);
}

/* Marks page headers/footers and page numbers (drop): margin lines sorted
 * by their shape, a shape on more than half of the pages (of three or more)
 * dropped; O(m log m) in the m margin lines. */
static int mark_margins(playout_t *L, hh_err_t *err)
{
    int32_t pages = 0;
    size_t m = 0;
    for (size_t i = 0; i < L->n; i++) {
        if (L->v[i].page > pages)
            pages = L->v[i].page;
        m += in_margin(&L->v[i]);
    }
    if (m == 0)
        return 0;
    mkey_t *k = malloc(m * sizeof *k);
    if (k == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    size_t j = 0;
    for (size_t i = 0; i < L->n; i++) {
        pline_t *l = &L->v[i];
        if (!in_margin(l))
            continue;
        if (is_page_number(l->text))
            l->drop = true;
        shape_key(l->text, k[j].key, sizeof k[j].key);
        k[j].page = l->page;
        k[j++].line = i;
    }
    qsort(k, m, sizeof *k, mkey_cmp);
    for (size_t g = 0; g < m && pages >= 3;) {
        size_t e = g;
        int32_t distinct = 0, last = INT32_MIN;
        while (e < m && strcmp(k[e].key, k[g].key) == 0) {
            if (k[e].page != last)
                distinct++;
            last = k[e].page;
            e++;
        }
        if (distinct * 2 > pages)
            for (size_t x = g; x < e; x++)
                L->v[k[x].line].drop = true;
        g = e;
    }
    free(k);
    return 0;
}

static bool ends_sentence(const char *s, size_t n)
{
    return n > 0 && (s[n - 1] == '.' || s[n - 1] == ',' || s[n - 1] == ';');
}

/* Starts with an upper-case letter (ASCII, Latin-1) or a digit: a bold
 * "-c" or "blank" in a definition list is no heading. */
static bool upper_start(const char *s)
{
    const uint8_t *p = (const uint8_t *)s;
    if ((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= '0' && p[0] <= '9'))
        return true;
    return p[0] == 0xc3 && p[1] >= 0x80 && p[1] <= 0x9e && p[1] != 0x97;
}

/* No other text shares the line (a bold term with its description beside
 * it is no heading). */
static bool alone(const playout_t *L, size_t i)
{
    const pline_t *l = &L->v[i];
    for (size_t j = i > 0 ? i - 1 : 0; j <= i + 1 && j < L->n; j++) {
        const pline_t *m = &L->v[j];
        if (j != i && !m->drop && m->page == l->page && fabs(m->top - l->top) < 0.5 * (l->height + 1))
            return false;
    }
    return true;
}

/* Heading levels from sizes: every distinct size >= 1.15 x body (in half
 * points) gets a level, largest first; bold body lines one below. */
static int mark_headings(playout_t *L)
{
    /* characters per half-point size */
    enum { NS = 512 };
    static const double step = 0.5;
    size_t chars[NS] = { 0 };
    for (size_t i = 0; i < L->n; i++) {
        const pline_t *l = &L->v[i];
        if (l->drop)
            continue;
        long k = lround(l->size / step);
        if (k >= 0 && k < NS)
            chars[k] += l->len;
    }
    long body = 0;
    for (long k = 0; k < NS; k++)
        if (chars[k] > chars[body])
            body = k;
    if (chars[body] == 0)
        return 0;
    int level_of[NS] = { 0 };
    int levels = 0;
    for (long k = NS - 1; k > body; k--)
        if (chars[k] > 0 && k * step >= body * step * 1.15 && levels < 5)
            level_of[k] = ++levels;
    for (size_t i = 0; i < L->n; i++) {
        pline_t *l = &L->v[i];
        if (l->drop)
            continue;
        long k = lround(l->size / step);
        if (k >= 0 && k < NS && level_of[k] > 0 && l->len <= 200)
            l->level = level_of[k];
        else if (l->bold && l->len <= 120 && k * step >= body * step * 0.9 && !ends_sentence(l->text, l->len) &&
                 upper_start(l->text) && alone(L, i))
            l->level = levels + 1;
    }
    return levels;
}

/* Usual distance between consecutive body lines of a page (the most common
 * rounded one); 0 when unknown. */
static double line_pitch(const playout_t *L)
{
    enum { NP = 256 };
    size_t cnt[NP] = { 0 };
    const pline_t *prev = NULL;
    for (size_t i = 0; i < L->n; i++) {
        const pline_t *l = &L->v[i];
        if (l->drop || l->level)
            continue;
        if (prev && prev->page == l->page) {
            long d = lround(l->top - prev->top);
            if (d > 0 && d < NP)
                cnt[d]++;
        }
        prev = l;
    }
    long best = 0;
    for (long d = 1; d < NP; d++)
        if (cnt[d] > cnt[best])
            best = d;
    return cnt[best] ? (double)best : 0;
}

static bool is_lower_start(const char *s)
{
    const uint8_t *p = (const uint8_t *)s;
    if (p[0] >= 'a' && p[0] <= 'z')
        return true;
    /* Latin-1 lower case: U+00DF..U+00FF but U+00F7 */
    return p[0] == 0xc3 && p[1] >= 0x9f && p[1] <= 0xbf && p[1] != 0xb7;
}

/* Words that follow a truncated compound: "Ein- und Ausgang". */
static bool keeps_hyphen(const char *s)
{
    static const char *const words[] = { "und", "oder", "bzw", "bis", "sowie", "als", "wie", "noch",
                                         "statt", "and", "or", "nor", "to", NULL };
    size_t n = 0;
    while (s[n] && s[n] != ' ' && s[n] != '.' && s[n] != ',')
        n++;
    for (size_t i = 0; words[i]; i++)
        if (strlen(words[i]) == n && strncmp(s, words[i], n) == 0)
            return true;
    return false;
}

int hh_x_pdf_join(hh_xstr_t *para, const char *line, size_t n)
{
    if (para->len == 0)
        return hh_xstr_append(para, line, n);
    const uint8_t *p = (const uint8_t *)para->data;
    size_t L = para->len;
    size_t hy = 0;                    /* bytes of the hyphen at the end */
    if (L >= 2 && p[L - 1] == '-')
        hy = 1;
    else if (L >= 3 && p[L - 2] == 0xc2 && p[L - 1] == 0xad)           /* soft hyphen */
        hy = 2;
    else if (L >= 4 && p[L - 3] == 0xe2 && p[L - 2] == 0x80 && p[L - 1] == 0x90)   /* U+2010 */
        hy = 3;
    if (hy > 0) {
        uint8_t before = p[L - hy - 1];
        bool letter = (before >= 'a' && before <= 'z') || (before >= 'A' && before <= 'Z') || before >= 0x80;
        if (letter && is_lower_start(line) && !keeps_hyphen(line)) {
            para->len -= hy;          /* "Ken-" "nung": one word */
            return hh_xstr_append(para, line, n);
        }
        if (letter && !is_lower_start(line) && !(line[0] >= '0' && line[0] <= '9') && hy == 1 &&
            !keeps_hyphen(line)) {
            return hh_xstr_append(para, line, n);   /* "E-" "Mail" */
        }
        if (hy > 1)
            para->len -= hy;          /* a soft hyphen is never text */
    }
    int rc = hh_xstr_putc(para, ' ');
    return rc ? rc : hh_xstr_append(para, line, n);
}

static int layout_blocks(hh_xb_t *b, playout_t *L, hh_err_t *err)
{
    double pitch = line_pitch(L);
    hh_xstr_t para = { 0 };
    int rc = 0;
    int32_t para_page = 0, head_level = 0;
    const pline_t *prev = NULL;
    for (size_t i = 0; i <= L->n && rc == 0; i++) {
        const pline_t *l = i < L->n ? &L->v[i] : NULL;
        if (l && l->drop)
            continue;
        bool same_line = l && prev && prev->page == l->page && fabs(l->top - prev->top) < 0.5 * (l->height + 1);
        bool cont = false;
        if (l && prev && para.len > 0 && prev->page == l->page) {
            double gap = l->top - prev->top;
            if (l->level == 0 && head_level == 0)
                cont = same_line || (gap > 0 && gap <= (pitch > 0 ? pitch * 1.3 + 1 : prev->height * 1.6));
            else if (l->level > 0 && l->level == head_level)
                cont = same_line || (gap > 0 && gap <= prev->height * 1.8);
        }
        if (!cont && para.len > 0) {
            int32_t saved = b->page;
            b->page = para_page;
            rc = hh_xb_add(b, head_level ? HH_BLOCK_HEADING : HH_BLOCK_PARAGRAPH, head_level, para.data, para.len,
                           err);
            b->page = saved;
            para.len = 0;
            if (rc)
                break;
        }
        if (l == NULL)
            break;
        if (para.len == 0) {
            para_page = l->page;
            head_level = l->level;
        }
        if ((same_line ? (hh_xstr_putc(&para, ' ') || hh_xstr_append(&para, l->text, l->len))
                       : hh_x_pdf_join(&para, l->text, l->len)) != 0)
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        prev = l;
    }
    hh_xstr_free(&para);
    return rc;
}

/* The blocks of pdftohtml's XML; *size_levels gets the number of heading
 * levels set by font size (bold-only headings are below them). */
static int pdf_layout(hh_xb_t *b, const char *xml, size_t len, int *size_levels, hh_err_t *err)
{
    if (len > INT32_MAX)
        return hh_err_set(err, HH_ERANGE, -1, "pdftohtml output larger than 2 GiB");
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "pdf.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_RECOVER | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL)
        return hh_err_set(err, HH_EFORMAT, -1, "pdftohtml output could not be read");
    playout_t L;
    memset(&L, 0, sizeof L);
    int rc = collect_lines(&L, xmlDocGetRootElement(doc), err);
    xmlFreeDoc(doc);
    if (rc == 0 && (rc = mark_margins(&L, err)) == 0) {
        *size_levels = mark_headings(&L);
        rc = layout_blocks(b, &L, err);
    }
    layout_free(&L);
    return rc;
}

/* pdftohtml on a file: 0 with the blocks added; HH_EUNSUPPORTED when the
 * tool is missing or refuses the file (the caller falls back to pdftotext
 * for its error message); other errors as they are. */
static int pdf_via_xml(hh_xb_t *b, char *file, int *size_levels, hh_err_t *err)
{
    char *argv[] = { "pdftohtml", "-xml", "-i", "-stdout", "-q", "-enc", "UTF-8", file, NULL };
    hh_xstr_t out = { 0 };
    char ebuf[256];
    int status = 0;
    /* the XML is a few times the text it carries (~100 bytes of markup a line) */
    uint64_t cap = b->lim->output_bytes < (UINT64_MAX / 4) ? b->lim->output_bytes * 4 : UINT64_MAX;
    int rc = run_tool(argv, NULL, 0, b->lim, cap, &out, ebuf, sizeof ebuf, &status, err);
    if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out.len == 0))
        rc = WIFSIGNALED(status) && (WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGKILL)
                 ? hh_err_set(err, HH_ERANGE, -1, "pdftohtml killed by signal %d", WTERMSIG(status))
                 : HH_EUNSUPPORTED;
    if (rc == 0)
        rc = pdf_layout(b, out.data, out.len, size_levels, err);
    hh_xstr_free(&out);
    return rc;
}

int hh_x_pdf(hh_xb_t *b, const uint8_t *data, size_t len, const char *path, hh_err_t *err)
{
    /* a path that starts with '-' would read as an option */
    char *file = NULL;
    if (path != NULL) {
        size_t n = strlen(path);
        file = malloc(n + 3);
        if (file == NULL)
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        if (path[0] == '-') {
            memcpy(file, "./", 2);
            memcpy(file + 2, path, n + 1);
        } else {
            memcpy(file, path, n + 1);
        }
    } else if ((file = strdup("-")) == NULL) {
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    hh_xstr_t out = { 0 };
    char ebuf[1024];
    int status = 0;
    int rc;
    int size_levels = 0;
    if (path != NULL) {
        /* the title: the PDF's own, else a heading set in a larger font on
         * page 1; a bold "NAME" (man pages) is none, the file name is */
        b->no_heading_title = true;
        rc = pdf_via_xml(b, file, &size_levels, err);
        if (rc == 0 && b->doc->n_blocks > 0)
            goto title;
        if (rc != 0 && rc != HH_EUNSUPPORTED)
            goto cleanup;
        /* pdftotext says why (no text layer, copying forbidden, broken) */
        if (err)
            hh_err_clear(err);
        hh_doc_clear(b->doc);
        b->cap_blocks = 0;
        b->out_bytes = 0;
    }
    char *argv[] = { "pdftotext", "-layout", "-enc", "UTF-8", file, "-", NULL };
    rc = run_tool(argv, path ? NULL : data, len, b->lim, b->lim->output_bytes, &out,
                      ebuf, sizeof ebuf, &status, err);
    if (rc != 0)
        goto cleanup;
    first_line(ebuf);
    if (WIFSIGNALED(status)) {
        rc = hh_err_set(err, WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGKILL ? HH_ERANGE : HH_EFORMAT,
                        -1, "pdftotext killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        goto cleanup;
    }
    int code = WEXITSTATUS(status);
    if (code == 127) {
        rc = hh_err_set(err, HH_EUNSUPPORTED, -1, "pdftotext not found (install poppler-utils)");
        goto cleanup;
    }
    if (code == 3) {
        rc = hh_err_set(err, HH_EUNSUPPORTED, -1, "PDF does not permit copying its text: %s", ebuf);
        goto cleanup;
    }
    if (code != 0) {
        rc = hh_err_set(err, HH_EFORMAT, -1, "not a readable PDF (pdftotext exit %d): %s", code, ebuf);
        goto cleanup;
    }
    if ((rc = hh_x_text_paragraphs(b, out.data ? out.data : "", out.len, true, err)) != 0)
        goto cleanup;
    if (b->doc->n_blocks == 0) {
        rc = hh_err_set(err, HH_EUNSUPPORTED, -1, "PDF has no text layer (scanned pages need OCR, which is not supported)");
        goto cleanup;
    }
title:
    if (pdf_title(b, file, data, len) != 0) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < b->doc->n_blocks && b->doc->title == NULL; i++) {
        const hh_block_t *h = &b->doc->blocks[i];
        if (h->page > 1)
            break;
        if (h->kind == HH_BLOCK_HEADING && h->level <= size_levels &&
            hh_xb_title(b, h->text, h->len) != 0)
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
cleanup:
    hh_xstr_free(&out);
    free(file);
    return rc;
}
