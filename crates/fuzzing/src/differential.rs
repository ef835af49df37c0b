//! Oracle: a wasm-smith module runs the same in nanoproc and in the reference interpreter
//! wasmi — results, traps, and the final state of exported globals, memories and tables.
//!
//! Sources of legitimate difference and how they are removed:
//! - NaN payloads: wasm-smith's `canonicalize_nans` rewrites every float operation so a
//!   NaN result is the canonical one; on top of that, floats compare as equal when both
//!   are NaN (lane-wise for `v128`).
//! - Termination: wasm-smith's `ensure_termination` makes every loop iteration and call
//!   pay from a global counter and trap (`unreachable`) when it reaches zero; that is
//!   deterministic, so it compares. Both engines also meter with their own fuel as a
//!   backstop; their fuel models differ, so once either runs out of fuel (or out of call
//!   stack, whose size is a configuration matter) the states may differ and comparison
//!   stops for that module.
//! - Resource limits: both stores get the same limits (1 MiB per memory, 500 elements per
//!   table), and wasm-smith may declare up to twice that, so growth failures are exercised.

use crate::{fail, Failure};
use arbitrary::Unstructured;
use nanoproc_engine as np;

/// What the differential oracle has compared in this process, for reporting coverage of
/// the oracle itself (`tests/oracles.rs` prints it).
pub mod stats {
    use std::sync::atomic::{AtomicU64, Ordering};

    pub static MODULES: AtomicU64 = AtomicU64::new(0);
    pub static INSTANTIATED: AtomicU64 = AtomicU64::new(0);
    pub static CALLS_EQUAL: AtomicU64 = AtomicU64::new(0);
    pub static TRAPS_EQUAL: AtomicU64 = AtomicU64::new(0);
    pub static SKIPPED_RESOURCE: AtomicU64 = AtomicU64::new(0);
    pub static FINAL_STATES_EQUAL: AtomicU64 = AtomicU64::new(0);

    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// One line summing up the counters.
    pub fn summary() -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "{} modules, {} instantiated, {} calls with equal results, {} with equal traps, \
             {} comparisons stopped by fuel/stack exhaustion, {} equal final states",
            g(&MODULES),
            g(&INSTANTIATED),
            g(&CALLS_EQUAL),
            g(&TRAPS_EQUAL),
            g(&SKIPPED_RESOURCE),
            g(&FINAL_STATES_EQUAL)
        )
    }
}
use stats::bump;

/// Per-iteration/per-call budget injected by `ensure_termination`.
const SMITH_FUEL: u32 = 1_000;
/// Engine fuel per call: a backstop well above what `SMITH_FUEL` allows in straight code.
pub(crate) const ENGINE_FUEL: u64 = 10_000_000;
const MEMORY_LIMIT: usize = 1 << 20;
const TABLE_LIMIT: u32 = 500;

/// The wasm-smith configuration: exactly the features nanoproc supports (WebAssembly 2.0
/// with SIMD, bulk memory, reference types, multi-value, plus tail calls and extended
/// constant expressions); everything else off. No imports, so every module instantiates
/// without host functions; everything exported, so the final state is observable.
pub fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        max_imports: 0,
        min_funcs: 1,
        max_funcs: 20,
        export_everything: true,
        canonicalize_nans: true,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        simd_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        tail_call_enabled: true,
        extended_const_enabled: true,
        relaxed_simd_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        custom_descriptors_enabled: false,
        compact_imports_enabled: false,
        max_memories: 1,
        max_tables: 4,
        max_memory32_bytes: 2 * MEMORY_LIMIT as u64,
        max_table_elements: 2 * TABLE_LIMIT as u64,
        ..wasm_smith::Config::default()
    }
}

/// A module generated from `seed` with [`smith_config`], made terminating; `None` if the
/// seed is too short for wasm-smith.
pub fn smith_module(seed: &[u8]) -> Option<Vec<u8>> {
    let mut u = Unstructured::new(seed);
    smith_from(&mut u)
}

