//! The interpreter: runs translated code (`crate::ir`), entering the threaded code
//! (`crate::threaded`) for everything it owns and running the rest itself in one loop:
//! calls across instances, tail calls, tables, `memory.init`, `memory.grow` (and calls the
//! threaded code leaves to it: a callee not translated yet, a limit reached, a trap).
//! Frames live on an explicit stack, so deep guest recursion ends in a `call stack
//! exhausted` trap at the configured depth; the host stack grows with wasm-to-wasm calls
//! only boundedly (the threaded call handlers nest at most `NATIVE_CALL_DEPTH` calls per
//! run). Host functions calling back into wasm do recurse (one host frame per re-entry),
//! and the depth limit counts across re-entries.

use crate::costs;
use crate::error::{Error, FrameInfo, Trap, TrapKind};
use crate::interrupt::InterruptState;
use crate::ir::*;
use crate::module::ModuleInner;
use crate::store::{FuncEntity, HostResult, InstanceEntity, MemoryEntity, StoreInner, PAGE_SIZE};
use crate::threaded::{self, Op};
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
    pub(crate) instance: u32,
    /// Index among the module's defined functions.
    pub(crate) func: u32,
    /// For the running frame: where it trapped; for callers: the return address.
    pub(crate) pc: u32,
    pub(crate) bp: u32,
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
) -> Result<(), Box<Error>> {
    let entity = inner.funcs[func as usize];
    match entity {
        FuncEntity::Host { host: h, .. } => {
            let depth = inner.call_depth;
            match catch_unwind(AssertUnwindSafe(|| host.call_host(inner, h, None, cells))) {
                Ok(result) => result,
                Err(payload) => {
                    inner.call_depth = depth;
                    Err(Box::new(panic_trap(payload).into()))
                }
            }
        }
        FuncEntity::Wasm {
            instance, index, ..
        } => {
            let config = inner.engine.config();
            let max_cells = config.max_stack_cells;
            if inner.call_depth + 1 > config.max_call_depth {
                return Err(Box::new(Trap::new(TrapKind::CallStackExhausted).into()));
            }
            let limits = call_limits(inner);
            // Pooled stacks keep their length: only the parameters and declared locals of
            // the entry frame need defined values (operand cells are written before read).
            let mut ctx = inner.exec_pool.pop().unwrap_or_default();
            // The module from the context's cache, not the instance: `run` borrows it
            // without reference counting while it holds the whole store.
            let slot = module_slot(inner, &mut ctx.modules, instance);
            let compiled = ctx.modules[slot]
                .1
                .as_deref()
                .ok_or_else(|| Box::new(crate::module::internal_error("entry module missing")))
                .and_then(|module| module.compiled(index))
                .and_then(|compiled| {
                    if (compiled.frame_cells as usize).max(cells.len()) > max_cells {
                        return Err(Box::new(Trap::new(TrapKind::CallStackExhausted).into()));
                    }
                    Ok(compiled)
                });
            let compiled = match compiled {
                Ok(compiled) => compiled,
                Err(e) => {
                    // The pooled context goes back to the pool for the next entry.
                    inner.exec_pool.push(ctx);
                    return Err(e);
                }
            };
            let params = compiled.param_cells as usize;
            let local_cells = compiled.local_cells as usize;
            let need = (FRAME_WINDOW + STACK_SLACK).max(cells.len());
            if ctx.stack.is_empty() {
                // A dropped store's stack, or one zeroed by the allocator (fresh pages
                // for a stack this size), never a half-megabyte memset.
                ctx.stack = inner.engine.take_stack().unwrap_or_else(|| vec![0; need]);
            }
            if ctx.stack.len() < need {
                ctx.stack.resize(need, 0);
            }
            copy_cells(&mut ctx.stack[..params], &cells[..params]);
            zero_locals(&mut ctx.stack, params, local_cells);
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
                // Most entries run to their end in the threaded code (an exported
                // function and what it calls in its instance): that first, with the module
                // borrowed from the cache, before the set-up of `run`'s loop.
                let module = modules[slot].1.as_deref();
                match run_threaded_first(inner, host, stack, frames, module, limits) {
                    Some(done) => done,
                    None => run(inner, host, stack, frames, modules, limits),
                }
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
                    Err(with_backtrace(
                        Box::new(panic_trap(payload).into()),
                        inner,
                        frames,
                    ))
                }
            };
            inner.call_depth = outer_depth;
            inner.host_call_pc = outer_host_call;
            let n = cells.len().min(ctx.stack.len());
            if result.is_ok() {
                copy_cells(&mut cells[..n], &ctx.stack[..n]);
            }
            inner.exec_pool.push(ctx);
            result
        }
    }
}

