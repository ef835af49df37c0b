//! Lazy translation (`Config::lazy_translation`, on by default): a function is validated and
//! checked against every limit when the module is compiled, and translated on its first
//! call. These tests check that lazily translated code is the same code eager translation
//! produces, that nothing is translated before it is needed, that every way of entering a
//! function (export, direct call, indirect call, tail call, another instance, two threads
//! at once) translates it, and that a module `Module::new` accepts never fails later.

use std::sync::{Arc, Barrier};

use nanoproc_engine::*;

fn engine(lazy: bool) -> Engine {
    let mut config = Config::new();
    config.lazy_translation(lazy).wasm_tail_call(true);
    Engine::new(&config)
}

fn instantiate(engine: &Engine, module: &Module) -> (Store<()>, Instance) {
    let mut store = Store::new(engine, ());
    let inst = Linker::new(engine)
        .instantiate(&mut store, module)
        .expect("module instantiates");
    (store, inst)
}

fn call_i32(store: &mut Store<()>, inst: Instance, name: &str, arg: i32) -> Result<i32, Error> {
    inst.get_typed_func::<i32, i32>(&*store, name)
        .expect("export exists")
        .call(store, arg)
}

/// Loops, br_table, direct and indirect calls, memory, globals, a deep operand stack and
/// SIMD without constants: the shapes the translator treats specially.
const MIXED: &str = r#"(module $mixed
  (memory 1)
  (data (i32.const 16) "\01\02\03\04\05\06\07\08")
  (global $g (mut i32) (i32.const 5))
  (table funcref (elem $square $triple))
  (type $unary (func (param i32) (result i32)))
  (func $square (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  (func $triple (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func $sum_to (export "sum_to") (param i32) (result i32) (local i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get 0)))
        (local.set 1 (i32.add (local.get 1) (local.get 0)))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br $next)))
    (local.get 1))
  (func $pick (export "pick") (param i32) (result i32)
    (block $c (block $b (block $a
      (br_table $a $b $c (local.get 0)))
      (return (call $square (i32.const 7))))
      (return (call_indirect (type $unary) (i32.const 7) (i32.const 1))))
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (global.get $g))
  (func $bytes (export "bytes") (param i32) (result i32)
    (i32.add (i32.load8_u offset=16 (local.get 0)) (i32.load16_u offset=16 (local.get 0))))
  (func $deep (export "deep") (param i32) (result i32)
    (i32.add (local.get 0) (i32.add (local.get 0) (i32.add (local.get 0) (i32.add (local.get 0)
    (i32.add (local.get 0) (i32.add (local.get 0) (i32.add (local.get 0) (i32.add (local.get 0)
    (i32.add (local.get 0) (i32.add (local.get 0) (i32.add (local.get 0) (local.get 0)))))))))))))
  (func $lanes (export "lanes") (param i32) (result i32)
    (i32x4.extract_lane 2 (i32x4.add (i32x4.splat (local.get 0)) (i32x4.splat (i32.const 40)))))
  (func $unused (export "unused") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0))))"#;

const MIXED_EXPORTS: [&str; 6] = ["sum_to", "pick", "bytes", "deep", "lanes", "unused"];

