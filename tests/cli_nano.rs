//! `nanoproc check APP.toml` and `nanoproc run APP.toml` as a real process: the capability
//! tree, every problem of a bad application listed (one `error:` line each), a WAT
//! application whose main calls a child through a link and prints the result with WASI,
//! `--invoke`, `proc_exit` codes, a trap in the child (exit 134, naming it, with each
//! nanoprocess's backtrace), audit lines tagged with the nanoprocess, the flags a manifest
//! refuses, and the `examples/markdown-app` walkthrough of the README.

use nanoproc_tests::{assert_error, nanoproc, Run, TempDir};
use std::path::Path;

/// Main: `_start` shouts `argv[1]` through the child and prints it, or (without an
/// argument) makes the child trap; `add` and `exit` are for `--invoke`.
const MAIN_WAT: &str = r#"
(module $main
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "test:text/shout" "shout" (func $shout (param i32 i32 i32)))
  (import "test:text/shout" "div" (func $div (param i32 i32) (result i32)))
  (import "test:text/shout" "add" (func $add (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 48) "\n")
  (global $heap (mut i32) (i32.const 8192))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get 2))))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (if (i32.gt_u (global.get $heap) (i32.const 65536)) (then unreachable))
    (local.get $p))
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $strlen (param $p i32) (result i32)
    (local $n i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $next)))
    (local.get $n))
  (func $trap_via_child (drop (call $div (i32.const 1) (i32.const 0))))
  (func (export "_start")
    (local $arg i32)
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (if (i32.lt_u (i32.load (i32.const 0)) (i32.const 2)) (then (call $trap_via_child) (return)))
    (drop (call $args_get (i32.const 1024) (i32.const 2048)))
    (local.set $arg (i32.load (i32.const 1028)))
    (call $shout (local.get $arg) (call $strlen (local.get $arg)) (i32.const 24))
    (call $write (i32.load (i32.const 24)) (i32.load (i32.const 28)))
    (call $write (i32.const 48) (i32.const 1)))
  (func (export "add") (param i32 i32) (result i32) (call $add (local.get 0) (local.get 1)))
  (func (export "exit") (param i32) (call $proc_exit (local.get 0))))
"#;

