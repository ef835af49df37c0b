//! The embedding API: what a wasmtime user would expect, including the error cases.

use nanoproc_engine::*;

const COUNTER: &str = r#"(module
  (import "host" "log" (func $log (param i32)))
  (memory (export "memory") 1 3)
  (global $count (export "count") (mut i32) (i32.const 0))
  (table (export "table") 2 funcref)
  (elem (i32.const 0) $bump)
  (func $bump (export "bump") (param i32) (result i32)
    (global.set $count (i32.add (global.get $count) (local.get 0)))
    (call $log (global.get $count))
    (global.get $count))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))"#;

fn setup(log: impl Fn(i32) + Send + Sync + 'static) -> (Store<Vec<i32>>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTER).unwrap();
    let mut store = Store::new(&engine, Vec::new());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "log", move |mut c: Caller<'_, Vec<i32>>, v: i32| {
            c.data_mut().push(v);
            log(v);
        })
        .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    (store, instance)
}

#[test]
fn engine_and_module_are_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Engine>();
    assert_send_sync::<Module>();
    // A module compiled once runs in many stores, also on other threads.
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTER).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (engine, module) = (engine.clone(), module.clone());
            std::thread::spawn(move || {
                let mut store = Store::new(&engine, Vec::<i32>::new());
                let mut linker = Linker::new(&engine);
                linker.func_wrap("host", "log", |_: i32| {}).unwrap();
                let inst = linker.instantiate(&mut store, &module).unwrap();
                let bump = inst.get_typed_func::<i32, i32>(&store, "bump").unwrap();
                bump.call(&mut store, i).unwrap()
            })
        })
        .collect();
    let results: Vec<i32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results, vec![0, 1, 2, 3]);
}

#[test]
fn host_functions_see_store_data() {
    let (mut store, inst) = setup(|_| {});
    let bump = inst.get_typed_func::<i32, i32>(&store, "bump").unwrap();
    assert_eq!(bump.call(&mut store, 5).unwrap(), 5);
    assert_eq!(bump.call(&mut store, 2).unwrap(), 7);
    assert_eq!(store.data(), &vec![5, 7]);
    let count = inst.get_global(&store, "count").unwrap();
    assert_eq!(count.get(&store), Val::I32(7));
    count.set(&mut store, Val::I32(100)).unwrap();
    assert_eq!(bump.call(&mut store, 1).unwrap(), 101);
    // Wrong type and immutable globals are errors, not panics.
    assert!(matches!(
        count.set(&mut store, Val::I64(1)),
        Err(Error::TypeMismatch(_))
    ));
    let engine = store.engine().clone();
    let konst = Global::new(
        &mut store,
        GlobalType {
            content: ValType::I32,
            mutability: Mutability::Const,
        },
        Val::I32(1),
    )
    .unwrap();
    assert!(konst.set(&mut store, Val::I32(2)).is_err());
    drop(engine);
}

#[test]
fn memory_read_write_grow() {
    let (mut store, inst) = setup(|_| {});
    let memory = inst.get_memory(&store, "memory").unwrap();
    assert_eq!(memory.size(&store), 1);
    memory.write(&mut store, 8, &42u32.to_le_bytes()).unwrap();
    let load = inst.get_typed_func::<i32, i32>(&store, "load").unwrap();
    assert_eq!(load.call(&mut store, 8).unwrap(), 42);
    let mut buf = [0u8; 4];
    memory.read(&store, 8, &mut buf).unwrap();
    assert_eq!(u32::from_le_bytes(buf), 42);
    assert!(memory.read(&store, 65535, &mut buf).is_err());
    assert!(memory.write(&mut store, usize::MAX, &buf).is_err());
    assert_eq!(memory.grow(&mut store, 2).unwrap(), 1);
    assert_eq!(memory.data_size(&store), 3 * 65536);
    // Past the declared maximum: an error, memory unchanged.
    assert!(memory.grow(&mut store, 1).is_err());
    assert_eq!(memory.size(&store), 3);
    // A load past the end traps with a backtrace, and the store stays usable.
    let err = load.call(&mut store, 3 * 65536 - 2).unwrap_err();
    assert_eq!(
        err.as_trap().map(|t| t.kind.clone()),
        Some(TrapKind::MemoryOutOfBounds)
    );
    assert_eq!(load.call(&mut store, 8).unwrap(), 42);
}

