// escape: tries every way out of its sandbox that tests/escape.rs knows of, through raw
// WASI preview1 calls (so wasi-libc's own path handling cannot hide anything from the
// runtime), and prints one line per attempt:
//
//   LABEL ERRNO            the WASI errno the runtime answered (0: the call succeeded)
//   LABEL 0 read=TEXT      for an open that succeeded: what could be read through it
//
// Expected grants (tests/escape.rs sets them up): fd 3 a read-write preopen (`--dir`) of
// the sandbox, fd 4 a read-only preopen (`--dir-ro`); argv[1] is the absolute host path
// of a secret file outside both. Every attempt must fail; the test asserts each errno,
// that the audit log records it, and that nothing on the host changed.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#define RW 3
#define RO 4
#define FOLLOW __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define R_READ __WASI_RIGHTS_FD_READ
#define R_WRITE __WASI_RIGHTS_FD_WRITE
#define CREAT __WASI_OFLAGS_CREAT
#define DIRECTORY __WASI_OFLAGS_DIRECTORY
#define TRUNC __WASI_OFLAGS_TRUNC
#define MTIM __WASI_FSTFLAGS_MTIM

// path_open with a pointer and length of our choosing (the libc wrapper takes a C string).
__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_open"))) int32_t
raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_len, int32_t oflags,
              int64_t base, int64_t inheriting, int32_t fdflags, int32_t out);

static void report(const char *label, int err) { printf("%s %d\n", label, err); }

// Opens `path` under `dir`; on success prints what it could read and closes the fd.
static void try_open(const char *label, int dir, int lookup, const char *path, int oflags,
                     __wasi_rights_t rights, int fdflags) {
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(dir, lookup, path, oflags, rights, rights, fdflags, &fd);
    if (e != 0) {
        report(label, e);
        return;
    }
    char buf[65] = {0};
    __wasi_iovec_t iov = {(uint8_t *)buf, 64};
    __wasi_size_t n = 0;
    if (rights & R_READ) (void)__wasi_fd_read(fd, &iov, 1, &n);
    for (__wasi_size_t i = 0; i < n; i++)
        if (buf[i] < 32 || buf[i] > 126) buf[i] = '.';
    buf[n] = 0;
    printf("%s 0 read=%s\n", label, buf);
    (void)__wasi_fd_close(fd);
}

