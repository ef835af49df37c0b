//! Fuel (deterministic, resumable) and interruption (another thread, deadlines) stop every
//! kind of runaway guest, and the store keeps working afterwards.

use nanoproc_engine::*;
use std::time::{Duration, Instant};

const RUNAWAY: &str = r#"(module
  (memory 16384)
  (table 1 funcref)
  (func $loop (export "loop") (loop $l (br $l)))
  (func $rec (export "rec") (return_call $rec))
  (func $mutual_a (export "mutual") (call $mutual_b))
  (func $mutual_b (call $mutual_a))
  (func (export "br_table") (loop $l (br_table $l $l (i32.const 0))))
  (func (export "fill") (loop $l
    (memory.fill (i32.const 0) (i32.const 1) (i32.const 0x40000000))
    (br $l)))
  (func (export "counted") (local i32)
    (local.set 0 (i32.const 1))
    (loop $l
      (local.set 0 (i32.add (local.get 0) (i32.const 1)))
      (br_if $l (local.get 0))))
  (func (export "count") (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
    (local.get 1)))"#;

fn instance(config: &Config) -> (Store<()>, Instance) {
    let engine = Engine::new(config);
    let module = Module::new(&engine, RUNAWAY).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_limits(StoreLimits {
        memory_size: 2 << 30,
        total_memory: 2 << 30,
        ..StoreLimits::default()
    });
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    (store, inst)
}

fn trap_kind(r: Result<(), Error>) -> TrapKind {
    r.unwrap_err().as_trap().expect("a trap").kind.clone()
}

#[test]
fn every_runaway_kind_is_interrupted_by_another_thread() {
    // Without fuel, backward branches and calls poll; with fuel, the fuel regions do.
    for fuel in [false, true] {
        interrupt_every_runaway_kind(fuel);
    }
}

fn interrupt_every_runaway_kind(fuel: bool) {
    let (mut store, inst) = instance(Config::new().consume_fuel(fuel));
    if fuel {
        store.set_fuel(u64::MAX / 2).unwrap();
    }
    // "counted" (function 6) is a fused counter-and-branch: 2^32 iterations unless it polls.
    let module = Module::new(&Engine::default(), RUNAWAY).unwrap();
    assert!(module.internal_code(6).unwrap().contains("BrInc"));
    for name in ["loop", "rec", "br_table", "fill", "counted"] {
        let f = inst.get_typed_func::<(), ()>(&store, name).unwrap();
        let handle = store.interrupt_handle();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            handle.interrupt();
        });
        let start = Instant::now();
        assert_eq!(
            trap_kind(f.call(&mut store, ())),
            TrapKind::Interrupted,
            "{name}, fuel: {fuel}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{name} took {:?}",
            start.elapsed()
        );
        t.join().unwrap();
    }
    // The deep mutual recursion ends by exhaustion, not by hanging.
    let f = inst.get_typed_func::<(), ()>(&store, "mutual").unwrap();
    assert_eq!(
        trap_kind(f.call(&mut store, ())),
        TrapKind::CallStackExhausted
    );
    // The store is usable afterwards, and an interrupt is consumed by the trap it caused.
    let count = inst.get_typed_func::<i32, i32>(&store, "count").unwrap();
    assert_eq!(count.call(&mut store, 1000).unwrap(), 1000);
}

#[test]
fn deadline_stops_an_infinite_loop_promptly() {
    let (mut store, inst) = instance(&Config::new());
    let f = inst.get_typed_func::<(), ()>(&store, "loop").unwrap();
    store.set_deadline(Duration::from_millis(100));
    let start = Instant::now();
    assert_eq!(trap_kind(f.call(&mut store, ())), TrapKind::Interrupted);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(90),
        "stopped too early: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "stopped too late: {took:?}");
    // A cleared deadline never fires.
    store.set_deadline(Duration::from_millis(20));
    store.clear_deadline();
    std::thread::sleep(Duration::from_millis(60));
    let count = inst.get_typed_func::<i32, i32>(&store, "count").unwrap();
    assert_eq!(count.call(&mut store, 10).unwrap(), 10);
}

#[test]
fn fuel_is_deterministic_and_exhaustion_traps() {
    let mut config = Config::new();
    config.consume_fuel(true);
    let (mut store, inst) = instance(&config);
    let count = inst.get_typed_func::<i32, i32>(&store, "count").unwrap();
    let mut used = Vec::new();
    for _ in 0..3 {
        store.set_fuel(1_000_000).unwrap();
        assert_eq!(count.call(&mut store, 1000).unwrap(), 1000);
        used.push(1_000_000 - store.get_fuel().unwrap());
    }
    assert!(used.iter().all(|&u| u == used[0]), "{used:?}");
    // Linear in the work done: 10x the iterations cost about 10x the fuel.
    store.set_fuel(10_000_000).unwrap();
    count.call(&mut store, 10_000).unwrap();
    let used10 = 10_000_000 - store.get_fuel().unwrap();
    assert!(
        used10 > 9 * used[0] && used10 < 11 * used[0],
        "{used10} vs {}",
        used[0]
    );

    store.set_fuel(100).unwrap();
    let err = count.call(&mut store, 1_000_000).unwrap_err();
    assert_eq!(err.as_trap().unwrap().kind, TrapKind::OutOfFuel);
    let f = inst.get_typed_func::<(), ()>(&store, "loop").unwrap();
    store.set_fuel(1_000_000).unwrap();
    assert_eq!(trap_kind(f.call(&mut store, ())), TrapKind::OutOfFuel);
    // Bulk operations pay for the bytes they touch.
    let fill = inst.get_typed_func::<(), ()>(&store, "fill").unwrap();
    store.set_fuel(1_000_000).unwrap();
    assert_eq!(trap_kind(fill.call(&mut store, ())), TrapKind::OutOfFuel);
}

