//! `nanoproc run` with WASI guests and limits, as a real process: the capability flags
//! (`--dir`, `--dir-ro`, `--env`, `--clock`, `--random-seed`, `--deterministic`, `--audit`,
//! `--preload`), `proc_exit` codes, and the limit flags (`--fuel`, `--timeout`,
//! `--max-memory`, `--max-table-elements`, `--max-call-depth`). The guests are WAT calling
//! `wasi_snapshot_preview1` directly, so no toolchain is needed.

use nanoproc_tests::{assert_error, nanoproc, nanoproc_cmd, run_cmd, Run, TempDir, TempFile};
use std::ffi::OsStr;
use std::time::{Duration, Instant};

/// The imports and helpers every guest below shares: `$write(ptr, len)` to stdout,
/// `$hex(src, len)` prints bytes as hex, `$exit`. Memory layout: 0..64 scratch, 64..128
/// hex digits, 1024.. pointer arrays, 4096.. strings and buffers.
const PRELUDE: &str = r#"
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 64) "0123456789abcdef")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 16) (local.get $ptr))
    (i32.store (i32.const 20) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))
  (func $hex (param $src i32) (param $len i32)
    (local $i i32) (local $b i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $b (i32.load8_u (i32.add (local.get $src) (local.get $i))))
      (i32.store8 (i32.const 32) (i32.load8_u (i32.add (i32.const 64) (i32.shr_u (local.get $b) (i32.const 4)))))
      (i32.store8 (i32.const 33) (i32.load8_u (i32.add (i32.const 64) (i32.and (local.get $b) (i32.const 15)))))
      (call $write (i32.const 32) (i32.const 2))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
  (func $check (param $errno i32)
    (if (local.get $errno) (then (call $exit (local.get $errno)))))
"#;

/// A WAT module: the prelude, then `body` (more imports first, then functions).
fn guest(imports: &str, body: &str) -> TempFile {
    let text = format!("(module\n{imports}\n{PRELUDE}\n{body})");
    TempFile::new(".wat", text.as_bytes())
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// `nanoproc run FLAGS... MODULE ARGS...`.
fn run(flags: &[&OsStr], module: &TempFile, args: &[&str]) -> Run {
    let mut all: Vec<&OsStr> = vec![os("run")];
    all.extend_from_slice(flags);
    all.push(module.path().as_os_str());
    all.extend(args.iter().map(|a| os(a)));
    nanoproc(all)
}

fn hello() -> TempFile {
    guest(
        "",
        r#"(data (i32.const 4096) "hello, world\n")
           (func (export "_start") (call $write (i32.const 4096) (i32.const 13)))"#,
    )
}

#[test]
fn hello_world() {
    let run = run(&[], &hello(), &[]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "hello, world\n", "")
    );
}

#[test]
fn proc_exit_code_is_the_exit_code() {
    for code in [0, 7, 255] {
        let module = guest(
            "",
            &format!(r#"(func (export "_start") (call $exit (i32.const {code})) unreachable)"#),
        );
        let run = run(&[], &module, &[]);
        assert_eq!(run.code, code, "stderr: {}", run.stderr);
        assert_eq!(run.stderr, "");
    }
    // A code whose low byte is 0 must not look like success.
    let module = guest(
        "",
        r#"(func (export "_start") (call $exit (i32.const 256)))"#,
    );
    assert_eq!(run(&[], &module, &[]).code, 1);
}

/// Prints argv and the environment, each entry followed by NUL, separated by `|`.
fn args_env_guest() -> TempFile {
    guest(
        r#"(import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
           (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
           (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
           (import "wasi_snapshot_preview1" "environ_get" (func $env_get (param i32 i32) (result i32)))"#,
        r#"(data (i32.const 100) "|")
           (func (export "_start")
             (call $check (call $args_sizes (i32.const 0) (i32.const 4)))
             (call $check (call $args_get (i32.const 1024) (i32.const 4096)))
             (call $write (i32.const 4096) (i32.load (i32.const 4)))
             (call $write (i32.const 100) (i32.const 1))
             (call $check (call $env_sizes (i32.const 0) (i32.const 4)))
             (call $check (call $env_get (i32.const 1024) (i32.const 4096)))
             (call $write (i32.const 4096) (i32.load (i32.const 4))))"#,
    )
}

#[test]
fn args_and_env_are_exactly_what_was_granted() {
    let module = args_env_guest();
    let path = module.path().to_str().unwrap().to_string();
    let mut cmd = nanoproc_cmd([
        os("run"),
        os("--env"),
        os("A=1"),
        os("--env"),
        os("NANOPROC_TEST_PASSED"),
        os("--env"),
        os("NANOPROC_TEST_UNSET"),
        module.path().as_os_str(),
        os("x"),
        os("--y z"),
    ]);
    cmd.env("NANOPROC_TEST_PASSED", "from host")
        .env("NANOPROC_TEST_NOT_GRANTED", "secret")
        .env_remove("NANOPROC_TEST_UNSET");
    let run = run_cmd(&mut cmd);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    // argv[0] is the module path as given; a variable the host lacks is skipped.
    assert_eq!(
        run.stdout,
        format!("{path}\0x\0--y z\0|A=1\0NANOPROC_TEST_PASSED=from host\0")
    );

    // Nothing is inherited by default.
    let mut cmd = nanoproc_cmd([os("run"), module.path().as_os_str()]);
    cmd.env("NANOPROC_TEST_NOT_GRANTED", "secret");
    let run = run_cmd(&mut cmd);
    assert_eq!(run.stdout, format!("{path}\0|"), "stderr: {}", run.stderr);
}

/// Opens `name` under the preopen fd 3 with `oflags` and `rights`, then copies the file to
/// stdout (when readable) and exits with path_open's errno.
fn open_guest(name: &str, oflags: u32, rights: u64) -> TempFile {
    guest(
        r#"(import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
           (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))"#,
        &format!(
            r#"(data (i32.const 2048) "{name}")
               (func (export "_start")
                 (call $check (call $path_open (i32.const 3) (i32.const 0)
                   (i32.const 2048) (i32.const {len}) (i32.const {oflags})
                   (i64.const {rights}) (i64.const 0) (i32.const 0) (i32.const 200)))
                 ;; iov {{ buf 4096, len 8192 }} at 208
                 (i32.store (i32.const 208) (i32.const 4096))
                 (i32.store (i32.const 212) (i32.const 8192))
                 (call $check (call $fd_read (i32.load (i32.const 200)) (i32.const 208) (i32.const 1) (i32.const 216)))
                 (call $write (i32.const 4096) (i32.load (i32.const 216))))"#,
            len = name.len()
        ),
    )
}

const RIGHT_FD_READ: u64 = 1 << 1;
const RIGHT_FD_WRITE: u64 = 1 << 6;
const O_CREAT: u32 = 1;
const ERRNO_PERM: i32 = 63;
const ERRNO_NOTCAPABLE: i32 = 76;

#[test]
fn read_a_file_through_dir_ro() {
    let dir = TempDir::new();
    std::fs::write(dir.path().join("in.txt"), "contents of in.txt\n").unwrap();
    let module = open_guest("in.txt", 0, RIGHT_FD_READ);
    let grant = format!("{}::/data", dir.path().display());
    let run = run(&[os("--dir-ro"), os(&grant)], &module, &[]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, "contents of in.txt\n");

    // Without the grant there is no fd 3.
    let run = self::run(&[], &module, &[]);
    assert_eq!(run.code, 8, "BADF expected; stderr: {}", run.stderr);
}

#[test]
fn write_refused_under_dir_ro_and_audited() {
    let dir = TempDir::new();
    let audit = TempFile::new(".jsonl", b"");
    let module = open_guest("new.txt", O_CREAT, RIGHT_FD_WRITE);
    let grant = format!("{}::.", dir.path().display());
    let run = run(
        &[
            os("--dir-ro"),
            os(&grant),
            os("--audit"),
            audit.path().as_os_str(),
        ],
        &module,
        &[],
    );
    assert!(
        [ERRNO_PERM, ERRNO_NOTCAPABLE].contains(&run.code),
        "expected a refusal, got exit {}; stderr: {}",
        run.code,
        run.stderr
    );
    assert!(!dir.path().join("new.txt").exists(), "file created on host");
    let log = std::fs::read_to_string(audit.path()).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("\"function\":\"path_open\""))
        .unwrap_or_else(|| panic!("no path_open line in the audit log: {log:?}"));
    assert!(line.contains("\"path\":\"new.txt\""), "{line}");
    assert!(line.contains(&format!("\"code\":{}", run.code)), "{line}");
    assert!(line.starts_with('{') && line.ends_with('}'), "{line}");

    // The same write through `--dir` succeeds; `--audit-all` also logs granted operations.
    let audit_all = TempFile::new(".jsonl", b"");
    let grant = format!("{}::.", dir.path().display());
    let run = self::run(
        &[
            os("--dir"),
            os(&grant),
            os("--audit"),
            audit_all.path().as_os_str(),
            os("--audit-all"),
        ],
        &module,
        &[],
    );
    // Opened for writing only: path_open succeeds and the read is refused with BADF.
    assert!(
        dir.path().join("new.txt").exists(),
        "stderr: {}",
        run.stderr
    );
    let log = std::fs::read_to_string(audit_all.path()).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("\"function\":\"path_open\"") && l.contains("\"code\":0")),
        "{log:?}"
    );
}