#[test]
fn tables_hold_functions() {
    let (mut store, inst) = setup(|_| {});
    let table = inst.get_table(&store, "table").unwrap();
    assert_eq!(table.size(&store), 2);
    let Some(Val::FuncRef(Some(f))) = table.get(&store, 0) else {
        panic!("element 0 is the bump function");
    };
    let mut out = [Val::I32(0)];
    f.call(&mut store, &[Val::I32(3)], &mut out).unwrap();
    assert_eq!(out[0], Val::I32(3));
    assert_eq!(table.get(&store, 1), Some(Val::FuncRef(None)));
    assert_eq!(table.get(&store, 2), None);
    assert_eq!(table.grow(&mut store, 3, Val::FuncRef(Some(f))).unwrap(), 2);
    assert_eq!(table.size(&store), 5);
    assert!(table.set(&mut store, 9, Val::FuncRef(None)).is_err());
    assert!(table.set(&mut store, 1, Val::I32(0)).is_err());
}

#[test]
fn call_argument_errors_are_reported() {
    let (mut store, inst) = setup(|_| {});
    let bump = inst.get_func(&store, "bump").unwrap();
    let mut out = [Val::I32(0)];
    assert!(matches!(
        bump.call(&mut store, &[], &mut out),
        Err(Error::TypeMismatch(_))
    ));
    assert!(matches!(
        bump.call(&mut store, &[Val::I64(1)], &mut out),
        Err(Error::TypeMismatch(_))
    ));
    assert!(matches!(
        bump.call(&mut store, &[Val::I32(1)], &mut []),
        Err(Error::TypeMismatch(_))
    ));
    assert!(bump.typed::<i64, i32>(&store).is_err());
    assert!(bump.typed::<i32, ()>(&store).is_err());
    assert!(matches!(
        inst.get_typed_func::<(), ()>(&store, "nope"),
        Err(Error::UnknownExport(_))
    ));
}

#[test]
fn handles_from_another_store_are_rejected() {
    let (mut store_a, inst_a) = setup(|_| {});
    let (mut store_b, _) = setup(|_| {});
    let bump_a = inst_a.get_func(&store_a, "bump").unwrap();
    let mut out = [Val::I32(0)];
    assert!(matches!(
        bump_a.call(&mut store_b, &[Val::I32(1)], &mut out),
        Err(Error::WrongStore)
    ));
    bump_a.call(&mut store_a, &[Val::I32(1)], &mut out).unwrap();
}

#[test]
fn link_errors_name_the_import() {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTER).unwrap();
    let mut store = Store::new(&engine, Vec::<i32>::new());
    let linker = Linker::new(&engine);
    match linker.instantiate(&mut store, &module) {
        Err(Error::UnknownImport { module, name }) => {
            assert_eq!((&*module, &*name), ("host", "log"))
        }
        other => panic!("expected unknown import, got {other:?}"),
    }
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "log", |_: i64| {}).unwrap();
    let err = linker.instantiate(&mut store, &module).unwrap_err();
    assert!(err.to_string().contains("host::log"), "{err}");
    assert!(matches!(err, Error::IncompatibleImport { .. }));
    // Defining the same name twice is an error unless shadowing is allowed.
    assert!(linker.func_wrap("host", "log", |_: i32| {}).is_err());
    linker.allow_shadowing(true);
    linker.func_wrap("host", "log", |_: i32| {}).unwrap();
    linker.instantiate(&mut store, &module).unwrap();
}

