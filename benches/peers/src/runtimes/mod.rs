//! One adapter per runtime behind a common trait, so the harness measures every runtime
//! through the same steps. Each adapter only wires the shim's imports ([`crate::wasi`])
//! to its engine's host-function API and hands the shim the guest's memory.

use crate::wasi::{Import, Ty, WasiCtx};
use std::any::Any;
use std::time::Duration;

#[macro_use]
mod embedding;
pub mod nanoproc;
#[cfg(feature = "wamr")]
pub mod wamr;
#[cfg(feature = "wasm3")]
pub mod wasm3;
#[cfg(feature = "wasmi")]
pub mod wasmi;
#[cfg(feature = "wasmtime")]
pub mod wasmtime;

pub type Result<T> = std::result::Result<T, String>;

/// A WebAssembly runtime as the harness sees it.
pub trait Runtime {
    /// The name in tables and in `--runtimes`.
    fn name(&self) -> &'static str;

    /// Whether it runs fixed-width SIMD (the `*-simd` sightglass programs).
    fn supports_simd(&self) -> bool {
        true
    }

    /// Whether the execution workloads run on it (a configuration that only changes how
    /// instances are allocated does not).
    fn runs_workloads(&self) -> bool {
        true
    }

    /// Does everything a runtime does before it can instantiate `wasm` (decode, validate,
    /// translate or compile), then drops the result.
    fn compile(&self, wasm: &[u8]) -> Result<()>;

    /// The runtime's default compilation where it is lazier than [`Runtime::compile`]
    /// (wasmi translates each function on its first call by default): a second figure.
    fn lazy_compile(&self, _wasm: &[u8]) -> Option<Result<()>> {
        None
    }

    /// Prepares the WASI command `wasm` for repeated runs: compiled once where the API
    /// allows sharing a compiled module between instances.
    fn load<'a>(&'a self, wasm: &[u8]) -> Result<Box<dyn Program + 'a>>;

    /// Instantiates the import-free `wasm` `n` times (compiled once, where the API allows),
    /// dropping each instance, and returns how long each instantiation took.
    fn instantiate(&self, wasm: &[u8], n: usize) -> Result<Vec<Duration>>;

    /// Creates `n` instances of the import-free `wasm` and returns them, alive, so the
    /// caller can measure what they hold on the heap.
    fn hold_instances(&self, wasm: &[u8], n: usize) -> Result<Box<dyn Any>>;

    /// `wasm` imports `host.nop: [] -> []` and exports `empty: [] -> []` and
    /// `call_host: [i32] -> []` (calls `host.nop` that many times). Returns the time of
    /// `call_host(n)` and of `n` calls of `empty` from the host.
    fn host_calls(&self, wasm: &[u8], n: u32) -> Result<(Duration, Duration)>;

    /// The time of `call_host(n)` with `host.nop` defined as a closure that takes the
    /// caller's store (`Caller`), for the runtimes whose API has both kinds (wasmtime-style
    /// embeddings); `None` for the others, whose one kind of host function always gets
    /// the runtime's context (that is what [`Runtime::host_calls`] measures for them).
    fn host_calls_with_caller(&self, _wasm: &[u8], _n: u32) -> Result<Option<Duration>> {
        Ok(None)
    }
}

/// A loaded WASI command: each run gets a fresh instance and the given context, calls
/// `_start`, and returns the context with the guest's output and timestamps.
pub trait Program {
    fn run(&self, ctx: WasiCtx) -> Result<WasiCtx>;
}

/// The shim imports of `wasm`, or an error naming the first one the shim lacks.
pub fn shim_imports(wasm: &[u8]) -> Result<Vec<(String, String, Import)>> {
    crate::wasi::module_imports(wasm)?
        .into_iter()
        .map(|(module, name, import)| match import {
            Some(import) => Ok((module, name, import)),
            None => Err(format!("the WASI shim lacks the import {module}::{name}")),
        })
        .collect()
}

/// The parameter and result types of `import`, in a runtime's own value-type names.
pub fn signature<V: Clone>(import: Import, i32: V, i64: V) -> (Vec<V>, Vec<V>) {
    let params = import
        .params()
        .iter()
        .map(|t| match t {
            Ty::I32 => i32.clone(),
            Ty::I64 => i64.clone(),
        })
        .collect();
    let results = if import.has_result() {
        vec![i32]
    } else {
        vec![]
    };
    (params, results)
}

/// The outcome of a `_start` call: a trap after `proc_exit` is a normal exit.
pub fn finish<E: std::fmt::Display>(
    ctx: WasiCtx,
    outcome: std::result::Result<(), E>,
) -> Result<WasiCtx> {
    match outcome {
        Ok(()) => Ok(ctx),
        Err(_) if ctx.exit_code.is_some() => Ok(ctx),
        Err(e) => Err(format!("trap: {e}")),
    }
}

/// Turns any displayable error into the harness's error string.
pub fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Times `f`.
pub fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = std::time::Instant::now();
    let r = f();
    (start.elapsed(), r)
}

/// Makes one runtime.
pub type Constructor = fn() -> Box<dyn Runtime>;

/// Every runtime this build has, nanoproc first, by name, with its constructor (called
/// only for the runtimes selected: wasmtime's pooling allocator reserves terabytes of
/// address space, which valgrind refuses).
pub fn all() -> Vec<(&'static str, Constructor)> {
    let mut v: Vec<(&'static str, Constructor)> = vec![
        ("nanoproc", || Box::new(nanoproc::Nanoproc::new())),
        ("nanoproc-nochecks", || {
            Box::new(nanoproc::NanoprocNoChecks::new())
        }),
        ("nanoproc-fuel", || Box::new(nanoproc::NanoprocFuel::new())),
    ];
    #[cfg(feature = "wasmi")]
    v.push(("wasmi", || Box::new(wasmi::Wasmi::new())));
    #[cfg(feature = "wasm3")]
    v.push(("wasm3", || Box::new(wasm3::Wasm3)));
    #[cfg(feature = "wamr")]
    v.push(("wamr", || Box::new(wamr::Wamr::new())));
    #[cfg(feature = "wasmtime")]
    {
        use wasmtime::{Flavor, Wasmtime};
        v.push(("wasmtime-pulley", || {
            Box::new(Wasmtime::new(Flavor::Pulley))
        }));
        v.push(("wasmtime", || Box::new(Wasmtime::new(Flavor::Cranelift))));
        v.push(("wasmtime-pooling", || {
            Box::new(Wasmtime::new(Flavor::Pooling))
        }));
    }
    v
}
