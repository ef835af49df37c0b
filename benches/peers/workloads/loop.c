/* A tight arithmetic loop: locals, adds, multiplies, shifts, one backward branch. */
#include "bench.h"

int main(int argc, char **argv) {
    uint32_t n = (uint32_t)scale_arg(argc, argv, 100000000);
    bench_start();
    uint32_t x = 1, acc = 0;
    for (uint32_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        acc += (x >> 16) ^ i;
        acc = (acc << 3) | (acc >> 29);
    }
    bench_end();
    printf("loop(%u) = %08x\n", n, acc);
    return 0;
}
