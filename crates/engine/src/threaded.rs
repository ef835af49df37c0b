//! Threaded dispatch: every instruction the hot paths run is its own small function (a
//! *handler*), and each handler ends by calling the next instruction's handler, read from
//! the code stream. In an optimized build LLVM compiles that last call into a jump (a
//! sibling call), so a dispatch is a bounds check, a load and an indirect jump *at the end
//! of every handler*: the processor predicts each handler's successor separately, where the
//! single `match` of a loop gives all of them one shared, badly predicted jump. Each handler
//! is also register-allocated on its own, so no change to one instruction can make the
//! whole loop spill (the cliffs `docs/engine.md` records). Handlers are generic over what
//! they do when they fall through ([`Then`]), so a frequent pair of instructions gets a
//! *pair handler* that runs the second one inlined: one dispatch for two ([`pairs`]).
//!
//! What it owns: the handlers of arithmetic, conversions, SIMD (one handler per operator),
//! loads and stores of the default memory, `memory.fill`/`copy`, moves, constants, globals,
//! fuel regions and every branch; calls and returns within one instance (made by the call
//! handlers themselves, see [`call_native`], or by [`drive`]); and calls of host
//! functions: a store-free one by its call handler ([`call_imported`]), one that takes
//! `Caller` in [`run`] (the store is borrowed again after each). Everything else (calls across
//! instances, tail calls, tables, `memory.init`, `memory.grow`, ...) is marked `to_match`
//! and runs in `exec`'s interpreter loop, which calls [`run`] again after it.
//!
//! What it must never do: grow the host stack with the guest. Handlers call each other
//! only in tail position, except a call handler, which runs its callee as a nested call:
//! at most [`NATIVE_CALL_DEPTH`] of them nest, whatever the guest's recursion (deeper
//! calls go through [`drive`], which keeps frames on the explicit stack). A build that does
//! not optimize sibling calls (`opt-level` 0 or 1, decided by `build.rs` as
//! `nanoproc_tail_calls`) neither nests calls nor chains handlers: it returns to a
//! trampoline loop in [`run`] after every instruction. `tests/threaded.rs` runs every
//! handler in a long loop in a release build, where a handler that failed to jump would
//! overflow the stack; `tests/nested_calls.rs` recurses 50 000 deep on a small stack.
#![allow(non_snake_case)]

use crate::costs;
use crate::error::Error;
use crate::exec::{
    call_host_at, cell, copy_within_chunked, effective, f32_of, f64_of, fill_chunked, load_bytes,
    of_f32, of_f64, range, store_bytes, Frame, HostCaller, HostFrame, FRAME_WINDOW,
};
use crate::interrupt::InterruptState;
use crate::ir::*;
use crate::module::{CompiledFunc, ModuleInner};
use crate::num;
use crate::simd::{self, SimdBinary, SimdLoad, SimdShift, SimdTest, SimdUnary};
use crate::store::{
    FuncEntity, GlobalEntity, HostResult, ImportedFunc, PlainHostFn, StoreInner, TableEntity,
    PAGE_SIZE,
};
use std::cell::Cell;

/// One instruction of the threaded code: its handler and its operands, packed (see
/// [`Instr::pack`]). A handler knows its instruction, so it reads the operands back with
/// [`unpack`]'s function of that name, at constant offsets and with no check of the
/// variant, which reading an `Instr` would need on every instruction (measured: 6-9% of
/// the x86 instructions executed).
#[derive(Copy, Clone)]
pub(crate) struct Op {
    pub(crate) h: Handler,
    pub(crate) tag: Tag,
    pub(crate) raw: Operands,
}

impl Op {
    pub(crate) fn new(i: Instr) -> Op {
        let (tag, raw) = i.pack();
        Op {
            h: handler_for(&i),
            tag,
            raw,
        }
    }

    /// The instruction, whichever it is.
    pub(crate) fn instr(&self) -> Instr {
        Instr::unpack(self.tag, &self.raw)
    }
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.instr().fmt(f)
    }
}

/// Runs the instruction `op`, followed in the code by `rest`.
pub(crate) type Handler = fn(&mut Ctx<'_, '_>, &Op, &[Op], &Regs) -> Exit;

/// What the handlers use besides the frame's cells (in memory, read where needed), and
/// the frames they may switch between: calls and returns within one instance.
pub(crate) struct Ctx<'m, 'a> {
    /// The running function's code (branch targets index it), in module `'m`.
    pub(crate) code: &'m [Op],
    /// The module's v128 constants and shuffle masks.
    pub(crate) consts: &'m [u128],
    /// The instance's default memory.
    pub(crate) mem: &'a mut [u8],
    /// The fuel this run of the threaded code may use: at most a [`FUEL_CHUNK`] of the
    /// store's (see [`run`]).
    pub(crate) fuel: u64,
    /// The rest of the store's fuel, beyond `fuel` (see [`refill`]).
    fuel_reserve: u64,
    /// Fuel is metered (bulk memory operations charge by size).
    pub(crate) metering: bool,
    pub(crate) interrupt: &'a InterruptState,
    /// The store's globals before the running instance's own: those it may import.
    pub(crate) globals: &'a mut [GlobalEntity],
    /// The running instance's own (defined) globals, which instantiation adds to the
    /// store in order after every global it can import: `GlobalGet`/`GlobalSet` index
    /// them directly, one load less than through `global_map`.
    pub(crate) own_globals: &'a mut [GlobalEntity],
    /// The instance's global index → store global.
    pub(crate) global_map: &'a [u32],
    /// The value stack, as cells: a call handler takes its callee's window from it while
    /// the caller's window is still borrowed (see [`call_native`]).
    stack: &'a [Cell<u64>],
    frames: &'a mut Vec<Frame>,
    /// The running instance's module, and the instance.
    module: &'m ModuleInner,
    instance: u32,
    /// The running frame's base.
    bp: usize,
    /// The call depth and stack size a call must stay within (else `exec` traps).
    max_frames: usize,
    max_cells: usize,
    /// Calls poll for interruption (an interruptible engine without fuel).
    poll_calls: bool,
    /// How many more calls may nest on the host stack (see [`call_native`]): at most
    /// [`NATIVE_CALL_DEPTH`], and never past the call depth limit.
    native_depth_left: u32,
    /// While nested calls unwind: the return address in the frame being pushed next.
    unwind_pc: u32,
    /// For `call_indirect`: the store's tables and functions, and the instance's table
    /// index → store table.
    tables: &'a [TableEntity],
    funcs: &'a [FuncEntity],
    table_map: &'a [u32],
    /// For `call` of an import: how to call each imported function (see
    /// [`call_imported`]), and the error of a store-free one that failed, for [`run`] to
    /// report.
    imported_funcs: &'a [ImportedFunc],
    host_error: &'a mut Option<Box<Error>>,
    /// Where `call_imported` leaves the host function of a `CALL_HOST` stop.
    host_call: &'a mut PendingHost,
}

/// The cells of one frame, as the threaded code sees them: shared `Cell`s, so that a
/// call handler can take the callee's window from the stack while the caller's is borrowed.
/// (`Cell::get`/`set` compile to plain loads and stores.)
pub(crate) type Regs = [Cell<u64>; FRAME_WINDOW];

/// The window of the frame at `bp`, if the stack reaches that far.
#[inline(always)]
fn window(stack: &[Cell<u64>], bp: usize) -> Option<&Regs> {
    stack.get(bp..)?.first_chunk::<FRAME_WINDOW>()
}

#[inline(always)]
fn get_u128(regs: &Regs, s: Slot) -> u128 {
    (regs[cell(s as u64)].get() as u128) | ((regs[cell(s as u64 + 1)].get() as u128) << 64)
}

#[inline(always)]
fn set_u128(regs: &Regs, s: Slot, v: u128) {
    regs[cell(s as u64)].set(v as u64);
    regs[cell(s as u64 + 1)].set((v >> 64) as u64);
}

/// How many wasm calls may nest on the host stack within one [`run`]: each costs one call
/// handler's host frame (under 100 bytes), so this bounds the host stack the threaded code
/// uses at a few tens of KiB however deep the guest recurses; deeper calls go through
/// [`drive`], which does not nest.
const NATIVE_CALL_DEPTH: u32 = 256;

/// The traps a handler can raise.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Fault {
    Unreachable,
    IntegerOverflow,
    IntegerDivideByZero,
    InvalidConversionToInteger,
    MemoryOutOfBounds,
    Interrupted,
}

impl Fault {
    /// Every fault, in discriminant order (how [`Exit`] encodes them).
    const ALL: [Fault; 6] = [
        Fault::Unreachable,
        Fault::IntegerOverflow,
        Fault::IntegerDivideByZero,
        Fault::InvalidConversionToInteger,
        Fault::MemoryOutOfBounds,
        Fault::Interrupted,
    ];

    pub(crate) fn kind(self) -> crate::error::TrapKind {
        use crate::error::TrapKind;
        match self {
            Fault::Unreachable => TrapKind::Unreachable,
            Fault::IntegerOverflow => TrapKind::IntegerOverflow,
            Fault::IntegerDivideByZero => TrapKind::IntegerDivideByZero,
            Fault::InvalidConversionToInteger => TrapKind::InvalidConversionToInteger,
            Fault::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
            Fault::Interrupted => TrapKind::Interrupted,
        }
    }
}

/// Why the threaded code stopped, as [`run`] reports it. Positions are instruction indices.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The instruction at this position is not threaded: `exec`'s loop runs it.
    Match(u32),
    Trap(Fault, u32),
    /// The fuel region starting here needs more fuel than is left.
    OutOfFuel(u32),
    /// The entry frame returned (popped): the run is over.
    Done,
    /// A broken invariant (a branch past the end of the code): never expected.
    Internal,
}

/// What a handler returns: a [`Stop`] packed into one integer (the position in the high
/// 32 bits). A plain integer matters: with an enum of several fields, LLVM unpacks the
/// next handler's result and packs it again, and the final call stops being a jump.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct Exit(u64);

const MATCH: u64 = 0;
const OUT_OF_FUEL: u64 = 1;
const INTERNAL: u64 = 2;
/// A `CallInternal` at the position: [`run`] enters the callee.
const CALL: u64 = 4;
/// A `Return`/`ReturnSlot` at the position (results in place): [`run`] returns to the caller.
const RETURN: u64 = 5;
/// A `CallIndirect` at the position: [`run`] enters the callee if it is wasm of this
/// instance and the call is valid (`exec` reports the trap otherwise).
const CALL_INDIRECT: u64 = 6;
/// A `CallImported` of a wasm function (of another instance) at the position: `exec`
/// makes the call.
const CALL_IMPORTED: u64 = 7;
/// A `CallImported` of a host function that takes `Caller` (`Ctx::host_call` says which):
/// [`run`] gives the store back for the call.
const CALL_HOST: u64 = 9;
/// The host function the `CallImported` at the position called failed (`Ctx::host_error`).
const HOST_FAILED: u64 = 8;
/// Continue at the position (the trampoline of builds without sibling calls).
#[cfg(not(nanoproc_tail_calls))]
const NEXT: u64 = 3;
/// Plus the [`Fault`]'s discriminant.
const TRAP: u64 = 16;

impl Exit {
    const INTERNAL: Exit = Exit(INTERNAL);

    #[inline(always)]
    fn at(code: u64, pc: u32) -> Exit {
        Exit(code | (pc as u64) << 32)
    }

    #[inline(always)]
    fn trap(fault: Fault, pc: u32) -> Exit {
        Exit::at(TRAP + fault as u64, pc)
    }

    /// The trampoline's next position, if that is what this is.
    #[cfg(not(nanoproc_tail_calls))]
    #[inline(always)]
    fn next_pc(self) -> Option<usize> {
        (self.0 as u32 as u64 == NEXT).then_some((self.0 >> 32) as usize)
    }

    pub(crate) fn stop(self) -> Stop {
        let pc = (self.0 >> 32) as u32;
        match self.0 as u32 as u64 {
            MATCH => Stop::Match(pc),
            OUT_OF_FUEL => Stop::OutOfFuel(pc),
            code => match code
                .checked_sub(TRAP)
                .and_then(|i| Fault::ALL.get(i as usize))
            {
                Some(&fault) => Stop::Trap(fault, pc),
                None => Stop::Internal,
            },
        }
    }
}

const _: () = assert!(std::mem::size_of::<Exit>() <= 8);
const _: () = assert!(std::mem::size_of::<Op>() <= 24);

/// The running frame and the limits of calls, kept by `exec` between runs of the threaded
/// code (the parts of the store are borrowed anew by each [`run`]).
pub(crate) struct Running<'m, 's> {
    pub(crate) stack: &'s mut Vec<u64>,
    pub(crate) frames: &'s mut Vec<Frame>,
    pub(crate) module: &'m ModuleInner,
    pub(crate) instance: u32,
    /// The running function's code and its frame's base.
    pub(crate) code: &'m [Op],
    pub(crate) bp: usize,
    pub(crate) limits: CallLimits,
}

/// What bounds and checks the calls of one entry into wasm (fixed for the entry).
#[derive(Copy, Clone)]
pub(crate) struct CallLimits {
    pub(crate) max_frames: usize,
    pub(crate) max_cells: usize,
    pub(crate) poll_calls: bool,
    pub(crate) metering: bool,
    /// Wasm frames of outer invocations (the depth a host function's re-entry starts at).
    pub(crate) depth_base: usize,
}

/// Why [`drive`] hands control to [`run`] rather than stopping: a host function to call
/// with the store, or the error of one a call handler called (at that instruction).
enum Away {
    Host(HostCall),
    Failed(u32, Box<Error>),
}

/// How much of the store's fuel the handlers get at a time when fuel is metered (or what
/// one region or bulk operation needs, if more): each [`refill`] is an interruption check,
/// so at most this many fuel units (a few tens of microseconds of wasm) pass between checks.
const FUEL_CHUNK: u64 = 1 << 20;

/// Why a fuel region could not be charged from the current chunk.
enum Refill {
    /// A new chunk holds what it needs.
    Done,
    /// The store's fuel is short of it: stop, out of fuel.
    Short,
    /// An interruption was pending (polled as a chunk ends).
    Interrupted,
}

/// Moves the next chunk of the store's fuel (at least `need`) into `ctx.fuel`, after the
/// interruption check that a chunk's end stands for. Cold: once per chunk.
#[cold]
#[inline(never)]
fn refill(ctx: &mut Ctx<'_, '_>, need: u64) -> Refill {
    if ctx.interrupt.take() {
        return Refill::Interrupted;
    }
    let total = ctx.fuel + ctx.fuel_reserve;
    if total < need {
        return Refill::Short;
    }
    let chunk = total.min(FUEL_CHUNK.max(need));
    ctx.fuel = chunk;
    ctx.fuel_reserve = total - chunk;
    Refill::Done
}

/// A host function the instruction at `at` calls, with its frame at `base`.
struct HostCall {
    host: u32,
    cells: u32,
    base: Slot,
    at: usize,
}

/// Runs threaded code from instruction `pc` of `running.code` until an instruction it does
/// not own, a trap or a fuel region it cannot pay, as [`drive`] does, and also makes the
/// running frame's calls of host functions: the store's parts are given back for the call
/// (the host function gets the whole store) and borrowed again after it, without going
/// back to `exec`. The store's fuel is up to date when this returns; an error is a host
/// function's (the frame's `pc` is then the call).
pub(crate) fn run(
    inner: &mut StoreInner,
    host: &mut dyn HostCaller,
    running: &mut Running<'_, '_>,
    pc: usize,
) -> Result<Stop, Box<Error>> {
    run_inlined(inner, host, running, pc)
}

/// [`run`], inlined into an entry from the host, which then builds the context from
/// values it has in registers rather than from a `Running` in memory.
#[inline(always)]
pub(crate) fn run_inlined(
    inner: &mut StoreInner,
    host: &mut dyn HostCaller,
    running: &mut Running<'_, '_>,
    mut pc: usize,
) -> Result<Stop, Box<Error>> {
    loop {
        // With fuel, the handlers get the store's fuel a chunk at a time, and each chunk
        // is an interruption check instead of one per fuel region (see [`refill`]); so is
        // each start of a run (`exec` runs loops of tail calls, say, between runs).
        let total_fuel = inner.fuel;
        let mut chunk = total_fuel;
        if running.limits.metering {
            if inner.interrupt.take() {
                return Ok(Stop::Trap(Fault::Interrupted, pc as u32));
            }
            chunk = total_fuel.min(FUEL_CHUNK);
        }
        let (outcome, fuel) = {
            let StoreInner {
                instances,
                memories,
                globals,
                tables,
                funcs,
                interrupt,
                host_error,
                pending_host,
                ..
            } = &mut *inner;
            let inst = &instances[running.instance as usize];
            let mem: &mut [u8] = match inst.memories.first() {
                Some(&m) => &mut memories[m as usize].data,
                None => &mut [],
            };
            // Imported globals were in the store before the instance was created.
            let all = globals.len();
            let own_base = inst
                .globals
                .get(inst.module.num_imported_globals as usize)
                .map_or(all, |&first| (first as usize).min(all));
            let (globals, own_globals) = globals.split_at_mut(own_base);
            let mut ctx = Ctx {
                code: running.code,
                consts: &running.module.consts,
                mem,
                fuel: chunk,
                fuel_reserve: total_fuel - chunk,
                metering: running.limits.metering,
                interrupt,
                globals,
                own_globals,
                global_map: &inst.globals,
                stack: Cell::from_mut(running.stack.as_mut_slice()).as_slice_of_cells(),
                frames: &mut *running.frames,
                module: running.module,
                instance: running.instance,
                bp: running.bp,
                max_frames: running.limits.max_frames,
                max_cells: running.limits.max_cells,
                poll_calls: running.limits.poll_calls,
                native_depth_left: 0,
                unwind_pc: 0,
                tables,
                funcs,
                table_map: &inst.tables,
                imported_funcs: &inst.imported_funcs,
                host_error,
                host_call: pending_host,
            };
            let outcome = drive(&mut ctx, pc);
            running.bp = ctx.bp;
            running.code = ctx.code;
            (outcome, ctx.fuel + ctx.fuel_reserve)
        };
        inner.fuel = fuel;
        let call = match outcome {
            Ok(stop) => {
                #[cfg(nanoproc_pair_profile)]
                crate::pair_profile::write(stop == Stop::Done);
                return Ok(stop);
            }
            Err(Away::Host(call)) => call,
            Err(Away::Failed(at, e)) => {
                if let Some(f) = running.frames.last_mut() {
                    f.pc = at;
                }
                return Err(e);
            }
        };
        let result = call_host_at(
            inner,
            host,
            running.stack,
            HostFrame {
                host: call.host,
                instance: running.instance,
                at: call.at as u32,
                start: running.bp + call.base as usize,
                cells: call.cells,
                depth: running.limits.depth_base + running.frames.len(),
            },
        );
        if let Err(e) = result {
            if let Some(f) = running.frames.last_mut() {
                f.pc = call.at as u32;
            }
            return Err(e);
        }
        pc = call.at + 1;
    }
}

