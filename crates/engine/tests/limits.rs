//! Store limits: growth past a limit fails the way the spec allows (-1), creation past a
//! limit fails with an error naming the limit, and the store keeps working afterwards.

use nanoproc_engine::*;

fn store_with(limits: StoreLimits) -> (Engine, Store<()>) {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    store.set_limits(limits);
    (engine, store)
}

const GROWER: &str = r#"(module
  (memory (export "memory") 1)
  (table 1 funcref)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "tgrow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0))))"#;

#[test]
fn memory_grow_past_the_limit_returns_minus_one() {
    let (engine, mut store) = store_with(StoreLimits {
        memory_size: 4 * 65536,
        ..StoreLimits::default()
    });
    let module = Module::new(&engine, GROWER).unwrap();
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let grow = inst.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, 3).unwrap(), 1);
    assert_eq!(grow.call(&mut store, 1).unwrap(), -1);
    assert_eq!(grow.call(&mut store, 0).unwrap(), 4);
    let memory = inst.get_memory(&store, "memory").unwrap();
    assert_eq!(memory.size(&store), 4);
    assert!(memory.grow(&mut store, 1).is_err());
}

#[test]
fn total_memory_limit_spans_instances() {
    let (engine, mut store) = store_with(StoreLimits {
        total_memory: 3 * 65536,
        ..StoreLimits::default()
    });
    let module = Module::new(&engine, GROWER).unwrap();
    let linker = Linker::new(&engine);
    let a = linker.instantiate(&mut store, &module).unwrap();
    let b = linker.instantiate(&mut store, &module).unwrap();
    let grow_a = a.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    let grow_b = b.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    assert_eq!(grow_a.call(&mut store, 1).unwrap(), 1);
    assert_eq!(grow_b.call(&mut store, 1).unwrap(), -1);
    let err = linker.instantiate(&mut store, &module).unwrap_err();
    assert!(err.to_string().contains("total_memory"), "{err}");
}

#[test]
fn oversized_initial_memory_fails_naming_the_limit() {
    let (engine, mut store) = store_with(StoreLimits {
        memory_size: 1 << 20,
        ..StoreLimits::default()
    });
    let module = Module::new(&engine, "(module (memory 17))").unwrap();
    let err = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap_err();
    assert!(matches!(err, Error::LimitExceeded(_)), "{err}");
    assert!(err.to_string().contains("memory_size"), "{err}");
    // 16 pages = 1 MiB fits exactly.
    let module = Module::new(&engine, "(module (memory 16))").unwrap();
    Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
}

#[test]
fn default_limits_stop_a_4gib_memory_without_allocating_it() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, "(module (memory 65536))").unwrap();
    let err = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap_err();
    assert!(err.to_string().contains("memory_size"), "{err}");
}

#[test]
fn table_limits() {
    let (engine, mut store) = store_with(StoreLimits {
        table_elements: 10,
        ..StoreLimits::default()
    });
    let module = Module::new(&engine, GROWER).unwrap();
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let tgrow = inst.get_typed_func::<i32, i32>(&store, "tgrow").unwrap();
    assert_eq!(tgrow.call(&mut store, 9).unwrap(), 1);
    assert_eq!(tgrow.call(&mut store, 1).unwrap(), -1);
    let module = Module::new(&engine, "(module (table 11 funcref))").unwrap();
    let err = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap_err();
    assert!(err.to_string().contains("table_elements"), "{err}");
}

#[test]
fn instance_count_limit() {
    let (engine, mut store) = store_with(StoreLimits {
        instances: 3,
        ..StoreLimits::default()
    });
    let module = Module::new(&engine, "(module)").unwrap();
    let linker = Linker::new(&engine);
    for _ in 0..3 {
        linker.instantiate(&mut store, &module).unwrap();
    }
    let err = linker.instantiate(&mut store, &module).unwrap_err();
    assert!(err.to_string().contains("instances"), "{err}");
}

#[test]
fn a_frame_larger_than_the_interpreter_window_is_refused_naming_the_limit() {
    // 40 000 v128 locals are under `locals_per_function` (50 000) but need 80 000 cells;
    // the interpreter addresses at most 65 536 per frame.
    let engine = Engine::default();
    let big = "(module (func (local v128) (local ".to_string() + &"v128 ".repeat(39_999) + ")))";
    let err = Module::new(&engine, &big).unwrap_err().to_string();
    assert!(
        err.contains("cells_per_function") && err.contains("65536"),
        "{err}"
    );
    // The same with SIMD operators whose 16-bit slot fields cannot hold the slots past
    // the window (a shuffle and a bitselect: first, last, in a loop): refused the same
    // way, without a panic, whatever was emitted for them.
    let body = "(i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get 39999) \
                (local.get 1)) (local.set 39998) \
                (v128.bitselect (local.get 39997) (local.get 2) (local.get 39999)) \
                (local.set 39996)";
    for at in [0, 1, 2] {
        let code = match at {
            0 => format!("{body} (local.set 3 (local.get 39999))"),
            1 => format!("(local.set 3 (local.get 39999)) {body}"),
            _ => format!("(loop {body})"),
        };
        let wat =
            "(module (func (local ".to_string() + &"v128 ".repeat(40_000) + ") " + &code + "))";
        let err = Module::new(&engine, &wat).unwrap_err().to_string();
        assert!(
            err.contains("cells_per_function") && err.contains("65536"),
            "{err}"
        );
    }
    // Just under the window still compiles and runs.
    let fits = "(module (func (export \"f\") (result i64) (local ".to_string()
        + &"i64 ".repeat(49_000)
        + ") (local.set 48999 (i64.const 7)) (local.get 48999)))";
    let module = Module::new(&engine, &fits).unwrap();
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let f = inst.get_typed_func::<(), i64>(&store, "f").unwrap();
    assert_eq!(f.call(&mut store, ()).unwrap(), 7);
}
