/* test_base.c - error table, threadpool, CPU detection. */
#include "harness.h"
#include "base/cpu.h"
#include "base/err.h"
#include "base/threadpool.h"

#include <stdatomic.h>

TEST(err_table_has_messages)
{
    ASSERT_STREQ(hh_strerror(HH_OK), "success");
    ASSERT_STREQ(hh_strerror(HH_ETRUNC), "truncated data");
    ASSERT_STREQ(hh_strerror(12345), "unknown error");
    hh_err_t e;
    hh_err_clear(&e);
    ASSERT_EQ_INT(hh_err_set(&e, HH_EFORMAT, 42, "bad field %s", "n_kv"), HH_EFORMAT);
    ASSERT_EQ_INT(e.pos, 42);
    char buf[256];
    ASSERT_STREQ(hh_err_describe(&e, buf, sizeof buf), "bad field n_kv (malformed data, at byte 42)");
    ASSERT_EQ_INT(hh_err_set(NULL, HH_EIO, 0, "ignored"), HH_EIO);
}

struct sum_ctx { atomic_long sum; long n; };

static void sum_range(void *vctx, int ith, int nth)
{
    struct sum_ctx *c = vctx;
    long lo, hi, s = 0;
    hh_pool_split(c->n, ith, nth, 1, &lo, &hi);
    for (long i = lo; i < hi; i++) s += i;
    atomic_fetch_add(&c->sum, s);
}

TEST(threadpool_runs_every_part_once)
{
    for (int nt = 1; nt <= 4; nt++) {
        hh_pool_t *p;
        ASSERT_OK(hh_pool_create(&p, nt));
        ASSERT_EQ_INT(hh_pool_size(p), nt);
        for (int rep = 0; rep < 200; rep++) {
            struct sum_ctx c = { .n = 1000 + rep };
            atomic_init(&c.sum, 0);
            hh_pool_run(p, sum_range, &c);
            ASSERT_EQ_INT(atomic_load(&c.sum), (long)c.n * (c.n - 1) / 2);
        }
        hh_pool_free(p);
    }
    hh_pool_t *bad;
    ASSERT_EQ_INT(hh_pool_create(&bad, 0), HH_EINVAL);
}

TEST(threadpool_split_is_aligned_and_covers)
{
    long lo, hi, prev = 0;
    for (int i = 0; i < 3; i++) {
        hh_pool_split(100, i, 3, 16, &lo, &hi);
        ASSERT_EQ_INT(lo, prev);
        ASSERT_EQ_INT(lo % 16, 0);
        prev = hi;
    }
    ASSERT_EQ_INT(prev, 100);
}

TEST(cpu_isa_is_supported)
{
    ASSERT_TRUE(hh_cpu_supports(HH_ISA_SCALAR));
    ASSERT_TRUE(hh_cpu_supports(hh_cpu_isa()));
    ASSERT_GE(hh_cpu()->n_cores, 1);
}