/// Runs threaded code from instruction `pc` of `ctx.code` until an instruction it does
/// not own, a trap, a fuel region it cannot pay or a call of a host function (`Err`).
/// Calls to functions of the same module and returns to callers in it happen here,
/// without going back to `exec`; anything unusual about one (a callee not translated yet,
/// a limit reached, a caller in another instance, a stack to grow) stops at the
/// instruction instead, and `exec` runs it. `ctx.code` and `ctx.bp` then describe the
/// running frame.
#[inline(always)]
fn drive(ctx: &mut Ctx<'_, '_>, mut pc: usize) -> Result<Stop, Away> {
    loop {
        let Some(regs) = window(ctx.stack, ctx.bp) else {
            return Ok(Stop::Internal);
        };
        let depth = ctx.frames.len();
        ctx.native_depth_left = ctx
            .max_frames
            .saturating_sub(depth)
            .min(NATIVE_CALL_DEPTH as usize) as u32;
        ctx.unwind_pc = 0;
        let exit = chain(ctx, pc, regs);
        if ctx.frames.len() > depth {
            // Nested calls stopped: their frames were pushed innermost first.
            ctx.frames[depth..].reverse();
            if let Some(f) = depth.checked_sub(1).and_then(|i| ctx.frames.get_mut(i)) {
                f.pc = ctx.unwind_pc;
            }
        }
        let at = (exit.0 >> 32) as usize;
        // Calls and returns first, as compares: a jump table's indirect jump predicted
        // worse than these two branches.
        let code = exit.0 as u32 as u64;
        let next = if code == CALL {
            call(ctx, at)
        } else if code == RETURN {
            if ctx.frames.len() == 1 {
                ctx.frames.pop();
                return Ok(Stop::Done);
            }
            ret(ctx)
        } else {
            match code {
                CALL_INDIRECT => call_indirect(ctx, at),
                CALL_IMPORTED => return Ok(Stop::Match(at as u32)),
                CALL_HOST => {
                    let PendingHost { host, cells, base } = *ctx.host_call;
                    return Err(Away::Host(HostCall {
                        host,
                        cells,
                        base,
                        at,
                    }));
                }
                HOST_FAILED => match ctx.host_error.take() {
                    Some(e) => return Err(Away::Failed(at as u32, e)),
                    None => return Ok(Stop::Internal),
                },
                _ => return Ok(exit.stop()),
            }
        };
        match next {
            Some(Ok(next)) => pc = next,
            Some(Err(fault)) => return Ok(Stop::Trap(fault, at as u32)),
            None => return Ok(Stop::Match(at as u32)),
        }
    }
}

/// Enters the callee of the `CallInternal` at `at`: its first instruction, or `None` to
/// leave the call to `exec`.
#[inline(always)]
fn call(ctx: &mut Ctx<'_, '_>, at: usize) -> Option<Result<usize, Fault>> {
    let Instr::CallInternal { func, base } = ctx.code.get(at)?.instr() else {
        return None;
    };
    let callee = ctx.module.translated(func)?;
    enter(ctx, at, callee, func, base).map(|entered| entered.map(|_| 0))
}

/// The wasm function of this instance that the `CallIndirect` `instr` calls (its index),
/// if the table holds one of the expected type; `None` leaves the call (and any trap) to
/// `exec`.
#[inline(always)]
fn indirect_callee(ctx: &Ctx<'_, '_>, instr: Instr, regs: &Regs) -> Option<(u32, Slot)> {
    let Instr::CallIndirect {
        ty,
        index,
        base,
        table,
    } = instr
    else {
        return None;
    };
    let table = ctx
        .tables
        .get(*ctx.table_map.get(table as usize)? as usize)?;
    let i = regs[cell(index as u64)].get() as u32;
    let f = table.elems.get(i as usize)?.checked_sub(1)?;
    match *ctx.funcs.get(f as usize)? {
        FuncEntity::Wasm {
            instance,
            index,
            ty: callee_ty,
            ..
        } if instance == ctx.instance && callee_ty == ty => Some((index, base)),
        _ => None,
    }
}

/// Enters the callee of the `CallIndirect` at `at` (see [`indirect_callee`]).
#[inline(always)]
fn call_indirect(ctx: &mut Ctx<'_, '_>, at: usize) -> Option<Result<usize, Fault>> {
    let instr = ctx.code.get(at)?.instr();
    let regs = window(ctx.stack, ctx.bp)?;
    let (func, base) = indirect_callee(ctx, instr, regs)?;
    let callee = ctx.module.translated(func)?;
    enter(ctx, at, callee, func, base).map(|entered| entered.map(|_| 0))
}

/// Pushes the frame of `callee` (function `func` of the running module) at `base` for the
/// call at `at` and makes it the running frame: its window, or `None` to leave the call
/// to `exec` (a limit reached, or a stack to grow: `exec` grows it with room to spare).
#[inline(always)]
fn enter<'m, 'a>(
    ctx: &mut Ctx<'m, 'a>,
    at: usize,
    callee: &'m CompiledFunc,
    func: u32,
    base: Slot,
) -> Option<Result<&'a Regs, Fault>> {
    let new_bp = ctx.bp + base as usize;
    let need = new_bp + callee.frame_cells as usize;
    if ctx.frames.len() >= ctx.max_frames || need > ctx.max_cells {
        return None;
    }
    let regs = window(ctx.stack, new_bp)?;
    // Without fuel, every call polls (recursion has no backward branch); with fuel, the
    // callee's entry region does. After every reason to leave the call to `exec`, which
    // would poll again: an interruption taken here is reported here.
    if ctx.poll_calls && ctx.interrupt.take() {
        return Some(Err(Fault::Interrupted));
    }
    if let Some(f) = ctx.frames.last_mut() {
        f.pc = at as u32 + 1;
    }
    zero_locals(
        regs,
        callee.param_cells as usize,
        callee.local_cells as usize,
    );
    ctx.frames.push(Frame {
        instance: ctx.instance,
        func,
        pc: 0,
        bp: new_bp as u32,
    });
    ctx.bp = new_bp;
    ctx.code = &callee.code;
    Some(Ok(regs))
}

/// Global `global` of the running instance (imported or its own), through `global_map`.
#[inline(always)]
fn global_entity<'c>(ctx: &'c mut Ctx<'_, '_>, global: u32) -> &'c mut GlobalEntity {
    let at = ctx.global_map[global as usize] as usize;
    match at.checked_sub(ctx.globals.len()) {
        Some(own) => &mut ctx.own_globals[own],
        None => &mut ctx.globals[at],
    }
}

/// Zeroes a new frame's declared locals, `regs[start..end]`: stores for a few (most
/// frames), not a `memset` call.
#[inline(always)]
fn zero_locals(regs: &Regs, start: usize, end: usize) {
    if start < end {
        // Up to four: four stores, whatever the count. The cells past a new frame's
        // locals are its operand cells, which are written before they are read.
        match regs.get(start..start + 4) {
            Some(four) if end - start <= 4 => four.iter().for_each(|c| c.set(0)),
            _ => {
                if let Some(locals) = regs.get(start..end) {
                    locals.iter().for_each(|l| l.set(0));
                }
            }
        }
    }
}

/// Returns to the caller if it runs in the same instance: where it continues, or `None`
/// to leave the return to `exec`.
#[inline(always)]
fn ret(ctx: &mut Ctx<'_, '_>) -> Option<Result<usize, Fault>> {
    let n = ctx.frames.len();
    let caller = *ctx.frames.get(n.checked_sub(2)?)?;
    if caller.instance != ctx.instance {
        return None;
    }
    let code = &ctx.module.translated(caller.func)?.code;
    ctx.frames.pop();
    ctx.bp = caller.bp as usize;
    ctx.code = code;
    Some(Ok(caller.pc as usize))
}

/// A call whose callee is known and translated, made from its handler: the callee runs
/// as a nested (non-tail) call of its first handler, and when it returns, the caller goes
/// on with a tail call, so a call and its return cost no trip through [`drive`] and no
/// change to `ctx.frames`. Anything else that stops inside the callee (a trap, a host call,
/// an instruction for `exec`) returns through the nested calls, each of which pushes its
/// callee's frame on the way out (innermost first: [`drive`] puts them in order), so the
/// frames are then exactly what they would be without nesting. Nesting is bounded by
/// `native_depth_left`; past it, and for anything unusual about the call, the handler
/// stops at the call for [`drive`].
#[cfg(nanoproc_tail_calls)]
#[inline(always)]
fn call_native(
    ctx: &mut Ctx<'_, '_>,
    func: u32,
    base: Slot,
    stop: u64,
    rest: &[Op],
    regs: &Regs,
) -> Exit {
    let at = pc_of(ctx, rest);
    let Some(callee) = ctx.module.translated(func) else {
        return Exit::at(stop, at);
    };
    let new_bp = ctx.bp + base as usize;
    let need = new_bp + callee.frame_cells as usize;
    let callee_regs = match window(ctx.stack, new_bp) {
        Some(callee_regs) if ctx.native_depth_left != 0 && need <= ctx.max_cells => callee_regs,
        _ => return Exit::at(stop, at),
    };
    if ctx.poll_calls && ctx.interrupt.take() {
        return Exit::trap(Fault::Interrupted, at);
    }
    zero_locals(
        callee_regs,
        callee.param_cells as usize,
        callee.local_cells as usize,
    );
    let (caller_code, caller_bp) = (ctx.code, ctx.bp);
    ctx.code = &callee.code;
    ctx.bp = new_bp;
    ctx.native_depth_left -= 1;
    let exit = match callee.code.split_first() {
        Some((op, callee_rest)) => (op.h)(ctx, op, callee_rest, callee_regs),
        None => Exit::INTERNAL,
    };
    ctx.native_depth_left += 1;
    if exit.0 as u32 as u64 != RETURN {
        ctx.frames.push(Frame {
            instance: ctx.instance,
            func,
            pc: ctx.unwind_pc,
            bp: new_bp as u32,
        });
        ctx.unwind_pc = at + 1;
        return exit;
    }
    ctx.code = caller_code;
    ctx.bp = caller_bp;
    next(ctx, rest, regs)
}

/// Runs threaded code from `pc` until a handler stops (tail calls), or with a trampoline.
fn chain(ctx: &mut Ctx<'_, '_>, pc: usize, regs: &Regs) -> Exit {
    let code = ctx.code;
    #[cfg(nanoproc_tail_calls)]
    match code.get(pc..) {
        Some([op, rest @ ..]) => (op.h)(ctx, op, rest, regs),
        _ => Exit::INTERNAL,
    }
    #[cfg(not(nanoproc_tail_calls))]
    {
        let mut pc = pc;
        loop {
            let Some([op, rest @ ..]) = code.get(pc..) else {
                return Exit::INTERNAL;
            };
            let exit = (op.h)(ctx, op, rest, regs);
            match exit.next_pc() {
                Some(next) => pc = next,
                None => return exit,
            }
        }
    }
}

/// The position of the running instruction, from what follows it.
#[inline(always)]
fn pc_of(ctx: &Ctx<'_, '_>, rest: &[Op]) -> u32 {
    (ctx.code.len() - rest.len() - 1) as u32
}

/// Runs the next instruction (`rest` starts with it).
#[inline(always)]
fn next(ctx: &mut Ctx<'_, '_>, rest: &[Op], regs: &Regs) -> Exit {
    #[cfg(nanoproc_pair_profile)]
    crate::pair_profile::count(ctx.code, rest);
    #[cfg(nanoproc_tail_calls)]
    match rest {
        [op, rest @ ..] => (op.h)(ctx, op, rest, regs),
        [] => Exit::INTERNAL,
    }
    #[cfg(not(nanoproc_tail_calls))]
    {
        let _ = regs;
        Exit::at(NEXT, (ctx.code.len() - rest.len()) as u32)
    }
}

/// What a handler does when it falls through to the next instruction: a generic
/// parameter of the handlers, so that one handler's body can be compiled with the next
/// instruction's inlined after it (a *pair handler*, see [`pairs`]).
pub(crate) trait Then {
    fn next(ctx: &mut Ctx<'_, '_>, rest: &[Op], regs: &Regs) -> Exit;
}

/// Dispatches the next instruction through its handler: every handler's own version.
pub(crate) struct Dispatch;

impl Then for Dispatch {
    #[inline(always)]
    fn next(ctx: &mut Ctx<'_, '_>, rest: &[Op], regs: &Regs) -> Exit {
        next(ctx, rest, regs)
    }
}

/// Continues at instruction `target` (no backward flag).
#[inline(always)]
fn goto(ctx: &mut Ctx<'_, '_>, target: Target, regs: &Regs) -> Exit {
    #[cfg(nanoproc_tail_calls)]
    {
        let code = ctx.code;
        match code.get(target as usize..) {
            Some([op, rest @ ..]) => (op.h)(ctx, op, rest, regs),
            _ => Exit::INTERNAL,
        }
    }
    #[cfg(not(nanoproc_tail_calls))]
    {
        let _ = (ctx, regs);
        Exit::at(NEXT, target)
    }
}

/// A taken branch. A backward one is where a loop keeps running, so that is where an
/// interruption is polled (translation flags backward targets only when that is needed).
#[inline(always)]
fn jump(ctx: &mut Ctx<'_, '_>, target: Target, rest: &[Op], regs: &Regs) -> Exit {
    if target & BACKWARD != 0 {
        if ctx.interrupt.take() {
            return Exit::trap(Fault::Interrupted, pc_of(ctx, rest));
        }
        return goto(ctx, target & !BACKWARD, regs);
    }
    goto(ctx, target, regs)
}

/// Any instruction this module does not own: back to `exec`'s loop.
fn to_match(ctx: &mut Ctx<'_, '_>, _op: &Op, rest: &[Op], _regs: &Regs) -> Exit {
    Exit::at(MATCH, pc_of(ctx, rest))
}

/// Charges a fuel region. It polls for interruption only when the chunk of fuel it
/// charges from is used up (see [`refill`]).
#[inline(always)]
fn consume_fuel<K: Then>(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let Instr::ConsumeFuel { amount } = unpack::ConsumeFuel(&op.raw) else {
        return Exit::INTERNAL;
    };
    let amount = amount as u64;
    if ctx.fuel < amount {
        return consume_fuel_refilled::<K>(ctx, amount, rest, regs);
    }
    ctx.fuel -= amount;
    K::next(ctx, rest, regs)
}

/// [`consume_fuel`] when the chunk is short: refills, then charges and goes on. Tail-called
/// and out of line, so the common path stays a compare, a subtraction and a jump.
#[cold]
#[inline(never)]
fn consume_fuel_refilled<K: Then>(
    ctx: &mut Ctx<'_, '_>,
    amount: u64,
    rest: &[Op],
    regs: &Regs,
) -> Exit {
    match refill(ctx, amount) {
        Refill::Done => {}
        Refill::Short => return Exit::at(OUT_OF_FUEL, pc_of(ctx, rest)),
        Refill::Interrupted => return Exit::trap(Fault::Interrupted, pc_of(ctx, rest)),
    }
    ctx.fuel -= amount;
    K::next(ctx, rest, regs)
}

fn call_internal(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    #[cfg(nanoproc_tail_calls)]
    if let Instr::CallInternal { func, base } = unpack::CallInternal(&op.raw) {
        return call_native(ctx, func, base, CALL, rest, regs);
    }
    let _ = (op, regs);
    Exit::at(CALL, pc_of(ctx, rest))
}

fn call_indirect_(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    #[cfg(nanoproc_tail_calls)]
    if let Some((func, base)) = indirect_callee(ctx, unpack::CallIndirect(&op.raw), regs) {
        return call_native(ctx, func, base, CALL_INDIRECT, rest, regs);
    }
    let _ = (op, regs);
    Exit::at(CALL_INDIRECT, pc_of(ctx, rest))
}

/// A call of an import. A host function that takes no `Caller` cannot touch the store, so
/// this handler calls it itself, on the frame's cells, with the store still borrowed apart:
/// about 60 x86 instructions with the call, where giving the store back to [`run`] and
/// borrowing it again cost about 180 more. Anything else (a host function with `Caller`,
/// wasm of another instance) stops here for [`run`] or `exec`.
fn call_imported(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let Instr::CallImported { func, base } = unpack::CallImported(&op.raw) else {
        return Exit::at(CALL_IMPORTED, pc_of(ctx, rest));
    };
    match ctx.imported_funcs.get(func as usize) {
        Some(ImportedFunc::Plain { call, cells, store }) => {
            let b = cell(base as u64);
            if let Some(window) = regs.get(b..b.wrapping_add(*cells as usize)) {
                match call_plain(call.as_ref(), window, *store) {
                    Ok(()) => return next(ctx, rest, regs),
                    Err(e) => {
                        *ctx.host_error = Some(e);
                        return Exit::at(HOST_FAILED, pc_of(ctx, rest));
                    }
                }
            }
            // A window past the frame's cells cannot be translated; `exec` reports it.
            Exit::at(CALL_IMPORTED, pc_of(ctx, rest))
        }
        Some(&ImportedFunc::Host { host, cells }) => {
            *ctx.host_call = PendingHost { host, cells, base };
            Exit::at(CALL_HOST, pc_of(ctx, rest))
        }
        Some(ImportedFunc::Wasm) | None => Exit::at(CALL_IMPORTED, pc_of(ctx, rest)),
    }
}

/// A host function with `Caller` that the threaded code stopped to call (see [`run`]): the
/// function, how many cells it uses, and where they start in the calling frame.
#[derive(Copy, Clone, Default, Debug)]
pub(crate) struct PendingHost {
    host: u32,
    cells: u32,
    base: Slot,
}

/// Calls store-free host function `f` on `cells`, the frame's own. A panic becomes the
/// call's error here, as [`run`] would report it (the frames are then recorded on the way
/// out, as for any stop). Inlined: the handler still ends in a jump (its landing pad is not
/// on that path), and the million-call test in `nested_calls.rs` would catch it if not.
#[inline(always)]
fn call_plain(f: &PlainHostFn, cells: &[Cell<u64>], store: u64) -> HostResult {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(cells, store)))
        .unwrap_or_else(|payload| Err(Box::new(crate::exec::panic_trap(payload).into())))
}

/// Charges a bulk operation at `pc` on `n` units (`per` a unit of fuel) when fuel is
/// metered; the stop if it cannot (out of fuel, or interrupted as a chunk ends).
#[inline(always)]
fn bulk_fuel(ctx: &mut Ctx<'_, '_>, n: u64, per: u64, pc: u32) -> Option<Exit> {
    if ctx.metering {
        let cost = n / per;
        if ctx.fuel < cost {
            match refill(ctx, cost) {
                Refill::Done => {}
                Refill::Short => return Some(Exit::at(OUT_OF_FUEL, pc)),
                Refill::Interrupted => return Some(Exit::trap(Fault::Interrupted, pc)),
            }
        }
        ctx.fuel -= cost;
    }
    None
}

/// `memory.fill`; when fuel is short, the instruction runs again after the out-of-fuel
/// handler refills.
fn memory_fill(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let Instr::MemoryFill { args, .. } = unpack::MemoryFill(&op.raw) else {
        return Exit::INTERNAL;
    };
    let (d, v, n) = (
        regs[cell(args as u64)].get(),
        regs[cell((args + 1) as u64)].get(),
        regs[cell((args + 2) as u64)].get(),
    );
    let Some(rg) = range(d as u32 as u64, n as u32 as u64, ctx.mem.len()) else {
        return Exit::trap(Fault::MemoryOutOfBounds, pc_of(ctx, rest));
    };
    if let Some(stop) = bulk_fuel(
        ctx,
        rg.len() as u64,
        costs::BULK_BYTES_PER_FUEL,
        pc_of(ctx, rest),
    ) {
        return stop;
    }
    if !fill_chunked(&mut ctx.mem[rg], v as u8, ctx.interrupt) {
        return Exit::trap(Fault::Interrupted, pc_of(ctx, rest));
    }
    next(ctx, rest, regs)
}

/// `memory.copy` (a memmove); fuel as for `memory.fill`.
fn memory_copy(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let Instr::MemoryCopy { args, .. } = unpack::MemoryCopy(&op.raw) else {
        return Exit::INTERNAL;
    };
    let (d, s, n) = (
        regs[cell(args as u64)].get() as u32 as u64,
        regs[cell((args + 1) as u64)].get() as u32 as u64,
        regs[cell((args + 2) as u64)].get() as u32 as u64,
    );
    let len = ctx.mem.len();
    let (Some(dr), Some(sr)) = (range(d, n, len), range(s, n, len)) else {
        return Exit::trap(Fault::MemoryOutOfBounds, pc_of(ctx, rest));
    };
    if let Some(stop) = bulk_fuel(ctx, n, costs::BULK_BYTES_PER_FUEL, pc_of(ctx, rest)) {
        return stop;
    }
    if !copy_within_chunked(ctx.mem, sr, dr.start, ctx.interrupt) {
        return Exit::trap(Fault::Interrupted, pc_of(ctx, rest));
    }
    next(ctx, rest, regs)
}

fn return_(ctx: &mut Ctx<'_, '_>, _op: &Op, rest: &[Op], _regs: &Regs) -> Exit {
    Exit::at(RETURN, pc_of(ctx, rest))
}

/// Writes the result first; if `run` leaves the return to `exec`, the instruction runs
/// again there, writing the same value.
fn return_slot(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let Instr::ReturnSlot { src } = unpack::ReturnSlot(&op.raw) else {
        return Exit::INTERNAL;
    };
    regs[0].set(regs[cell(src as u64)].get());
    Exit::at(RETURN, pc_of(ctx, rest))
}