#[test]
fn host_errors_and_panics_become_errors_not_unwinds() {
    #[derive(Debug, thiserror::Error)]
    #[error("exit {0}")]
    struct Exit(i32);

    let wasm = wat::parse_str(
        r#"(module (import "h" "f" (func $f (param i32)))
            (global $g (mut i32) (i32.const 0))
            (func $run (export "run") (param i32)
              (global.set $g (local.get 0))
              (call $f (local.get 0)))
            (func $run_tail (export "run_tail") (param i32)
              (global.set $g (local.get 0))
              (global.set $g (i32.add (global.get $g) (i32.const 1)))
              (return_call $f (local.get 0)))
            (table funcref (elem $f))
            (func $run_indirect (export "run_indirect") (param i32)
              (global.set $g (local.get 0))
              (call_indirect (param i32) (local.get 0) (i32.const 0))))"#,
    )
    .unwrap();
    // The call instructions in the binary: `local.get 0; call 0; end` and `local.get 0;
    // return_call 0; end` (not first, and at different positions in the two functions, so
    // a stale position is not right by chance).
    let at = |body: [u8; 5]| wasm.windows(body.len()).position(|w| w == body).unwrap() + 2;
    let call_at = at([0x20, 0x00, 0x10, 0x00, 0x0b]);
    let tail_call_at = at([0x20, 0x00, 0x12, 0x00, 0x0b]);
    // `local.get 0; i32.const 0; call_indirect 0 0; end`
    let indirect_at = wasm
        .windows(8)
        .position(|w| w == [0x20, 0x00, 0x41, 0x00, 0x11, 0x00, 0x00, 0x0b])
        .unwrap()
        + 4;
    let engine = Engine::default();
    let module = Module::new(&engine, &wasm).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("h", "f", |x: i32| -> Result<(), Error> {
            match x {
                0 => Ok(()),
                1 => Err(Error::host(Exit(7))),
                2 => Err(Trap::new(TrapKind::Unreachable).into()),
                _ => panic!("host bug"),
            }
        })
        .unwrap();
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let run = inst.get_typed_func::<i32, ()>(&store, "run").unwrap();
    run.call(&mut store, 0).unwrap();
    let err = run.call(&mut store, 1).unwrap_err();
    assert_eq!(err.downcast_ref::<Exit>().map(|e| e.0), Some(7));
    let err = run.call(&mut store, 3).unwrap_err();
    let trap = err.as_trap().expect("a panic becomes a trap");
    assert!(matches!(&trap.kind, TrapKind::Host(m) if m.contains("host bug")));
    // The store is still usable.
    run.call(&mut store, 0).unwrap();
    // A trap or a panic is blamed on the call instruction that made the host call, a tail
    // call included.
    let run_tail = inst.get_typed_func::<i32, ()>(&store, "run_tail").unwrap();
    let run_indirect = inst
        .get_typed_func::<i32, ()>(&store, "run_indirect")
        .unwrap();
    run_indirect.call(&mut store, 0).unwrap();
    let err = run_indirect.call(&mut store, 1).unwrap_err();
    assert_eq!(err.downcast_ref::<Exit>().map(|e| e.0), Some(7));
    for (f, func_index, at) in [
        (&run, 1, call_at),
        (&run_tail, 2, tail_call_at),
        (&run_indirect, 3, indirect_at),
    ] {
        for x in [2, 3, 2] {
            let err = f.call(&mut store, x).unwrap_err();
            let trap = err.as_trap().expect("a trap");
            let top = &trap.backtrace[0];
            assert_eq!(top.func_index, func_index, "{x}: {top}");
            assert_eq!(top.offset, Some(at as u32), "{x}: {top}");
            run.call(&mut store, 0).unwrap();
            run_tail.call(&mut store, 0).unwrap();
        }
    }
}

