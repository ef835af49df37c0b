//! nanoproc, through its public embedding API (default configuration).

use super::{err, shim_imports, signature, Result};
use crate::wasi::Import;
use nanoproc_engine::{Caller, Engine, Error, FuncType, Linker, ValType};

wasmtime_style!(
    nanoproc_engine,
    compile: |engine, wasm| nanoproc_engine::Module::from_binary(engine, wasm),
    instantiate: instantiate
);

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
}

impl Nanoproc {
    pub fn new() -> Nanoproc {
        Nanoproc {
            engine: Engine::default(),
        }
    }
}

wasmtime_style_runtime!(Nanoproc, "nanoproc");
