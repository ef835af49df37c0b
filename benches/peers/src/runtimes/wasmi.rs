//! wasmi 2 (register-based interpreter), default configuration plus SIMD.

wasmtime_style!(wasmi, compile: |engine, wasm| wasmi::Module::new(engine, wasm), instantiate: instantiate_and_start);
val_host_functions!(
    wasmi,
    func_type: |_, params, results| wasmi::FuncType::new(params, results),
    exit: |exit| wasmi::Error::i32_exit(exit.0)
);

pub struct Wasmi {
    engine: wasmi::Engine,
}

impl Wasmi {
    pub fn new() -> Wasmi {
        Wasmi {
            engine: wasmi::Engine::default(),
        }
    }
}

wasmtime_style_runtime!(Wasmi, "wasmi");