/// The fuel a loop uses is exactly its function's entry region plus its header's region,
/// as the internal code shows their amounts, per iteration.
#[test]
fn a_loop_pays_its_header_region_per_iteration_exactly() {
    let (engine, module) = metered(RUNAWAY);
    let code = module.internal_code(7).expect("\"count\" is function 7");
    let amounts = fuel_amounts(&code);
    assert_eq!(amounts.len(), 2, "entry and loop header regions:\n{code}");
    let per_iteration = amounts[1];
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let count = inst.get_typed_func::<i32, i32>(&store, "count").unwrap();
    let mut used = |n: i32| {
        store.set_fuel(100_000_000).unwrap();
        assert_eq!(count.call(&mut store, n).unwrap(), n.max(1));
        100_000_000 - store.get_fuel().unwrap()
    };
    let once = used(1);
    // A million iterations use several of the chunks the handlers get fuel in.
    for n in [2, 3, 10, 1000, 1_000_000] {
        assert_eq!(
            used(n),
            once + (n as u64 - 1) * per_iteration,
            "{n} iterations of a loop whose header region is {per_iteration}"
        );
    }
}

#[test]
fn refuelling_resumes_where_execution_stopped() {
    let mut config = Config::new();
    config.consume_fuel(true);
    let (mut store, inst) = instance(&config);
    let count = inst.get_typed_func::<i32, i32>(&store, "count").unwrap();
    let refills = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let r = refills.clone();
    store.on_out_of_fuel(move || {
        let n = r.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (n < 1000).then_some(100)
    });
    store.set_fuel(100).unwrap();
    assert_eq!(count.call(&mut store, 5000).unwrap(), 5000);
    let n = refills.load(std::sync::atomic::Ordering::Relaxed);
    assert!(n > 10 && n < 1000, "{n} refills");
}

#[test]
fn fuel_requires_the_engine_to_meter_it() {
    let (mut store, _) = instance(&Config::new());
    assert!(store.set_fuel(10).is_err());
    assert!(store.get_fuel().is_err());
}

#[test]
fn host_functions_can_budget_fuel_for_a_callee() {
    let (engine, module) = metered(
        r#"(module
          (import "h" "budgeted" (func $budgeted (result i32)))
          (func (export "spin") (loop (br 0)))
          (func (export "run") (result i32) (call $budgeted)))"#,
    );
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    // Runs `spin` with only 1000 units, then restores the caller's remaining fuel.
    linker
        .func_wrap(
            "h",
            "budgeted",
            |mut caller: Caller<'_, ()>| -> Result<i32, Error> {
                let saved = caller.get_fuel()?;
                caller.set_fuel(1000)?;
                let spin = caller
                    .get_export("spin")
                    .and_then(Extern::into_func)
                    .unwrap();
                let r = spin.typed::<(), ()>(&caller)?.call(&mut caller, ());
                caller.set_fuel(saved)?;
                Ok(match r {
                    Err(e) if e.as_trap().map(|t| &t.kind) == Some(&TrapKind::OutOfFuel) => 1,
                    _ => 0,
                })
            },
        )
        .unwrap();
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let run = inst.get_typed_func::<(), i32>(&store, "run").unwrap();
    store.set_fuel(1_000_000).unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), 1);
    let left = store.get_fuel().unwrap();
    assert!(
        left > 999_000,
        "the callee's budget was not charged to the caller: {left}"
    );
}

