//! Inlining of tiny leaf functions (`crates/engine/src/inline.rs`), which eager
//! translation without fuel does: the same results as the calls (run with lazy
//! translation, which keeps them), branches around inlined calls still land where they
//! did, and only callees that nothing can tell apart are inlined.

use nanoproc_engine::{Config, Engine, Instance, Linker, Module, Store, Val};

fn engine(lazy: bool) -> Engine {
    let mut config = Config::new();
    config.lazy_translation(lazy);
    Engine::new(&config)
}

fn instance(engine: &Engine, wat: &str) -> (Store<()>, Instance) {
    let module = Module::new(engine, wat).expect("module compiles");
    let mut store = Store::new(engine, ());
    // A branch landing in the wrong place could loop forever: fail instead.
    store.set_deadline(std::time::Duration::from_secs(10));
    let inst = Linker::new(engine)
        .instantiate(&mut store, &module)
        .expect("module instantiates");
    (store, inst)
}

fn call(store: &mut Store<()>, inst: Instance, name: &str, args: &[Val]) -> Vec<Val> {
    let f = inst.get_func(&*store, name).expect("export");
    let ty = f.ty(&*store);
    let mut results: Vec<Val> = ty.results().iter().map(|&t| Val::default_for(t)).collect();
    f.call(&mut *store, args, &mut results).expect("no trap");
    results
}

/// The internal code of function `k` with eager translation.
fn eager_code(wat: &str, k: usize) -> String {
    let module = Module::new(&engine(false), wat).expect("module compiles");
    module.internal_code(k).expect("function exists")
}