#[test]
fn lazy_and_eager_translation_produce_the_same_code_and_results() {
    let lazy = Module::new(&engine(true), MIXED).unwrap();
    let eager = Module::new(&engine(false), MIXED).unwrap();
    let (mut lazy_store, lazy_inst) = instantiate(lazy.engine(), &lazy);
    let (mut eager_store, eager_inst) = instantiate(eager.engine(), &eager);
    for name in MIXED_EXPORTS {
        for arg in [0, 1, 2, 3, 10] {
            let from_lazy =
                call_i32(&mut lazy_store, lazy_inst, name, arg).map_err(|e| e.to_string());
            let from_eager =
                call_i32(&mut eager_store, eager_inst, name, arg).map_err(|e| e.to_string());
            assert_eq!(from_lazy, from_eager, "{name}({arg})");
        }
    }
    // Spot checks, so that both being wrong the same way cannot pass.
    assert_eq!(
        call_i32(&mut lazy_store, lazy_inst, "sum_to", 10).unwrap(),
        55
    );
    assert_eq!(call_i32(&mut lazy_store, lazy_inst, "pick", 0).unwrap(), 49);
    assert_eq!(call_i32(&mut lazy_store, lazy_inst, "pick", 1).unwrap(), 21);
    assert_eq!(
        call_i32(&mut lazy_store, lazy_inst, "bytes", 1).unwrap(),
        2 + 0x0302
    );
    assert_eq!(call_i32(&mut lazy_store, lazy_inst, "deep", 3).unwrap(), 36);
    assert_eq!(
        call_i32(&mut lazy_store, lazy_inst, "lanes", 2).unwrap(),
        42
    );
    // The same code, but for the calls of tiny leaf functions that eager translation
    // inlines (it has every callee at hand): `pick`'s direct call of `square`.
    for index in 0..lazy.defined_function_count() {
        let (from_lazy, from_eager) = (lazy.internal_code(index), eager.internal_code(index));
        let calls = |code: &Option<String>| {
            code.as_deref()
                .unwrap_or("")
                .matches("CallInternal")
                .count()
        };
        if index == 3 {
            assert_eq!(
                (calls(&from_lazy), calls(&from_eager)),
                (1, 0),
                "{from_eager:?}"
            );
        } else {
            assert_eq!(from_lazy, from_eager, "function {index}");
        }
    }
}

#[test]
fn only_the_functions_that_run_are_translated() {
    let eager = Module::new(&engine(false), MIXED).unwrap();
    assert_eq!(
        eager.translated_function_count(),
        eager.defined_function_count()
    );

    let module = Module::new(&engine(true), MIXED).unwrap();
    assert_eq!(module.defined_function_count(), 8);
    assert_eq!(module.translated_function_count(), 0);
    let (mut store, inst) = instantiate(module.engine(), &module);
    assert_eq!(
        module.translated_function_count(),
        0,
        "instantiation translates nothing"
    );

    assert_eq!(call_i32(&mut store, inst, "sum_to", 4).unwrap(), 10);
    assert_eq!(module.translated_function_count(), 1);
    // `pick` 0 calls `square` directly; `triple` (only reachable through the table) waits.
    assert_eq!(call_i32(&mut store, inst, "pick", 0).unwrap(), 49);
    assert_eq!(module.translated_function_count(), 3);
    assert_eq!(call_i32(&mut store, inst, "pick", 1).unwrap(), 21);
    assert_eq!(module.translated_function_count(), 4);
    // Calling again translates nothing more.
    assert_eq!(call_i32(&mut store, inst, "sum_to", 5).unwrap(), 15);
    assert_eq!(module.translated_function_count(), 4);

    // Inspecting a function translates it; counting instructions translates the rest.
    assert!(
        module.internal_code(7).unwrap().contains("Div"),
        "the body of `unused`"
    );
    assert_eq!(module.translated_function_count(), 5);
    assert!(module.internal_code(8).is_none(), "no ninth function");
    let each_inspected = Module::new(&engine(true), MIXED).unwrap();
    let inspected: usize = (0..8)
        .map(|k| each_inspected.internal_code(k).unwrap().lines().count())
        .sum();
    assert_eq!(module.instruction_count(), inspected);
    assert_eq!(module.translated_function_count(), 8);
}

