//! The interpreter: runs translated code (`crate::ir`). Never recurses on the host stack for
//! wasm-to-wasm calls: frames live on an explicit stack, so deep guest recursion ends in a
//! `call stack exhausted` trap at the configured depth. Host functions calling back into wasm
//! do recurse (one host frame per re-entry), and the depth limit counts across re-entries.

use crate::costs;
use crate::error::{Error, FrameInfo, Trap, TrapKind};
use crate::interrupt::InterruptState;
use crate::ir::*;
use crate::module::ModuleInner;
use crate::num;
use crate::simd;
use crate::store::{FuncEntity, HostResult, InstanceEntity, MemoryEntity, StoreInner, PAGE_SIZE};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Calls host functions on behalf of the (non-generic) interpreter.
pub(crate) trait HostCaller {
    /// Calls host function `host`; parameters are in `cells`, results are written there.
    fn call_host(
        &mut self,
        inner: &mut StoreInner,
        host: u32,
        caller_instance: Option<u32>,
        cells: &mut [u64],
    ) -> HostResult;
}

#[derive(Copy, Clone, Debug)]
pub(crate) struct Frame {
    instance: u32,
    /// Index among the module's defined functions.
    func: u32,
    /// For the running frame: where it trapped; for callers: the return address.
    pc: u32,
    bp: u32,
}

/// Why the inner loop handed control back to the outer loop.
enum Exit {
    /// Frames changed instance (call, return or tail call); reload and continue.
    Resume,
    /// A host function called by the running frame failed.
    HostError(Box<Error>),
    /// Function `func` of instance `instance` is called for the first time and must be
    /// translated; the running frame's `pc` is the calling instruction, which runs again.
    Translate {
        instance: u32,
        func: u32,
    },
    /// A broken invariant of the engine (never expected).
    Internal(&'static str),
    /// Tail call of a host function: arguments already moved to slot 0.
    TailHost {
        host: u32,
        cells: u32,
    },
    /// The region starting at the current instruction needs more fuel than is left.
    OutOfFuel,
    /// The entry function returned.
    Done,
    Trap(TrapKind),
}

/// Invokes store function `func` with arguments in `cells` (at least max(params, results)
/// cells long); results are written back to the start of `cells`.
pub(crate) fn invoke(
    inner: &mut StoreInner,
    host: &mut dyn HostCaller,
    func: u32,
    cells: &mut [u64],
) -> Result<(), Error> {
    let entity = inner.funcs[func as usize];
    match entity {
        FuncEntity::Host { host: h, .. } => {
            let depth = inner.call_depth;
            match catch_unwind(AssertUnwindSafe(|| host.call_host(inner, h, None, cells))) {
                Ok(result) => result.map_err(|e| *e),
                Err(payload) => {
                    inner.call_depth = depth;
                    Err(panic_trap(payload).into())
                }
            }
        }
        FuncEntity::Wasm {
            instance, index, ..
        } => {
            let module = &inner.instances[instance as usize].module;
            let compiled = module.compiled(index).map_err(|e| *e)?;
            let frame_cells = compiled.frame_cells as usize;
            let max_cells = inner.engine.config().max_stack_cells;
            if inner.call_depth + 1 > inner.engine.config().max_call_depth {
                return Err(Trap::new(TrapKind::CallStackExhausted).into());
            }
            if frame_cells.max(cells.len()) > max_cells {
                return Err(Trap::new(TrapKind::CallStackExhausted).into());
            }
            // Pooled stacks keep their length: only the parameters and declared locals of
            // the entry frame need defined values (operand cells are written before read).
            let mut ctx = inner.exec_pool.pop().unwrap_or_default();
            let need = FRAME_WINDOW.max(cells.len());
            if ctx.stack.is_empty() {
                // A dropped store's stack, or one zeroed by the allocator (fresh pages
                // for a stack this size), never a half-megabyte memset.
                ctx.stack = inner.engine.take_stack().unwrap_or_else(|| vec![0; need]);
            }
            if ctx.stack.len() < need {
                ctx.stack.resize(need, 0);
            }
            let params = compiled.param_cells as usize;
            ctx.stack[..params].copy_from_slice(&cells[..params]);
            zero_locals(&mut ctx.stack, params, compiled.local_cells as usize);
            ctx.frames.clear();
            ctx.frames.push(Frame {
                instance,
                func: index,
                pc: 0,
                bp: 0,
            });
            let outer_depth = inner.call_depth;
            // Set again when this entry returns into the host function that made it.
            let outer_host_call = inner.host_call_pc;
            let ExecContext {
                stack,
                frames,
                modules,
            } = &mut *ctx;
            // A panicking host function unwinds to here, not through the embedder's frames.
            let result = match catch_unwind(AssertUnwindSafe(|| {
                run(inner, host, stack, frames, modules)
            })) {
                Ok(result) => result,
                Err(payload) => {
                    inner.call_depth = outer_depth;
                    let pc = std::mem::replace(&mut inner.host_call_pc, outer_host_call);
                    if pc == NOT_IN_HOST {
                        // Not in a host function: a bug of the engine, which must stay
                        // visible (tests, fuzzing) rather than pass for a trap.
                        std::panic::resume_unwind(payload);
                    }
                    // The running module was dropped while unwinding; the cache refills.
                    modules.clear();
                    if let Some(f) = frames.last_mut() {
                        f.pc = pc;
                    }
                    Err(with_backtrace(panic_trap(payload).into(), inner, frames))
                }
            };
            inner.call_depth = outer_depth;
            inner.host_call_pc = outer_host_call;
            let n = cells.len().min(ctx.stack.len());
            if result.is_ok() {
                cells[..n].copy_from_slice(&ctx.stack[..n]);
            }
            inner.exec_pool.push(ctx);
            result
        }
    }
}

/// `StoreInner::host_call_pc` outside host functions (no instruction has this index:
/// functions have fewer than 2^31 instructions).
pub(crate) const NOT_IN_HOST: u32 = u32::MAX;

/// The trap a panicking host function becomes.
fn panic_trap(payload: Box<dyn std::any::Any + Send>) -> Trap {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "host function panicked".to_string());
    Trap::new(TrapKind::Host(format!("host function panicked: {msg}")))
}

/// Hands a dropped store's stacks back to the engine, zeroed where they can have been
/// written: up to the deepest frame base plus the largest frame of the store's modules
/// (every cell past that is still the allocator's zero), so no value of one store is
/// ever in another's stack.
pub(crate) fn recycle_stacks(inner: &mut StoreInner) {
    let written_past_base = inner.max_frame_cells as usize + 2;
    for ctx in inner.exec_pool.drain(..) {
        let mut stack = ctx.stack;
        // A deep recursion's stack is not worth keeping (nor zeroing).
        if stack.len() < FRAME_WINDOW || stack.len() > 4 * FRAME_WINDOW {
            continue;
        }
        // The stack is FRAME_WINDOW cells longer than the deepest frame base it served.
        let deepest_base = stack.len() - FRAME_WINDOW;
        let end = (deepest_base + written_past_base).min(stack.len());
        stack[..end].fill(0);
        inner.engine.give_stack(stack);
    }
}

/// What one entry into the interpreter needs, pooled in the store so a host→wasm call
/// allocates nothing: the value stack, the frame stack, and the module of every instance
/// entered so far (instances never change module, so the cache stays valid for the store's
/// life and a call does no reference counting).
#[derive(Default)]
pub(crate) struct ExecContext {
    stack: Vec<u64>,
    frames: Vec<Frame>,
    modules: ModuleCache,
}

fn backtrace(inner: &StoreInner, frames: &[Frame]) -> Vec<FrameInfo> {
    let mut out = Vec::with_capacity(frames.len().min(130));
    let n = frames.len();
    let mut omitted = 0usize;
    for (i, f) in frames.iter().rev().enumerate() {
        // Keep huge backtraces (deep recursion) readable: the first and last 64 frames,
        // plus every frame where control crossed between instances, so an embedder can
        // still attribute the trap (see `FrameInfo::instance`).
        if n > 128 && i >= 64 && i < n - 64 {
            let j = n - 1 - i;
            let crosses =
                frames[j - 1].instance != f.instance || frames[j + 1].instance != f.instance;
            if !crosses {
                omitted += 1;
                continue;
            }
        }
        if omitted > 0 {
            out.push(FrameInfo {
                func_index: u32::MAX,
                func_name: Some(format!("... {omitted} frames omitted ...")),
                module_name: None,
                offset: None,
                instance: None,
            });
            omitted = 0;
        }
        let module = &inner.instances[f.instance as usize].module;
        let func_index = module.num_imported_funcs + f.func;
        let code = module.code[f.func as usize].get();
        // Callers record the return address; point at the call instead.
        let pc = if i == 0 { f.pc } else { f.pc.saturating_sub(1) };
        out.push(FrameInfo {
            func_index,
            func_name: module.names.funcs.get(&func_index).cloned(),
            module_name: module.names.module.clone(),
            offset: code.and_then(|c| c.offsets.get(pc as usize).copied()),
            instance: Some(crate::Instance {
                store: inner.id,
                index: f.instance,
            }),
        });
    }
    out
}

/// Readies the frame of `callee` at `bp`: its window exists (whatever the frame's own
/// size) and its declared locals are zero.
#[inline(always)]
fn prepare_frame(stack: &mut Vec<u64>, bp: usize, callee: &crate::module::CompiledFunc) {
    if stack.len() < bp + FRAME_WINDOW {
        stack.resize(bp + FRAME_WINDOW, 0);
    }
    zero_locals(
        stack,
        bp + callee.param_cells as usize,
        bp + callee.local_cells as usize,
    );
}

/// Zeroes a new frame's declared locals, `stack[start..end]`. Most frames declare none
/// beyond their parameters: skipping the empty case saves a `memset` call per wasm call.
#[inline(always)]
fn zero_locals(stack: &mut [u64], start: usize, end: usize) {
    if start < end {
        stack[start..end].fill(0);
    }
}

#[inline(always)]
fn effective(addr: u64, offset: u32) -> u64 {
    (addr as u32 as u64) + offset as u64
}

#[inline(always)]
fn load_bytes<const N: usize>(mem: &[u8], ea: u64) -> Option<[u8; N]> {
    let start = usize::try_from(ea).ok()?;
    let end = start.checked_add(N)?;
    mem.get(start..end)?.try_into().ok()
}

#[inline(always)]
fn store_bytes<const N: usize>(mem: &mut [u8], ea: u64, bytes: [u8; N]) -> Option<()> {
    let start = usize::try_from(ea).ok()?;
    let end = start.checked_add(N)?;
    mem.get_mut(start..end)?.copy_from_slice(&bytes);
    Some(())
}

