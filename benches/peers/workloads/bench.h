/* Shared by the C workloads: the sightglass timing protocol and a scale argument.
 *
 * In wasm, bench_start/bench_end are the host imports bench.start/bench.end, so the
 * harness times exactly the same region in every runtime. Natively (gcc -O2) they read
 * CLOCK_MONOTONIC and bench_end prints "bench-ns: N" on stderr for the harness.
 *
 * Every workload takes its size from argv[1], so gcc cannot fold the work into a
 * constant, and prints a checksum on stdout that the harness compares across runtimes. */
#ifndef BENCH_H
#define BENCH_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

#ifdef __wasm__
__attribute__((import_module("bench"), import_name("start"))) void bench_start(void);
__attribute__((import_module("bench"), import_name("end"))) void bench_end(void);
#else
#include <time.h>
static struct timespec bench_t0;
static void bench_start(void) { clock_gettime(CLOCK_MONOTONIC, &bench_t0); }
static void bench_end(void) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ns = (long long)(t1.tv_sec - bench_t0.tv_sec) * 1000000000LL +
                   (t1.tv_nsec - bench_t0.tv_nsec);
    fprintf(stderr, "bench-ns: %lld\n", ns);
}
#endif

/* argv[1] as a number, or `fallback`. */
static long scale_arg(int argc, char **argv, long fallback) {
    return argc > 1 ? atol(argv[1]) : fallback;
}
#endif
