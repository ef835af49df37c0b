//! # nanoproc
//!
//! Run untrusted WebAssembly inside your program. This crate is the facade embedders
//! depend on: it re-exports the engine's API (and, in later versions, WASI and
//! nanoprocess manifests) so one dependency and one doc page cover everything.
//!
//! - Owns: nothing but re-exports and this page.
//! - Must never: contain logic of its own or `unsafe` code.
//!
//! ## The API in one page
//!
//! | step | type |
//! |---|---|
//! | configure (features, call depth) | [`Config`] → [`Engine`] (cheap to clone, `Send + Sync`) |
//! | compile `.wasm` bytes or `.wat` text once | [`Module::new`], [`Module::from_file`]; introspect with [`Module::imports`], [`Module::exports`] |
//! | hold runtime state plus your own data `T` | [`Store<T>`] |
//! | name the imports: typed host closures, dynamic ones, other instances | [`Linker<T>`]: [`Linker::func_wrap`], [`Linker::func_new`], [`Linker::instance`] |
//! | instantiate | [`Linker::instantiate`] → [`Instance`] |
//! | call | [`Instance::get_typed_func`] → [`TypedFunc::call`]; untyped: [`Func::call`] with [`Val`]s |
//! | reach into the instance | [`Memory`] (read/write/grow/data), [`Global`], [`Table`] |
//! | handle failures | [`Error`]; a guest fault is [`Error::Trap`] with a [`TrapKind`] and a wasm backtrace |
//!
//! ```
//! use nanoproc::{Caller, Engine, Error, Linker, Module, Store, TrapKind};
//!
//! let engine = Engine::default();
//! let module = Module::new(&engine, r#"
//!     (module
//!       (import "host" "log" (func $log (param i32)))
//!       (memory (export "memory") 1)
//!       (func (export "sum_to") (param $n i32) (result i64)
//!         (local $acc i64)
//!         (block $done
//!           (loop $next
//!             (br_if $done (i32.eqz (local.get $n)))
//!             (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $n))))
//!             (local.set $n (i32.sub (local.get $n) (i32.const 1)))
//!             (br $next)))
//!         (call $log (i32.wrap_i64 (local.get $acc)))
//!         (local.get $acc))
//!       (func (export "boom") unreachable))
//! "#)?;
//!
//! // The store's data is yours: here, everything the guest logged.
//! let mut store = Store::new(&engine, Vec::<i32>::new());
//! let mut linker = Linker::new(&engine);
//! linker.func_wrap("host", "log", |mut caller: Caller<'_, Vec<i32>>, x: i32| {
//!     caller.data_mut().push(x);
//! })?;
//! let instance = linker.instantiate(&mut store, &module)?;
//!
//! let sum_to = instance.get_typed_func::<i32, i64>(&store, "sum_to")?;
//! assert_eq!(sum_to.call(&mut store, 100)?, 5050);
//! assert_eq!(store.data(), &[5050]);
//!
//! let memory = instance.get_memory(&store, "memory").expect("exported memory");
//! memory.write(&mut store, 0, b"hi")?;
//! assert_eq!(&memory.data(&store)[..2], b"hi");
//!
//! // A trap is an ordinary error carrying its kind and a wasm backtrace.
//! let boom = instance.get_typed_func::<(), ()>(&store, "boom")?;
//! match boom.call(&mut store, ()) {
//!     Err(Error::Trap(trap)) => assert_eq!(trap.kind, TrapKind::Unreachable),
//!     other => panic!("expected a trap, got {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub use nanoproc_engine::*;

/// WASI preview1 over explicit capabilities: `wasi::WasiCtxBuilder` grants, `wasi::add_to_linker`.
pub use nanoproc_wasi as wasi;

/// Nanoprocess graphs: manifests, attenuation, canonical-ABI calls between nanoprocesses.
pub use nanoproc_nano as nano;