/// musl's `isalnum`, `toupper` and `tolower` shapes, an empty function, and callers that
/// loop and branch around the calls.
const CTYPE: &str = r#"(module
  (func $isalnum (param i32) (result i32)
    (i32.or (i32.lt_u (i32.add (local.get 0) (i32.const -48)) (i32.const 10))
            (i32.lt_u (i32.add (i32.or (local.get 0) (i32.const 32)) (i32.const -97)) (i32.const 26))))
  (func $toupper (param i32) (result i32)
    (select (i32.and (local.get 0) (i32.const 95)) (local.get 0)
      (i32.lt_u (i32.add (local.get 0) (i32.const -97)) (i32.const 26))))
  (func $nothing)
  (func $mix (param i64 i64) (result i64)
    (i64.xor (i64.rotl (local.get 0) (i64.const 13)) (i64.mul (local.get 1) (i64.const 31))))
  ;; Counts alphanumerics among bytes 0..n, upper-cases the others' sum, jumping forward
  ;; over calls and back across them.
  (func (export "scan") (param $n i32) (result i32) (local $i i32) (local $count i32) (local $sum i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $nothing)
        (if (call $isalnum (local.get $i))
          (then (local.set $count (i32.add (local.get $count) (i32.const 1))))
          (else (local.set $sum (i32.add (local.get $sum) (call $toupper (i32.and (local.get $i) (i32.const 255)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.add (i32.mul (local.get $count) (i32.const 65536)) (local.get $sum)))
  (func (export "fold") (param $x i64) (param $n i32) (result i64)
    (loop $again
      (local.set $x (call $mix (local.get $x) (i64.extend_i32_u (local.get $n))))
      (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $x)))"#;

#[test]
fn leaf_calls_are_inlined_and_compute_the_same() {
    for k in [4, 5] {
        let code = eager_code(CTYPE, k);
        assert!(!code.contains("CallInternal"), "function {k}:\n{code}");
    }
    let (mut eager, eager_inst) = instance(&engine(false), CTYPE);
    let (mut lazy, lazy_inst) = instance(&engine(true), CTYPE);
    for n in [0, 1, 47, 48, 58, 65, 97, 123, 300, 1000] {
        let args = [Val::I32(n)];
        assert_eq!(
            call(&mut eager, eager_inst, "scan", &args),
            call(&mut lazy, lazy_inst, "scan", &args),
            "scan({n})"
        );
    }
    for (x, n) in [(0i64, 1i32), (1, 5), (-1, 17), (0x1234_5678_9abc_def0, 100)] {
        let args = [Val::I64(x), Val::I32(n)];
        assert_eq!(
            call(&mut eager, eager_inst, "fold", &args),
            call(&mut lazy, lazy_inst, "fold", &args),
            "fold({x}, {n})"
        );
    }
    // And against a model, so that both cannot be wrong alike.
    let model = |n: u32| {
        let isalnum = |c: u32| c.wrapping_sub(48) < 10 || (c | 32).wrapping_sub(97) < 26;
        let toupper = |c: u32| if c.wrapping_sub(97) < 26 { c & 95 } else { c };
        let (mut count, mut sum) = (0u32, 0u32);
        for i in 0..n {
            if isalnum(i) {
                count += 1;
            } else {
                sum += toupper(i & 255);
            }
        }
        (count * 65536 + sum) as i32
    };
    for n in [0, 100, 300] {
        let got = call(&mut eager, eager_inst, "scan", &[Val::I32(n as i32)]);
        assert_eq!(got, vec![Val::I32(model(n))], "scan({n})");
    }
}

#[test]
fn callees_that_could_tell_are_not_inlined() {
    // Each callee below differs from a call if inlined: it traps (so it belongs in a
    // backtrace), reads memory, has a declared local (zeroed by a call), branches, or is
    // longer than a call costs.
    let callees = [
        "(func $f (param i32) (result i32) (i32.div_u (i32.const 100) (local.get 0)))",
        "(func $f (param i32) (result i32) (i32.load (local.get 0)))",
        "(func $f (param i32) (result i32) (local i32) (i32.add (local.get 0) (local.get 1)))",
        "(func $f (param i32) (result i32) (if (result i32) (local.get 0) (then (i32.const 1)) (else (i32.const 2))))",
        "(func $f (param i32) (result i32)
           (i32.add (i32.add (i32.add (i32.add (i32.add (i32.add (i32.add
             (i32.mul (local.get 0) (i32.const 3)) (i32.const 1)) (i32.rotl (local.get 0) (i32.const 5)))
             (i32.clz (local.get 0))) (i32.ctz (local.get 0))) (i32.popcnt (local.get 0)))
             (i32.shr_s (local.get 0) (i32.const 2))) (i32.xor (local.get 0) (i32.const 7))))",
    ];
    for callee in callees {
        let wat = format!(
            r#"(module (memory 1) {callee}
              (func (export "run") (param i32) (result i32)
                ;; Leaves a non-zero value in slot 2, where the callee's local would be.
                (drop (i32.add (local.get 0) (i32.mul (local.get 0) (i32.const 3))))
                (call $f (local.get 0))))"#
        );
        let code = eager_code(&wat, 1);
        assert!(code.contains("CallInternal"), "{callee}\n{code}");
        let (mut eager, eager_inst) = instance(&engine(false), &wat);
        let (mut lazy, lazy_inst) = instance(&engine(true), &wat);
        for x in [1, 4, 7, 1000] {
            assert_eq!(
                call(&mut eager, eager_inst, "run", &[Val::I32(x)]),
                call(&mut lazy, lazy_inst, "run", &[Val::I32(x)]),
            );
        }
    }
}

#[test]
fn with_fuel_inlined_calls_cost_what_calls_cost() {
    // Eager translation inlines under fuel too, charging the callee's region where the
    // call was: fuel use is exactly that of lazy translation, which keeps the calls, and
    // running out stops both at once.
    let fuel_engine = |lazy: bool| {
        let mut config = Config::new();
        config.lazy_translation(lazy).consume_fuel(true);
        Engine::new(&config)
    };
    let module = Module::new(&fuel_engine(false), CTYPE).expect("compiles");
    let code = module.internal_code(4).unwrap();
    assert!(!code.contains("CallInternal"), "{code}");
    let run = |lazy: bool, n: i32, fuel: u64| {
        let (mut store, inst) = instance(&fuel_engine(lazy), CTYPE);
        store.set_fuel(fuel).unwrap();
        let f = inst.get_func(&store, "scan").unwrap();
        let mut results = [Val::I32(0)];
        let outcome = f
            .call(&mut store, &[Val::I32(n)], &mut results)
            .map(|()| results[0])
            .map_err(|e| e.as_trap().map(|t| t.kind.clone()));
        (outcome, store.get_fuel().unwrap())
    };
    for n in [0, 1, 60, 300] {
        assert_eq!(
            run(false, n, 1_000_000),
            run(true, n, 1_000_000),
            "scan({n})"
        );
    }
    let used = 1_000_000 - run(true, 300, 1_000_000).1;
    for fuel in [used / 3, used / 2 + 7, used - 1] {
        let eager = run(false, 300, fuel);
        assert_eq!(eager.0, Err(Some(nanoproc_engine::TrapKind::OutOfFuel)));
        assert_eq!(eager, run(true, 300, fuel), "with {fuel} fuel");
    }
}
