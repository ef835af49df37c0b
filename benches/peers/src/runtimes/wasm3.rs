//! wasm3 (the `wasm3` crate 0.3, wasm3's C interpreter), without its own WASI: the
//! harness's shim is linked instead. wasm3 has no SIMD and validates little; it compiles
//! each function lazily on its first call, so "compile" here is parse + load only.

use super::{err, finish, shim_imports, timed, Program, Result, Runtime};
use crate::wasi::{Import, Ty, WasiCtx};
use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use wasm3::error::Trap;
use wasm3::{CallContext, Environment};

/// Bytes of wasm3's value stack per runtime; deep enough for the recursive benchmarks.
const STACK_BYTES: u32 = 8 << 20;
/// A smaller stack for the instantiation and memory figures of a tiny module, as an
/// embedder creating many small instances would choose.
const SMALL_STACK_BYTES: u32 = 64 << 10;

pub struct Wasm3;

/// A host-function argument as the shim's 64-bit cell.
trait Cell {
    fn cell(self) -> u64;
}
impl Cell for i32 {
    fn cell(self) -> u64 {
        u64::from(self as u32)
    }
}
impl Cell for i64 {
    fn cell(self) -> u64 {
        self as u64
    }
}

/// The shim's errno as a host-function result: dropped for functions without one.
trait FromErrno {
    fn from_errno(errno: i32) -> Self;
}
impl FromErrno for () {
    fn from_errno(_: i32) {}
}
impl FromErrno for i32 {
    fn from_errno(errno: i32) -> i32 {
        errno
    }
}

fn shim<R: FromErrno>(
    ctx: &RefCell<WasiCtx>,
    import: Import,
    cc: &CallContext<'_>,
    args: &[u64],
) -> std::result::Result<R, Trap> {
    // SAFETY: the slice is used only during this call, while the guest is suspended in it;
    // no other reference to the guest's memory exists meanwhile.
    let mem = unsafe { &mut *cc.memory_mut() };
    ctx.borrow_mut()
        .call(import, mem, args)
        .map(R::from_errno)
        .map_err(|_| Trap::Exit)
}

/// Links one shim import with the static signature wasm3's `link_closure` needs.
macro_rules! link {
    ($module:expr, $m:expr, $n:expr, $ctx:expr, $import:expr, $ret:ty; $($a:ident: $t:ty),*) => {{
        let (ctx, import) = (Rc::clone($ctx), $import);
        $module.link_closure($m, $n, move |cc: CallContext<'_>, ($($a,)*): ($($t,)*)| -> std::result::Result<$ret, Trap> {
            shim::<$ret>(&ctx, import, &cc, &[$($a.cell()),*])
        })
    }};
}

fn link_shim(
    module: &mut wasm3::Module<'_>,
    imports: &[(String, String, Import)],
    ctx: &Rc<RefCell<WasiCtx>>,
) -> Result<()> {
    use Ty::{I32, I64};
    for (m, n, import) in imports {
        let (m, n, import) = (m.as_str(), n.as_str(), *import);
        let linked = match (import.params(), import.has_result()) {
            ([], false) => link!(module, m, n, ctx, import, (); ),
            ([], true) => link!(module, m, n, ctx, import, i32; ),
            ([I32], false) => link!(module, m, n, ctx, import, (); a: i32),
            ([I32], true) => link!(module, m, n, ctx, import, i32; a: i32),
            ([I32, I32], true) => link!(module, m, n, ctx, import, i32; a: i32, b: i32),
            ([I32, I32, I32], true) => {
                link!(module, m, n, ctx, import, i32; a: i32, b: i32, c: i32)
            }
            ([I32, I64, I32], true) => {
                link!(module, m, n, ctx, import, i32; a: i32, b: i64, c: i32)
            }
            ([I32, I32, I32, I32], true) => {
                link!(module, m, n, ctx, import, i32; a: i32, b: i32, c: i32, d: i32)
            }
            ([I32, I64, I32, I32], true) => {
                link!(module, m, n, ctx, import, i32; a: i32, b: i64, c: i32, d: i32)
            }
            ([I32, I32, I32, I32, I32], true) => {
                link!(module, m, n, ctx, import, i32; a: i32, b: i32, c: i32, d: i32, e: i32)
            }
            ([I32, I32, I32, I32, I32, I64, I64, I32, I32], true) => link!(
                module, m, n, ctx, import, i32;
                a: i32, b: i32, c: i32, d: i32, e: i32, f: i64, g: i64, h: i32, i: i32
            ),
            (params, _) => return Err(format!("no wasm3 signature for {m}::{n} {params:?}")),
        };
        linked.map_err(|e| format!("linking {m}::{n}: {e}"))?;
    }
    Ok(())
}

