//! Inlining of calls to tiny leaf functions (`isalnum`, `toupper`, an empty `black_box`):
//! their few instructions replace the call in the caller, moved into the slots the
//! callee's frame would have had.
//!
//! Owns the choice of callees and the splice. A callee qualifies only if nothing it does
//! can tell: straight-line arithmetic on its own slots (no memory, no calls, no branches,
//! nothing that traps, so no backtrace or trap offset can differ; with fuel, running out
//! on entry to the callee traps at the call instead), no declared locals
//! (which a call would zero), one return at the end. The caller's frame grows to cover the
//! callee's, which is the stack the call would have used anyway. Must never change what a
//! program computes.

use crate::ir::{Instr, Slot, Tag, Un, BACKWARD};
use crate::module::{CompiledFunc, ModuleInner};

/// Callees of at most this many instructions (before their return) are inlined: a call
/// and its return cost about as much as this many dispatches.
const MAX_INLINED: usize = 6;

/// A callee's code, ready to move: its instructions without the return, and the slot
/// holding its result (`ReturnSlot`), if it returns one that way.
struct Leaf {
    body: Vec<Instr>,
    result: Option<Slot>,
    frame_cells: u32,
    /// With fuel, what the callee's region charges on entry: the inlined code charges the
    /// same where the call was, so fuel use does not change.
    fuel: Option<u32>,
}

/// Inlines, in every translated function of `m`, the calls of tiny leaf functions (for
/// eager translation). With fuel, the inlined code starts with the callee's own
/// `ConsumeFuel`, so every call costs the fuel it did; running out traps at the call.
pub(crate) fn inline_leaf_calls(m: &mut ModuleInner) {
    let leaves: Vec<Option<Leaf>> = m.code.iter().map(|c| c.get().and_then(leaf)).collect();
    if leaves.iter().all(Option::is_none) {
        return;
    }
    let window = crate::exec::FRAME_WINDOW as u32;
    let mut max_frame_cells = m.max_frame_cells;
    for func in m.code.iter_mut().filter_map(std::sync::OnceLock::get_mut) {
        if let Some(inlined) = inline_into(func, &leaves, window) {
            max_frame_cells = max_frame_cells.max(inlined.frame_cells);
            *func = inlined;
        }
    }
    m.max_frame_cells = max_frame_cells;
}

/// `f` as a leaf to inline, if it qualifies (see the module's doc).
fn leaf(f: &CompiledFunc) -> Option<Leaf> {
    // Cheap tests first: most functions are too long to decode at all.
    if f.code.len() > MAX_INLINED + 2 || f.local_cells != f.param_cells || !f.consts.is_empty() {
        return None;
    }
    let code: Vec<Instr> = f.code.iter().map(|op| op.instr()).collect();
    let (fuel, code) = match code.split_first() {
        Some((&Instr::ConsumeFuel { amount }, rest)) => (Some(amount), rest),
        _ => (None, &code[..]),
    };
    let (last, body) = code.split_last()?;
    let result = match *last {
        Instr::Return => None,
        Instr::ReturnSlot { src } => Some(src),
        _ => return None,
    };
    if body.len() > MAX_INLINED {
        return None;
    }
    for instr in body {
        // Moving it checks that it computes on slots only; `traps` leaves out the few of
        // those that can trap.
        let mut probe = *instr;
        if traps(instr) || !probe.map_slots(&Some) {
            return None;
        }
    }
    Some(Leaf {
        body: body.to_vec(),
        result,
        frame_cells: f.frame_cells,
        fuel,
    })
}

