//! WAMR's fast interpreter through the `wamrx` bindings (vendored WAMR built with cmake;
//! software bounds checks, the bindings' default).
//!
//! Two limits of the bindings shape this adapter. Host functions receive only their
//! arguments, not the calling instance, so the shim finds the guest's memory through a
//! thread-local pointer to the running instance. And `Linker::instantiate` consumes the
//! loaded module, so the instantiation figures call the C API directly to instantiate one
//! loaded module many times, as a C embedder would.

use super::{err, finish, shim_imports, signature, timed, Program, Result, Runtime};
use crate::wasi::{Import, WasiCtx};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;
use wamrx::{Engine, FuncType, Instance, InstanceConfig, Linker, Module, Val, ValType};
use wamrx_sys as sys;

thread_local! {
    /// The instance whose `_start` is running on this thread (null otherwise).
    static RUNNING: Cell<*const Instance> = const { Cell::new(std::ptr::null()) };
}

/// Interpreter stack for the sightglass programs; a small one for tiny instances.
const STACK_BYTES: u32 = 8 << 20;
const SMALL_STACK_BYTES: u32 = 64 << 10;

pub struct Wamr {
    engine: Engine,
}

impl Wamr {
    pub fn new() -> Wamr {
        Wamr {
            engine: Engine::new().expect("WAMR runtime initialises"),
        }
    }
}

/// The `proc_exit` unwind: carried through WAMR's panic guard, which turns it into a trap.
struct ExitUnwind;

fn call_shim(slot: &RefCell<Option<WasiCtx>>, import: Import, params: &[Val], results: &mut [Val]) {
    let mut args = [0u64; 9];
    for (a, v) in args.iter_mut().zip(params) {
        *a = match v {
            Val::I32(x) => u64::from(*x as u32),
            Val::I64(x) => *x as u64,
            _ => 0,
        };
    }
    let running = RUNNING.with(Cell::get);
    // SAFETY: `running` points at the instance whose call is on this thread's stack right
    // now (set and cleared around the call in `run`); the memory slice lives only for
    // this host call, during which the guest does not touch its memory.
    let mut memory = (!running.is_null())
        .then(|| unsafe { &*running }.get_memory("memory").ok())
        .flatten();
    let mem: &mut [u8] = match memory.as_mut() {
        Some(m) => m.data_mut(),
        None => &mut [],
    };
    let outcome = slot
        .borrow_mut()
        .as_mut()
        .expect("a run is in progress")
        .call(import, mem, &args[..params.len()]);
    match outcome {
        Ok(errno) => {
            if let Some(r) = results.first_mut() {
                *r = Val::I32(errno);
            }
        }
        // `resume_unwind` skips the panic hook: a normal exit prints nothing.
        Err(_) => std::panic::resume_unwind(Box::new(ExitUnwind)),
    }
}

struct WamrProgram<'a> {
    engine: &'a Engine,
    wasm: Vec<u8>,
    linker: Linker,
    slot: Rc<RefCell<Option<WasiCtx>>>,
}

impl Program for WamrProgram<'_> {
    fn run(&self, wasi: WasiCtx) -> Result<WasiCtx> {
        // WAMR resolves imports when it loads a module, and instantiation consumes the
        // loaded module, so each run loads again (outside the timed region).
        let module = Module::new(self.engine, &self.wasm).map_err(err)?;
        let mut config = InstanceConfig::new();
        config.exec_stack_size(STACK_BYTES);
        let instance = self.linker.instantiate_with(module, &config).map_err(err)?;
        let start = instance.get_func("_start").map_err(err)?;
        *self.slot.borrow_mut() = Some(wasi);
        RUNNING.with(|r| r.set(&instance));
        let outcome = start.call(&[], &mut []);
        RUNNING.with(|r| r.set(std::ptr::null()));
        let wasi = self.slot.borrow_mut().take().expect("the context is back");
        finish(wasi, outcome)
    }
}

/// Loaded modules and instances made through the C API, freed on drop.
struct RawInstances {
    _bytes: Vec<u8>,
    module: sys::wasm_module_t,
    instances: Vec<(sys::wasm_module_inst_t, sys::wasm_exec_env_t)>,
}