/// A recognized `strlen`: the length where memory holds a zero byte from `s` on (then the
/// `ReturnSlot` after it returns it), else the function's own code, two instructions on.
fn strlen_or_skip(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let Instr::StrlenOrSkip { s, dst } = unpack::StrlenOrSkip(&op.raw) else {
        return Exit::INTERNAL;
    };
    let start = regs[cell(s as u64)].get() as u32 as usize;
    let found = ctx
        .mem
        .get(start..)
        .and_then(|tail| tail.iter().position(|&b| b == 0));
    match (found, rest) {
        (Some(len), _) => {
            regs[cell(dst as u64)].set(len as u64);
            next(ctx, rest, regs)
        }
        (None, [_, after @ ..]) => next(ctx, after, regs),
        (None, []) => Exit::INTERNAL,
    }
}

/// One handler per SIMD operator (`OP` indexes the class's `ALL`): the operator's `match`
/// in `simd` folds away at compile time, and each operator gets a dispatch jump of its own
/// instead of one shared, badly predicted jump table behind a generic handler.
fn v128_unary<const OP: u8>(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let (Instr::V128Unary { dst, src, .. }, Some(&f)) =
        (unpack::V128Unary(&op.raw), SimdUnary::ALL.get(OP as usize))
    else {
        return Exit::INTERNAL;
    };
    set_u128(regs, dst, simd::unary(f, get_u128(regs, src)));
    next(ctx, rest, regs)
}

fn v128_binary<const OP: u8>(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let (Instr::V128Binary { dst, lhs, rhs, .. }, Some(&f)) = (
        unpack::V128Binary(&op.raw),
        SimdBinary::ALL.get(OP as usize),
    ) else {
        return Exit::INTERNAL;
    };
    let v = simd::binary(f, get_u128(regs, lhs), get_u128(regs, rhs));
    set_u128(regs, dst, v);
    next(ctx, rest, regs)
}

fn v128_binary_const<const OP: u8>(
    ctx: &mut Ctx<'_, '_>,
    op: &Op,
    rest: &[Op],
    regs: &Regs,
) -> Exit {
    let (
        Instr::V128BinaryConst {
            dst, lhs, index, ..
        },
        Some(&f),
    ) = (
        unpack::V128BinaryConst(&op.raw),
        SimdBinary::ALL.get(OP as usize),
    )
    else {
        return Exit::INTERNAL;
    };
    let v = simd::binary(f, get_u128(regs, lhs), ctx.consts[index as usize]);
    set_u128(regs, dst, v);
    next(ctx, rest, regs)
}

fn v128_shift<const OP: u8>(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let (
        Instr::V128Shift {
            dst, lhs, amount, ..
        },
        Some(&f),
    ) = (unpack::V128Shift(&op.raw), SimdShift::ALL.get(OP as usize))
    else {
        return Exit::INTERNAL;
    };
    let v = simd::shift(f, get_u128(regs, lhs), regs[cell(amount as u64)].get());
    set_u128(regs, dst, v);
    next(ctx, rest, regs)
}

fn v128_shift_imm<const OP: u8>(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let (
        Instr::V128ShiftImm {
            dst, lhs, amount, ..
        },
        Some(&f),
    ) = (
        unpack::V128ShiftImm(&op.raw),
        SimdShift::ALL.get(OP as usize),
    )
    else {
        return Exit::INTERNAL;
    };
    set_u128(
        regs,
        dst,
        simd::shift(f, get_u128(regs, lhs), amount as u64),
    );
    next(ctx, rest, regs)
}

/// `V128Rotl32Imm` (`WIDE` false) and `V128Rotl64Imm`.
fn v128_rotl_imm<const WIDE: bool>(
    ctx: &mut Ctx<'_, '_>,
    op: &Op,
    rest: &[Op],
    regs: &Regs,
) -> Exit {
    let unpacked = if WIDE {
        unpack::V128Rotl64Imm(&op.raw)
    } else {
        unpack::V128Rotl32Imm(&op.raw)
    };
    let (Instr::V128Rotl32Imm { dst, lhs, amount } | Instr::V128Rotl64Imm { dst, lhs, amount }) =
        unpacked
    else {
        return Exit::INTERNAL;
    };
    set_u128(
        regs,
        dst,
        simd::rotl(WIDE, get_u128(regs, lhs), u32::from(amount)),
    );
    next(ctx, rest, regs)
}

fn v128_test<const OP: u8>(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let (Instr::V128Test { dst, src, .. }, Some(&f)) =
        (unpack::V128Test(&op.raw), SimdTest::ALL.get(OP as usize))
    else {
        return Exit::INTERNAL;
    };
    regs[cell(dst as u64)].set(simd::test(f, get_u128(regs, src)));
    next(ctx, rest, regs)
}

fn v128_load<const OP: u8>(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let (
        Instr::V128Load {
            dst, addr, offset, ..
        },
        Some(&f),
    ) = (unpack::V128Load(&op.raw), SimdLoad::ALL.get(OP as usize))
    else {
        return Exit::INTERNAL;
    };
    match simd::load(f, ctx.mem, effective(regs[cell(addr as u64)].get(), offset)) {
        Some(v) => set_u128(regs, dst, v),
        None => return Exit::trap(Fault::MemoryOutOfBounds, pc_of(ctx, rest)),
    }
    next(ctx, rest, regs)
}

/// A counted loop's step and test (`IncBr`), one handler per test and kind of step: the
/// test folds away, where one handler for all of them branched on it again.
#[inline(always)]
fn br_inc<K: Then, const TEST: u8, const BY_SLOT: bool>(
    ctx: &mut Ctx<'_, '_>,
    op: &Op,
    rest: &[Op],
    regs: &Regs,
) -> Exit {
    // `BrInc` and `BrIncBy` share this handler and their operands' form.
    let (b, Some(&test)) = (IncBr::get(&op.raw), IncTest::ALL.get(TEST as usize)) else {
        return Exit::INTERNAL;
    };
    let IncBr {
        slot,
        add,
        other,
        target,
        ..
    } = b;
    let step = if BY_SLOT {
        regs[cell(add as u16 as u64)].get() as u32
    } else {
        add as i32 as u32
    };
    let v = (regs[cell(slot as u64)].get() as u32).wrapping_add(step);
    regs[cell(slot as u64)].set(v as u64);
    let other_slot = || regs[cell(other as u16 as u64)].get() as u32;
    let taken = match test {
        IncTest::Nez => v != 0,
        IncTest::Ne => v != other_slot(),
        IncTest::LtU => v < other_slot(),
        IncTest::LtS => (v as i32) < (other_slot() as i32),
        IncTest::NeImm => v != other as u32,
        IncTest::LtUImm => v < other as u32,
        IncTest::LtSImm => (v as i32) < other,
    };
    if taken {
        jump(ctx, target, rest, regs)
    } else {
        K::next(ctx, rest, regs)
    }
}

/// How a `BrLoad*` finds its address (the `FORM` of [`br_load`]).
const AT_CONSTANT: u8 = 0;
const AT_OFFSET: u8 = 1;
const POST_STEP: u8 = 2;
const PRE_STEP: u8 = 3;

/// A load and a test of the loaded value (`LoadBr`, `LoadAbsBr`, `LoadStepBr`), one
/// handler per test, `FORM` and width: the test folds away, as in [`br_inc`]. The pointer
/// steps in the order of the instructions fused (`LoadStep`'s).
#[inline(always)]
fn br_load<K: Then, const TEST: u8, const FORM: u8, const BYTE: bool>(
    ctx: &mut Ctx<'_, '_>,
    op: &Op,
    rest: &[Op],
    regs: &Regs,
) -> Exit {
    let Some(&test) = LoadTest::ALL.get(TEST as usize) else {
        return Exit::INTERNAL;
    };
    let (dst, at, other, target) = match FORM {
        AT_CONSTANT => {
            let b = LoadAbsBr::get(&op.raw);
            (b.dst, b.addr as u64, b.other, b.target)
        }
        AT_OFFSET => {
            let b = LoadBr::get(&op.raw);
            let at = effective(regs[cell(b.addr as u64)].get(), b.offset as u32);
            (b.dst, at, b.other, b.target)
        }
        _ => {
            let b = LoadStepBr::get(&op.raw);
            let mut at = regs[cell(b.addr as u64)].get() as u32;
            if FORM == PRE_STEP {
                at = at.wrapping_add(b.step as i32 as u32);
                regs[cell(b.addr as u64)].set(at as u64);
            }
            (b.dst, at as u64, b.other, b.target)
        }
    };
    let loaded = if BYTE {
        load_bytes::<1>(ctx.mem, at).map(|b| b[0] as u32)
    } else {
        load_bytes::<4>(ctx.mem, at).map(u32::from_le_bytes)
    };
    let Some(v) = loaded else {
        return Exit::trap(Fault::MemoryOutOfBounds, pc_of(ctx, rest));
    };
    regs[cell(dst as u64)].set(v as u64);
    if FORM == POST_STEP {
        // After the load wrote `dst`, as `I32LoadPostStep` does (fusion needs
        // `dst != addr`, so `v` is still the value tested).
        let b = LoadStepBr::get(&op.raw);
        let p = regs[cell(b.addr as u64)].get() as u32;
        regs[cell(b.addr as u64)].set(p.wrapping_add(b.step as i32 as u32) as u64);
    }
    let slot = || regs[cell(other as u16 as u64)].get() as u32;
    let imm = other as i32 as u32;
    let taken = match test {
        LoadTest::Nez => v != 0,
        LoadTest::Eqz => v == 0,
        LoadTest::Eq => v == slot(),
        LoadTest::Ne => v != slot(),
        LoadTest::LtS => (v as i32) < (slot() as i32),
        LoadTest::LtU => v < slot(),
        LoadTest::GtS => (v as i32) > (slot() as i32),
        LoadTest::GtU => v > slot(),
        LoadTest::LeS => (v as i32) <= (slot() as i32),
        LoadTest::LeU => v <= slot(),
        LoadTest::GeS => (v as i32) >= (slot() as i32),
        LoadTest::GeU => v >= slot(),
        LoadTest::EqImm => v == imm,
        LoadTest::NeImm => v != imm,
        LoadTest::LtSImm => (v as i32) < (imm as i32),
        LoadTest::LtUImm => v < imm,
        LoadTest::GtSImm => (v as i32) > (imm as i32),
        LoadTest::GtUImm => v > imm,
        LoadTest::LeSImm => (v as i32) <= (imm as i32),
        LoadTest::LeUImm => v <= imm,
        LoadTest::GeSImm => (v as i32) >= (imm as i32),
        LoadTest::GeUImm => v >= imm,
    };
    if taken {
        jump(ctx, target, rest, regs)
    } else {
        K::next(ctx, rest, regs)
    }
}

/// `[f::<0>, f::<1>, ...]`: the handlers of a class's operators, by discriminant.
macro_rules! simd_table {
    ($f:ident: $($n:literal)*) => {
        [$($f::<$n> as Handler,)*]
    };
}

static V128_UNARY: [Handler; 50] = simd_table!(v128_unary: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49);
static V128_BINARY: [Handler; 120] = simd_table!(v128_binary: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119);
static V128_BINARY_CONST: [Handler; 120] = simd_table!(v128_binary_const: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119);
static V128_SHIFT: [Handler; 12] = simd_table!(v128_shift: 0 1 2 3 4 5 6 7 8 9 10 11);
static V128_SHIFT_IMM: [Handler; 12] = simd_table!(v128_shift_imm: 0 1 2 3 4 5 6 7 8 9 10 11);
static V128_TEST: [Handler; 9] = simd_table!(v128_test: 0 1 2 3 4 5 6 7 8);

/// The pattern of an instruction in [`pairs`]: a handler's name (an instruction of
/// that name), or a family of one handler per test and the test.
macro_rules! pair_pattern {
    (BrLoad $t:ident) => {
        Instr::BrLoad(LoadBr {
            test: LoadTest::$t,
            ..
        })
    };
    (BrLoad8U $t:ident) => {
        Instr::BrLoad8U(LoadBr {
            test: LoadTest::$t,
            ..
        })
    };
    (BrLoadAbs $t:ident) => {
        Instr::BrLoadAbs(LoadAbsBr {
            test: LoadTest::$t,
            ..
        })
    };
    (BrLoadPostStep $t:ident) => {
        Instr::BrLoadPostStep(LoadStepBr {
            test: LoadTest::$t,
            ..
        })
    };
    (BrLoad8UPostStep $t:ident) => {
        Instr::BrLoad8UPostStep(LoadStepBr {
            test: LoadTest::$t,
            ..
        })
    };
    (BrLoadPreStep $t:ident) => {
        Instr::BrLoadPreStep(LoadStepBr {
            test: LoadTest::$t,
            ..
        })
    };
    (BrLoad8UPreStep $t:ident) => {
        Instr::BrLoad8UPreStep(LoadStepBr {
            test: LoadTest::$t,
            ..
        })
    };
    (BrInc $t:ident) => {
        Instr::BrInc(IncBr {
            test: IncTest::$t,
            ..
        })
    };
    (BrIncBy $t:ident) => {
        Instr::BrIncBy(IncBr {
            test: IncTest::$t,
            ..
        })
    };
    ($n:ident) => {
        Instr::$n { .. }
    };
}

/// The handler of the instruction [`pair_pattern`] matches, falling through to `K`.
macro_rules! pair_handler {
    ($k:ty; BrLoad $t:ident) => {
        br_load::<$k, { LoadTest::$t as u8 }, AT_OFFSET, false>
    };
    ($k:ty; BrLoad8U $t:ident) => {
        br_load::<$k, { LoadTest::$t as u8 }, AT_OFFSET, true>
    };
    ($k:ty; BrLoadAbs $t:ident) => {
        br_load::<$k, { LoadTest::$t as u8 }, AT_CONSTANT, false>
    };
    ($k:ty; BrLoadPostStep $t:ident) => {
        br_load::<$k, { LoadTest::$t as u8 }, POST_STEP, false>
    };
    ($k:ty; BrLoad8UPostStep $t:ident) => {
        br_load::<$k, { LoadTest::$t as u8 }, POST_STEP, true>
    };
    ($k:ty; BrLoadPreStep $t:ident) => {
        br_load::<$k, { LoadTest::$t as u8 }, PRE_STEP, false>
    };
    ($k:ty; BrLoad8UPreStep $t:ident) => {
        br_load::<$k, { LoadTest::$t as u8 }, PRE_STEP, true>
    };
    ($k:ty; BrInc $t:ident) => {
        br_inc::<$k, { IncTest::$t as u8 }, false>
    };
    ($k:ty; BrIncBy $t:ident) => {
        br_inc::<$k, { IncTest::$t as u8 }, true>
    };
    ($k:ty; ConsumeFuel) => {
        consume_fuel::<$k>
    };
    ($k:ty; BrTable) => {
        br_table
    };
    ($k:ty; BrTableLoad) => {
        br_table_load
    };
    ($k:ty; BrTableLoadDisp) => {
        br_table_load_disp
    };
    ($k:ty; CallInternal) => {
        call_internal
    };
    ($k:ty; CallIndirect) => {
        call_indirect_
    };
    ($k:ty; Return) => {
        return_
    };
    ($k:ty; ReturnSlot) => {
        return_slot
    };
    ($k:ty; $n:ident) => {
        $n::<$k>
    };
}

/// The handlers of a family with one handler per test, by the test's discriminant, from
/// [`pair_handler`]: the one macro that says which instance of `br_inc`/`br_load` runs
/// which instruction, for single instructions and for pairs.
macro_rules! family_table {
    (IncTest, $family:ident) => {
        family_table!($family, IncTest: Nez Ne LtU LtS NeImm LtUImm LtSImm)
    };
    (LoadTest, $family:ident) => {
        family_table!($family, LoadTest: Nez Eqz Eq Ne LtS LtU GtS GtU LeS LeU GeS GeU EqImm
            NeImm LtSImm LtUImm GtSImm GtUImm LeSImm LeUImm GeSImm GeUImm)
    };
    ($family:ident, $tests:ident: $($t:ident)*) => {{
        // Listed in discriminant order, every test once.
        const _: () = {
            let tests = [$($tests::$t as usize,)*];
            assert!(tests.len() == $tests::ALL.len());
            let mut i = 0;
            while i < tests.len() {
                assert!(tests[i] == i);
                i += 1;
            }
        };
        [$(pair_handler!(Dispatch; $family $t) as Handler,)*]
    }};
}
static BR_INC: [Handler; 7] = family_table!(IncTest, BrInc);
static BR_INC_BY: [Handler; 7] = family_table!(IncTest, BrIncBy);
static BR_LOAD: [Handler; 22] = family_table!(LoadTest, BrLoad);
static BR_LOAD8U: [Handler; 22] = family_table!(LoadTest, BrLoad8U);
static BR_LOAD_ABS: [Handler; 22] = family_table!(LoadTest, BrLoadAbs);
static BR_LOAD_POST: [Handler; 22] = family_table!(LoadTest, BrLoadPostStep);
static BR_LOAD8U_POST: [Handler; 22] = family_table!(LoadTest, BrLoad8UPostStep);
static BR_LOAD_PRE: [Handler; 22] = family_table!(LoadTest, BrLoadPreStep);
static BR_LOAD8U_PRE: [Handler; 22] = family_table!(LoadTest, BrLoad8UPreStep);
// The handlers index `ALL` by their test's discriminant.
const _: () = {
    let mut i = 0;
    while i < LoadTest::ALL.len() {
        assert!(LoadTest::ALL[i] as usize == i);
        i += 1;
    }
    let mut i = 0;
    while i < IncTest::ALL.len() {
        assert!(IncTest::ALL[i] as usize == i);
        i += 1;
    }
};
static V128_LOAD: [Handler; 13] = simd_table!(v128_load: 0 1 2 3 4 5 6 7 8 9 10 11 12);
const _: () = assert!(
    V128_UNARY.len() == SimdUnary::ALL.len()
        && V128_BINARY.len() == SimdBinary::ALL.len()
        && V128_BINARY_CONST.len() == SimdBinary::ALL.len()
        && V128_SHIFT.len() == SimdShift::ALL.len()
        && V128_SHIFT_IMM.len() == SimdShift::ALL.len()
        && V128_TEST.len() == SimdTest::ALL.len()
        && V128_LOAD.len() == SimdLoad::ALL.len()
        && BR_INC.len() == IncTest::ALL.len()
        && BR_INC_BY.len() == IncTest::ALL.len()
        && BR_LOAD.len() == LoadTest::ALL.len()
        && BR_LOAD8U.len() == LoadTest::ALL.len()
        && BR_LOAD_ABS.len() == LoadTest::ALL.len()
        && BR_LOAD_POST.len() == LoadTest::ALL.len()
        && BR_LOAD8U_POST.len() == LoadTest::ALL.len()
        && BR_LOAD_PRE.len() == LoadTest::ALL.len()
        && BR_LOAD8U_PRE.len() == LoadTest::ALL.len()
);

/// The handler of operator `op` (a discriminant) in `table` (a SIMD class, or the tests of
/// `BrInc`); the tables have one entry per operator, so the fallback is never taken.
fn handler_in(table: &[Handler], op: u8) -> Handler {
    table.get(op as usize).copied().unwrap_or(to_match)
}

/// `br_table`: the arms follow it; an arm that is a plain branch is taken here, without
/// dispatching it.
fn br_table(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let Instr::BrTable { index, len, add } = unpack::BrTable(&op.raw) else {
        return Exit::INTERNAL;
    };
    let v = regs[cell(index as u64)].get() as u32;
    table_jump(ctx, v, add as u32, len, rest, regs)
}

fn br_table_load(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let Instr::BrTableLoad {
        dst,
        addr,
        offset,
        len,
    } = unpack::BrTableLoad(&op.raw)
    else {
        return Exit::INTERNAL;
    };
    let at = effective(regs[cell(addr as u64)].get(), offset);
    let Some(v) = load_bytes::<4>(ctx.mem, at).map(u32::from_le_bytes) else {
        return Exit::trap(Fault::MemoryOutOfBounds, pc_of(ctx, rest));
    };
    regs[cell(dst as u64)].set(v as u64);
    table_jump(ctx, v, 0, len, rest, regs)
}

