//! # nanoproc-nano
//!
//! Nanoprocess graphs: an application is a tree of nanoprocesses, each a separate instance
//! with its own memory and its own grants, described by a manifest (`nanoproc.toml`,
//! documented in `docs/manifest.md`), calling each other through typed interfaces (WIT) by
//! the component model's canonical ABI (`docs/nanoprocess-calls.md`).
//!
//! - Owns: the manifest format ([`Manifest`]), grants and limits, and the attenuation rule
//!   ([`check_attenuation`]: a child holds only a subset of what its parent holds), the
//!   capability tree ([`capability_tree`]), running a graph ([`App`]: every nanoprocess in
//!   one store, each with its own linker, WASI context and memory limit) and the
//!   cross-nanoprocess calls (canonical-ABI lifting and lowering, memory to memory).
//! - Must never: grant anything a manifest does not name, let a child hold more than its
//!   parent, run anything before the whole manifest has been checked, share a memory, table
//!   or global between nanoprocesses, or give one an import that is neither WASI (under its
//!   own grants) nor one of its `links`.
//!
//! ```no_run
//! use nanoproc_nano::{App, AppOptions, Manifest};
//!
//! let manifest = Manifest::from_file("app/nanoproc.toml")?;
//! println!("{}", App::check(&manifest).map_err(|p| p.len()).unwrap_or_default());
//! let mut app = App::new(&manifest, AppOptions::default())?;
//! let code = app.run_main()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod abi;
mod app;
mod attenuation;
mod call;
mod manifest;
pub mod units;

pub use app::{App, AppOptions, AuditWriter, NanoError};
pub use attenuation::{capability_tree, check_attenuation};
pub use manifest::{
    parse_clock, parse_random, ClockGrant, DirGrant, Grants, Limits, Manifest, ManifestError, Mode,
    Nanoprocess, Problem, RandomGrant, StdioGrant,
};
pub use nanoproc_engine::{FuncType, Trap, TrapKind, Val, ValType};
pub use nanoproc_wasi::{AuditLevel, SharedBuffer};
