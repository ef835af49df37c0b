// unzip: a deliberately naive archive extractor, the kind that Zip-Slip exploits. It
// extracts into the directory DEST every entry of a tiny built-in archive, or the entries
// given as arguments (`f:NAME=CONTENT` a file, `l:NAME=TARGET` a symbolic link), joining
// names to DEST without any check: `../../x`, `/etc/x`, `a/../../x` are written as given.
// Parent directories are created first, like `mkdir -p`.
//
//   unzip DEST [ENTRY...]
//
// One line per entry: `NAME: ok`, or `NAME: OP errno=N` for the first operation that
// failed (OP is mkdir, open, write or symlink; N the WASI errno). Exit code 0 when every
// entry was extracted, 1 otherwise.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct entry {
    char kind; // 'f' file, 'l' symlink
    const char *name;
    const char *data; // contents, or the link's target
};

static const struct entry builtin[] = {
    {'f', "hello.txt", "hello\n"},
    {'f', "docs/readme.txt", "nested\n"},
    {'f', "../../x", "escaped\n"},
    {'f', "/etc/x", "escaped\n"},
    {'f', "a/../../x", "escaped\n"},
    {'f', "docs/../../../x", "escaped\n"},
    {'l', "up", "../.."},
    {'f', "up/x", "escaped\n"},
};

// Creates every parent directory of `name` below `root` (errors other than EEXIST count).
static int parents(int root, const char *name) {
    char path[4096];
    size_t len = strlen(name);
    if (len >= sizeof path) return ENAMETOOLONG;
    memcpy(path, name, len + 1);
    for (size_t i = 1; i < len; i++) {
        if (path[i] != '/') continue;
        path[i] = 0;
        int r = mkdirat(root, path, 0777);
        path[i] = '/';
        if (r != 0 && errno != EEXIST) return errno;
    }
    return 0;
}

static int extract(int root, const struct entry *e) {
    int err = parents(root, e->name);
    if (err) {
        printf("%s: mkdir errno=%d\n", e->name, err);
        return 1;
    }
    if (e->kind == 'l') {
        if (symlinkat(e->data, root, e->name) != 0) {
            printf("%s: symlink errno=%d\n", e->name, errno);
            return 1;
        }
    } else {
        int fd = openat(root, e->name, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd < 0) {
            printf("%s: open errno=%d\n", e->name, errno);
            return 1;
        }
        size_t len = strlen(e->data);
        if (write(fd, e->data, len) != (ssize_t)len) {
            printf("%s: write errno=%d\n", e->name, errno);
            close(fd);
            return 1;
        }
        close(fd);
    }
    printf("%s: ok\n", e->name);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: unzip DEST [f:NAME=CONTENT | l:NAME=TARGET]...\n");
        return 2;
    }
    int root = open(argv[1], O_RDONLY | O_DIRECTORY);
    if (root < 0) {
        printf("%s: open errno=%d\n", argv[1], errno);
        return 1;
    }
    int failed = 0;
    if (argc == 2) {
        for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
            failed |= extract(root, &builtin[i]);
    } else {
        for (int i = 2; i < argc; i++) {
            static char name[4096];
            const char *arg = argv[i];
            const char *eq = strchr(arg, '=');
            if ((arg[0] != 'f' && arg[0] != 'l') || arg[1] != ':' || !eq ||
                (size_t)(eq - arg - 2) >= sizeof name) {
                fprintf(stderr, "unzip: bad entry %s\n", arg);
                return 2;
            }
            memcpy(name, arg + 2, (size_t)(eq - arg - 2));
            name[eq - arg - 2] = 0;
            struct entry e = {arg[0], name, eq + 1};
            failed |= extract(root, &e);
        }
    }
    return failed;
}