fn br_table_load_disp(ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], regs: &Regs) -> Exit {
    let Instr::BrTableLoadDisp {
        dst,
        addr,
        shift,
        disp,
        len,
    } = unpack::BrTableLoadDisp(&op.raw)
    else {
        return Exit::INTERNAL;
    };
    // As `I32LoadDisp`: shift and add wrap at 32 bits.
    let at = ((regs[cell(addr as u64)].get() as u32) << (shift & 31)).wrapping_add(disp as u32);
    let Some(v) = load_bytes::<4>(ctx.mem, at as u64).map(u32::from_le_bytes) else {
        return Exit::trap(Fault::MemoryOutOfBounds, pc_of(ctx, rest));
    };
    regs[cell(dst as u64)].set(v as u64);
    table_jump(ctx, v, 0, len, rest, regs)
}

/// The jump of a `BrTable*` on `v`: to arm `min(v + add, len)` of the `Br`s after it.
#[inline(always)]
fn table_jump(ctx: &mut Ctx<'_, '_>, v: u32, add: u32, len: u32, rest: &[Op], regs: &Regs) -> Exit {
    let i = v.wrapping_add(add).min(len) as usize;
    match rest.get(i) {
        Some(arm) if arm.tag == Tag::Br => match unpack::Br(&arm.raw) {
            Instr::Br { target } => goto(ctx, target, regs),
            _ => Exit::INTERNAL,
        },
        Some(arm) if arm.tag == Tag::BrBack => match unpack::BrBack(&arm.raw) {
            Instr::BrBack { target } => jump(ctx, target, rest, regs),
            _ => Exit::INTERNAL,
        },
        Some(_) => next(ctx, &rest[i..], regs),
        None => Exit::INTERNAL,
    }
}

macro_rules! r {
    ($regs:ident, $s:expr) => {
        $regs[cell($s as u64)].get()
    };
}
macro_rules! w {
    ($regs:ident, $s:expr, $v:expr) => {
        $regs[cell($s as u64)].set($v)
    };
}
macro_rules! trap {
    ($f:expr) => {
        return Err($f)
    };
}
macro_rules! bin32 {
    ($regs:ident, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let Bin { dst, lhs, rhs } = $b;
        let $x = r!($regs, lhs) as u32;
        let $y = r!($regs, rhs) as u32;
        w!($regs, dst, ($e) as u32 as u64);
    }};
}
macro_rules! bin32s {
    ($regs:ident, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let Bin { dst, lhs, rhs } = $b;
        let $x = r!($regs, lhs) as u32 as i32;
        let $y = r!($regs, rhs) as u32 as i32;
        w!($regs, dst, ($e) as u32 as u64);
    }};
}
macro_rules! imm32 {
    ($regs:ident, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let BinImm { dst, lhs, imm } = $b;
        let $x = r!($regs, lhs) as u32;
        let $y = imm as u32;
        w!($regs, dst, ($e) as u32 as u64);
    }};
}
macro_rules! imm32s {
    ($regs:ident, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let BinImm { dst, lhs, imm } = $b;
        let $x = r!($regs, lhs) as u32 as i32;
        let $y = imm;
        w!($regs, dst, ($e) as u32 as u64);
    }};
}
macro_rules! bin64 {
    ($regs:ident, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let Bin { dst, lhs, rhs } = $b;
        let $x = r!($regs, lhs);
        let $y = r!($regs, rhs);
        w!($regs, dst, ($e) as u64);
    }};
}
macro_rules! bin64s {
    ($regs:ident, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let Bin { dst, lhs, rhs } = $b;
        let $x = r!($regs, lhs) as i64;
        let $y = r!($regs, rhs) as i64;
        w!($regs, dst, ($e) as u64);
    }};
}
macro_rules! imm64 {
    ($regs:ident, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let BinImm { dst, lhs, imm } = $b;
        let $x = r!($regs, lhs);
        let $y = imm as i64 as u64;
        w!($regs, dst, ($e) as u64);
    }};
}
macro_rules! imm64s {
    ($regs:ident, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let BinImm { dst, lhs, imm } = $b;
        let $x = r!($regs, lhs) as i64;
        let $y = imm as i64;
        w!($regs, dst, ($e) as u64);
    }};
}
// The fused two-operand forms with a shift or rotation amount (`BinShift`).
macro_rules! bin_shift {
    ($regs:ident, $b:expr, |$x:ident, $y:ident, $s:ident| $e:expr) => {{
        let BinShift {
            dst,
            lhs,
            rhs,
            shift,
        } = $b;
        let $x = r!($regs, lhs);
        let $y = r!($regs, rhs);
        let $s = shift as u32;
        w!($regs, dst, $e);
    }};
}
macro_rules! un {
    ($regs:ident, $u:expr, |$x:ident| $e:expr) => {{
        let Un { dst, src } = $u;
        let $x = r!($regs, src);
        w!($regs, dst, $e);
    }};
}
macro_rules! f32bin {
    ($regs:ident, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let Bin { dst, lhs, rhs } = $b;
        let $x = f32_of(r!($regs, lhs));
        let $y = f32_of(r!($regs, rhs));
        w!($regs, dst, $e);
    }};
}
macro_rules! f64bin {
    ($regs:ident, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
        let Bin { dst, lhs, rhs } = $b;
        let $x = f64_of(r!($regs, lhs));
        let $y = f64_of(r!($regs, rhs));
        w!($regs, dst, $e);
    }};
}
macro_rules! trunc {
    ($regs:ident, $u:expr, $f:expr, $conv:expr, |$v:ident| $e:expr) => {{
        let Un { dst, src } = $u;
        match $f($conv(r!($regs, src))) {
            Ok($v) => w!($regs, dst, $e),
            Err(num::TruncError::Nan) => trap!(Fault::InvalidConversionToInteger),
            Err(num::TruncError::Overflow) => trap!(Fault::IntegerOverflow),
        }
    }};
}
// Loads `$n` bytes at wasm address `$addr + $offset` into `$dst` (the shared tail of every
// load form).
macro_rules! load_at {
    ($ctx:ident, $regs:ident, $addr:expr, $offset:expr, $dst:expr, $n:literal, |$b:ident| $e:expr) => {{
        match load_bytes::<$n>($ctx.mem, effective($addr, $offset)) {
            Some($b) => w!($regs, $dst, $e),
            None => trap!(Fault::MemoryOutOfBounds),
        }
    }};
}
macro_rules! load {
    ($ctx:ident, $regs:ident, $l:expr, $n:literal, |$b:ident| $e:expr) => {{
        let Load { dst, addr, offset } = $l;
        load_at!($ctx, $regs, r!($regs, addr), offset, dst, $n, |$b| $e)
    }};
}
macro_rules! load_idx {
    ($ctx:ident, $regs:ident, $l:expr, $n:literal, |$b:ident| $e:expr) => {{
        let LoadIdx {
            dst,
            base,
            index,
            shift,
            offset,
        } = $l;
        let addr = (r!($regs, base) as u32).wrapping_add((r!($regs, index) as u32) << shift);
        load_at!($ctx, $regs, addr as u64, offset, dst, $n, |$b| $e)
    }};
}
macro_rules! load_disp {
    ($ctx:ident, $regs:ident, $l:expr, $n:literal, |$b:ident| $e:expr) => {{
        let LoadDisp {
            dst,
            addr,
            shift,
            disp,
            offset,
        } = $l;
        let addr = ((r!($regs, addr) as u32) << shift).wrapping_add(disp as u32);
        load_at!($ctx, $regs, addr as u64, offset, dst, $n, |$b| $e)
    }};
}
// Stores `$bytes` at wasm address `$addr + $offset` (every store form's tail).
macro_rules! store_at {
    ($ctx:ident, $regs:ident, $addr:expr, $offset:expr, $bytes:expr) => {{
        if store_bytes($ctx.mem, effective($addr, $offset), $bytes).is_none() {
            trap!(Fault::MemoryOutOfBounds);
        }
    }};
}
macro_rules! store {
    ($ctx:ident, $regs:ident, $s:expr, |$v:ident| $e:expr) => {{
        let Store { addr, src, offset } = $s;
        let $v = r!($regs, src);
        store_at!($ctx, $regs, r!($regs, addr), offset, $e)
    }};
}
macro_rules! store_disp {
    ($ctx:ident, $regs:ident, $s:expr, |$v:ident| $e:expr) => {{
        let StoreDisp {
            addr,
            src,
            disp,
            offset,
        } = $s;
        let $v = r!($regs, src);
        let addr = (r!($regs, addr) as u32).wrapping_add(disp as u32);
        store_at!($ctx, $regs, addr as u64, offset, $e)
    }};
}
macro_rules! store_imm_disp {
    ($ctx:ident, $regs:ident, $s:expr, |$v:ident| $e:expr) => {{
        let StoreImmDisp {
            addr,
            value,
            disp,
            offset,
        } = $s;
        let $v = value as i64 as u64;
        let addr = (r!($regs, addr) as u32).wrapping_add(disp as u32);
        store_at!($ctx, $regs, addr as u64, offset, $e)
    }};
}
macro_rules! store_imm {
    ($ctx:ident, $regs:ident, $s:expr, |$v:ident| $e:expr) => {{
        let StoreImm {
            addr,
            value,
            offset,
        } = $s;
        let $v = value as i64 as u64;
        store_at!($ctx, $regs, r!($regs, addr), offset, $e)
    }};
}
macro_rules! brcmp {
    ($cond:expr, $target:expr) => {{
        if $cond {
            Some($target)
        } else {
            None
        }
    }};
}

/// Defines the handlers: `ops` run their body (which may `trap!`) and go on with the next
/// instruction; `branches` evaluate to the target taken, if any. Also defines
/// [`handler_for`], which gives every other instruction `to_match`.
macro_rules! handlers {
    (
        |$ctx:ident, $regs:ident|
        ops { $( $on:ident: $op:pat => $ob:block )* }
        branches { $( $bn:ident: $bp:pat => $bb:block )* }
    ) => {
        $(
            #[allow(unused_variables, clippy::redundant_closure_call)]
            #[inline(always)]
            fn $on<K: Then>($ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], $regs: &Regs) -> Exit {
                let $op = unpack::$on(&op.raw) else {
                    return Exit::INTERNAL;
                };
                #[allow(unreachable_code)]
                let result: Result<(), Fault> = (|| {
                    $ob;
                    Ok(())
                })();
                if let Err(fault) = result {
                    return Exit::trap(fault, pc_of($ctx, rest));
                }
                K::next($ctx, rest, $regs)
            }
        )*
        $(
            // The `BrF*Not*` branches negate a float comparison on purpose: with a NaN,
            // `!(a < b)` holds where `a >= b` does not.
            #[allow(unused_variables, clippy::neg_cmp_op_on_partial_ord)]
            #[inline(always)]
            fn $bn<K: Then>($ctx: &mut Ctx<'_, '_>, op: &Op, rest: &[Op], $regs: &Regs) -> Exit {
                let $bp = unpack::$bn(&op.raw) else {
                    return Exit::INTERNAL;
                };
                // A branch that loads may trap (`trap!` returns from the closure).
                #[allow(clippy::redundant_closure_call, unreachable_code)]
                let taken: Result<Option<Target>, Fault> = (|| Ok($bb))();
                match taken {
                    Ok(Some(target)) => jump($ctx, target, rest, $regs),
                    Ok(None) => K::next($ctx, rest, $regs),
                    Err(fault) => Exit::trap(fault, pc_of($ctx, rest)),
                }
            }
        )*

        /// The handler of `instr`.
        #[allow(unused_variables)]
        pub(crate) fn handler_for(instr: &Instr) -> Handler {
            match *instr {
                $( $op => $on::<Dispatch>, )*
                $( $bp => $bn::<Dispatch>, )*
                Instr::ConsumeFuel { .. } => consume_fuel::<Dispatch>,
                Instr::BrTable { .. } => br_table,
                Instr::BrTableLoad { .. } => br_table_load,
                Instr::BrTableLoadDisp { .. } => br_table_load_disp,
                Instr::CallInternal { .. } => call_internal,
                Instr::CallIndirect { .. } => call_indirect_,
                Instr::CallImported { .. } => call_imported,
                Instr::MemoryFill { .. } => memory_fill,
                Instr::MemoryCopy { .. } => memory_copy,
                Instr::V128Unary { op, .. } => handler_in(&V128_UNARY, op as u8),
                Instr::V128Binary { op, .. } => handler_in(&V128_BINARY, op as u8),
                Instr::V128BinaryConst { op, .. } => handler_in(&V128_BINARY_CONST, op as u8),
                Instr::V128Shift { op, .. } => handler_in(&V128_SHIFT, op as u8),
                Instr::V128ShiftImm { op, .. } => handler_in(&V128_SHIFT_IMM, op as u8),
                Instr::V128Rotl32Imm { .. } => v128_rotl_imm::<false>,
                Instr::V128Rotl64Imm { .. } => v128_rotl_imm::<true>,
                Instr::V128Test { op, .. } => handler_in(&V128_TEST, op as u8),
                Instr::V128Load { op, .. } => handler_in(&V128_LOAD, op as u8),
                Instr::BrInc(b) => handler_in(&BR_INC, b.test as u8),
                Instr::BrIncBy(b) => handler_in(&BR_INC_BY, b.test as u8),
                Instr::BrLoad(b) => handler_in(&BR_LOAD, b.test as u8),
                Instr::BrLoad8U(b) => handler_in(&BR_LOAD8U, b.test as u8),
                Instr::BrLoadAbs(b) => handler_in(&BR_LOAD_ABS, b.test as u8),
                Instr::BrLoadPostStep(b) => handler_in(&BR_LOAD_POST, b.test as u8),
                Instr::BrLoad8UPostStep(b) => handler_in(&BR_LOAD8U_POST, b.test as u8),
                Instr::BrLoadPreStep(b) => handler_in(&BR_LOAD_PRE, b.test as u8),
                Instr::BrLoad8UPreStep(b) => handler_in(&BR_LOAD8U_PRE, b.test as u8),
                Instr::Return => return_,
                Instr::ReturnSlot { .. } => return_slot,
                Instr::StrlenOrSkip { .. } => strlen_or_skip,
                _ => to_match,
            }
        }
    };
}

