//! # nanoproc-fuzzing
//!
//! The fuzzing oracles of nanoproc: functions that take arbitrary bytes, run them against
//! the engine (and WASI) and report whether a property that must always hold was broken.
//!
//! - Owns: [`decode_validate_translate`] (arbitrary bytes never panic, hang or exceed
//!   limits), [`differential`] (wasm-smith modules give the same results, traps and final
//!   state in nanoproc and in the reference interpreter `wasmi`), [`eager_translation`]
//!   (the same modules give the same in nanoproc's eager, unmetered translation, which
//!   inlines calls, as in its lazy metered one) and [`wasi_paths`] (random
//!   path operations against a read-write preopen never change anything outside it, nor
//!   read a secret outside it).
//! - Used by: the cargo-fuzz targets in `fuzz/` (each a few lines calling one oracle) and by
//!   `tests/oracles.rs`, which runs every oracle on a deterministic input stream for a
//!   bounded time in CI and replays `tests/regressions/`.
//! - Must never: be a dependency of a shipped crate (it pulls in wasmi and wasm-smith).
//!
//! An oracle returns `Err(Failure)` when the property is broken; an engine panic is left to
//! propagate, so libFuzzer (or the test's `catch_unwind`) records the input.
#![forbid(unsafe_code)]

mod decode;
pub(crate) mod differential;
pub(crate) mod eager;
pub(crate) mod wasi_paths;

pub use decode::decode_validate_translate;
pub use differential::{differential, run_both, smith_config, smith_module};
pub use eager::eager_translation;
pub use wasi_paths::wasi_paths;

/// Counters of what the oracles exercised in this process.
pub mod stats {
    pub use crate::differential::stats as differential;
    pub use crate::eager::stats as eager_translation;
    pub use crate::wasi_paths::stats as wasi_paths;
}

use std::fmt;

/// A broken oracle property, with what was observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

macro_rules! fail {
    ($($t:tt)*) => { return Err($crate::Failure(format!($($t)*))) };
}
pub(crate) use fail;

/// Wall-clock bound on one oracle run inside nanoproc. Fuel is what bounds execution; the
/// deadline only turns a fuel bug (a path that does not pay) into a reported failure
/// instead of a hung fuzzer.
pub(crate) const DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);