/// `start..start+len` if it lies within `size`.
#[inline(always)]
fn range(start: u64, len: u64, size: usize) -> Option<std::ops::Range<usize>> {
    let end = start.checked_add(len)?;
    if end > size as u64 {
        return None;
    }
    Some(start as usize..end as usize)
}

/// `data.fill(v)` in chunks, stopping early (false) when an interruption is pending.
fn fill_chunked(data: &mut [u8], v: u8, stop: &InterruptState) -> bool {
    for chunk in data.chunks_mut(costs::BULK_CHUNK) {
        chunk.fill(v);
        if stop.pending() {
            return !stop.take();
        }
    }
    true
}

/// `data.copy_within(src, dst)` (a memmove) in chunks, in the direction that keeps
/// overlapping copies correct; false when stopped by an interruption.
fn copy_within_chunked(
    data: &mut [u8],
    src: std::ops::Range<usize>,
    dst: usize,
    stop: &InterruptState,
) -> bool {
    let n = src.len();
    let chunk = costs::BULK_CHUNK;
    if dst <= src.start {
        let mut off = 0;
        while off < n {
            let len = chunk.min(n - off);
            data.copy_within(src.start + off..src.start + off + len, dst + off);
            off += len;
            if off < n && stop.pending() {
                return !stop.take();
            }
        }
    } else {
        let mut end = n;
        while end > 0 {
            let len = chunk.min(end);
            let start = end - len;
            data.copy_within(src.start + start..src.start + end, dst + start);
            end = start;
            if end > 0 && stop.pending() {
                return !stop.take();
            }
        }
    }
    true
}

/// Cells a frame can address: every frame sees exactly this many cells from its base
/// (the stack always extends that far past the running frame), so a slot index cut to
/// 16 bits can never be out of bounds and the compiler drops every operand bounds check.
/// Translation refuses a function whose frame would not fit (`cells_per_function`).
pub(crate) const FRAME_WINDOW: usize = 1 << 16;

/// The running frame's cells.
type Regs = [u64; FRAME_WINDOW];

/// The window of the frame at `bp`.
#[inline(always)]
fn window(stack: &mut [u64], bp: usize) -> &mut Regs {
    (&mut stack[bp..bp + FRAME_WINDOW])
        .try_into()
        .expect("a window is FRAME_WINDOW cells")
}

/// Slot `s` of a window; translation keeps every slot below `FRAME_WINDOW`.
#[inline(always)]
fn cell(s: u64) -> usize {
    s as u16 as usize
}

fn get_u128(regs: &Regs, s: Slot) -> u128 {
    (regs[cell(s as u64)] as u128) | ((regs[cell(s as u64 + 1)] as u128) << 64)
}

fn set_u128(regs: &mut Regs, s: Slot, v: u128) {
    regs[cell(s as u64)] = v as u64;
    regs[cell(s as u64 + 1)] = (v >> 64) as u64;
}

fn f32_of(c: u64) -> f32 {
    f32::from_bits(c as u32)
}
fn f64_of(c: u64) -> f64 {
    f64::from_bits(c)
}
fn of_f32(f: f32) -> u64 {
    f.to_bits() as u64
}
fn of_f64(f: f64) -> u64 {
    f.to_bits()
}

fn trunc_result<T>(r: Result<T, num::TruncError>) -> Result<T, TrapKind> {
    r.map_err(|e| match e {
        num::TruncError::Nan => TrapKind::InvalidConversionToInteger,
        num::TruncError::Overflow => TrapKind::IntegerOverflow,
    })
}

/// Grows `mem` by `delta` pages within its maximum and the store's total (`total` bytes,
/// at most `total_limit`); the old size in pages, or `u32::MAX` (-1) on failure.
pub(crate) fn memory_grow(
    mem: &mut MemoryEntity,
    delta: u32,
    total: &mut usize,
    total_limit: usize,
) -> u32 {
    let old = (mem.data.len() / PAGE_SIZE) as u32;
    let Some(new) = old.checked_add(delta) else {
        return u32::MAX;
    };
    let added = delta as usize * PAGE_SIZE;
    if new > mem.max_pages() || total.saturating_add(added) > total_limit {
        return u32::MAX;
    }
    let new_len = new as usize * PAGE_SIZE;
    if new_len > mem.data.capacity() {
        // Grow capacity geometrically (capped at the memory's maximum) so growing one page
        // at a time stays linear; capacity beyond the length is never touched.
        let max_len = mem.max_pages() as usize * PAGE_SIZE;
        let target = new_len.max(mem.data.len().saturating_mul(2)).min(max_len);
        if mem.data.try_reserve_exact(target - mem.data.len()).is_err() {
            return u32::MAX;
        }
    }
    mem.data.resize(new_len, 0);
    *total += added;
    old
}

/// Where instance `instance`'s module sits in `modules` (added if missing).
fn module_slot(inner: &StoreInner, modules: &mut ModuleCache, instance: u32) -> usize {
    match modules.iter().position(|(i, _)| *i == instance) {
        Some(s) => s,
        None => {
            let m = inner.instances[instance as usize].module.clone();
            modules.push((instance, Some(m)));
            modules.len() - 1
        }
    }
}

/// The modules of the instances entered so far (`None` while one is running, moved out):
/// an entry, or a call or return that crosses instances, finds its module here instead of
/// cloning an `Arc` (the nanoprocess runtime's direct links cross on every call).
pub(crate) type ModuleCache = Vec<(u32, Option<Arc<ModuleInner>>)>;

