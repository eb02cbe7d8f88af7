/* cmd_quantize.c - `hoheit quantize IN OUT TYPE [--pure] [-t THREADS]`:
 * a thin CLI over hh_quantize_file (kernels/quantize.h). */
#include "cli/cmd.h"

#include "base/err.h"
#include "kernels/quantize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void quantize_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit quantize IN.gguf OUT.gguf TYPE [--pure] [-t THREADS]\n"
            "\n"
            "Converts the F32/F16/BF16 weights of IN to TYPE (norms and biases stay F32).\n"
            "  TYPE         %s\n"
            "  --pure       every 2-D weight gets TYPE (no per-tensor mixture)\n"
            "  -t THREADS   worker threads (default: online CPUs)\n",
            hh_quant_mix_names());
}

int hh_cmd_quantize(int argc, char **argv)
{
    const char *pos[3] = { NULL, NULL, NULL };
    int n_pos = 0;
    hh_quantize_params_t p = hh_quantize_default_params();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    p.n_threads = ncpu > 0 ? (int)(ncpu > 64 ? 64 : ncpu) : 1;
    p.verbose = true;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            quantize_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--pure")) {
            p.pure = true;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            char *end;
            if (i + 1 >= argc) {
                fprintf(stderr, "hoheit quantize: %s needs a value\n", a);
                return 2;
            }
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 64) {
                fprintf(stderr, "hoheit quantize: bad thread count '%s' (1..64)\n", argv[i]);
                return 2;
            }
            p.n_threads = (int)v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "hoheit quantize: unknown option '%s'\n", a);
            quantize_usage(stderr);
            return 2;
        } else if (n_pos < 3) {
            pos[n_pos++] = a;
        } else {
            fprintf(stderr, "hoheit quantize: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (n_pos != 3) {
        quantize_usage(stderr);
        return 2;
    }
    if (!hh_quant_mix_find(pos[2])) {
        fprintf(stderr, "hoheit quantize: unknown type '%s' (known: %s)\n", pos[2], hh_quant_mix_names());
        return 2;
    }

    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_quantize_file(pos[0], pos[1], pos[2], &p, &err);
    if (rc != HH_OK) {
        char buf[700];
        fprintf(stderr, "hoheit quantize: %s\n", hh_err_describe(&err, buf, sizeof buf));
        return 1;
    }
    return 0;
}