#[test]
fn what_a_host_function_changes_is_seen_by_the_wasm_that_called_it() {
    let mut config = Config::default();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    let module = Module::new(
        &engine,
        r#"(module
            (import "h" "grow" (func $grow))
            (import "h" "refuel" (func $refuel))
            (memory (export "memory") 1)
            (func (export "grow_and_use") (result i32)
              (call $grow)
              ;; page 2 exists only since the host grew the memory; byte 0 the host wrote
              (i32.store (i32.const 70000) (i32.const 1234))
              (i32.add
                (i32.add (i32.load (i32.const 70000)) (memory.size))
                (i32.load8_u (i32.const 0))))
            (func (export "refuel") (local $n i32)
              (call $refuel)
              ;; a loop, charged per iteration from the budget the host just set
              (local.set $n (i32.const 10))
              (loop $l
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(1_000_000_000).unwrap();
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("h", "grow", |mut caller: Caller<'_, ()>| {
            let memory = caller
                .get_export("memory")
                .and_then(Extern::into_memory)
                .unwrap();
            memory.grow(&mut caller, 1).unwrap();
            memory.data_mut(&mut caller)[0] = 7;
        })
        .unwrap()
        .func_wrap("h", "refuel", |mut caller: Caller<'_, ()>| {
            caller.set_fuel(10_000).unwrap();
        })
        .unwrap();
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let grow_and_use = inst
        .get_typed_func::<(), i32>(&store, "grow_and_use")
        .unwrap();
    assert_eq!(grow_and_use.call(&mut store, ()).unwrap(), 1234 + 2 + 7);
    let refuel = inst.get_typed_func::<(), ()>(&store, "refuel").unwrap();
    refuel.call(&mut store, ()).unwrap();
    let left = store.get_fuel().unwrap();
    assert!((9_900..10_000).contains(&left), "{left}");
}

#[test]
fn host_can_call_back_into_wasm_through_caller() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module (import "h" "twice" (func $twice (param i32) (result i32)))
            (memory (export "memory") 1)
            (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
            (func (export "run") (param i32) (result i32) (call $twice (local.get 0))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, 0u32);
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "h",
            "twice",
            |mut caller: Caller<'_, u32>, x: i32| -> Result<i32, Error> {
                let inc = caller
                    .get_export("inc")
                    .and_then(Extern::into_func)
                    .ok_or_else(|| Error::UnknownExport("inc".into()))?;
                let inc = inc.typed::<i32, i32>(&caller)?;
                let once = inc.call(&mut caller, x)?;
                let memory = caller
                    .get_export("memory")
                    .and_then(Extern::into_memory)
                    .unwrap();
                let (bytes, data) = memory.data_and_store_mut(&mut caller);
                bytes[0] = 9;
                *data += 1;
                inc.call(&mut caller, once)
            },
        )
        .unwrap();
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let run = inst.get_typed_func::<i32, i32>(&store, "run").unwrap();
    assert_eq!(run.call(&mut store, 40).unwrap(), 42);
    assert_eq!(*store.data(), 1);
    assert_eq!(
        inst.get_memory(&store, "memory").unwrap().data(&store)[0],
        9
    );
}

#[test]
fn import_and_export_introspection() {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTER).unwrap();
    let imports: Vec<_> = module.imports().collect();
    assert_eq!(imports.len(), 1);
    assert_eq!(
        (imports[0].module.as_str(), imports[0].name.as_str()),
        ("host", "log")
    );
    assert_eq!(
        imports[0].ty,
        ExternType::Func(FuncType::new([ValType::I32], []))
    );
    let exports: Vec<_> = module.exports().map(|e| (e.name, e.ty.kind())).collect();
    assert_eq!(
        exports,
        vec![
            ("memory".to_string(), "memory"),
            ("count".to_string(), "global"),
            ("table".to_string(), "table"),
            ("bump".to_string(), "func"),
            ("load".to_string(), "func"),
        ]
    );
    assert_eq!(
        module.get_export("memory"),
        Some(ExternType::Memory(MemoryType {
            minimum: 1,
            maximum: Some(3)
        }))
    );
    assert_eq!(module.function_count(), 3);
    assert_eq!(module.defined_function_count(), 2);
}

#[test]
fn bad_modules_give_errors_with_offsets() {
    let engine = Engine::default();
    for bytes in [
        &b""[..],
        b"\0asm",
        b"\0asm\x01\0\0\0\x01",
        b"\0asm\x02\0\0\0",
        b"(module (func (result i32)))",
        b"(module (func (i32.add)))",
        b"not wasm at all",
    ] {
        let err = Module::new(&engine, bytes).unwrap_err();
        assert!(!err.to_string().is_empty());
        if let Error::Compile(c) = &err {
            assert!(err.to_string().contains(&format!("0x{:x}", c.offset)));
        }
    }
    let err = Module::from_file(&engine, "/no/such/file.wasm").unwrap_err();
    assert!(err.to_string().contains("/no/such/file.wasm"), "{err}");
}

#[test]
fn instantiation_traps_are_reported() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module (memory 1) (data (i32.const 65535) "ab"))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let err = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap_err();
    assert_eq!(
        err.as_trap().map(|t| t.kind.clone()),
        Some(TrapKind::MemoryOutOfBounds)
    );
    let module = Module::new(&engine, r#"(module (func $s unreachable) (start $s))"#).unwrap();
    let err = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap_err();
    assert_eq!(
        err.as_trap().map(|t| t.kind.clone()),
        Some(TrapKind::Unreachable)
    );
}

