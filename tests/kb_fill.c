/* kb_fill.c - the test run's shared analyzer (kb_fill.h). */
#include "kb_fill.h"

#include <stdlib.h>

static hh_analyzer_t *g_an;

static void analyzer_free_at_exit(void)
{
    hh_analyzer_free(g_an);
    g_an = NULL;
}

hh_analyzer_t *hh_test_analyzer(void)
{
    if (!g_an) {
        hh_err_t err;
        if (hh_analyzer_create(&g_an, NULL, &err) != 0)
            return NULL;
        hh_analyzer_load(g_an);
        atexit(analyzer_free_at_exit);
    }
    return g_an;
}