/// The child: imports only WASI, and is granted nothing. `shout` tries to open a file in
/// a directory it does not have (refused, and audited) before upper-casing its input.
const CHILD_WAT: &str = r#"
(module $child
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "secret.txt")
  (global $heap (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get 2))))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (if (i32.gt_u (global.get $heap) (i32.const 65536)) (then unreachable))
    (local.get $p))
  (func (export "test:text/shout#shout") (param $s i32) (param $len i32) (result i32)
    (local $i i32) (local $b i32)
    (drop (call $path_open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 10)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 0)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $b (i32.load8_u (i32.add (local.get $s) (local.get $i))))
      (if (i32.and (i32.ge_u (local.get $b) (i32.const 0x61)) (i32.le_u (local.get $b) (i32.const 0x7a)))
        (then (i32.store8 (i32.add (local.get $s) (local.get $i)) (i32.sub (local.get $b) (i32.const 32)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.store (i32.const 0) (local.get $s))
    (i32.store (i32.const 4) (local.get $len))
    (i32.const 0))
  (func $divide (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1)))
  (func (export "test:text/shout#div") (param i32 i32) (result i32)
    (call $divide (local.get 0) (local.get 1)))
  (func (export "test:text/shout#add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1))))
"#;

const WIT: &str = r#"
package test:text;
interface shout {
  shout: func(s: string) -> string;
  div: func(a: u32, b: u32) -> u32;
  add: func(a: s32, b: s32) -> s32;
}
"#;

const MANIFEST: &str = r#"
[app]
name = "shouter"
main = "main"

[nanoprocess.main]
module = "main.wat"
grants.dirs = [{ host = "data", guest = "/data" }]
grants.stdio = { stdout = "inherit", stderr = "inherit" }
links = { "test:text/shout" = "child" }

[nanoprocess.child]
parent = "main"
module = "child.wat"
wit = "shout.wit"
"#;

/// A scratch application folder: `data/secret.txt` and the given files.
fn app(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/secret.txt"), "main's secret").unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn shouter() -> TempDir {
    app(&[
        ("main.wat", MAIN_WAT),
        ("child.wat", CHILD_WAT),
        ("shout.wit", WIT),
        ("nanoproc.toml", MANIFEST),
    ])
}

fn manifest(dir: &TempDir) -> String {
    dir.path().join("nanoproc.toml").display().to_string()
}

fn run(args: &[&str]) -> Run {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    nanoproc(all)
}

/// Every stderr line starts with `error: `; returns the lines without it.
fn error_lines(run: &Run) -> Vec<&str> {
    assert_eq!(
        run.code, 1,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.is_empty(), "nothing on stdout: {}", run.stdout);
    run.stderr
        .lines()
        .map(|l| {
            l.strip_prefix("error: ")
                .unwrap_or_else(|| panic!("not an `error:` line: {l:?} in {}", run.stderr))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// check

#[test]
fn check_prints_the_capability_tree() {
    let dir = shouter();
    let m = manifest(&dir);
    let r = nanoproc(["check", &m]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert!(
        r.stdout.starts_with(&format!(
            "{m}: ok (app `shouter`, 2 nanoprocesses, main `main`)\n"
        )),
        "{}",
        r.stdout
    );
    for line in [
        "main (",
        "  grants: dir data -> /data (ro)",
        "  grants: stdout inherited",
        "  links: test:text/shout -> child",
        "  child (",
        ", attenuated from `main`)",
        "    grants: nothing",
    ] {
        assert!(r.stdout.contains(line), "{line:?} in\n{}", r.stdout);
    }
}

#[test]
fn check_lists_every_problem_of_a_bad_app() {
    // One of each: attenuation (three kinds), a link whose core type does not match the
    // canonical ABI, an import nobody provides, a link to an interface the provider's WIT
    // lacks, a module that does not compile.
    let bad_main = MAIN_WAT
        .replace(
            r#"(import "test:text/shout" "add" (func $add (param i32 i32) (result i32)))"#,
            r#"(import "test:text/shout" "add" (func $add (param i64 i32) (result i32)))
               (import "test:text/other" "f" (func))
               (import "env" "secret" (func))"#,
        )
        .replace(
            "(call $add (local.get 0)",
            "(call $add (i64.extend_i32_u (local.get 0))",
        );
    let manifest_text = r#"
[app]
main = "main"

[nanoprocess.main]
module = "main.wat"
grants.dirs = [{ host = "data", guest = "/data" }]
links = { "test:text/shout" = "child", "test:text/other" = "child" }

[nanoprocess.child]
parent = "main"
module = "child.wat"
wit = "shout.wit"
grants.dirs = [{ host = "data", guest = "/data", mode = "rw" }]
grants.env = { TOKEN = "x" }
grants.clock = "real"

[nanoprocess.broken]
parent = "main"
module = "broken.wat"
"#;
    let dir = app(&[
        ("main.wat", &bad_main),
        ("child.wat", CHILD_WAT),
        ("shout.wit", WIT),
        ("broken.wat", "(module (func (result i32)))"),
        ("nanoproc.toml", manifest_text),
    ]);
    let m = manifest(&dir);
    let r = nanoproc(["check", &m]);
    let lines = error_lines(&r);
    let expected: &[&[&str]] = &[
        &[
            "nanoprocess `child`",
            "`grants.dirs[0].mode`",
            "parent `main`",
        ],
        &["nanoprocess `child`", "`grants.env.TOKEN`"],
        &["nanoprocess `child`", "`grants.clock`", "real"],
        &[
            "nanoprocess `main`",
            "test:text/shout::add",
            "canonical ABI",
        ],
        &["nanoprocess `main`", "no interface `test:text/other`"],
        &["nanoprocess `main`", "env::secret"],
        &["nanoprocess `broken`", "`module`"],
    ];
    assert_eq!(lines.len(), expected.len(), "{}", r.stderr);
    for parts in expected {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("{m}: ")) && parts.iter().all(|p| l.contains(p))),
            "no line with {parts:?} in\n{}",
            r.stderr
        );
    }
    // `run` refuses the same application with the same list, before running anything.
    let r2 = run(&[&m, "hi"]);
    assert_eq!(r2.stderr, r.stderr);
    assert_eq!(r2.code, 1);
}

#[test]
fn check_lists_every_structural_problem() {
    let dir = app(&[(
        "nanoproc.toml",
        r#"
[app]
main = "main"
colour = "blue"
[nanoprocess.main]
grants.clock = "sundial"
[nanoprocess.orphan]
module = "x.wat"
parent = "nobody"
"#,
    )]);
    let r = nanoproc(["check", &manifest(&dir)]);
    let lines = error_lines(&r);
    assert!(lines.len() >= 4, "{}", r.stderr);
    for part in ["colour", "`module`", "sundial", "nobody"] {
        assert!(
            lines.iter().any(|l| l.contains(part)),
            "{part} in\n{}",
            r.stderr
        );
    }
}

#[test]
fn check_of_a_missing_manifest_is_one_error() {
    let r = nanoproc(["check", "no/such/nanoproc.toml"]);
    let line = assert_error(&r);
    assert!(line.contains("no/such/nanoproc.toml"), "{line}");
}

// ---------------------------------------------------------------------------------------
// run

#[test]
fn run_calls_a_child_through_a_link_and_prints_with_wasi() {
    let dir = shouter();
    let r = run(&[&manifest(&dir), "hello, nanoprocess"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "HELLO, NANOPROCESS\n");
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn run_invoke_calls_an_export_of_main() {
    let dir = shouter();
    let m = manifest(&dir);
    let r = run(&["--invoke", "add", &m, "40", "2"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "42\n"), "{}", r.stderr);
    // `proc_exit` in main is the exit code.
    let r = run(&["--invoke", "exit", &m, "7"]);
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let r = run(&["--invoke", "nope", &m]);
    let line = assert_error(&r);
    assert!(line.contains("`main`") && line.contains("`nope`"), "{line}");
    let r = run(&["--invoke", "add", &m, "1"]);
    let line = assert_error(&r);
    assert!(line.contains("`add` takes 2 argument(s)"), "{line}");
}

#[test]
fn a_trap_in_the_child_exits_134_naming_it() {
    let dir = shouter();
    let r = run(&[&manifest(&dir)]);
    assert_eq!(r.code, 134, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let mut lines = r.stderr.lines();
    assert_eq!(
        lines.next(),
        Some(
            "error: trap: nanoprocess `child` trapped while serving `main`'s call to \
             test:text/shout#div: integer divide by zero"
        ),
        "{}",
        r.stderr
    );
    // Each nanoprocess's frames under its name, the child's first.
    let rest: Vec<&str> = lines.collect();
    let child = rest.iter().position(|l| *l == "backtrace of `child`:");
    let main = rest.iter().position(|l| *l == "backtrace of `main`:");
    assert!(
        matches!((child, main), (Some(c), Some(m)) if c < m),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("child!divide"), "{}", r.stderr);
    assert!(r.stderr.contains("main!trap_via_child"), "{}", r.stderr);
}

#[test]
fn a_trap_in_main_names_main() {
    let dir = shouter();
    let r = run(&[
        "--invoke",
        "cabi_realloc",
        &manifest(&dir),
        "0",
        "0",
        "1",
        "100000",
    ]);
    assert_eq!(r.code, 134, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(
            "error: trap: nanoprocess `main`: unreachable executed\nbacktrace of `main`:\n"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn audit_lines_name_the_nanoprocess() {
    let dir = shouter();
    let r = run(&["--audit", "-", &manifest(&dir), "x"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "X\n"), "{}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("path_open"))
        .unwrap_or_else(|| panic!("the child's refused path_open is audited: {}", r.stderr));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["nanoprocess"], "child", "{line}");
    assert_eq!(v["path"], "secret.txt", "{line}");

    let log = dir.path().join("audit.log");
    let r = run(&["--audit", log.to_str().unwrap(), &manifest(&dir), "x"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(r#""nanoprocess":"child""#), "{text}");
}

#[test]
fn a_manifest_takes_no_grant_or_limit_flags() {
    let dir = shouter();
    let m = manifest(&dir);
    for flags in [
        &["--dir", "."][..],
        &["--env", "A=b"],
        &["--fuel", "10"],
        &["--max-memory", "1MiB"],
    ] {
        let mut args = flags.to_vec();
        args.push(&m);
        let r = run(&args);
        let line = assert_error(&r);
        assert!(
            line.contains(flags[0]) && line.contains("cannot be used with a manifest"),
            "{line}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The README's example.

const EXAMPLE: &str = "examples/markdown-app/nanoproc.toml";
const EXAMPLE_RUST: &str = "examples/markdown-app/nanoproc-rust.toml";

#[test]
fn example_markdown_app_checks_and_runs() {
    let r = nanoproc(["check", EXAMPLE]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("  render (") && r.stdout.contains("    grants: nothing\n"),
        "the library is granted nothing:\n{}",
        r.stdout
    );

    let r = run(&[EXAMPLE]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "<h1>Hello from a nanoprocess</h1>\n\
         <p>This text was read by <em>main</em>, which may read /docs and nothing else.</p>\n\
         <h2>Rendered by an untrusted library</h2>\n\
         <p>It got <em>no capabilities at all</em>: no files, no clock, no randomness, no stdout.</p>\n\
         <p>Markup like &lt;script&gt; &amp; co is escaped.</p>\n\
         <p>Text in any script passes through untouched: <em>naïve café</em>, Ελληνικά, 日本語 ✓</p>\n"
    );

    // Main reads only inside /docs.
    let r = run(&["--audit", "-", EXAMPLE, "../README.md"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains(r#""nanoprocess":"main""#)
            && r.stderr.contains("main: cannot read /docs/../README.md"),
        "{}",
        r.stderr
    );
    assert!(Path::new(&nanoproc_tests::workspace_root().join("README.md")).is_file());
}

/// The same application with the library written in Rust with `wit-bindgen`
/// (`examples/markdown-app/render-rs`, built by `scripts/build-examples.sh`): the same
/// output, byte for byte. Fails, never skips, when the library was not built.
#[test]
fn example_markdown_app_with_the_wit_bindgen_library() {
    let root = nanoproc_tests::workspace_root();
    let wasm = root.join("target/examples/markdown-app/render.wasm");
    let how = "build it with ./scripts/build-examples.sh (scripts/test.sh does; it needs the \
               Rust target wasm32-wasip1, which ./scripts/setup.sh installs)";
    let built = std::fs::metadata(&wasm)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} not found: {how}", wasm.display()));
    for source in [
        "examples/markdown-app/render-rs/src/lib.rs",
        "examples/markdown-app/wit/render.wit",
    ] {
        let changed = std::fs::metadata(root.join(source))
            .and_then(|m| m.modified())
            .unwrap();
        assert!(
            changed <= built,
            "{} is older than {source}: {how}",
            wasm.display()
        );
    }

    let r = nanoproc(["check", EXAMPLE_RUST]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("    grants: nothing\n"), "{}", r.stdout);
    let rust = run(&[EXAMPLE_RUST]);
    assert_eq!(rust.code, 0, "{}", rust.stderr);
    let wat = run(&[EXAMPLE]);
    assert_eq!(rust.stdout, wat.stdout);
    assert!(rust.stdout.contains("<h1>Hello from a nanoprocess</h1>"));

    // The Rust library imports WASI (its standard library's environment and stderr) and
    // gets nothing through it: an audit shows no refusal, since it never needed one.
    let r = run(&["--audit", "-", EXAMPLE_RUST]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stderr.contains(r#""nanoprocess":"render""#),
        "{}",
        r.stderr
    );
}

/// `main → mid → leaf`: a trap in `leaf` reaches the host through `mid`; the message names
/// both, and main's part of the backtrace holds main's frames only.
#[test]
fn a_trap_down_a_chain_names_every_nanoprocess() {
    let wit = "package test:calc;\ninterface calc { div: func(a: u32, b: u32) -> u32; }\n";
    let dir = app(&[
        ("calc.wit", wit),
        (
            "main.wat",
            r#"(module $main
                 (import "test:calc/calc" "div" (func $div (param i32 i32) (result i32)))
                 (func $go (drop (call $div (i32.const 1) (i32.const 0))))
                 (func (export "_start") (call $go)))"#,
        ),
        (
            "mid.wat",
            r#"(module $mid
                 (import "test:calc/calc" "div" (func $div (param i32 i32) (result i32)))
                 (func $relay (param i32 i32) (result i32) (call $div (local.get 0) (local.get 1)))
                 (func (export "test:calc/calc#div") (param i32 i32) (result i32)
                   (call $relay (local.get 0) (local.get 1))))"#,
        ),
        (
            "leaf.wat",
            r#"(module $leaf
                 (func $inner (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1)))
                 (func (export "test:calc/calc#div") (param i32 i32) (result i32)
                   (call $inner (local.get 0) (local.get 1))))"#,
        ),
        (
            "nanoproc.toml",
            r#"
[app]
main = "main"
[nanoprocess.main]
module = "main.wat"
links = { "test:calc/calc" = "mid" }
[nanoprocess.mid]
parent = "main"
module = "mid.wat"
wit = "calc.wit"
links = { "test:calc/calc" = "leaf" }
[nanoprocess.leaf]
parent = "mid"
module = "leaf.wat"
wit = "calc.wit"
"#,
        ),
    ]);
    let r = run(&[&manifest(&dir)]);
    assert_eq!(r.code, 134, "{}", r.stderr);
    let first = r.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "error: trap: nanoprocess `mid` trapped while serving `main`'s call to test:calc/calc#div: "
        ) && first.contains("nanoprocess `leaf` trapped while serving `mid`'s call")
            && first.ends_with("integer divide by zero"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("leaf!inner"), "{}", r.stderr);
    let (_, main_part) = r
        .stderr
        .split_once("backtrace of `main`:\n")
        .unwrap_or_else(|| panic!("{}", r.stderr));
    let frames: Vec<&str> = main_part.lines().collect();
    assert!(
        !frames.is_empty() && frames.iter().all(|f| f.contains("main!")),
        "main's frames only: {}",
        r.stderr
    );
}
