/* Recursive fib: call/return overhead and a little arithmetic. */
#include "bench.h"

NOINLINE static uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int main(int argc, char **argv) {
    uint32_t n = (uint32_t)scale_arg(argc, argv, 32);
    bench_start();
    uint32_t r = fib(n);
    bench_end();
    printf("fib(%u) = %u\n", n, r);
    return 0;
}