pub(crate) fn smith_from(u: &mut Unstructured<'_>) -> Option<Vec<u8>> {
    let mut module = wasm_smith::Module::new(smith_config(), u).ok()?;
    module.ensure_termination(SMITH_FUEL).ok()?;
    Some(module.to_bytes())
}

/// Runs a module generated from `seed` in both engines and compares everything observable.
/// The bytes left after generation provide the call arguments.
pub fn differential(seed: &[u8]) -> Result<(), Failure> {
    let mut u = Unstructured::new(seed);
    let Some(wasm) = smith_from(&mut u) else {
        return Ok(());
    };
    bump(&stats::MODULES);
    run_both(&wasm, &mut u)
}

/// Compares nanoproc with wasmi on one binary module (also used by regression replays).
pub fn run_both(wasm: &[u8], u: &mut Unstructured<'_>) -> Result<(), Failure> {
    // nanoproc
    let mut config = np::Config::new();
    config.consume_fuel(true);
    let np_engine = np::Engine::new(&config);
    let np_module = match np::Module::new(&np_engine, wasm) {
        Ok(m) => m,
        Err(e) => fail!("nanoproc rejected a wasm-smith module: {e}"),
    };
    let mut np_store = limited_store(&np_engine);

    // wasmi
    let mut wconfig = wasmi::Config::default();
    wconfig
        .consume_fuel(true)
        .wasm_multi_memory(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false)
        .wasm_relaxed_simd(false);
    let w_engine = wasmi::Engine::new(&wconfig);
    let w_module = match wasmi::Module::new(&w_engine, wasm) {
        Ok(m) => m,
        Err(e) => fail!("wasmi rejected a wasm-smith module: {e}"),
    };
    let limits = wasmi::StoreLimitsBuilder::new()
        .memory_size(MEMORY_LIMIT)
        .table_elements(TABLE_LIMIT as usize)
        .instances(10)
        .memories(10)
        .tables(10)
        .build();
    let mut w_store = wasmi::Store::new(&w_engine, limits);
    w_store.limiter(|l| l);

    set_fuel(&mut np_store, &mut w_store)?;
    let np_inst = np::Instance::new(&mut np_store, &np_module, &[]);
    let w_inst = wasmi::Linker::new(&w_engine).instantiate_and_start(&mut w_store, &w_module);
    let (np_inst, w_inst) = match (np_inst, w_inst) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(a), Err(b)) => return compare_errors("instantiation", &a, &b).map(|_| ()),
        (Err(a), Ok(_)) => {
            if resource_np(&a) {
                return Ok(());
            }
            fail!("instantiation: nanoproc failed ({a}), wasmi succeeded")
        }
        (Ok(_), Err(b)) => {
            if resource_wasmi(&b) {
                return Ok(());
            }
            fail!("instantiation: wasmi failed ({b}), nanoproc succeeded")
        }
    };

    bump(&stats::INSTANTIATED);
    let exports: Vec<(String, np::Extern)> = np_inst.exports(&np_store);
    for (name, ext) in &exports {
        let np::Extern::Func(np_func) = ext else {
            continue;
        };
        let Some(w_func) = w_inst.get_func(&w_store, name) else {
            fail!("export `{name}`: a function in nanoproc, missing in wasmi");
        };
        let ty = np_func.ty(&np_store);
        let mut np_args = Vec::new();
        let mut w_args = Vec::new();
        for &t in ty.params() {
            let (a, b) = arbitrary_arg(u, t);
            np_args.push(a);
            w_args.push(b);
        }
        let mut np_results: Vec<np::Val> = ty
            .results()
            .iter()
            .map(|&t| np::Val::default_for(t))
            .collect();
        let mut w_results: Vec<wasmi::Val> = ty
            .results()
            .iter()
            .map(|&t| wasmi::Val::default(to_wasmi_ty(t)))
            .collect();
        set_fuel(&mut np_store, &mut w_store)?;
        let a = np_func.call(&mut np_store, &np_args, &mut np_results);
        let b = w_func.call(&mut w_store, &w_args, &mut w_results);
        let what = format!("call of `{name}` with {np_args:?}");
        match (a, b) {
            (Ok(()), Ok(())) => {
                for (i, (x, y)) in np_results.iter().zip(&w_results).enumerate() {
                    if !same_val(x, y) {
                        fail!("{what}: result {i} is {x:?} in nanoproc, {y:?} in wasmi");
                    }
                }
                bump(&stats::CALLS_EQUAL);
            }
            (Err(a), Err(b)) => {
                if !compare_errors(&what, &a, &b)? {
                    // Out of fuel or stack in one engine: the states may have diverged.
                    bump(&stats::SKIPPED_RESOURCE);
                    return Ok(());
                }
                bump(&stats::TRAPS_EQUAL);
            }
            (Err(a), Ok(())) => {
                if resource_np(&a) {
                    bump(&stats::SKIPPED_RESOURCE);
                    return Ok(());
                }
                fail!("{what}: nanoproc trapped ({a}), wasmi returned {w_results:?}")
            }
            (Ok(()), Err(b)) => {
                if resource_wasmi(&b) {
                    bump(&stats::SKIPPED_RESOURCE);
                    return Ok(());
                }
                fail!("{what}: wasmi trapped ({b}), nanoproc returned {np_results:?}")
            }
        }
    }

    // Final state of every exported global, memory and table.
    for (name, ext) in &exports {
        match ext {
            np::Extern::Global(g) => {
                let x = g.get(&np_store);
                let Some(wg) = w_inst.get_global(&w_store, name) else {
                    fail!("export `{name}`: a global in nanoproc, missing in wasmi");
                };
                let y = wg.get(&w_store);
                if !same_val(&x, &y) {
                    fail!("final global `{name}` is {x:?} in nanoproc, {y:?} in wasmi");
                }
            }
            np::Extern::Memory(m) => {
                let Some(wm) = w_inst.get_memory(&w_store, name) else {
                    fail!("export `{name}`: a memory in nanoproc, missing in wasmi");
                };
                let x = m.data(&np_store);
                let y = wm.data(&w_store);
                if x.len() != y.len() {
                    fail!(
                        "final memory `{name}` has {} bytes in nanoproc, {} in wasmi",
                        x.len(),
                        y.len()
                    );
                }
                if let Some(i) = x.iter().zip(y).position(|(a, b)| a != b) {
                    fail!(
                        "final memory `{name}` differs at byte {i}: {} in nanoproc, {} in wasmi",
                        x[i],
                        y[i]
                    );
                }
            }
            np::Extern::Table(t) => {
                let Some(wt) = w_inst.get_table(&w_store, name) else {
                    fail!("export `{name}`: a table in nanoproc, missing in wasmi");
                };
                let n = t.size(&np_store);
                if u64::from(n) != wt.size(&w_store) {
                    fail!(
                        "final table `{name}` has {n} elements in nanoproc, {} in wasmi",
                        wt.size(&w_store)
                    );
                }
                for i in 0..n {
                    let x = t.get(&np_store, i).map(|v| is_null_np(&v));
                    let y = wt.get(&w_store, u64::from(i)).map(|r| is_null_wasmi(&r));
                    if x != y {
                        fail!(
                            "final table `{name}`[{i}]: null is {x:?} in nanoproc, {y:?} in wasmi"
                        );
                    }
                }
            }
            np::Extern::Func(_) => {}
        }
    }
    bump(&stats::FINAL_STATES_EQUAL);
    Ok(())
}

