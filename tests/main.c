/* main.c - test runner: runs every registered test (or those whose name
 * contains argv[1]) and ends with the line "N passed, N failed, N skipped".
 * Exit status 1 if any failed (a skip alone is status 0; under
 * HOHEIT_NO_SKIP=1 a skip is a failure, see harness.h). */
#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_TESTS 4096

struct test { const char *name, *file; hh_test_fn fn; };
static struct test g_tests[MAX_TESTS];
static int g_n_tests;
static int g_failed_now;
static int g_skipped_now;
static char g_skip_reason[512];

void hh_test_register(const char *name, const char *file, hh_test_fn fn)
{
    if (g_n_tests >= MAX_TESTS) {
        fprintf(stderr, "harness: too many tests (raise MAX_TESTS)\n");
        exit(2);
    }
    g_tests[g_n_tests++] = (struct test){ name, file, fn };
}

void hh_test_fail(const char *file, int line, const char *fmt, ...)
{
    g_failed_now = 1;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "    %s:%d: ", file, line);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

void hh_test_skip(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_skip_reason, sizeof g_skip_reason, fmt, ap);
    va_end(ap);
    const char *no_skip = getenv("HOHEIT_NO_SKIP");
    if (no_skip && strcmp(no_skip, "0") != 0 && no_skip[0] != '\0') {
        g_failed_now = 1;
        printf("    %s:%d: would skip (%s), but HOHEIT_NO_SKIP is set\n", file, line, g_skip_reason);
        return;
    }
    g_skipped_now = 1;
}

const char *hh_test_data_path(const char *rel)
{
    static char bufs[8][4096];
    static int slot;
    char *b = bufs[slot++ % 8];
    const char *root = getenv("HOHEIT_TESTDATA");
    snprintf(b, 4096, "%s/%s", root ? root : "../shared/testdata", rel);
    return b;
}

const char *hh_test_tmpdir(void)
{
    static char dir[256];
    if (dir[0] == '\0') {
        snprintf(dir, sizeof dir, "/tmp/hoheit-tests-XXXXXX");
        if (mkdtemp(dir) == NULL) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return dir;
}

void *hh_test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return NULL; }
    long n = ftell(f);
    rewind(f);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); fclose(f); return NULL; }
    buf[n] = '\0';
    fclose(f);
    if (size) *size = (size_t)n;
    return buf;
}

static int cmp_test(const void *a, const void *b)
{
    const struct test *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    qsort(g_tests, (size_t)g_n_tests, sizeof g_tests[0], cmp_test);
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < g_n_tests; i++) {
        const struct test *t = &g_tests[i];
        if (filter && !strstr(t->name, filter) && !strstr(t->file, filter))
            continue;
        g_failed_now = 0;
        g_skipped_now = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        t->fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (g_failed_now) {
            printf("FAIL %s (%.0f ms)\n", t->name, ms);
            failed++;
        } else if (g_skipped_now) {
            printf("skip %s (%s)\n", t->name, g_skip_reason);
            skipped++;
        } else {
            printf("ok   %s (%.0f ms)\n", t->name, ms);
            passed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed == 0 ? 0 : 1;
}