static void escapes(const char *host_secret) {
    // Reading outside through `..`, absolute paths and /proc.
    try_open("dotdot", RW, FOLLOW, "../secret2.txt", 0, R_READ, 0);
    try_open("dotdot-deep", RW, FOLLOW, "../../../secret.txt", 0, R_READ, 0);
    try_open("dotdot-sub", RW, FOLLOW, "sub/../../secret2.txt", 0, R_READ, 0);
    try_open("dotdot-dot", RW, FOLLOW, "./../secret2.txt", 0, R_READ, 0);
    try_open("dotdot-dir", RW, FOLLOW, "..", DIRECTORY, R_READ, 0);
    try_open("dotdot-ro", RO, FOLLOW, "../secret.txt", 0, R_READ, 0);
    try_open("abs-etc", RW, FOLLOW, "/etc/passwd", 0, R_READ, 0);
    try_open("abs-host", RW, FOLLOW, host_secret, 0, R_READ, 0);
    try_open("abs-root-dir", RW, FOLLOW, "/", DIRECTORY, R_READ, 0);
    try_open("proc-self", RW, FOLLOW, "/proc/self/environ", 0, R_READ, 0);
    try_open("proc-self-rel", RW, FOLLOW, "../../../../../../../../../../proc/self/environ", 0,
             R_READ, 0);
    // Symbolic links inside the sandbox that point outside, loops.
    try_open("symlink-out", RW, FOLLOW, "link-out", 0, R_READ, 0);
    try_open("symlink-abs", RW, FOLLOW, "link-abs", 0, R_READ, 0);
    try_open("symlink-etc", RW, FOLLOW, "link-etc", 0, R_READ, 0);
    try_open("symlink-proc-root", RW, FOLLOW, "link-proc/etc/passwd", 0, R_READ, 0);
    try_open("symlink-dir", RW, FOLLOW, "link-dir/secret.txt", 0, R_READ, 0);
    try_open("symlink-chain", RW, FOLLOW, "sub/chain", 0, R_READ, 0);
    try_open("symlink-opendir", RW, FOLLOW, "link-dir", DIRECTORY, R_READ, 0);
    try_open("symlink-loop", RW, FOLLOW, "loop-a", 0, R_READ, 0);
    try_open("symlink-self", RW, FOLLOW, "self", 0, R_READ, 0);
    try_open("symlink-loop-dir", RW, FOLLOW, "loop-a/x", 0, R_READ, 0);
    {
        __wasi_filestat_t st;
        report("stat-dotdot", __wasi_path_filestat_get(RW, FOLLOW, "../secret2.txt", &st));
        report("stat-symlink-out", __wasi_path_filestat_get(RW, FOLLOW, "link-out", &st));
        report("stat-abs", __wasi_path_filestat_get(RW, FOLLOW, "/etc/passwd", &st));
        uint8_t buf[256];
        __wasi_size_t n;
        report("readlink-via-link-dir",
               __wasi_path_readlink(RW, "link-dir/inner/sb/link-out", buf, sizeof buf, &n));
    }
    // Creating, truncating, modifying outside.
    try_open("create-dotdot", RW, FOLLOW, "../x", CREAT, R_WRITE, 0);
    try_open("create-deep", RW, FOLLOW, "../../x", CREAT, R_WRITE, 0);
    try_open("create-sub", RW, FOLLOW, "sub/../../x", CREAT, R_WRITE, 0);
    try_open("create-abs", RW, FOLLOW, "/etc/x", CREAT, R_WRITE, 0);
    try_open("create-via-link-dir", RW, FOLLOW, "link-dir/x", CREAT, R_WRITE, 0);
    try_open("create-via-dangling", RW, FOLLOW, "dangling", CREAT, R_WRITE, 0);
    try_open("trunc-via-link", RW, FOLLOW, "link-out", TRUNC, R_WRITE, 0);
    report("mkdir-dotdot", __wasi_path_create_directory(RW, "../newdir"));
    report("mkdir-abs", __wasi_path_create_directory(RW, "/newdir"));
    report("mkdir-via-link-dir", __wasi_path_create_directory(RW, "link-dir/newdir"));
    report("rmdir-dotdot", __wasi_path_remove_directory(RW, "../sibling"));
    report("unlink-dotdot", __wasi_path_unlink_file(RW, "../secret2.txt"));
    report("unlink-via-link-dir", __wasi_path_unlink_file(RW, "link-dir/inner/secret2.txt"));
    report("settimes-dotdot",
           __wasi_path_filestat_set_times(RW, FOLLOW, "../secret2.txt", 0, 0, MTIM));
    report("settimes-symlink-out",
           __wasi_path_filestat_set_times(RW, FOLLOW, "link-out", 0, 0, MTIM));
    // Hard links and renames with a source or target outside.
    report("link-from-dotdot", __wasi_path_link(RW, 0, "../secret2.txt", RW, "hard"));
    report("link-to-dotdot", __wasi_path_link(RW, 0, "inside.txt", RW, "../hard"));
    report("link-follow-symlink-out", __wasi_path_link(RW, FOLLOW, "link-out", RW, "hard"));
    report("link-to-abs", __wasi_path_link(RW, 0, "inside.txt", RW, "/tmp/hard"));
    report("rename-to-dotdot", __wasi_path_rename(RW, "inside.txt", RW, "../moved"));
    report("rename-from-dotdot", __wasi_path_rename(RW, "../secret2.txt", RW, "mine"));
    report("rename-via-link-dir", __wasi_path_rename(RW, "inside.txt", RW, "link-dir/moved"));
    report("rename-to-abs", __wasi_path_rename(RW, "inside.txt", RW, "/tmp/moved"));
    // Bad pointers are the guest's own problem, never the host's.
    report("fault-path", raw_path_open(RW, 0, 0x7ffffff0, 64, 0, R_READ, 0, 0, 0));
    // A result pointer out of bounds: nothing is opened (no fd leaks into the table, see
    // fds-open) and nothing is created.
    report("fault-out", raw_path_open(RW, 0, (int32_t)(uintptr_t) "inside.txt", 10, 0, R_READ, 0, 0,
                                       -4));
    report("fault-out-create", raw_path_open(RW, 0, (int32_t)(uintptr_t) "fault-created", 13,
                                             CREAT, R_WRITE, 0, 0, -4));
}

