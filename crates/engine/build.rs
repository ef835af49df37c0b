//! Decides whether the interpreter's handlers may call each other in tail position
//! (`crate::threaded`): only where LLVM turns those calls into jumps, which it does when
//! optimizing (`opt-level` 2, 3, `s` or `z`) for the targets below. Elsewhere (debug and
//! `opt-level` 1 builds) every handler returns to a trampoline loop, so the host stack
//! never grows with the number of instructions executed.
use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(nanoproc_tail_calls)");
    // `scripts/pair-profile.sh` sets it (see `src/pair_profile.rs`).
    println!("cargo::rustc-check-cfg=cfg(nanoproc_pair_profile)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=OPT_LEVEL");
    let opt_level = env::var("OPT_LEVEL").unwrap_or_default();
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let optimizing = matches!(opt_level.as_str(), "2" | "3" | "s" | "z");
    let sibling_calls = matches!(arch.as_str(), "x86_64" | "aarch64");
    if optimizing && sibling_calls {
        println!("cargo::rustc-cfg=nanoproc_tail_calls");
    }
}