#[test]
fn copy_between_memories() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let ty = MemoryType {
        minimum: 1,
        maximum: None,
    };
    let a = Memory::new(&mut store, ty).unwrap();
    let b = Memory::new(&mut store, ty).unwrap();
    a.write(&mut store, 10, b"hello").unwrap();
    a.copy_to(&mut store, 10, &b, 100, 5).unwrap();
    assert_eq!(&b.data(&store)[100..105], b"hello");
    b.copy_to(&mut store, 100, &a, 0, 5).unwrap();
    assert_eq!(&a.data(&store)[0..5], b"hello");
    // Overlapping copy within one memory is a memmove.
    a.copy_to(&mut store, 0, &a, 2, 5).unwrap();
    assert_eq!(&a.data(&store)[0..7], b"hehello");
    // Out of bounds on either side: an error, nothing copied.
    assert!(a.copy_to(&mut store, 65535, &b, 0, 2).is_err());
    assert!(a.copy_to(&mut store, 0, &b, 65535, 2).is_err());
    assert!(a.copy_to(&mut store, usize::MAX, &b, 0, 2).is_err());
    assert_eq!(&b.data(&store)[0..2], &[0, 0]);
}

#[test]
fn an_alias_calls_its_target_and_can_be_retargeted() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let callee = Module::new(
        &engine,
        r#"(module $callee
             (func $deep (param i32) (result i32)
               (if (i32.eqz (local.get 0)) (then unreachable))
               (call $deep (i32.sub (local.get 0) (i32.const 1))))
             (func (export "deep") (param i32) (result i32) (call $deep (local.get 0)))
             (func (export "double") (param i32) (result i32)
               (i32.mul (local.get 0) (i32.const 2))))"#,
    )
    .unwrap();
    let callee = Linker::new(&engine)
        .instantiate(&mut store, &callee)
        .unwrap();
    let double = callee.get_func(&store, "double").unwrap();
    let deep = callee.get_func(&store, "deep").unwrap();
    assert_eq!(double.origin(&store), Some((callee, 2)));

    let alias = double.alias(&mut store).unwrap();
    assert_ne!(alias, double);
    let mut linker = Linker::new(&engine);
    linker.define(&store, "c", "f", alias).unwrap();
    linker.define(&store, "c", "deep", deep).unwrap();
    let caller = Module::new(
        &engine,
        r#"(module $caller
             (import "c" "f" (func $f (param i32) (result i32)))
             (import "c" "deep" (func $deep (param i32) (result i32)))
             (func $down (param i32) (result i32)
               (if (result i32) (i32.eqz (local.get 0))
                 (then (call $deep (i32.const 200)))
                 (else (call $down (i32.sub (local.get 0) (i32.const 1))))))
             (func (export "f") (param i32) (result i32) (call $f (local.get 0)))
             (func (export "down") (param i32) (result i32) (call $down (local.get 0))))"#,
    )
    .unwrap();
    let caller = linker.instantiate(&mut store, &caller).unwrap();
    let f = caller.get_typed_func::<i32, i32>(&store, "f").unwrap();
    assert_eq!(f.call(&mut store, 21).unwrap(), 42);

    // Retargeting the alias changes what the import calls, not the original export.
    let host = Func::wrap(&mut store, |x: i32| x + 1);
    assert_eq!(host.origin(&store), None);
    alias.retarget(&mut store, &host).unwrap();
    assert_eq!(f.call(&mut store, 21).unwrap(), 22);
    let typed_double = double.typed::<i32, i32>(&store).unwrap();
    assert_eq!(typed_double.call(&mut store, 21).unwrap(), 42);
    alias.retarget(&mut store, &double).unwrap();
    assert_eq!(f.call(&mut store, 21).unwrap(), 42);

    // Only a function of the same type can take its place.
    let wrong = Func::wrap(&mut store, |x: i64| x);
    let err = alias.retarget(&mut store, &wrong).unwrap_err();
    assert!(err.to_string().contains("cannot retarget"), "{err}");
    assert_eq!(f.call(&mut store, 1).unwrap(), 2);

    // Backtraces say which instance each frame ran in, and a shortened backtrace keeps the
    // frames where control crossed between instances: 300 frames of the caller, then 201
    // of the callee.
    let down = caller.get_typed_func::<i32, i32>(&store, "down").unwrap();
    let trap = match down.call(&mut store, 300).unwrap_err() {
        Error::Trap(t) => t,
        other => panic!("{other}"),
    };
    let frames = &trap.backtrace;
    assert_eq!(frames[0].instance, Some(callee));
    assert_eq!(frames.last().unwrap().instance, Some(caller));
    let omitted = frames.iter().filter(|f| f.instance.is_none()).count();
    assert!(omitted >= 1, "{}", trap.backtrace_string());
    let crossing = frames
        .windows(2)
        .position(|w| w[0].instance == Some(callee) && w[1].instance == Some(caller));
    assert!(crossing.is_some(), "{}", trap.backtrace_string());
    assert!(frames.len() < 140, "{} frames kept", frames.len());
}