#[test]
fn audit_to_stderr() {
    let dir = TempDir::new();
    let module = open_guest("x", O_CREAT, RIGHT_FD_WRITE);
    let grant = format!("{}::.", dir.path().display());
    let run = run(
        &[os("--dir-ro"), os(&grant), os("--audit"), os("-")],
        &module,
        &[],
    );
    assert!(
        run.stderr.contains("\"function\":\"path_open\""),
        "{}",
        run.stderr
    );
}

#[test]
fn preopens_keep_command_line_order() {
    let (a, b) = (TempDir::new(), TempDir::new());
    let module = guest(
        r#"(import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
           (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $dir_name (param i32 i32 i32) (result i32)))"#,
        r#"(data (i32.const 100) " ")
           (func $name (param $fd i32)
             (call $check (call $prestat (local.get $fd) (i32.const 200)))
             (call $check (call $dir_name (local.get $fd) (i32.const 4096) (i32.load (i32.const 204))))
             (call $write (i32.const 4096) (i32.load (i32.const 204)))
             (call $write (i32.const 100) (i32.const 1)))
           (func (export "_start") (call $name (i32.const 3)) (call $name (i32.const 4)))"#,
    );
    let ga = format!("{}::/a", a.path().display());
    let gb = format!("{}::/b", b.path().display());
    let r = run(
        &[os("--dir-ro"), os(&ga), os("--dir"), os(&gb)],
        &module,
        &[],
    );
    assert_eq!(r.stdout, "/a /b ", "stderr: {}", r.stderr);
    let r = run(
        &[os("--dir"), os(&gb), os("--dir-ro"), os(&ga)],
        &module,
        &[],
    );
    assert_eq!(r.stdout, "/b /a ", "stderr: {}", r.stderr);
}

