//! # nanoproc-engine
//!
//! The WebAssembly engine of nanoproc: **decode → validate → translate → execute**, plus the
//! store that owns instances and the embedding API.
//!
//! - Owns: parsing and validation (through `wasmparser`), translation of every function body
//!   into a compact slot-addressed instruction set (`ir`, `translate`), the interpreter
//!   (`threaded`, `exec`), and runtime entities (`Store`, `Instance`, `Func`, `Memory`,
//!   `Table`, `Global`).
//! - Must never: use `unsafe`, panic or recurse without bound on guest input, or touch the
//!   host (files, clocks, network) — anything a guest can reach comes from host functions an
//!   embedder defines explicitly.
//!
//! Main types: [`Engine`] (configuration, shared), [`Module`] (compiled once, instantiated
//! many times), [`Store`] (runtime state plus embedder data), [`Linker`] (names imports),
//! [`Instance`], [`Func`]/[`TypedFunc`], [`Memory`], [`Trap`].
//!
//! ```
//! use nanoproc_engine::{Engine, Linker, Module, Store};
//!
//! let engine = Engine::default();
//! let module = Module::new(&engine, r#"
//!     (module
//!       (import "host" "double" (func $double (param i32) (result i32)))
//!       (func (export "fib") (param $n i32) (result i32)
//!         (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
//!           (then (local.get $n))
//!           (else (i32.add (call 1 (i32.sub (local.get $n) (i32.const 1)))
//!                          (call 1 (i32.sub (local.get $n) (i32.const 2)))))))
//!       (func (export "quad") (param i32) (result i32)
//!         (call $double (call $double (local.get 0)))))
//! "#)?;
//! let mut store = Store::new(&engine, 0u32);
//! let mut linker = Linker::new(&engine);
//! linker.func_wrap("host", "double", |mut caller: nanoproc_engine::Caller<'_, u32>, x: i32| {
//!     *caller.data_mut() += 1; // count host calls in the store's data
//!     x * 2
//! })?;
//! let instance = linker.instantiate(&mut store, &module)?;
//! let fib = instance.get_typed_func::<i32, i32>(&store, "fib")?;
//! assert_eq!(fib.call(&mut store, 20)?, 6765);
//! let quad = instance.get_typed_func::<i32, i32>(&store, "quad")?;
//! assert_eq!(quad.call(&mut store, 5)?, 20);
//! assert_eq!(*store.data(), 2);
//! # Ok::<(), nanoproc_engine::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod costs;
mod engine;
mod error;
mod exec;
mod externals;
mod func;
mod idioms;
mod inline;
mod instance;
mod interrupt;
pub(crate) mod ir;
mod limits;
mod linker;
mod module;
mod num;
#[cfg(nanoproc_pair_profile)]
mod pair_profile;
mod simd;
mod store;
mod threaded;
mod translate;
mod types;
mod values;

pub use engine::{Config, Engine};
pub use error::{CompileError, Error, FrameInfo, Trap, TrapKind};
pub use externals::{Extern, Global, Memory, MemoryAccessError, Table};
pub use func::{
    Func, IntoFunc, TypedFunc, WasmParams, WasmResults, WasmRet, WasmTy, WasmTyList, WithCaller,
    V128,
};
pub use instance::Instance;
pub use interrupt::InterruptHandle;
pub use limits::{ModuleLimits, StoreLimits};
pub use linker::Linker;
pub use module::Module;
pub use store::{
    AsContext, AsContextMut, Caller, OutOfFuelFn, Store, StoreContext, StoreContextMut,
};
pub use types::{
    ExportType, ExternType, FuncType, GlobalType, ImportType, MemoryType, Mutability, RefType,
    TableType, ValType,
};
pub use values::{ExternRef, Val};