#[test]
fn a_host_function_that_panics_after_calling_back_into_wasm_is_still_a_trap() {
    // The nested entry (which itself calls a host function) ends before the panic: the
    // outer run must still know it is inside a host function, or the panic would escape to
    // the embedder as an engine bug.
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module (import "h" "f" (func $f (param i32))) (import "h" "g" (func $g))
            (func (export "inner") (param i32) (result i32)
              (call $g)
              (i32.add (local.get 0) (i32.const 1)))
            (func (export "run") (param i32) (call $f (local.get 0))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("h", "f", |mut caller: Caller<'_, ()>, x: i32| {
            let inner = caller
                .get_export("inner")
                .and_then(Extern::into_func)
                .unwrap()
                .typed::<i32, i32>(&caller)
                .unwrap();
            let y = inner.call(&mut caller, x).unwrap();
            if y > 1 {
                panic!("after the nested call");
            }
        })
        .unwrap()
        .func_wrap("h", "g", || {})
        .unwrap();
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let run = inst.get_typed_func::<i32, ()>(&store, "run").unwrap();
    run.call(&mut store, 0).unwrap();
    let err = run.call(&mut store, 5).unwrap_err();
    let trap = err.as_trap().expect("a panic becomes a trap");
    assert!(
        matches!(&trap.kind, TrapKind::Host(m) if m.contains("after the nested call")),
        "{trap}"
    );
    assert_eq!(trap.backtrace[0].func_index, 3);
    run.call(&mut store, 0).unwrap();
}

const MIX: &str = r#"(module
  (import "h" "mix" (func $mix (param i32 i64 f32 f64 v128 externref funcref i64 i64 i64)
                               (result i64 v128 externref)))
  (func $seven (export "seven") (result i32) (i32.const 7))
  (elem declare func $seven)
  (func (export "run") (param externref) (result i64 v128 externref)
    (call $mix (i32.const -3) (i64.const 1000000000000) (f32.const 1.5) (f64.const -2.25)
      (v128.const i64x2 0x0102030405060708 0x1112131415161718) (local.get 0) (ref.func $seven)
      (i64.const 5) (i64.const 6) (i64.const 7))))"#;

/// What `mix` computes from its arguments, in one number (and the v128 rotated), so that a
/// swapped, dropped or truncated argument changes the result.
fn mix(
    (a, b, c, d): (i32, i64, f32, f64),
    v: V128,
    e: Option<ExternRef>,
    f: Option<Func>,
    (h, i, j): (i64, i64, i64),
) -> (i64, V128, Option<ExternRef>) {
    let sum = a as i64 + b + (c * 2.0) as i64 + (d * 4.0) as i64 + h * 100 + i * 10_000;
    let sum = sum + j * 1_000_000 + if f.is_some() { 1 << 40 } else { 0 };
    (sum, V128(v.0.rotate_left(8)), e)
}

