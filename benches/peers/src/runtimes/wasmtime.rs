//! wasmtime 48: the Cranelift JIT (the ceiling an interpreter is measured against), the
//! same with the pooling instance allocator (only the instantiation figures differ), and
//! Pulley, wasmtime's own portable interpreter.
//!
//! Single-threaded compilation (no `parallel-compilation` feature), as for every other
//! runtime here; the machine has two cores and another engineer's build on them.

use super::{err, timed, Program, Result, Runtime};
use std::any::Any;
use std::time::Duration;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, Linker, PoolingAllocationConfig, Store,
};

wasmtime_style!(
    wasmtime,
    compile: |engine, wasm| wasmtime::Module::from_binary(engine, wasm),
    instantiate: instantiate
);
val_host_functions!(
    wasmtime,
    func_type: |engine, params, results| wasmtime::FuncType::new(engine, params, results),
    exit: |exit| wasmtime::format_err!("{exit}")
);

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Cranelift,
    Pooling,
    Pulley,
}

pub struct Wasmtime {
    engine: Engine,
    flavor: Flavor,
}

impl Wasmtime {
    pub fn new(flavor: Flavor) -> Wasmtime {
        let mut config = Config::new();
        match flavor {
            Flavor::Cranelift => {}
            Flavor::Pooling => {
                // Room for the 1000 idle instances of the memory measurement, and small
                // memories so the pool's address-space reservation stays modest.
                let mut pool = PoolingAllocationConfig::new();
                pool.total_core_instances(1100)
                    .total_memories(1100)
                    .total_tables(1100)
                    .max_memory_size(1 << 20);
                config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
            }
            Flavor::Pulley => {
                config
                    .target("pulley64")
                    .expect("wasmtime was built with the pulley feature");
            }
        }
        Wasmtime {
            engine: Engine::new(&config).expect("a valid wasmtime configuration"),
            flavor,
        }
    }
}

impl Runtime for Wasmtime {
    fn name(&self) -> &'static str {
        match self.flavor {
            Flavor::Cranelift => "wasmtime",
            Flavor::Pooling => "wasmtime-pooling",
            Flavor::Pulley => "wasmtime-pulley",
        }
    }

    fn runs_workloads(&self) -> bool {
        // Pooling changes how instances are allocated, not the code that runs.
        self.flavor != Flavor::Pooling
    }

    fn compile(&self, wasm: &[u8]) -> Result<()> {
        compile(&self.engine, wasm).map(drop)
    }

    fn load<'a>(&'a self, wasm: &[u8]) -> Result<Box<dyn Program + 'a>> {
        load(&self.engine, wasm)
    }

    fn instantiate(&self, wasm: &[u8], n: usize) -> Result<Vec<Duration>> {
        let module = compile(&self.engine, wasm)?;
        let linker = Linker::<()>::new(&self.engine);
        // Pre-resolving imports is what a wasmtime embedder instantiating often does.
        let pre = linker.instantiate_pre(&module).map_err(err)?;
        (0..n)
            .map(|_| {
                let (t, r) = timed(|| {
                    let mut store = Store::new(&self.engine, ());
                    pre.instantiate(&mut store).map(|_| store)
                });
                r.map(|store| {
                    drop(store);
                    t
                })
                .map_err(err)
            })
            .collect()
    }

    fn hold_instances(&self, wasm: &[u8], n: usize) -> Result<Box<dyn Any>> {
        hold_instances(&self.engine, wasm, n)
    }

    fn host_calls(&self, wasm: &[u8], n: u32) -> Result<(Duration, Duration)> {
        host_calls(&self.engine, wasm, n)
    }

    fn host_calls_with_caller(&self, wasm: &[u8], n: u32) -> Result<Option<Duration>> {
        host_calls_with_caller(&self.engine, wasm, n).map(Some)
    }
}