#[test]
fn bad_dir_grants_are_one_line_errors() {
    let module = hello();
    let line = assert_error(&run(
        &[os("--dir"), os("/no/such/nanoproc/dir")],
        &module,
        &[],
    ))
    .to_string();
    assert!(line.contains("/no/such/nanoproc/dir"), "{line}");
    for bad in ["::/guest", "host::"] {
        let line = assert_error(&run(&[os("--dir-ro"), os(bad)], &module, &[])).to_string();
        assert!(
            line.contains(bad) && line.contains("HOST[::GUEST]"),
            "{line}"
        );
    }
    let file = TempFile::new(".txt", b"not a directory");
    assert_error(&run(&[os("--dir"), file.path().as_os_str()], &module, &[]));
}

/// Prints the wall clock (8 bytes) and 16 random bytes, as hex.
fn clock_random_guest() -> TempFile {
    guest(
        r#"(import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
           (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))"#,
        r#"(data (i32.const 100) " \n")
           (func (export "_start")
             (call $check (call $clock (i32.const 0) (i64.const 1) (i32.const 200)))
             (call $check (call $random (i32.const 208) (i32.const 16)))
             (call $hex (i32.const 200) (i32.const 8))
             (call $write (i32.const 100) (i32.const 1))
             (call $hex (i32.const 208) (i32.const 16))
             (call $write (i32.const 101) (i32.const 1)))"#,
    )
}