#[test]
fn host_functions_take_and_return_every_kind_of_value_in_signatures_over_eight_cells() {
    const EXPECTED: i64 = -3 + 1_000_000_000_000 + 3 - 9 + 500 + 60_000 + 7_000_000 + (1 << 40);
    for with_caller in [false, true] {
        let engine = Engine::default();
        let module = Module::new(&engine, MIX).unwrap();
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        if with_caller {
            linker
                .func_wrap(
                    "h",
                    "mix",
                    |_: Caller<'_, ()>, a, b, c, d, v, e, f, h, i, j| {
                        mix((a, b, c, d), v, e, f, (h, i, j))
                    },
                )
                .unwrap();
        } else {
            linker
                .func_wrap("h", "mix", |a, b, c, d, v, e, f, h, i, j| {
                    mix((a, b, c, d), v, e, f, (h, i, j))
                })
                .unwrap();
        }
        let inst = linker.instantiate(&mut store, &module).unwrap();
        let run = inst
            .get_typed_func::<Option<ExternRef>, (i64, V128, Option<ExternRef>)>(&store, "run")
            .unwrap();
        let r = ExternRef::new(&mut store, "given");
        let (sum, v, back) = run.call(&mut store, Some(r)).unwrap();
        assert_eq!(sum, EXPECTED, "with caller: {with_caller}");
        assert_eq!(v.0, 0x1112131415161718_0102030405060708u128.rotate_left(8));
        let back = back.expect("the externref comes back");
        let data = back.data(&store).unwrap().downcast_ref::<&str>();
        assert_eq!(data, Some(&"given"));
        let (_, _, none) = run.call(&mut store, None).unwrap();
        assert!(none.is_none());
    }
}

#[test]
fn retargeting_an_alias_changes_what_importers_call_whatever_the_kinds() {
    // An importer resolves its imports when it is created; retargeting the alias it
    // imports, between host functions with and without `Caller` and wasm, must change
    // what its calls reach, in the threaded code as in the interpreter loop.
    let engine = Engine::default();
    let mut store = Store::new(&engine, 0i32);
    let wasm = Module::new(
        &engine,
        r#"(module (func (export "triple") (param i32) (result i32)
             (i32.mul (local.get 0) (i32.const 3))))"#,
    )
    .unwrap();
    let provider = Linker::new(&engine).instantiate(&mut store, &wasm).unwrap();
    let triple = provider.get_func(&store, "triple").unwrap();
    let plain = Func::wrap(&mut store, |x: i32| x + 1);
    let with_caller = Func::wrap(&mut store, |mut c: Caller<'_, i32>, x: i32| {
        *c.data_mut() += 1;
        x + 100
    });
    let alias = plain.alias(&mut store).unwrap();
    let mut linker = Linker::new(&engine);
    linker.define(&store, "p", "f", alias).unwrap();
    let importer = Module::new(
        &engine,
        r#"(module (import "p" "f" (func $f (param i32) (result i32)))
             (func (export "run") (param i32) (result i32)
               (i32.add (call $f (local.get 0)) (call $f (local.get 0)))))"#,
    )
    .unwrap();
    let importer = linker.instantiate(&mut store, &importer).unwrap();
    let run = importer.get_typed_func::<i32, i32>(&store, "run").unwrap();
    assert_eq!(run.call(&mut store, 10).unwrap(), 22);
    alias.retarget(&mut store, &triple).unwrap();
    assert_eq!(run.call(&mut store, 10).unwrap(), 60);
    alias.retarget(&mut store, &with_caller).unwrap();
    assert_eq!(run.call(&mut store, 10).unwrap(), 220);
    assert_eq!(*store.data(), 2);
    alias.retarget(&mut store, &plain).unwrap();
    assert_eq!(run.call(&mut store, 10).unwrap(), 22);
    alias.retarget(&mut store, &triple).unwrap();
    assert_eq!(run.call(&mut store, 10).unwrap(), 60);
}

/// A custom section: id 0, size, name, payload.
fn custom_section(name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![name.len() as u8];
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut section = vec![0u8, body.len() as u8];
    section.extend(body);
    section
}

#[test]
fn names_come_from_every_name_section_and_a_malformed_one_is_ignored() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module $plugin (func $first) (func $second) (func (export "run") call $second))"#,
    )
    .unwrap();
    assert_eq!(module.name(), Some("plugin"));
    assert_eq!(module.func_name(0), Some("first"));
    assert_eq!(module.func_name(1), Some("second"));
    assert_eq!(module.func_name(2), None);

    // A second name section naming function 2, then a malformed one whose first
    // subsection (the module name "late") decodes before its flaw: both count.
    let mut bytes = wat::parse_bytes(b"(module (func) (func) (func))")
        .unwrap()
        .into_owned();
    // Subsection 1 (function names): one entry, function 2 named "third".
    bytes.extend(custom_section(
        "name",
        &[1, 8, 1, 2, 5, b't', b'h', b'i', b'r', b'd'],
    ));
    // Subsection 0 (module name) "late", then subsection 1 claiming 200 bytes.
    bytes.extend(custom_section(
        "name",
        &[0, 5, 4, b'l', b'a', b't', b'e', 1, 200],
    ));
    let module = Module::new(&engine, &bytes).expect("a malformed name section is ignored");
    assert_eq!(module.func_name(2), Some("third"));
    assert_eq!(module.name(), Some("late"));
}