/// A call of a host function by a wasm frame.
pub(crate) struct HostFrame {
    pub(crate) host: u32,
    /// The calling frame's instance, and the calling instruction.
    pub(crate) instance: u32,
    pub(crate) at: u32,
    /// Where the host function's cells start in the stack, and how many.
    pub(crate) start: usize,
    pub(crate) cells: u32,
    /// Wasm frames running, including outer invocations.
    pub(crate) depth: usize,
}

/// Calls a host function for a wasm frame: the one place that does it (the threaded
/// driver for `call`, `exec` for `call_indirect` and tail calls). The calling position is
/// recorded for the backtrace of a panic, and nested entries count their depth from the
/// frames running (`invoke` restores it when the run ends). The cells are in the caller's
/// frame window unless a huge signature reaches past the stack, which then grows. Inlined:
/// as a call it cost 19 more x86 instructions per host call.
#[inline(always)]
pub(crate) fn call_host_at(
    inner: &mut StoreInner,
    host: &mut dyn HostCaller,
    stack: &mut Vec<u64>,
    call: HostFrame,
) -> HostResult {
    inner.host_call_pc = call.at;
    inner.call_depth = call.depth;
    let end = call.start + call.cells as usize;
    if stack.len() < end {
        stack.resize(end, 0);
    }
    let cells = &mut stack[call.start..end];
    let result = host.call_host(inner, call.host, Some(call.instance), cells);
    inner.host_call_pc = NOT_IN_HOST;
    result
}

/// `dst.copy_from_slice(src)` without a `memcpy` call for the few cells of most
/// signatures (a call costs more than the copy on every host→wasm call).
#[inline(always)]
fn copy_cells(dst: &mut [u64], src: &[u64]) {
    match (dst, src) {
        ([], []) => {}
        ([d], [s]) => *d = *s,
        ([d0, d1], [s0, s1]) => (*d0, *d1) = (*s0, *s1),
        ([d0, d1, d2], [s0, s1, s2]) => (*d0, *d1, *d2) = (*s0, *s1, *s2),
        (dst, src) => dst.copy_from_slice(src),
    }
}

/// `StoreInner::host_call_pc` outside host functions (no instruction has this index:
/// functions have fewer than 2^31 instructions).
pub(crate) const NOT_IN_HOST: u32 = u32::MAX;