static void read_only(void) {
    try_open("ro-open-write", RO, FOLLOW, "file.txt", 0, R_WRITE, 0);
    try_open("ro-open-rw", RO, FOLLOW, "file.txt", 0, R_READ | R_WRITE, 0);
    try_open("ro-create", RO, FOLLOW, "new.txt", CREAT, R_WRITE, 0);
    try_open("ro-create-read", RO, FOLLOW, "new.txt", CREAT, R_READ, 0);
    try_open("ro-trunc", RO, FOLLOW, "file.txt", TRUNC, R_READ, 0);
    try_open("ro-append", RO, FOLLOW, "file.txt", 0, R_READ, __WASI_FDFLAGS_APPEND);
    report("ro-mkdir", __wasi_path_create_directory(RO, "newdir"));
    report("ro-rmdir", __wasi_path_remove_directory(RO, "empty"));
    report("ro-unlink", __wasi_path_unlink_file(RO, "file.txt"));
    report("ro-rename", __wasi_path_rename(RO, "file.txt", RO, "renamed"));
    report("ro-rename-out", __wasi_path_rename(RO, "file.txt", RW, "stolen"));
    report("ro-rename-in", __wasi_path_rename(RW, "inside.txt", RO, "planted"));
    report("ro-link", __wasi_path_link(RO, 0, "file.txt", RO, "hard"));
    report("ro-link-out", __wasi_path_link(RO, 0, "file.txt", RW, "ro-hard"));
    report("ro-link-in", __wasi_path_link(RW, 0, "inside.txt", RO, "planted"));
    report("ro-symlink", __wasi_path_symlink("file.txt", RO, "ln"));
    report("ro-settimes", __wasi_path_filestat_set_times(RO, 0, "file.txt", 0, 0, MTIM));
    report("ro-dir-rights", __wasi_fd_fdstat_set_rights(RO, ~(__wasi_rights_t)0,
                                                        ~(__wasi_rights_t)0));
    // Through a descriptor opened for reading.
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(RO, FOLLOW, "file.txt", 0, R_READ, R_READ, 0, &fd);
    report("ro-open-read", e);
    if (e != 0) return;
    const char data[] = "overwritten";
    __wasi_ciovec_t iov = {(const uint8_t *)data, sizeof data - 1};
    __wasi_size_t n;
    report("ro-fd-write", __wasi_fd_write(fd, &iov, 1, &n));
    report("ro-fd-pwrite", __wasi_fd_pwrite(fd, &iov, 1, 0, &n));
    report("ro-fd-set-size", __wasi_fd_filestat_set_size(fd, 0));
    report("ro-fd-set-times", __wasi_fd_filestat_set_times(fd, 0, 0, MTIM));
    report("ro-fd-allocate", __wasi_fd_allocate(fd, 0, 4096));
    report("ro-fd-rights", __wasi_fd_fdstat_set_rights(fd, R_READ | R_WRITE, 0));
    report("ro-fd-write-after", __wasi_fd_write(fd, &iov, 1, &n));
    (void)__wasi_fd_close(fd);
}

// Every descriptor from 3 to 1024: which ones exist, and what the rest answer.
static void guess_fds(void) {
    char open_fds[256] = "";
    int errnos[128] = {0};
    for (int fd = 3; fd <= 1024; fd++) {
        __wasi_fdstat_t st;
        __wasi_errno_t e = __wasi_fd_fdstat_get(fd, &st);
        if (e == 0) {
            size_t len = strlen(open_fds);
            snprintf(open_fds + len, sizeof open_fds - len, "%s%d", len ? "," : "", fd);
            continue;
        }
        char buf[8];
        __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
        __wasi_ciovec_t ciov = {(const uint8_t *)"x", 1};
        __wasi_size_t n;
        __wasi_prestat_t pre;
        __wasi_filestat_t fst;
        __wasi_fd_t newfd;
        __wasi_errno_t all[] = {
            e,
            __wasi_fd_read(fd, &iov, 1, &n),
            __wasi_fd_write(fd, &ciov, 1, &n),
            __wasi_fd_prestat_get(fd, &pre),
            __wasi_fd_filestat_get(fd, &fst),
            __wasi_fd_readdir(fd, (uint8_t *)buf, sizeof buf, 0, &n),
            __wasi_path_open(fd, 0, ".", DIRECTORY, R_READ, R_READ, 0, &newfd),
            __wasi_path_open(fd, 0, "secret.txt", 0, R_READ, R_READ, 0, &newfd),
            __wasi_path_create_directory(fd, "x"),
            __wasi_fd_close(fd),
        };
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            if (all[i] < 128) errnos[all[i]] = 1;
    }
    printf("fds-open %s\n", open_fds);
    printf("fds-guessed-errnos");
    for (int i = 0; i < 128; i++)
        if (errnos[i]) printf(" %d", i);
    printf("\n");
}

// Args and environment: exactly what was granted.
static void args_env(int argc, char **argv) {
    __wasi_size_t count, size;
    if (__wasi_environ_sizes_get(&count, &size) != 0) abort();
    printf("envc %u\n", (unsigned)count);
    char **ptrs = calloc(count + 1, sizeof *ptrs);
    char *buf = malloc(size + 1);
    if (__wasi_environ_get((uint8_t **)ptrs, (uint8_t *)buf) != 0) abort();
    for (__wasi_size_t i = 0; i < count; i++) printf("env %s\n", ptrs[i]);
    const char *probe[] = {"HOME", "PATH", "USER", "NANOPROC_HOST_SECRET"};
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++)
        printf("getenv %s %s\n", probe[i], getenv(probe[i]) ? getenv(probe[i]) : "(unset)");
    printf("argc %d\n", argc);
    for (int i = 1; i < argc; i++) printf("arg %s\n", argv[i]);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: escape HOST_SECRET_PATH [ARGS...]\n");
        return 2;
    }
    escapes(argv[1]);
    read_only();
    guess_fds();
    args_env(argc, argv);
    return 0;
}
