//! wasmi 2 (register-based interpreter): default configuration plus SIMD, deeper stacks
//! and eager translation.

wasmtime_style!(wasmi, compile: |engine, wasm| wasmi::Module::new(engine, wasm), instantiate: instantiate_and_start);
val_host_functions!(
    wasmi,
    func_type: |_, params, results| wasmi::FuncType::new(params, results),
    exit: |exit| wasmi::Error::i32_exit(exit.0)
);

pub struct Wasmi {
    engine: wasmi::Engine,
    /// wasmi's default configuration translates each function on its first call; used
    /// only for the second compile-throughput figure.
    lazy: wasmi::Engine,
}

impl Wasmi {
    pub fn new() -> Wasmi {
        // wasmi's default recursion limit (1024 frames) stops shootout-ackermann; raise it
        // and the value stack to nanoproc's defaults (100 000 frames, 64 MiB).
        let mut config = wasmi::Config::default();
        config
            .set_max_recursion_depth(100_000)
            .set_max_stack_height(64 << 20);
        let lazy = wasmi::Engine::new(&config);
        // Eager translation, as nanoproc does: otherwise wasmi translates functions inside
        // the timed region, on their first call.
        config.compilation_mode(wasmi::CompilationMode::Eager);
        Wasmi {
            engine: wasmi::Engine::new(&config),
            lazy,
        }
    }
}

wasmtime_style_runtime!(Wasmi, "wasmi", {
    fn lazy_compile(&self, wasm: &[u8]) -> Option<super::Result<()>> {
        Some(compile(&self.lazy, wasm).map(drop))
    }
});
