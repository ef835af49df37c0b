//! Oracle: a wasm-smith module runs the same in nanoproc translated eagerly without fuel
//! (which inlines calls of tiny leaf functions and has no fuel regions) as translated
//! lazily with fuel (the configuration the differential oracle checks against wasmi):
//! results, traps and the final state of exported globals and memories.
//!
//! The modules are the differential oracle's, made terminating by wasm-smith; the eager
//! side has no fuel, so each call also gets a deadline; a call that reaches it (or runs
//! out of fuel or stack on the other side) stops the comparison for that module, as the
//! states may then differ. (Termination gives every function a global counter to update,
//! so wasm-smith's functions are never leaves to inline: `tests/inline.rs` and the spec
//! suite translated eagerly cover inlining.)

use crate::differential::{arbitrary_arg, class_np, limited_store, smith_from, Class, ENGINE_FUEL};
use crate::{fail, Failure};
use arbitrary::Unstructured;
use nanoproc_engine as np;
use std::time::Duration;

/// What this oracle has compared in this process.
pub mod stats {
    use std::sync::atomic::{AtomicU64, Ordering};

    pub static MODULES: AtomicU64 = AtomicU64::new(0);
    pub static CALLS_EQUAL: AtomicU64 = AtomicU64::new(0);
    pub static TRAPS_EQUAL: AtomicU64 = AtomicU64::new(0);
    pub static STOPPED: AtomicU64 = AtomicU64::new(0);

    /// One line summing up the counters.
    pub fn summary() -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "{} modules, {} calls with equal results, {} with equal traps, {} comparisons \
             stopped by fuel, stack or deadline",
            g(&MODULES),
            g(&CALLS_EQUAL),
            g(&TRAPS_EQUAL),
            g(&STOPPED)
        )
    }
}
use crate::differential::stats::bump;

/// Each eager call may run this long: far more than the lazy side's fuel allows.
const DEADLINE: Duration = Duration::from_secs(2);

/// Equal values; references by null-ness only (they belong to different stores).
fn same(a: &np::Val, b: &np::Val) -> bool {
    match (a, b) {
        (np::Val::FuncRef(x), np::Val::FuncRef(y)) => x.is_none() == y.is_none(),
        (np::Val::ExternRef(x), np::Val::ExternRef(y)) => x.is_none() == y.is_none(),
        _ => a == b,
    }
}

/// Not comparable: out of fuel, stack or time (the deadline), or a refused limit.
fn stops(e: &np::Error) -> bool {
    class_np(e) == Class::Resource
        || matches!(
            e.as_trap().map(|t| &t.kind),
            Some(np::TrapKind::Interrupted)
        )
}

/// Runs a module generated from `seed` translated lazily with fuel and eagerly without,
/// and compares everything observable.
pub fn eager_translation(seed: &[u8]) -> Result<(), Failure> {
    let mut u = Unstructured::new(seed);
    let Some(wasm) = smith_from(&mut u) else {
        return Ok(());
    };
    bump(&stats::MODULES);
    let mut lazy_config = np::Config::new();
    lazy_config.consume_fuel(true);
    let mut eager_config = np::Config::new();
    eager_config.lazy_translation(false);
    let (lazy_engine, eager_engine) = (
        np::Engine::new(&lazy_config),
        np::Engine::new(&eager_config),
    );
    let modules = (
        np::Module::new(&lazy_engine, &wasm),
        np::Module::new(&eager_engine, &wasm),
    );
    let (lazy_module, eager_module) = match modules {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => fail!(
            "compilation: lazy {:?}, eager {:?}",
            a.map(drop).map_err(|e| e.to_string()),
            b.map(drop).map_err(|e| e.to_string())
        ),
    };
    let (mut lazy, mut eager) = (limited_store(&lazy_engine), limited_store(&eager_engine));
    let set = |lazy: &mut np::Store<()>, eager: &mut np::Store<()>| {
        eager.set_deadline(DEADLINE);
        lazy.set_fuel(ENGINE_FUEL)
            .map_err(|e| Failure(format!("set_fuel: {e}")))
    };
    set(&mut lazy, &mut eager)?;
    let instances = (
        np::Instance::new(&mut lazy, &lazy_module, &[]),
        np::Instance::new(&mut eager, &eager_module, &[]),
    );
    let (lazy_inst, eager_inst) = match instances {
        (Ok(a), Ok(b)) => (a, b),
        (Err(a), Err(b)) if class_np(&a) == class_np(&b) || stops(&a) || stops(&b) => return Ok(()),
        (Err(a), _) if stops(&a) => return Ok(()),
        (_, Err(b)) if stops(&b) => return Ok(()),
        (a, b) => fail!(
            "instantiation: lazy {:?}, eager {:?}",
            a.map(drop).map_err(|e| e.to_string()),
            b.map(drop).map_err(|e| e.to_string())
        ),
    };
    let exports = lazy_inst.exports(&lazy);
    for (name, ext) in &exports {
        let np::Extern::Func(lazy_func) = ext else {
            continue;
        };
        let Some(eager_func) = eager_inst.get_func(&eager, name) else {
            fail!("export `{name}` missing from the eager instance");
        };
        let ty = lazy_func.ty(&lazy);
        let args: Vec<np::Val> = ty
            .params()
            .iter()
            .map(|&t| arbitrary_arg(&mut u, t).0)
            .collect();
        let fresh = || -> Vec<np::Val> {
            ty.results()
                .iter()
                .map(|&t| np::Val::default_for(t))
                .collect()
        };
        let (mut a_results, mut b_results) = (fresh(), fresh());
        set(&mut lazy, &mut eager)?;
        let a = lazy_func.call(&mut lazy, &args, &mut a_results);
        let b = eager_func.call(&mut eager, &args, &mut b_results);
        let what = format!("call of `{name}` with {args:?}");
        match (a, b) {
            (Ok(()), Ok(())) => {
                if !a_results.iter().zip(&b_results).all(|(x, y)| same(x, y)) {
                    fail!("{what}: lazy returned {a_results:?}, eager {b_results:?}");
                }
                bump(&stats::CALLS_EQUAL);
            }
            (Err(a), _) if stops(&a) => {
                bump(&stats::STOPPED);
                return Ok(());
            }
            (_, Err(b)) if stops(&b) => {
                bump(&stats::STOPPED);
                return Ok(());
            }
            (Err(a), Err(b)) => {
                if class_np(&a) != class_np(&b) {
                    fail!("{what}: lazy trapped ({a}), eager trapped ({b})");
                }
                bump(&stats::TRAPS_EQUAL);
            }
            (a, b) => fail!(
                "{what}: lazy {:?} ({a_results:?}), eager {:?} ({b_results:?})",
                a.map_err(|e| e.to_string()),
                b.map_err(|e| e.to_string())
            ),
        }
    }
    for (name, ext) in &exports {
        match ext {
            np::Extern::Global(g) => {
                let Some(eg) = eager_inst.get_global(&eager, name) else {
                    fail!("export `{name}` missing from the eager instance");
                };
                let (x, y) = (g.get(&lazy), eg.get(&eager));
                if !same(&x, &y) {
                    fail!("final global `{name}`: lazy {x:?}, eager {y:?}");
                }
            }
            np::Extern::Memory(m) => {
                let Some(em) = eager_inst.get_memory(&eager, name) else {
                    fail!("export `{name}` missing from the eager instance");
                };
                if m.data(&lazy) != em.data(&eager) {
                    fail!("final memory `{name}` differs between lazy and eager");
                }
            }
            _ => {}
        }
    }
    Ok(())
}
