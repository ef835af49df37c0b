// cat: copies each file named on the command line to stdout, in order.
// A file that cannot be opened or read is reported on stderr as
// "cat: PATH: errno=N" (N is the WASI errno) and makes the exit code 1.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int status = 0;
    char buf[4096];
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) {
            fprintf(stderr, "cat: %s: errno=%d\n", argv[i], errno);
            status = 1;
            continue;
        }
        for (;;) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n < 0) {
                fprintf(stderr, "cat: %s: errno=%d\n", argv[i], errno);
                status = 1;
                break;
            }
            if (n == 0) break;
            if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) return 1;
        }
        close(fd);
    }
    return status;
}