/// Runs from the frame on top of `frames` until it returns.
fn run(
    inner: &mut StoreInner,
    host: &mut dyn HostCaller,
    stack: &mut Vec<u64>,
    frames: &mut Vec<Frame>,
    modules: &mut ModuleCache,
) -> Result<(), Error> {
    let max_depth = inner.engine.config().max_call_depth;
    let max_cells = inner.engine.config().max_stack_cells;
    let depth_base = inner.call_depth;
    // Frames this run may push before `call stack exhausted` (one compare per call).
    let max_frames = max_depth.saturating_sub(depth_base);
    let metering = inner.engine.config().consume_fuel;
    // With fuel, loop headers start fuel regions that also poll; without, backward
    // branches poll.
    let poll_backward = inner.engine.config().interruptible && !metering;
    // The running instance's module is a local `Arc` (borrowing it from `modules` instead
    // made the whole interpreter loop 4× slower); switching moves `Arc`s between the local
    // and the cache, without reference counting.
    let mut cur_instance = frames[0].instance;
    let mut slot = module_slot(inner, modules, cur_instance);
    let mut module = modules[slot].1.take().expect("a cached module");
    let mut empty_memory = MemoryEntity::empty();
    let result = loop {
        let top = *frames.last().expect("a frame is running");
        if top.instance != cur_instance {
            let next = module_slot(inner, modules, top.instance);
            let incoming = modules[next].1.take().expect("a cached module");
            modules[slot].1 = Some(std::mem::replace(&mut module, incoming));
            slot = next;
            cur_instance = top.instance;
        }
        let exit = {
            // The store's parts, borrowed apart. A host call gives them back (the host
            // function gets the whole store) and borrows them again afterwards.
            let (mut instances, mut memories, mut tables, mut globals, mut funcs);
            let (mut limits, mut memory_bytes, mut table_elements);
            // Fuel lives in a local while wasm runs (a register, or at least no pointer
            // chase), written back whenever the inner loop exits.
            let mut fuel_ref: &mut u64;
            // One load less per poll than going through the `Arc` each time.
            let mut interrupt: &InterruptState;
            macro_rules! borrow_store {
                () => {{
                    let parts = &mut *inner;
                    instances = &mut parts.instances;
                    memories = &mut parts.memories;
                    tables = &mut parts.tables;
                    globals = &mut parts.globals;
                    funcs = &mut parts.funcs;
                    limits = &mut parts.limits;
                    memory_bytes = &mut parts.memory_bytes;
                    table_elements = &mut parts.table_elements;
                    fuel_ref = &mut parts.fuel;
                    interrupt = &*parts.interrupt;
                }};
            }
            borrow_store!();
            let mut fuel_left: u64 = *fuel_ref;
            let mut inst: &mut InstanceEntity = &mut instances[cur_instance as usize];
            let mut mem: &mut MemoryEntity = match inst.memories.first() {
                Some(&m) => &mut memories[m as usize],
                None => &mut empty_memory,
            };
            let mut bp = top.bp as usize;
            let mut pc = top.pc as usize;
            // Translated when its frame was pushed: this cannot fail.
            let mut code: &[Instr] = match module.compiled(top.func) {
                Ok(compiled) => &compiled.code,
                Err(e) => break Err(with_backtrace(*e, inner, frames)),
            };
            let mut regs: &mut Regs = window(stack, bp);

            macro_rules! r {
                ($s:expr) => {
                    regs[cell($s as u64)]
                };
            }
            macro_rules! trap {
                ($kind:expr) => {{
                    if let Some(f) = frames.last_mut() {
                        f.pc = pc as u32;
                    }
                    break Exit::Trap($kind);
                }};
            }
            // The code of function `$func` of instance `$instance` (module `$module`). On its
            // first call it is not translated yet: the loop exits (no call on this path, which
            // keeps the hot loop's registers as they were before lazy translation), the
            // outer loop translates it, and the calling instruction runs again.
            macro_rules! compiled {
                ($instance:expr, $module:expr, $func:expr) => {
                    match $module.translated($func) {
                        Some(compiled) => compiled,
                        None => {
                            if let Some(f) = frames.last_mut() {
                                f.pc = pc as u32;
                            }
                            break Exit::Translate {
                                instance: $instance,
                                func: $func,
                            };
                        }
                    }
                };
            }
            macro_rules! bin32 {
                ($b:expr, |$x:ident, $y:ident| $e:expr) => {{
                    let Bin { dst, lhs, rhs } = $b;
                    let $x = r!(lhs) as u32;
                    let $y = r!(rhs) as u32;
                    r!(dst) = ($e) as u32 as u64;
                }};
            }
            macro_rules! bin32s {
                ($b:expr, |$x:ident, $y:ident| $e:expr) => {{
                    let Bin { dst, lhs, rhs } = $b;
                    let $x = r!(lhs) as u32 as i32;
                    let $y = r!(rhs) as u32 as i32;
                    r!(dst) = ($e) as u32 as u64;
                }};
            }
            macro_rules! imm32 {
                ($b:expr, |$x:ident, $y:ident| $e:expr) => {{
                    let BinImm { dst, lhs, imm } = $b;
                    let $x = r!(lhs) as u32;
                    let $y = imm as u32;
                    r!(dst) = ($e) as u32 as u64;
                }};
            }
            macro_rules! imm32s {
                ($b:expr, |$x:ident, $y:ident| $e:expr) => {{
                    let BinImm { dst, lhs, imm } = $b;
                    let $x = r!(lhs) as u32 as i32;
                    let $y = imm;
                    r!(dst) = ($e) as u32 as u64;
                }};
            }
            macro_rules! bin64 {
                ($b:expr, |$x:ident, $y:ident| $e:expr) => {{
                    let Bin { dst, lhs, rhs } = $b;
                    let $x = r!(lhs);
                    let $y = r!(rhs);
                    r!(dst) = ($e) as u64;
                }};
            }
            macro_rules! bin64s {
                ($b:expr, |$x:ident, $y:ident| $e:expr) => {{
                    let Bin { dst, lhs, rhs } = $b;
                    let $x = r!(lhs) as i64;
                    let $y = r!(rhs) as i64;
                    r!(dst) = ($e) as u64;
                }};
            }
            macro_rules! imm64 {
                ($b:expr, |$x:ident, $y:ident| $e:expr) => {{
                    let BinImm { dst, lhs, imm } = $b;
                    let $x = r!(lhs);
                    let $y = imm as i64 as u64;
                    r!(dst) = ($e) as u64;
                }};
            }
            macro_rules! imm64s {
                ($b:expr, |$x:ident, $y:ident| $e:expr) => {{
                    let BinImm { dst, lhs, imm } = $b;
                    let $x = r!(lhs) as i64;
                    let $y = imm as i64;
                    r!(dst) = ($e) as u64;
                }};
            }
            // The fused two-operand forms with a shift or rotation amount (`BinShift`).
            macro_rules! bin_shift {
                ($b:expr, |$x:ident, $y:ident, $s:ident| $e:expr) => {{
                    let BinShift {
                        dst,
                        lhs,
                        rhs,
                        shift,
                    } = $b;
                    let $x = r!(lhs);
                    let $y = r!(rhs);
                    let $s = shift as u32;
                    r!(dst) = $e;
                }};
            }
            macro_rules! un {
                ($u:expr, |$x:ident| $e:expr) => {{
                    let Un { dst, src } = $u;
                    let $x = r!(src);
                    r!(dst) = $e;
                }};
            }
            macro_rules! f32bin {
                ($b:expr, |$x:ident, $y:ident| $e:expr) => {{
                    let Bin { dst, lhs, rhs } = $b;
                    let $x = f32_of(r!(lhs));
                    let $y = f32_of(r!(rhs));
                    r!(dst) = $e;
                }};
            }
            macro_rules! f64bin {
                ($b:expr, |$x:ident, $y:ident| $e:expr) => {{
                    let Bin { dst, lhs, rhs } = $b;
                    let $x = f64_of(r!(lhs));
                    let $y = f64_of(r!(rhs));
                    r!(dst) = $e;
                }};
            }
            // Charges fuel for a bulk operation touching `n` units; when fuel is short,
            // re-executes this instruction after the out-of-fuel handler refills.
            macro_rules! bulk_fuel {
                ($n:expr, $per:expr) => {{
                    if metering {
                        let cost = ($n as u64) / $per;
                        if fuel_left < cost {
                            if let Some(f) = frames.last_mut() {
                                f.pc = pc as u32;
                            }
                            break Exit::OutOfFuel;
                        }
                        fuel_left -= cost;
                    }
                }};
            }
            // Taken branch. A backward branch is where a loop keeps running, so that is
            // where an interruption is polled; translation flags backward targets only when
            // that is needed (interruptible, without fuel: then the loop header's
            // `ConsumeFuel` polls). A forward branch pays one bit test.
            macro_rules! jump {
                ($target:expr) => {{
                    let target: Target = $target;
                    if target & BACKWARD != 0 {
                        if interrupt.take() {
                            trap!(TrapKind::Interrupted);
                        }
                        pc = (target & !BACKWARD) as usize;
                    } else {
                        pc = target as usize;
                    }
                    continue;
                }};
            }
            macro_rules! brcmp {
                ($cond:expr, $target:expr) => {{
                    if $cond {
                        jump!($target);
                    }
                }};
            }
            macro_rules! trunc {
                ($u:expr, $f:expr, $conv:expr, |$v:ident| $e:expr) => {{
                    let Un { dst, src } = $u;
                    match trunc_result($f($conv(r!(src)))) {
                        Ok($v) => r!(dst) = $e,
                        Err(k) => trap!(k),
                    }
                }};
            }
            // Loads `$n` bytes at wasm address `$addr + $offset` into `$dst` (the shared tail
            // of every load form).
            macro_rules! load_at {
                ($addr:expr, $offset:expr, $dst:expr, $n:literal, |$b:ident| $e:expr) => {{
                    match load_bytes::<$n>(&mem.data, effective($addr, $offset)) {
                        Some($b) => r!($dst) = $e,
                        None => trap!(TrapKind::MemoryOutOfBounds),
                    }
                }};
            }
            macro_rules! load {
                ($l:expr, $n:literal, |$b:ident| $e:expr) => {{
                    let Load { dst, addr, offset } = $l;
                    load_at!(r!(addr), offset, dst, $n, |$b| $e)
                }};
            }
            macro_rules! load_idx {
                ($l:expr, $n:literal, |$b:ident| $e:expr) => {{
                    let LoadIdx {
                        dst,
                        base,
                        index,
                        shift,
                        offset,
                    } = $l;
                    let addr = (r!(base) as u32).wrapping_add((r!(index) as u32) << shift);
                    load_at!(addr as u64, offset, dst, $n, |$b| $e)
                }};
            }
            macro_rules! load_disp {
                ($l:expr, $n:literal, |$b:ident| $e:expr) => {{
                    let LoadDisp {
                        dst,
                        addr,
                        shift,
                        disp,
                        offset,
                    } = $l;
                    let addr = ((r!(addr) as u32) << shift).wrapping_add(disp as u32);
                    load_at!(addr as u64, offset, dst, $n, |$b| $e)
                }};
            }
            // Stores `$bytes` at wasm address `$addr + $offset` (every store form's tail).
            macro_rules! store_at {
                ($addr:expr, $offset:expr, $bytes:expr) => {{
                    if store_bytes(&mut mem.data, effective($addr, $offset), $bytes).is_none() {
                        trap!(TrapKind::MemoryOutOfBounds);
                    }
                }};
            }
            macro_rules! store {
                ($s:expr, |$v:ident| $e:expr) => {{
                    let Store { addr, src, offset } = $s;
                    let $v = r!(src);
                    store_at!(r!(addr), offset, $e)
                }};
            }
            macro_rules! store_disp {
                ($s:expr, |$v:ident| $e:expr) => {{
                    let StoreDisp {
                        addr,
                        src,
                        disp,
                        offset,
                    } = $s;
                    let $v = r!(src);
                    let addr = (r!(addr) as u32).wrapping_add(disp as u32);
                    store_at!(addr as u64, offset, $e)
                }};
            }
            macro_rules! store_imm {
                ($s:expr, |$v:ident| $e:expr) => {{
                    let StoreImm {
                        addr,
                        value,
                        offset,
                    } = $s;
                    let $v = value as i64 as u64;
                    store_at!(r!(addr), offset, $e)
                }};
            }
            // Enters wasm function `$func` of the current module with its frame at `$base`.
            // Without fuel, every call polls for interruption (recursion has no backward
            // branch); with fuel, the callee's entry region does.
            macro_rules! poll_call {
                () => {{
                    if poll_backward && interrupt.take() {
                        trap!(TrapKind::Interrupted);
                    }
                }};
            }
            macro_rules! enter {
                ($func:expr, $base:expr) => {{
                    poll_call!();
                    let callee = compiled!(cur_instance, module, $func);
                    let new_bp = bp + $base as usize;
                    let need = new_bp + callee.frame_cells as usize;
                    if frames.len() >= max_frames || need > max_cells {
                        trap!(TrapKind::CallStackExhausted);
                    }
                    if let Some(f) = frames.last_mut() {
                        f.pc = pc as u32 + 1;
                    }
                    prepare_frame(stack, new_bp, callee);
                    frames.push(Frame {
                        instance: cur_instance,
                        func: $func,
                        pc: 0,
                        bp: new_bp as u32,
                    });
                    bp = new_bp;
                    code = &callee.code;
                    pc = 0;
                    regs = window(stack, bp);
                    continue;
                }};
            }
            // Replaces the current frame with wasm function `$func` (args at `$base`).
            macro_rules! tail_enter {
                ($func:expr, $base:expr, $params:expr) => {{
                    poll_call!();
                    let callee = compiled!(cur_instance, module, $func);
                    let need = bp + callee.frame_cells as usize;
                    if need > max_cells {
                        trap!(TrapKind::CallStackExhausted);
                    }
                    let base = bp + $base as usize;
                    stack.copy_within(base..base + $params as usize, bp);
                    prepare_frame(stack, bp, callee);
                    if let Some(f) = frames.last_mut() {
                        f.func = $func;
                        f.pc = 0;
                    }
                    code = &callee.code;
                    pc = 0;
                    regs = window(stack, bp);
                    continue;
                }};
            }
            // Leaves the current frame (results already in slots 0..n).
            macro_rules! ret {
                () => {{
                    frames.pop();
                    match frames.last() {
                        None => break Exit::Done,
                        Some(&f) if f.instance == cur_instance => {
                            bp = f.bp as usize;
                            pc = f.pc as usize;
                            // A caller was translated before it made the call.
                            code = match module.translated(f.func) {
                                Some(caller) => &caller.code,
                                None => break Exit::Internal("a caller is not translated"),
                            };
                            regs = window(stack, bp);
                            continue;
                        }
                        Some(_) => break Exit::Resume,
                    }
                }};
            }
            // Calls store function `$f` with its frame at `$base`.
            macro_rules! call_store_func {
                ($f:expr, $base:expr) => {{
                    match funcs[$f as usize] {
                        FuncEntity::Wasm {
                            instance, index, ..
                        } if instance == cur_instance => enter!(index, $base),
                        FuncEntity::Wasm {
                            instance, index, ..
                        } => {
                            poll_call!();
                            let callee =
                                compiled!(instance, instances[instance as usize].module, index);
                            let new_bp = bp + $base as usize;
                            let need = new_bp + callee.frame_cells as usize;
                            if frames.len() >= max_frames || need > max_cells {
                                trap!(TrapKind::CallStackExhausted);
                            }
                            if let Some(fr) = frames.last_mut() {
                                fr.pc = pc as u32 + 1;
                            }
                            prepare_frame(stack, new_bp, callee);
                            frames.push(Frame {
                                instance,
                                func: index,
                                pc: 0,
                                bp: new_bp as u32,
                            });
                            break Exit::Resume;
                        }
                        FuncEntity::Host { host: h, cells, .. } => {
                            // Called from inside the loop: the store's parts are given
                            // back for the call and borrowed again after it, which is much
                            // cheaper than leaving and re-entering the loop.
                            *fuel_ref = fuel_left;
                            // The frame's `pc` is written only if the call fails; the
                            // backtrace of a panic finds it here.
                            inner.host_call_pc = pc as u32;
                            // Nested entries count from here (`invoke` restores the depth
                            // when this run ends).
                            inner.call_depth = depth_base + frames.len();
                            let start = $base as usize;
                            let end = start + cells as usize;
                            // The host frame is in this frame's window unless a huge
                            // signature reaches past it.
                            let result = match regs.get_mut(start..end) {
                                Some(cells) => host.call_host(inner, h, Some(cur_instance), cells),
                                None => {
                                    let (start, end) = (bp + start, bp + end);
                                    if stack.len() < end {
                                        stack.resize(end, 0);
                                    }
                                    let cells = &mut stack[start..end];
                                    let result =
                                        host.call_host(inner, h, Some(cur_instance), cells);
                                    regs = window(stack, bp);
                                    result
                                }
                            };
                            inner.host_call_pc = NOT_IN_HOST;
                            borrow_store!();
                            fuel_left = *fuel_ref;
                            inst = &mut instances[cur_instance as usize];
                            mem = match inst.memories.first() {
                                Some(&m) => &mut memories[m as usize],
                                None => &mut empty_memory,
                            };
                            if let Err(e) = result {
                                if let Some(fr) = frames.last_mut() {
                                    fr.pc = pc as u32;
                                }
                                break Exit::HostError(e);
                            }
                        }
                    }
                }};
            }
            macro_rules! tail_call_store_func {
                ($f:expr, $base:expr) => {{
                    match funcs[$f as usize] {
                        FuncEntity::Wasm {
                            instance,
                            index,
                            params,
                            ..
                        } if instance == cur_instance => tail_enter!(index, $base, params),
                        FuncEntity::Wasm {
                            instance,
                            index,
                            params,
                            ..
                        } => {
                            poll_call!();
                            let callee =
                                compiled!(instance, instances[instance as usize].module, index);
                            let need = bp + callee.frame_cells as usize;
                            if need > max_cells {
                                trap!(TrapKind::CallStackExhausted);
                            }
                            let base = bp + $base as usize;
                            stack.copy_within(base..base + params as usize, bp);
                            prepare_frame(stack, bp, callee);
                            if let Some(fr) = frames.last_mut() {
                                fr.instance = instance;
                                fr.func = index;
                                fr.pc = 0;
                            }
                            break Exit::Resume;
                        }
                        FuncEntity::Host {
                            host,
                            cells,
                            params,
                            ..
                        } => {
                            let base = bp + $base as usize;
                            stack.copy_within(base..base + params as usize, bp);
                            if let Some(fr) = frames.last_mut() {
                                fr.pc = pc as u32;
                            }
                            break Exit::TailHost { host, cells };
                        }
                    }
                }};
            }
            macro_rules! indirect_callee {
                ($ty:expr, $index:expr, $table:expr) => {{
                    let table = &tables[inst.tables[$table as usize] as usize];
                    let i = r!($index) as u32 as usize;
                    let Some(&cell) = table.elems.get(i) else {
                        trap!(TrapKind::UndefinedElement);
                    };
                    if cell == 0 {
                        trap!(TrapKind::IndirectCallToNull);
                    }
                    let f = (cell - 1) as u32;
                    if funcs[f as usize].ty() != $ty {
                        trap!(TrapKind::BadSignature);
                    }
                    f
                }};
            }

            let exit = loop {
                match code[pc] {
                    // ---------------------------------------------------------- i32
                    Instr::I32Eqz(u) => un!(u, |x| (x as u32 == 0) as u64),
                    Instr::I32Clz(u) => un!(u, |x| (x as u32).leading_zeros() as u64),
                    Instr::I32Ctz(u) => un!(u, |x| (x as u32).trailing_zeros() as u64),
                    Instr::I32Popcnt(u) => un!(u, |x| (x as u32).count_ones() as u64),
                    Instr::I32Eq(b) => bin32!(b, |x, y| x == y),
                    Instr::I32Ne(b) => bin32!(b, |x, y| x != y),
                    Instr::I32LtS(b) => bin32s!(b, |x, y| x < y),
                    Instr::I32LtU(b) => bin32!(b, |x, y| x < y),
                    Instr::I32GtS(b) => bin32s!(b, |x, y| x > y),
                    Instr::I32GtU(b) => bin32!(b, |x, y| x > y),
                    Instr::I32LeS(b) => bin32s!(b, |x, y| x <= y),
                    Instr::I32LeU(b) => bin32!(b, |x, y| x <= y),
                    Instr::I32GeS(b) => bin32s!(b, |x, y| x >= y),
                    Instr::I32GeU(b) => bin32!(b, |x, y| x >= y),
                    Instr::I32Add(b) => bin32!(b, |x, y| x.wrapping_add(y)),
                    Instr::I32Sub(b) => bin32!(b, |x, y| x.wrapping_sub(y)),
                    Instr::I32Mul(b) => bin32!(b, |x, y| x.wrapping_mul(y)),
                    Instr::I32DivS(Bin { dst, lhs, rhs }) => {
                        let (x, y) = (r!(lhs) as u32 as i32, r!(rhs) as u32 as i32);
                        if y == 0 {
                            trap!(TrapKind::IntegerDivideByZero);
                        }
                        if x == i32::MIN && y == -1 {
                            trap!(TrapKind::IntegerOverflow);
                        }
                        r!(dst) = (x / y) as u32 as u64;
                    }
                    Instr::I32DivU(Bin { dst, lhs, rhs }) => {
                        let (x, y) = (r!(lhs) as u32, r!(rhs) as u32);
                        if y == 0 {
                            trap!(TrapKind::IntegerDivideByZero);
                        }
                        r!(dst) = (x / y) as u64;
                    }
                    Instr::I32RemS(Bin { dst, lhs, rhs }) => {
                        let (x, y) = (r!(lhs) as u32 as i32, r!(rhs) as u32 as i32);
                        if y == 0 {
                            trap!(TrapKind::IntegerDivideByZero);
                        }
                        r!(dst) = x.wrapping_rem(y) as u32 as u64;
                    }
                    Instr::I32RemU(Bin { dst, lhs, rhs }) => {
                        let (x, y) = (r!(lhs) as u32, r!(rhs) as u32);
                        if y == 0 {
                            trap!(TrapKind::IntegerDivideByZero);
                        }
                        r!(dst) = (x % y) as u64;
                    }
                    Instr::I32And(b) => bin32!(b, |x, y| x & y),
                    Instr::I32Or(b) => bin32!(b, |x, y| x | y),
                    Instr::I32Xor(b) => bin32!(b, |x, y| x ^ y),
                    Instr::I32Shl(b) => bin32!(b, |x, y| x.wrapping_shl(y)),
                    Instr::I32ShrS(b) => bin32s!(b, |x, y| x.wrapping_shr(y as u32)),
                    Instr::I32ShrU(b) => bin32!(b, |x, y| x.wrapping_shr(y)),
                    Instr::I32Rotl(b) => bin32!(b, |x, y| x.rotate_left(y % 32)),
                    Instr::I32Rotr(b) => bin32!(b, |x, y| x.rotate_right(y % 32)),
                    Instr::I32EqImm(b) => imm32!(b, |x, y| x == y),
                    Instr::I32NeImm(b) => imm32!(b, |x, y| x != y),
                    Instr::I32LtSImm(b) => imm32s!(b, |x, y| x < y),
                    Instr::I32LtUImm(b) => imm32!(b, |x, y| x < y),
                    Instr::I32GtSImm(b) => imm32s!(b, |x, y| x > y),
                    Instr::I32GtUImm(b) => imm32!(b, |x, y| x > y),
                    Instr::I32LeSImm(b) => imm32s!(b, |x, y| x <= y),
                    Instr::I32LeUImm(b) => imm32!(b, |x, y| x <= y),
                    Instr::I32GeSImm(b) => imm32s!(b, |x, y| x >= y),
                    Instr::I32GeUImm(b) => imm32!(b, |x, y| x >= y),
                    Instr::I32AddImm(b) => imm32!(b, |x, y| x.wrapping_add(y)),
                    Instr::I32MulImm(b) => imm32!(b, |x, y| x.wrapping_mul(y)),
                    Instr::I32AndImm(b) => imm32!(b, |x, y| x & y),
                    Instr::I32OrImm(b) => imm32!(b, |x, y| x | y),
                    Instr::I32XorImm(b) => imm32!(b, |x, y| x ^ y),
                    Instr::I32ShlImm(b) => imm32!(b, |x, y| x.wrapping_shl(y)),
                    Instr::I32ShrSImm(b) => imm32s!(b, |x, y| x.wrapping_shr(y as u32)),
                    Instr::I32ShrUImm(b) => imm32!(b, |x, y| x.wrapping_shr(y)),
                    Instr::I32RotlImm(b) => imm32!(b, |x, y| x.rotate_left(y)),

                    // ---------------------------------------------------------- i64
                    Instr::I64Eqz(u) => un!(u, |x| (x == 0) as u64),
                    Instr::I64Clz(u) => un!(u, |x| x.leading_zeros() as u64),
                    Instr::I64Ctz(u) => un!(u, |x| x.trailing_zeros() as u64),
                    Instr::I64Popcnt(u) => un!(u, |x| x.count_ones() as u64),
                    Instr::I64Eq(b) => bin64!(b, |x, y| x == y),
                    Instr::I64Ne(b) => bin64!(b, |x, y| x != y),
                    Instr::I64LtS(b) => bin64s!(b, |x, y| x < y),
                    Instr::I64LtU(b) => bin64!(b, |x, y| x < y),
                    Instr::I64GtS(b) => bin64s!(b, |x, y| x > y),
                    Instr::I64GtU(b) => bin64!(b, |x, y| x > y),
                    Instr::I64LeS(b) => bin64s!(b, |x, y| x <= y),
                    Instr::I64LeU(b) => bin64!(b, |x, y| x <= y),
                    Instr::I64GeS(b) => bin64s!(b, |x, y| x >= y),
                    Instr::I64GeU(b) => bin64!(b, |x, y| x >= y),
                    Instr::I64Add(b) => bin64!(b, |x, y| x.wrapping_add(y)),
                    Instr::I64Sub(b) => bin64!(b, |x, y| x.wrapping_sub(y)),
                    Instr::I64Mul(b) => bin64!(b, |x, y| x.wrapping_mul(y)),
                    Instr::I64DivS(Bin { dst, lhs, rhs }) => {
                        let (x, y) = (r!(lhs) as i64, r!(rhs) as i64);
                        if y == 0 {
                            trap!(TrapKind::IntegerDivideByZero);
                        }
                        if x == i64::MIN && y == -1 {
                            trap!(TrapKind::IntegerOverflow);
                        }
                        r!(dst) = (x / y) as u64;
                    }
                    Instr::I64DivU(Bin { dst, lhs, rhs }) => {
                        let (x, y) = (r!(lhs), r!(rhs));
                        if y == 0 {
                            trap!(TrapKind::IntegerDivideByZero);
                        }
                        r!(dst) = x / y;
                    }
                    Instr::I64RemS(Bin { dst, lhs, rhs }) => {
                        let (x, y) = (r!(lhs) as i64, r!(rhs) as i64);
                        if y == 0 {
                            trap!(TrapKind::IntegerDivideByZero);
                        }
                        r!(dst) = x.wrapping_rem(y) as u64;
                    }
                    Instr::I64RemU(Bin { dst, lhs, rhs }) => {
                        let (x, y) = (r!(lhs), r!(rhs));
                        if y == 0 {
                            trap!(TrapKind::IntegerDivideByZero);
                        }
                        r!(dst) = x % y;
                    }
                    Instr::I64And(b) => bin64!(b, |x, y| x & y),
                    Instr::I64Or(b) => bin64!(b, |x, y| x | y),
                    Instr::I64Xor(b) => bin64!(b, |x, y| x ^ y),
                    Instr::I64Shl(b) => bin64!(b, |x, y| x.wrapping_shl(y as u32)),
                    Instr::I64ShrS(b) => bin64s!(b, |x, y| x.wrapping_shr(y as u32)),
                    Instr::I64ShrU(b) => bin64!(b, |x, y| x.wrapping_shr(y as u32)),
                    Instr::I64Rotl(b) => bin64!(b, |x, y| x.rotate_left((y % 64) as u32)),
                    Instr::I64Rotr(b) => bin64!(b, |x, y| x.rotate_right((y % 64) as u32)),
                    Instr::I64EqImm(b) => imm64!(b, |x, y| x == y),
                    Instr::I64NeImm(b) => imm64!(b, |x, y| x != y),
                    Instr::I64LtSImm(b) => imm64s!(b, |x, y| x < y),
                    Instr::I64LtUImm(b) => imm64!(b, |x, y| x < y),
                    Instr::I64GtSImm(b) => imm64s!(b, |x, y| x > y),
                    Instr::I64GtUImm(b) => imm64!(b, |x, y| x > y),
                    Instr::I64LeSImm(b) => imm64s!(b, |x, y| x <= y),
                    Instr::I64LeUImm(b) => imm64!(b, |x, y| x <= y),
                    Instr::I64GeSImm(b) => imm64s!(b, |x, y| x >= y),
                    Instr::I64GeUImm(b) => imm64!(b, |x, y| x >= y),
                    Instr::I64AddImm(b) => imm64!(b, |x, y| x.wrapping_add(y)),
                    Instr::I64MulImm(b) => imm64!(b, |x, y| x.wrapping_mul(y)),
                    Instr::I64AndImm(b) => imm64!(b, |x, y| x & y),
                    Instr::I64OrImm(b) => imm64!(b, |x, y| x | y),
                    Instr::I64XorImm(b) => imm64!(b, |x, y| x ^ y),
                    Instr::I64ShlImm(b) => imm64!(b, |x, y| x.wrapping_shl(y as u32)),
                    Instr::I64ShrSImm(b) => imm64s!(b, |x, y| x.wrapping_shr(y as u32)),
                    Instr::I64ShrUImm(b) => imm64!(b, |x, y| x.wrapping_shr(y as u32)),
                    Instr::I64RotlImm(b) => imm64!(b, |x, y| x.rotate_left(y as u32)),

                    // ---------------------------------------------------------- f32
                    Instr::F32Eq(b) => f32bin!(b, |x, y| (x == y) as u64),
                    Instr::F32Ne(b) => f32bin!(b, |x, y| (x != y) as u64),
                    Instr::F32Lt(b) => f32bin!(b, |x, y| (x < y) as u64),
                    Instr::F32Gt(b) => f32bin!(b, |x, y| (x > y) as u64),
                    Instr::F32Le(b) => f32bin!(b, |x, y| (x <= y) as u64),
                    Instr::F32Ge(b) => f32bin!(b, |x, y| (x >= y) as u64),
                    Instr::F32Abs(u) => un!(u, |x| x & 0x7fff_ffff),
                    Instr::F32Neg(u) => un!(u, |x| (x as u32 ^ 0x8000_0000) as u64),
                    Instr::F32Ceil(u) => un!(u, |x| of_f32(num::f32_ceil(f32_of(x)))),
                    Instr::F32Floor(u) => un!(u, |x| of_f32(num::f32_floor(f32_of(x)))),
                    Instr::F32Trunc(u) => un!(u, |x| of_f32(num::f32_trunc(f32_of(x)))),
                    Instr::F32Nearest(u) => un!(u, |x| of_f32(num::f32_nearest(f32_of(x)))),
                    Instr::F32Sqrt(u) => un!(u, |x| of_f32(f32_of(x).sqrt())),
                    Instr::F32Add(b) => f32bin!(b, |x, y| of_f32(x + y)),
                    Instr::F32Sub(b) => f32bin!(b, |x, y| of_f32(x - y)),
                    Instr::F32Mul(b) => f32bin!(b, |x, y| of_f32(x * y)),
                    Instr::F32Div(b) => f32bin!(b, |x, y| of_f32(x / y)),
                    Instr::F32Min(b) => f32bin!(b, |x, y| of_f32(num::f32_min(x, y))),
                    Instr::F32Max(b) => f32bin!(b, |x, y| of_f32(num::f32_max(x, y))),
                    Instr::F32Copysign(Bin { dst, lhs, rhs }) => {
                        r!(dst) = (r!(lhs) & 0x7fff_ffff) | (r!(rhs) & 0x8000_0000);
                    }

                    // ---------------------------------------------------------- f64
                    Instr::F64Eq(b) => f64bin!(b, |x, y| (x == y) as u64),
                    Instr::F64Ne(b) => f64bin!(b, |x, y| (x != y) as u64),
                    Instr::F64Lt(b) => f64bin!(b, |x, y| (x < y) as u64),
                    Instr::F64Gt(b) => f64bin!(b, |x, y| (x > y) as u64),
                    Instr::F64Le(b) => f64bin!(b, |x, y| (x <= y) as u64),
                    Instr::F64Ge(b) => f64bin!(b, |x, y| (x >= y) as u64),
                    Instr::F64Abs(u) => un!(u, |x| x & 0x7fff_ffff_ffff_ffff),
                    Instr::F64Neg(u) => un!(u, |x| x ^ 0x8000_0000_0000_0000),
                    Instr::F64Ceil(u) => un!(u, |x| of_f64(num::f64_ceil(f64_of(x)))),
                    Instr::F64Floor(u) => un!(u, |x| of_f64(num::f64_floor(f64_of(x)))),
                    Instr::F64Trunc(u) => un!(u, |x| of_f64(num::f64_trunc(f64_of(x)))),
                    Instr::F64Nearest(u) => un!(u, |x| of_f64(num::f64_nearest(f64_of(x)))),
                    Instr::F64Sqrt(u) => un!(u, |x| of_f64(f64_of(x).sqrt())),
                    Instr::F64Add(b) => f64bin!(b, |x, y| of_f64(x + y)),
                    Instr::F64Sub(b) => f64bin!(b, |x, y| of_f64(x - y)),
                    Instr::F64Mul(b) => f64bin!(b, |x, y| of_f64(x * y)),
                    Instr::F64Div(b) => f64bin!(b, |x, y| of_f64(x / y)),
                    Instr::F64Min(b) => f64bin!(b, |x, y| of_f64(num::f64_min(x, y))),
                    Instr::F64Max(b) => f64bin!(b, |x, y| of_f64(num::f64_max(x, y))),
                    Instr::F64Copysign(Bin { dst, lhs, rhs }) => {
                        r!(dst) =
                            (r!(lhs) & 0x7fff_ffff_ffff_ffff) | (r!(rhs) & 0x8000_0000_0000_0000);
                    }

                    // ---------------------------------------------------------- conversions
                    Instr::I32WrapI64(u) => un!(u, |x| x as u32 as u64),
                    Instr::I32TruncF32S(u) => {
                        trunc!(u, num::i32_trunc_f32_s, f32_of, |v| v as u32 as u64)
                    }
                    Instr::I32TruncF32U(u) => trunc!(u, num::i32_trunc_f32_u, f32_of, |v| v as u64),
                    Instr::I32TruncF64S(u) => {
                        trunc!(u, num::i32_trunc_f64_s, f64_of, |v| v as u32 as u64)
                    }
                    Instr::I32TruncF64U(u) => trunc!(u, num::i32_trunc_f64_u, f64_of, |v| v as u64),
                    Instr::I64ExtendI32S(u) => un!(u, |x| x as u32 as i32 as i64 as u64),
                    Instr::I64TruncF32S(u) => trunc!(u, num::i64_trunc_f32_s, f32_of, |v| v as u64),
                    Instr::I64TruncF32U(u) => trunc!(u, num::i64_trunc_f32_u, f32_of, |v| v),
                    Instr::I64TruncF64S(u) => trunc!(u, num::i64_trunc_f64_s, f64_of, |v| v as u64),
                    Instr::I64TruncF64U(u) => trunc!(u, num::i64_trunc_f64_u, f64_of, |v| v),
                    Instr::F32ConvertI32S(u) => un!(u, |x| of_f32(x as u32 as i32 as f32)),
                    Instr::F32ConvertI32U(u) => un!(u, |x| of_f32(x as u32 as f32)),
                    Instr::F32ConvertI64S(u) => un!(u, |x| of_f32(x as i64 as f32)),
                    Instr::F32ConvertI64U(u) => un!(u, |x| of_f32(x as f32)),
                    Instr::F32DemoteF64(u) => un!(u, |x| of_f32(num::f32_demote_f64(f64_of(x)))),
                    Instr::F64ConvertI32S(u) => un!(u, |x| of_f64(x as u32 as i32 as f64)),
                    Instr::F64ConvertI32U(u) => un!(u, |x| of_f64(x as u32 as f64)),
                    Instr::F64ConvertI64S(u) => un!(u, |x| of_f64(x as i64 as f64)),
                    Instr::F64ConvertI64U(u) => un!(u, |x| of_f64(x as f64)),
                    Instr::F64PromoteF32(u) => un!(u, |x| of_f64(num::f64_promote_f32(f32_of(x)))),
                    Instr::I32Extend8S(u) => un!(u, |x| x as u8 as i8 as i32 as u32 as u64),
                    Instr::I32Extend16S(u) => un!(u, |x| x as u16 as i16 as i32 as u32 as u64),
                    Instr::I64Extend8S(u) => un!(u, |x| x as u8 as i8 as i64 as u64),
                    Instr::I64Extend16S(u) => un!(u, |x| x as u16 as i16 as i64 as u64),
                    Instr::I64Extend32S(u) => un!(u, |x| x as u32 as i32 as i64 as u64),
                    Instr::I32TruncSatF32S(u) => un!(u, |x| f32_of(x) as i32 as u32 as u64),
                    Instr::I32TruncSatF32U(u) => un!(u, |x| f32_of(x) as u32 as u64),
                    Instr::I32TruncSatF64S(u) => un!(u, |x| f64_of(x) as i32 as u32 as u64),
                    Instr::I32TruncSatF64U(u) => un!(u, |x| f64_of(x) as u32 as u64),
                    Instr::I64TruncSatF32S(u) => {
                        un!(u, |x| num::i64_trunc_sat_f32_s(f32_of(x)) as u64)
                    }
                    Instr::I64TruncSatF32U(u) => un!(u, |x| num::i64_trunc_sat_f32_u(f32_of(x))),
                    Instr::I64TruncSatF64S(u) => {
                        un!(u, |x| num::i64_trunc_sat_f64_s(f64_of(x)) as u64)
                    }
                    Instr::I64TruncSatF64U(u) => un!(u, |x| num::i64_trunc_sat_f64_u(f64_of(x))),

                    // ---------------------------------------------------------- memory
                    Instr::I32Load(l) => load!(l, 4, |b| u32::from_le_bytes(b) as u64),
                    Instr::I64Load(l) => load!(l, 8, |b| u64::from_le_bytes(b)),
                    Instr::I32Load8S(l) => load!(l, 1, |b| b[0] as i8 as i32 as u32 as u64),
                    Instr::I32Load8U(l) => load!(l, 1, |b| b[0] as u64),
                    Instr::I32Load16S(l) => {
                        load!(l, 2, |b| i16::from_le_bytes(b) as i32 as u32 as u64)
                    }
                    Instr::I32Load16U(l) => load!(l, 2, |b| u16::from_le_bytes(b) as u64),
                    Instr::I64Load8S(l) => load!(l, 1, |b| b[0] as i8 as i64 as u64),
                    Instr::I64Load16S(l) => load!(l, 2, |b| i16::from_le_bytes(b) as i64 as u64),
                    Instr::I64Load32S(l) => load!(l, 4, |b| i32::from_le_bytes(b) as i64 as u64),
                    Instr::I32LoadIdx(l) => load_idx!(l, 4, |b| u32::from_le_bytes(b) as u64),
                    Instr::I64LoadIdx(l) => load_idx!(l, 8, |b| u64::from_le_bytes(b)),
                    Instr::I32Load8SIdx(l) => {
                        load_idx!(l, 1, |b| b[0] as i8 as i32 as u32 as u64)
                    }
                    Instr::I32Load8UIdx(l) => load_idx!(l, 1, |b| b[0] as u64),
                    Instr::I32Load16SIdx(l) => {
                        load_idx!(l, 2, |b| i16::from_le_bytes(b) as i32 as u32 as u64)
                    }
                    Instr::I32Load16UIdx(l) => load_idx!(l, 2, |b| u16::from_le_bytes(b) as u64),
                    Instr::I32LoadDisp(l) => load_disp!(l, 4, |b| u32::from_le_bytes(b) as u64),
                    Instr::I64LoadDisp(l) => load_disp!(l, 8, |b| u64::from_le_bytes(b)),
                    Instr::I32Load8SDisp(l) => {
                        load_disp!(l, 1, |b| b[0] as i8 as i32 as u32 as u64)
                    }
                    Instr::I32Load8UDisp(l) => load_disp!(l, 1, |b| b[0] as u64),
                    Instr::I32Load16SDisp(l) => {
                        load_disp!(l, 2, |b| i16::from_le_bytes(b) as i32 as u32 as u64)
                    }
                    Instr::I32Load16UDisp(l) => load_disp!(l, 2, |b| u16::from_le_bytes(b) as u64),
                    Instr::I32LoadAbs(LoadAbs { dst, addr }) => {
                        load_at!(addr as u64, 0, dst, 4, |b| u32::from_le_bytes(b) as u64)
                    }
                    Instr::I64LoadAbs(LoadAbs { dst, addr }) => {
                        load_at!(addr as u64, 0, dst, 8, |b| u64::from_le_bytes(b))
                    }
                    Instr::I32Load8UAbs(LoadAbs { dst, addr }) => {
                        load_at!(addr as u64, 0, dst, 1, |b| b[0] as u64)
                    }
                    Instr::I32StoreAbs(StoreAbs { src, addr }) => {
                        store_at!(addr as u64, 0, (r!(src) as u32).to_le_bytes())
                    }
                    Instr::I64StoreAbs(StoreAbs { src, addr }) => {
                        store_at!(addr as u64, 0, r!(src).to_le_bytes())
                    }
                    Instr::I64AndNot(b) => bin64!(b, |x, y| !x & y),
                    Instr::I32AddShl(b) => {
                        bin_shift!(b, |x, y, s| (x as u32).wrapping_add((y as u32) << s) as u64)
                    }
                    Instr::I32XorRotl(b) => {
                        bin_shift!(b, |x, y, s| (x as u32 ^ y as u32).rotate_left(s) as u64)
                    }
                    Instr::I32Store8Disp(s) => store_disp!(s, |v| [v as u8]),
                    Instr::I32Store16Disp(s) => store_disp!(s, |v| (v as u16).to_le_bytes()),
                    Instr::I32StoreDisp(s) => store_disp!(s, |v| (v as u32).to_le_bytes()),
                    Instr::I64StoreDisp(s) => store_disp!(s, |v| v.to_le_bytes()),
                    Instr::I64XorRotl(b) => bin_shift!(b, |x, y, s| (x ^ y).rotate_left(s)),
                    Instr::I32RotlXor(b) => {
                        bin_shift!(b, |x, y, s| ((x as u32).rotate_left(s) ^ y as u32) as u64)
                    }
                    Instr::I64RotlXor(b) => bin_shift!(b, |x, y, s| x.rotate_left(s) ^ y),
                    Instr::I32MulAdd(MulAdd { dst, lhs, mul, add }) => {
                        r!(dst) = (r!(lhs) as u32)
                            .wrapping_mul(mul as u32)
                            .wrapping_add(add as u32) as u64;
                    }
                    Instr::I32Store8(s) => store!(s, |v| [v as u8]),
                    Instr::I32Store16(s) => store!(s, |v| (v as u16).to_le_bytes()),
                    Instr::I32Store(s) => store!(s, |v| (v as u32).to_le_bytes()),
                    Instr::I64Store(s) => store!(s, |v| v.to_le_bytes()),
                    Instr::I32Store8Imm(s) => store_imm!(s, |v| [v as u8]),
                    Instr::I32Store16Imm(s) => store_imm!(s, |v| (v as u16).to_le_bytes()),
                    Instr::I32StoreImm(s) => store_imm!(s, |v| (v as u32).to_le_bytes()),
                    Instr::I64StoreImm(s) => store_imm!(s, |v| v.to_le_bytes()),
                    Instr::MemorySize { dst, .. } => {
                        r!(dst) = (mem.data.len() / PAGE_SIZE) as u64;
                    }
                    Instr::MemoryGrow { dst, delta, .. } => {
                        r!(dst) =
                            memory_grow(mem, r!(delta) as u32, memory_bytes, limits.total_memory)
                                as u64;
                    }
                    Instr::MemoryFill { args, .. } => {
                        let (d, v, n) = (r!(args), r!(args + 1), r!(args + 2));
                        match range(d as u32 as u64, n as u32 as u64, mem.data.len()) {
                            Some(rg) => {
                                bulk_fuel!(rg.len(), costs::BULK_BYTES_PER_FUEL);
                                if !fill_chunked(&mut mem.data[rg], v as u8, interrupt) {
                                    trap!(TrapKind::Interrupted);
                                }
                            }
                            None => trap!(TrapKind::MemoryOutOfBounds),
                        }
                    }
                    Instr::MemoryCopy { args, .. } => {
                        let (d, s, n) = (
                            r!(args) as u32 as u64,
                            r!(args + 1) as u32 as u64,
                            r!(args + 2) as u32 as u64,
                        );
                        let len = mem.data.len();
                        match (range(d, n, len), range(s, n, len)) {
                            (Some(dr), Some(sr)) => {
                                bulk_fuel!(n, costs::BULK_BYTES_PER_FUEL);
                                if !copy_within_chunked(&mut mem.data, sr, dr.start, interrupt) {
                                    trap!(TrapKind::Interrupted);
                                }
                            }
                            _ => trap!(TrapKind::MemoryOutOfBounds),
                        }
                    }
                    Instr::MemoryInit { args, data, .. } => {
                        let (d, s, n) = (
                            r!(args) as u32 as u64,
                            r!(args + 1) as u32 as u64,
                            r!(args + 2) as u32 as u64,
                        );
                        let seg = &inst.datas[data as usize];
                        match (range(d, n, mem.data.len()), range(s, n, seg.len())) {
                            (Some(dr), Some(sr)) => {
                                bulk_fuel!(n, costs::BULK_BYTES_PER_FUEL);
                                mem.data[dr].copy_from_slice(&seg[sr]);
                            }
                            _ => trap!(TrapKind::MemoryOutOfBounds),
                        }
                    }
                    Instr::DataDrop { data } => {
                        inst.datas[data as usize] = Arc::from(&[][..]);
                    }

                    // ---------------------------------------------------------- tables
                    Instr::TableGet { dst, index, table } => {
                        let t = &tables[inst.tables[table as usize] as usize];
                        match t.elems.get(r!(index) as u32 as usize) {
                            Some(&v) => r!(dst) = v,
                            None => trap!(TrapKind::TableOutOfBounds),
                        }
                    }
                    Instr::TableSet {
                        index,
                        value,
                        table,
                    } => {
                        let v = r!(value);
                        let t = &mut tables[inst.tables[table as usize] as usize];
                        match t.elems.get_mut(r!(index) as u32 as usize) {
                            Some(slot) => *slot = v,
                            None => trap!(TrapKind::TableOutOfBounds),
                        }
                    }
                    Instr::TableSize { dst, table } => {
                        r!(dst) = tables[inst.tables[table as usize] as usize].elems.len() as u64;
                    }
                    Instr::TableGrow { args, table } => {
                        let (init, delta) = (r!(args), r!(args + 1) as u32);
                        let t = &mut tables[inst.tables[table as usize] as usize];
                        r!(args) =
                            t.grow(delta, init, table_elements, limits.total_table_elements) as u64;
                    }
                    Instr::TableFill { args, table } => {
                        let (i, v, n) = (r!(args) as u32 as u64, r!(args + 1), r!(args + 2));
                        let t = &mut tables[inst.tables[table as usize] as usize];
                        match range(i, n as u32 as u64, t.elems.len()) {
                            Some(rg) => {
                                bulk_fuel!(rg.len(), costs::BULK_ELEMENTS_PER_FUEL);
                                t.elems[rg].fill(v)
                            }
                            None => trap!(TrapKind::TableOutOfBounds),
                        }
                    }
                    Instr::TableCopy {
                        args,
                        dst_table,
                        src_table,
                    } => {
                        let (d, s, n) = (
                            r!(args) as u32 as u64,
                            r!(args + 1) as u32 as u64,
                            r!(args + 2) as u32 as u64,
                        );
                        let dt = inst.tables[dst_table as usize] as usize;
                        let st = inst.tables[src_table as usize] as usize;
                        let (dlen, slen) = (tables[dt].elems.len(), tables[st].elems.len());
                        match (range(d, n, dlen), range(s, n, slen)) {
                            (Some(dr), Some(sr)) => {
                                bulk_fuel!(n, costs::BULK_ELEMENTS_PER_FUEL);
                                if dt == st {
                                    tables[dt].elems.copy_within(sr, dr.start);
                                } else if dt < st {
                                    let (a, b) = tables.split_at_mut(st);
                                    a[dt].elems[dr].copy_from_slice(&b[0].elems[sr]);
                                } else {
                                    let (a, b) = tables.split_at_mut(dt);
                                    b[0].elems[dr].copy_from_slice(&a[st].elems[sr]);
                                }
                            }
                            _ => trap!(TrapKind::TableOutOfBounds),
                        }
                    }
                    Instr::TableInit { args, elem, table } => {
                        let (d, s, n) = (
                            r!(args) as u32 as u64,
                            r!(args + 1) as u32 as u64,
                            r!(args + 2) as u32 as u64,
                        );
                        let t = &mut tables[inst.tables[table as usize] as usize];
                        let seg = &inst.elems[elem as usize];
                        match (range(d, n, t.elems.len()), range(s, n, seg.len())) {
                            (Some(dr), Some(sr)) => {
                                bulk_fuel!(n, costs::BULK_ELEMENTS_PER_FUEL);
                                t.elems[dr].copy_from_slice(&seg[sr])
                            }
                            _ => trap!(TrapKind::TableOutOfBounds),
                        }
                    }
                    Instr::ElemDrop { elem } => {
                        inst.elems[elem as usize] = Box::new([]);
                    }
                    Instr::RefFunc { dst, func } => {
                        r!(dst) = inst.funcs[func as usize] as u64 + 1;
                    }
                    Instr::RefIsNull { dst, src } => {
                        r!(dst) = (r!(src) == 0) as u64;
                    }

                    // ---------------------------------------------------------- misc
                    Instr::Copy(Un { dst, src }) => r!(dst) = r!(src),
                    Instr::Copy2 {
                        dst,
                        src,
                        dst2,
                        src2,
                    } => {
                        r!(dst) = r!(src);
                        r!(dst2) = r!(src2);
                    }
                    Instr::Copy128 { dst, src } => {
                        let (d, s) = (dst as usize, src as usize);
                        regs[cell(d as u64)] = regs[cell(s as u64)];
                        regs[cell(d as u64 + 1)] = regs[cell(s as u64 + 1)];
                    }
                    Instr::Const32 { dst, value } => r!(dst) = value as u64,
                    Instr::Const64 { dst, value } => r!(dst) = value,
                    Instr::Const128 { dst, index } => {
                        let v = module.consts[index as usize];
                        set_u128(regs, dst, v);
                    }
                    Instr::I32MulAcc(MulAcc { dst, acc, lhs, rhs }) => {
                        let product = (r!(lhs) as u32).wrapping_mul(r!(rhs) as u32);
                        r!(dst) = (r!(acc) as u32).wrapping_add(product) as u64;
                    }
                    Instr::I64MulAcc(MulAcc { dst, acc, lhs, rhs }) => {
                        r!(dst) = r!(acc).wrapping_add(r!(lhs).wrapping_mul(r!(rhs)));
                    }
                    Instr::Select3(Select3 { dst, a, b, cond }) => {
                        r!(dst) = if r!(cond) as u32 != 0 { r!(a) } else { r!(b) };
                    }
                    Instr::Select128 { dst, other, cond } => {
                        if r!(cond) as u32 == 0 {
                            let v = get_u128(regs, other);
                            set_u128(regs, dst, v);
                        }
                    }
                    Instr::GlobalGet { dst, global } => {
                        r!(dst) = globals[inst.globals[global as usize] as usize].value as u64;
                    }
                    Instr::GlobalSet { src, global } => {
                        globals[inst.globals[global as usize] as usize].value = r!(src) as u128;
                    }
                    Instr::GlobalGet128 { dst, global } => {
                        let v = globals[inst.globals[global as usize] as usize].value;
                        set_u128(regs, dst, v);
                    }
                    Instr::GlobalSet128 { src, global } => {
                        globals[inst.globals[global as usize] as usize].value = get_u128(regs, src);
                    }

                    // ---------------------------------------------------------- limits
                    Instr::ConsumeFuel { amount } => {
                        let amount = amount as u64;
                        if fuel_left < amount {
                            if let Some(f) = frames.last_mut() {
                                f.pc = pc as u32;
                            }
                            break Exit::OutOfFuel;
                        }
                        fuel_left -= amount;
                        if interrupt.take() {
                            trap!(TrapKind::Interrupted);
                        }
                    }

                    // ---------------------------------------------------------- control
                    Instr::Unreachable => trap!(TrapKind::Unreachable),
                    Instr::Br { target } => {
                        // Forward: no interruption poll, no flag to strip.
                        pc = target as usize;
                        continue;
                    }
                    Instr::BrBack { target } => jump!(target),
                    Instr::BrIfNez { cond, target } => brcmp!(r!(cond) as u32 != 0, target),
                    Instr::BrIfEqz { cond, target } => brcmp!(r!(cond) as u32 == 0, target),
                    Instr::BrIfNez64 { cond, target } => brcmp!(r!(cond) != 0, target),
                    Instr::BrIfEqz64 { cond, target } => brcmp!(r!(cond) == 0, target),
                    Instr::BrI32Eq { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as u32) == (r!(rhs) as u32), target)
                    }
                    Instr::BrI32EqImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as u32) == (imm as u32), target)
                    }
                    Instr::BrI64Eq { lhs, rhs, target } => {
                        brcmp!((r!(lhs)) == (r!(rhs)), target)
                    }
                    Instr::BrI64EqImm { lhs, imm, target } => {
                        brcmp!((r!(lhs)) == (imm as i64 as u64), target)
                    }
                    Instr::BrI32Ne { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as u32) != (r!(rhs) as u32), target)
                    }
                    Instr::BrI32NeImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as u32) != (imm as u32), target)
                    }
                    Instr::BrI64Ne { lhs, rhs, target } => {
                        brcmp!((r!(lhs)) != (r!(rhs)), target)
                    }
                    Instr::BrI64NeImm { lhs, imm, target } => {
                        brcmp!((r!(lhs)) != (imm as i64 as u64), target)
                    }
                    Instr::BrI32LtS { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as u32 as i32) < (r!(rhs) as u32 as i32), target)
                    }
                    Instr::BrI32LtSImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as u32 as i32) < (imm), target)
                    }
                    Instr::BrI64LtS { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as i64) < (r!(rhs) as i64), target)
                    }
                    Instr::BrI64LtSImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as i64) < (imm as i64), target)
                    }
                    Instr::BrI32LtU { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as u32) < (r!(rhs) as u32), target)
                    }
                    Instr::BrI32LtUImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as u32) < (imm as u32), target)
                    }
                    Instr::BrI64LtU { lhs, rhs, target } => {
                        brcmp!((r!(lhs)) < (r!(rhs)), target)
                    }
                    Instr::BrI64LtUImm { lhs, imm, target } => {
                        brcmp!((r!(lhs)) < (imm as i64 as u64), target)
                    }
                    Instr::BrI32GtS { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as u32 as i32) > (r!(rhs) as u32 as i32), target)
                    }
                    Instr::BrI32GtSImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as u32 as i32) > (imm), target)
                    }
                    Instr::BrI64GtS { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as i64) > (r!(rhs) as i64), target)
                    }
                    Instr::BrI64GtSImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as i64) > (imm as i64), target)
                    }
                    Instr::BrI32GtU { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as u32) > (r!(rhs) as u32), target)
                    }
                    Instr::BrI32GtUImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as u32) > (imm as u32), target)
                    }
                    Instr::BrI64GtU { lhs, rhs, target } => {
                        brcmp!((r!(lhs)) > (r!(rhs)), target)
                    }
                    Instr::BrI64GtUImm { lhs, imm, target } => {
                        brcmp!((r!(lhs)) > (imm as i64 as u64), target)
                    }
                    Instr::BrI32LeS { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as u32 as i32) <= (r!(rhs) as u32 as i32), target)
                    }
                    Instr::BrI32LeSImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as u32 as i32) <= (imm), target)
                    }
                    Instr::BrI64LeS { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as i64) <= (r!(rhs) as i64), target)
                    }
                    Instr::BrI64LeSImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as i64) <= (imm as i64), target)
                    }
                    Instr::BrI32LeU { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as u32) <= (r!(rhs) as u32), target)
                    }
                    Instr::BrI32LeUImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as u32) <= (imm as u32), target)
                    }
                    Instr::BrI64LeU { lhs, rhs, target } => {
                        brcmp!((r!(lhs)) <= (r!(rhs)), target)
                    }
                    Instr::BrI64LeUImm { lhs, imm, target } => {
                        brcmp!((r!(lhs)) <= (imm as i64 as u64), target)
                    }
                    Instr::BrI32GeS { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as u32 as i32) >= (r!(rhs) as u32 as i32), target)
                    }
                    Instr::BrI32GeSImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as u32 as i32) >= (imm), target)
                    }
                    Instr::BrI64GeS { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as i64) >= (r!(rhs) as i64), target)
                    }
                    Instr::BrI64GeSImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as i64) >= (imm as i64), target)
                    }
                    Instr::BrI32GeU { lhs, rhs, target } => {
                        brcmp!((r!(lhs) as u32) >= (r!(rhs) as u32), target)
                    }
                    Instr::BrI32GeUImm { lhs, imm, target } => {
                        brcmp!((r!(lhs) as u32) >= (imm as u32), target)
                    }
                    Instr::BrI64GeU { lhs, rhs, target } => {
                        brcmp!((r!(lhs)) >= (r!(rhs)), target)
                    }
                    Instr::BrI64GeUImm { lhs, imm, target } => {
                        brcmp!((r!(lhs)) >= (imm as i64 as u64), target)
                    }
                    Instr::BrInc(IncBr {
                        test,
                        slot,
                        add,
                        other,
                        target,
                    }) => {
                        let v = (r!(slot) as u32).wrapping_add(add as i32 as u32);
                        r!(slot) = v as u64;
                        let taken = match test {
                            IncTest::Nez => v != 0,
                            IncTest::Ne => v != r!(other as u16) as u32,
                            IncTest::LtU => v < r!(other as u16) as u32,
                            IncTest::LtS => (v as i32) < (r!(other as u16) as u32 as i32),
                            IncTest::NeImm => v != other as u32,
                            IncTest::LtUImm => v < other as u32,
                            IncTest::LtSImm => (v as i32) < other,
                        };
                        brcmp!(taken, target)
                    }
                    Instr::BrTable { index, len } => {
                        let i = (r!(index) as u32).min(len);
                        pc += 1 + i as usize;
                        // An arm that is a plain branch is taken here, without
                        // dispatching it.
                        match code[pc] {
                            Instr::Br { target } => {
                                pc = target as usize;
                                continue;
                            }
                            Instr::BrBack { target } => jump!(target),
                            _ => {}
                        }
                        continue;
                    }
                    Instr::Return => ret!(),
                    Instr::ReturnSlot { src } => {
                        regs[0] = r!(src);
                        ret!()
                    }
                    Instr::CallInternal { func, base } => enter!(func, base),
                    Instr::CallImported { func, base } => {
                        let f = inst.funcs[func as usize];
                        call_store_func!(f, base)
                    }
                    Instr::CallIndirect {
                        ty,
                        index,
                        base,
                        table,
                    } => {
                        let f = indirect_callee!(ty, index, table);
                        call_store_func!(f, base)
                    }
                    Instr::ReturnCallInternal { func, base } => {
                        let params = compiled!(cur_instance, module, func).param_cells;
                        tail_enter!(func, base, params)
                    }
                    Instr::ReturnCallImported { func, base } => {
                        let f = inst.funcs[func as usize];
                        tail_call_store_func!(f, base)
                    }
                    Instr::ReturnCallIndirect {
                        ty,
                        index,
                        base,
                        table,
                    } => {
                        let f = indirect_callee!(ty, index, table);
                        tail_call_store_func!(f, base)
                    }

                    // ---------------------------------------------------------- simd
                    Instr::V128Unary { op, dst, src } => {
                        let v = simd::unary(op, get_u128(regs, src));
                        set_u128(regs, dst, v);
                    }
                    Instr::V128Binary { op, dst, lhs, rhs } => {
                        let v = simd::binary(op, get_u128(regs, lhs), get_u128(regs, rhs));
                        set_u128(regs, dst, v);
                    }
                    Instr::V128Ternary { op, dst, b, c } => {
                        let v = simd::ternary(
                            op,
                            get_u128(regs, dst),
                            get_u128(regs, b),
                            get_u128(regs, c),
                        );
                        set_u128(regs, dst, v);
                    }
                    Instr::V128Shift {
                        op,
                        dst,
                        lhs,
                        amount,
                    } => {
                        let v = simd::shift(op, get_u128(regs, lhs), r!(amount));
                        set_u128(regs, dst, v);
                    }
                    Instr::V128Splat { op, dst, src } => {
                        let v = simd::splat(op, r!(src));
                        set_u128(regs, dst, v);
                    }
                    Instr::V128ExtractLane { op, lane, dst, src } => {
                        r!(dst) = simd::extract_lane(op, get_u128(regs, src), lane);
                    }
                    Instr::V128ReplaceLane {
                        op,
                        lane,
                        dst,
                        scalar,
                    } => {
                        let v = simd::replace_lane(op, get_u128(regs, dst), r!(scalar), lane);
                        set_u128(regs, dst, v);
                    }
                    Instr::V128Test { op, dst, src } => {
                        r!(dst) = simd::test(op, get_u128(regs, src));
                    }
                    Instr::V128Shuffle { dst, rhs, lanes } => {
                        let mask = module.consts[lanes as usize].to_le_bytes();
                        let v = simd::shuffle(&mask, get_u128(regs, dst), get_u128(regs, rhs));
                        set_u128(regs, dst, v);
                    }
                    Instr::V128Load {
                        op,
                        dst,
                        addr,
                        offset,
                    } => match simd::load(op, &mem.data, effective(r!(addr), offset)) {
                        Some(v) => set_u128(regs, dst, v),
                        None => trap!(TrapKind::MemoryOutOfBounds),
                    },
                    Instr::V128Store { addr, src, offset } => {
                        let v = get_u128(regs, src);
                        if store_bytes(&mut mem.data, effective(r!(addr), offset), v.to_le_bytes())
                            .is_none()
                        {
                            trap!(TrapKind::MemoryOutOfBounds);
                        }
                    }
                    Instr::V128LoadLane {
                        op,
                        lane,
                        dst,
                        addr,
                        offset,
                    } => {
                        let ea = effective(r!(addr), offset);
                        match simd::load_lane(op, &mem.data, ea, get_u128(regs, dst), lane) {
                            Some(v) => set_u128(regs, dst, v),
                            None => trap!(TrapKind::MemoryOutOfBounds),
                        }
                    }
                    Instr::V128StoreLane {
                        op,
                        lane,
                        src,
                        addr,
                        offset,
                    } => {
                        let ea = effective(r!(addr), offset);
                        let v = get_u128(regs, src);
                        if simd::store_lane(op, &mut mem.data, ea, v, lane).is_none() {
                            trap!(TrapKind::MemoryOutOfBounds);
                        }
                    }
                }
                pc += 1;
            };
            // Back to the store, where host functions and the next entry read it.
            *fuel_ref = fuel_left;
            exit
        };

        match exit {
            Exit::Done => break Ok(()),
            Exit::Resume => continue,
            Exit::OutOfFuel => {
                // The handler may refill; the instruction that ran dry then runs again.
                let more = inner.out_of_fuel.as_mut().and_then(|f| f());
                match more {
                    Some(n) if n > 0 => inner.fuel = inner.fuel.saturating_add(n),
                    _ => {
                        break Err(Trap {
                            kind: TrapKind::OutOfFuel,
                            backtrace: backtrace(inner, frames),
                        }
                        .into())
                    }
                }
            }
            Exit::Trap(kind) => {
                break Err(Trap {
                    kind,
                    backtrace: backtrace(inner, frames),
                }
                .into())
            }
            Exit::HostError(e) => break Err(with_backtrace(*e, inner, frames)),
            Exit::Translate { instance, func } => {
                let translated = inner.instances[instance as usize]
                    .module
                    .compiled(func)
                    .map(|_| ());
                if let Err(e) = translated {
                    break Err(with_backtrace(*e, inner, frames));
                }
            }
            Exit::Internal(what) => {
                let e = crate::module::internal_error(what);
                break Err(with_backtrace(e, inner, frames));
            }
            Exit::TailHost { host: h, cells } => {
                let frame = *frames.last().expect("a frame is running");
                let start = frame.bp as usize;
                let end = start + cells as usize;
                if stack.len() < end {
                    stack.resize(end, 0);
                }
                inner.call_depth = depth_base + frames.len();
                inner.host_call_pc = frame.pc;
                let result = host.call_host(inner, h, Some(frame.instance), &mut stack[start..end]);
                inner.host_call_pc = NOT_IN_HOST;
                inner.call_depth = depth_base;
                if let Err(e) = result {
                    break Err(with_backtrace(*e, inner, frames));
                }
                frames.pop();
                if frames.is_empty() {
                    break Ok(());
                }
            }
        }
    };
    // Back into the cache for the next entry.
    modules[slot].1 = Some(module);
    result
}