/// A nanoproc store with the oracle's limits (wasmi's store gets the same).
pub(crate) fn limited_store(engine: &np::Engine) -> np::Store<()> {
    let mut store = np::Store::new(engine, ());
    store.set_limits(np::StoreLimits {
        memory_size: MEMORY_LIMIT,
        total_memory: 16 * MEMORY_LIMIT,
        table_elements: TABLE_LIMIT,
        total_table_elements: 16 * TABLE_LIMIT as u64,
        instances: 10,
        memories: 10,
        tables: 10,
    });
    store
}

fn set_fuel(
    np_store: &mut np::Store<()>,
    w_store: &mut wasmi::Store<wasmi::StoreLimits>,
) -> Result<(), Failure> {
    np_store
        .set_fuel(ENGINE_FUEL)
        .map_err(|e| Failure(format!("nanoproc set_fuel: {e}")))?;
    w_store
        .set_fuel(ENGINE_FUEL)
        .map_err(|e| Failure(format!("wasmi set_fuel: {e}")))
}

/// One argument of type `t`, the same value for both engines (references are null).
pub(crate) fn arbitrary_arg(u: &mut Unstructured<'_>, t: np::ValType) -> (np::Val, wasmi::Val) {
    use np::ValType as T;
    match t {
        T::I32 => {
            let v = u.arbitrary::<i32>().unwrap_or(0);
            (np::Val::I32(v), wasmi::Val::I32(v))
        }
        T::I64 => {
            let v = u.arbitrary::<i64>().unwrap_or(0);
            (np::Val::I64(v), wasmi::Val::I64(v))
        }
        T::F32 => {
            let v = u.arbitrary::<u32>().unwrap_or(0);
            (np::Val::F32(v), wasmi::Val::F32(wasmi::F32::from_bits(v)))
        }
        T::F64 => {
            let v = u.arbitrary::<u64>().unwrap_or(0);
            (np::Val::F64(v), wasmi::Val::F64(wasmi::F64::from_bits(v)))
        }
        T::V128 => {
            let v = u.arbitrary::<u128>().unwrap_or(0);
            (np::Val::V128(v), wasmi::Val::V128(wasmi::V128::from(v)))
        }
        T::FuncRef => (
            np::Val::FuncRef(None),
            wasmi::Val::FuncRef(wasmi::Ref::Null),
        ),
        T::ExternRef => (
            np::Val::ExternRef(None),
            wasmi::Val::ExternRef(wasmi::Ref::Null),
        ),
    }
}

