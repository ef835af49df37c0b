//! The `nanoproc` command run as a real process: exit codes, stdout, and the one-line
//! errors on stderr. The binary must be built first with the tests' profile (see
//! `nanoproc_tests::nanoproc_bin`); `scripts/test.sh` does that.

use nanoproc_tests::{assert_error, nanoproc, TempFile};

#[test]
fn run_fib() {
    let run = nanoproc(["run", "--invoke", "fib", "examples/fib.wat", "20"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, "6765\n");
    assert_eq!(run.stderr, "");
}

#[test]
fn run_hello_and_negative_arguments() {
    let run = nanoproc(["run", "--invoke", "hello", "examples/hello.wat"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "42\n"),
        "{}",
        run.stderr
    );
    // `-5` after MODULE belongs to the guest, not to the option parser.
    let run = nanoproc(["run", "--invoke", "add", "examples/hello.wat", "0x10", "-5"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "11\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn results_in_text_form() {
    let module = TempFile::new(
        ".wat",
        br#"(module
          (func (export "many") (param f32 f64 i64) (result f32 f64 i64 i32)
            local.get 0 local.get 1 local.get 2 i32.const -1)
          (func (export "nan") (result f32 f64)
            f32.const nan:0x1 f64.const -nan))"#,
    );
    let run = nanoproc([
        "run".as_ref(),
        "--invoke".as_ref(),
        "many".as_ref(),
        module.path().as_os_str(),
        "1".as_ref(),
        "-inf".as_ref(),
        "-9223372036854775808".as_ref(),
    ]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, "1\n-inf\n-9223372036854775808\n-1\n");
    let run = nanoproc([
        "run".as_ref(),
        "--invoke".as_ref(),
        "nan".as_ref(),
        module.path().as_os_str(),
    ]);
    assert_eq!(run.stdout, "nan:0x1\n-nan\n", "stderr: {}", run.stderr);
}

#[test]
fn trap_exits_134_with_backtrace() {
    let module = TempFile::new(
        ".wat",
        br#"(module
          (func $inner unreachable)
          (func (export "boom") call $inner))"#,
    );
    let run = nanoproc([
        "run".as_ref(),
        "--invoke".as_ref(),
        "boom".as_ref(),
        module.path().as_os_str(),
    ]);
    assert_eq!(run.code, 134, "stderr: {}", run.stderr);
    assert!(
        run.stderr.starts_with("error: trap: unreachable"),
        "stderr: {}",
        run.stderr
    );
    assert!(run.stderr.contains("inner"), "backtrace: {}", run.stderr);
}

#[test]
fn missing_file() {
    let run = nanoproc(["run", "--invoke", "f", "no/such/module.wasm"]);
    let line = assert_error(&run);
    assert!(line.contains("no/such/module.wasm"), "{line}");
}

#[test]
fn malformed_module_names_the_offset() {
    let module = TempFile::new(".wasm", b"\0asm\x01\0\0\0garbage bytes");
    let run = nanoproc([
        "run".as_ref(),
        "--invoke".as_ref(),
        "f".as_ref(),
        module.path().as_os_str(),
    ]);
    let line = assert_error(&run);
    assert!(line.contains("offset"), "{line}");
}

#[test]
fn malformed_text_is_one_line() {
    let module = TempFile::new(".wat", b"(module (func (export \"f\") i32.bogus))");
    let run = nanoproc(["inspect".as_ref(), module.path().as_os_str()]);
    assert_error(&run);
}

#[test]
fn unknown_export() {
    let run = nanoproc(["run", "--invoke", "nope", "examples/fib.wat", "1"]);
    let line = assert_error(&run);
    assert!(line.contains("nope") && line.contains("fib"), "{line}");
}

#[test]
fn wrong_argument_count() {
    let run = nanoproc(["run", "--invoke", "fib", "examples/fib.wat"]);
    let line = assert_error(&run);
    assert!(line.contains("1 argument"), "{line}");
    let run = nanoproc(["run", "--invoke", "fib", "examples/fib.wat", "1", "2"]);
    assert_error(&run);
}

#[test]
fn bad_argument() {
    let run = nanoproc(["run", "--invoke", "fib", "examples/fib.wat", "abc"]);
    let line = assert_error(&run);
    assert!(line.contains("`abc` is not a valid i32"), "{line}");
    let run = nanoproc(["run", "--invoke", "fib", "examples/fib.wat", "4294967296"]);
    assert_error(&run);
}

#[test]
fn no_invoke_and_no_start() {
    let run = nanoproc(["run", "examples/fib.wat"]);
    let line = assert_error(&run);
    assert!(line.contains("_start"), "{line}");
}

#[test]
fn unsatisfied_import() {
    let module = TempFile::new(
        ".wat",
        br#"(module
          (import "env" "log" (func (param i32)))
          (import "env" "mem" (memory 1))
          (func (export "f")))"#,
    );
    let run = nanoproc([
        "run".as_ref(),
        "--invoke".as_ref(),
        "f".as_ref(),
        module.path().as_os_str(),
    ]);
    let line = assert_error(&run);
    assert!(
        line.contains("env::log") && line.contains("env::mem"),
        "{line}"
    );
}

#[test]
fn inspect_text() {
    let run = nanoproc(["inspect", "examples/fib.wat"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert!(
        run.stdout.contains("fib (func (param i32) (result i32))"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("instructions: "), "{}", run.stdout);
}

#[test]
fn inspect_ir_shows_the_fused_internal_code() {
    let run = nanoproc(["inspect", "--ir", "examples/fib.wat"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    // fib's `n < 2` test becomes one fused compare-and-branch with an immediate.
    assert!(run.stdout.contains("function 0"), "{}", run.stdout);
    assert!(run.stdout.contains("BrI32"), "{}", run.stdout);
    assert!(run.stdout.contains("CallInternal"), "{}", run.stdout);
}

#[test]
fn inspect_json() {
    let module = TempFile::new(
        ".wat",
        br#"(module
          (import "env" "g" (global i32))
          (memory (export "mem") 1 2)
          (table 1 funcref)
          (func (export "we\"ird\\name") (param i64) (result f32) f32.const 0))"#,
    );
    let run = nanoproc([
        "inspect".as_ref(),
        "--json".as_ref(),
        module.path().as_os_str(),
    ]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let json = run.stdout.trim();
    assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
    assert!(json.contains(r#""name":"we\"ird\\name""#), "{json}");
    assert!(json.contains(r#""minimum":1,"maximum":2"#), "{json}");
    assert!(json.contains(r#""imported":true,"type":"i32""#), "{json}");
    assert_eq!(json.matches('{').count(), json.matches('}').count());
    assert_eq!(json.matches('[').count(), json.matches(']').count());
}

#[test]
fn wast_counts_assertions() {
    let script = TempFile::new(
        ".wast",
        br#"(module (func (export "add") (param i32 i32) (result i32)
              local.get 0 local.get 1 i32.add))
            (assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
            (assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 4))"#,
    );
    let run = nanoproc(["wast".as_ref(), script.path().as_os_str()]);
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    // The last line is the total, alone; how many passed depends on whether the runner
    // also counts the `module` directive.
    let total = run.stdout.lines().last().unwrap_or_default();
    assert!(
        total.ends_with(" passed, 1 failed") && !total.contains(':'),
        "{}",
        run.stdout
    );
    assert!(!run.stderr.is_empty());
}