/// A module's own globals and its imported ones (of another instance, and of the host,
/// created before and after that instance) are each read and written where they live, in
/// every width: the threaded code indexes own globals directly and imported ones through
/// the instance's map.
#[test]
fn own_and_imported_globals_are_each_their_own() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let host_i64 = Global::new(
        &mut store,
        GlobalType {
            content: ValType::I64,
            mutability: Mutability::Var,
        },
        Val::I64(1000),
    )
    .unwrap();
    linker.define(&store, "host", "g64", host_i64).unwrap();
    let first = Module::new(
        &engine,
        r#"(module
             (global (export "a") (mut i32) (i32.const 10))
             (global (export "v") (mut v128) (v128.const i64x2 1 2))
             (func (export "bump_a") (global.set 0 (i32.add (global.get 0) (i32.const 1)))))"#,
    )
    .unwrap();
    let first = linker.instantiate(&mut store, &first).unwrap();
    linker.instance(&mut store, "first", first).unwrap();
    // Created after the first instance, before the second.
    let host_late = Global::new(
        &mut store,
        GlobalType {
            content: ValType::I32,
            mutability: Mutability::Var,
        },
        Val::I32(7),
    )
    .unwrap();
    linker.define(&store, "host", "late", host_late).unwrap();
    let second = Module::new(
        &engine,
        r#"(module
             (global $a (import "first" "a") (mut i32))
             (global $g64 (import "host" "g64") (mut i64))
             (global $v (import "first" "v") (mut v128))
             (global $late (import "host" "late") (mut i32))
             (global $own (mut i32) (i32.const 500))
             (global $own64 (mut i64) (i64.const 600))
             (global $ownv (mut v128) (v128.const i64x2 3 4))
             (func (export "run") (result i64)
               (global.set $a (i32.add (global.get $a) (global.get $own)))
               (global.set $own (i32.add (global.get $own) (global.get $late)))
               (global.set $late (i32.mul (global.get $late) (i32.const 3)))
               (global.set $g64 (i64.add (global.get $g64) (global.get $own64)))
               (global.set $own64 (i64.add (global.get $own64) (i64.const 1)))
               (global.set $v (i64x2.add (global.get $v) (global.get $ownv)))
               (global.set $ownv (i64x2.add (global.get $ownv) (global.get $ownv)))
               (i64.add (i64.extend_i32_u (global.get $own))
                        (i64x2.extract_lane 1 (global.get $ownv))))
             (export "own" (global $own)))"#,
    )
    .unwrap();
    let second = linker.instantiate(&mut store, &second).unwrap();
    let run = second.get_typed_func::<(), i64>(&store, "run").unwrap();
    let bump_a = first.get_typed_func::<(), ()>(&store, "bump_a").unwrap();
    // First run: a = 10 + 500, own = 507, late = 21, g64 = 1600, own64 = 601,
    // v = (4, 6), ownv = (6, 8); result 507 + 8.
    assert_eq!(run.call(&mut store, ()).unwrap(), 515);
    bump_a.call(&mut store, ()).unwrap();
    // Second run: a = 511 + 507, own = 528, late = 63, g64 = 2201, ownv = (12, 16).
    assert_eq!(run.call(&mut store, ()).unwrap(), 528 + 16);
    let global = |inst: Instance, name: &str| inst.get_global(&store, name).unwrap().get(&store);
    assert_eq!(global(first, "a"), Val::I32(1018));
    assert_eq!(global(second, "own"), Val::I32(528));
    assert_eq!(host_late.get(&store), Val::I32(63));
    assert_eq!(host_i64.get(&store), Val::I64(2201));
    assert_eq!(
        global(first, "v"),
        Val::V128(u128::from(10u64) | u128::from(14u64) << 64)
    );
}