fn to_wasmi_ty(t: np::ValType) -> wasmi::ValType {
    use np::ValType as T;
    match t {
        T::I32 => wasmi::ValType::I32,
        T::I64 => wasmi::ValType::I64,
        T::F32 => wasmi::ValType::F32,
        T::F64 => wasmi::ValType::F64,
        T::V128 => wasmi::ValType::V128,
        T::FuncRef => wasmi::ValType::FuncRef,
        T::ExternRef => wasmi::ValType::ExternRef,
    }
}

fn is_null_np(v: &np::Val) -> bool {
    matches!(v, np::Val::FuncRef(None) | np::Val::ExternRef(None))
}

fn is_null_wasmi(v: &wasmi::Val) -> bool {
    match v {
        wasmi::Val::FuncRef(r) => r.is_null(),
        wasmi::Val::ExternRef(r) => r.is_null(),
        _ => false,
    }
}

fn f32_same(a: u32, b: u32) -> bool {
    a == b || (f32::from_bits(a).is_nan() && f32::from_bits(b).is_nan())
}

fn f64_same(a: u64, b: u64) -> bool {
    a == b || (f64::from_bits(a).is_nan() && f64::from_bits(b).is_nan())
}

/// Equal, or differing only in NaN payloads (for `v128`: lane-wise as f32x4 or f64x2).
fn v128_same(a: u128, b: u128) -> bool {
    if a == b {
        return true;
    }
    let f32x4 = (0..4).all(|i| f32_same((a >> (32 * i)) as u32, (b >> (32 * i)) as u32));
    let f64x2 = (0..2).all(|i| f64_same((a >> (64 * i)) as u64, (b >> (64 * i)) as u64));
    f32x4 || f64x2
}

fn same_val(a: &np::Val, b: &wasmi::Val) -> bool {
    match (a, b) {
        (np::Val::I32(x), wasmi::Val::I32(y)) => x == y,
        (np::Val::I64(x), wasmi::Val::I64(y)) => x == y,
        (np::Val::F32(x), wasmi::Val::F32(y)) => f32_same(*x, y.to_bits()),
        (np::Val::F64(x), wasmi::Val::F64(y)) => f64_same(*x, y.to_bits()),
        (np::Val::V128(x), wasmi::Val::V128(y)) => v128_same(*x, y.as_u128()),
        (np::Val::FuncRef(x), wasmi::Val::FuncRef(y)) => x.is_none() == y.is_null(),
        (np::Val::ExternRef(x), wasmi::Val::ExternRef(y)) => x.is_none() == y.is_null(),
        _ => false,
    }
}

