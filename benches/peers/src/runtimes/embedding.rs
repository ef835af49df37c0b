//! What nanoproc, wasmi and wasmtime adapters share. The three crates have the same
//! wasmtime-style embedding API (Engine, Module, Store, Linker, Caller, typed calls) but no
//! common traits, so the shared code is a macro instantiated once per crate.

/// Defines, for crate `$k`: the store data `Host`, a loaded WASI program, and the
/// instantiation, idle-memory and host-call measurements. The adapter provides
/// `wasi_linker(&Engine, &[u8]) -> Result<Linker<Host>>`; `$compile` turns bytes into a
/// module and `$instantiate` is the linker method that instantiates (and runs `start`);
/// the optional `prepare` sets up each program's store before instantiation.
macro_rules! wasmtime_style {
    ($k:ident, compile: $compile:expr, instantiate: $instantiate:ident) => {
        fn no_store_setup<T>(_store: &mut $k::Store<T>) {}
        wasmtime_style!(
            $k,
            compile: $compile,
            instantiate: $instantiate,
            prepare: no_store_setup
        );
    };
    (
        $k:ident,
        compile: $compile:expr,
        instantiate: $instantiate:ident,
        prepare: $prepare:ident
    ) => {
        /// Store data: the shim plus the guest's memory, looked up once after
        /// instantiation rather than by name on every host call.
        struct Host {
            wasi: $crate::wasi::WasiCtx,
            memory: Option<$k::Memory>,
        }

        /// Runs the shim function `import` on the calling instance's memory.
        fn call_with_memory(
            caller: &mut $k::Caller<'_, Host>,
            import: $crate::wasi::Import,
            args: &[u64],
        ) -> std::result::Result<i32, $crate::wasi::Exit> {
            match caller.data().memory {
                Some(memory) => {
                    let (mem, host) = memory.data_and_store_mut(&mut *caller);
                    host.wasi.call(import, mem, args)
                }
                None => caller.data_mut().wasi.call(import, &mut [], args),
            }
        }

        fn compile(engine: &$k::Engine, wasm: &[u8]) -> $crate::runtimes::Result<$k::Module> {
            let compile: fn(&$k::Engine, &[u8]) -> _ = $compile;
            compile(engine, wasm).map_err($crate::runtimes::err)
        }

        struct LoadedProgram<'a> {
            engine: &'a $k::Engine,
            module: $k::Module,
            linker: $k::Linker<Host>,
        }

        impl $crate::runtimes::Program for LoadedProgram<'_> {
            fn run(
                &self,
                wasi: $crate::wasi::WasiCtx,
            ) -> $crate::runtimes::Result<$crate::wasi::WasiCtx> {
                use $crate::runtimes::err;
                let mut store = $k::Store::new(self.engine, Host { wasi, memory: None });
                // Per-runtime store setup (nanoproc with fuel: an unlimited budget).
                $prepare(&mut store);
                let instance = self
                    .linker
                    .$instantiate(&mut store, &self.module)
                    .map_err(err)?;
                let memory = instance.get_memory(&mut store, "memory");
                store.data_mut().memory = memory;
                let start = instance
                    .get_typed_func::<(), ()>(&mut store, "_start")
                    .map_err(err)?;
                let outcome = start.call(&mut store, ());
                $crate::runtimes::finish(store.into_data().wasi, outcome)
            }
        }

        fn load<'a>(
            engine: &'a $k::Engine,
            wasm: &[u8],
        ) -> $crate::runtimes::Result<Box<dyn $crate::runtimes::Program + 'a>> {
            Ok(Box::new(LoadedProgram {
                engine,
                module: compile(engine, wasm)?,
                linker: wasi_linker(engine, wasm)?,
            }))
        }

        /// A fresh store and instance of `module`, `n` times, each dropped after timing.
        #[allow(dead_code)] // wasmtime measures through `InstancePre` instead
        fn instantiate_each(
            engine: &$k::Engine,
            wasm: &[u8],
            n: usize,
        ) -> $crate::runtimes::Result<Vec<std::time::Duration>> {
            let module = compile(engine, wasm)?;
            let linker = $k::Linker::<()>::new(engine);
            (0..n)
                .map(|_| {
                    let (t, r) = $crate::runtimes::timed(|| {
                        let mut store = $k::Store::new(engine, ());
                        linker.$instantiate(&mut store, &module).map(|_| store)
                    });
                    r.map(|store| {
                        drop(store);
                        t
                    })
                    .map_err($crate::runtimes::err)
                })
                .collect()
        }

        fn hold_instances(
            engine: &$k::Engine,
            wasm: &[u8],
            n: usize,
        ) -> $crate::runtimes::Result<Box<dyn std::any::Any>> {
            let module = compile(engine, wasm)?;
            let linker = $k::Linker::<()>::new(engine);
            let mut held = Vec::with_capacity(n);
            for _ in 0..n {
                let mut store = $k::Store::new(engine, ());
                let instance = linker
                    .$instantiate(&mut store, &module)
                    .map_err($crate::runtimes::err)?;
                held.push((store, instance));
            }
            Ok(Box::new(held))
        }

        /// Instantiates `wasm` with `linker` (which defines `host.nop`) and times
        /// `call_host(n)`; the store and instance stay for more calls.
        fn time_call_host(
            engine: &$k::Engine,
            wasm: &[u8],
            n: u32,
            linker: &$k::Linker<()>,
        ) -> $crate::runtimes::Result<(std::time::Duration, $k::Store<()>, $k::Instance)> {
            use $crate::runtimes::{err, timed};
            let module = compile(engine, wasm)?;
            let mut store = $k::Store::new(engine, ());
            $prepare(&mut store);
            let instance = linker.$instantiate(&mut store, &module).map_err(err)?;
            let call_host = instance
                .get_typed_func::<i32, ()>(&mut store, "call_host")
                .map_err(err)?;
            let (to_host, r) = timed(|| call_host.call(&mut store, n as i32));
            r.map_err(err)?;
            Ok((to_host, store, instance))
        }

        fn host_calls(
            engine: &$k::Engine,
            wasm: &[u8],
            n: u32,
        ) -> $crate::runtimes::Result<(std::time::Duration, std::time::Duration)> {
            use $crate::runtimes::{err, timed};
            let mut linker = $k::Linker::<()>::new(engine);
            linker.func_wrap("host", "nop", || {}).map_err(err)?;
            let (to_host, mut store, instance) = time_call_host(engine, wasm, n, &linker)?;
            let empty = instance
                .get_typed_func::<(), ()>(&mut store, "empty")
                .map_err(err)?;
            let (to_wasm, r) = timed(|| (0..n).try_for_each(|_| empty.call(&mut store, ())));
            r.map_err(err)?;
            Ok((to_host, to_wasm))
        }

        fn host_calls_with_caller(
            engine: &$k::Engine,
            wasm: &[u8],
            n: u32,
        ) -> $crate::runtimes::Result<std::time::Duration> {
            let mut linker = $k::Linker::<()>::new(engine);
            linker
                .func_wrap("host", "nop", |_: $k::Caller<'_, ()>| {})
                .map_err($crate::runtimes::err)?;
            time_call_host(engine, wasm, n, &linker).map(|(to_host, ..)| to_host)
        }
    };
}

