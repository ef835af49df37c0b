/* memcpy/memset-heavy code; built with -mbulk-memory so they become memory.copy and
 * memory.fill. Block sizes from 16 B to 64 KiB at varying offsets. */
#include "bench.h"

#define SIZE (1 << 20)
static uint8_t a[SIZE], b[SIZE];

int main(int argc, char **argv) {
    uint32_t rounds = (uint32_t)scale_arg(argc, argv, 200000);
    for (uint32_t i = 0; i < SIZE; i++) a[i] = (uint8_t)(i * 7 + (i >> 9));
    bench_start();
    uint32_t x = 12345;
    for (uint32_t r = 0; r < rounds; r++) {
        x = x * 1103515245u + 12345u;
        uint32_t len = 16u << ((x >> 8) % 13);           /* 16 B .. 64 KiB */
        uint32_t from = (x >> 4) % (SIZE - len);
        uint32_t to = (x * 31u) % (SIZE - len);
        if (r % 3 == 0) {
            memset(b + to, (int)(x >> 24), len);
        } else if (r % 3 == 1) {
            memcpy(b + to, a + from, len);
        } else {
            memmove(a + to, a + from, len);              /* overlapping copies too */
        }
        b[(x >> 3) % SIZE] ^= (uint8_t)r;
    }
    bench_end();
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < SIZE; i += 61) h = (h ^ a[i] ^ ((uint32_t)b[i] << 8)) * 16777619u;
    printf("memops(%u) = %08x\n", rounds, h);
    return 0;
}
