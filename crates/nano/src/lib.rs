//! # nanoproc-nano
//!
//! Nanoprocess graphs: an application is a tree of nanoprocesses, each a separate instance
//! with its own memory and its own grants, described by a manifest (`nanoproc.toml`,
//! documented in `docs/manifest.md`).
//!
//! - Owns: the manifest format ([`Manifest`]), grants and limits, and the attenuation rule
//!   ([`check_attenuation`]: a child holds only a subset of what its parent holds), the
//!   capability tree ([`capability_tree`]).
//! - Must never: grant anything a manifest does not name, let a child hold more than its
//!   parent, or run anything before the whole manifest has been checked.

#![forbid(unsafe_code)]

mod attenuation;
mod manifest;
pub mod units;

pub use attenuation::{capability_tree, check_attenuation};
pub use manifest::{
    parse_clock, parse_random, ClockGrant, DirGrant, Grants, Limits, Manifest, ManifestError, Mode,
    Nanoprocess, Problem, RandomGrant, StdioGrant,
};
