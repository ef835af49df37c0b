//! Pair handlers (`docs/engine.md`, "Pair handlers"): two instructions in a row that run
//! as one dispatch. The second one stays in place, so what each half computes, a branch
//! to the second half, a trap in either half and a call in the second half must all be
//! exactly what they are without the pair. Each test first checks that its code does run
//! through the pair it is about (`(pair)` in the printed code), so a change to the list
//! of pairs that drops one fails here instead of leaving the test vacuous.

use nanoproc_engine::{Config, Engine, Error, Instance, Linker, Module, Store, TrapKind, Val};

fn instance(wat: &str) -> (Store<()>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, wat).expect("module compiles");
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .expect("module instantiates");
    (store, inst)
}

fn call(store: &mut Store<()>, inst: Instance, name: &str, args: &[i32]) -> Result<i32, Error> {
    let f = inst.get_func(&*store, name).expect("export exists");
    let args: Vec<Val> = args.iter().map(|&a| Val::I32(a)).collect();
    let mut results = [Val::I32(0)];
    f.call(&mut *store, &args, &mut results)?;
    Ok(results[0].i32().expect("an i32 result"))
}

/// Checks that function `k` of `wat` runs `first` and `second` as a pair: a line that
/// starts with `first` is marked `(pair)`, and the next line starts with `second`.
fn assert_paired(wat: &str, k: usize, first: &str, second: &str) {
    assert_paired_in(&Engine::default(), wat, k, first, second);
}

fn assert_paired_in(engine: &Engine, wat: &str, k: usize, first: &str, second: &str) {
    let module = Module::new(engine, wat).expect("module compiles");
    let code = module.internal_code(k).expect("function exists");
    let lines: Vec<&str> = code
        .lines()
        .map(|l| l.split_once(": ").unwrap().1)
        .collect();
    let paired = lines
        .windows(2)
        .any(|w| w[0].starts_with(first) && w[0].ends_with("(pair)") && w[1].starts_with(second));
    assert!(paired, "function {k}: no pair {first} → {second}:\n{code}");
}

/// The offsets in `wat`'s binary where `pattern` starts.
fn offsets_of(wat: &str, pattern: &[u8]) -> Vec<u32> {
    let binary = wat::parse_str(wat).unwrap();
    binary
        .windows(pattern.len())
        .enumerate()
        .filter(|(_, w)| *w == pattern)
        .map(|(i, _)| i as u32)
        .collect()
}

/// Two loads in a row, each with a distinctive offset (1234: LEB 0xd2 0x09; 2345: 0xa9 0x12)
/// so that its position in the binary can be found.
const TWO_LOADS: &str = r#"(module (memory (export "memory") 1)
  (func (export "two") (param $p i32) (param $q i32) (result i32) (local $a i32) (local $b i32)
    (local.set $a (i32.load offset=1234 (local.get $p)))
    (local.set $b (i32.load offset=2345 (local.get $q)))
    (i32.sub (local.get $a) (local.get $b)))
  (func (export "loop") (param $p i32) (param $n i32) (result i32)
    (local $a i32) (local $b i32) (local $s i32)
    (local.set $a (i32.load offset=1234 (local.get $p)))
    ;; The second load is the loop's head: the back edge jumps to it, not to the pair.
    (loop $l
      (local.set $b (i32.load offset=2345 (local.get $p)))
      (local.set $s (i32.add (local.get $s) (i32.sub (local.get $b) (local.get $a))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $s)))"#;

#[test]
fn both_halves_of_a_pair_compute_and_trap_as_themselves() {
    assert_paired(TWO_LOADS, 0, "I32Load(", "I32Load(");
    let (mut store, inst) = instance(TWO_LOADS);
    let memory = inst.get_memory(&store, "memory").expect("a memory");
    for (i, v) in [
        (1234u32, 100u32),
        (1238, 200),
        (2345, 7),
        (2349, 9),
        (2353, 11),
    ] {
        let at = i as usize;
        memory.data_mut(&mut store)[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    assert_eq!(call(&mut store, inst, "two", &[0, 0]).unwrap(), 100 - 7);
    assert_eq!(call(&mut store, inst, "two", &[4, 8]).unwrap(), 200 - 11);
    let first = offsets_of(TWO_LOADS, &[0x28, 0x02, 0xd2, 0x09]);
    let second = offsets_of(TWO_LOADS, &[0x28, 0x02, 0xa9, 0x12]);
    // Out of bounds in the first half, then in the second: each reports its own offset,
    // and the first half's trap comes before the second half runs.
    for (args, at) in [
        ([65536 - 1234, 0], first[0]),
        ([0, 65536 - 2345], second[0]),
    ] {
        let err = call(&mut store, inst, "two", &args).unwrap_err();
        let trap = err.as_trap().expect("a trap");
        assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds, "{args:?}");
        assert_eq!(trap.backtrace[0].offset, Some(at), "{args:?}");
    }
    let err = call(&mut store, inst, "two", &[65536 - 1234, 65536 - 2345]).unwrap_err();
    assert_eq!(err.as_trap().unwrap().backtrace[0].offset, Some(first[0]));
}

#[test]
fn a_branch_to_the_second_half_runs_it_alone() {
    assert_paired(TWO_LOADS, 1, "I32Load(", "I32Load(");
    let (mut store, inst) = instance(TWO_LOADS);
    let memory = inst.get_memory(&store, "memory").expect("a memory");
    let word = |i: u32| (i * 37 + 5) % 1000;
    for i in 0..40u32 {
        let at = (1234 + 4 * i) as usize;
        memory.data_mut(&mut store)[at..at + 4].copy_from_slice(&word(i).to_le_bytes());
        let at = (2345 + 4 * i) as usize;
        memory.data_mut(&mut store)[at..at + 4].copy_from_slice(&(3 * word(i)).to_le_bytes());
    }
    for (p, n) in [(0u32, 1u32), (0, 10), (8, 25)] {
        let a = word(p / 4) as i32;
        let expected: i32 = (0..n).map(|k| 3 * word(p / 4 + k) as i32 - a).sum();
        assert_eq!(
            call(&mut store, inst, "loop", &[p as i32, n as i32]).unwrap(),
            expected,
            "p = {p}, n = {n}"
        );
    }
    // The loop's load traps in a later iteration, at its own offset.
    let second = offsets_of(TWO_LOADS, &[0x28, 0x02, 0xa9, 0x12]);
    let err = call(&mut store, inst, "loop", &[65536 - 2345 - 12, 10]).unwrap_err();
    let trap = err.as_trap().expect("a trap");
    assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);
    assert_eq!(trap.backtrace[0].offset, Some(second[1]));
}

/// A conditional branch and the instruction after it: taken, the second half does not run.
const BRANCHES: &str = r#"(module
  (func (export "classify") (param $x i32) (param $y i32) (result i32)
    (block $zero
      (block $yes
        (br_if $zero (i32.eqz (local.get $x)))
        (br_if $yes (local.get $y))
        (return (i32.const 30)))
      (return (i32.const 20)))
    (i32.const 10)))"#;