#[test]
fn bulk_memory_pays_by_size_and_completes_after_a_refill() {
    let (engine, module) = metered(
        r#"(module
          (memory (export "memory") 64)
          (func (export "fill") (param i32)
            (memory.fill (i32.const 0) (i32.const 7) (local.get 0)))
          (func (export "copy") (param i32)
            (memory.copy (i32.const 0x200000) (i32.const 0) (local.get 0))))"#,
    );
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let memory = inst.get_memory(&store, "memory").unwrap();
    for name in ["fill", "copy"] {
        let f = inst.get_typed_func::<i32, ()>(&store, name).unwrap();
        let mut cost = |n: i32| {
            store.set_fuel(1 << 40).unwrap();
            f.call(&mut store, n).unwrap();
            (1u64 << 40) - store.get_fuel().unwrap()
        };
        let (none, one, two) = (cost(0), cost(1 << 20), cost(2 << 20));
        let per_mib = one - none;
        assert_eq!(per_mib, (1 << 20) / costs::BULK_BYTES_PER_FUEL, "{name}");
        assert_eq!(two - none, 2 * per_mib, "{name}");
    }
    // Too little fuel for the operation: the refill handler tops up and the same
    // instruction runs again, once, to completion.
    memory.data_mut(&mut store)[..0x400000].fill(0);
    let refills = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let r = refills.clone();
    store.on_out_of_fuel(move || {
        r.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(1 << 20)
    });
    for name in ["fill", "copy"] {
        store.set_fuel(100).unwrap();
        let f = inst.get_typed_func::<i32, ()>(&store, name).unwrap();
        f.call(&mut store, 1 << 20).unwrap();
    }
    assert_eq!(refills.load(std::sync::atomic::Ordering::Relaxed), 2);
    let data = memory.data(&store);
    assert!(data[..1 << 20].iter().all(|&b| b == 7));
    assert!(data[0x200000..0x200000 + (1 << 20)].iter().all(|&b| b == 7));
    assert!(data[1 << 20..0x200000].iter().all(|&b| b == 0));
}

/// An engine that meters fuel, and `wat` compiled by it.
/// The amounts of the `ConsumeFuel` instructions in a function's internal code, in order.
fn fuel_amounts(code: &str) -> Vec<u64> {
    code.lines()
        .filter_map(|l| l.split("ConsumeFuel { amount: ").nth(1))
        // A region's `ConsumeFuel` may run paired with the next instruction: `(pair)`.
        .map(|rest| {
            let rest = rest.trim_end_matches("  (pair)");
            rest.trim_end_matches(" }").parse().expect("an amount")
        })
        .collect()
}

/// The handlers get fuel in chunks (2^20 units), refilled from the store's fuel as each is
/// used up: a region charged across chunk boundaries, and a bulk operation that needs more
/// than a chunk, cost exactly their amounts, and one unit less stops them.
#[test]
fn costs_across_chunks_of_fuel_are_charged_exactly() {
    let adds = "(global.set $g (i32.add (global.get $g) (i32.const 1)))\n".repeat(20_000);
    let wat = format!(
        r#"(module
          (memory 1280)
          (global $g (mut i32) (i32.const 0))
          (func (export "long") {adds})
          (func (export "fill")
            (memory.fill (i32.const 0) (i32.const 7) (i32.const 83886080))
            (call $after))
          (func $after (global.set $g (i32.const 1))))"#
    );
    let (engine, module) = metered(&wat);
    // "long" is one region; "fill" is its entry region plus 80 MiB at 64 bytes a unit,
    // then `$after`'s region (charged from what the fill's chunk left).
    let long = fuel_amounts(&module.internal_code(0).expect("long"));
    let fill = fuel_amounts(&module.internal_code(1).expect("fill"));
    let after = fuel_amounts(&module.internal_code(2).expect("after"));
    assert_eq!(long.len(), 1, "one region");
    let chunk = 1 << 20;
    let fill_cost = fill[0] + 83_886_080 / 64 + after[0];
    assert!(fill_cost > chunk, "a fill of {fill_cost} units");
    let new_store = || {
        let mut store = Store::new(&engine, ());
        let inst = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        (store, inst)
    };
    // 100 calls of "long" use two chunks and part of a third.
    let (mut store, inst) = new_store();
    let f = inst.get_typed_func::<(), ()>(&store, "long").unwrap();
    let calls = 100;
    assert!(calls * long[0] > 2 * chunk, "{} units", calls * long[0]);
    store.set_fuel(calls * long[0] + 7).unwrap();
    for i in 0..calls {
        f.call(&mut store, ()).expect("enough fuel");
        assert_eq!(store.get_fuel().unwrap(), (calls - 1 - i) * long[0] + 7);
    }
    assert_eq!(trap_kind(f.call(&mut store, ())), TrapKind::OutOfFuel);
    assert_eq!(
        store.get_fuel().unwrap(),
        7,
        "a region short of fuel is not charged"
    );
    // One fill, more than a chunk.
    let (mut store, inst) = new_store();
    let f = inst.get_typed_func::<(), ()>(&store, "fill").unwrap();
    store.set_fuel(fill_cost - 1).unwrap();
    assert_eq!(
        trap_kind(f.call(&mut store, ())),
        TrapKind::OutOfFuel,
        "fill on one unit less than {fill_cost}"
    );
    for spare in [0, 1, 100_000] {
        store.set_fuel(fill_cost + spare).unwrap();
        f.call(&mut store, ()).expect("enough fuel");
        assert_eq!(store.get_fuel().unwrap(), spare, "fill costs {fill_cost}");
    }
}

fn metered(wat: &str) -> (Engine, Module) {
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    let module = Module::new(&engine, wat).unwrap();
    (engine, module)
}
