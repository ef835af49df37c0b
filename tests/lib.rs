//! Helpers shared by nanoproc's integration tests.
//!
//! - Owns: finding things the tests need outside the test binary (the `nanoproc` binary,
//!   scratch files).
//! - Must never: be used by shipped crates.

use std::path::{Path, PathBuf};

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