#[test]
fn a_taken_branch_skips_the_second_half() {
    assert_paired(BRANCHES, 0, "BrIfEqz", "BrIfNez");
    let (mut store, inst) = instance(BRANCHES);
    for (x, y, expected) in [(0, 0, 10), (0, 1, 10), (1, 1, 20), (5, -1, 20), (1, 0, 30)] {
        assert_eq!(
            call(&mut store, inst, "classify", &[x, y]).unwrap(),
            expected,
            "x = {x}, y = {y}"
        );
    }
}

/// An argument's copy and the call after it; the callee traps when asked to.
const CALLS: &str = r#"(module
  (func $callee (param $x i32) (param $y i32) (result i32)
    (if (i32.eqz (local.get $y)) (then unreachable))
    (i32.add (local.get $x) (local.get $y)))
  (func (export "caller") (param $a i32) (param $b i32) (result i32) (local $t i32)
    (local.set $t (i32.mul (local.get $a) (i32.const 3)))
    (i32.add
      (call $callee (local.get $b) (local.get $t))
      (local.get $a))))"#;

#[test]
fn a_call_in_the_second_half_returns_to_the_right_place_and_reports_it() {
    assert_paired(CALLS, 1, "Copy2", "CallInternal");
    let (mut store, inst) = instance(CALLS);
    for (a, b) in [(1, 2), (7, -3), (100, 0)] {
        assert_eq!(
            call(&mut store, inst, "caller", &[a, b]).unwrap(),
            b + 3 * a + a,
            "a = {a}, b = {b}"
        );
    }
    // The callee traps: the caller's frame reports the call's offset (`call 0`).
    let calls = offsets_of(CALLS, &[0x10, 0x00]);
    assert_eq!(calls.len(), 1, "one call in the binary");
    let err = call(&mut store, inst, "caller", &[0, 5]).unwrap_err();
    let trap = err.as_trap().expect("a trap");
    assert_eq!(trap.kind, TrapKind::Unreachable);
    assert_eq!(trap.backtrace[1].offset, Some(calls[0]));
}

/// A loop whose fuel region starts with its `ConsumeFuel` paired with the first
/// instruction of the body.
const FUEL_LOOP: &str = r#"(module
  (func (export "sum") (param $n i32) (result i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (local.get $n)))
      (br_if $l (local.tee $n (i32.add (local.get $n) (i32.const -1)))))
    (local.get $s)))"#;

#[test]
fn a_fuel_region_charged_in_a_pair_costs_what_it_costs_alone() {
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    assert_paired_in(&engine, FUEL_LOOP, 0, "ConsumeFuel", "I32Add(");
    let module = Module::new(&engine, FUEL_LOOP).expect("module compiles");
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .expect("module instantiates");
    let sum = inst.get_typed_func::<i32, i32>(&store, "sum").unwrap();
    let cost = |store: &mut Store<()>, n: i32| {
        store.set_fuel(u64::MAX / 2).unwrap();
        let s = sum.call(&mut *store, n).unwrap();
        assert_eq!(s, (1..=n as i64).sum::<i64>() as i32, "n = {n}");
        u64::MAX / 2 - store.get_fuel().unwrap()
    };
    // Fuel is linear in the iterations; across many 2^20-unit chunks of fuel (each
    // refilled in the pair's first half) it stays exactly so.
    let (one, two) = (cost(&mut store, 1), cost(&mut store, 2));
    let per_iteration = two - one;
    assert!(per_iteration > 0);
    let n = 3_000_000;
    let expected = one + per_iteration * (n as u64 - 1);
    assert!(expected > 4 << 20, "crosses several chunks");
    assert_eq!(cost(&mut store, n), expected);
    // One unit short stops it, out of fuel; exactly enough runs it.
    store.set_fuel(expected - 1).unwrap();
    let err = sum.call(&mut store, n).unwrap_err();
    assert_eq!(err.as_trap().expect("a trap").kind, TrapKind::OutOfFuel);
    store.set_fuel(expected).unwrap();
    assert!(sum.call(&mut store, n).is_ok());
}
