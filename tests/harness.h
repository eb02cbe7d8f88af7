/* harness.h - hoheit's tiny test harness.
 *
 *   TEST(gguf_reads_header) { ... ASSERT_EQ_INT(a, b); ... }
 *
 * Tests register themselves at load time; tests/main.c runs them all (or
 * those whose name contains argv[1]) and ends with
 * "N passed, N failed, N skipped".
 *
 * SKIP("no F16C") ends a test that cannot run here (missing CPU feature,
 * HOHEIT_BIN not set, a tool not installed): it is reported as
 * "skip NAME (reason)" and counted as skipped, never as passed. With
 * HOHEIT_NO_SKIP=1 in the environment (CI, tests/fresh/run.sh) every SKIP
 * is a failure instead: what CI installs and what the project ships must be
 * there. Data the project ships or installs is never a reason to SKIP: its
 * absence is an ordinary failure.
 * Assertions print both sides and return from the test; they are never
 * compiled out. Test data: hh_test_data_path("reference/x.gguf") resolves
 * against $HOHEIT_TESTDATA or ../shared/testdata. */
#ifndef HH_TESTS_HARNESS_H
#define HH_TESTS_HARNESS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*hh_test_fn)(void);
void hh_test_register(const char *name, const char *file, hh_test_fn fn);
/* Marks the running test failed (used by the ASSERT macros). */
void hh_test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Ends the running test as skipped with the reason (a failure under
 * HOHEIT_NO_SKIP=1); use through SKIP, which also returns. */
void hh_test_skip(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Path of a file under the shared test data directory (static buffer per call slot; copy if kept). */
const char *hh_test_data_path(const char *rel);
/* A fresh private temporary directory for this test run (created once). */
const char *hh_test_tmpdir(void);
/* Reads a whole file; caller frees. NULL if unreadable. */
void *hh_test_read_file(const char *path, size_t *size);

#define TEST(name)                                                               \
    static void test_##name(void);                                               \
    __attribute__((constructor)) static void register_##name(void)               \
    { hh_test_register(#name, __FILE__, test_##name); }                          \
    static void test_##name(void)

#define SKIP(...) do { hh_test_skip(__FILE__, __LINE__, __VA_ARGS__); return; } while (0)

#define ASSERT_TRUE(c) do { if (!(c)) { hh_test_fail(__FILE__, __LINE__, "expected true: %s", #c); return; } } while (0)
#define ASSERT_FALSE(c) do { if (c) { hh_test_fail(__FILE__, __LINE__, "expected false: %s", #c); return; } } while (0)

#define ASSERT_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b);               \
    if (_a != _b) { hh_test_fail(__FILE__, __LINE__, "%s == %s: expected %lld, got %lld",           \
                                 #a, #b, _b, _a); return; } } while (0)
#define ASSERT_NE_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b);               \
    if (_a == _b) { hh_test_fail(__FILE__, __LINE__, "%s != %s: both are %lld", #a, #b, _a); return; } } while (0)
#define ASSERT_LE(a, b) do { double _a = (double)(a), _b = (double)(b);                            \
    if (!(_a <= _b)) { hh_test_fail(__FILE__, __LINE__, "%s <= %s: %g > %g", #a, #b, _a, _b); return; } } while (0)
#define ASSERT_GE(a, b) do { double _a = (double)(a), _b = (double)(b);                            \
    if (!(_a >= _b)) { hh_test_fail(__FILE__, __LINE__, "%s >= %s: %g < %g", #a, #b, _a, _b); return; } } while (0)
#define ASSERT_NEAR(a, b, tol) do { double _a = (double)(a), _b = (double)(b), _t = (double)(tol); \
    if (!(fabs(_a - _b) <= _t)) { hh_test_fail(__FILE__, __LINE__, "%s ~ %s: expected %.9g, got %.9g (tol %g)", \
                                              #a, #b, _b, _a, _t); return; } } while (0)
#define ASSERT_STREQ(a, b) do { const char *_a = (a), *_b = (b);                                   \
    if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0) {                                         \
        hh_test_fail(__FILE__, __LINE__, "%s == %s: expected \"%s\", got \"%s\"", #a, #b,         \
                     _b ? _b : "(null)", _a ? _a : "(null)"); return; } } while (0)
#define ASSERT_OK(expr) do { int _rc = (expr);                                                    \
    if (_rc != 0) { hh_test_fail(__FILE__, __LINE__, "%s: expected 0, got %d", #expr, _rc); return; } } while (0)

#endif
