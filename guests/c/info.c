// info: prints what the program was given and what it sees of the world, one item a line:
//   argc=N, argv[i]=..., envc=N, env[i]=..., the wall clock (realtime=SECONDS.NANOS),
//   the monotonic clock (monotonic=NANOS), 16 bytes of random_get (random=HEX).
#include <stdio.h>
#include <time.h>
#include <wasi/api.h>

extern char **environ;

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    int envc = 0;
    while (environ[envc]) envc++;
    printf("envc=%d\n", envc);
    for (int i = 0; i < envc; i++) printf("env[%d]=%s\n", i, environ[i]);
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 1;
    printf("realtime=%lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
    __wasi_timestamp_t mono;
    if (__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &mono) != 0) return 1;
    printf("monotonic=%llu\n", (unsigned long long)mono);
    unsigned char random[16];
    if (__wasi_random_get(random, sizeof random) != 0) return 1;
    printf("random=");
    for (size_t i = 0; i < sizeof random; i++) printf("%02x", random[i]);
    printf("\n");
    return 0;
}
