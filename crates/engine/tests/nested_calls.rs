//! Calls the threaded code makes from a call handler (`docs/engine.md`, "Eighth session"):
//! the callee runs as a nested host call of its first handler, up to a bounded depth, with
//! its frame pushed as for any other call. Whatever stops inside such a callee (a trap, a
//! host function, the nesting bound, a depth limit, a stack to grow) must leave the frames
//! exactly as they would be without the nesting: these recursions cross the bound several
//! times, mix direct and indirect calls, and compare every result, backtrace and host-call
//! count with what the wasm describes. Each runs with both kinds of host function: one
//! without `Caller`, which the call handler calls itself, and one with, for which the
//! threaded code stops and gives the store back.

use nanoproc_engine::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// `$even` and `$odd` recurse into each other (`$odd` through the table) down to `$bottom`,
/// adding 1 and 2 on the way back. `$mode`: 0 returns 0 at the bottom, 1 traps there,
/// 2 returns the host's `tick`, 3 also calls `tick` at every level on the way down.
const MODULE: &str = r#"(module
  (import "host" "tick" (func $tick (param i32) (result i32)))
  (type $step (func (param i32 i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $even $odd)
  (func $even (export "even") (param $n i32) (param $mode i32) (result i32)
    (if (i32.eq (local.get $mode) (i32.const 3))
      (then (drop (call $tick (local.get $n)))))
    (if (result i32) (i32.eqz (local.get $n))
      (then (call $bottom (local.get $mode)))
      (else (i32.add (i32.const 1)
        (call $odd (i32.sub (local.get $n) (i32.const 1)) (local.get $mode))))))
  (func $odd (param $n i32) (param $mode i32) (result i32)
    (local $unused i64)
    (if (i32.eq (local.get $mode) (i32.const 3))
      (then (drop (call $tick (local.get $n)))))
    (if (result i32) (i32.eqz (local.get $n))
      (then (call $bottom (local.get $mode)))
      (else (i32.add (i32.const 2)
        (call_indirect (type $step)
          (i32.sub (local.get $n) (i32.const 1)) (local.get $mode) (i32.const 0))))))
  (func $bottom (param $mode i32) (result i32)
    (if (i32.eq (local.get $mode) (i32.const 1)) (then unreachable))
    (if (result i32) (i32.eq (local.get $mode) (i32.const 2))
      (then (call $tick (i32.const 1000)))
      (else (i32.const 0)))))"#;

/// What `even(n, mode)` returns, computed in Rust (`tick` returns 1000).
fn expected(n: i32, mode: i32) -> i32 {
    // The top level is `$even`: it adds 1, its callee (`$odd`) adds 2, and so on down.
    let climb: i32 = (0..n).map(|i| if i % 2 == 0 { 1 } else { 2 }).sum();
    climb + if mode == 2 { 1000 } else { 0 }
}

struct Setup {
    store: Store<()>,
    even: TypedFunc<(i32, i32), i32>,
    ticks: Arc<AtomicU32>,
    /// What `tick(1000)` (the call at the bottom) does: 0 returns, 1 fails, 2 panics.
    failure: Arc<AtomicU32>,
}

/// The two kinds of host function `tick` can be.
const KINDS: [HostKind; 2] = [HostKind::Plain, HostKind::WithCaller];

#[derive(Copy, Clone, Debug)]
enum HostKind {
    Plain,
    WithCaller,
}

/// `tick`: counts its calls; returns 1000 for 1000 (or fails as `failure` says), else -1.
fn tick(counter: &AtomicU32, failure: &AtomicU32, v: i32) -> Result<i32, Error> {
    counter.fetch_add(1, Ordering::Relaxed);
    if v != 1000 {
        return Ok(-1);
    }
    match failure.load(Ordering::Relaxed) {
        0 => Ok(1000),
        1 => Err(Error::host(std::io::Error::other("tick failed"))),
        _ => panic!("tick panicked"),
    }
}

fn setup(config: &Config) -> Setup {
    setup_with(config, HostKind::Plain)
}

fn setup_with(config: &Config, kind: HostKind) -> Setup {
    let engine = Engine::new(config);
    let module = Module::new(&engine, MODULE).expect("the test module compiles");
    let mut store = Store::new(&engine, ());
    let ticks = Arc::new(AtomicU32::new(0));
    let failure = Arc::new(AtomicU32::new(0));
    let (counter, fail) = (ticks.clone(), failure.clone());
    let mut linker = Linker::new(&engine);
    match kind {
        HostKind::Plain => linker.func_wrap("host", "tick", move |v: i32| tick(&counter, &fail, v)),
        HostKind::WithCaller => {
            linker.func_wrap("host", "tick", move |_: Caller<'_, ()>, v: i32| {
                tick(&counter, &fail, v)
            })
        }
    }
    .expect("tick is defined");
    let instance = linker
        .instantiate(&mut store, &module)
        .expect("the test module instantiates");
    let even = instance
        .get_typed_func::<(i32, i32), i32>(&store, "even")
        .expect("even is exported");
    Setup {
        store,
        even,
        ticks,
        failure,
    }
}