handlers! {
|ctx, regs|
ops {
    I32Eqz: Instr::I32Eqz(u) => { un!(regs, u, |x| (x as u32 == 0) as u64) }
    I32Clz: Instr::I32Clz(u) => { un!(regs, u, |x| (x as u32).leading_zeros() as u64) }
    I32Ctz: Instr::I32Ctz(u) => { un!(regs, u, |x| (x as u32).trailing_zeros() as u64) }
    I32Popcnt: Instr::I32Popcnt(u) => { un!(regs, u, |x| (x as u32).count_ones() as u64) }
    I32Eq: Instr::I32Eq(b) => { bin32!(regs, b, |x, y| x == y) }
    I32Ne: Instr::I32Ne(b) => { bin32!(regs, b, |x, y| x != y) }
    I32LtS: Instr::I32LtS(b) => { bin32s!(regs, b, |x, y| x < y) }
    I32LtU: Instr::I32LtU(b) => { bin32!(regs, b, |x, y| x < y) }
    I32GtS: Instr::I32GtS(b) => { bin32s!(regs, b, |x, y| x > y) }
    I32GtU: Instr::I32GtU(b) => { bin32!(regs, b, |x, y| x > y) }
    I32LeS: Instr::I32LeS(b) => { bin32s!(regs, b, |x, y| x <= y) }
    I32LeU: Instr::I32LeU(b) => { bin32!(regs, b, |x, y| x <= y) }
    I32GeS: Instr::I32GeS(b) => { bin32s!(regs, b, |x, y| x >= y) }
    I32GeU: Instr::I32GeU(b) => { bin32!(regs, b, |x, y| x >= y) }
    I32Add: Instr::I32Add(b) => { bin32!(regs, b, |x, y| x.wrapping_add(y)) }
    I32Sub: Instr::I32Sub(b) => { bin32!(regs, b, |x, y| x.wrapping_sub(y)) }
    I32Mul: Instr::I32Mul(b) => { bin32!(regs, b, |x, y| x.wrapping_mul(y)) }
    I32DivS: Instr::I32DivS(Bin { dst, lhs, rhs }) => {
    let (x, y) = (r!(regs, lhs) as u32 as i32, r!(regs, rhs) as u32 as i32);
    if y == 0 {
        trap!(Fault::IntegerDivideByZero);
    }
    if x == i32::MIN && y == -1 {
        trap!(Fault::IntegerOverflow);
    }
    w!(regs, dst, (x / y) as u32 as u64);
}
    I32DivU: Instr::I32DivU(Bin { dst, lhs, rhs }) => {
    let (x, y) = (r!(regs, lhs) as u32, r!(regs, rhs) as u32);
    if y == 0 {
        trap!(Fault::IntegerDivideByZero);
    }
    w!(regs, dst, (x / y) as u64);
}
    I32RemS: Instr::I32RemS(Bin { dst, lhs, rhs }) => {
    let (x, y) = (r!(regs, lhs) as u32 as i32, r!(regs, rhs) as u32 as i32);
    if y == 0 {
        trap!(Fault::IntegerDivideByZero);
    }
    w!(regs, dst, x.wrapping_rem(y) as u32 as u64);
}
    I32RemU: Instr::I32RemU(Bin { dst, lhs, rhs }) => {
    let (x, y) = (r!(regs, lhs) as u32, r!(regs, rhs) as u32);
    if y == 0 {
        trap!(Fault::IntegerDivideByZero);
    }
    w!(regs, dst, (x % y) as u64);
}
    I32DivUImm: Instr::I32DivUImm(DivImm { dst, lhs, magic, divisor }) => {
    let shift = num::reciprocal_shift(divisor);
    w!(regs, dst, num::div_u32_by(r!(regs, lhs) as u32, magic, shift) as u64);
}
    I32RemUImm: Instr::I32RemUImm(DivImm { dst, lhs, magic, divisor }) => {
    let x = r!(regs, lhs) as u32;
    let q = num::div_u32_by(x, magic, num::reciprocal_shift(divisor));
    w!(regs, dst, x.wrapping_sub(q.wrapping_mul(divisor)) as u64);
}
    I32And: Instr::I32And(b) => { bin32!(regs, b, |x, y| x & y) }
    I32Or: Instr::I32Or(b) => { bin32!(regs, b, |x, y| x | y) }
    I32Xor: Instr::I32Xor(b) => { bin32!(regs, b, |x, y| x ^ y) }
    I32Shl: Instr::I32Shl(b) => { bin32!(regs, b, |x, y| x.wrapping_shl(y)) }
    I32ShrS: Instr::I32ShrS(b) => { bin32s!(regs, b, |x, y| x.wrapping_shr(y as u32)) }
    I32ShrU: Instr::I32ShrU(b) => { bin32!(regs, b, |x, y| x.wrapping_shr(y)) }
    I32Rotl: Instr::I32Rotl(b) => { bin32!(regs, b, |x, y| x.rotate_left(y % 32)) }
    I32Rotr: Instr::I32Rotr(b) => { bin32!(regs, b, |x, y| x.rotate_right(y % 32)) }
    I32EqImm: Instr::I32EqImm(b) => { imm32!(regs, b, |x, y| x == y) }
    I32NeImm: Instr::I32NeImm(b) => { imm32!(regs, b, |x, y| x != y) }
    I32LtSImm: Instr::I32LtSImm(b) => { imm32s!(regs, b, |x, y| x < y) }
    I32LtUImm: Instr::I32LtUImm(b) => { imm32!(regs, b, |x, y| x < y) }
    I32GtSImm: Instr::I32GtSImm(b) => { imm32s!(regs, b, |x, y| x > y) }
    I32GtUImm: Instr::I32GtUImm(b) => { imm32!(regs, b, |x, y| x > y) }
    I32LeSImm: Instr::I32LeSImm(b) => { imm32s!(regs, b, |x, y| x <= y) }
    I32LeUImm: Instr::I32LeUImm(b) => { imm32!(regs, b, |x, y| x <= y) }
    I32GeSImm: Instr::I32GeSImm(b) => { imm32s!(regs, b, |x, y| x >= y) }
    I32GeUImm: Instr::I32GeUImm(b) => { imm32!(regs, b, |x, y| x >= y) }
    I32AddImm: Instr::I32AddImm(b) => { imm32!(regs, b, |x, y| x.wrapping_add(y)) }
    I32SubRevImm: Instr::I32SubRevImm(b) => { imm32!(regs, b, |x, y| y.wrapping_sub(x)) }
    I32ShlRevImm: Instr::I32ShlRevImm(b) => { imm32!(regs, b, |x, y| y.wrapping_shl(x)) }
    I32MulImm: Instr::I32MulImm(b) => { imm32!(regs, b, |x, y| x.wrapping_mul(y)) }
    I32AndImm: Instr::I32AndImm(b) => { imm32!(regs, b, |x, y| x & y) }
    I32OrImm: Instr::I32OrImm(b) => { imm32!(regs, b, |x, y| x | y) }
    I32XorImm: Instr::I32XorImm(b) => { imm32!(regs, b, |x, y| x ^ y) }
    I32ShlImm: Instr::I32ShlImm(b) => { imm32!(regs, b, |x, y| x.wrapping_shl(y)) }
    I32ShrSImm: Instr::I32ShrSImm(b) => { imm32s!(regs, b, |x, y| x.wrapping_shr(y as u32)) }
    I32ShrUImm: Instr::I32ShrUImm(b) => { imm32!(regs, b, |x, y| x.wrapping_shr(y)) }
    I32RotlImm: Instr::I32RotlImm(b) => { imm32!(regs, b, |x, y| x.rotate_left(y)) }
    I32NotShlImm: Instr::I32NotShlImm(b) => { imm32!(regs, b, |x, y| !x.wrapping_shl(y)) }
    I64Eqz: Instr::I64Eqz(u) => { un!(regs, u, |x| (x == 0) as u64) }
    I64Clz: Instr::I64Clz(u) => { un!(regs, u, |x| x.leading_zeros() as u64) }
    I64Ctz: Instr::I64Ctz(u) => { un!(regs, u, |x| x.trailing_zeros() as u64) }
    I64Popcnt: Instr::I64Popcnt(u) => { un!(regs, u, |x| x.count_ones() as u64) }
    I64Eq: Instr::I64Eq(b) => { bin64!(regs, b, |x, y| x == y) }
    I64Ne: Instr::I64Ne(b) => { bin64!(regs, b, |x, y| x != y) }
    I64LtS: Instr::I64LtS(b) => { bin64s!(regs, b, |x, y| x < y) }
    I64LtU: Instr::I64LtU(b) => { bin64!(regs, b, |x, y| x < y) }
    I64GtS: Instr::I64GtS(b) => { bin64s!(regs, b, |x, y| x > y) }
    I64GtU: Instr::I64GtU(b) => { bin64!(regs, b, |x, y| x > y) }
    I64LeS: Instr::I64LeS(b) => { bin64s!(regs, b, |x, y| x <= y) }
    I64LeU: Instr::I64LeU(b) => { bin64!(regs, b, |x, y| x <= y) }
    I64GeS: Instr::I64GeS(b) => { bin64s!(regs, b, |x, y| x >= y) }
    I64GeU: Instr::I64GeU(b) => { bin64!(regs, b, |x, y| x >= y) }
    I64Add: Instr::I64Add(b) => { bin64!(regs, b, |x, y| x.wrapping_add(y)) }
    I64Sub: Instr::I64Sub(b) => { bin64!(regs, b, |x, y| x.wrapping_sub(y)) }
    I64Mul: Instr::I64Mul(b) => { bin64!(regs, b, |x, y| x.wrapping_mul(y)) }
    I64DivS: Instr::I64DivS(Bin { dst, lhs, rhs }) => {
    let (x, y) = (r!(regs, lhs) as i64, r!(regs, rhs) as i64);
    if y == 0 {
        trap!(Fault::IntegerDivideByZero);
    }
    if x == i64::MIN && y == -1 {
        trap!(Fault::IntegerOverflow);
    }
    w!(regs, dst, (x / y) as u64);
}
    I64DivU: Instr::I64DivU(Bin { dst, lhs, rhs }) => {
    let (x, y) = (r!(regs, lhs), r!(regs, rhs));
    if y == 0 {
        trap!(Fault::IntegerDivideByZero);
    }
    w!(regs, dst, x / y);
}
    I64RemS: Instr::I64RemS(Bin { dst, lhs, rhs }) => {
    let (x, y) = (r!(regs, lhs) as i64, r!(regs, rhs) as i64);
    if y == 0 {
        trap!(Fault::IntegerDivideByZero);
    }
    w!(regs, dst, x.wrapping_rem(y) as u64);
}
    I64RemU: Instr::I64RemU(Bin { dst, lhs, rhs }) => {
    let (x, y) = (r!(regs, lhs), r!(regs, rhs));
    if y == 0 {
        trap!(Fault::IntegerDivideByZero);
    }
    w!(regs, dst, x % y);
}
    I64And: Instr::I64And(b) => { bin64!(regs, b, |x, y| x & y) }
    I64Or: Instr::I64Or(b) => { bin64!(regs, b, |x, y| x | y) }
    I64Xor: Instr::I64Xor(b) => { bin64!(regs, b, |x, y| x ^ y) }
    I64Shl: Instr::I64Shl(b) => { bin64!(regs, b, |x, y| x.wrapping_shl(y as u32)) }
    I64ShrS: Instr::I64ShrS(b) => { bin64s!(regs, b, |x, y| x.wrapping_shr(y as u32)) }
    I64ShrU: Instr::I64ShrU(b) => { bin64!(regs, b, |x, y| x.wrapping_shr(y as u32)) }
    I64Rotl: Instr::I64Rotl(b) => { bin64!(regs, b, |x, y| x.rotate_left((y % 64) as u32)) }
    I64Rotr: Instr::I64Rotr(b) => { bin64!(regs, b, |x, y| x.rotate_right((y % 64) as u32)) }
    I64EqImm: Instr::I64EqImm(b) => { imm64!(regs, b, |x, y| x == y) }
    I64NeImm: Instr::I64NeImm(b) => { imm64!(regs, b, |x, y| x != y) }
    I64LtSImm: Instr::I64LtSImm(b) => { imm64s!(regs, b, |x, y| x < y) }
    I64LtUImm: Instr::I64LtUImm(b) => { imm64!(regs, b, |x, y| x < y) }
    I64GtSImm: Instr::I64GtSImm(b) => { imm64s!(regs, b, |x, y| x > y) }
    I64GtUImm: Instr::I64GtUImm(b) => { imm64!(regs, b, |x, y| x > y) }
    I64LeSImm: Instr::I64LeSImm(b) => { imm64s!(regs, b, |x, y| x <= y) }
    I64LeUImm: Instr::I64LeUImm(b) => { imm64!(regs, b, |x, y| x <= y) }
    I64GeSImm: Instr::I64GeSImm(b) => { imm64s!(regs, b, |x, y| x >= y) }
    I64GeUImm: Instr::I64GeUImm(b) => { imm64!(regs, b, |x, y| x >= y) }
    I64AddImm: Instr::I64AddImm(b) => { imm64!(regs, b, |x, y| x.wrapping_add(y)) }
    I64MulImm: Instr::I64MulImm(b) => { imm64!(regs, b, |x, y| x.wrapping_mul(y)) }
    I64AndImm: Instr::I64AndImm(b) => { imm64!(regs, b, |x, y| x & y) }
    I64OrImm: Instr::I64OrImm(b) => { imm64!(regs, b, |x, y| x | y) }
    I64XorImm: Instr::I64XorImm(b) => { imm64!(regs, b, |x, y| x ^ y) }
    I64ShlImm: Instr::I64ShlImm(b) => { imm64!(regs, b, |x, y| x.wrapping_shl(y as u32)) }
    I64ShrSImm: Instr::I64ShrSImm(b) => { imm64s!(regs, b, |x, y| x.wrapping_shr(y as u32)) }
    I64ShrUImm: Instr::I64ShrUImm(b) => { imm64!(regs, b, |x, y| x.wrapping_shr(y as u32)) }
    I64RotlImm: Instr::I64RotlImm(b) => { imm64!(regs, b, |x, y| x.rotate_left(y as u32)) }
    F32Eq: Instr::F32Eq(b) => { f32bin!(regs, b, |x, y| (x == y) as u64) }
    F32Ne: Instr::F32Ne(b) => { f32bin!(regs, b, |x, y| (x != y) as u64) }
    F32Lt: Instr::F32Lt(b) => { f32bin!(regs, b, |x, y| (x < y) as u64) }
    F32Gt: Instr::F32Gt(b) => { f32bin!(regs, b, |x, y| (x > y) as u64) }
    F32Le: Instr::F32Le(b) => { f32bin!(regs, b, |x, y| (x <= y) as u64) }
    F32Ge: Instr::F32Ge(b) => { f32bin!(regs, b, |x, y| (x >= y) as u64) }
    F32Abs: Instr::F32Abs(u) => { un!(regs, u, |x| x & 0x7fff_ffff) }
    F32Neg: Instr::F32Neg(u) => { un!(regs, u, |x| (x as u32 ^ 0x8000_0000) as u64) }
    F32Ceil: Instr::F32Ceil(u) => { un!(regs, u, |x| of_f32(num::f32_ceil(f32_of(x)))) }
    F32Floor: Instr::F32Floor(u) => { un!(regs, u, |x| of_f32(num::f32_floor(f32_of(x)))) }
    F32Trunc: Instr::F32Trunc(u) => { un!(regs, u, |x| of_f32(num::f32_trunc(f32_of(x)))) }
    F32Nearest: Instr::F32Nearest(u) => { un!(regs, u, |x| of_f32(num::f32_nearest(f32_of(x)))) }
    F32Sqrt: Instr::F32Sqrt(u) => { un!(regs, u, |x| of_f32(f32_of(x).sqrt())) }
    F32Add: Instr::F32Add(b) => { f32bin!(regs, b, |x, y| of_f32(x + y)) }
    F32Sub: Instr::F32Sub(b) => { f32bin!(regs, b, |x, y| of_f32(x - y)) }
    F32Mul: Instr::F32Mul(b) => { f32bin!(regs, b, |x, y| of_f32(x * y)) }
    F32Div: Instr::F32Div(b) => { f32bin!(regs, b, |x, y| of_f32(x / y)) }
    F32Min: Instr::F32Min(b) => { f32bin!(regs, b, |x, y| of_f32(num::f32_min(x, y))) }
    F32Max: Instr::F32Max(b) => { f32bin!(regs, b, |x, y| of_f32(num::f32_max(x, y))) }
    F32Copysign: Instr::F32Copysign(Bin { dst, lhs, rhs }) => {
    w!(regs, dst, (r!(regs, lhs) & 0x7fff_ffff) | (r!(regs, rhs) & 0x8000_0000));
}
    F64Eq: Instr::F64Eq(b) => { f64bin!(regs, b, |x, y| (x == y) as u64) }
    F64Ne: Instr::F64Ne(b) => { f64bin!(regs, b, |x, y| (x != y) as u64) }
    F64Lt: Instr::F64Lt(b) => { f64bin!(regs, b, |x, y| (x < y) as u64) }
    F64Gt: Instr::F64Gt(b) => { f64bin!(regs, b, |x, y| (x > y) as u64) }
    F64Le: Instr::F64Le(b) => { f64bin!(regs, b, |x, y| (x <= y) as u64) }
    F64Ge: Instr::F64Ge(b) => { f64bin!(regs, b, |x, y| (x >= y) as u64) }
    F64Abs: Instr::F64Abs(u) => { un!(regs, u, |x| x & 0x7fff_ffff_ffff_ffff) }
    F64Neg: Instr::F64Neg(u) => { un!(regs, u, |x| x ^ 0x8000_0000_0000_0000) }
    F64Ceil: Instr::F64Ceil(u) => { un!(regs, u, |x| of_f64(num::f64_ceil(f64_of(x)))) }
    F64Floor: Instr::F64Floor(u) => { un!(regs, u, |x| of_f64(num::f64_floor(f64_of(x)))) }
    F64Trunc: Instr::F64Trunc(u) => { un!(regs, u, |x| of_f64(num::f64_trunc(f64_of(x)))) }
    F64Nearest: Instr::F64Nearest(u) => { un!(regs, u, |x| of_f64(num::f64_nearest(f64_of(x)))) }
    F64Sqrt: Instr::F64Sqrt(u) => { un!(regs, u, |x| of_f64(f64_of(x).sqrt())) }
    F64Add: Instr::F64Add(b) => { f64bin!(regs, b, |x, y| of_f64(x + y)) }
    F64Sub: Instr::F64Sub(b) => { f64bin!(regs, b, |x, y| of_f64(x - y)) }
    F64Mul: Instr::F64Mul(b) => { f64bin!(regs, b, |x, y| of_f64(x * y)) }
    F64Div: Instr::F64Div(b) => { f64bin!(regs, b, |x, y| of_f64(x / y)) }
    F64Min: Instr::F64Min(b) => { f64bin!(regs, b, |x, y| of_f64(num::f64_min(x, y))) }
    F64Max: Instr::F64Max(b) => { f64bin!(regs, b, |x, y| of_f64(num::f64_max(x, y))) }
    F64Copysign: Instr::F64Copysign(Bin { dst, lhs, rhs }) => {
    w!(regs, dst, (r!(regs, lhs) & 0x7fff_ffff_ffff_ffff) | (r!(regs, rhs) & 0x8000_0000_0000_0000));
}
    I32WrapI64: Instr::I32WrapI64(u) => { un!(regs, u, |x| x as u32 as u64) }
    I32TruncF32S: Instr::I32TruncF32S(u) => {
    trunc!(regs, u, num::i32_trunc_f32_s, f32_of, |v| v as u32 as u64)
}
    I32TruncF32U: Instr::I32TruncF32U(u) => { trunc!(regs, u, num::i32_trunc_f32_u, f32_of, |v| v as u64) }
    I32TruncF64S: Instr::I32TruncF64S(u) => {
    trunc!(regs, u, num::i32_trunc_f64_s, f64_of, |v| v as u32 as u64)
}
    I32TruncF64U: Instr::I32TruncF64U(u) => { trunc!(regs, u, num::i32_trunc_f64_u, f64_of, |v| v as u64) }
    I64ExtendI32S: Instr::I64ExtendI32S(u) => { un!(regs, u, |x| x as u32 as i32 as i64 as u64) }
    I64TruncF32S: Instr::I64TruncF32S(u) => { trunc!(regs, u, num::i64_trunc_f32_s, f32_of, |v| v as u64) }
    I64TruncF32U: Instr::I64TruncF32U(u) => { trunc!(regs, u, num::i64_trunc_f32_u, f32_of, |v| v) }
    I64TruncF64S: Instr::I64TruncF64S(u) => { trunc!(regs, u, num::i64_trunc_f64_s, f64_of, |v| v as u64) }
    I64TruncF64U: Instr::I64TruncF64U(u) => { trunc!(regs, u, num::i64_trunc_f64_u, f64_of, |v| v) }
    F32ConvertI32S: Instr::F32ConvertI32S(u) => { un!(regs, u, |x| of_f32(x as u32 as i32 as f32)) }
    F32ConvertI32U: Instr::F32ConvertI32U(u) => { un!(regs, u, |x| of_f32(x as u32 as f32)) }
    F32ConvertI64S: Instr::F32ConvertI64S(u) => { un!(regs, u, |x| of_f32(x as i64 as f32)) }
    F32ConvertI64U: Instr::F32ConvertI64U(u) => { un!(regs, u, |x| of_f32(x as f32)) }
    F32DemoteF64: Instr::F32DemoteF64(u) => { un!(regs, u, |x| of_f32(num::f32_demote_f64(f64_of(x)))) }
    F64ConvertI32S: Instr::F64ConvertI32S(u) => { un!(regs, u, |x| of_f64(x as u32 as i32 as f64)) }
    F64ConvertI32U: Instr::F64ConvertI32U(u) => { un!(regs, u, |x| of_f64(x as u32 as f64)) }
    F64ConvertI64S: Instr::F64ConvertI64S(u) => { un!(regs, u, |x| of_f64(x as i64 as f64)) }
    F64ConvertI64U: Instr::F64ConvertI64U(u) => { un!(regs, u, |x| of_f64(x as f64)) }
    F64PromoteF32: Instr::F64PromoteF32(u) => { un!(regs, u, |x| of_f64(num::f64_promote_f32(f32_of(x)))) }
    I32Extend8S: Instr::I32Extend8S(u) => { un!(regs, u, |x| x as u8 as i8 as i32 as u32 as u64) }
    I32Extend16S: Instr::I32Extend16S(u) => { un!(regs, u, |x| x as u16 as i16 as i32 as u32 as u64) }
    I64Extend8S: Instr::I64Extend8S(u) => { un!(regs, u, |x| x as u8 as i8 as i64 as u64) }
    I64Extend16S: Instr::I64Extend16S(u) => { un!(regs, u, |x| x as u16 as i16 as i64 as u64) }
    I64Extend32S: Instr::I64Extend32S(u) => { un!(regs, u, |x| x as u32 as i32 as i64 as u64) }
    I32TruncSatF32S: Instr::I32TruncSatF32S(u) => { un!(regs, u, |x| f32_of(x) as i32 as u32 as u64) }
    I32TruncSatF32U: Instr::I32TruncSatF32U(u) => { un!(regs, u, |x| f32_of(x) as u32 as u64) }
    I32TruncSatF64S: Instr::I32TruncSatF64S(u) => { un!(regs, u, |x| f64_of(x) as i32 as u32 as u64) }
    I32TruncSatF64U: Instr::I32TruncSatF64U(u) => { un!(regs, u, |x| f64_of(x) as u32 as u64) }
    I64TruncSatF32S: Instr::I64TruncSatF32S(u) => {
    un!(regs, u, |x| num::i64_trunc_sat_f32_s(f32_of(x)) as u64)
}
    I64TruncSatF32U: Instr::I64TruncSatF32U(u) => { un!(regs, u, |x| num::i64_trunc_sat_f32_u(f32_of(x))) }
    I64TruncSatF64S: Instr::I64TruncSatF64S(u) => {
    un!(regs, u, |x| num::i64_trunc_sat_f64_s(f64_of(x)) as u64)
}
    I64TruncSatF64U: Instr::I64TruncSatF64U(u) => { un!(regs, u, |x| num::i64_trunc_sat_f64_u(f64_of(x))) }
    I32Load: Instr::I32Load(l) => { load!(ctx, regs, l, 4, |b| u32::from_le_bytes(b) as u64) }
    I64Load: Instr::I64Load(l) => { load!(ctx, regs, l, 8, |b| u64::from_le_bytes(b)) }
    I32Load8S: Instr::I32Load8S(l) => { load!(ctx, regs, l, 1, |b| b[0] as i8 as i32 as u32 as u64) }
    I32Load8U: Instr::I32Load8U(l) => { load!(ctx, regs, l, 1, |b| b[0] as u64) }
    I32Load16S: Instr::I32Load16S(l) => {
    load!(ctx, regs, l, 2, |b| i16::from_le_bytes(b) as i32 as u32 as u64)
}
    I32Load16U: Instr::I32Load16U(l) => { load!(ctx, regs, l, 2, |b| u16::from_le_bytes(b) as u64) }
    I64Load8S: Instr::I64Load8S(l) => { load!(ctx, regs, l, 1, |b| b[0] as i8 as i64 as u64) }
    I64Load16S: Instr::I64Load16S(l) => { load!(ctx, regs, l, 2, |b| i16::from_le_bytes(b) as i64 as u64) }
    I64Load32S: Instr::I64Load32S(l) => { load!(ctx, regs, l, 4, |b| i32::from_le_bytes(b) as i64 as u64) }
    I32LoadIdx: Instr::I32LoadIdx(l) => { load_idx!(ctx, regs, l, 4, |b| u32::from_le_bytes(b) as u64) }
    I64LoadIdx: Instr::I64LoadIdx(l) => { load_idx!(ctx, regs, l, 8, |b| u64::from_le_bytes(b)) }
    I32Load8SIdx: Instr::I32Load8SIdx(l) => {
    load_idx!(ctx, regs, l, 1, |b| b[0] as i8 as i32 as u32 as u64)
}
    I32Load8UIdx: Instr::I32Load8UIdx(l) => { load_idx!(ctx, regs, l, 1, |b| b[0] as u64) }
    I32Load16SIdx: Instr::I32Load16SIdx(l) => {
    load_idx!(ctx, regs, l, 2, |b| i16::from_le_bytes(b) as i32 as u32 as u64)
}
    I32Load16UIdx: Instr::I32Load16UIdx(l) => { load_idx!(ctx, regs, l, 2, |b| u16::from_le_bytes(b) as u64) }
    I32LoadDisp: Instr::I32LoadDisp(l) => { load_disp!(ctx, regs, l, 4, |b| u32::from_le_bytes(b) as u64) }
    I64LoadDisp: Instr::I64LoadDisp(l) => { load_disp!(ctx, regs, l, 8, |b| u64::from_le_bytes(b)) }
    I32Load8SDisp: Instr::I32Load8SDisp(l) => {
    load_disp!(ctx, regs, l, 1, |b| b[0] as i8 as i32 as u32 as u64)
}
    I32Load8UDisp: Instr::I32Load8UDisp(l) => { load_disp!(ctx, regs, l, 1, |b| b[0] as u64) }
    I32Load16SDisp: Instr::I32Load16SDisp(l) => {
    load_disp!(ctx, regs, l, 2, |b| i16::from_le_bytes(b) as i32 as u32 as u64)
}
    I32Load16UDisp: Instr::I32Load16UDisp(l) => { load_disp!(ctx, regs, l, 2, |b| u16::from_le_bytes(b) as u64) }
    I32LoadAbs: Instr::I32LoadAbs(LoadAbs { dst, addr }) => {
    load_at!(ctx, regs, addr as u64, 0, dst, 4, |b| u32::from_le_bytes(b) as u64)
}
    I64LoadAbs: Instr::I64LoadAbs(LoadAbs { dst, addr }) => {
    load_at!(ctx, regs, addr as u64, 0, dst, 8, |b| u64::from_le_bytes(b))
}
    I32Load8UAbs: Instr::I32Load8UAbs(LoadAbs { dst, addr }) => {
    load_at!(ctx, regs, addr as u64, 0, dst, 1, |b| b[0] as u64)
}
    I32LoadStoreAbs: Instr::I32LoadStoreAbs { dst, addr, offset, abs } => {
    load_at!(ctx, regs, r!(regs, addr), offset, dst, 4, |b| u32::from_le_bytes(b) as u64);
    store_at!(ctx, regs, abs as u64, 0, (r!(regs, dst) as u32).to_le_bytes())
}
    I32LoadMulAcc: Instr::I32LoadMulAcc { dst, acc, lhs, addr, offset } => {
    match load_bytes::<4>(ctx.mem, effective(r!(regs, addr), offset)) {
        Some(b) => {
            let product = (r!(regs, lhs) as u32).wrapping_mul(u32::from_le_bytes(b));
            w!(regs, dst, (r!(regs, acc) as u32).wrapping_add(product) as u64)
        }
        None => trap!(Fault::MemoryOutOfBounds),
    }
}
    I32LoadAbsStore: Instr::I32LoadAbsStore { dst, abs, addr, offset } => {
    load_at!(ctx, regs, abs as u64, 0, dst, 4, |b| u32::from_le_bytes(b) as u64);
    store_at!(ctx, regs, r!(regs, addr), offset, (r!(regs, dst) as u32).to_le_bytes())
}
    I32StoreAbs: Instr::I32StoreAbs(StoreAbs { src, addr }) => {
    store_at!(ctx, regs, addr as u64, 0, (r!(regs, src) as u32).to_le_bytes())
}
    I64StoreAbs: Instr::I64StoreAbs(StoreAbs { src, addr }) => {
    store_at!(ctx, regs, addr as u64, 0, r!(regs, src).to_le_bytes())
}
    I64AndNot: Instr::I64AndNot(b) => { bin64!(regs, b, |x, y| !x & y) }
    I32AddShl: Instr::I32AddShl(b) => {
    bin_shift!(regs, b, |x, y, s| (x as u32).wrapping_add((y as u32) << s) as u64)
}
    I32AddNotShl: Instr::I32AddNotShl(b) => {
    bin_shift!(regs, b, |x, y, s| (x as u32).wrapping_add(!((y as u32) << s)) as u64)
}
    I32XorRotl: Instr::I32XorRotl(b) => {
    bin_shift!(regs, b, |x, y, s| (x as u32 ^ y as u32).rotate_left(s) as u64)
}
    I32Store8Disp: Instr::I32Store8Disp(s) => { store_disp!(ctx, regs, s, |v| [v as u8]) }
    I32Store16Disp: Instr::I32Store16Disp(s) => { store_disp!(ctx, regs, s, |v| (v as u16).to_le_bytes()) }
    I32StoreDisp: Instr::I32StoreDisp(s) => { store_disp!(ctx, regs, s, |v| (v as u32).to_le_bytes()) }
    I64StoreDisp: Instr::I64StoreDisp(s) => { store_disp!(ctx, regs, s, |v| v.to_le_bytes()) }
    I64XorRotl: Instr::I64XorRotl(b) => { bin_shift!(regs, b, |x, y, s| (x ^ y).rotate_left(s)) }
    I32AddRotl: Instr::I32AddRotl(b) => {
    bin_shift!(regs, b, |x, y, s| (x as u32).wrapping_add(y as u32).rotate_left(s) as u64)
}
    I64AddRotl: Instr::I64AddRotl(b) => { bin_shift!(regs, b, |x, y, s| x.wrapping_add(y).rotate_left(s)) }
    I32RotlXor: Instr::I32RotlXor(b) => {
    bin_shift!(regs, b, |x, y, s| ((x as u32).rotate_left(s) ^ y as u32) as u64)
}
    I64RotlXor: Instr::I64RotlXor(b) => { bin_shift!(regs, b, |x, y, s| x.rotate_left(s) ^ y) }
    I32ShrUXor: Instr::I32ShrUXor(b) => {
    bin_shift!(regs, b, |x, y, s| ((x as u32).wrapping_shr(s) ^ y as u32) as u64)
}
    I64ShrUXor: Instr::I64ShrUXor(b) => { bin_shift!(regs, b, |x, y, s| x.wrapping_shr(s) ^ y) }
    I32ShlXor: Instr::I32ShlXor(b) => {
    bin_shift!(regs, b, |x, y, s| ((x as u32).wrapping_shl(s) ^ y as u32) as u64)
}
    I64ShlXor: Instr::I64ShlXor(b) => { bin_shift!(regs, b, |x, y, s| x.wrapping_shl(s) ^ y) }
    I32AddLtU: Instr::I32AddLtU(AddCmp { dst, lhs, add, bound }) => {
    w!(regs, dst, ((r!(regs, lhs) as u32).wrapping_add(add as u32) < bound as u32) as u64);
}
    I32AddGeU: Instr::I32AddGeU(AddCmp { dst, lhs, add, bound }) => {
    w!(regs, dst, ((r!(regs, lhs) as u32).wrapping_add(add as u32) >= bound as u32) as u64);
}
    I32Add3: Instr::I32Add3(Bin3 { dst, a, b, c }) => {
    let sum = (r!(regs, a) as u32).wrapping_add(r!(regs, b) as u32);
    w!(regs, dst, sum.wrapping_add(r!(regs, c) as u32) as u64);
}
    I32MulAdd: Instr::I32MulAdd(MulAdd { dst, lhs, mul, add }) => {
    w!(regs, dst, (r!(regs, lhs) as u32)
        .wrapping_mul(mul as u32)
        .wrapping_add(add as u32) as u64);
}
    I32Store8: Instr::I32Store8(s) => { store!(ctx, regs, s, |v| [v as u8]) }
    I32Store16: Instr::I32Store16(s) => { store!(ctx, regs, s, |v| (v as u16).to_le_bytes()) }
    I32Store: Instr::I32Store(s) => { store!(ctx, regs, s, |v| (v as u32).to_le_bytes()) }
    I64Store: Instr::I64Store(s) => { store!(ctx, regs, s, |v| v.to_le_bytes()) }
    I32Store8Imm: Instr::I32Store8Imm(s) => { store_imm!(ctx, regs, s, |v| [v as u8]) }
    I32Store16Imm: Instr::I32Store16Imm(s) => { store_imm!(ctx, regs, s, |v| (v as u16).to_le_bytes()) }
    I32StoreImm: Instr::I32StoreImm(s) => { store_imm!(ctx, regs, s, |v| (v as u32).to_le_bytes()) }
    I64StoreImm: Instr::I64StoreImm(s) => { store_imm!(ctx, regs, s, |v| v.to_le_bytes()) }
    I32Store8ImmDisp: Instr::I32Store8ImmDisp(s) => { store_imm_disp!(ctx, regs, s, |v| [v as u8]) }
    I32Store16ImmDisp: Instr::I32Store16ImmDisp(s) => {
    store_imm_disp!(ctx, regs, s, |v| (v as u16).to_le_bytes())
}
    I32StoreImmDisp: Instr::I32StoreImmDisp(s) => {
    store_imm_disp!(ctx, regs, s, |v| (v as u32).to_le_bytes())
}
    I64StoreImmDisp: Instr::I64StoreImmDisp(s) => { store_imm_disp!(ctx, regs, s, |v| v.to_le_bytes()) }
    I32LoadPreStep: Instr::I32LoadPreStep(LoadStep { dst, addr, step, offset }) => {
    let at = (r!(regs, addr) as u32).wrapping_add(step as u32);
    w!(regs, addr, at as u64);
    load_at!(ctx, regs, at as u64, offset, dst, 4, |b| u32::from_le_bytes(b) as u64)
}
    I32Load8UPreStep: Instr::I32Load8UPreStep(LoadStep { dst, addr, step, offset }) => {
    let at = (r!(regs, addr) as u32).wrapping_add(step as u32);
    w!(regs, addr, at as u64);
    load_at!(ctx, regs, at as u64, offset, dst, 1, |b| b[0] as u64)
}
    I32LoadPostStep: Instr::I32LoadPostStep(LoadStep { dst, addr, step, offset }) => {
    load_at!(ctx, regs, r!(regs, addr), offset, dst, 4, |b| u32::from_le_bytes(b) as u64);
    w!(regs, addr, (r!(regs, addr) as u32).wrapping_add(step as u32) as u64);
}
    I32Load8UPostStep: Instr::I32Load8UPostStep(LoadStep { dst, addr, step, offset }) => {
    load_at!(ctx, regs, r!(regs, addr), offset, dst, 1, |b| b[0] as u64);
    w!(regs, addr, (r!(regs, addr) as u32).wrapping_add(step as u32) as u64);
}
    I32StorePostStep: Instr::I32StorePostStep(StoreStep { addr, src, step, offset }) => {
    store_at!(ctx, regs, r!(regs, addr), offset, (r!(regs, src) as u32).to_le_bytes());
    w!(regs, addr, (r!(regs, addr) as u32).wrapping_add(step as u32) as u64);
}
    I32Store8PostStep: Instr::I32Store8PostStep(StoreStep { addr, src, step, offset }) => {
    store_at!(ctx, regs, r!(regs, addr), offset, [r!(regs, src) as u8]);
    w!(regs, addr, (r!(regs, addr) as u32).wrapping_add(step as u32) as u64);
}
    I32StoreAddImm: Instr::I32StoreAddImm(StoreStep { addr, src, step, offset }) => {
    let value = (r!(regs, src) as u32).wrapping_add(step as u32);
    store_at!(ctx, regs, r!(regs, addr), offset, value.to_le_bytes());
}
    I32Add2: Instr::I32Add2 { dst, lhs, rhs, dst2, lhs2, rhs2 } => {
    w!(regs, dst, (r!(regs, lhs) as u32).wrapping_add(r!(regs, rhs) as u32) as u64);
    w!(regs, dst2, (r!(regs, lhs2) as u32).wrapping_add(r!(regs, rhs2) as u32) as u64);
}
    I32AddXorRotl: Instr::I32AddXorRotl { dst, lhs, rhs, dst2, lhs2, rhs2, shift } => {
    w!(regs, dst, (r!(regs, lhs) as u32).wrapping_add(r!(regs, rhs) as u32) as u64);
    w!(regs, dst2, (r!(regs, lhs2) as u32 ^ r!(regs, rhs2) as u32).rotate_left(shift as u32) as u64);
}
    I64AddXor: Instr::I64AddXor { dst, lhs, rhs, dst2, other } => {
    let sum = r!(regs, lhs).wrapping_add(r!(regs, rhs));
    w!(regs, dst, sum);
    // Read after the sum is written: `other` may be `dst`.
    w!(regs, dst2, sum ^ r!(regs, other));
}
    V128DotAdd: Instr::V128DotAdd { dst, lhs, rhs, dst2, other } => {
    let dot = simd::binary(
        SimdBinary::I32x4DotI16x8S,
        get_u128(regs, lhs.into()),
        get_u128(regs, rhs.into()),
    );
    set_u128(regs, dst.into(), dot);
    // Read after the product is written: `other` may be `dst`.
    let sum = simd::binary(SimdBinary::I32x4Add, dot, get_u128(regs, other.into()));
    set_u128(regs, dst2.into(), sum);
}
    V128LoadDisp: Instr::V128LoadDisp(LoadDisp { dst, addr, shift, disp, offset }) => {
    let at = ((r!(regs, addr) as u32) << shift).wrapping_add(disp as u32);
    match simd::load(simd::SimdLoad::Load128, ctx.mem, effective(at as u64, offset)) {
        Some(v) => set_u128(regs, dst.into(), v),
        None => trap!(Fault::MemoryOutOfBounds),
    }
}
    V128Add2: Instr::V128Add2 { dst, lhs, rhs, dst2, lhs2, rhs2 } => {
    let add = |l: u16, r: u16| {
        simd::binary(SimdBinary::I32x4Add, get_u128(regs, l.into()), get_u128(regs, r.into()))
    };
    set_u128(regs, dst.into(), add(lhs, rhs));
    set_u128(regs, dst2.into(), add(lhs2, rhs2));
}
    V128XorRotl32: Instr::V128XorRotl32 { dst, lhs, rhs, dst2, amount } => {
    let x = get_u128(regs, lhs.into()) ^ get_u128(regs, rhs.into());
    set_u128(regs, dst.into(), x);
    set_u128(regs, dst2.into(), simd::rotl(false, x, amount.into()));
}
    V128AddXorRotl32: Instr::V128AddXorRotl32 { dst, lhs, rhs, dst2, other, dst3, amount } => {
    let sum = simd::binary(
        SimdBinary::I32x4Add,
        get_u128(regs, lhs.into()),
        get_u128(regs, rhs.into()),
    );
    set_u128(regs, dst.into(), sum);
    // Read after the sum is written: `other` may be `dst`.
    let x = sum ^ get_u128(regs, other.into());
    set_u128(regs, dst2.into(), x);
    set_u128(regs, dst3.into(), simd::rotl(false, x, amount.into()));
}
    I32AddImm2: Instr::I32AddImm2 { dst, lhs, imm, dst2, lhs2, imm2 } => {
    w!(regs, dst, (r!(regs, lhs) as u32).wrapping_add(imm as i32 as u32) as u64);
    w!(regs, dst2, (r!(regs, lhs2) as u32).wrapping_add(imm2 as i32 as u32) as u64);
}
    I64MulWide: Instr::I64MulWide { lo, hi, a, a_hi, b, b_hi } => {
        let x = u128::from(r!(regs, a)) | u128::from(r!(regs, a_hi)) << 64;
        let y = u128::from(r!(regs, b)) | u128::from(r!(regs, b_hi)) << 64;
        let product = x.wrapping_mul(y);
        w!(regs, lo, product as u64);
        w!(regs, hi, (product >> 64) as u64);
    }
    I32AddImmCopy: Instr::I32AddImmCopy { dst, lhs, imm, dst2, src2 } => {
    w!(regs, dst, (r!(regs, lhs) as u32).wrapping_add(imm as u32) as u64);
    w!(regs, dst2, r!(regs, src2));
}
    Copy: Instr::Copy(Un { dst, src }) => { w!(regs, dst, r!(regs, src)) }
    Copy2: Instr::Copy2 {
        dst,
        src,
        dst2,
        src2,
    } => {
        w!(regs, dst, r!(regs, src));
        w!(regs, dst2, r!(regs, src2));
    }
    Const32: Instr::Const32 { dst, value } => { w!(regs, dst, value as u64) }
    Const64: Instr::Const64 { dst, value } => { w!(regs, dst, value) }
    I32MulAcc: Instr::I32MulAcc(MulAcc { dst, acc, lhs, rhs }) => {
        let product = (r!(regs, lhs) as u32).wrapping_mul(r!(regs, rhs) as u32);
        w!(regs, dst, (r!(regs, acc) as u32).wrapping_add(product) as u64);
    }
    I64MulAcc: Instr::I64MulAcc(MulAcc { dst, acc, lhs, rhs }) => {
        w!(regs, dst, r!(regs, acc).wrapping_add(r!(regs, lhs).wrapping_mul(r!(regs, rhs))));
    }
    Select3: Instr::Select3(Select3 { dst, a, b, cond }) => {
        w!(regs, dst, if r!(regs, cond) as u32 != 0 { r!(regs, a) } else { r!(regs, b) });
    }
    GlobalGet: Instr::GlobalGet { dst, global } => {
        w!(regs, dst, ctx.own_globals[global as usize].value as u64);
    }
    GlobalSet: Instr::GlobalSet { src, global } => {
        ctx.own_globals[global as usize].value = r!(regs, src) as u128;
    }
    GlobalGetImported: Instr::GlobalGetImported { dst, global } => {
        w!(regs, dst, global_entity(ctx, global).value as u64);
    }
    GlobalSetImported: Instr::GlobalSetImported { src, global } => {
        global_entity(ctx, global).value = r!(regs, src) as u128;
    }
    RefIsNull: Instr::RefIsNull { dst, src } => { w!(regs, dst, (r!(regs, src) == 0) as u64) }
    MemorySize: Instr::MemorySize { dst, .. } => {
    w!(regs, dst, (ctx.mem.len() / PAGE_SIZE) as u64);
}
    Copy128: Instr::Copy128 { dst, src } => {
    let (d, s) = (dst as usize, src as usize);
    regs[cell(d as u64)].set(regs[cell(s as u64)].get());
    regs[cell(d as u64 + 1)].set(regs[cell(s as u64 + 1)].get());
}
    Const128: Instr::Const128 { dst, index } => {
    let v = ctx.consts[index as usize];
    set_u128(regs, dst, v);
}
    Select128: Instr::Select128 { dst, other, cond } => {
    if r!(regs, cond) as u32 == 0 {
        let v = get_u128(regs, other);
        set_u128(regs, dst, v);
    }
}
    GlobalGet128: Instr::GlobalGet128 { dst, global } => {
    let v = global_entity(ctx, global).value;
    set_u128(regs, dst, v);
}
    GlobalSet128: Instr::GlobalSet128 { src, global } => {
    global_entity(ctx, global).value = get_u128(regs, src);
}
    V128Splat: Instr::V128Splat { op, dst, src } => {
    let v = simd::splat(op, r!(regs, src));
    set_u128(regs, dst, v);
}
    V128ExtractLane: Instr::V128ExtractLane { op, lane, dst, src } => {
    w!(regs, dst, simd::extract_lane(op, get_u128(regs, src), lane));
}
    V128ReplaceLane: Instr::V128ReplaceLane {
    op,
    lane,
    dst,
    scalar,
} => {
    let v = simd::replace_lane(op, get_u128(regs, dst), r!(regs, scalar), lane);
    set_u128(regs, dst, v);
}
    V128ShuffleTo: Instr::V128ShuffleTo(Shuffle { dst, lhs, rhs, lanes }) => {
    let mask = ctx.consts[lanes as usize].to_le_bytes();
    let (a, b) = (get_u128(regs, lhs.into()), get_u128(regs, rhs.into()));
    set_u128(regs, dst.into(), simd::shuffle(&mask, a, b));
}
    V128Shuffle32To: Instr::V128Shuffle32To(Shuffle { dst, lhs, rhs, lanes }) => {
    let (a, b) = (get_u128(regs, lhs.into()), get_u128(regs, rhs.into()));
    set_u128(regs, dst.into(), simd::shuffle32(lanes, a, b));
}
    V128Shuffle16To: Instr::V128Shuffle16To(Shuffle { dst, lhs, rhs, lanes }) => {
    let (a, b) = (get_u128(regs, lhs.into()), get_u128(regs, rhs.into()));
    set_u128(regs, dst.into(), simd::shuffle16(lanes, a, b));
}
    V128BitselectTo: Instr::V128BitselectTo(Bin3 { dst, a, b, c }) => {
    let v = simd::ternary(
        simd::SimdTernary::V128Bitselect,
        get_u128(regs, a.into()),
        get_u128(regs, b.into()),
        get_u128(regs, c.into()),
    );
    set_u128(regs, dst.into(), v);
}
    V128Store: Instr::V128Store { addr, src, offset } => {
    let v = get_u128(regs, src);
    if store_bytes(ctx.mem, effective(r!(regs, addr), offset), v.to_le_bytes())
        .is_none()
    {
        trap!(Fault::MemoryOutOfBounds);
    }
}
    V128LoadLane: Instr::V128LoadLane {
    op,
    lane,
    dst,
    addr,
    offset,
} => {
    let ea = effective(r!(regs, addr), offset);
    match simd::load_lane(op, ctx.mem, ea, get_u128(regs, dst), lane) {
        Some(v) => set_u128(regs, dst, v),
        None => trap!(Fault::MemoryOutOfBounds),
    }
}
    V128StoreLane: Instr::V128StoreLane {
    op,
    lane,
    src,
    addr,
    offset,
} => {
    let ea = effective(r!(regs, addr), offset);
    let v = get_u128(regs, src);
    if simd::store_lane(op, ctx.mem, ea, v, lane).is_none() {
        trap!(Fault::MemoryOutOfBounds);
    }
}
    Unreachable: Instr::Unreachable => { trap!(Fault::Unreachable) }
}
branches {
    BrAddLtU: Instr::BrAddLtU(AddBr { lhs, add, bound, target }) => {
    brcmp!((r!(regs, lhs) as u32).wrapping_add(add as u32) < bound as u32, target)
}
    BrAddGeU: Instr::BrAddGeU(AddBr { lhs, add, bound, target }) => {
    brcmp!((r!(regs, lhs) as u32).wrapping_add(add as u32) >= bound as u32, target)
}
    Br: Instr::Br { target } => { Some(target) }
    Const32Br: Instr::Const32Br { dst, value, target } => {
    w!(regs, dst, value as u64);
    Some(target)
}
    CopyBr: Instr::CopyBr { dst, src, target } => {
    w!(regs, dst, r!(regs, src));
    Some(target)
}
    BrBack: Instr::BrBack { target } => { Some(target) }
    BrIfNez: Instr::BrIfNez { cond, target } => { brcmp!(r!(regs, cond) as u32 != 0, target) }
    BrF32Eq: Instr::BrF32Eq { lhs, rhs, target } => { brcmp!(f32::from_bits(r!(regs, lhs) as u32) == f32::from_bits(r!(regs, rhs) as u32), target) }
    BrF32Ne: Instr::BrF32Ne { lhs, rhs, target } => { brcmp!(f32::from_bits(r!(regs, lhs) as u32) != f32::from_bits(r!(regs, rhs) as u32), target) }
    BrF32Lt: Instr::BrF32Lt { lhs, rhs, target } => { brcmp!(f32::from_bits(r!(regs, lhs) as u32) < f32::from_bits(r!(regs, rhs) as u32), target) }
    BrF32Gt: Instr::BrF32Gt { lhs, rhs, target } => { brcmp!(f32::from_bits(r!(regs, lhs) as u32) > f32::from_bits(r!(regs, rhs) as u32), target) }
    BrF32Le: Instr::BrF32Le { lhs, rhs, target } => { brcmp!(f32::from_bits(r!(regs, lhs) as u32) <= f32::from_bits(r!(regs, rhs) as u32), target) }
    BrF32Ge: Instr::BrF32Ge { lhs, rhs, target } => { brcmp!(f32::from_bits(r!(regs, lhs) as u32) >= f32::from_bits(r!(regs, rhs) as u32), target) }
    BrF32NotLt: Instr::BrF32NotLt { lhs, rhs, target } => { brcmp!(!(f32::from_bits(r!(regs, lhs) as u32) < f32::from_bits(r!(regs, rhs) as u32)), target) }
    BrF32NotGt: Instr::BrF32NotGt { lhs, rhs, target } => { brcmp!(!(f32::from_bits(r!(regs, lhs) as u32) > f32::from_bits(r!(regs, rhs) as u32)), target) }
    BrF32NotLe: Instr::BrF32NotLe { lhs, rhs, target } => { brcmp!(!(f32::from_bits(r!(regs, lhs) as u32) <= f32::from_bits(r!(regs, rhs) as u32)), target) }
    BrF32NotGe: Instr::BrF32NotGe { lhs, rhs, target } => { brcmp!(!(f32::from_bits(r!(regs, lhs) as u32) >= f32::from_bits(r!(regs, rhs) as u32)), target) }
    BrF64Eq: Instr::BrF64Eq { lhs, rhs, target } => { brcmp!(f64::from_bits(r!(regs, lhs)) == f64::from_bits(r!(regs, rhs)), target) }
    BrF64Ne: Instr::BrF64Ne { lhs, rhs, target } => { brcmp!(f64::from_bits(r!(regs, lhs)) != f64::from_bits(r!(regs, rhs)), target) }
    BrF64Lt: Instr::BrF64Lt { lhs, rhs, target } => { brcmp!(f64::from_bits(r!(regs, lhs)) < f64::from_bits(r!(regs, rhs)), target) }
    BrF64Gt: Instr::BrF64Gt { lhs, rhs, target } => { brcmp!(f64::from_bits(r!(regs, lhs)) > f64::from_bits(r!(regs, rhs)), target) }
    BrF64Le: Instr::BrF64Le { lhs, rhs, target } => { brcmp!(f64::from_bits(r!(regs, lhs)) <= f64::from_bits(r!(regs, rhs)), target) }
    BrF64Ge: Instr::BrF64Ge { lhs, rhs, target } => { brcmp!(f64::from_bits(r!(regs, lhs)) >= f64::from_bits(r!(regs, rhs)), target) }
    BrF64NotLt: Instr::BrF64NotLt { lhs, rhs, target } => { brcmp!(!(f64::from_bits(r!(regs, lhs)) < f64::from_bits(r!(regs, rhs))), target) }
    BrF64NotGt: Instr::BrF64NotGt { lhs, rhs, target } => { brcmp!(!(f64::from_bits(r!(regs, lhs)) > f64::from_bits(r!(regs, rhs))), target) }
    BrF64NotLe: Instr::BrF64NotLe { lhs, rhs, target } => { brcmp!(!(f64::from_bits(r!(regs, lhs)) <= f64::from_bits(r!(regs, rhs))), target) }
    BrF64NotGe: Instr::BrF64NotGe { lhs, rhs, target } => { brcmp!(!(f64::from_bits(r!(regs, lhs)) >= f64::from_bits(r!(regs, rhs))), target) }
    BrLoad8UDispNez: Instr::BrLoad8UDispNez { dst, addr, disp, target } => {
    let at = (r!(regs, addr) as u32).wrapping_add(disp as u32);
    load_at!(ctx, regs, at as u64, 0, dst, 1, |b| b[0] as u64);
    brcmp!(r!(regs, dst) != 0, target)
}
    BrLoad8UDispEqz: Instr::BrLoad8UDispEqz { dst, addr, disp, target } => {
    let at = (r!(regs, addr) as u32).wrapping_add(disp as u32);
    load_at!(ctx, regs, at as u64, 0, dst, 1, |b| b[0] as u64);
    brcmp!(r!(regs, dst) == 0, target)
}
    BrLoad8ULookupNez: Instr::BrLoad8ULookupNez { dst, addr, dst2, disp, target } => {
    load_at!(ctx, regs, r!(regs, addr), 0, dst, 1, |b| b[0] as u64);
    let at = (r!(regs, dst) as u32).wrapping_add(disp as u32);
    load_at!(ctx, regs, at as u64, 0, dst2, 1, |b| b[0] as u64);
    brcmp!(r!(regs, dst2) != 0, target)
}
    BrLoad8ULookupEqz: Instr::BrLoad8ULookupEqz { dst, addr, dst2, disp, target } => {
    load_at!(ctx, regs, r!(regs, addr), 0, dst, 1, |b| b[0] as u64);
    let at = (r!(regs, dst) as u32).wrapping_add(disp as u32);
    load_at!(ctx, regs, at as u64, 0, dst2, 1, |b| b[0] as u64);
    brcmp!(r!(regs, dst2) == 0, target)
}
    BrStoreAbsNez: Instr::BrStoreAbsNez { src, addr, target } => {
    store_at!(ctx, regs, addr as u64, 0, (r!(regs, src) as u32).to_le_bytes());
    brcmp!(r!(regs, src) as u32 != 0, target)
}
    BrStoreAbsEqz: Instr::BrStoreAbsEqz { src, addr, target } => {
    store_at!(ctx, regs, addr as u64, 0, (r!(regs, src) as u32).to_le_bytes());
    brcmp!(r!(regs, src) as u32 == 0, target)
}
    BrIfEqz: Instr::BrIfEqz { cond, target } => { brcmp!(r!(regs, cond) as u32 == 0, target) }
    BrIfNez64: Instr::BrIfNez64 { cond, target } => { brcmp!(r!(regs, cond) != 0, target) }
    BrIfEqz64: Instr::BrIfEqz64 { cond, target } => { brcmp!(r!(regs, cond) == 0, target) }
    BrI32Eq: Instr::BrI32Eq { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as u32) == (r!(regs, rhs) as u32), target)
}
    BrI32EqImm: Instr::BrI32EqImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as u32) == (imm as u32), target)
}
    BrI32AndImmNez: Instr::BrI32AndImmNez { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as u32) & (imm as u32) != 0, target)
}
    BrI32AndImmEqz: Instr::BrI32AndImmEqz { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as u32) & (imm as u32) == 0, target)
}
    BrBitNez: Instr::BrBitNez { bit, mask, target } => {
    brcmp!(1u32.wrapping_shl(r!(regs, bit) as u32) & (mask as u32) != 0, target)
}
    BrBitEqz: Instr::BrBitEqz { bit, mask, target } => {
    brcmp!(1u32.wrapping_shl(r!(regs, bit) as u32) & (mask as u32) == 0, target)
}
    BrZeroByteNez: Instr::BrZeroByteNez { src, add, mask, target } => {
    let x = r!(regs, src as Slot) as u32;
    brcmp!(x.wrapping_add(add as u32) & !x & (mask as u32) != 0, target)
}
    BrZeroByteEqz: Instr::BrZeroByteEqz { src, add, mask, target } => {
    let x = r!(regs, src as Slot) as u32;
    brcmp!(x.wrapping_add(add as u32) & !x & (mask as u32) == 0, target)
}
    BrI64Eq: Instr::BrI64Eq { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs)) == (r!(regs, rhs)), target)
}
    BrI64EqImm: Instr::BrI64EqImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs)) == (imm as i64 as u64), target)
}
    BrI32Ne: Instr::BrI32Ne { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as u32) != (r!(regs, rhs) as u32), target)
}
    BrI32NeImm: Instr::BrI32NeImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as u32) != (imm as u32), target)
}
    BrI64Ne: Instr::BrI64Ne { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs)) != (r!(regs, rhs)), target)
}
    BrI64NeImm: Instr::BrI64NeImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs)) != (imm as i64 as u64), target)
}
    BrI32LtS: Instr::BrI32LtS { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as u32 as i32) < (r!(regs, rhs) as u32 as i32), target)
}
    BrI32LtSImm: Instr::BrI32LtSImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as u32 as i32) < (imm), target)
}
    BrI64LtS: Instr::BrI64LtS { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as i64) < (r!(regs, rhs) as i64), target)
}
    BrI64LtSImm: Instr::BrI64LtSImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as i64) < (imm as i64), target)
}
    BrI32LtU: Instr::BrI32LtU { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as u32) < (r!(regs, rhs) as u32), target)
}
    BrI32LtUImm: Instr::BrI32LtUImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as u32) < (imm as u32), target)
}
    BrI64LtU: Instr::BrI64LtU { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs)) < (r!(regs, rhs)), target)
}
    BrI64LtUImm: Instr::BrI64LtUImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs)) < (imm as i64 as u64), target)
}
    BrI32GtS: Instr::BrI32GtS { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as u32 as i32) > (r!(regs, rhs) as u32 as i32), target)
}
    BrI32GtSImm: Instr::BrI32GtSImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as u32 as i32) > (imm), target)
}
    BrI64GtS: Instr::BrI64GtS { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as i64) > (r!(regs, rhs) as i64), target)
}
    BrI64GtSImm: Instr::BrI64GtSImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as i64) > (imm as i64), target)
}
    BrI32GtU: Instr::BrI32GtU { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as u32) > (r!(regs, rhs) as u32), target)
}
    BrI32GtUImm: Instr::BrI32GtUImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as u32) > (imm as u32), target)
}
    BrI64GtU: Instr::BrI64GtU { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs)) > (r!(regs, rhs)), target)
}
    BrI64GtUImm: Instr::BrI64GtUImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs)) > (imm as i64 as u64), target)
}
    BrI32LeS: Instr::BrI32LeS { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as u32 as i32) <= (r!(regs, rhs) as u32 as i32), target)
}
    BrI32LeSImm: Instr::BrI32LeSImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as u32 as i32) <= (imm), target)
}
    BrI64LeS: Instr::BrI64LeS { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as i64) <= (r!(regs, rhs) as i64), target)
}
    BrI64LeSImm: Instr::BrI64LeSImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as i64) <= (imm as i64), target)
}
    BrI32LeU: Instr::BrI32LeU { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as u32) <= (r!(regs, rhs) as u32), target)
}
    BrI32LeUImm: Instr::BrI32LeUImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as u32) <= (imm as u32), target)
}
    BrI64LeU: Instr::BrI64LeU { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs)) <= (r!(regs, rhs)), target)
}
    BrI64LeUImm: Instr::BrI64LeUImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs)) <= (imm as i64 as u64), target)
}
    BrI32GeS: Instr::BrI32GeS { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as u32 as i32) >= (r!(regs, rhs) as u32 as i32), target)
}
    BrI32GeSImm: Instr::BrI32GeSImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as u32 as i32) >= (imm), target)
}
    BrI64GeS: Instr::BrI64GeS { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as i64) >= (r!(regs, rhs) as i64), target)
}
    BrI64GeSImm: Instr::BrI64GeSImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as i64) >= (imm as i64), target)
}
    BrI32GeU: Instr::BrI32GeU { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs) as u32) >= (r!(regs, rhs) as u32), target)
}
    BrI32GeUImm: Instr::BrI32GeUImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs) as u32) >= (imm as u32), target)
}
    BrI64GeU: Instr::BrI64GeU { lhs, rhs, target } => {
    brcmp!((r!(regs, lhs)) >= (r!(regs, rhs)), target)
}
    BrI64GeUImm: Instr::BrI64GeUImm { lhs, imm, target } => {
    brcmp!((r!(regs, lhs)) >= (imm as i64 as u64), target)
}
}
}

