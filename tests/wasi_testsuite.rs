//! The official WASI preview1 testsuite (WebAssembly/wasi-testsuite, prebuilt), run
//! in-process exactly as `../shared/README.md` specifies: for each `NAME.wasm` in
//! `{c,rust,assemblyscript}`, delete `*.cleanup` leftovers, grant only what `NAME.json`
//! configures (`args`, `env`, `root` preopened as `/` on a fresh copy of the folder), run
//! `_start`, and compare the exit code (and `stdout` where given).
//!
//! `NANOPROC_WASI_TESTSUITE` points at another copy; the test fails (never skips) when
//! the suite is missing. Set `WASI_TEST=substring` to run only matching tests.

use nanoproc_engine::{Engine, Linker, Module, Store};
use nanoproc_wasi::{
    add_to_linker, DirPerms, I32Exit, SharedBuffer, Stdio, WasiCtx, WasiCtxBuilder,
};
use std::path::{Path, PathBuf};

/// Tests expected to fail on Linux, as `suite/name` with the reason. Keep it empty.
const EXPECTED_FAILURES: &[(&str, &str)] = &[];

const SUITES: &[&str] = &["c", "rust", "assemblyscript"];

fn suite_root() -> PathBuf {
    match std::env::var_os("NANOPROC_WASI_TESTSUITE") {
        Some(p) => PathBuf::from(p),
        None => nanoproc_tests::workspace_root().join("../shared/wasi-testsuite"),
    }
}

#[derive(Debug)]
struct Spec {
    args: Vec<String>,
    env: Vec<(String, String)>,
    root: Option<String>,
    exit_code: i32,
    stdout: Option<String>,
}

fn read_spec(wasm: &Path) -> Spec {
    let json = wasm.with_extension("json");
    let mut spec = Spec {
        args: Vec::new(),
        env: Vec::new(),
        root: None,
        exit_code: 0,
        stdout: None,
    };
    let Ok(text) = std::fs::read_to_string(&json) else {
        return spec;
    };
    let v: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", json.display()));
    if let Some(args) = v.get("args").and_then(|a| a.as_array()) {
        spec.args = args
            .iter()
            .map(|a| a.as_str().expect("args are strings").to_string())
            .collect();
    }
    if let Some(env) = v.get("env").and_then(|e| e.as_object()) {
        spec.env = env
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().expect("env values are strings").to_string(),
                )
            })
            .collect();
    }
    spec.root = v.get("root").and_then(|r| r.as_str()).map(str::to_string);
    if let Some(code) = v.get("exit_code").and_then(|c| c.as_i64()) {
        spec.exit_code = code as i32;
    }
    spec.stdout = v.get("stdout").and_then(|s| s.as_str()).map(str::to_string);
    spec
}

fn remove_cleanup(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "cleanup") {
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cleanup(&path);
        }
    }
}

/// Copies `from` to `to` (files writable by the owner, so the test can modify them).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create scratch dir");
    for entry in std::fs::read_dir(from).expect("read test folder") {
        let entry = entry.expect("dir entry");
        let ty = entry.file_type().expect("file type");
        let dest = to.join(entry.file_name());
        if ty.is_dir() {
            copy_tree(&entry.path(), &dest);
        } else if ty.is_symlink() {
            let target = std::fs::read_link(entry.path()).expect("read symlink");
            std::os::unix::fs::symlink(target, &dest).expect("copy symlink");
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy file");
            let mut perms = std::fs::metadata(&dest).expect("stat copy").permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&dest, perms).expect("make copy writable");
        }
    }
    let mut perms = std::fs::metadata(to).expect("stat dir").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(to, perms).expect("make dir writable");
}