/// Depths around the nesting bound (256) and several times past it.
const DEPTHS: [i32; 9] = [0, 1, 2, 255, 256, 257, 513, 600, 3000];

#[test]
fn nested_calls_return_what_the_wasm_computes_across_the_nesting_bound() {
    for kind in KINDS {
        let mut s = setup_with(&Config::new(), kind);
        results_and_host_calls_match_the_wasm(&mut s, &format!("{kind:?}"));
    }
}

fn results_and_host_calls_match_the_wasm(s: &mut Setup, kind: &str) {
    for mode in [0, 2, 3] {
        for n in DEPTHS {
            // The first run translates lazily (those calls go through `exec`); the second
            // finds every callee translated and nests.
            for run in 0..2 {
                s.ticks.store(0, Ordering::Relaxed);
                let got = s.even.call(&mut s.store, (n, mode)).expect("no trap");
                assert_eq!(
                    got,
                    expected(n, mode),
                    "{kind}: even({n}, {mode}), run {run}"
                );
                let ticks = s.ticks.load(Ordering::Relaxed);
                let want = match mode {
                    2 => 1,
                    3 => n as u32 + 1,
                    _ => 0,
                };
                assert_eq!(
                    ticks, want,
                    "{kind}: host calls of even({n}, {mode}), run {run}"
                );
            }
        }
    }
}

#[test]
fn a_trap_deep_in_nested_calls_has_every_frame_in_its_backtrace() {
    let mut s = setup(&Config::new());
    // Translate everything first, so the trapping run nests.
    s.even.call(&mut s.store, (3, 0)).expect("no trap");
    for n in [5, 100, 300] {
        let err = s.even.call(&mut s.store, (n, 1)).unwrap_err();
        let trap = err.as_trap().expect("a trap");
        assert_eq!(trap.kind, TrapKind::Unreachable, "even({n}, 1)");
        assert_backtrace(trap, n, 0x00, &format!("even({n}, 1)"));
    }
    // The store is usable after the trap, nesting again.
    assert_eq!(
        s.even.call(&mut s.store, (600, 0)).unwrap(),
        expected(600, 0)
    );
}

/// Checks the backtrace of a trap at `$bottom` under `even(n, _)`: every frame, innermost
/// first, each pointing at its instruction in the binary (`bottom_opcode` in `$bottom`,
/// the call each caller made: `call` in `$even`, `call_indirect` in `$odd`).
fn assert_backtrace(trap: &Trap, n: i32, bottom_opcode: u8, what: &str) {
    let names: Vec<String> = trap
        .backtrace
        .iter()
        .map(|f| f.func_name.clone().unwrap_or_default())
        .collect();
    // Innermost first: $bottom, then the level that reached 0, ..., $even(n).
    let mut want = vec!["bottom".to_string()];
    want.extend((0..=n).map(|level| if (n - level) % 2 == 0 { "even" } else { "odd" }.to_string()));
    if want.len() > 128 {
        // Long backtraces keep the first and last 64 frames around one marker.
        let omitted = want.len() - 128;
        let tail = want.split_off(want.len() - 64);
        want.truncate(64);
        want.push(format!("... {omitted} frames omitted ..."));
        want.extend(tail);
    }
    assert_eq!(names, want, "backtrace of {what}");
    let wasm = wat::parse_str(MODULE).expect("the test module parses");
    for (i, f) in trap.backtrace.iter().enumerate() {
        if f.func_index == u32::MAX {
            continue;
        }
        let offset = f.offset.expect("every frame has its offset");
        let opcode = wasm[offset as usize];
        let want = match f.func_name.as_deref() {
            Some("bottom") => bottom_opcode,
            Some("odd") if i > 1 => 0x11,
            _ => 0x10,
        };
        assert_eq!(opcode, want, "frame {i} of {what}: {f:?}");
    }
}