impl RawInstances {
    fn load(wasm: &[u8]) -> Result<RawInstances> {
        // WAMR keeps pointers into (and may patch) the buffer it loads from.
        let mut bytes = wasm.to_vec();
        let mut error = [0 as std::ffi::c_char; 256];
        // SAFETY: `bytes` outlives the module (both are owned by the returned value).
        let module = unsafe {
            sys::wasm_runtime_load(
                bytes.as_mut_ptr(),
                bytes.len() as u32,
                error.as_mut_ptr(),
                256,
            )
        };
        if module.is_null() {
            // SAFETY: WAMR wrote a NUL-terminated message into `error`.
            let msg = unsafe { std::ffi::CStr::from_ptr(error.as_ptr()) };
            return Err(format!("WAMR load: {}", msg.to_string_lossy()));
        }
        Ok(RawInstances {
            _bytes: bytes,
            module,
            instances: Vec::new(),
        })
    }

    /// Instantiates the module and gives the instance an execution environment, which
    /// is what the safe API does before an instance can be called.
    fn instantiate(&mut self) -> Result<()> {
        let mut error = [0 as std::ffi::c_char; 256];
        // SAFETY: `module` is live; the instance is destroyed before it (in `Drop`).
        unsafe {
            let inst = sys::wasm_runtime_instantiate(self.module, 0, 0, error.as_mut_ptr(), 256);
            if inst.is_null() {
                return Err("WAMR instantiate failed".into());
            }
            let env = sys::wasm_runtime_create_exec_env(inst, SMALL_STACK_BYTES);
            self.instances.push((inst, env));
        }
        Ok(())
    }

    fn drop_last(&mut self) {
        if let Some((inst, env)) = self.instances.pop() {
            // SAFETY: created in `instantiate`, destroyed once.
            unsafe {
                sys::wasm_runtime_destroy_exec_env(env);
                sys::wasm_runtime_deinstantiate(inst);
            }
        }
    }
}

impl Drop for RawInstances {
    fn drop(&mut self) {
        while !self.instances.is_empty() {
            self.drop_last();
        }
        // SAFETY: every instance of the module is gone.
        unsafe { sys::wasm_runtime_unload(self.module) };
    }
}

impl Runtime for Wamr {
    fn name(&self) -> &'static str {
        "wamr"
    }

    fn supports_simd(&self) -> bool {
        false // built without SIMD: see Cargo.toml
    }

    fn compile(&self, wasm: &[u8]) -> Result<()> {
        // WAMR's fast interpreter translates every function at load time.
        RawInstances::load(wasm).map(drop)
    }

    fn load<'a>(&'a self, wasm: &[u8]) -> Result<Box<dyn Program + 'a>> {
        let slot = Rc::new(RefCell::new(None));
        let mut linker = Linker::new(&self.engine);
        for (module, name, import) in shim_imports(wasm)? {
            let (params, results) = signature(import, ValType::I32, ValType::I64);
            let ty = FuncType::new(params, results);
            let slot = Rc::clone(&slot);
            linker
                .define_func(&module, &name, ty, move |params, results| {
                    call_shim(&slot, import, params, results)
                })
                .map_err(err)?;
        }
        Ok(Box::new(WamrProgram {
            engine: &self.engine,
            wasm: wasm.to_vec(),
            linker,
            slot,
        }))
    }

    fn instantiate(&self, wasm: &[u8], n: usize) -> Result<Vec<Duration>> {
        let mut raw = RawInstances::load(wasm)?;
        (0..n)
            .map(|_| {
                let (t, r) = timed(|| {
                    let r = raw.instantiate();
                    raw.drop_last();
                    r
                });
                r.map(|()| t)
            })
            .collect()
    }

    fn hold_instances(&self, wasm: &[u8], n: usize) -> Result<Box<dyn Any>> {
        let mut raw = RawInstances::load(wasm)?;
        for _ in 0..n {
            raw.instantiate()?;
        }
        Ok(Box::new(raw))
    }

    fn host_calls(&self, wasm: &[u8], n: u32) -> Result<(Duration, Duration)> {
        let mut linker = Linker::new(&self.engine);
        linker
            .define_func("host", "nop", FuncType::new([], []), |_, _| {})
            .map_err(err)?;
        let module = Module::new(&self.engine, wasm).map_err(err)?;
        let instance = linker.instantiate(module).map_err(err)?;
        let call_host = instance.get_func("call_host").map_err(err)?;
        let empty = instance.get_func("empty").map_err(err)?;
        let (to_host, r) = timed(|| call_host.call(&[Val::I32(n as i32)], &mut []));
        r.map_err(err)?;
        let (to_wasm, r) = timed(|| (0..n).try_for_each(|_| empty.call(&[], &mut [])));
        r.map_err(err)?;
        Ok((to_host, to_wasm))
    }
}
