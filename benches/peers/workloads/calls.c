/* Call-heavy code: many small functions that are never inlined, called directly and
 * through a function-pointer table (call_indirect). */
#include "bench.h"

NOINLINE static uint32_t f0(uint32_t x) { return x + 1; }
NOINLINE static uint32_t f1(uint32_t x) { return x ^ 0x5bd1e995u; }
NOINLINE static uint32_t f2(uint32_t x) { return x * 3u; }
NOINLINE static uint32_t f3(uint32_t x) { return (x << 5) | (x >> 27); }
NOINLINE static uint32_t f4(uint32_t x, uint32_t y) { return x + y; }
NOINLINE static uint32_t f5(uint32_t x, uint32_t y) { return x - (y >> 1); }
NOINLINE static uint32_t f6(uint32_t x, uint32_t y, uint32_t z) { return (x & y) | z; }
NOINLINE static uint32_t f7(uint32_t x) { return f0(f1(x)); }
NOINLINE static uint32_t f8(uint32_t x) { return f2(f3(x)); }
NOINLINE static uint32_t f9(uint32_t x) { return f4(f7(x), f8(x)); }

typedef uint32_t (*unary)(uint32_t);
static unary table[8] = {f0, f1, f2, f3, f7, f8, f9, f0};

int main(int argc, char **argv) {
    uint32_t n = (uint32_t)scale_arg(argc, argv, 5000000);
    bench_start();
    uint32_t acc = 7;
    for (uint32_t i = 0; i < n; i++) {
        acc = f9(acc);
        acc = f5(acc, i);
        acc = f6(acc, i, acc >> 3);
        acc = table[acc & 7](acc);     /* indirect */
        acc = table[(i >> 2) & 7](acc);
    }
    bench_end();
    printf("calls(%u) = %08x\n", n, acc);
    return 0;
}
