// walk: lists every entry below each directory named on the command line, depth first,
// entries of a directory sorted by name (bytewise). One line per entry, the path relative
// to the argument:
//   d NAME/          a directory (then its contents)
//   f SIZE NAME      a regular file and its size in bytes
//   l NAME -> TARGET a symbolic link (not followed)
//   ? NAME           anything else
// An error is printed on stderr as "walk: PATH: errno=N" and makes the exit code 1.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int status = 0;

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void fail(const char *path) {
    fprintf(stderr, "walk: %s: errno=%d\n", path, errno);
    status = 1;
}

// A freshly allocated "a/b" (or "a" when b is empty, "b" when a is empty).
static char *join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *out = malloc(la + lb + 2);
    if (!out) abort();
    memcpy(out, a, la);
    size_t n = la;
    if (la && lb) out[n++] = '/';
    memcpy(out + n, b, lb + 1);
    return out;
}

// Paths live on the heap: wasm's shadow stack is small (64 KiB by default).
static void walk(const char *root, const char *rel) {
    char *dir = join(root, rel);
    DIR *d = opendir(dir);
    if (!d) {
        fail(dir);
        free(dir);
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = realloc(names, cap * sizeof *names);
        }
        names[n++] = strdup(e->d_name);
    }
    if (errno) fail(dir);
    closedir(d);
    free(dir);
    qsort(names, n, sizeof *names, cmp);
    for (size_t i = 0; i < n; i++) {
        char *sub = join(rel, names[i]);
        char *full = join(root, sub);
        struct stat st;
        if (lstat(full, &st) != 0) {
            fail(full);
        } else if (S_ISDIR(st.st_mode)) {
            printf("d %s/\n", sub);
            walk(root, sub);
        } else if (S_ISREG(st.st_mode)) {
            printf("f %lld %s\n", (long long)st.st_size, sub);
        } else if (S_ISLNK(st.st_mode)) {
            char *target = malloc((size_t)st.st_size + 1);
            ssize_t len = target ? readlink(full, target, (size_t)st.st_size + 1) : -1;
            if (len < 0) {
                fail(full);
            } else {
                target[len < st.st_size ? len : st.st_size] = 0;
                printf("l %s -> %s\n", sub, target);
            }
            free(target);
        } else {
            printf("? %s\n", sub);
        }
        free(sub);
        free(full);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) walk(argv[i], "");
    return status;
}