/// Defines the pair handlers: for each `[A] [B]`, a handler that runs A and, where A falls
/// through, B's handler inlined on the next instruction (B itself stays in place, so a
/// branch to B, a trap in B and everything that reads the code see no difference); and
/// [`pair_handler_for`], which picks one for two instructions in a row.
macro_rules! pairs {
    ($( $name:ident: [$($a:tt)+] [$($b:tt)+] )*) => {
        /// The continuations of the pair handlers: each runs its pair's second
        /// instruction inlined.
        #[allow(non_camel_case_types)]
        mod pairs {
            use super::*;
            $(
                pub(super) struct $name;
                impl Then for $name {
                    #[inline(always)]
                    fn next(ctx: &mut Ctx<'_, '_>, rest: &[Op], regs: &Regs) -> Exit {
                        match rest {
                            [op, rest @ ..] => {
                                (pair_handler!(Dispatch; $($b)+))(ctx, op, rest, regs)
                            }
                            [] => Exit::INTERNAL,
                        }
                    }
                }
            )*
        }

        /// The handler of `a` followed by `b` as one dispatch, if the pair has one.
        pub(crate) fn pair_handler_for(a: &Instr, b: &Instr) -> Option<Handler> {
            // The pair profile counts the dispatches of single handlers.
            if cfg!(nanoproc_pair_profile) {
                return None;
            }
            match (a, b) {
                $( (pair_pattern!($($a)+), pair_pattern!($($b)+)) => {
                    Some(pair_handler!(pairs::$name; $($a)+))
                } )*
                _ => None,
            }
        }
    };
}