fn le_hex(v: u64) -> String {
    v.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn deterministic_runs_are_identical() {
    let module = clock_random_guest();
    let first = run(&[os("--deterministic")], &module, &[]);
    let second = run(&[os("--deterministic")], &module, &[]);
    assert_eq!(first.code, 0, "stderr: {}", first.stderr);
    assert_eq!(first.stdout, second.stdout);
    // The clock starts at the Unix epoch.
    assert!(
        first.stdout.starts_with(&format!("{} ", le_hex(0))),
        "{}",
        first.stdout
    );
    // Without it, the real clock and the OS generator differ between runs.
    let a = run(&[], &module, &[]);
    let b = run(&[], &module, &[]);
    assert_ne!(a.stdout, b.stdout);
    assert_ne!(a.stdout, first.stdout);
    // --deterministic refuses to pass host variables through.
    let line = assert_error(&run(
        &[os("--deterministic"), os("--env"), os("HOME")],
        &module,
        &[],
    ))
    .to_string();
    assert!(line.contains("--deterministic"), "{line}");
}

#[test]
fn fixed_clock_and_random_seed() {
    let module = clock_random_guest();
    let r = run(
        &[
            os("--clock"),
            os("fixed=2024-01-01T01:00:00.5+01:00,step=1ms"),
            os("--random-seed"),
            os("42"),
        ],
        &module,
        &[],
    );
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let nanos = 1_704_067_200u64 * 1_000_000_000 + 500_000_000;
    assert!(
        r.stdout.starts_with(&format!("{} ", le_hex(nanos))),
        "{}",
        r.stdout
    );
    let again = run(&[os("--random-seed"), os("42")], &module, &[]);
    let other = run(&[os("--random-seed"), os("43")], &module, &[]);
    let random = |r: &Run| r.stdout.split(' ').nth(1).unwrap_or_default().to_string();
    assert_eq!(random(&r), random(&again));
    assert_ne!(random(&r), random(&other));

    // A bad instant is a command-line error that names what was expected.
    let r = run(
        &[os("--clock"), os("fixed=2024-02-30T00:00:00Z")],
        &module,
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("RFC 3339"), "{}", r.stderr);
}

#[test]
fn missing_imports_are_listed() {
    let module = TempFile::new(
        ".wat",
        br#"(module
          (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "no_such_call" (func))
          (import "bench" "start" (func))
          (func (export "_start")))"#,
    );
    let line = assert_error(&run(&[], &module, &[])).to_string();
    assert!(
        line.contains("wasi_snapshot_preview1::no_such_call") && line.contains("bench::start"),
        "{line}"
    );
    assert!(!line.contains("fd_write"), "{line}");
}

#[test]
fn trap_in_start_exits_134() {
    let module = guest(
        "",
        r#"(func $deep unreachable)
           (func (export "_start") (call $write (i32.const 64) (i32.const 3)) (call $deep))"#,
    );
    let r = run(&[], &module, &[]);
    assert_eq!(r.code, 134, "{}", r.stderr);
    assert_eq!(r.stdout, "012", "output before the trap is kept");
    assert!(
        r.stderr.starts_with("error: trap: unreachable"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("deep"), "backtrace: {}", r.stderr);
}

#[test]
fn preload_provides_imports() {
    // The preloaded module has its own memory and uses WASI itself.
    let helper = guest(
        "",
        r#"(data (i32.const 4096) "helper ready\n")
           (global $calls (mut i32) (i32.const 0))
           (func (export "_initialize") (call $write (i32.const 4096) (i32.const 13)))
           (func (export "double") (param i32) (result i32)
             (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
             (i32.mul (local.get 0) (i32.const 2)))"#,
    );
    let module = guest(
        r#"(import "helper" "double" (func $double (param i32) (result i32)))"#,
        r#"(func (export "_start")
             (i32.store8 (i32.const 4096) (i32.add (i32.const 48) (call $double (i32.const 3))))
             (call $write (i32.const 4096) (i32.const 1)))"#,
    );
    let spec = format!("helper={}", helper.path().display());
    let r = run(&[os("--preload"), os(&spec)], &module, &[]);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    assert_eq!(r.stdout, "helper ready\n6");

    // The sightglass protocol: examples/bench.wat provides bench.start / bench.end.
    let bench = guest(
        r#"(import "bench" "start" (func $start))
           (import "bench" "end" (func $end))"#,
        r#"(func (export "_start") (call $start) (call $write (i32.const 64) (i32.const 4)) (call $end))"#,
    );
    let r = run(
        &[os("--preload"), os("bench=examples/bench.wat")],
        &bench,
        &[],
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, "0123"), "{}", r.stderr);

    // A preload that cannot be compiled names itself.
    let r = run(&[os("--preload"), os("bench=no/such.wat")], &bench, &[]);
    let line = assert_error(&r);
    assert!(line.contains("no/such.wat"), "{line}");
}

