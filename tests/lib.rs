//! Helpers shared by nanoproc's integration tests.
//!
//! - Owns: finding things the tests need outside the test binary (the `nanoproc` binary,
//!   scratch files).
//! - Must never: be used by shipped crates.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root (the tests crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `nanoproc` binary of the same build profile as the running test.
///
/// Cargo only builds a package's binaries for *that package's* integration tests, and
/// `CARGO_BIN_EXE_<name>` is only set for them, so a test in this separate crate finds the
/// binary next to its own executable instead: a test runs as
/// `target/<profile>/deps/cli-<hash>`, and the binary is `target/<profile>/nanoproc`.
/// `scripts/test.sh` builds it (`cargo build --release -p nanoproc-cli`) before running the
/// tests; when running tests by hand, build it first with the same profile.
pub fn nanoproc_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("nanoproc{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} not found: build it first with `cargo build -p nanoproc-cli` using the same \
         profile as the tests (scripts/test.sh does: `cargo build --release -p nanoproc-cli`)",
        bin.display()
    );
    bin
}

/// A file in the system temp dir with a unique name, deleted when dropped.
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// Writes `contents` to a fresh file whose name ends with `suffix` (e.g. `.wat`).
    pub fn new(suffix: &str, contents: &[u8]) -> TempFile {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("nanoproc-test-{}-{n}-{nanos}{suffix}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, contents).expect("write temp file");
        TempFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A unique, empty directory in the system temp dir, deleted (with its contents) when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        let marker = TempFile::new(".dir", b"");
        let path = marker.path().with_extension("d");
        std::fs::create_dir(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Default for TempDir {
    fn default() -> TempDir {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// What one `nanoproc` process did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A `nanoproc` command with the workspace root as working directory and stdin empty.
pub fn nanoproc_cmd<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(nanoproc_bin());
    cmd.args(args)
        .current_dir(workspace_root())
        .stdin(Stdio::null());
    cmd
}

/// Runs a command to completion, capturing its output.
pub fn run_cmd(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("spawn nanoproc");
    Run {
        code: status.code().expect("nanoproc exited by a signal"),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs `nanoproc ARGS...` in the workspace root.
pub fn nanoproc<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_cmd(&mut nanoproc_cmd(args))
}

/// An error run: exit 1 and exactly one line `error: …` on stderr, which is returned.
pub fn assert_error(run: &Run) -> &str {
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    let line = run.stderr.strip_suffix('\n').unwrap_or(&run.stderr);
    assert!(
        line.starts_with("error: ") && !line.contains('\n'),
        "expected one `error:` line, got {:?}",
        run.stderr
    );
    line
}

/// The folder `scripts/build-guests.sh` builds the test guests into: `$NANOPROC_GUESTS`
/// (relative to the workspace root) or `target/guests`.
pub fn guests_dir() -> PathBuf {
    let root = workspace_root();
    match std::env::var_os("NANOPROC_GUESTS") {
        Some(dir) => root.join(dir),
        None => root.join("target").join("guests"),
    }
}

/// A guest program built by `scripts/build-guests.sh`: `lang` is `c` (from
/// `guests/c/NAME.c`) or `rust` (from `guests/rust/src/bin/NAME.rs`).
///
/// Panics, never skips, when the guest was not built or is older than its source, with the
/// command that builds it.
pub fn guest_wasm(lang: &str, name: &str) -> PathBuf {
    let root = workspace_root();
    let wasm = guests_dir().join(lang).join(format!("{name}.wasm"));
    let sources = match lang {
        "c" => vec![root.join("guests/c").join(format!("{name}.c"))],
        "rust" => vec![
            root.join("guests/rust/src/bin").join(format!("{name}.rs")),
            root.join("guests/rust/src/lib.rs"),
        ],
        _ => panic!("unknown guest language {lang:?} (c or rust)"),
    };
    let how = "build the guests with `./scripts/build-guests.sh` (`./scripts/setup.sh` installs \
               the toolchains it needs: clang-14, lld-14, wasi-libc, libclang-rt-14-dev-wasm32 \
               and the Rust target wasm32-wasip1, then runs it)";
    let built = std::fs::metadata(&wasm)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("guest {} not found: {how}", wasm.display()));
    for source in &sources {
        let changed = std::fs::metadata(source)
            .and_then(|m| m.modified())
            .unwrap_or_else(|e| panic!("guest source {}: {e}", source.display()));
        assert!(
            changed <= built,
            "guest {} is older than {}: {how}",
            wasm.display(),
            source.display()
        );
    }
    wasm
}