// The instructions that most often run one after the other, as `scripts/pair-profile.sh`
// prints them from the fall-through profiles of the benchmark workloads: after each, the
// sum over the workloads of its share of their fall-throughs (see `docs/engine.md`,
// "Thirteenth session").
pairs! {
    I32Store8ImmDisp_BrIncByLtUImm: [I32Store8ImmDisp] [BrIncBy LtUImm] // 83.2%
    I32AddXorRotl_I32AddXorRotl: [I32AddXorRotl] [I32AddXorRotl] // 53.3%
    I32AddImm_BrIncLtU: [I32AddImm] [BrInc LtU] // 42.1%
    Const32_BrTableLoad: [Const32] [BrTableLoad] // 41.4%
    I32Add_I32AddImm: [I32Add] [I32AddImm] // 40.8%
    Copy_CallInternal: [Copy] [CallInternal] // 38.1%
    Const32_I32RemU: [Const32] [I32RemU] // 36.1%
    I32MulAdd_Const32: [I32MulAdd] [Const32] // 34.0%
    I32AddImm_BrI32GtUImm: [I32AddImm] [BrI32GtUImm] // 33.9%
    I32AddImm_CallInternal: [I32AddImm] [CallInternal] // 33.0%
    I64Add_I64XorRotl: [I64Add] [I64XorRotl] // 31.5%
    I32LoadIdx_I32Load: [I32LoadIdx] [I32Load] // 31.2%
    // Added with `I32LoadMulAcc` (seventeenth session): the matrix product's step.
    I32LoadIdx_I32LoadMulAcc: [I32LoadIdx] [I32LoadMulAcc]
    I32AddImmCopy_CallInternal: [I32AddImmCopy] [CallInternal] // 29.8%
    I64XorRotl_I64Add: [I64XorRotl] [I64Add] // 29.6%
    I32AddImm_ReturnSlot: [I32AddImm] [ReturnSlot] // 29.0%
    I32Load_I32MulAcc: [I32Load] [I32MulAcc] // 27.7%
    I32Load_I32Add: [I32Load] [I32Add] // 26.3%
    I32Store8Disp_I32AddImm: [I32Store8Disp] [I32AddImm] // 25.7%
    I32AddImm_I32Store8Disp: [I32AddImm] [I32Store8Disp] // 25.5%
    I32RemU_I32MulAdd: [I32RemU] [I32MulAdd] // 25.0%
    I32Store_I32AddImm: [I32Store] [I32AddImm] // 24.9%
    I32MulAcc_I32LoadIdx: [I32MulAcc] [I32LoadIdx] // 24.6%
    I64Xor_I64Xor: [I64Xor] [I64Xor] // 22.1%
    I32AddImm_BrIncNeImm: [I32AddImm] [BrInc NeImm] // 21.0%
    Copy_BrIncNez: [Copy] [BrInc Nez] // 20.1%
    Copy2_Copy: [Copy2] [Copy] // 19.5%
    BrIncNez_I32AddImm: [BrInc Nez] [I32AddImm] // 19.5%
    I32Add_ReturnSlot: [I32Add] [ReturnSlot] // 19.4%
    BrIfEqz_BrIfNez: [BrIfEqz] [BrIfNez] // 19.0%
    I32Add_I32AddImmCopy: [I32Add] [I32AddImmCopy] // 18.3%
    I32XorRotl_I32AddXorRotl: [I32XorRotl] [I32AddXorRotl] // 17.5%
    I32Load_I32Load: [I32Load] [I32Load] // 17.4%
    I32ShrUImm_I32AddImm: [I32ShrUImm] [I32AddImm] // 17.1%
    Copy_I32AddImmCopy: [Copy] [I32AddImmCopy] // 15.8%
    Const32_BrI32LtUImm: [Const32] [BrI32LtUImm] // 15.6%
    I32And_I32ShlXor: [I32And] [I32ShlXor] // 15.2%
    I32Add_I32Store: [I32Add] [I32Store] // 14.7%
    I32Add_I32AddXorRotl: [I32Add] [I32AddXorRotl] // 14.0%
    I64AndNot_I64Xor: [I64AndNot] [I64Xor] // 13.9%
    I32AddImm_GlobalSet: [I32AddImm] [GlobalSet] // 13.7%
    I32AddImmCopy_BrTableLoadDisp: [I32AddImmCopy] [BrTableLoadDisp] // 13.5%
    I32Xor_I32ShrUXor: [I32Xor] [I32ShrUXor] // 13.5%
    I32Xor_I32Xor: [I32Xor] [I32Xor] // 13.3%
    I32AddImm_I32Store: [I32AddImm] [I32Store] // 13.3%
    I32AddImm_BrLoadPostStepGtS: [I32AddImm] [BrLoadPostStep GtS] // 13.0%
    I32AddImm_I32And: [I32AddImm] [I32And] // 12.9%
    I32MulAdd_I32ShrUImm: [I32MulAdd] [I32ShrUImm] // 12.8%
    I32AddXorRotl_I32Add: [I32AddXorRotl] [I32Add] // 12.8%
    I32AddImm_I32Xor: [I32AddImm] [I32Xor] // 12.6%
    I32MulAdd_I32MulAdd: [I32MulAdd] [I32MulAdd] // 12.5%
    I32AddRotl_BrIncNe: [I32AddRotl] [BrInc Ne] // 12.5%
    I32AddRotl_I32AddRotl: [I32AddRotl] [I32AddRotl] // 12.5%
    I32ShrUXor_I32AddRotl: [I32ShrUXor] [I32AddRotl] // 12.5%
    I32AddImm_I32ShrUImm: [I32AddImm] [I32ShrUImm] // 12.4%
    Copy_I64LoadIdx: [Copy] [I64LoadIdx] // 12.3%
    I32Add2_I32XorRotl: [I32Add2] [I32XorRotl] // 12.0%
    I32Store_I32Store: [I32Store] [I32Store] // 11.9%
    I32AddXorRotl_I32Add2: [I32AddXorRotl] [I32Add2] // 11.5%
    I32XorImm_I32AddImm: [I32XorImm] [I32AddImm] // 11.4%
    I32Store8_I32AddImm: [I32Store8] [I32AddImm] // 11.1%
    I32ShrUImm_I32AndImm: [I32ShrUImm] [I32AndImm] // 11.0%
    I32AddImm2_BrLoadLtS: [I32AddImm2] [BrLoad LtS] // 10.8%
    I32Add_I32Load8U: [I32Add] [I32Load8U] // 10.8%
    I32Load_Copy: [I32Load] [Copy] // 10.7%
    BrI32LtUImm_I32AddImm: [BrI32LtUImm] [I32AddImm] // 10.2%
    I64Xor_I64RotlImm: [I64Xor] [I64RotlImm] // 10.0%
    I64Add_I64Xor: [I64Add] [I64Xor] // 9.9%
    BrI32GtUImm_I32Add: [BrI32GtUImm] [I32Add] // 9.9%
    I32AndImm_BrIfEqz: [I32AndImm] [BrIfEqz] // 9.8%
    I32AddShl_Copy: [I32AddShl] [Copy] // 9.8%
    I32AddImm_I32XorImm: [I32AddImm] [I32XorImm] // 9.7%
    I32AddImmCopy_BrLoad8ULookupEqz: [I32AddImmCopy] [BrLoad8ULookupEqz] // 9.6%
    I32Store_I32Load: [I32Store] [I32Load] // 9.6%
    I32Add_I32Store8: [I32Add] [I32Store8] // 9.5%
    BrIfEqz_BrI32NeImm: [BrIfEqz] [BrI32NeImm] // 9.5%
    I32AddLtU_I32Add: [I32AddLtU] [I32Add] // 9.2%
    I32ShrUImm_I32Add: [I32ShrUImm] [I32Add] // 9.2%
    Copy_I32ShlImm: [Copy] [I32ShlImm] // 9.2%
    I32AddShl_I64Store: [I32AddShl] [I64Store] // 9.1%
    I64RotlImm_I64Add: [I64RotlImm] [I64Add] // 9.1%
    I64RotlXor_I64Add: [I64RotlXor] [I64Add] // 9.1%
    I32Store_Br: [I32Store] [Br] // 9.0%
    Const32_Select3: [Const32] [Select3] // 9.0%
    I32AddImmCopy_Copy: [I32AddImmCopy] [Copy] // 8.9%
    I32AddImm_I32Load: [I32AddImm] [I32Load] // 8.9%
    I32Load8UPostStep_BrBack: [I32Load8UPostStep] [BrBack] // 8.9%
    I64Add_I64RotlImm: [I64Add] [I64RotlImm] // 8.9%
    I32AddXorRotl_I32XorRotl: [I32AddXorRotl] [I32XorRotl] // 8.9%
    I64Xor_I64ShlImm: [I64Xor] [I64ShlImm] // 8.9%
    I32AddImm_I32AddImm: [I32AddImm] [I32AddImm] // 8.5%
    I32RemU_BrIncNez: [I32RemU] [BrInc Nez] // 8.3%
    I32AddShl_I32Load: [I32AddShl] [I32Load] // 8.3%
    I64LoadIdx_BrF64Lt: [I64LoadIdx] [BrF64Lt] // 8.3%
    I64LoadIdx_BrF64NotLt: [I64LoadIdx] [BrF64NotLt] // 8.3%
    I32OrImm_I64LoadIdx: [I32OrImm] [I64LoadIdx] // 8.3%
    I64LoadIdx_I32OrImm: [I64LoadIdx] [I32OrImm] // 8.3%
    I32Store_I32Add: [I32Store] [I32Add] // 8.2%
    I64Store_Copy: [I64Store] [Copy] // 8.1%
    I32ShlImm_BrI32LeS: [I32ShlImm] [BrI32LeS] // 8.1%
    Const32_I32AddImm: [Const32] [I32AddImm] // 7.9%
    I32OrImm_I32AddLtU: [I32OrImm] [I32AddLtU] // 7.7%
    I32Or_I32ShlXor: [I32Or] [I32ShlXor] // 7.6%
    I32RotlImm_I32RotlImm: [I32RotlImm] [I32RotlImm] // 7.6%
    I32ShlXor_I32ShlImm: [I32ShlXor] [I32ShlImm] // 7.6%
    I32ShlXor_I32Xor: [I32ShlXor] [I32Xor] // 7.6%
    I32ShlImm_I32And: [I32ShlImm] [I32And] // 7.6%
    I32AndImm_I32Or: [I32AndImm] [I32Or] // 7.6%
    I32AddImm_I32AddShl: [I32AddImm] [I32AddShl] // 7.5%
    I64Xor_I64AndNot: [I64Xor] [I64AndNot] // 7.5%
    I32AddShl_I32AddImm: [I32AddShl] [I32AddImm] // 7.4%
    I32AddImm2_I32Load: [I32AddImm2] [I32Load] // 6.9%
    GlobalGet_I32AddImm: [GlobalGet] [I32AddImm] // 6.9%
    I32Load_I32XorImm: [I32Load] [I32XorImm] // 6.8%
    I32AddImm_I32Add: [I32AddImm] [I32Add] // 6.8%
    Const32_Const32: [Const32] [Const32] // 6.7%
    I32Xor_I32Store: [I32Xor] [I32Store] // 6.6%
    I32Load16SDisp_I32Mul: [I32Load16SDisp] [I32Mul] // 6.5%
    I32AddShl_I32LoadDisp: [I32AddShl] [I32LoadDisp] // 6.5%
    I32Add_I32Add: [I32Add] [I32Add] // 6.4%
    Copy_I32AddImm: [Copy] [I32AddImm] // 6.4%
    I32Load_I32AddShl: [I32Load] [I32AddShl] // 6.4%
    I32AddImm_I32AddImmCopy: [I32AddImm] [I32AddImmCopy] // 6.3%
    I32AddImm2_BrBack: [I32AddImm2] [BrBack] // 6.3%
    I32And_BrI32AndImmEqz: [I32And] [BrI32AndImmEqz] // 6.2%
    I64RotlImm_I64RotlXor: [I64RotlImm] [I64RotlXor] // 6.2%
    I32AddLtU_I32Or: [I32AddLtU] [I32Or] // 6.2%
    I32Add_I32AddLtU: [I32Add] [I32AddLtU] // 6.2%
    BrI32LtUImm_Const32: [BrI32LtUImm] [Const32] // 6.1%
    BrI32GtUImm_I32AddImm: [BrI32GtUImm] [I32AddImm] // 6.1%
    I32Add_I32Load: [I32Add] [I32Load] // 6.0%
    I64Xor_I64ShrUImm: [I64Xor] [I64ShrUImm] // 5.9%
    I32LoadStoreAbs_I32LoadStoreAbs: [I32LoadStoreAbs] [I32LoadStoreAbs] // 5.8%
    I32Store_I32StoreDisp: [I32Store] [I32StoreDisp] // 5.8%
    I32Sub_ReturnSlot: [I32Sub] [ReturnSlot] // 5.7%
    I32ShlXor_I32RotlImm: [I32ShlXor] [I32RotlImm] // 5.7%
    I32AddNotShl_I32ShrUXor: [I32AddNotShl] [I32ShrUXor] // 5.6%
    I32AddImm_Const32: [I32AddImm] [Const32] // 5.6%
    I32OrImm_I32Store: [I32OrImm] [I32Store] // 5.6%
    I32AndImm_BrI32NeImm: [I32AndImm] [BrI32NeImm] // 5.6%
    Copy_CallIndirect: [Copy] [CallIndirect] // 5.5%
    Copy2_CallInternal: [Copy2] [CallInternal] // 5.4%
    I32AddImm_I32Load8UIdx: [I32AddImm] [I32Load8UIdx] // 5.3%
    I64Load_I64Load: [I64Load] [I64Load] // 5.3%
    I32And_I32AddShl: [I32And] [I32AddShl] // 5.3%
    I32Store_Copy2: [I32Store] [Copy2] // 5.3%
    I32And_I32Or: [I32And] [I32Or] // 5.3%
    BrLoadLeU_I32Load: [BrLoad LeU] [I32Load] // 5.3%
    I32Or_ReturnSlot: [I32Or] [ReturnSlot] // 5.2%
    Copy_I32AndImm: [Copy] [I32AndImm] // 5.2%
    I32XorImm_I32And: [I32XorImm] [I32And] // 5.2%
    I64ShlImm_I32AndImm: [I64ShlImm] [I32AndImm] // 5.2%
    I32Or_I32AddImm: [I32Or] [I32AddImm] // 5.2%
    I64Or_I32WrapI64: [I64Or] [I32WrapI64] // 5.1%
    Copy_I32AddImm2: [Copy] [I32AddImm2] // 5.1%
    I32Load_I32AddImm: [I32Load] [I32AddImm] // 5.0%
    I32AndImm_I32AddImm: [I32AndImm] [I32AddImm] // 5.0%
    I32Extend8S_BrTable: [I32Extend8S] [BrTable] // 5.0%
    I32AddImm_I32AndImm: [I32AddImm] [I32AndImm] // 4.9%
    // Fuel-metered code: a fuel region's `ConsumeFuel` and the instruction next to it (from the
    // profiles of `PAIR_PROFILE_RUNTIME=nanoproc-fuel scripts/pair-profile.sh`).
    ConsumeFuel_I32AddImm: [ConsumeFuel] [I32AddImm] // 52.8%
    ConsumeFuel_Const32: [ConsumeFuel] [Const32] // 42.4%
    ConsumeFuel_I32Store8ImmDisp: [ConsumeFuel] [I32Store8ImmDisp] // 37.9%
    ConsumeFuel_Copy: [ConsumeFuel] [Copy] // 29.1%
    ConsumeFuel_I32Add: [ConsumeFuel] [I32Add] // 19.3%
    ConsumeFuel_I32MulAdd: [ConsumeFuel] [I32MulAdd] // 19.0%
    ConsumeFuel_BrLoad8UDispEqz: [ConsumeFuel] [BrLoad8UDispEqz] // 16.6%
    ConsumeFuel_BrIfNez: [ConsumeFuel] [BrIfNez] // 16.5%
    ConsumeFuel_BrIfEqz: [ConsumeFuel] [BrIfEqz] // 16.1%
    ConsumeFuel_I32Load: [ConsumeFuel] [I32Load] // 14.1%
    BrIfEqz_ConsumeFuel: [BrIfEqz] [ConsumeFuel] // 14.0%
    ConsumeFuel_I32AddImm2: [ConsumeFuel] [I32AddImm2] // 13.9%
    ConsumeFuel_BrI32LtUImm: [ConsumeFuel] [BrI32LtUImm] // 12.4%
    ConsumeFuel_BrI32GeUImm: [ConsumeFuel] [BrI32GeUImm] // 10.9%
    Copy_ConsumeFuel: [Copy] [ConsumeFuel] // 10.7%
    ConsumeFuel_I32AndImm: [ConsumeFuel] [I32AndImm] // 10.4%
    ConsumeFuel_BrI32Ne: [ConsumeFuel] [BrI32Ne] // 9.2%
    Const32_ConsumeFuel: [Const32] [ConsumeFuel] // 8.8%
    ConsumeFuel_I32AddShl: [ConsumeFuel] [I32AddShl] // 8.3%
    ConsumeFuel_BrTable: [ConsumeFuel] [BrTable] // 8.2%
    ConsumeFuel_BrI32Eq: [ConsumeFuel] [BrI32Eq] // 8.0%
    ConsumeFuel_BrI32LtS: [ConsumeFuel] [BrI32LtS] // 7.6%
    BrI32LtUImm_ConsumeFuel: [BrI32LtUImm] [ConsumeFuel] // 7.5%
    ConsumeFuel_GlobalGet: [ConsumeFuel] [GlobalGet] // 6.2%
    ConsumeFuel_I32RotlImm: [ConsumeFuel] [I32RotlImm] // 4.8%
    ConsumeFuel_I32Load8UIdx: [ConsumeFuel] [I32Load8UIdx] // 4.4%
    ConsumeFuel_BrLoadGtUImm: [ConsumeFuel] [BrLoad GtUImm] // 4.3%
    ConsumeFuel_I32Load16S: [ConsumeFuel] [I32Load16S] // 4.2%
    ConsumeFuel_I32Load8U: [ConsumeFuel] [I32Load8U] // 3.7%
    I32AddImm_ConsumeFuel: [I32AddImm] [ConsumeFuel] // 3.4%
    ConsumeFuel_I32MulImm: [ConsumeFuel] [I32MulImm] // 2.8%
    ConsumeFuel_I32AddLtU: [ConsumeFuel] [I32AddLtU] // 2.8%
    ConsumeFuel_I32XorImm: [ConsumeFuel] [I32XorImm] // 2.7%
    ConsumeFuel_BrLoad8UPreStepNez: [ConsumeFuel] [BrLoad8UPreStep Nez] // 2.5%
    ConsumeFuel_BrLoadNez: [ConsumeFuel] [BrLoad Nez] // 2.2%
    ConsumeFuel_I32Load8SIdx: [ConsumeFuel] [I32Load8SIdx] // 2.1%
    ConsumeFuel_BrI32GtSImm: [ConsumeFuel] [BrI32GtSImm] // 2.0%
    ConsumeFuel_I32Load16SDisp: [ConsumeFuel] [I32Load16SDisp] // 1.9%
    ConsumeFuel_I32AddXorRotl: [ConsumeFuel] [I32AddXorRotl] // 1.8%
    ConsumeFuel_I32ShrUImm: [ConsumeFuel] [I32ShrUImm] // 1.8%
}