/// Trap classes that must agree between the engines.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Unreachable,
    IntegerOverflow,
    DivideByZero,
    BadConversion,
    MemoryOutOfBounds,
    /// Table access or `call_indirect` index out of bounds.
    TableOutOfBounds,
    IndirectCallToNull,
    BadSignature,
    /// Out of fuel or call stack: configuration-dependent, never compared.
    Resource,
    /// Not a trap (e.g. a limit refused at instantiation), with the message.
    Other(String),
}

pub(crate) fn class_np(e: &np::Error) -> Class {
    use np::TrapKind as K;
    let Some(t) = e.as_trap() else {
        return match e {
            np::Error::LimitExceeded(_) => Class::Resource,
            _ => Class::Other(e.to_string()),
        };
    };
    match &t.kind {
        K::Unreachable => Class::Unreachable,
        K::IntegerOverflow => Class::IntegerOverflow,
        K::IntegerDivideByZero => Class::DivideByZero,
        K::InvalidConversionToInteger => Class::BadConversion,
        K::MemoryOutOfBounds => Class::MemoryOutOfBounds,
        K::TableOutOfBounds | K::UndefinedElement => Class::TableOutOfBounds,
        K::IndirectCallToNull => Class::IndirectCallToNull,
        K::BadSignature => Class::BadSignature,
        K::CallStackExhausted | K::OutOfFuel | K::LimitExceeded(_) => Class::Resource,
        other => Class::Other(other.to_string()),
    }
}

fn class_wasmi(e: &wasmi::Error) -> Class {
    use wasmi::TrapCode as C;
    match e.as_trap_code() {
        Some(C::UnreachableCodeReached) => Class::Unreachable,
        Some(C::IntegerOverflow) => Class::IntegerOverflow,
        Some(C::IntegerDivisionByZero) => Class::DivideByZero,
        Some(C::BadConversionToInteger) => Class::BadConversion,
        Some(C::MemoryOutOfBounds) => Class::MemoryOutOfBounds,
        Some(C::TableOutOfBounds) => Class::TableOutOfBounds,
        Some(C::IndirectCallToNull) => Class::IndirectCallToNull,
        Some(C::BadSignature) => Class::BadSignature,
        Some(C::StackOverflow | C::OutOfFuel | C::GrowthOperationLimited) => Class::Resource,
        None => {
            // wasmi reports limiter refusals at instantiation as plain errors.
            // Segment initialization at instantiation fails with an error, not a trap code.
            let msg = e.to_string();
            if msg.starts_with("out of bounds table access") {
                Class::TableOutOfBounds
            } else if msg.starts_with("out of bounds memory access") {
                Class::MemoryOutOfBounds
            } else if msg.contains("limit") || msg.contains("grow") || msg.contains("out of fuel") {
                Class::Resource
            } else {
                Class::Other(msg)
            }
        }
    }
}

fn resource_np(e: &np::Error) -> bool {
    class_np(e) == Class::Resource
}

fn resource_wasmi(e: &wasmi::Error) -> bool {
    class_wasmi(e) == Class::Resource
}

/// Both engines failed: `Ok(true)` if the failures agree, `Ok(false)` if one of them is a
/// resource exhaustion (not comparable), `Err` if they are different traps.
fn compare_errors(what: &str, a: &np::Error, b: &wasmi::Error) -> Result<bool, Failure> {
    let (x, y) = (class_np(a), class_wasmi(b));
    if x == Class::Resource || y == Class::Resource {
        return Ok(false);
    }
    match (&x, &y) {
        (Class::Other(_), Class::Other(_)) => Ok(true),
        _ if x == y => Ok(true),
        _ => fail!("{what}: nanoproc failed with {a} ({x:?}), wasmi with {b} ({y:?})"),
    }
}