/// `impl Runtime for $ty` (a struct with an `engine` field) through the functions
/// [`wasmtime_style`] defines, plus any further trait methods given in braces.
macro_rules! wasmtime_style_runtime {
    ($ty:ty, $name:literal) => {
        wasmtime_style_runtime!($ty, $name, {});
    };
    ($ty:ty, $name:literal, { $($extra:item)* }) => {
        impl $crate::runtimes::Runtime for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            $($extra)*

            fn compile(&self, wasm: &[u8]) -> $crate::runtimes::Result<()> {
                compile(&self.engine, wasm).map(drop)
            }

            fn load<'a>(
                &'a self,
                wasm: &[u8],
            ) -> $crate::runtimes::Result<Box<dyn $crate::runtimes::Program + 'a>> {
                load(&self.engine, wasm)
            }

            fn instantiate(
                &self,
                wasm: &[u8],
                n: usize,
            ) -> $crate::runtimes::Result<Vec<std::time::Duration>> {
                instantiate_each(&self.engine, wasm, n)
            }

            fn hold_instances(
                &self,
                wasm: &[u8],
                n: usize,
            ) -> $crate::runtimes::Result<Box<dyn std::any::Any>> {
                hold_instances(&self.engine, wasm, n)
            }

            fn host_calls(
                &self,
                wasm: &[u8],
                n: u32,
            ) -> $crate::runtimes::Result<(std::time::Duration, std::time::Duration)> {
                host_calls(&self.engine, wasm, n)
            }

            fn host_calls_with_caller(
                &self,
                wasm: &[u8],
                n: u32,
            ) -> $crate::runtimes::Result<Option<std::time::Duration>> {
                host_calls_with_caller(&self.engine, wasm, n).map(Some)
            }
        }
    };
}

/// For crates whose dynamic host functions take `&[Val]` (wasmi, wasmtime): the linker
/// of a WASI program, each import calling the shim. `$func_type` builds a `FuncType` from
/// the engine and parameter and result types; `$exit` turns the shim's `Exit` into the
/// crate's error, which unwinds the guest.
macro_rules! val_host_functions {
    ($k:ident, func_type: $func_type:expr, exit: $exit:expr) => {
        fn call_shim(
            caller: &mut $k::Caller<'_, Host>,
            import: $crate::wasi::Import,
            params: &[$k::Val],
            results: &mut [$k::Val],
        ) -> std::result::Result<(), $k::Error> {
            let mut args = [0u64; 9];
            for (a, v) in args.iter_mut().zip(params) {
                *a = match v {
                    $k::Val::I32(x) => u64::from(*x as u32),
                    $k::Val::I64(x) => *x as u64,
                    _ => 0,
                };
            }
            match call_with_memory(caller, import, &args[..params.len()]) {
                Ok(errno) => {
                    if let Some(r) = results.first_mut() {
                        *r = $k::Val::I32(errno);
                    }
                    Ok(())
                }
                Err(exit) => {
                    let to_error: fn($crate::wasi::Exit) -> $k::Error = $exit;
                    Err(to_error(exit))
                }
            }
        }

        fn wasi_linker(
            engine: &$k::Engine,
            wasm: &[u8],
        ) -> $crate::runtimes::Result<$k::Linker<Host>> {
            let mut linker = $k::Linker::new(engine);
            for (module, name, import) in $crate::runtimes::shim_imports(wasm)? {
                let (params, results) =
                    $crate::runtimes::signature(import, $k::ValType::I32, $k::ValType::I64);
                let func_type: fn(&$k::Engine, Vec<$k::ValType>, Vec<$k::ValType>) -> $k::FuncType =
                    $func_type;
                linker
                    .func_new(
                        &module,
                        &name,
                        func_type(engine, params, results),
                        move |mut caller, params, results| {
                            call_shim(&mut caller, import, params, results)
                        },
                    )
                    .map_err($crate::runtimes::err)?;
            }
            Ok(linker)
        }
    };
}