/// Adds the wasm frames to a trap raised by a host function (or a nested call) that has none.
fn with_backtrace(e: Error, inner: &StoreInner, frames: &[Frame]) -> Error {
    match e {
        Error::Trap(mut t) => {
            t.backtrace.extend(backtrace(inner, frames));
            Error::Trap(t)
        }
        other => other,
    }
}

#[cfg(test)]
mod stack_reuse_tests {
    use crate::{Engine, Linker, Module, Store};

    #[test]
    fn a_dropped_stores_stack_returns_to_the_engine_all_zero() {
        let engine = Engine::default();
        // Writes -1 into 300 locals, 40 frames deep.
        let locals = "(local ".to_string() + &"i64 ".repeat(300) + ")";
        let sets: String = (0..300)
            .map(|i| format!("(local.set {} (i64.const -1))", i + 1))
            .collect();
        let wat = format!(
            "(module (func $f (export \"f\") (param i32) {locals} {sets}
               (if (local.get 0) (then (call $f (i32.sub (local.get 0) (i32.const 1)))))))"
        );
        let module = Module::new(&engine, &wat).unwrap();
        {
            let mut store = Store::new(&engine, ());
            let inst = Linker::new(&engine)
                .instantiate(&mut store, &module)
                .unwrap();
            let f = inst.get_typed_func::<i32, ()>(&store, "f").unwrap();
            f.call(&mut store, 40).unwrap();
        }
        let stack = engine
            .take_stack()
            .expect("the dropped store's stack is pooled");
        assert!(stack.len() >= super::FRAME_WINDOW);
        assert!(
            stack.iter().all(|&c| c == 0),
            "a pooled stack must hold no old values"
        );
        // A new store reuses it and computes correctly.
        engine.give_stack(stack);
        let mut store = Store::new(&engine, ());
        let inst = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        let f = inst.get_typed_func::<i32, ()>(&store, "f").unwrap();
        f.call(&mut store, 3).unwrap();
    }
}