#[test]
fn a_trap_in_a_lazily_translated_function_has_a_full_backtrace() {
    let wat = r#"(module $m
      (func $outer (export "outer") (param i32) (result i32) (i32.add (call $inner (local.get 0)) (i32.const 1)))
      (func $inner (param i32) (result i32) (i32.div_s (i32.const 10) (local.get 0))))"#;
    let module = Module::new(&engine(true), wat).unwrap();
    let (mut store, inst) = instantiate(module.engine(), &module);
    let trap = match call_i32(&mut store, inst, "outer", 0).unwrap_err() {
        Error::Trap(trap) => trap,
        other => panic!("expected a trap, got {other}"),
    };
    assert_eq!(trap.kind, TrapKind::IntegerDivideByZero);
    let names: Vec<_> = trap
        .backtrace
        .iter()
        .map(|f| f.func_name.as_deref())
        .collect();
    assert_eq!(
        names,
        [Some("inner"), Some("outer")],
        "{}",
        trap.backtrace_string()
    );
    assert!(
        trap.backtrace.iter().all(|f| f.offset.is_some()),
        "{}",
        trap.backtrace_string()
    );
    // The store stays usable and the translated code is reused.
    assert_eq!(call_i32(&mut store, inst, "outer", 5).unwrap(), 3);
}

#[test]
fn limits_are_enforced_when_the_module_is_compiled_not_on_first_call() {
    let mut config = Config::new();
    config.lazy_translation(true).module_limits(ModuleLimits {
        br_table_targets: 3,
        locals_per_function: 4,
        ..ModuleLimits::default()
    });
    let limited = Engine::new(&config);
    let br_table = r#"(module (func (param i32)
      (block (block (block (block (block (br_table 0 1 2 3 4 (local.get 0)))))))))"#;
    let err = Module::new(&limited, br_table).unwrap_err().to_string();
    assert!(err.contains("br_table_targets"), "{err}");
    let locals = "(module (func (local i32 i32 i32 i32 i32)))";
    let err = Module::new(&limited, locals).unwrap_err().to_string();
    assert!(err.contains("locals_per_function"), "{err}");
    // At the limits it compiles.
    Module::new(
        &limited,
        "(module (func (param i32) (block (block (block (br_table 0 1 2 (local.get 0)))))))",
    )
    .unwrap();
    Module::new(&limited, "(module (func (local i32 i32 i32 i32)))").unwrap();

    // A frame too large for the interpreter window is refused up front too.
    let big = "(module (func (local v128) (local ".to_string() + &"v128 ".repeat(39_999) + ")))";
    let err = Module::new(&engine(true), &big).unwrap_err().to_string();
    assert!(err.contains("cells_per_function"), "{err}");
    // So is a function that is invalid only deep inside its body, never called.
    let invalid = r#"(module (func (export "ok") (param i32) (result i32) (local.get 0))
      (func (block (loop (i32.const 1) (br_if 1) (i64.const 2) (drop) (f32.const 0) (i32.eqz) (drop)))))"#;
    let err = Module::new(&engine(true), invalid).unwrap_err().to_string();
    assert!(err.contains("type mismatch"), "{err}");
}

#[test]
fn v128_constants_and_shuffles_work_in_lazy_modules() {
    // v128.const and i8x16.shuffle keep their 16 bytes in the module's constant pool, so
    // functions using them are translated when the module is compiled.
    let wat = r#"(module
      (func (export "konst") (param i32) (result i32)
        (i32x4.extract_lane 3 (i32x4.add (v128.const i32x4 1 2 3 4) (i32x4.splat (local.get 0)))))
      (func (export "shuffle") (param i32) (result i32)
        (i8x16.extract_lane_u 0 (i8x16.shuffle 16 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0
          (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15) (i8x16.splat (local.get 0)))))
      (func (export "plain") (param i32) (result i32)
        (i32x4.extract_lane 0 (i32x4.splat (local.get 0)))))"#;
    let module = Module::new(&engine(true), wat).unwrap();
    assert_eq!(module.translated_function_count(), 2);
    let (mut store, inst) = instantiate(module.engine(), &module);
    assert_eq!(call_i32(&mut store, inst, "konst", 10).unwrap(), 14);
    // Lane 0 takes byte 16, the first of the second operand.
    assert_eq!(call_i32(&mut store, inst, "shuffle", 99).unwrap(), 99);
    assert_eq!(call_i32(&mut store, inst, "plain", 7).unwrap(), 7);
    assert_eq!(module.translated_function_count(), 3);
    let eager = Module::new(&engine(false), wat).unwrap();
    for index in 0..3 {
        assert_eq!(module.internal_code(index), eager.internal_code(index));
    }
}