#[test]
fn invoke_runs_initialize_first() {
    let module = TempFile::new(
        ".wat",
        br#"(module
          (global $g (mut i32) (i32.const 0))
          (func (export "_initialize") (global.set $g (i32.const 40)))
          (func (export "get") (param i32) (result i32) (i32.add (global.get $g) (local.get 0))))"#,
    );
    let r = run(&[os("--invoke"), os("get")], &module, &["2"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "42\n"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------
// limits

fn infinite_loop() -> TempFile {
    TempFile::new(
        ".wat",
        br#"(module (func (export "_start") (loop $l (br $l))))"#,
    )
}

#[test]
fn fuel_runs_out() {
    let r = run(&[os("--fuel"), os("1000")], &infinite_loop(), &[]);
    assert_eq!(r.code, 134, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("error: trap: out of fuel"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--fuel 1000"), "{}", r.stderr);
    // Enough fuel for a finite program.
    let r = run(&[os("--fuel"), os("1000")], &hello(), &[]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "hello, world\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn timeout_interrupts() {
    let start = Instant::now();
    let r = run(&[os("--timeout"), os("200ms")], &infinite_loop(), &[]);
    let elapsed = start.elapsed();
    assert_eq!(r.code, 134, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("error: trap: interrupted"),
        "{}",
        r.stderr
    );
    assert!(
        elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    let r = run(&[os("--timeout"), os("200")], &infinite_loop(), &[]);
    assert_eq!(r.code, 2, "a duration needs a unit: {}", r.stderr);
}

#[test]
fn timeout_ends_a_guest_blocked_in_a_host_call() {
    // poll_oneoff with one relative clock subscription of an hour.
    let module = guest(
        r#"(import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))"#,
        r#"(func (export "_start")
             (i32.store8 (i32.const 1032) (i32.const 0))             ;; tag: clock
             (i32.store (i32.const 1040) (i32.const 1))              ;; monotonic
             (i64.store (i32.const 1048) (i64.const 3600000000000))  ;; 1 h
             (i32.store16 (i32.const 1064) (i32.const 0))            ;; relative
             (call $check (call $poll (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const 200))))"#,
    );
    let start = Instant::now();
    let r = run(&[os("--timeout"), os("200ms")], &module, &[]);
    let elapsed = start.elapsed();
    assert_eq!(r.code, 134, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("error: trap: interrupted"),
        "{}",
        r.stderr
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn max_memory_limits_initial_size() {
    // 17 pages = 1088 KiB > 1 MiB.
    let module = TempFile::new(".wat", br#"(module (memory 17) (func (export "_start")))"#);
    let line = assert_error(&run(&[os("--max-memory"), os("1MiB")], &module, &[])).to_string();
    assert!(line.contains("memory_size"), "{line}");
    let r = run(&[os("--max-memory"), os("2MiB")], &module, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn memory_grow_past_max_memory_returns_minus_one() {
    let module = TempFile::new(
        ".wat",
        br#"(module (memory 1)
              (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    );
    let grow = |limit: &str, pages: &str| {
        let r = run(
            &[os("--max-memory"), os(limit), os("--invoke"), os("grow")],
            &module,
            &[pages],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    assert_eq!(grow("1MiB", "16"), "-1\n");
    assert_eq!(grow("1MiB", "15"), "1\n");
    assert_eq!(grow("65536", "1"), "-1\n");
}

#[test]
fn max_table_elements() {
    let module = TempFile::new(
        ".wat",
        br#"(module (table 10 funcref)
              (func (export "grow") (param i32) (result i32)
                (table.grow (ref.null func) (local.get 0))))"#,
    );
    let grow = |n: &str| {
        let r = run(
            &[
                os("--max-table-elements"),
                os("100"),
                os("--invoke"),
                os("grow"),
            ],
            &module,
            &[n],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    assert_eq!(grow("90"), "10\n");
    assert_eq!(grow("91"), "-1\n");
}

#[test]
fn max_call_depth_and_its_default() {
    let module = TempFile::new(
        ".wat",
        br#"(module (func $r (export "r") (param i32) (result i32)
              (if (result i32) (i32.eqz (local.get 0))
                (then (i32.const 0))
                (else (call $r (i32.sub (local.get 0) (i32.const 1)))))))"#,
    );
    let r = run(
        &[os("--max-call-depth"), os("100"), os("--invoke"), os("r")],
        &module,
        &["200"],
    );
    assert_eq!(r.code, 134, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("error: trap: call stack exhausted"),
        "{}",
        r.stderr
    );
    // The default the help text reports (100000) is the engine's.
    let r = run(&[os("--invoke"), os("r")], &module, &["99990"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "0\n"), "{}", r.stderr);
    let r = run(&[os("--invoke"), os("r")], &module, &["100001"]);
    assert_eq!(r.code, 134, "{}", r.stderr);
}

#[test]
fn help_reports_every_limit_default() {
    let r = nanoproc(["run", "--help"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for expected in [
        "--fuel",
        "[default: unlimited]",
        "--timeout",
        "[default: none]",
        "--max-memory",
        "[default: 1GiB per memory, 2GiB in total]",
        "--max-table-elements",
        "[default: 1000000 per table, 10000000 in total]",
        "--max-call-depth",
        "[default: 100000]",
    ] {
        assert!(r.stdout.contains(expected), "{expected}: {}", r.stdout);
    }
}
