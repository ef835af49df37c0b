//! Oracle: arbitrary bytes through decode, validate, translate, instantiate and call.

use crate::{fail, Failure, DEADLINE};
use nanoproc_engine::{
    Config, Engine, Error, Extern, ExternType, Func, Global, Instance, Memory, Module, Store,
    StoreLimits, Table, TrapKind, Val,
};

/// Fuel given to the start function and to each exported function.
const FUEL: u64 = 100_000;

/// Store limits small enough that a module declaring huge memories or tables is refused
/// quickly instead of making the fuzzer slow.
pub(crate) fn small_limits() -> StoreLimits {
    StoreLimits {
        memory_size: 16 << 20,
        total_memory: 32 << 20,
        table_elements: 100_000,
        total_table_elements: 200_000,
        instances: 10,
        memories: 10,
        tables: 10,
    }
}

/// `Module::new` on arbitrary bytes returns Ok or Err, never panics. When the module
/// compiles, it is instantiated (every import satisfied by a dummy of the right type:
/// functions return zeros) in a store with small limits, and every exported function is
/// called with zero arguments under a fuel budget: each step returns Ok or Err, never
/// panics, and never runs past the budget (an `interrupted` trap from the wall-clock
/// backstop means fuel failed to bound execution, which is a failure).
pub fn decode_validate_translate(bytes: &[u8]) -> Result<(), Failure> {
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    let module = match Module::new(&engine, bytes) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    // Lazy translation promises that a module `Module::new` accepted translates every
    // function later; `internal_code` translates one (and is None only if that fails).
    for index in 0..module.defined_function_count() {
        if module.internal_code(index).is_none() {
            return Err(Failure(format!(
                "defined function {index} of an accepted module does not translate"
            )));
        }
    }
    let mut store = Store::new(&engine, ());
    store.set_limits(small_limits());
    let Some(imports) = dummy_imports(&mut store, &module) else {
        return Ok(());
    };
    store
        .set_fuel(FUEL)
        .map_err(|e| Failure(format!("set_fuel: {e}")))?;
    store.set_deadline(DEADLINE);
    let instance = match Instance::new(&mut store, &module, &imports) {
        Ok(i) => i,
        Err(e) => return check_error(&e, "instantiation"),
    };
    for (name, ext) in instance.exports(&store) {
        let Extern::Func(f) = ext else { continue };
        let ty = f.ty(&store);
        let params: Vec<Val> = ty.params().iter().map(|&t| Val::default_for(t)).collect();
        let mut results: Vec<Val> = ty.results().iter().map(|&t| Val::default_for(t)).collect();
        store
            .set_fuel(FUEL)
            .map_err(|e| Failure(format!("set_fuel: {e}")))?;
        store.set_deadline(DEADLINE);
        match f.call(&mut store, &params, &mut results) {
            Ok(()) => {
                for (r, &t) in results.iter().zip(ty.results()) {
                    if r.ty() != t {
                        fail!("export `{name}` returned {:?} for a result of type {t}", r);
                    }
                }
            }
            Err(e) => check_error(&e, &format!("call of export `{name}`"))?,
        }
    }
    Ok(())
}

/// Any error is acceptable except an interruption, which only the wall-clock backstop
/// raises: fuel should have stopped the guest long before.
fn check_error(e: &Error, what: &str) -> Result<(), Failure> {
    if let Some(t) = e.as_trap() {
        if t.kind == TrapKind::Interrupted {
            fail!("{what}: ran for {DEADLINE:?} with only {FUEL} fuel (fuel does not bound it)");
        }
    }
    Ok(())
}

/// One dummy definition per import, in import order; `None` if one cannot be made (e.g.
/// an imported memory larger than the store allows).
pub(crate) fn dummy_imports<T: 'static>(
    store: &mut Store<T>,
    module: &Module,
) -> Option<Vec<Extern>> {
    let mut out = Vec::new();
    for import in module.imports() {
        let ext = match import.ty {
            ExternType::Func(ty) => {
                let results: Vec<Val> = ty.results().iter().map(|&t| Val::default_for(t)).collect();
                Extern::Func(Func::new(store, ty, move |_, _, out| {
                    out.copy_from_slice(&results);
                    Ok(())
                }))
            }
            ExternType::Global(ty) => {
                Extern::Global(Global::new(&mut *store, ty, Val::default_for(ty.content)).ok()?)
            }
            ExternType::Memory(ty) => Extern::Memory(Memory::new(&mut *store, ty).ok()?),
            ExternType::Table(ty) => {
                let init = Val::default_for(ty.element.into());
                Extern::Table(Table::new(&mut *store, ty, init).ok()?)
            }
        };
        out.push(ext);
    }
    Some(out)
}