/// The threaded code of translated instructions: each instruction's handler, or the pair
/// handler of it and the next one where there is one.
pub(crate) fn thread(code: Vec<Instr>) -> Box<[Op]> {
    let mut ops = Vec::with_capacity(code.len());
    for (i, instr) in code.iter().enumerate() {
        let h = match code.get(i + 1) {
            Some(next) => pair_handler_for(instr, next).unwrap_or_else(|| handler_for(instr)),
            None => handler_for(instr),
        };
        ops.push(Op {
            h,
            tag: Tag::Unreachable,
            raw: [0; OPERAND_BYTES],
        });
        // Packed in place (see `Instr::pack_into`).
        if let Some(op) = ops.last_mut() {
            op.tag = instr.pack_into(&mut op.raw);
        }
    }
    ops.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each family's pattern in `pairs!` matches its own instruction with its own test,
    /// and nothing else: `family_table!` checks the other half (the handler each family
    /// and test runs), since single instructions run the same handlers.
    #[test]
    fn pair_patterns_match_their_family_and_test_only() {
        let load = |test| LoadBr {
            dst: 1,
            addr: 2,
            offset: 3,
            test,
            other: 4,
            target: 5,
        };
        let abs = |test| LoadAbsBr {
            dst: 1,
            addr: 2,
            test,
            other: 4,
            target: 5,
        };
        let step = |test| LoadStepBr {
            dst: 1,
            addr: 2,
            step: 3,
            test,
            other: 4,
            target: 5,
        };
        let inc = |test| IncBr {
            slot: 1,
            add: 2,
            test,
            other: 4,
            target: 5,
        };
        let (t, other) = (LoadTest::GtU, LoadTest::GtS);
        let (it, iother) = (IncTest::LtS, IncTest::LtU);
        let instrs = |t, it| {
            [
                Instr::BrLoad(load(t)),
                Instr::BrLoad8U(load(t)),
                Instr::BrLoadAbs(abs(t)),
                Instr::BrLoadPostStep(step(t)),
                Instr::BrLoad8UPostStep(step(t)),
                Instr::BrLoadPreStep(step(t)),
                Instr::BrLoad8UPreStep(step(t)),
                Instr::BrInc(inc(it)),
                Instr::BrIncBy(inc(it)),
            ]
        };
        let patterns: [fn(&Instr) -> bool; 9] = [
            |i| matches!(i, pair_pattern!(BrLoad GtU)),
            |i| matches!(i, pair_pattern!(BrLoad8U GtU)),
            |i| matches!(i, pair_pattern!(BrLoadAbs GtU)),
            |i| matches!(i, pair_pattern!(BrLoadPostStep GtU)),
            |i| matches!(i, pair_pattern!(BrLoad8UPostStep GtU)),
            |i| matches!(i, pair_pattern!(BrLoadPreStep GtU)),
            |i| matches!(i, pair_pattern!(BrLoad8UPreStep GtU)),
            |i| matches!(i, pair_pattern!(BrInc LtS)),
            |i| matches!(i, pair_pattern!(BrIncBy LtS)),
        ];
        for (p, pattern) in patterns.iter().enumerate() {
            for (i, instr) in instrs(t, it).iter().enumerate() {
                assert_eq!(pattern(instr), p == i, "pattern {p} on {instr:?}");
            }
            for instr in instrs(other, iother) {
                assert!(!pattern(&instr), "pattern {p} on {instr:?}");
            }
        }
        let copy = Instr::Copy(Un { dst: 1, src: 2 });
        assert!(matches!(copy, pair_pattern!(Copy)));
        assert!(!matches!(copy, pair_pattern!(Copy2)));
    }

    /// Every stop a handler can report survives the packing into one integer.
    #[test]
    fn exits_decode_to_what_was_encoded() {
        for (i, &fault) in Fault::ALL.iter().enumerate() {
            assert_eq!(fault as usize, i, "Fault::ALL is in discriminant order");
            for pc in [0, 1, 70_000, u32::MAX] {
                assert_eq!(Exit::trap(fault, pc).stop(), Stop::Trap(fault, pc));
            }
        }
        for pc in [0, 5, u32::MAX] {
            assert_eq!(Exit::at(MATCH, pc).stop(), Stop::Match(pc));
            assert_eq!(Exit::at(OUT_OF_FUEL, pc).stop(), Stop::OutOfFuel(pc));
        }
        assert_eq!(Exit::INTERNAL.stop(), Stop::Internal);
        assert_eq!(
            Exit::at(TRAP + Fault::ALL.len() as u64, 3).stop(),
            Stop::Internal
        );
    }
}