struct Wasm3Program {
    env: Environment,
    wasm: Vec<u8>,
    imports: Vec<(String, String, Import)>,
}

impl Program for Wasm3Program {
    fn run(&self, wasi: WasiCtx) -> Result<WasiCtx> {
        // A wasm3 runtime holds one instance; its parsed module is consumed by loading,
        // so every run parses again (outside the timed region).
        let runtime = self.env.create_runtime(STACK_BYTES).map_err(err)?;
        let mut module = runtime
            .parse_and_load_module(self.wasm.clone())
            .map_err(err)?;
        let ctx = Rc::new(RefCell::new(wasi));
        link_shim(&mut module, &self.imports, &ctx)?;
        let start = runtime.find_function::<(), ()>("_start").map_err(err)?;
        let outcome = start.call();
        drop(runtime); // drops the linked closures and their clones of `ctx`
        let wasi = Rc::try_unwrap(ctx)
            .map_err(|_| "the wasm3 closures outlived their runtime".to_string())?
            .into_inner();
        finish(wasi, outcome)
    }
}

impl Runtime for Wasm3 {
    fn name(&self) -> &'static str {
        "wasm3"
    }

    fn supports_simd(&self) -> bool {
        false
    }

    fn compile(&self, wasm: &[u8]) -> Result<()> {
        let env = Environment::new().map_err(err)?;
        let runtime = env.create_runtime(SMALL_STACK_BYTES).map_err(err)?;
        runtime
            .parse_and_load_module(wasm.to_vec())
            .map(drop)
            .map_err(err)
    }

    fn load<'a>(&'a self, wasm: &[u8]) -> Result<Box<dyn Program + 'a>> {
        Ok(Box::new(Wasm3Program {
            env: Environment::new().map_err(err)?,
            wasm: wasm.to_vec(),
            imports: shim_imports(wasm)?,
        }))
    }

    fn instantiate(&self, wasm: &[u8], n: usize) -> Result<Vec<Duration>> {
        let env = Environment::new().map_err(err)?;
        (0..n)
            .map(|_| {
                // The copy of the bytes is made outside the timing: wasm3 takes ownership.
                let bytes = wasm.to_vec();
                let (t, r) = timed(|| {
                    let runtime = env.create_runtime(SMALL_STACK_BYTES)?;
                    runtime.parse_and_load_module(bytes)?;
                    Ok::<_, wasm3::error::Error>(runtime)
                });
                r.map(|runtime| {
                    drop(runtime);
                    t
                })
                .map_err(err)
            })
            .collect()
    }

    fn hold_instances(&self, wasm: &[u8], n: usize) -> Result<Box<dyn Any>> {
        let env = Environment::new().map_err(err)?;
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            let runtime = env.create_runtime(SMALL_STACK_BYTES).map_err(err)?;
            runtime.parse_and_load_module(wasm.to_vec()).map_err(err)?;
            held.push(runtime);
        }
        Ok(Box::new((env, held)))
    }

    fn host_calls(&self, wasm: &[u8], n: u32) -> Result<(Duration, Duration)> {
        let env = Environment::new().map_err(err)?;
        let runtime = env.create_runtime(SMALL_STACK_BYTES).map_err(err)?;
        let mut module = runtime.parse_and_load_module(wasm.to_vec()).map_err(err)?;
        module
            .link_closure("host", "nop", |_: CallContext<'_>, ()| Ok(()))
            .map_err(err)?;
        let call_host = runtime.find_function::<i32, ()>("call_host").map_err(err)?;
        let empty = runtime.find_function::<(), ()>("empty").map_err(err)?;
        let (to_host, r) = timed(|| call_host.call(n as i32));
        r.map_err(err)?;
        let (to_wasm, r) = timed(|| (0..n).try_for_each(|_| empty.call()));
        r.map_err(err)?;
        Ok((to_host, to_wasm))
    }
}