#[test]
fn tail_calls_and_calls_from_another_instance_translate_their_target() {
    let callee_wat = r#"(module
      (func $count (export "count") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
          (then (i32.const 100))
          (else (return_call $count_down (local.get 0)))))
      (func $count_down (param i32) (result i32)
        (return_call $count (i32.sub (local.get 0) (i32.const 1)))))"#;
    let caller_wat = r#"(module
      (import "callee" "count" (func $count (param i32) (result i32)))
      (func (export "via_call") (param i32) (result i32) (call $count (local.get 0)))
      (func (export "via_tail") (param i32) (result i32) (return_call $count (local.get 0))))"#;
    let engine = engine(true);
    let callee = Module::new(&engine, callee_wat).unwrap();
    let caller = Module::new(&engine, caller_wat).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let callee_inst = linker.instantiate(&mut store, &callee).unwrap();
    linker.instance(&mut store, "callee", callee_inst).unwrap();
    let caller_inst = linker.instantiate(&mut store, &caller).unwrap();
    assert_eq!(callee.translated_function_count(), 0);
    // A tail call from another instance into a function never translated, which then
    // tail-calls a second untranslated one: 100 000 tail calls in constant stack.
    assert_eq!(
        call_i32(&mut store, caller_inst, "via_tail", 100_000).unwrap(),
        100
    );
    assert_eq!(callee.translated_function_count(), 2);
    assert_eq!(
        call_i32(&mut store, caller_inst, "via_call", 3).unwrap(),
        100
    );
    assert_eq!(caller.translated_function_count(), 2);
}

#[test]
fn threads_calling_an_untranslated_function_at_once_agree() {
    let module = Module::new(&engine(true), MIXED).unwrap();
    let threads = 4;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let module = module.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let (mut store, inst) = instantiate(module.engine(), &module);
                barrier.wait();
                (0..50)
                    .map(|arg| call_i32(&mut store, inst, "sum_to", arg).unwrap())
                    .sum::<i32>()
            })
        })
        .collect();
    let expected: i32 = (0..50).map(|n: i32| n * (n + 1) / 2).sum();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), expected);
    }
    assert_eq!(module.translated_function_count(), 1);
}

#[test]
fn first_calls_cost_the_same_fuel_as_translated_calls() {
    // A call to an untranslated function leaves the interpreter loop to translate it and
    // then runs the call instruction again: that must not charge its fuel twice.
    let fuel_used = |lazy: bool| {
        let mut config = Config::new();
        config.lazy_translation(lazy).consume_fuel(true);
        let engine = Engine::new(&config);
        let module = Module::new(&engine, MIXED).unwrap();
        let (mut store, inst) = instantiate(&engine, &module);
        store.set_fuel(1_000_000).unwrap();
        let mut results = Vec::new();
        for (name, arg) in [("pick", 0), ("pick", 1), ("sum_to", 20), ("pick", 0)] {
            results.push(call_i32(&mut store, inst, name, arg).unwrap());
        }
        (1_000_000 - store.get_fuel().unwrap(), results)
    };
    let (lazy_fuel, lazy_results) = fuel_used(true);
    let (eager_fuel, eager_results) = fuel_used(false);
    assert_eq!(lazy_results, [49, 21, 210, 49]);
    assert_eq!(lazy_results, eager_results);
    assert!(lazy_fuel > 0);
    assert_eq!(lazy_fuel, eager_fuel);
}