/// Runs one test; `Err` says why it failed.
fn run_one(engine: &Engine, suite: &str, wasm: &Path, scratch: &Path) -> Result<(), String> {
    let dir = wasm.parent().expect("test folder");
    let name = wasm.file_name().unwrap().to_string_lossy().into_owned();
    let spec = read_spec(wasm);
    remove_cleanup(dir);

    let stdout = SharedBuffer::new();
    let stderr = SharedBuffer::new();
    let mut builder = WasiCtxBuilder::new();
    builder
        .arg(name.clone())
        .args(spec.args.iter().cloned())
        .envs(spec.env.iter().cloned())
        .stdout(Stdio::Buffer(stdout.clone()))
        .stderr(Stdio::Buffer(stderr.clone()));
    let copy = scratch.join(format!("{suite}-{name}"));
    if let Some(root) = &spec.root {
        let _ = std::fs::remove_dir_all(&copy);
        copy_tree(&dir.join(root), &copy);
        builder
            .preopened_dir(&copy, "/", DirPerms::ReadWrite)
            .map_err(|e| e.to_string())?;
    }
    let ctx = builder.build();

    let module = Module::from_file(engine, wasm).map_err(|e| format!("load: {e}"))?;
    let mut store = Store::new(engine, ctx);
    let mut linker = Linker::new(engine);
    add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx).map_err(|e| e.to_string())?;
    let result = linker
        .instantiate(&mut store, &module)
        .and_then(|instance| instance.get_typed_func::<(), ()>(&store, "_start"))
        .and_then(|start| start.call(&mut store, ()));
    let _ = std::fs::remove_dir_all(&copy);
    let code = match result {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(I32Exit(code)) => *code,
            None => {
                return Err(format!(
                    "error: {e}\n{}stderr: {}",
                    e.as_trap()
                        .map(|t| t.backtrace_string())
                        .unwrap_or_default(),
                    stderr.to_string_lossy()
                ))
            }
        },
    };
    let out = stdout.to_string_lossy();
    if code != spec.exit_code {
        return Err(format!(
            "exit code {code}, expected {}\nstdout: {out}\nstderr: {}",
            spec.exit_code,
            stderr.to_string_lossy()
        ));
    }
    if let Some(expected) = &spec.stdout {
        if &out != expected {
            return Err(format!("stdout {out:?}, expected {expected:?}"));
        }
    }
    Ok(())
}

#[test]
fn wasi_testsuite() {
    let root = suite_root();
    assert!(
        root.is_dir(),
        "wasi-testsuite not found at {} (set NANOPROC_WASI_TESTSUITE)",
        root.display()
    );
    let filter = std::env::var("WASI_TEST").ok();
    let scratch =
        std::env::temp_dir().join(format!("nanoproc-wasi-testsuite-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let engine = Engine::default();
    let (mut total_pass, mut total_fail) = (0, 0);
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    for suite in SUITES {
        let dir = root.join(suite);
        let mut tests: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        tests.sort();
        assert!(!tests.is_empty(), "no tests in {}", dir.display());
        let (mut pass, mut fail) = (0, 0);
        for wasm in tests {
            let stem = wasm.file_stem().unwrap().to_string_lossy().into_owned();
            let id = format!("{suite}/{stem}");
            if filter.as_ref().is_some_and(|f| !id.contains(f.as_str())) {
                continue;
            }
            let expected_fail = EXPECTED_FAILURES.iter().any(|(n, _)| *n == id);
            match run_one(&engine, suite, &wasm, &scratch) {
                Ok(()) => {
                    pass += 1;
                    if expected_fail {
                        fixed.push(id);
                    }
                }
                Err(why) => {
                    fail += 1;
                    println!("FAIL {id}: {why}");
                    if !expected_fail {
                        unexpected.push(id);
                    }
                }
            }
        }
        println!("wasi-testsuite {suite}: {pass} passed, {fail} failed");
        total_pass += pass;
        total_fail += fail;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    for (id, why) in EXPECTED_FAILURES {
        println!("expected failure {id}: {why}");
    }
    println!("{total_pass} passed, {total_fail} failed");
    assert!(unexpected.is_empty(), "unexpected failures: {unexpected:?}");
    assert!(
        fixed.is_empty(),
        "expected failures now pass, remove them: {fixed:?}"
    );
}
