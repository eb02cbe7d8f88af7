/* cmd_version.c - `hoheit --version` / `hoheit version`: the release, the
 * git commit it was built from, the compiler and flags, and the CPU
 * features found at run time with the kernel ISA in use. The build values
 * come from the generated hh_version.h (scripts/version.sh, Makefile). */
#include "cli/cmd.h"
#include "base/cpu.h"

#include "hh_version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *hh_version_string(void)
{
    return HH_VERSION;
}

int hh_cmd_version(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: hoheit --version   release, commit, build flags, CPU features, kernel ISA\n");
            return 0;
        }
        fprintf(stderr, "version: unknown option %s\n", argv[i]);
        return 2;
    }
    const hh_cpu_t *c = hh_cpu();
    const struct { const char *name; bool on; } feats[] = {
        { "avx2", c->avx2 },         { "fma", c->fma },           { "f16c", c->f16c },
        { "bmi2", c->bmi2 },         { "avx512f", c->avx512f },   { "avx512bw", c->avx512bw },
        { "avx512vl", c->avx512vl }, { "avx512dq", c->avx512dq }, { "avx512vnni", c->avx512vnni },
        { "avx512bf16", c->avx512bf16 }, { "avxvnni", c->avxvnni }, { "neon", c->neon },
    };
    printf("hoheit %s\n", HH_VERSION);
    printf("commit:   %s\n", HH_GIT_COMMIT);
    printf("compiler: %s\n", HH_BUILD_CC);
    printf("flags:    %s\n", HH_BUILD_FLAGS);
    printf("cpu:     ");
    int n = 0;
    for (size_t i = 0; i < sizeof feats / sizeof feats[0]; i++)
        if (feats[i].on) {
            printf(" %s", feats[i].name);
            n++;
        }
    printf("%s (%d cores)\n", n ? "" : " (baseline only)", c->n_cores);
    const char *cap = getenv("HOHEIT_ISA");
    hh_isa_t isa = hh_cpu_isa();
    printf("kernels:  %s", hh_isa_name(isa));
    if (cap && cap[0])
        printf(" (HOHEIT_ISA=%s)", cap);
    printf("\n");
    return 0;
}
