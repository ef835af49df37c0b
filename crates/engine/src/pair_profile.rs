//! The pair profile: how often each instruction fell through to the next one, by the
//! two handlers, for choosing the pair handlers (`threaded`'s `pairs!`). Compiled only
//! with `RUSTFLAGS="--cfg nanoproc_pair_profile"` (`scripts/pair-profile.sh` builds and
//! runs it); it counts in every dispatch, so a profiled run is about 20 times slower.
//!
//! What it must never do: exist in a normal build. Taken branches are not counted: a pair
//! handler only saves the dispatch from one instruction to the next in the code.

use crate::ir::Instr;
use crate::threaded::Op;
use std::cell::RefCell;
use std::collections::HashMap;

/// (first handler, second handler) → how often, and an example of each instruction.
type Counts = HashMap<(usize, usize), (u64, Instr, Instr)>;

struct Profile {
    counts: Counts,
    total: u64,
    written: u64,
}

thread_local! {
    static PROFILE: RefCell<Profile> = RefCell::new(Profile {
        counts: HashMap::new(),
        total: 0,
        written: 0,
    });
}

/// Counts the fall-through from the instruction before `rest` (in `code`) to `rest[0]`.
#[inline(never)]
pub(crate) fn count(code: &[Op], rest: &[Op]) {
    let (Some(before), Some(next)) = ((code.len() - rest.len()).checked_sub(1), rest.first())
    else {
        return;
    };
    let first = &code[before];
    PROFILE.with(|p| {
        let mut p = p.borrow_mut();
        // Handlers, not tags: a family has one handler per test.
        let key = (first.h as usize, next.h as usize);
        p.counts
            .entry(key)
            .or_insert_with(|| (0, first.instr(), next.instr()))
            .0 += 1;
        p.total += 1;
    });
}

/// Writes the profile to `$NANOPROC_PAIR_PROFILE` (default `pair-profile.txt`), one
/// pair a line: the count and the two instructions as `pairs!` names them. Called as the
/// threaded code stops (`done`: its entry returned), and writes then, or every 2^28 pairs.
pub(crate) fn write(done: bool) {
    PROFILE.with(|p| {
        let mut p = p.borrow_mut();
        let new = p.total - p.written;
        if new == 0 || (!done && new < 1 << 28) {
            return;
        }
        p.written = p.total;
        let mut out = String::new();
        for (n, a, b) in p.counts.values() {
            out += &format!("{n}\t{}\t{}\n", name(a), name(b));
        }
        let path =
            std::env::var("NANOPROC_PAIR_PROFILE").unwrap_or_else(|_| "pair-profile.txt".into());
        if let Err(e) = std::fs::write(&path, out) {
            eprintln!("pair profile: cannot write {path}: {e}");
        }
    });
}

/// `[Name]`, or `[Family Test]` / `[Family Op]` for the families with one handler per
/// test or per SIMD operator (`threaded`'s `V128_*` tables; the other SIMD instructions
/// with an `op` have one handler for all).
fn name(i: &Instr) -> String {
    let debug = format!("{i:?}");
    let word = |s: &str| -> String { s.chars().take_while(|c| c.is_alphanumeric()).collect() };
    let per_operator = matches!(
        i,
        Instr::V128Unary { .. }
            | Instr::V128Binary { .. }
            | Instr::V128BinaryConst { .. }
            | Instr::V128Shift { .. }
            | Instr::V128ShiftImm { .. }
            | Instr::V128Test { .. }
            | Instr::V128Load { .. }
    );
    let which = debug
        .split("test: ")
        .nth(1)
        .or_else(|| debug.split("op: ").nth(1).filter(|_| per_operator));
    match which {
        Some(which) => format!("[{} {}]", word(&debug), word(which)),
        None => format!("[{}]", word(&debug)),
    }
}
