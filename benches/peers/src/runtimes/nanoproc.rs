//! nanoproc, through its public embedding API: the default configuration (interruptible,
//! no fuel) but with eager translation, as every peer is run (otherwise functions would be
//! translated inside the timed region, on their first call), and two variants that show what the safety checks cost — without any checks
//! (`nanoproc-nochecks`) and with fuel metering on top of interruption (`nanoproc-fuel`).

use super::{err, shim_imports, signature, Result};
use crate::wasi::Import;
use nanoproc_engine::{Caller, Config, Engine, Error, FuncType, Linker, ValType};

wasmtime_style!(
    nanoproc_engine,
    compile: |engine, wasm| nanoproc_engine::Module::from_binary(engine, wasm),
    instantiate: instantiate,
    prepare: unlimited_fuel
);

/// Fails harmlessly on engines without fuel; with fuel, the budget never runs out.
fn unlimited_fuel<T>(store: &mut nanoproc_engine::Store<T>) {
    let _ = store.set_fuel(u64::MAX);
}

/// The raw-cell host API: arguments arrive as 64-bit cells, which is what the shim takes.
fn wasi_linker(engine: &Engine, wasm: &[u8]) -> Result<Linker<Host>> {
    let mut linker = Linker::new(engine);
    for (module, name, import) in shim_imports(wasm)? {
        let (params, results) = signature(import, ValType::I32, ValType::I64);
        linker
            .func_raw(
                &module,
                &name,
                FuncType::new(params, results),
                move |mut caller, cells| call_shim(&mut caller, import, cells),
            )
            .map_err(err)?;
    }
    Ok(linker)
}

fn call_shim(
    caller: &mut Caller<'_, Host>,
    import: Import,
    cells: &mut [u64],
) -> std::result::Result<(), Error> {
    let mut args = [0u64; 9];
    let args = &mut args[..import.params().len()];
    args.copy_from_slice(&cells[..args.len()]);
    match call_with_memory(caller, import, args) {
        Ok(errno) => {
            if import.has_result() {
                cells[0] = u64::from(errno as u32);
            }
            Ok(())
        }
        Err(exit) => Err(Error::host(exit)),
    }
}

pub struct Nanoproc {
    engine: Engine,
    /// The default configuration, which translates each function on its first call; used
    /// only for the second compile-throughput figure.
    lazy: Engine,
}

impl Nanoproc {
    pub fn new() -> Nanoproc {
        Nanoproc {
            engine: Engine::new(&eager()),
            lazy: Engine::default(),
        }
    }
}

fn eager() -> Config {
    let mut config = Config::new();
    config.lazy_translation(false);
    config
}

wasmtime_style_runtime!(Nanoproc, "nanoproc", {
    fn lazy_compile(&self, wasm: &[u8]) -> Option<super::Result<()>> {
        Some(compile(&self.lazy, wasm).map(drop))
    }
});

/// No interruption checks, no fuel: the baseline the checks are measured against.
pub struct NanoprocNoChecks {
    engine: Engine,
}

impl NanoprocNoChecks {
    pub fn new() -> NanoprocNoChecks {
        let mut config = eager();
        config.interruptible(false);
        NanoprocNoChecks {
            engine: Engine::new(&config),
        }
    }
}

wasmtime_style_runtime!(NanoprocNoChecks, "nanoproc-nochecks");

/// Interruption and fuel metering, as an embedder bounding untrusted code would run it.
pub struct NanoprocFuel {
    engine: Engine,
}

impl NanoprocFuel {
    pub fn new() -> NanoprocFuel {
        let mut config = eager();
        config.consume_fuel(true);
        NanoprocFuel {
            engine: Engine::new(&config),
        }
    }
}

wasmtime_style_runtime!(NanoprocFuel, "nanoproc-fuel");