#[test]
fn a_host_function_failing_deep_in_nested_calls_is_blamed_on_every_frame() {
    for kind in KINDS {
        let mut s = setup_with(&Config::new(), kind);
        s.even.call(&mut s.store, (3, 0)).expect("no trap");
        for n in [0, 5, 255, 300] {
            // An error of the host function comes back as it is, a panic as a trap: both
            // are blamed on `$bottom`'s call of `tick` and every caller above it.
            for failure in [1, 2] {
                s.failure.store(failure, Ordering::Relaxed);
                let what = format!("{kind:?}: even({n}, 2) with failure {failure}");
                let err = s.even.call(&mut s.store, (n, 2)).unwrap_err();
                let trap = match err.as_trap() {
                    Some(trap) => trap,
                    None => {
                        assert_eq!(failure, 1, "{what}: {err}");
                        assert!(err.to_string().contains("tick failed"), "{what}: {err}");
                        continue;
                    }
                };
                assert!(
                    matches!(&trap.kind, TrapKind::Host(m) if m.contains("tick panicked")),
                    "{what}: {trap}"
                );
                assert_backtrace(trap, n, 0x10, &what);
            }
            // The store is usable afterwards, host calls at every level included.
            s.failure.store(0, Ordering::Relaxed);
            for mode in [2, 3] {
                let got = s.even.call(&mut s.store, (n, mode)).expect("no trap");
                assert_eq!(got, expected(n, mode), "{kind:?}: even({n}, {mode}) after");
            }
        }
    }
}

#[test]
fn the_call_depth_limit_holds_inside_nested_calls() {
    let mut s = setup(Config::new().max_call_depth(300));
    s.even.call(&mut s.store, (3, 0)).expect("no trap");
    // 299 levels plus $bottom: 300 frames, the limit.
    assert_eq!(
        s.even.call(&mut s.store, (298, 0)).unwrap(),
        expected(298, 0)
    );
    for n in [299, 400, 5000] {
        let err = s.even.call(&mut s.store, (n, 0)).unwrap_err();
        let trap = err.as_trap().expect("a trap");
        assert_eq!(trap.kind, TrapKind::CallStackExhausted, "even({n}, 0)");
    }
    assert_eq!(
        s.even.call(&mut s.store, (250, 2)).unwrap(),
        expected(250, 2)
    );
}

/// Nesting is bounded whatever the guest's depth: a recursion of 50 000 levels (host calls
/// on the way down included) runs on a thread with a 256 KiB stack.
#[test]
fn deep_recursion_nests_on_the_host_stack_only_boundedly() {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            for kind in KINDS {
                let mut s = setup_with(&Config::new(), kind);
                for mode in [0, 3] {
                    for _ in 0..2 {
                        let got = s.even.call(&mut s.store, (50_000, mode)).expect("no trap");
                        assert_eq!(got, expected(50_000, mode), "{kind:?}");
                    }
                }
            }
        })
        .expect("a thread starts")
        .join()
        .expect("the recursion's thread does not overflow or panic");
}

/// A call handler that calls a host function itself must still continue by a jump: a
/// million host calls in one loop run on a thread with a 128 KiB stack (a handler that
/// stayed on the host stack would need tens of megabytes).
#[test]
fn host_calls_in_a_long_loop_do_not_grow_the_host_stack() {
    const LOOP: &str = r#"(module
      (import "host" "nop" (func $nop (param i32) (result i32)))
      (func (export "run") (param $n i32) (result i32) (local $sum i32)
        (loop $l
          (local.set $sum (i32.add (local.get $sum) (call $nop (local.get $n))))
          (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (local.get $sum)))"#;
    std::thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(|| {
            for kind in KINDS {
                let engine = Engine::default();
                let module = Module::new(&engine, LOOP).expect("the loop compiles");
                let mut store = Store::new(&engine, ());
                let mut linker = Linker::new(&engine);
                match kind {
                    HostKind::Plain => linker.func_wrap("host", "nop", |v: i32| v & 1),
                    HostKind::WithCaller => {
                        linker.func_wrap("host", "nop", |_: Caller<'_, ()>, v: i32| v & 1)
                    }
                }
                .expect("nop is defined");
                let instance = linker.instantiate(&mut store, &module).expect("instance");
                let run = instance
                    .get_typed_func::<i32, i32>(&store, "run")
                    .expect("run is exported");
                // Half of 1..=1_000_000 is odd.
                assert_eq!(
                    run.call(&mut store, 1_000_000).unwrap(),
                    500_000,
                    "{kind:?}"
                );
            }
        })
        .expect("a thread starts")
        .join()
        .expect("the loop's thread does not overflow or panic");
}