/// The register instructions that can trap: integer division and remainder, and float to
/// integer truncation that is not saturating.
fn traps(instr: &Instr) -> bool {
    use Instr as I;
    matches!(
        instr,
        I::I32DivS(_)
            | I::I32DivU(_)
            | I::I32RemS(_)
            | I::I32RemU(_)
            | I::I64DivS(_)
            | I::I64DivU(_)
            | I::I64RemS(_)
            | I::I64RemU(_)
            | I::I32TruncF32S(_)
            | I::I32TruncF32U(_)
            | I::I32TruncF64S(_)
            | I::I32TruncF64U(_)
            | I::I64TruncF32S(_)
            | I::I64TruncF32U(_)
            | I::I64TruncF64S(_)
            | I::I64TruncF64U(_)
    )
}

/// `f` with its calls of `leaves` inlined, if it has any that fit its frame window.
fn inline_into(f: &CompiledFunc, leaves: &[Option<Leaf>], window: u32) -> Option<CompiledFunc> {
    let inlinable = |instr: &Instr| match *instr {
        Instr::CallInternal { func, base } => {
            let leaf = leaves.get(func as usize)?.as_ref()?;
            (base.checked_add(leaf.frame_cells)? <= window).then_some((leaf, base))
        }
        _ => None,
    };
    // Most functions call no leaf: find out from the calls alone before decoding the rest.
    let calls_a_leaf = f
        .code
        .iter()
        .any(|op| op.tag == Tag::CallInternal && inlinable(&op.instr()).is_some());
    if !calls_a_leaf {
        return None;
    }
    let code: Vec<Instr> = f.code.iter().map(|op| op.instr()).collect();
    let mut out = Vec::with_capacity(code.len() + 8);
    let mut offsets = Vec::with_capacity(code.len() + 8);
    // Where each old instruction (and the end) now starts.
    let mut moved_to = Vec::with_capacity(code.len() + 1);
    let mut frame_cells = f.frame_cells;
    for (instr, &offset) in code.iter().zip(f.offsets.iter()) {
        moved_to.push(out.len() as u32);
        let Some((leaf, base)) = inlinable(instr) else {
            out.push(*instr);
            offsets.push(offset);
            continue;
        };
        let start = out.len();
        if let Some(amount) = leaf.fuel {
            out.push(Instr::ConsumeFuel { amount });
        }
        let into_frame = |s: Slot| s.checked_add(base);
        let mut spliced = true;
        for &callee_instr in &leaf.body {
            let mut moved = callee_instr;
            spliced &= moved.map_slots(&into_frame);
            out.push(moved);
        }
        if let Some(result) = leaf.result {
            // Where the call would leave it: the first cell of the callee's frame. The
            // last instruction computing it can write it there itself (it reads its
            // operands first), unless nothing in the body computed it.
            let last = out[start..].last_mut();
            match (result.checked_add(base), last) {
                (Some(src), Some(last)) if last.dst() == Some(src) => {
                    spliced &= last.set_dst(base);
                }
                (Some(src), _) if src != base => out.push(Instr::Copy(Un { dst: base, src })),
                (Some(_), _) => {}
                (None, _) => spliced = false,
            }
        }
        if !spliced {
            // A slot did not fit a field: keep the call.
            out.truncate(start);
            out.push(*instr);
            offsets.push(offset);
            continue;
        }
        // The inlined instructions cannot trap (but for fuel running out, at the call):
        // their offset is the call's.
        offsets.resize(out.len(), offset);
        frame_cells = frame_cells.max(base + leaf.frame_cells);
    }
    moved_to.push(out.len() as u32);
    if out.len() >= BACKWARD as usize {
        return None;
    }
    for instr in &mut out {
        if let Some(t) = instr.target() {
            // Backward branches keep their flag: still backward, to the same instruction.
            let to = *moved_to.get((t & !BACKWARD) as usize)?;
            instr.set_target(to | (t & BACKWARD));
        }
    }
    Some(CompiledFunc {
        code: crate::threaded::thread(out),
        offsets: offsets.into_boxed_slice(),
        consts: f.consts.clone(),
        param_cells: f.param_cells,
        local_cells: f.local_cells,
        frame_cells,
    })
}