/// The trap a panicking host function becomes.
pub(crate) fn panic_trap(payload: Box<dyn std::any::Any + Send>) -> Trap {
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
        // The stack is at least FRAME_WINDOW cells longer than the deepest frame base it
        // served (more when it grew with slack): this bound is never below that base.
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
            func_name: module.names.get().funcs.get(&func_index).cloned(),
            module_name: module.names.get().module.clone(),
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
pub(crate) fn prepare_frame(stack: &mut Vec<u64>, bp: usize, callee: &crate::module::CompiledFunc) {
    if stack.len() < bp + FRAME_WINDOW {
        // With room to spare: the threaded code enters a frame only where the stack
        // already reaches (it cannot grow it), and leaves a deeper call to this loop.
        stack.resize(bp + FRAME_WINDOW + STACK_SLACK, 0);
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
        match stack.get_mut(start..end) {
            // A few locals (most frames): stores, not a `memset` call (~20 instructions
            // more per wasm call).
            Some([a]) => *a = 0,
            Some([a, b]) => (*a, *b) = (0, 0),
            Some([a, b, c]) => (*a, *b, *c) = (0, 0, 0),
            Some([a, b, c, d]) => (*a, *b, *c, *d) = (0, 0, 0, 0),
            Some(locals) => locals.fill(0),
            None => stack[start..end].fill(0),
        }
    }
}

#[inline(always)]
pub(crate) fn effective(addr: u64, offset: u32) -> u64 {
    (addr as u32 as u64) + offset as u64
}

#[inline(always)]
pub(crate) fn load_bytes<const N: usize>(mem: &[u8], ea: u64) -> Option<[u8; N]> {
    let start = usize::try_from(ea).ok()?;
    let end = start.checked_add(N)?;
    mem.get(start..end)?.try_into().ok()
}

#[inline(always)]
pub(crate) fn store_bytes<const N: usize>(mem: &mut [u8], ea: u64, bytes: [u8; N]) -> Option<()> {
    let start = usize::try_from(ea).ok()?;
    let end = start.checked_add(N)?;
    mem.get_mut(start..end)?.copy_from_slice(&bytes);
    Some(())
}

/// `start..start+len` if it lies within `size`.
#[inline(always)]
pub(crate) fn range(start: u64, len: u64, size: usize) -> Option<std::ops::Range<usize>> {
    let end = start.checked_add(len)?;
    if end > size as u64 {
        return None;
    }
    Some(start as usize..end as usize)
}

/// `data.fill(v)` in chunks, stopping early (false) when an interruption is pending.
pub(crate) fn fill_chunked(data: &mut [u8], v: u8, stop: &InterruptState) -> bool {
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
pub(crate) fn copy_within_chunked(
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

/// How far past a new frame's window the stack grows (8 KiB): a recursion that goes
/// deeper than ever before leaves a call to `exec`'s loop once per this many cells, not
/// once per frame.
const STACK_SLACK: usize = 1024;

/// The running frame's cells.
pub(crate) type Regs = [u64; FRAME_WINDOW];

/// The window of the frame at `bp`.
#[inline(always)]
pub(crate) fn window(stack: &mut [u64], bp: usize) -> &mut Regs {
    (&mut stack[bp..bp + FRAME_WINDOW])
        .try_into()
        .expect("a window is FRAME_WINDOW cells")
}

/// Slot `s` of a window; translation keeps every slot below `FRAME_WINDOW`.
#[inline(always)]
pub(crate) fn cell(s: u64) -> usize {
    s as u16 as usize
}

pub(crate) fn f32_of(c: u64) -> f32 {
    f32::from_bits(c as u32)
}
pub(crate) fn f64_of(c: u64) -> f64 {
    f64::from_bits(c)
}
pub(crate) fn of_f32(f: f32) -> u64 {
    f.to_bits() as u64
}
pub(crate) fn of_f64(f: f64) -> u64 {
    f.to_bits()
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
#[inline(always)]
fn module_slot(inner: &StoreInner, modules: &mut ModuleCache, instance: u32) -> usize {
    // Most runs enter the instance they entered last time (first in the cache).
    match modules.first() {
        Some((i, _)) if *i == instance => 0,
        _ => module_slot_search(inner, modules, instance),
    }
}

#[inline(never)]
fn module_slot_search(inner: &StoreInner, modules: &mut ModuleCache, instance: u32) -> usize {
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

/// The call bounds of an entry into wasm at the store's current depth.
#[inline(always)]
fn call_limits(inner: &StoreInner) -> threaded::CallLimits {
    let config = inner.engine.config();
    let depth_base = inner.call_depth;
    // Frames this run may push before `call stack exhausted` (one compare per call).
    let max_frames = config.max_call_depth.saturating_sub(depth_base);
    let metering = config.consume_fuel;
    threaded::CallLimits {
        max_frames,
        max_cells: config.max_stack_cells,
        // With fuel, using up a chunk of it polls (`threaded::FUEL_CHUNK`); without,
        // calls and backward branches poll.
        poll_calls: config.interruptible && !metering,
        metering,
        depth_base,
    }
}

/// Runs from the frame on top of `frames` until it returns. Not inlined: [`invoke`]'s
/// catch-unwind closure stays small enough to be inlined itself (60 x86 instructions per
/// entry when it was not).
#[inline(never)]
fn run(
    inner: &mut StoreInner,
    host: &mut dyn HostCaller,
    stack: &mut Vec<u64>,
    frames: &mut Vec<Frame>,
    modules: &mut ModuleCache,
    call_limits: threaded::CallLimits,
) -> Result<(), Box<Error>> {
    let threaded::CallLimits {
        max_frames,
        max_cells,
        poll_calls: poll_backward,
        metering,
        depth_base,
    } = call_limits;
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
            // The store's parts, borrowed apart for the instruction the threaded code
            // hands back (it borrows the whole store itself, for host functions).
            let (mut instances, mut memories, mut tables, mut funcs);
            let (mut limits, mut memory_bytes, mut table_elements);
            let mut fuel: &mut u64;
            let mut interrupt: &InterruptState;
            let mut inst: &mut InstanceEntity;
            let mut mem: &mut MemoryEntity;
            macro_rules! borrow_store {
                () => {{
                    let parts = &mut *inner;
                    instances = &mut parts.instances;
                    memories = &mut parts.memories;
                    tables = &mut parts.tables;
                    funcs = &mut parts.funcs;
                    limits = &mut parts.limits;
                    memory_bytes = &mut parts.memory_bytes;
                    table_elements = &mut parts.table_elements;
                    fuel = &mut parts.fuel;
                    interrupt = &*parts.interrupt;
                    inst = &mut instances[cur_instance as usize];
                    mem = match inst.memories.first() {
                        Some(&m) => &mut memories[m as usize],
                        None => &mut empty_memory,
                    };
                }};
            }
            let mut bp = top.bp as usize;
            let mut pc = top.pc as usize;
            // Translated when its frame was pushed: this cannot fail.
            let mut code: &[Op] = match module.compiled(top.func) {
                Ok(compiled) => &compiled.code,
                Err(e) => break Err(with_backtrace(e, inner, frames)),
            };
            // The frame's cells: the threaded code's `Calls` borrows the stack, and the
            // window is taken again after it at the top of the loop.
            let mut regs: &mut Regs;

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
            // Charges fuel for a bulk operation touching `n` units; when fuel is short,
            // re-executes this instruction after the out-of-fuel handler refills.
            macro_rules! bulk_fuel {
                ($n:expr, $per:expr) => {{
                    if metering {
                        let cost = ($n as u64) / $per;
                        if *fuel < cost {
                            if let Some(f) = frames.last_mut() {
                                f.pc = pc as u32;
                            }
                            break Exit::OutOfFuel;
                        }
                        *fuel -= cost;
                    }
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
                            // Only `call_indirect` of a host function comes here (the
                            // threaded code calls imports itself).
                            let result = call_host_at(
                                inner,
                                host,
                                stack,
                                HostFrame {
                                    host: h,
                                    instance: cur_instance,
                                    at: pc as u32,
                                    start: bp + $base as usize,
                                    cells,
                                    depth: depth_base + frames.len(),
                                },
                            );
                            // The next run of the threaded code borrows the store again.
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
                // The threaded code runs everything up to the next instruction it does not
                // own (a call, a return, a host call, ...), which the `match` below runs.
                let mut running = threaded::Running {
                    stack,
                    frames,
                    module: &module,
                    instance: cur_instance,
                    code,
                    bp,
                    limits: call_limits,
                };
                let stopped = threaded::run(inner, host, &mut running, pc);
                // Calls and returns may have switched frames.
                (bp, code) = (running.bp, running.code);
                match stopped {
                    Ok(threaded::Stop::Match(at)) => pc = at as usize,
                    Ok(threaded::Stop::Done) => break Exit::Done,
                    Err(e) => break Exit::HostError(e),
                    Ok(threaded::Stop::Trap(fault, at)) => {
                        pc = at as usize;
                        trap!(fault.kind());
                    }
                    Ok(threaded::Stop::OutOfFuel(at)) => {
                        if let Some(f) = frames.last_mut() {
                            f.pc = at;
                        }
                        break Exit::OutOfFuel;
                    }
                    Ok(threaded::Stop::Internal) => break Exit::Internal(RAN_PAST_END),
                }
                borrow_store!();
                regs = window(stack, bp);
                match code[pc].instr() {
                    // ---------------------------------------------------------- memory
                    Instr::MemoryGrow { dst, delta, .. } => {
                        r!(dst) =
                            memory_grow(mem, r!(delta) as u32, memory_bytes, limits.total_memory)
                                as u64;
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

                    // ---------------------------------------------------------- control
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

                    _ => {
                        break Exit::Internal("a threaded instruction reached the interpreter loop")
                    }
                }
                pc += 1;
            };
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
                    _ => break Err(trap_error(inner, frames, TrapKind::OutOfFuel)),
                }
            }
            Exit::Trap(kind) => break Err(trap_error(inner, frames, kind)),
            Exit::HostError(e) => break Err(with_backtrace(e, inner, frames)),
            Exit::Translate { instance, func } => {
                let translated = inner.instances[instance as usize]
                    .module
                    .compiled(func)
                    .map(|_| ());
                if let Err(e) = translated {
                    break Err(with_backtrace(e, inner, frames));
                }
            }
            Exit::Internal(what) => {
                let e = Box::new(crate::module::internal_error(what));
                break Err(with_backtrace(e, inner, frames));
            }
            Exit::TailHost { host: h, cells } => {
                let frame = *frames.last().expect("a frame is running");
                let result = call_host_at(
                    inner,
                    host,
                    stack,
                    HostFrame {
                        host: h,
                        instance: frame.instance,
                        at: frame.pc,
                        start: frame.bp as usize,
                        cells,
                        depth: depth_base + frames.len(),
                    },
                );
                inner.call_depth = depth_base;
                if let Err(e) = result {
                    break Err(with_backtrace(e, inner, frames));
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

/// Runs the top frame in the threaded code: its outcome if that ends the run (the frames
/// returned, a trap, a host function's error), or `None` with the frame's `pc` at the
/// instruction to go on with, for `run`'s loop (which then runs the threaded code again
/// from there: an instruction it does not own, or a fuel region to refill first, stops it
/// at once and without effect).
fn run_threaded_first(
    inner: &mut StoreInner,
    host: &mut dyn HostCaller,
    stack: &mut Vec<u64>,
    frames: &mut Vec<Frame>,
    module: Option<&ModuleInner>,
    limits: threaded::CallLimits,
) -> Option<Result<(), Box<Error>>> {
    let top = *frames.last()?;
    let compiled = module?.translated(top.func)?;
    let mut running = threaded::Running {
        stack,
        frames,
        module: module?,
        instance: top.instance,
        code: &compiled.code,
        bp: top.bp as usize,
        limits,
    };
    let stopped = threaded::run_inlined(inner, host, &mut running, top.pc as usize);
    let stop_at = |frames: &mut Vec<Frame>, at: u32| {
        if let Some(f) = frames.last_mut() {
            f.pc = at;
        }
    };
    match stopped {
        Ok(threaded::Stop::Done) => Some(Ok(())),
        Ok(threaded::Stop::Match(at) | threaded::Stop::OutOfFuel(at)) => {
            stop_at(frames, at);
            None
        }
        Ok(threaded::Stop::Trap(fault, at)) => {
            stop_at(frames, at);
            Some(Err(trap_error(inner, frames, fault.kind())))
        }
        Ok(threaded::Stop::Internal) => Some(Err(with_backtrace(
            Box::new(crate::module::internal_error(RAN_PAST_END)),
            inner,
            frames,
        ))),
        Err(e) => Some(Err(with_backtrace(e, inner, frames))),
    }
}

/// A trap of `kind` at the running frame, with the backtrace of `frames`.
fn trap_error(inner: &StoreInner, frames: &[Frame], kind: TrapKind) -> Box<Error> {
    Box::new(
        Trap {
            kind,
            backtrace: backtrace(inner, frames),
        }
        .into(),
    )
}

/// The broken invariant of a threaded stop past the end of a function's code.
const RAN_PAST_END: &str = "threaded code ran past its function's end";

/// Adds the wasm frames to a trap raised by a host function (or a nested call) that has none.
fn with_backtrace(mut e: Box<Error>, inner: &StoreInner, frames: &[Frame]) -> Box<Error> {
    if let Error::Trap(t) = &mut *e {
        t.backtrace.extend(backtrace(inner, frames));
    }
    e
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
