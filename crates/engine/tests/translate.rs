//! Translator edge cases, checked by running the translated code: each test builds a module
//! whose result depends on the tricky spot being translated correctly.

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

fn call(
    store: &mut Store<()>,
    inst: Instance,
    name: &str,
    args: &[Val],
) -> Result<Vec<Val>, Error> {
    let f = inst.get_func(&*store, name).expect("export exists");
    let ty = f.ty(&*store);
    let mut results: Vec<Val> = ty.results().iter().map(|&t| Val::default_for(t)).collect();
    f.call(&mut *store, args, &mut results)?;
    Ok(results)
}

fn call_i32(store: &mut Store<()>, inst: Instance, name: &str, args: &[i32]) -> i32 {
    let args: Vec<Val> = args.iter().map(|&a| Val::I32(a)).collect();
    call(store, inst, name, &args).expect("call succeeds")[0]
        .i32()
        .expect("i32 result")
}

#[test]
fn br_table_with_many_targets() {
    // 1000 nested blocks; br_table jumps out of block k, after which code adds k * 3.
    let n = 1000;
    let mut wat =
        String::from("(module (func (export \"f\") (param i32) (result i32) (local i32)\n");
    for _ in 0..n {
        wat.push_str("(block\n");
    }
    wat.push_str("(br_table ");
    for k in 0..n {
        wat.push_str(&format!("{k} "));
    }
    wat.push_str("(local.get 0))\n");
    for k in 0..n {
        // After leaving block k (depth k), we land here.
        wat.push_str(")\n");
        wat.push_str(&format!("(return (i32.const {}))\n", k * 3));
    }
    wat.push_str("(i32.const -1)))");
    let (mut store, inst) = instance(&wat);
    for &i in &[0, 1, 2, 499, 998, 999] {
        assert_eq!(call_i32(&mut store, inst, "f", &[i]), i * 3, "index {i}");
    }
    // Out of range goes to the default target (the last listed label, 999).
    assert_eq!(call_i32(&mut store, inst, "f", &[5000]), 999 * 3);
    assert_eq!(call_i32(&mut store, inst, "f", &[-1]), 999 * 3);
}

#[test]
fn br_table_carrying_values_to_blocks_and_loops() {
    let (mut store, inst) = instance(
        r#"(module (func (export "f") (param i32) (result i32)
            (block (result i32)
              (block (result i32)
                (block (result i32)
                  (br_table 0 1 2 (i32.add (local.get 0) (i32.const 100)) (local.get 0)))
                (return (i32.add (i32.const 1000))))
              (return (i32.add (i32.const 2000))))))"#,
    );
    assert_eq!(call_i32(&mut store, inst, "f", &[0]), 1100);
    assert_eq!(call_i32(&mut store, inst, "f", &[1]), 2101);
    assert_eq!(call_i32(&mut store, inst, "f", &[2]), 102);
    assert_eq!(call_i32(&mut store, inst, "f", &[7]), 107);
}

#[test]
fn multi_value_blocks_and_if_with_params() {
    let (mut store, inst) = instance(
        r#"(module
          (type $two (func (result i32 i64)))
          (type $p2 (func (param i32 i32) (result i32 i32)))
          (func (export "swap") (param i32 i32) (result i32 i32)
            (local.get 1) (local.get 0))
          (func (export "block") (result i32)
            (block $b (type $two) (i32.const 7) (i64.const 9))
            (i32.wrap_i64) (i32.mul))
          (func (export "if") (param i32) (result i32)
            (i32.const 10) (i32.const 3)
            (if (type $p2) (local.get 0)
              (then (i32.add) (i32.const 1))
              (else (i32.sub) (i32.const 2)))
            (i32.mul))
          (func (export "loop") (param i32) (result i32)
            ;; a loop with a parameter: counts the param down to zero, summing it
            (local $sum i32)
            (local.get 0)
            (loop $l (param i32) (result i32)
              (local.set $sum (i32.add (local.get $sum)))
              (local.get $sum)
              (drop)
              (local.get 0) (i32.const 1) (i32.sub) (local.tee 0)
              (br_if $l (local.get 0))
              )
            (drop) (local.get $sum)))"#,
    );
    let r = call(&mut store, inst, "swap", &[Val::I32(1), Val::I32(2)]).unwrap();
    assert_eq!(r, vec![Val::I32(2), Val::I32(1)]);
    assert_eq!(call_i32(&mut store, inst, "block", &[]), 63);
    assert_eq!(call_i32(&mut store, inst, "if", &[1]), 13);
    assert_eq!(call_i32(&mut store, inst, "if", &[0]), 14);
    assert_eq!(call_i32(&mut store, inst, "loop", &[4]), 4 + 3 + 2 + 1);
}

#[test]
fn unreachable_code_after_br_return_and_unreachable() {
    let (mut store, inst) = instance(
        r#"(module
          (func (export "br") (result i32)
            (block (result i32) (br 0 (i32.const 1)) (i32.add) (unreachable) (i64.const 0) (drop)))
          (func (export "ret") (result i32)
            (return (i32.const 2)) (block (loop (br 0))) (f32.add) (drop) (i32.const 0))
          (func (export "unr") (param i32) (result i32)
            (if (result i32) (local.get 0)
              (then (i32.const 3))
              (else (unreachable) (i32.const 0) (if (then (nop)) (else (nop))) (i64.eqz))))
          (func (export "brtable") (result i32)
            (block (result i32) (br_table 0 0 (i32.const 4) (i32.const 0)) (call 0)))
        )"#,
    );
    assert_eq!(call_i32(&mut store, inst, "br", &[]), 1);
    assert_eq!(call_i32(&mut store, inst, "ret", &[]), 2);
    assert_eq!(call_i32(&mut store, inst, "unr", &[1]), 3);
    let err = call(&mut store, inst, "unr", &[Val::I32(0)]).unwrap_err();
    assert_eq!(err.as_trap().map(|t| &t.kind), Some(&TrapKind::Unreachable));
    assert_eq!(call_i32(&mut store, inst, "brtable", &[]), 4);
}

#[test]
fn deep_nesting() {
    // 10_000 nested blocks and ifs, branching out from the innermost to various depths.
    let n = 10_000;
    let mut wat = String::from("(module (func (export \"f\") (param i32) (result i32)\n");
    for i in 0..n {
        if i % 2 == 0 {
            wat.push_str("(block (result i32)\n");
        } else {
            wat.push_str("(if (result i32) (i32.const 1) (then\n");
        }
    }
    wat.push_str("(br_if 0 (i32.const 5) (local.get 0)) (drop) (i32.const 6)\n");
    for i in (0..n).rev() {
        if i % 2 == 0 {
            wat.push_str(")\n");
        } else {
            wat.push_str(") (else (i32.const 0)))\n");
        }
    }
    wat.push_str("))");
    let (mut store, inst) = instance(&wat);
    assert_eq!(call_i32(&mut store, inst, "f", &[1]), 5);
    assert_eq!(call_i32(&mut store, inst, "f", &[0]), 6);
}

#[test]
fn huge_function_translates_linearly() {
    // 200_000 additions in one body: translation must cope and stay proportional.
    let n = 200_000;
    let mut wat =
        String::from("(module (func (export \"f\") (param i32) (result i32) (local.get 0)\n");
    for _ in 0..n {
        wat.push_str("(i32.add (i32.const 1))\n");
    }
    wat.push_str("))");
    let engine = Engine::default();
    let module = Module::new(&engine, &wat).unwrap();
    // Each add with a constant becomes one instruction (immediate form), plus the return.
    assert!(
        module.instruction_count() <= n + 2,
        "{}",
        module.instruction_count()
    );
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    assert_eq!(call_i32(&mut store, inst, "f", &[7]), 7 + n as i32);
}

#[test]
fn local_aliases_survive_overwrites() {
    // local.get values pushed before a local.set/tee of the same local must keep the old value.
    let (mut store, inst) = instance(
        r#"(module
          (func (export "a") (param i32) (result i32)
            (local.get 0)                          ;; old value (10)
            (local.set 0 (i32.const 5))
            (local.get 0)                          ;; 5
            (i32.sub))                             ;; 10 - 5
          (func (export "b") (param i32) (result i32)
            (local.get 0)
            (local.tee 0 (i32.add (local.get 0) (i32.const 1)))
            (i32.mul))                             ;; x * (x + 1)
          (func (export "c") (param i32 i32) (result i32 i32)
            ;; results that read locals the return copies overwrite
            (local.get 1) (local.get 0))
          (func (export "d") (param i32) (result i32)
            ;; alias crossing a loop in which the local changes
            (local.get 0)
            (block (loop
              (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
              (br_if 1 (i32.eqz (local.get 0)))
              (br 0)))
            (i32.add (local.get 0))))"#,
    );
    assert_eq!(call_i32(&mut store, inst, "a", &[10]), 5);
    assert_eq!(call_i32(&mut store, inst, "b", &[6]), 42);
    let r = call(&mut store, inst, "c", &[Val::I32(3), Val::I32(4)]).unwrap();
    assert_eq!(r, vec![Val::I32(4), Val::I32(3)]);
    assert_eq!(call_i32(&mut store, inst, "d", &[9]), 9);
}

#[test]
fn deep_recursion_is_a_clean_trap_and_tail_calls_do_not_grow() {
    let engine = Engine::new(Config::new().max_call_depth(1000));
    let module = Module::new(
        &engine,
        r#"(module
          (func $down (export "down") (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
              (else (call $down (i32.sub (local.get 0) (i32.const 1))))))
          (func $tail (export "tail") (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 42))
              (else (return_call $tail (i32.sub (local.get 0) (i32.const 1)))))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let down = inst.get_typed_func::<i32, i32>(&store, "down").unwrap();
    assert_eq!(down.call(&mut store, 900).unwrap(), 0);
    let err = down.call(&mut store, 5000).unwrap_err();
    let trap = err.as_trap().expect("a trap");
    assert_eq!(trap.kind, TrapKind::CallStackExhausted);
    assert!(!trap.backtrace.is_empty());
    // The store still works after exhaustion.
    assert_eq!(down.call(&mut store, 10).unwrap(), 0);
    let tail = inst.get_typed_func::<i32, i32>(&store, "tail").unwrap();
    assert_eq!(tail.call(&mut store, 1_000_000).unwrap(), 42);
}

#[test]
fn trap_backtrace_names_functions_and_offsets() {
    let (mut store, inst) = instance(
        r#"(module
          (func $inner (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
          (func $outer (export "outer") (param i32) (result i32) (call $inner (local.get 0))))"#,
    );
    let err = call(&mut store, inst, "outer", &[Val::I32(0)]).unwrap_err();
    let trap = err.as_trap().expect("trap");
    assert_eq!(trap.kind, TrapKind::IntegerDivideByZero);
    let names: Vec<_> = trap.backtrace.iter().map(|f| f.func_name.clone()).collect();
    assert_eq!(
        names,
        vec![Some("inner".to_string()), Some("outer".to_string())]
    );
    assert!(trap.backtrace.iter().all(|f| f.offset.is_some()));
}

#[test]
fn fused_compare_branches_agree_with_rust() {
    type Cmp = (&'static str, fn(i64, i64) -> bool, fn(i64, i64) -> bool);
    let cmps: [Cmp; 10] = [
        ("eq", |a, b| a as i32 == b as i32, |a, b| a == b),
        ("ne", |a, b| a as i32 != b as i32, |a, b| a != b),
        ("lt_s", |a, b| (a as i32) < b as i32, |a, b| a < b),
        (
            "lt_u",
            |a, b| (a as u32) < b as u32,
            |a, b| (a as u64) < b as u64,
        ),
        ("gt_s", |a, b| a as i32 > b as i32, |a, b| a > b),
        (
            "gt_u",
            |a, b| a as u32 > b as u32,
            |a, b| a as u64 > b as u64,
        ),
        ("le_s", |a, b| a as i32 <= b as i32, |a, b| a <= b),
        (
            "le_u",
            |a, b| a as u32 <= b as u32,
            |a, b| a as u64 <= b as u64,
        ),
        ("ge_s", |a, b| a as i32 >= b as i32, |a, b| a >= b),
        (
            "ge_u",
            |a, b| a as u32 >= b as u32,
            |a, b| a as u64 >= b as u64,
        ),
    ];
    let mut wat = String::from("(module\n");
    for (name, _, _) in &cmps {
        for ty in ["i32", "i64"] {
            // br_if form, if form, and both with a constant right operand (immediate form).
            wat.push_str(&format!(
                "(func (export \"br_{ty}_{name}\") (param {ty} {ty}) (result i32)
                   (block (br_if 0 ({ty}.{name} (local.get 0) (local.get 1))) (return (i32.const 0)))
                   (i32.const 1))
                 (func (export \"if_{ty}_{name}\") (param {ty} {ty}) (result i32)
                   (if (result i32) ({ty}.{name} (local.get 0) (local.get 1))
                     (then (i32.const 1)) (else (i32.const 0))))
                 (func (export \"imm_{ty}_{name}\") (param {ty}) (result i32)
                   (block (br_if 0 ({ty}.{name} (local.get 0) ({ty}.const -2))) (return (i32.const 0)))
                   (i32.const 1))\n"
            ));
        }
    }
    wat.push_str(
        "(func (export \"eqz64\") (param i64) (result i32)
           (if (result i32) (i64.eqz (local.get 0)) (then (i32.const 1)) (else (i32.const 0)))))",
    );
    let (mut store, inst) = instance(&wat);
    let values: [i64; 7] = [0, 1, -1, -2, 2, i64::MAX, 1 << 32];
    for (name, f32, f64) in &cmps {
        for &a in &values {
            for &b in &values {
                let r = call(
                    &mut store,
                    inst,
                    &format!("br_i32_{name}"),
                    &[Val::I32(a as i32), Val::I32(b as i32)],
                )
                .unwrap();
                assert_eq!(r[0], Val::I32(f32(a, b) as i32), "br i32.{name} {a} {b}");
                let r = call(
                    &mut store,
                    inst,
                    &format!("if_i32_{name}"),
                    &[Val::I32(a as i32), Val::I32(b as i32)],
                )
                .unwrap();
                assert_eq!(r[0], Val::I32(f32(a, b) as i32), "if i32.{name} {a} {b}");
                let r = call(
                    &mut store,
                    inst,
                    &format!("br_i64_{name}"),
                    &[Val::I64(a), Val::I64(b)],
                )
                .unwrap();
                assert_eq!(r[0], Val::I32(f64(a, b) as i32), "br i64.{name} {a} {b}");
                let r = call(
                    &mut store,
                    inst,
                    &format!("if_i64_{name}"),
                    &[Val::I64(a), Val::I64(b)],
                )
                .unwrap();
                assert_eq!(r[0], Val::I32(f64(a, b) as i32), "if i64.{name} {a} {b}");
            }
            let r = call(
                &mut store,
                inst,
                &format!("imm_i32_{name}"),
                &[Val::I32(a as i32)],
            )
            .unwrap();
            assert_eq!(r[0], Val::I32(f32(a, -2) as i32), "imm i32.{name} {a}");
            let r = call(&mut store, inst, &format!("imm_i64_{name}"), &[Val::I64(a)]).unwrap();
            assert_eq!(r[0], Val::I32(f64(a, -2) as i32), "imm i64.{name} {a}");
        }
    }
    for (v, want) in [(0i64, 1), (1 << 32, 0), (-1, 0)] {
        let r = call(&mut store, inst, "eqz64", &[Val::I64(v)]).unwrap();
        assert_eq!(r[0], Val::I32(want), "i64.eqz {v}");
    }
}

#[test]
fn if_condition_fusion_with_aliases_materialized_at_entry() {
    // The alias of local 0 must be materialized before the branch on both paths.
    let (mut store, inst) = instance(
        r#"(module (func (export "f") (param i32) (result i32)
            (local.get 0)
            (if (i32.lt_s (local.get 0) (i32.const 5))
              (then (local.set 0 (i32.const 100))))
            (i32.add (local.get 0))))"#,
    );
    assert_eq!(call_i32(&mut store, inst, "f", &[3]), 103);
    assert_eq!(call_i32(&mut store, inst, "f", &[7]), 14);
}

#[test]
fn rotations_by_constants_agree_with_rust() {
    // Constant amounts use the `RotlImm` forms (rotr by c as rotl by bits - c); amounts
    // beyond the width and zero must wrap as the spec says.
    let amounts: [i64; 8] = [0, 1, 7, 16, 31, 32, 33, -1];
    let mut wat = String::from("(module\n");
    for (k, a) in amounts.iter().enumerate() {
        wat.push_str(&format!(
            "(func (export \"rotl32_{k}\") (param i32) (result i32) (i32.rotl (local.get 0) (i32.const {a})))
             (func (export \"rotr32_{k}\") (param i32) (result i32) (i32.rotr (local.get 0) (i32.const {a})))
             (func (export \"rotl64_{k}\") (param i64) (result i64) (i64.rotl (local.get 0) (i64.const {a})))
             (func (export \"rotr64_{k}\") (param i64) (result i64) (i64.rotr (local.get 0) (i64.const {a})))\n"
        ));
    }
    wat.push(')');
    let (mut store, inst) = instance(&wat);
    let values: [u64; 4] = [0, 1, 0x8000_0001_dead_beef, u64::MAX - 5];
    for (k, &a) in amounts.iter().enumerate() {
        for &v in &values {
            let x32 = v as u32;
            let r = call(
                &mut store,
                inst,
                &format!("rotl32_{k}"),
                &[Val::I32(x32 as i32)],
            )
            .unwrap();
            assert_eq!(
                r[0].i32(),
                Some(x32.rotate_left((a as u32) % 32) as i32),
                "rotl32 {v:x} {a}"
            );
            let r = call(
                &mut store,
                inst,
                &format!("rotr32_{k}"),
                &[Val::I32(x32 as i32)],
            )
            .unwrap();
            assert_eq!(
                r[0].i32(),
                Some(x32.rotate_right((a as u32) % 32) as i32),
                "rotr32 {v:x} {a}"
            );
            let r = call(
                &mut store,
                inst,
                &format!("rotl64_{k}"),
                &[Val::I64(v as i64)],
            )
            .unwrap();
            assert_eq!(
                r[0].i64(),
                Some(v.rotate_left((a as u64 % 64) as u32) as i64),
                "rotl64 {v:x} {a}"
            );
            let r = call(
                &mut store,
                inst,
                &format!("rotr64_{k}"),
                &[Val::I64(v as i64)],
            )
            .unwrap();
            assert_eq!(
                r[0].i64(),
                Some(v.rotate_right((a as u64 % 64) as u32) as i64),
                "rotr64 {v:x} {a}"
            );
        }
    }
}

/// Address operand pairs for the fused-address tests: in bounds, wrapping at 32 bits back
/// into bounds, just past the end, and far out.
const ADDRESS_OPERANDS: [(u32, u32); 7] = [
    (0, 0),
    (5, 7),
    (0xFFFF_FFF0, 0x14),
    (20, 0xFFFF_FFFF),
    (65530, 0),
    (0xFFFF_FFFF, 0xFFFF_FFFF),
    (3, 0x4000_0002),
];

#[test]
fn indexed_loads_agree_with_a_byte_model() {
    // `i32.add; *.load` is fused into one indexed load: the address wraps at 32 bits before
    // the offset is added, exactly as the unfused pair, and bounds are checked the same.
    let data: Vec<u8> = (0..64u32).map(|i| (i * 37 + 11) as u8).collect();
    let hex: String = data.iter().map(|b| format!("\\{b:02x}")).collect();
    let ops = [
        ("i32.load", "i32"),
        ("i64.load", "i64"),
        ("i32.load8_s", "i32"),
        ("i32.load8_u", "i32"),
        ("i32.load16_s", "i32"),
        ("i32.load16_u", "i32"),
        ("i64.load8_u", "i64"),
        ("i64.load32_u", "i64"),
        ("f32.load", "f32"),
    ];
    let mut wat = format!("(module (memory 1) (data (i32.const 0) \"{hex}\")\n");
    for (k, (op, ty)) in ops.iter().enumerate() {
        wat.push_str(&format!(
            "(func (export \"f{k}\") (param i32 i32) (result {ty})
               ({op} offset=3 (i32.add (local.get 0) (local.get 1))))\n"
        ));
    }
    wat.push(')');
    let (mut store, inst) = instance(&wat);
    let mem = |at: u64, n: usize| -> Option<u64> {
        let at = at as usize;
        if at + n > 65536 {
            return None;
        }
        let mut v = 0u64;
        for i in 0..n {
            v |= (*data.get(at + i).unwrap_or(&0) as u64) << (8 * i);
        }
        Some(v)
    };
    for (a, b) in ADDRESS_OPERANDS {
        let addr = a.wrapping_add(b) as u64 + 3;
        for (k, (op, _)) in ops.iter().enumerate() {
            let r = call(
                &mut store,
                inst,
                &format!("f{k}"),
                &[Val::I32(a as i32), Val::I32(b as i32)],
            );
            let (n, signed) = match *op {
                "i32.load" | "f32.load" | "i64.load32_u" => (4, false),
                "i64.load" => (8, false),
                "i32.load8_s" => (1, true),
                "i32.load8_u" | "i64.load8_u" => (1, false),
                "i32.load16_s" => (2, true),
                _ => (2, false),
            };
            match mem(addr, n) {
                None => {
                    let err = r.expect_err("out of bounds").to_string();
                    assert!(err.contains("out of bounds"), "{op} {a:x}+{b:x}: {err}");
                }
                Some(raw) => {
                    let v = r.unwrap_or_else(|e| panic!("{op} {a:x}+{b:x}: {e}"))[0];
                    let got = match v {
                        Val::I32(x) => x as u32 as u64,
                        Val::I64(x) => x as u64,
                        Val::F32(bits) => bits as u64,
                        other => panic!("{other:?}"),
                    };
                    let want = if signed {
                        let shift = 64 - 8 * n as u32;
                        (((raw << shift) as i64) >> shift) as u32 as u64
                    } else {
                        raw
                    };
                    assert_eq!(got, want, "{op} at {a:x}+{b:x}+3");
                }
            }
        }
    }
}

#[test]
fn stores_of_constants_write_the_same_bytes() {
    // Constant values are stored from the instruction (`*StoreImm`); a 64-bit constant that
    // is not a sign-extended i32 still goes through a slot. Read back byte by byte.
    let stores = [
        ("i32.store8", "i32.const -2", 1, 0xfeu64),
        ("i32.store16", "i32.const 0x12345", 2, 0x2345),
        ("i32.store", "i32.const -7", 4, 0xffff_fff9),
        ("i64.store", "i64.const -7", 8, 0xffff_ffff_ffff_fff9),
        ("i64.store", "i64.const 0x123456789a", 8, 0x12_3456_789a),
        ("i64.store8", "i64.const 0x1ff", 1, 0xff),
        ("i64.store16", "i64.const -1", 2, 0xffff),
        ("i64.store32", "i64.const 0x1_0000_0005", 4, 5),
        ("f32.store", "f32.const -1.5", 4, (-1.5f32).to_bits() as u64),
        ("f64.store", "f64.const 0", 8, 0),
        ("f64.store", "f64.const 2.5", 8, 2.5f64.to_bits()),
    ];
    let mut wat = String::from("(module (memory (export \"mem\") 1)\n");
    for (k, (op, value, _, _)) in stores.iter().enumerate() {
        wat.push_str(&format!(
            "(func (export \"s{k}\") (param i32) ({op} offset=2 (local.get 0) ({value})))\n"
        ));
    }
    wat.push_str("(func (export \"oob\") (i32.store (i32.const 65534) (i32.const 1))))");
    let (mut store, inst) = instance(&wat);
    let mem = inst.get_memory(&store, "mem").unwrap();
    for (k, (op, _, n, want)) in stores.iter().enumerate() {
        let at = 100 * (k + 1);
        mem.data_mut(&mut store)[at..at + 16].fill(0xaa);
        call(&mut store, inst, &format!("s{k}"), &[Val::I32(at as i32)]).unwrap();
        let bytes = &mem.data(&store)[at..at + 16];
        let mut got = 0u64;
        for i in 0..*n {
            got |= (bytes[2 + i] as u64) << (8 * i);
        }
        assert_eq!(got, *want, "{op}");
        assert_eq!(bytes[2 + n], 0xaa, "{op} wrote past its width");
        assert_eq!(bytes[1], 0xaa, "{op} wrote before its address");
    }
    let err = call(&mut store, inst, "oob", &[]).unwrap_err().to_string();
    assert!(err.contains("out of bounds"), "{err}");
}

/// A module whose code section is large enough to be translated on several threads.
fn big_module(broken: &[usize]) -> String {
    let mut wat = String::from("(module\n");
    for i in 0..3000usize {
        // ~125 bytes of code per function: 3000 functions is well past the parallel
        // threshold (64 KiB of code).
        let mut body = format!("(i32.const {i})");
        for k in 0..40 {
            body = format!("(i32.add {body} (i32.const {}))", (i * 7 + k) % 100);
        }
        if broken.contains(&i) {
            // A type error the validator reports at this function's offset.
            body = format!("(drop {body}) (i64.const {i})");
        }
        wat.push_str(&format!("(func (export \"f{i}\") (result i32) {body})\n"));
    }
    wat.push(')');
    wat
}

#[test]
fn large_code_sections_translate_in_parallel_with_deterministic_results_and_errors() {
    let wat = big_module(&[]);
    assert!(
        wat::parse_str(&wat).unwrap().len() > 300_000,
        "past the parallel threshold"
    );
    let (mut store, inst) = instance(&wat);
    for i in [0usize, 1, 1499, 1500, 2998, 2999] {
        let want = i as i32 + (0..40).map(|k| ((i * 7 + k) % 100) as i32).sum::<i32>();
        assert_eq!(
            call_i32(&mut store, inst, &format!("f{i}"), &[]),
            want,
            "f{i}"
        );
    }
    // Two broken functions: the error is always the first one's, whichever thread
    // translated it.
    let engine = Engine::default();
    let bytes = wat::parse_str(big_module(&[2500, 1500])).unwrap();
    let first = Module::new(&engine, &bytes).unwrap_err().to_string();
    let only_first = Module::new(&engine, wat::parse_str(big_module(&[1500])).unwrap())
        .unwrap_err()
        .to_string();
    assert_eq!(first, only_first);
    for _ in 0..5 {
        assert_eq!(Module::new(&engine, &bytes).unwrap_err().to_string(), first);
    }
}

/// 400 small functions and, at `huge`, one with more code than all of them together
/// (as compiled Rust often has); `broken` functions end with a type error.
fn module_with_a_huge_function(huge: usize, broken: &[usize]) -> Vec<u8> {
    let mut wat = String::from("(module\n");
    for i in 0..400usize {
        let terms = if i == huge { 40_000 } else { 20 };
        let mut body = String::from("(local.get 0)");
        for k in 0..terms {
            body.push_str(&format!(" (i32.add (i32.const {}))", (i + k) % 50));
        }
        if broken.contains(&i) {
            body.push_str(&format!(" (drop) (i64.const {i})"));
        }
        wat.push_str(&format!(
            "(func (export \"f{i}\") (param i32) (result i32) {body})\n"
        ));
    }
    wat.push(')');
    wat::parse_str(wat).unwrap()
}

#[test]
fn a_huge_function_translates_beside_the_rest_and_the_first_error_still_wins() {
    let engine = Engine::default();
    let ok = module_with_a_huge_function(300, &[]);
    assert!(ok.len() > 100_000, "past the parallel threshold");
    let module = Module::new(&engine, &ok).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    for i in [0usize, 299, 300, 399] {
        let f = instance
            .get_typed_func::<i32, i32>(&mut store, &format!("f{i}"))
            .unwrap();
        let terms = if i == 300 { 40_000 } else { 20 };
        let want = (0..terms).map(|k| ((i + k) % 50) as i32).sum::<i32>() + 1;
        assert_eq!(f.call(&mut store, 1).unwrap(), want, "f{i}");
    }
    // The huge function has a lane to itself: its error and a small function's must
    // still come out in function order, whichever lane finishes first.
    let error = |broken: &[usize]| {
        Module::new(&engine, module_with_a_huge_function(300, broken))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(error(&[300, 350]), error(&[300]));
    assert_eq!(error(&[250, 300]), error(&[250]));
    assert_ne!(error(&[250]), error(&[300]));
}

/// Checks that function `k` of `wat` was translated using instruction `name`.
fn assert_uses(wat: &str, k: usize, name: &str) {
    let code = internal_code(wat, k);
    assert!(code.contains(name), "function {k} uses {name}:\n{code}");
}

/// The printed internal code of function `k`, to check a fusion happened.
fn internal_code(wat: &str, k: usize) -> String {
    let module = Module::new(&Engine::default(), wat).expect("module compiles");
    module.internal_code(k).expect("function exists")
}

#[test]
fn fused_address_forms_agree_with_a_byte_model() {
    // Four address shapes are fused into the load: `a + b`, `a + (b << 2)` (either
    // operand order), `a + C` and `(b << 3) + C`. Each wraps at 32 bits before the offset is added, as the
    // unfused instructions do, and traps at the same addresses.
    let data: Vec<u8> = (0..64u32).map(|i| (i * 53 + 7) as u8).collect();
    let hex: String = data.iter().map(|b| format!("\\{b:02x}")).collect();
    let ops = [
        ("i32.load", 4, false),
        ("i64.load", 8, false),
        ("i32.load8_s", 1, true),
        ("i32.load8_u", 1, false),
        ("i32.load16_s", 2, true),
        ("i32.load16_u", 2, false),
    ];
    type AddressModel = fn(u32, u32) -> u32;
    let shapes: [(&str, &str, AddressModel); 7] = [
        ("idx", "(i32.add (local.get 0) (local.get 1))", |a, b| {
            a.wrapping_add(b)
        }),
        (
            "shl",
            "(i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 2)))",
            |a, b| a.wrapping_add(b << 2),
        ),
        (
            "shl-first",
            "(i32.add (i32.shl (local.get 1) (i32.const 34)) (local.get 0))",
            |a, b| a.wrapping_add(b << 2),
        ),
        ("disp", "(i32.add (local.get 0) (i32.const 20))", |a, _| {
            a.wrapping_add(20)
        }),
        (
            "disp-neg",
            "(i32.add (local.get 0) (i32.const -8))",
            |a, _| a.wrapping_sub(8),
        ),
        (
            "disp-sub",
            "(i32.sub (local.get 0) (i32.const 3))",
            |a, _| a.wrapping_sub(3),
        ),
        (
            "shl-disp",
            "(i32.add (i32.shl (local.get 1) (i32.const 3)) (i32.const -16))",
            |_, b| (b << 3).wrapping_sub(16),
        ),
    ];
    let mut wat = format!("(module (memory 1) (data (i32.const 0) \"{hex}\")\n");
    for (op, _, _) in ops {
        for (_, addr, _) in shapes {
            let ty = if op.starts_with("i64") { "i64" } else { "i32" };
            wat.push_str(&format!(
                "(func (param i32 i32) (result {ty}) ({op} offset=3 {addr}))\n"
            ));
        }
    }
    for k in 0..ops.len() * shapes.len() {
        wat.push_str(&format!("(export \"f{k}\" (func {k}))\n"));
    }
    wat.push(')');
    for k in 0..ops.len() * shapes.len() {
        let code = internal_code(&wat, k);
        assert_eq!(code.lines().count(), 2, "fused into one load:\n{code}");
    }
    let (mut store, inst) = instance(&wat);
    for (a, b) in ADDRESS_OPERANDS {
        for (i, (op, n, signed)) in ops.into_iter().enumerate() {
            for (j, (shape, _, model)) in shapes.into_iter().enumerate() {
                let k = i * shapes.len() + j;
                let what = format!("{op} {shape} a={a:x} b={b:x}");
                let r = call(
                    &mut store,
                    inst,
                    &format!("f{k}"),
                    &[Val::I32(a as i32), Val::I32(b as i32)],
                );
                let at = model(a, b) as usize + 3;
                if at + n > 65536 {
                    let err = r.expect_err(&what).to_string();
                    assert!(err.contains("out of bounds"), "{what}: {err}");
                    continue;
                }
                let mut raw = 0u64;
                for i in 0..n {
                    raw |= (*data.get(at + i).unwrap_or(&0) as u64) << (8 * i);
                }
                let want = if signed {
                    let shift = 64 - 8 * n as u32;
                    (((raw << shift) as i64) >> shift) as u32 as u64
                } else {
                    raw
                };
                let got = match r.unwrap_or_else(|e| panic!("{what}: {e}"))[0] {
                    Val::I32(x) => x as u32 as u64,
                    Val::I64(x) => x as u64,
                    other => panic!("{other:?}"),
                };
                assert_eq!(got, want, "{what}");
            }
        }
    }
}

#[test]
fn stores_to_fused_addresses_write_the_same_bytes() {
    // `i32.add x C` computing a store's address is fused into the store: the add wraps
    // at 32 bits before the offset is added, and bounds are checked the same. Also when
    // the value stored is a constant (`*ImmDisp`, sign-extended from 16 bits).
    let ops = [
        ("i32.store8", "i32", 1),
        ("i32.store16", "i32", 2),
        ("i32.store", "i32", 4),
        ("i64.store", "i64", 8),
        ("i64.store8", "i64", 1),
        ("i64.store32", "i64", 4),
    ];
    // A negative displacement, and a positive one that wraps past 2^32 to a small address.
    for disp in [-6i32, 6] {
        let mut wat = String::from("(module (memory (export \"mem\") 1)\n");
        for (k, (op, ty, _)) in ops.iter().enumerate() {
            wat.push_str(&format!(
                "(func (export \"s{k}\") (param i32 {ty}) (local {ty})
               (local.set 2 (local.get 1))
               ({op} offset=2 (i32.add (local.get 0) (i32.const {disp})) (local.get 2)))
             (func (export \"c{k}\") (param i32)
               ({op} offset=2 (i32.add (local.get 0) (i32.const {disp})) ({ty}.const -2)))\n"
            ));
        }
        wat.push(')');
        for k in 0..ops.len() {
            let code = internal_code(&wat, 2 * k);
            assert!(code.contains("Disp"), "store {k} fused:\n{code}");
            let code = internal_code(&wat, 2 * k + 1);
            assert!(
                code.contains("ImmDisp"),
                "constant store {k} fused:\n{code}"
            );
        }
        let (mut store, inst) = instance(&wat);
        let memory = inst.get_memory(&store, "mem").expect("exported memory");
        let value: u64 = 0x8877_6655_4433_2211;
        for a in [4u32, 6, 100, 0xFFFF_FFFE, 65540, 65534, 0] {
            for (k, (op, ty, n)) in ops.into_iter().enumerate() {
                let before = memory.data(&store).to_vec();
                let v = if ty == "i32" {
                    Val::I32(value as u32 as i32)
                } else {
                    Val::I64(value as i64)
                };
                let r = call(&mut store, inst, &format!("s{k}"), &[Val::I32(a as i32), v]);
                let at = a.wrapping_add(disp as u32) as usize + 2;
                let what = format!("{op} at {a:x}{disp:+}+2");
                let mut want = before.clone();
                if at + n > want.len() {
                    let err = r.expect_err(&what).to_string();
                    assert!(err.contains("out of bounds"), "{what}: {err}");
                } else {
                    r.unwrap_or_else(|e| panic!("{what}: {e}"));
                    want[at..at + n].copy_from_slice(&value.to_le_bytes()[..n]);
                }
                assert!(memory.data(&store) == want.as_slice(), "{what}");
                let r = call(&mut store, inst, &format!("c{k}"), &[Val::I32(a as i32)]);
                if at + n > want.len() {
                    let err = r.expect_err(&what).to_string();
                    assert!(err.contains("out of bounds"), "{what}, constant: {err}");
                } else {
                    r.unwrap_or_else(|e| panic!("{what}, constant: {e}"));
                    want[at..at + n].copy_from_slice(&(-2i64).to_le_bytes()[..n]);
                }
                assert!(memory.data(&store) == want.as_slice(), "{what}, constant");
            }
        }
    }
}

#[test]
fn fused_arithmetic_agrees_with_rust() {
    // `x * C1 + C2`, `b + (i << C)`, `rotl(a ^ b, C)` and three-operand `select` are single
    // instructions; their results, also when written straight into a local, match Rust's.
    let wat = r#"(module
      (func (export "muladd") (param i32) (result i32)
        (i32.add (i32.mul (local.get 0) (i32.const 1664525)) (i32.const 1013904223)))
      (func (export "muladd_local") (param i32) (result i32) (local i32)
        (local.set 1 (i32.add (i32.mul (local.get 0) (i32.const -3)) (i32.const -7)))
        (local.get 1))
      (func (export "addshl") (param i32 i32) (result i32)
        (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 35))))
      (func (export "xorrotl") (param i64 i64) (result i64)
        (i64.rotl (i64.xor (local.get 0) (local.get 1)) (i64.const 13)))
      (func (export "xorrotl32") (param i32 i32) (result i32)
        (i32.rotr (i32.xor (local.get 0) (local.get 1)) (i32.const 7)))
      (func (export "xorrotr_local") (param i64 i64) (result i64)
        (local.set 0 (i64.rotr (i64.xor (local.get 0) (local.get 1)) (i64.const 67)))
        (local.get 0))
      (func (export "select") (param i32 i32 i32) (result i32)
        (select (local.get 0) (local.get 1) (local.get 2)))
      (func (export "select_into_input") (param i32 i32 i32) (result i32)
        (local.set 1 (select (local.get 1) (local.get 0) (local.get 2)))
        (local.get 1))
      (func (export "select_const") (param i32) (result i32)
        (select (i32.const 11) (i32.const -4) (local.get 0)))
      (func (export "rotlxor") (param i64 i64) (result i64)
        (i64.xor (i64.rotl (local.get 0) (i64.const 13)) (local.get 1)))
      (func (export "rotlxor_left") (param i64 i64) (result i64)
        (i64.xor (local.get 1) (i64.rotr (local.get 0) (i64.const 3))))
      (func (export "rotlxor32_local") (param i32 i32) (result i32)
        (local.set 1 (i32.xor (local.get 1) (i32.rotl (local.get 0) (i32.const 7))))
        (local.get 1))
      (func (export "addrotl32") (param i32 i32) (result i32)
        (i32.rotl (i32.add (local.get 0) (local.get 1)) (i32.const 39)))
      (func (export "addrotr64_local") (param i64 i64) (result i64)
        (local.set 0 (i64.rotr (i64.add (local.get 0) (local.get 1)) (i64.const 5)))
        (local.get 0)))"#;
    for (k, name) in [
        (0, "I32MulAdd"),
        (2, "I32AddShl"),
        (3, "I64XorRotl"),
        (4, "I32XorRotl"),
        (6, "Select3"),
        (9, "I64RotlXor"),
        (10, "I64RotlXor"),
        (11, "I32RotlXor"),
        (12, "I32AddRotl"),
        (13, "I64AddRotl"),
    ] {
        assert_uses(wat, k, name);
    }
    let (mut store, inst) = instance(wat);
    let ints = [0i32, 1, -1, 7, i32::MIN, i32::MAX, 0x1234_5678];
    for &x in &ints {
        let want = (x as u32).wrapping_mul(1664525).wrapping_add(1013904223) as i32;
        assert_eq!(
            call_i32(&mut store, inst, "muladd", &[x]),
            want,
            "muladd {x}"
        );
        let want = x.wrapping_mul(-3).wrapping_add(-7);
        assert_eq!(call_i32(&mut store, inst, "muladd_local", &[x]), want);
        for &y in &ints {
            let want = ((x ^ y) as u32).rotate_right(7) as i32;
            assert_eq!(call_i32(&mut store, inst, "xorrotl32", &[x, y]), want);
            let want = (x as u32).rotate_left(7) as i32 ^ y;
            assert_eq!(call_i32(&mut store, inst, "rotlxor32_local", &[x, y]), want);
            let want = (x as u32).wrapping_add((y as u32) << 3) as i32;
            assert_eq!(call_i32(&mut store, inst, "addshl", &[x, y]), want);
            let want = (x as u32).wrapping_add(y as u32).rotate_left(7) as i32;
            assert_eq!(call_i32(&mut store, inst, "addrotl32", &[x, y]), want);
            for c in [0, 1, -5] {
                let want = if c != 0 { x } else { y };
                assert_eq!(call_i32(&mut store, inst, "select", &[x, y, c]), want);
                let want = if c != 0 { y } else { x };
                assert_eq!(
                    call_i32(&mut store, inst, "select_into_input", &[x, y, c]),
                    want
                );
            }
        }
        let want = if x != 0 { 11 } else { -4 };
        assert_eq!(call_i32(&mut store, inst, "select_const", &[x]), want);
    }
    let longs = [0i64, -1, 0x0123_4567_89AB_CDEF, i64::MIN, 42];
    for &a in &longs {
        for &b in &longs {
            let args = [Val::I64(a), Val::I64(b)];
            let r = call(&mut store, inst, "xorrotl", &args).unwrap()[0].i64();
            assert_eq!(r, Some(((a ^ b) as u64).rotate_left(13) as i64));
            let r = call(&mut store, inst, "xorrotr_local", &args).unwrap()[0].i64();
            assert_eq!(r, Some(((a ^ b) as u64).rotate_right(3) as i64));
            let r = call(&mut store, inst, "rotlxor", &args).unwrap()[0].i64();
            assert_eq!(r, Some((a as u64).rotate_left(13) as i64 ^ b));
            let r = call(&mut store, inst, "rotlxor_left", &args).unwrap()[0].i64();
            assert_eq!(r, Some((a as u64).rotate_right(3) as i64 ^ b));
            let r = call(&mut store, inst, "addrotr64_local", &args).unwrap()[0].i64();
            assert_eq!(r, Some((a.wrapping_add(b) as u64).rotate_right(5) as i64));
        }
    }
}

#[test]
fn br_table_on_an_offset_index_takes_the_addition_in() {
    // `switch (c) { case 'a': ... }` compiles to `br_table` on `c - 'a'`: one instruction,
    // whose addition wraps at 32 bits as `i32.add` does (so indices below the first case,
    // and ones that wrap around, go to the default).
    let wat = r#"(module
      (func (export "sw") (param i32) (result i32)
        (block $d (block $c (block $b (block $a
          (br_table $a $b $c $d (i32.sub (local.get 0) (i32.const 97))))
          (return (i32.const 10)))
          (return (i32.const 11)))
          (return (i32.const 12)))
        (i32.const -1))
      (func (export "wrap") (param i32) (result i32)
        (block $d (block $b (block $a
          (br_table $a $b $d (i32.add (local.get 0) (i32.const 0x7fffffff))))
          (return (i32.const 20)))
          (return (i32.const 21)))
        (i32.const -2)))"#;
    assert_uses(wat, 0, "add: -97");
    assert_uses(wat, 1, "add: 2147483647");
    let (mut store, inst) = instance(wat);
    for x in [-1000, -1, 0, 96, 97, 98, 99, 100, 101, i32::MAX, i32::MIN] {
        let want = match x.wrapping_sub(97) {
            0 => 10,
            1 => 11,
            2 => 12,
            _ => -1,
        };
        assert_eq!(call_i32(&mut store, inst, "sw", &[x]), want, "sw({x})");
        let want = match x.wrapping_add(0x7fff_ffff) as u32 {
            0 => 20,
            1 => 21,
            _ => -2,
        };
        assert_eq!(call_i32(&mut store, inst, "wrap", &[x]), want, "wrap({x})");
    }
}

#[test]
fn a_byte_load_and_the_branch_on_it_are_one_instruction_that_still_writes_the_byte() {
    // `while ((c = *p++))`: the loaded byte, teed into a local the loop body uses, and the
    // branch on it fuse; so does `if (*p)`. The loaded value is still written, and a load
    // out of bounds traps at the load.
    let wat = r#"(module
      (memory (export "memory") 1)
      (data (i32.const 100) "hello\00world")
      (func (export "sum") (param $p i32) (result i32) (local $c i32) (local $s i32)
        (block $done
          (loop $next
            (br_if $done (i32.eqz (local.tee $c (i32.load8_u (local.get $p)))))
            (local.set $s (i32.add (i32.mul (local.get $s) (i32.const 31)) (local.get $c)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $next)))
        (local.get $s))
      (func (export "len") (param $p i32) (result i32) (local $n i32) (local $c i32)
        (loop $next
          (if (local.tee $c (i32.load8_u offset=1 (local.get $p)))
            (then
              (local.set $n (i32.add (local.get $n) (local.get $c)))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $next))))
        (local.get $n))
      (func (export "label") (param $p i32) (param $k i32) (result i32) (local $c i32)
        (local.set $c (i32.const 5))
        (block $b
          (br_if $b (local.get $k))
          (local.set $c (i32.load8_u (local.get $p))))
        (if (local.get $c) (then (return (i32.const 1))))
        (i32.const 0)))"#;
    for k in [0, 1] {
        let code = internal_code(wat, k);
        assert!(
            code.contains("BrLoad8U(") && code.contains("test: Eqz"),
            "function {k}:\n{code}"
        );
    }
    // A branch to the test must not run the load: they stay apart.
    assert!(!internal_code(wat, 2).contains("BrLoad8U"));
    let (mut store, inst) = instance(wat);
    let hash = |s: &[u8]| {
        s.iter()
            .fold(0i32, |h, &c| h.wrapping_mul(31).wrapping_add(c as i32))
    };
    assert_eq!(call_i32(&mut store, inst, "sum", &[100]), hash(b"hello"));
    assert_eq!(call_i32(&mut store, inst, "sum", &[106]), hash(b"world"));
    assert_eq!(call_i32(&mut store, inst, "sum", &[105]), 0);
    let bytes_sum = |s: &[u8]| s.iter().map(|&c| c as i32).sum::<i32>();
    assert_eq!(
        call_i32(&mut store, inst, "len", &[99]),
        bytes_sum(b"hello")
    );
    assert_eq!(call_i32(&mut store, inst, "len", &[104]), 0);
    for (p, k, want) in [(105, 1, 1), (105, 0, 0), (100, 0, 1)] {
        assert_eq!(
            call_i32(&mut store, inst, "label", &[p, k]),
            want,
            "label({p}, {k})"
        );
    }
    // Nonzero bytes up to the end of memory: the load past it traps.
    let memory = inst.get_memory(&store, "memory").unwrap();
    memory.data_mut(&mut store)[65_000..].fill(1);
    for (f, start) in [("sum", 65_530), ("len", 65_529)] {
        let err = call(&mut store, inst, f, &[Val::I32(start)]).expect_err("runs off the end");
        assert!(err.to_string().contains("out of bounds"), "{f}: {err}");
    }
}

#[test]
fn float_compare_and_branch_fuse_and_agree_with_rust_on_nan_and_zeros() {
    // `br_if (f64.lt a b)` is one instruction, and so is `if (f64.lt a b)`, which branches
    // when the comparison does not hold: with a NaN that is not the opposite comparison.
    let ops = ["eq", "ne", "lt", "gt", "le", "ge"];
    let mut wat = String::from("(module");
    for ty in ["f32", "f64"] {
        for op in ops {
            wat += &format!(
                r#"(func (export "br_{ty}_{op}") (param {ty} {ty}) (result i32)
                     (block (br_if 0 ({ty}.{op} (local.get 0) (local.get 1))) (return (i32.const 0)))
                     (i32.const 1))
                   (func (export "if_{ty}_{op}") (param {ty} {ty}) (result i32)
                     (if (result i32) ({ty}.{op} (local.get 0) (local.get 1))
                       (then (i32.const 1)) (else (i32.const 0))))"#
            );
        }
    }
    wat += ")";
    for (k, name) in [
        (4, "BrF32Lt"),
        (5, "BrF32NotLt"),
        (1, "BrF32Ne"),
        (22, "BrF64Ge"),
        (23, "BrF64NotGe"),
        (12, "BrF64Eq"),
        (13, "BrF64Ne"),
    ] {
        assert_uses(&wat, k, name);
    }
    let (mut store, inst) = instance(&wat);
    let values = [
        f64::NAN,
        f64::NEG_INFINITY,
        -1.5,
        -0.0,
        0.0,
        1.5,
        f64::INFINITY,
    ];
    let holds = |op: &str, a: f64, b: f64| match op {
        "eq" => a == b,
        "ne" => a != b,
        "lt" => a < b,
        "gt" => a > b,
        "le" => a <= b,
        _ => a >= b,
    };
    for op in ops {
        for &a in &values {
            for &b in &values {
                let want = Some(holds(op, a, b) as i32);
                for form in ["br", "if"] {
                    let args = [Val::F64(a.to_bits()), Val::F64(b.to_bits())];
                    let r = call(&mut store, inst, &format!("{form}_f64_{op}"), &args);
                    assert_eq!(r.unwrap()[0].i32(), want, "{form} f64 {a} {op} {b}");
                    let (a, b) = (a as f32, b as f32);
                    let args = [Val::F32(a.to_bits()), Val::F32(b.to_bits())];
                    let r = call(&mut store, inst, &format!("{form}_f32_{op}"), &args);
                    assert_eq!(r.unwrap()[0].i32(), want, "{form} f32 {a} {op} {b}");
                }
            }
        }
    }
}

#[test]
fn shift_xor_fuses_and_agrees_with_rust() {
    // `(x >> C) ^ y` and `(x << C) ^ y` with the shift just computed are one instruction,
    // whichever side of the xor the shift is on, into a local, onto its own input
    // (`h ^= h >> 16`), and with a count of the width or more (taken modulo the width).
    let wat = r#"(module
      (func (export "shru32") (param i32 i32) (result i32)
        (i32.xor (i32.shr_u (local.get 0) (i32.const 35)) (local.get 1)))
      (func (export "shl32_left") (param i32 i32) (result i32)
        (i32.xor (local.get 1) (i32.shl (local.get 0) (i32.const 13))))
      (func (export "shru32_self") (param i32 i32) (result i32)
        (local.set 0 (i32.xor (local.get 0) (i32.shr_u (local.get 0) (i32.const 16))))
        (local.get 0))
      (func (export "shru64_local") (param i64 i64) (result i64)
        (local.set 1 (i64.xor (i64.shr_u (local.get 0) (i64.const 67)) (local.get 1)))
        (local.get 1))
      (func (export "shl64") (param i64 i64) (result i64)
        (i64.xor (i64.shl (local.get 0) (i64.const 17)) (local.get 1))))"#;
    for (k, name) in [
        (0, "I32ShrUXor"),
        (1, "I32ShlXor"),
        (2, "I32ShrUXor"),
        (3, "I64ShrUXor"),
        (4, "I64ShlXor"),
    ] {
        assert_uses(wat, k, name);
    }
    let (mut store, inst) = instance(wat);
    let ints = [0i32, 1, -1, 7, i32::MIN, i32::MAX, 0x1234_5678];
    for &x in &ints {
        for &y in &ints {
            let want = ((x as u32 >> 3) ^ y as u32) as i32;
            assert_eq!(call_i32(&mut store, inst, "shru32", &[x, y]), want);
            let want = y ^ (x << 13);
            assert_eq!(call_i32(&mut store, inst, "shl32_left", &[x, y]), want);
            let want = x ^ (x as u32 >> 16) as i32;
            assert_eq!(call_i32(&mut store, inst, "shru32_self", &[x, y]), want);
        }
    }
    let longs = [0i64, -1, 0x0123_4567_89AB_CDEF, i64::MIN, 42];
    for &a in &longs {
        for &b in &longs {
            let args = [Val::I64(a), Val::I64(b)];
            let r = call(&mut store, inst, "shru64_local", &args).unwrap()[0].i64();
            assert_eq!(r, Some(((a as u64 >> 3) ^ b as u64) as i64));
            let r = call(&mut store, inst, "shl64", &args).unwrap()[0].i64();
            assert_eq!(r, Some((a << 17) ^ b));
        }
    }
}

#[test]
fn multiply_accumulate_fuses_and_agrees_with_rust() {
    // `acc + x * y` with the product just computed is one instruction, whichever side of
    // the addition the product is on, also into a local and as a chain (a dot product);
    // a product that is not the last thing computed, or a constant addend, stays apart.
    let wat = r#"(module
      (func (export "acc_left") (param i32 i32 i32) (result i32)
        (i32.add (local.get 2) (i32.mul (local.get 0) (local.get 1))))
      (func (export "acc_right") (param i32 i32 i32) (result i32)
        (i32.add (i32.mul (local.get 0) (local.get 1)) (local.get 2)))
      (func (export "acc_into_input") (param i32 i32 i32) (result i32)
        (local.set 0 (i32.add (local.get 0) (i32.mul (local.get 0) (local.get 1))))
        (local.get 0))
      (func (export "dot") (param i32 i32 i32) (result i32)
        (i32.add (i32.add (i32.mul (local.get 0) (local.get 1)) (i32.mul (local.get 1) (local.get 2)))
                 (i32.mul (local.get 2) (local.get 0))))
      (func (export "acc64") (param i64 i64 i64) (result i64)
        (i64.add (local.get 2) (i64.mul (local.get 0) (local.get 1))))
      (func (export "acc64_local") (param i64 i64 i64) (result i64)
        (local.set 2 (i64.add (i64.mul (local.get 0) (local.get 1)) (local.get 2)))
        (local.get 2))
      (func (export "const_addend") (param i32 i32 i32) (result i32)
        (i32.add (i32.mul (local.get 0) (local.get 1)) (i32.const 5))))"#;
    for k in [0, 1, 2, 3] {
        assert_uses(wat, k, "I32MulAcc");
    }
    assert_uses(wat, 4, "I64MulAcc");
    assert_uses(wat, 5, "I64MulAcc");
    assert!(
        !internal_code(wat, 6).contains("MulAcc"),
        "{}",
        internal_code(wat, 6)
    );
    let (mut store, inst) = instance(wat);
    let ints = [0i32, 1, -1, 3, i32::MIN, i32::MAX, 0x1234_5678];
    for &x in &ints {
        for &y in &ints {
            for &z in &ints {
                let want = z.wrapping_add(x.wrapping_mul(y));
                assert_eq!(call_i32(&mut store, inst, "acc_left", &[x, y, z]), want);
                assert_eq!(call_i32(&mut store, inst, "acc_right", &[x, y, z]), want);
                let want = x.wrapping_add(x.wrapping_mul(y));
                assert_eq!(
                    call_i32(&mut store, inst, "acc_into_input", &[x, y, z]),
                    want
                );
                let want = x
                    .wrapping_mul(y)
                    .wrapping_add(y.wrapping_mul(z))
                    .wrapping_add(z.wrapping_mul(x));
                assert_eq!(call_i32(&mut store, inst, "dot", &[x, y, z]), want);
                let want = x.wrapping_mul(y).wrapping_add(5);
                assert_eq!(call_i32(&mut store, inst, "const_addend", &[x, y, z]), want);
            }
        }
    }
    let longs = [0i64, -1, 3, 0x0123_4567_89AB_CDEF, i64::MIN, i64::MAX];
    for &a in &longs {
        for &b in &longs {
            for &c in &longs {
                let args = [Val::I64(a), Val::I64(b), Val::I64(c)];
                let want = Some(c.wrapping_add(a.wrapping_mul(b)));
                let r = call(&mut store, inst, "acc64", &args).unwrap()[0].i64();
                assert_eq!(r, want);
                let r = call(&mut store, inst, "acc64_local", &args).unwrap()[0].i64();
                assert_eq!(r, want);
            }
        }
    }
}

#[test]
fn counted_loop_tails_fuse_and_agree_with_rust() {
    // `i += C; br_if (i OP x)` is one `BrInc` instruction, and `i += s` (a step in a
    // local, on either side of the add, or `i` itself) one `BrIncBy`. Each loop counts its
    // iterations in `k`; a Rust model of the same loop gives the expected count.
    let tails = [
        ("test: Ne,", "(i32.ne (local.get $i) (local.get $n))"),
        ("test: Ne,", "(i32.ne (local.get $n) (local.get $i))"),
        ("test: LtU,", "(i32.lt_u (local.get $i) (local.get $n))"),
        ("test: LtS,", "(i32.lt_s (local.get $i) (local.get $n))"),
        ("test: NeImm,", "(i32.ne (local.get $i) (i32.const 40))"),
        ("test: LtUImm,", "(i32.lt_u (local.get $i) (i32.const 40))"),
        ("test: LtSImm,", "(i32.lt_s (local.get $i) (i32.const -40))"),
        ("test: Nez,", "(local.get $i)"),
    ];
    // (the add, the instruction it fuses into, the model's step from `i` and `s`)
    type Step = fn(i32, i32) -> i32;
    let steps: [(&str, &str, Step); 7] = [
        ("(i32.add (local.get $i) (i32.const 1))", "BrInc(", |_, _| 1),
        ("(i32.add (local.get $i) (i32.const 4))", "BrInc(", |_, _| 4),
        (
            "(i32.add (local.get $i) (i32.const -1))",
            "BrInc(",
            |_, _| -1,
        ),
        (
            "(i32.add (local.get $i) (i32.const -3))",
            "BrInc(",
            |_, _| -3,
        ),
        (
            "(i32.add (local.get $i) (local.get $s))",
            "BrIncBy(",
            |_, s| s,
        ),
        (
            "(i32.add (local.get $s) (local.get $i))",
            "BrIncBy(",
            |_, s| s,
        ),
        (
            "(i32.add (local.get $i) (local.get $i))",
            "BrIncBy(",
            |i, _| i,
        ),
    ];
    let mut wat = String::from("(module\n");
    for (_, test) in tails {
        for (add, _, _) in steps {
            wat.push_str(&format!(
                "(func (param $i i32) (param $n i32) (param $s i32) (result i32) (local $k i32)
                   (block $out
                     (loop $top
                       (local.set $k (i32.add (local.get $k) (i32.const 1)))
                       (br_if $out (i32.eq (local.get $k) (i32.const 1000)))
                       (local.set $i {add})
                       (br_if $top {test})))
                   (local.get $k))\n"
            ));
        }
    }
    for k in 0..tails.len() * steps.len() {
        wat.push_str(&format!("(export \"f{k}\" (func {k}))\n"));
    }
    wat.push(')');
    let model = |tail: usize, step: Step, mut i: i32, n: i32, s: i32| -> i32 {
        let mut k = 0;
        loop {
            k += 1;
            if k == 1000 {
                return k;
            }
            i = i.wrapping_add(step(i, s));
            let again = match tail {
                0 | 1 => i != n,
                2 => (i as u32) < n as u32,
                3 => i < n,
                4 => i != 40,
                5 => (i as u32) < 40,
                6 => i < -40,
                _ => i != 0,
            };
            if !again {
                return k;
            }
        }
    };
    for (t, (name, _)) in tails.iter().enumerate() {
        for (s, (_, fused, _)) in steps.iter().enumerate() {
            let code = internal_code(&wat, t * steps.len() + s);
            assert!(
                code.contains(fused) && code.contains(name),
                "fused into {fused}{name}:\n{code}"
            );
        }
    }
    let (mut store, inst) = instance(&wat);
    for (t, _) in tails.iter().enumerate() {
        for (s, &(_, _, step)) in steps.iter().enumerate() {
            for (i, n, by) in [
                (0, 10, 1),
                (5, 5, 2),
                (-50, 7, 3),
                (3, -20, -1),
                (100, 0, -5),
                (-1, 1, 1),
                (1, 64, 0),
            ] {
                let k = t * steps.len() + s;
                let got = call(
                    &mut store,
                    inst,
                    &format!("f{k}"),
                    &[Val::I32(i), Val::I32(n), Val::I32(by)],
                )
                .unwrap()[0]
                    .i32()
                    .unwrap();
                assert_eq!(
                    got,
                    model(t, step, i, n, by),
                    "tail {t} step {s} i={i} n={n} s={by}"
                );
            }
        }
    }
}

#[test]
fn a_branch_to_the_loop_test_skips_the_fused_increment() {
    // A label between the increment and the test: a branch to the test must not run
    // the increment, so the two stay separate. `i` steps on even `k` only, so the loop
    // runs twice as often as `n`.
    let wat = r#"(module
      (func (export "skip") (param $n i32) (result i32) (local $i i32) (local $k i32)
        (loop $top
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (block $skip
            (br_if $skip (i32.and (local.get $k) (i32.const 1)))
            (local.set $i (i32.add (local.get $i) (i32.const 1))))
          (br_if $top (i32.lt_u (local.get $i) (local.get $n))))
        (local.get $k)))"#;
    assert!(!internal_code(wat, 0).contains("BrInc"));
    let (mut store, inst) = instance(wat);
    for n in [1, 2, 7, 100] {
        assert_eq!(call_i32(&mut store, inst, "skip", &[n]), 2 * n, "n={n}");
    }
    assert_eq!(call_i32(&mut store, inst, "skip", &[0]), 1);
}

#[test]
fn constant_addresses_and_i64_masks_agree_with_the_unfused_operators() {
    // A load or store at `i32.const A` with offset `O` uses the folded address `A + O`
    // (when it fits 32 bits; otherwise the general form traps as before). `x & 0xFFFF_FFFF`
    // is a wrap to 32 bits; `(x ^ -1) & y` one and-not.
    let wat = r#"(module (memory (export "mem") 1)
      (data (i32.const 16) "\01\02\03\04\05\06\07\08\09\0a\0b\0c")
      (func (export "ld32") (result i32) (i32.load offset=4 (i32.const 16)))
      (func (export "ld64") (result i64) (i64.load offset=2 (i32.const 16)))
      (func (export "ld8") (result i32) (i32.load8_u offset=1 (i32.const 65534)))
      (func (export "ld64_oob") (result i64) (i64.load (i32.const 65532)))
      (func (export "ld32_far") (result i32) (i32.load offset=16 (i32.const -1)))
      (func (export "st32") (param i32) (i32.store offset=8 (i32.const 100) (local.get 0)))
      (func (export "st64") (param i64) (i64.store (i32.const 200) (local.get 0)))
      (func (export "st32_oob") (param i32) (i32.store offset=65533 (i32.const 0) (local.get 0)))
      (func (export "low32") (param i64) (result i64)
        (i64.and (local.get 0) (i64.const 0xFFFFFFFF)))
      (func (export "low32_left") (param i64) (result i64)
        (i64.and (i64.const 0xFFFFFFFF) (local.get 0)))
      (func (export "andnot") (param i64 i64) (result i64)
        (i64.and (i64.xor (local.get 0) (i64.const -1)) (local.get 1)))
      (func (export "andnot_right") (param i64 i64) (result i64)
        (i64.and (local.get 1) (i64.xor (local.get 0) (i64.const -1))))
      (func (export "low32_even") (param i64) (result i64)
        (i64.and (local.get 0) (i64.const 0xFFFFFFFE)))
      (func (export "low32_top") (param i64) (result i64)
        (i64.and (i64.const 0x80000000) (local.get 0))))"#;
    for (k, name) in [
        (0, "I32LoadAbs"),
        (1, "I64LoadAbs"),
        (2, "I32Load8UAbs"),
        (5, "I32StoreAbs"),
        (6, "I64StoreAbs"),
        (8, "I32WrapI64"),
        (9, "I32WrapI64"),
        (10, "I64AndNot"),
        (11, "I64AndNot"),
        (12, "I32AndImm"),
        (13, "I32AndImm"),
    ] {
        assert_uses(wat, k, name);
    }
    let (mut store, inst) = instance(wat);
    let one = |store: &mut Store<()>, name: &str, args: &[Val]| call(store, inst, name, args);
    assert_eq!(
        one(&mut store, "ld32", &[]).unwrap()[0].i32(),
        Some(0x0807_0605)
    );
    assert_eq!(
        one(&mut store, "ld64", &[]).unwrap()[0].i64(),
        Some(i64::from_le_bytes([3, 4, 5, 6, 7, 8, 9, 10]))
    );
    assert_eq!(one(&mut store, "ld8", &[]).unwrap()[0].i32(), Some(0));
    for oob in ["ld64_oob", "ld32_far"] {
        let err = one(&mut store, oob, &[]).unwrap_err().to_string();
        assert!(err.contains("out of bounds"), "{oob}: {err}");
    }
    one(&mut store, "st32", &[Val::I32(0x1122_3344)]).unwrap();
    one(&mut store, "st64", &[Val::I64(-2)]).unwrap();
    let err = one(&mut store, "st32_oob", &[Val::I32(7)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("out of bounds"), "{err}");
    let memory = inst.get_memory(&store, "mem").expect("exported memory");
    let data = memory.data(&store);
    assert_eq!(data[108..112], 0x1122_3344u32.to_le_bytes());
    assert_eq!(data[200..208], (-2i64).to_le_bytes());
    assert!(
        data[65533..].iter().all(|&b| b == 0),
        "a trapping store writes nothing"
    );
    for x in [0i64, -1, 0x1234_5678_9abc_def0, i64::MIN, 0xFFFF_FFFF] {
        for f in ["low32", "low32_left"] {
            let r = one(&mut store, f, &[Val::I64(x)]).unwrap()[0].i64();
            assert_eq!(r, Some(x & 0xFFFF_FFFF), "{f} {x:x}");
        }
        for (f, mask) in [("low32_even", 0xFFFF_FFFEi64), ("low32_top", 0x8000_0000)] {
            let r = one(&mut store, f, &[Val::I64(x)]).unwrap()[0].i64();
            assert_eq!(r, Some(x & mask), "{f} {x:x}");
        }
        for y in [0i64, -1, 0x0F0F_0F0F_0F0F_0F0F] {
            for f in ["andnot", "andnot_right"] {
                let r = one(&mut store, f, &[Val::I64(x), Val::I64(y)]).unwrap()[0].i64();
                assert_eq!(r, Some(!x & y), "{f} {x:x} {y:x}");
            }
        }
    }
}

#[test]
fn zeroing_a_local_that_still_holds_its_entry_zero_emits_nothing_and_changes_nothing() {
    // Each zero store that must stay is one a wrong elision would skip, changing the result:
    // after a write in straight-line code, after a write in an `if` arm, inside a loop
    // (its back edge brings written values), on a parameter, and of -0.0 (not zero bits).
    let wat = r#"(module
      (func (export "f") (param $n i32) (param $p i32) (result i32)
        (local $acc i32) (local $t i32) (local $x i32) (local $y i32) (local $w i64)
        (local $z f64) (local $u i32)
        (local.set $acc (i32.const 0))
        (local.set $w (i64.const 0))
        (local.set $x (i32.const 5))
        (local.set $x (i32.const 0))
        (if (local.get $n) (then (local.set $y (i32.const 7))))
        (local.set $y (i32.const 0))
        (local.set $p (i32.const 0))
        (local.set $z (f64.const -0))
        (block $done
          (br_if $done (i32.eqz (local.get $n)))
          (loop $l
            ;; first in the loop body, but the back edge brings u = n
            (local.set $u (i32.const 0))
            (local.set $acc (i32.add (local.get $acc) (local.get $u)))
            (local.set $u (local.get $n))
            (local.set $t (i32.add (local.get $t) (local.get $n)))
            (local.set $acc (i32.add (local.get $acc) (local.get $t)))
            (local.set $t (i32.const 0))
            (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
        (i32.add
          (i32.add (local.get $acc) (i32.wrap_i64 (local.get $w)))
          (i32.add
            (i32.add (i32.mul (local.get $x) (i32.const 1000))
                     (i32.mul (local.get $y) (i32.const 100000)))
            (i32.add (i32.mul (local.get $p) (i32.const 10000000))
                     (i32.shl (i32.wrap_i64 (i64.shr_u (i64.reinterpret_f64 (local.get $z))
                                                       (i64.const 63)))
                              (i32.const 30))))))
      (func (export "tee") (result i32) (local $a i32) (local $b i64)
        (local.set $b (i64.const 0))
        (i32.add (local.tee $a (i32.const 0)) (i32.wrap_i64 (local.get $b)))))"#;
    let (mut store, inst) = instance(wat);
    for (n, p) in [(0, 3), (1, 3), (5, 9), (100, -1)] {
        // acc sums 1..=n (t is reset every iteration); x, y, p end at zero; z is -0.0.
        let expected = (1..=n).sum::<i32>() + (1 << 30);
        assert_eq!(call_i32(&mut store, inst, "f", &[n, p]), expected, "n={n}");
    }
    assert_eq!(call_i32(&mut store, inst, "tee", &[]), 0);
    // The entry's zero stores are gone; the others (and x = 5, y = 7) are still there.
    let f = internal_code(wat, 0);
    assert_eq!(f.matches("Const32").count(), 7, "{f}");
    assert!(!f.contains("Const64 { dst: 6, value: 0 }"), "{f}");
    let tee = internal_code(wat, 1);
    assert!(!tee.contains("Const"), "{tee}");
}

#[test]
fn integer_operations_on_two_constants_fold_to_the_value_the_operation_computes() {
    // Each operation on two constants (folded at translation: the function has no
    // arithmetic left) must give what the same operation on the same values in parameters
    // computes at run time.
    let ops32 = [
        "add", "sub", "mul", "and", "or", "xor", "shl", "shr_s", "shr_u", "eq", "ne", "lt_s",
        "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u",
    ];
    let values: [i64; 6] = [0, 1, -1, 31, 0x7FFF_FFFF_FFFF_FFFF, -0x8000_0000_0000_0000];
    let mut wat = String::from("(module");
    for ty in ["i32", "i64"] {
        for op in ops32 {
            let result = if matches!(op, "add" | "sub" | "mul" | "and" | "or" | "xor")
                || op.starts_with("sh")
            {
                ty
            } else {
                "i32"
            };
            wat += &format!(
                "(func (export \"{ty}.{op}\") (param {ty} {ty}) (result {result}) \
                 ({ty}.{op} (local.get 0) (local.get 1)))"
            );
            for (i, a) in values.iter().enumerate() {
                for (j, b) in values.iter().enumerate() {
                    wat += &format!(
                        "(func (export \"{ty}.{op}.{i}.{j}\") (result {result}) \
                         ({ty}.{op} ({ty}.const {a}) ({ty}.const {b})))",
                        a = if ty == "i32" { *a as i32 as i64 } else { *a },
                        b = if ty == "i32" { *b as i32 as i64 } else { *b },
                    );
                }
            }
        }
    }
    wat += ")";
    let (mut store, inst) = instance(&wat);
    for ty in ["i32", "i64"] {
        for op in ops32 {
            for (i, &a) in values.iter().enumerate() {
                for (j, &b) in values.iter().enumerate() {
                    let args = match ty {
                        "i32" => [Val::I32(a as i32), Val::I32(b as i32)],
                        _ => [Val::I64(a), Val::I64(b)],
                    };
                    let computed = call(&mut store, inst, &format!("{ty}.{op}"), &args).unwrap();
                    let folded = call(&mut store, inst, &format!("{ty}.{op}.{i}.{j}"), &[]);
                    assert_eq!(folded.unwrap(), computed, "{ty}.{op} {a} {b}");
                }
            }
        }
    }
    // Folded: no instruction computes anything (the constant is returned as it is).
    let module = Module::new(&Engine::default(), &wat).unwrap();
    // `i32.mul` is the third operation: its parameter function, then 31 * -1 folded.
    let per_op = 1 + values.len() * values.len();
    let k = 2 * per_op + 1 + 3 * values.len() + 2;
    let code = module.internal_code(k).unwrap();
    assert!(!code.contains("Mul"), "{code}");
    let unfolded = module.internal_code(2 * per_op).unwrap();
    assert!(unfolded.contains("I32Mul"), "{unfolded}");
}

#[test]
fn moves_in_a_row_share_a_dispatch_in_order_and_never_across_a_jump_target() {
    // `swap` moves a → t, b → a, t → b: the first two become one `Copy2`, which must run
    // them in order (the second reads what the first may overwrite in other shapes, and
    // the third reads the first's result). In `walk`, a loop header lies between two moves:
    // merged, the back edge would skip the second one.
    let wat = r#"(module
      (func (export "swap") (param $a i32) (param $b i32) (result i32) (local $t i32)
        (local.set $t (local.get $a))
        (local.set $a (local.get $b))
        (local.set $b (local.get $t))
        (i32.sub (i32.mul (local.get $a) (i32.const 1000)) (local.get $b)))
      (func (export "chain") (param $a i32) (param $b i32) (result i32) (local $c i32)
        (local.set $b (local.get $a))
        (local.set $c (local.get $b))
        (i32.add (local.get $c) (local.get $b)))
      (func (export "walk") (param $n i32) (param $x i32) (result i32)
        (local $prev i32) (local $cur i32) (local $sum i32)
        (local.set $prev (local.get $x))
        (loop $l
          (local.set $cur (local.get $n))
          (local.set $sum (i32.add (local.get $sum) (i32.mul (local.get $cur) (local.get $prev))))
          (local.set $prev (local.get $cur))
          (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (local.get $sum)))"#;
    assert_uses(wat, 0, "Copy2");
    assert_uses(wat, 1, "Copy2");
    let (mut store, inst) = instance(wat);
    for (a, b) in [(1, 2), (-7, 30), (0, 0)] {
        assert_eq!(call_i32(&mut store, inst, "swap", &[a, b]), b * 1000 - a);
        assert_eq!(call_i32(&mut store, inst, "chain", &[a, b]), 2 * a);
    }
    for (n, x) in [(1, 5), (4, 3), (10, -2)] {
        // sum over cur = n..1 of cur * prev, prev starting at x and then the previous cur.
        let (mut prev, mut sum) = (x, 0);
        for cur in (1..=n).rev() {
            sum += cur * prev;
            prev = cur;
        }
        assert_eq!(
            call_i32(&mut store, inst, "walk", &[n, x]),
            sum,
            "n={n} x={x}"
        );
    }
}

/// Shuffles that move whole 32- or 16-bit lanes run as lane picks (`V128Shuffle32To`,
/// `V128Shuffle16To`), the rest byte by byte (`V128ShuffleTo`): every kind gives the bytes
/// a byte model gives, with picks from either operand, the same operand twice, and the
/// result stored over an operand's local (`y = shuffle(x, y)`, no `Copy128` before or
/// after).
#[test]
fn lane_shuffles_agree_with_a_byte_model() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    // (mask, the instruction it must become)
    let mut masks: Vec<([u8; 16], &str)> = Vec::new();
    for width in [4usize, 2, 1] {
        for _ in 0..12 {
            let lanes = 16 / width;
            let mut mask = [0u8; 16];
            for i in 0..lanes {
                let pick = next(32 / width as u64) as usize;
                for j in 0..width {
                    mask[i * width + j] = (pick * width + j) as u8;
                }
            }
            let kind = match width {
                4 => "V128Shuffle32To",
                // A random 16-bit mask whose pairs happen to form 32-bit lanes is a
                // 32-bit shuffle.
                2 if mask.chunks(4).all(|c| c[0] % 4 == 0 && c[2] == c[0] + 2) => "V128Shuffle32To",
                2 => "V128Shuffle16To",
                _ => "V128ShuffleTo",
            };
            masks.push((mask, kind));
        }
    }
    masks.extend([
        // Blake3's partial rot16, an interleave and a broadcast, as LLVM emits them.
        (
            [2, 3, 0, 1, 6, 7, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15],
            "V128Shuffle16To",
        ),
        (
            [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23],
            "V128ShuffleTo",
        ),
        (
            [
                12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15,
            ],
            "V128Shuffle32To",
        ),
        (
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
            "V128ShuffleTo",
        ),
        // Rotations of every lane by whole bytes: BLAKE3's rot16 and rot8 (left by 16 and 24
        // bits), the same from the second operand, a 64-bit lane rotation by 3 bytes, and
        // near misses (one lane rotated otherwise, bytes from both operands).
        (
            [2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13],
            "V128Rotl32Imm { dst: 4, lhs: 0, amount: 16 }",
        ),
        (
            [1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12],
            "V128Rotl32Imm { dst: 4, lhs: 0, amount: 24 }",
        ),
        (
            [
                19, 16, 17, 18, 23, 20, 21, 22, 27, 24, 25, 26, 31, 28, 29, 30,
            ],
            "V128Rotl32Imm { dst: 4, lhs: 2, amount: 8 }",
        ),
        (
            [5, 6, 7, 0, 1, 2, 3, 4, 13, 14, 15, 8, 9, 10, 11, 12],
            "V128Rotl64Imm { dst: 4, lhs: 0, amount: 24 }",
        ),
        (
            [1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 14, 15, 12, 13],
            "V128ShuffleTo",
        ),
        (
            [1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 29, 30, 31, 28],
            "V128ShuffleTo",
        ),
    ]);
    let mut wat = String::from("(module\n");
    for (k, (mask, _)) in masks.iter().enumerate() {
        let m: Vec<String> = mask.iter().map(|b| b.to_string()).collect();
        wat += &format!(
            "(func (export \"s{k}\") (param v128 v128) (result v128)
               (i8x16.shuffle {} (local.get 0) (local.get 1)))
             (func (export \"t{k}\") (param v128) (result v128)
               (i8x16.shuffle {} (local.get 0) (local.get 0)))
             (func (export \"u{k}\") (param v128 v128) (result v128)
               (local.set 1 (i8x16.shuffle {} (local.get 0) (local.get 1)))
               (local.get 1))\n",
            m.join(" "),
            m.join(" "),
            m.join(" ")
        );
    }
    wat += ")";
    let (mut store, inst) = instance(&wat);
    let a: [u8; 16] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let b: [u8; 16] = std::array::from_fn(|i| (i as u8).wrapping_mul(91).wrapping_add(200));
    let v128 = |bytes: &[u8; 16]| Val::V128(u128::from_le_bytes(*bytes));
    for (k, (mask, kind)) in masks.iter().enumerate() {
        assert_uses(&wat, 3 * k, kind);
        let kind_name = kind.split(' ').next().unwrap();
        let into_local = internal_code(&wat, 3 * k + 2);
        // The shuffle writes local 1 (slots 2 and 3) itself; the one copy left is the
        // return's.
        assert!(
            into_local.contains(kind_name)
                && into_local.contains("dst: 2,")
                && into_local.matches("Copy128").count() == 1,
            "{into_local}"
        );
        let both: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        let twice: Vec<u8> = a.iter().chain(a.iter()).copied().collect();
        let expect = |src: &[u8]| {
            Val::V128(u128::from_le_bytes(std::array::from_fn(|i| {
                src[mask[i] as usize]
            })))
        };
        let got = call(&mut store, inst, &format!("s{k}"), &[v128(&a), v128(&b)]).unwrap();
        assert_eq!(got[0], expect(&both), "mask {mask:?} ({kind})");
        let got = call(&mut store, inst, &format!("t{k}"), &[v128(&a)]).unwrap();
        assert_eq!(
            got[0],
            expect(&twice),
            "mask {mask:?} ({kind}), one operand"
        );
        let got = call(&mut store, inst, &format!("u{k}"), &[v128(&a), v128(&b)]).unwrap();
        assert_eq!(
            got[0],
            expect(&both),
            "mask {mask:?} ({kind}), into a local"
        );
    }
}

/// The word-at-a-time "has a zero byte" test, `(x + C) & ~x & M` under a branch, runs as
/// one `BrZeroByte*` in the shapes compilers emit (either order of the add and the xor,
/// of the `and`'s operands, branch on zero or nonzero, 8- and 16-bit lanes), and not when
/// a step is something else or its result is kept in a local; every shape answers as the
/// Rust expression does.
#[test]
fn zero_byte_tests_fuse_with_their_branch_and_agree_with_rust() {
    // (export, body computing the masked value from $x (and $y), fused kind or "")
    let shapes: [(&str, &str, &str); 8] = [
        (
            "xor_add",
            "(i32.and (i32.xor (local.get $x) (i32.const -1)) (i32.add (local.get $x) (i32.const -16843009)))",
            "BrZeroByte",
        ),
        (
            "add_xor",
            "(i32.and (i32.add (local.get $x) (i32.const -16843009)) (i32.xor (local.get $x) (i32.const -1)))",
            "BrZeroByte",
        ),
        (
            "swapped",
            "(i32.and (i32.add (local.get $x) (i32.const -65537)) (i32.xor (i32.const -1) (local.get $x)))",
            "BrZeroByte",
        ),
        (
            "not_a_not",
            "(i32.and (i32.xor (local.get $x) (i32.const 0x7fffffff)) (i32.add (local.get $x) (i32.const -16843009)))",
            "",
        ),
        (
            "other_value",
            "(i32.and (i32.xor (local.get $x) (i32.const -1)) (i32.add (local.get $y) (i32.const -16843009)))",
            "",
        ),
        (
            "kept",
            "(i32.and (local.tee $t (i32.xor (local.get $x) (i32.const -1))) (i32.add (local.get $x) (i32.const -16843009)))",
            "",
        ),
        (
            "add_of_not",
            "(i32.and (local.tee $t (i32.xor (local.get $x) (i32.const -1))) (i32.add (local.get $t) (i32.const -16843009)))",
            "",
        ),
        (
            "or",
            "(i32.or (i32.xor (local.get $x) (i32.const -1)) (i32.add (local.get $x) (i32.const -16843009)))",
            "",
        ),
    ];
    let mut wat = String::from("(module\n");
    for (name, value, _) in shapes {
        let mask = if name == "swapped" {
            "0x80008000"
        } else {
            "0x80808080"
        };
        // `eqz`: branch when the masked value is zero; `nez`: when it is not. Both return
        // 1 when it is not zero, plus $t to see a kept step's value.
        wat += &format!(
            "(func (export \"{name} eqz\") (param $x i32) (param $y i32) (result i32) (local $t i32)
               (block $zero
                 (br_if $zero (i32.eqz (i32.and {value} (i32.const {mask}))))
                 (return (i32.add (i32.const 1) (local.get $t))))
               (local.get $t))
             (func (export \"{name} nez\") (param $x i32) (param $y i32) (result i32) (local $t i32)
               (block $nonzero
                 (br_if $nonzero (i32.and {value} (i32.const {mask})))
                 (return (local.get $t)))
               (i32.add (i32.const 1) (local.get $t)))\n"
        );
    }
    wat += ")";
    for (k, (name, _, kind)) in shapes.iter().enumerate() {
        for f in [2 * k, 2 * k + 1] {
            let code = internal_code(&wat, f);
            assert_eq!(
                code.contains("BrZeroByte"),
                !kind.is_empty(),
                "{name}: {code}"
            );
            if !kind.is_empty() {
                // The xor, the add and both ands are gone.
                assert!(
                    !code.contains("I32XorImm") && !code.contains("I32And"),
                    "{code}"
                );
            }
        }
    }
    let (mut store, inst) = instance(&wat);
    let words = [
        0u32,
        1,
        0x0101_0101,
        0x8080_8080,
        0x7f7f_7f7f,
        0x6162_6364,
        0x6100_6364,
        0x0061_6263,
        0x6162_6300,
        0xff00_ffff,
        0x0100_0000,
        u32::MAX,
        0x8000_0000,
        0x0080_0080,
        0x00ff_0100,
        0x0001_0000,
        0x2020_2020,
    ]
    .map(|w| w as i32);
    for (name, _, _) in shapes {
        for &x in &words {
            for &y in &[x, 0x6162_6364] {
                let (ux, uy) = (x as u32, y as u32);
                let t = !ux;
                let value = match name {
                    "xor_add" | "add_xor" | "kept" => ux.wrapping_sub(0x0101_0101) & !ux,
                    "swapped" => ux.wrapping_sub(0x0001_0001) & !ux,
                    "not_a_not" => (ux ^ 0x7fff_ffff) & ux.wrapping_sub(0x0101_0101),
                    "other_value" => !ux & uy.wrapping_sub(0x0101_0101),
                    "add_of_not" => t & t.wrapping_sub(0x0101_0101),
                    _ => !ux | ux.wrapping_sub(0x0101_0101),
                };
                let mask = if name == "swapped" {
                    0x8000_8000
                } else {
                    0x8080_8080
                };
                let kept = if matches!(name, "kept" | "add_of_not") {
                    t as i32
                } else {
                    0
                };
                let want = i32::from(value & mask != 0).wrapping_add(kept);
                for test in ["eqz", "nez"] {
                    let got = call_i32(&mut store, inst, &format!("{name} {test}"), &[x, y]);
                    assert_eq!(got, want, "{name} {test} x={x:#x} y={y:#x}");
                }
            }
        }
    }
}

/// `v128.bitselect` reads its three operands where they are and writes a slot of its own
/// (`V128BitselectTo`): no `Copy128` of the first operand before it, none after it for a
/// `local.set`, also when that local is an operand (read before written), and the same
/// bits as `(a & c) | (b & !c)` with operands from locals, constants and other results.
#[test]
fn bitselect_reads_its_operands_in_place_and_agrees_with_the_bit_model() {
    let wat = r#"(module
      (func (export "plain") (param v128 v128 v128) (result v128)
        (v128.bitselect (local.get 0) (local.get 1) (local.get 2)))
      (func (export "into_a") (param v128 v128 v128) (result v128)
        (local.set 0 (v128.bitselect (local.get 0) (local.get 1) (local.get 2)))
        (local.get 0))
      (func (export "into_mask") (param v128 v128 v128) (result v128)
        (local.set 2 (v128.bitselect (local.get 0) (local.get 1) (local.get 2)))
        (local.get 2))
      (func (export "consts") (param v128) (result v128)
        (v128.bitselect (v128.const i32x4 -1 0 0x1234 7) (local.get 0)
                        (v128.const i32x4 0xff00ff00 -1 0 0x0f0f0f0f)))
      (func (export "nested") (param v128 v128 v128) (result v128)
        (v128.bitselect (v128.xor (local.get 0) (local.get 1)) (local.get 0)
                        (v128.bitselect (local.get 2) (local.get 1) (local.get 0)))))"#;
    for func in 0..5 {
        assert_uses(wat, func, "V128BitselectTo");
    }
    // Only the return's copy is left, and none when the local is the result's cells
    // (parameter 0) already.
    for (func, copies) in [(1, 0), (2, 1)] {
        let code = internal_code(wat, func);
        assert_eq!(code.matches("Copy128").count(), copies, "{code}");
    }
    let (mut store, inst) = instance(wat);
    let select = |a: u128, b: u128, c: u128| (a & c) | (b & !c);
    let (x, y, m) = (
        0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128,
        0xdead_beef_0bad_f00d_cafe_babe_1234_5678u128,
        0xffff_0000_f0f0_0f0f_00ff_ff00_8001_7ffeu128,
    );
    let v = |args: &[u128]| -> Vec<Val> { args.iter().map(|&a| Val::V128(a)).collect() };
    let run = |store: &mut _, name: &str, args: &[u128]| match call(store, inst, name, &v(args))
        .unwrap()[0]
    {
        Val::V128(r) => r,
        ref other => panic!("{name} returned {other:?}"),
    };
    for (a, b, c) in [
        (x, y, m),
        (y, x, !m),
        (x, x, m),
        (0, u128::MAX, x),
        (m, y, 0),
    ] {
        assert_eq!(run(&mut store, "plain", &[a, b, c]), select(a, b, c));
        assert_eq!(run(&mut store, "into_a", &[a, b, c]), select(a, b, c));
        assert_eq!(run(&mut store, "into_mask", &[a, b, c]), select(a, b, c));
        assert_eq!(
            run(&mut store, "nested", &[a, b, c]),
            select(a ^ b, a, select(c, b, a))
        );
        let lanes = |l: [u32; 4]| l.iter().rev().fold(0u128, |v, &x| v << 32 | u128::from(x));
        let first = lanes([u32::MAX, 0, 0x1234, 7]);
        let mask = lanes([0xff00_ff00, u32::MAX, 0, 0x0f0f_0f0f]);
        assert_eq!(run(&mut store, "consts", &[a]), select(first, a, mask));
    }
}

/// A binary SIMD operator with a constant right operand reads the constant from the
/// module's pool (`V128BinaryConst`, no `Const128` dispatched first) and agrees with the
/// same operator on the value passed in: over operators of every kind, several functions
/// (each function's constants move into the module's pool at other indices), and the
/// result into a local.
#[test]
fn binary_simd_operators_with_a_constant_operand_agree_with_the_unfused_ones() {
    let ops = [
        "v128.and",
        "v128.andnot",
        "v128.or",
        "v128.xor",
        "i8x16.add",
        "i8x16.sub_sat_s",
        "i8x16.min_u",
        "i8x16.eq",
        "i8x16.swizzle",
        "i8x16.narrow_i16x8_s",
        "i16x8.mul",
        "i16x8.q15mulr_sat_s",
        "i16x8.extmul_low_i8x16_u",
        "i16x8.gt_s",
        "i32x4.add",
        "i32x4.sub",
        "i32x4.mul",
        "i32x4.min_s",
        "i32x4.dot_i16x8_s",
        "i32x4.le_u",
        "i64x2.add",
        "i64x2.mul",
        "i64x2.lt_s",
        "f32x4.add",
        "f32x4.sub",
        "f32x4.mul",
        "f32x4.div",
        "f32x4.min",
        "f32x4.pmax",
        "f32x4.lt",
        "f64x2.add",
        "f64x2.mul",
        "f64x2.max",
        "f64x2.ge",
    ];
    // A constant of its own for each operator, so a constant read at an index not moved
    // with its function's pool shows.
    let constant = |k: usize| 0x0011_ff80_7fff_8000_c0a0_0001_3f80_0000u128 + (k as u128) * 0x0101;
    let mut wat = String::from("(module\n");
    for (k, op) in ops.iter().enumerate() {
        let constant = format!(
            "i64x2 {} {}",
            constant(k) as u64,
            (constant(k) >> 64) as u64
        );
        wat += &format!(
            "(func (export \"{op}\") (param v128 v128) (result v128)
               ({op} (local.get 0) (local.get 1)))
             (func (export \"{op} const\") (param v128) (result v128)
               ({op} (local.get 0) (v128.const {constant})))
             (func (export \"{op} into\") (param v128) (result v128) (local v128)
               (local.set 1 ({op} (local.get 0) (v128.const {constant})))
               (local.get 1))\n"
        );
    }
    wat += ")";
    let (mut store, inst) = instance(&wat);
    for (k, op) in ops.iter().enumerate() {
        let code = internal_code(&wat, 3 * k + 1);
        assert!(
            code.contains("V128BinaryConst") && !code.contains("Const128"),
            "{op}: {code}"
        );
        for x in [
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128,
            0x4049_0fdb_bf80_0000_0000_0000_7fc0_0000,
            constant(k),
        ] {
            let c = Val::V128(constant(k));
            let want = call(&mut store, inst, op, &[Val::V128(x), c]).unwrap();
            for name in [format!("{op} const"), format!("{op} into")] {
                let got = call(&mut store, inst, &name, &[Val::V128(x)]).unwrap();
                assert_eq!(got, want, "{name} {x:#x}");
            }
        }
    }
}

/// A v128 operation whose result goes to a local writes the local directly (no
/// `Copy128`), and reads its operands before writing, also when the local is one of them.
#[test]
fn v128_results_go_straight_into_locals() {
    let wat = r#"(module
      (func (export "f") (param v128 v128) (result v128) (local v128)
        (local.set 2 (i32x4.add (local.get 0) (local.get 1)))
        (local.set 2 (i32x4.shl (local.get 2) (i32.const 3)))
        (local.set 0 (v128.xor (local.get 0) (local.get 2)))
        (local.set 1 (i8x16.splat (i32.const 7)))
        (i32x4.sub (local.get 0) (local.get 1))))"#;
    let code = internal_code(wat, 0);
    // (Only the returned vector is moved, into the result cells.)
    let sets = code.split("I32x4Sub").next().unwrap();
    assert!(!sets.contains("Copy128"), "{code}");
    let (mut store, inst) = instance(wat);
    let (x, y) = (
        0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10u128,
        0xf0e0_d0c0_b0a0_9080_7060_5040_3020_1000u128,
    );
    let lanes = |v: u128| -> [u32; 4] { std::array::from_fn(|i| (v >> (32 * i)) as u32) };
    let join = |l: [u32; 4]| -> u128 { (0..4).map(|i| (l[i] as u128) << (32 * i)).sum() };
    let (lx, ly) = (lanes(x), lanes(y));
    let sum = join(std::array::from_fn(|i| lx[i].wrapping_add(ly[i])));
    let shifted = join(lanes(sum).map(|l| l << 3));
    let x2 = x ^ shifted;
    let sevens = u128::from_le_bytes([7; 16]);
    let (l2, l7) = (lanes(x2), lanes(sevens));
    let expect = join(std::array::from_fn(|i| l2[i].wrapping_sub(l7[i])));
    let got = call(&mut store, inst, "f", &[Val::V128(x), Val::V128(y)]).unwrap();
    assert_eq!(got[0], Val::V128(expect));
}

/// `(x + C) <u N` and its `le_u`, `gt_u`, `ge_u` forms are one instruction (`I32AddLtU`,
/// `I32AddGeU`), and one branch under `br_if` or `if` (`BrAddLtU`, `BrAddGeU`); `le_u`
/// and `gt_u` by `u32::MAX` are left alone. Every form agrees with Rust, at the edges of
/// the range and where the add wraps.
#[test]
fn range_checks_agree_with_rust() {
    type Model = fn(u32, u32) -> bool;
    let cmps: [(&str, Model); 4] = [
        ("lt_u", |v, n| v < n),
        ("le_u", |v, n| v <= n),
        ("gt_u", |v, n| v > n),
        ("ge_u", |v, n| v >= n),
    ];
    let cases: [(i32, i32); 5] = [(-97, 26), (-48, 10), (5, 0), (0x7fff_fff0, -16), (-1, -1)];
    let mut wat = String::from("(module\n");
    for (name, _) in cmps {
        for (c, n) in cases {
            let check =
                format!("(i32.{name} (i32.add (local.get 0) (i32.const {c})) (i32.const {n}))");
            wat += &format!(
                "(func (param i32) (result i32) {check})
                 (func (param i32) (result i32) (block (br_if 0 {check}) (return (i32.const 7))) (i32.const 9))
                 (func (param i32) (result i32) (if (result i32) {check} (then (i32.const 3)) (else (i32.const 4))))\n"
            );
        }
    }
    let per = cases.len() * 3;
    for k in 0..cmps.len() * per {
        wat += &format!("(export \"f{k}\" (func {k}))\n");
    }
    wat += ")";
    let (mut store, inst) = instance(&wat);
    for (i, (name, model)) in cmps.iter().enumerate() {
        for (j, &(c, n)) in cases.iter().enumerate() {
            let base = i * per + 3 * j;
            let unfused = n == -1 && (*name == "le_u" || *name == "gt_u");
            let (value, branch) = if unfused {
                ("I32", "Br")
            } else {
                ("I32AddLtU|I32AddGeU", "BrAddLtU|BrAddGeU")
            };
            let uses = |k: usize, any: &str| {
                let code = internal_code(&wat, k);
                let found = any.split('|').any(|f| code.contains(f));
                assert!(found, "{name} {c} {n}: function {k} uses {any}:\n{code}");
            };
            uses(base, value);
            uses(base + 1, branch);
            uses(base + 2, branch);
            for x in [
                0u32,
                4,
                5,
                96,
                97,
                122,
                123,
                47,
                48,
                57,
                58,
                15,
                16,
                17,
                u32::MAX,
                0x8000_0010,
            ] {
                let t = model(x.wrapping_add(c as u32), n as u32);
                let what = format!("{name}(x + {c}, {n}) at x = {x}");
                let mut got = |k: usize| call_i32(&mut store, inst, &format!("f{k}"), &[x as i32]);
                assert_eq!(got(base), t as i32, "{what}");
                assert_eq!(got(base + 1), if t { 9 } else { 7 }, "{what}, br_if");
                assert_eq!(got(base + 2), if t { 3 } else { 4 }, "{what}, if");
            }
        }
    }
}

/// A callee's declared locals start at zero even where an earlier call at the same frame
/// base left values behind, for every count of locals (stores for a few, a fill beyond).
#[test]
fn declared_locals_start_at_zero_in_reused_frames() {
    let mut wat = String::from(
        "(module
           (func $dirty (local i64 i64 i64 i64 i64 i64 i64 i64)
             (local.set 0 (i64.const -1)) (local.set 1 (i64.const -1))
             (local.set 2 (i64.const -1)) (local.set 3 (i64.const -1))
             (local.set 4 (i64.const -1)) (local.set 5 (i64.const -1))
             (local.set 6 (i64.const -1)) (local.set 7 (i64.const -1)))\n",
    );
    for n in 1..=7 {
        let locals = "i64 ".repeat(n);
        let sum: String = (1..=n)
            .map(|i| format!("(i64.or (local.get {i})"))
            .collect::<String>()
            + "(i64.const 0)"
            + &")".repeat(n);
        wat += &format!(
            "(func $clean{n} (param i32) (result i64) (local {locals}) {sum})
             (func (export \"f{n}\") (result i64) (call $dirty) (call $clean{n} (i32.const 0)))\n"
        );
    }
    wat += ")";
    let (mut store, inst) = instance(&wat);
    for n in 1..=7 {
        let got = call(&mut store, inst, &format!("f{n}"), &[]).unwrap();
        assert_eq!(got[0], Val::I64(0), "{n} locals");
    }
}

/// Pointer walks in both directions, through every fused step form, with the loop
/// bounds in parameters so nothing folds.
const POINTER_WALKS: &str = r#"(module
  (memory (export "memory") 1)
  (data (i32.const 0) "\01\00\00\00\02\00\00\00\03\00\00\00\04\00\00\00\05\00\00\00")
  (data (i32.const 100) "\0a\14\1e\28\32")
  ;; x = *p; p += 4 (I32LoadPostStep): the sum of n words from p.
  (func (export "sum_post") (param $p i32) (param $n i32) (result i32) (local $s i32) (local $x i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $x (i32.load (local.get $p)))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (local.set $s (i32.add (local.get $s) (local.get $x)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $s))
  ;; p -= 4; x = *p (I32LoadPreStep): the same sum walking down from the end.
  (func (export "sum_pre") (param $end i32) (param $n i32) (result i32) (local $s i32) (local $x i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $end (i32.add (local.get $end) (i32.const -4)))
      (local.set $x (i32.load offset=0 (local.get $end)))
      (local.set $s (i32.add (local.get $s) (local.get $x)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $s))
  ;; Bytes, both orders: a weighted sum so the order of reads shows.
  (func (export "bytes") (param $p i32) (param $n i32) (result i32) (local $s i32) (local $x i32) (local $q i32)
    (local.set $q (i32.add (local.get $p) (local.get $n)))
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $x (i32.load8_u (local.get $p)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (local.set $s (i32.add (i32.mul (local.get $s) (i32.const 3)) (local.get $x)))
      (local.set $q (i32.add (local.get $q) (i32.const -1)))
      (local.set $x (i32.load8_u (local.get $q)))
      (local.set $s (i32.add (i32.mul (local.get $s) (i32.const 5)) (local.get $x)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $s))
  ;; *p = v; p += 4 and *p = v; p += 1 (I32StorePostStep, I32Store8PostStep); returns p.
  (func (export "fill") (param $p i32) (param $n i32) (param $v i32) (result i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (i32.store (local.get $p) (local.get $v))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (i32.store8 (local.get $p) (local.get $n))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $p))
  ;; The address register is also the loaded value or the stored one.
  (func (export "chase_post") (param $p i32) (result i32)
    (local.set $p (i32.load (local.get $p)))
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (local.get $p))
  (func (export "chase_pre") (param $p i32) (result i32)
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (local.set $p (i32.load (local.get $p)))
    (local.get $p))
  (func (export "store_self") (param $p i32) (result i32)
    (i32.store (local.get $p) (local.get $p))
    (local.set $p (i32.add (local.get $p) (i32.const 8)))
    (i32.add (local.get $p) (i32.load (i32.sub (local.get $p) (i32.const 8)))))
  ;; Two adds in a row (I32AddImm2), the second reading the first's result.
  (func (export "two_adds") (param $i i32) (param $j i32) (result i32)
    (local.set $i (i32.add (local.get $i) (i32.const 7)))
    (local.set $j (i32.add (local.get $i) (i32.const -3)))
    (i32.sub (i32.mul (local.get $i) (i32.const 1000)) (local.get $j)))
  ;; The same where a step does not fit 16 bits: two plain adds.
  (func (export "wide_adds") (param $i i32) (param $j i32) (result i32)
    (local.set $i (i32.add (local.get $i) (i32.const 40000)))
    (local.set $j (i32.add (local.get $j) (i32.const 1)))
    (i32.sub (local.get $i) (local.get $j)))
  ;; A loop header between the step and the load: no fusion across it.
  (func (export "step_then_loop") (param $p i32) (param $n i32) (result i32) (local $s i32)
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (local.get $p))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $s))
  ;; Steps of an index and a pointer, then the loop test on the index: the index's add
  ;; goes into the branch (BrInc), the pointer's stays a lone add.
  (func (export "count_and_step") (param $n i32) (result i32) (local $i i32) (local $p i32)
    (loop $l
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.ne (local.get $i) (local.get $n))))
    (i32.add (local.get $p) (local.get $i)))
)"#;

#[test]
fn pointer_steps_fuse_with_loads_and_stores_and_keep_their_order() {
    let (mut store, inst) = instance(POINTER_WALKS);
    let i32s = |store: &mut Store<()>, name: &str, args: &[i32]| -> i32 {
        let args: Vec<Val> = args.iter().map(|&a| Val::I32(a)).collect();
        match call(store, inst, name, &args).unwrap()[0] {
            Val::I32(v) => v,
            ref other => panic!("{name}: {other:?}"),
        }
    };
    assert_eq!(i32s(&mut store, "sum_post", &[0, 5]), 15);
    assert_eq!(i32s(&mut store, "sum_post", &[4, 3]), 2 + 3 + 4);
    assert_eq!(i32s(&mut store, "sum_pre", &[20, 5]), 15);
    assert_eq!(i32s(&mut store, "sum_pre", &[12, 2]), 3 + 2);
    // Forward reads 10, 20, 30, 40, 50 and backward reads 50, 40, 30, 20, 10, interleaved.
    let bytes = [10, 20, 30, 40, 50];
    let mut want = 0i32;
    for k in 0..5 {
        want = want.wrapping_mul(3).wrapping_add(bytes[k]);
        want = want.wrapping_mul(5).wrapping_add(bytes[4 - k]);
    }
    assert_eq!(i32s(&mut store, "bytes", &[100, 5]), want);
    // Three records of a word and a byte from 200: p ends 15 bytes on.
    assert_eq!(i32s(&mut store, "fill", &[200, 3, -2]), 215);
    let memory = inst.get_memory(&store, "memory").expect("exported");
    let mut data = [0u8; 15];
    memory.read(&store, 200, &mut data).unwrap();
    assert_eq!(
        data,
        [254, 255, 255, 255, 3, 254, 255, 255, 255, 2, 254, 255, 255, 255, 1]
    );
    // p = *p then p += 4: word at 8 is 3.
    assert_eq!(i32s(&mut store, "chase_post", &[8]), 3 + 4);
    // p += 4 then p = *p: word at 12 is 4.
    assert_eq!(i32s(&mut store, "chase_pre", &[8]), 4);
    assert_eq!(i32s(&mut store, "store_self", &[300]), 308 + 300);
    assert_eq!(i32s(&mut store, "two_adds", &[5, 0]), 12 * 1000 - 9);
    assert_eq!(i32s(&mut store, "wide_adds", &[1, 2]), 40001 - 3);
    assert_eq!(i32s(&mut store, "step_then_loop", &[0, 2]), 4);
    assert_eq!(i32s(&mut store, "count_and_step", &[10]), 40 + 10);

    // The fused forms are the ones used (function indices in declaration order).
    assert_uses(POINTER_WALKS, 0, "I32LoadPostStep");
    assert_uses(POINTER_WALKS, 1, "I32LoadPreStep");
    assert_uses(POINTER_WALKS, 2, "I32Load8UPostStep");
    assert_uses(POINTER_WALKS, 2, "I32Load8UPreStep");
    assert_uses(POINTER_WALKS, 3, "I32StorePostStep");
    assert_uses(POINTER_WALKS, 3, "I32Store8PostStep");
    assert_uses(POINTER_WALKS, 4, "I32LoadPostStep");
    assert_uses(POINTER_WALKS, 5, "I32LoadPreStep");
    assert_uses(POINTER_WALKS, 6, "I32StorePostStep");
    assert_uses(POINTER_WALKS, 7, "I32AddImm2");
    let wide = internal_code(POINTER_WALKS, 8);
    assert!(!wide.contains("I32AddImm2"), "{wide}");
    let across = internal_code(POINTER_WALKS, 9);
    assert!(!across.contains("Step"), "{across}");
    let counted = internal_code(POINTER_WALKS, 10);
    assert!(
        counted.contains("BrInc") && !counted.contains("I32AddImm2"),
        "{counted}"
    );
}

#[test]
fn a_fused_step_load_traps_at_the_load() {
    // The load carries a distinctive offset (1234) so its position in the binary can be
    // found; a trap in the fused step-and-load points at the load, not at the add.
    let wat = r#"(module (memory 1)
      (func (export "pre") (param $p i32) (result i32)
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (i32.load offset=1234 (local.get $p)))
      (func (export "post") (param $p i32) (result i32) (local $x i32)
        (local.set $x (i32.load offset=1234 (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (i32.add (local.get $x) (local.get $p))))"#;
    assert_uses(wat, 0, "I32LoadPreStep");
    assert_uses(wat, 1, "I32LoadPostStep");
    let binary = wat::parse_str(wat).unwrap();
    // i32.load, align 2, offset 1234 (LEB 0xd2 0x09).
    let loads: Vec<usize> = binary
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == [0x28, 0x02, 0xd2, 0x09])
        .map(|(i, _)| i)
        .collect();
    assert_eq!(loads.len(), 2);
    let (mut store, inst) = instance(wat);
    for (name, load_at) in [("pre", loads[0]), ("post", loads[1])] {
        let err = call(&mut store, inst, name, &[Val::I32(65536 - 1234 - 2)]).unwrap_err();
        let trap = err.as_trap().expect("trap");
        assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds, "{name}");
        assert_eq!(trap.backtrace[0].offset, Some(load_at as u32), "{name}");
    }
    // In bounds, the pre-step reads 4 bytes further than the post-step.
    assert_eq!(
        call(&mut store, inst, "post", &[Val::I32(65536 - 1234 - 4)]).unwrap(),
        vec![Val::I32(65536 - 1234)]
    );
}

#[test]
fn flag_tests_branch_on_the_masked_bits() {
    // `br_if (x & C)` and `if (x & C)` (which branches on the opposite), each also with
    // the mask's result needed afterwards (no fusion then).
    let wat = r#"(module
      (func (export "br_if") (param $x i32) (result i32)
        (block $set
          (br_if $set (i32.and (local.get $x) (i32.const 0x90)))
          (return (i32.const 0)))
        (i32.const 1))
      (func (export "if") (param $x i32) (result i32)
        (if (result i32) (i32.and (local.get $x) (i32.const 0x80000001))
          (then (i32.const 7)) (else (i32.const 9))))
      (func (export "kept") (param $x i32) (result i32) (local $m i32)
        (if (local.tee $m (i32.and (local.get $x) (i32.const 6)))
          (then (return (local.get $m))))
        (i32.const -1))
      ;; The same tests through i32.eqz: `if (!(x & C))` and `br_if !(x & C)`.
      (func (export "if_not") (param $x i32) (result i32)
        (if (result i32) (i32.eqz (i32.and (local.get $x) (i32.const 0x90)))
          (then (i32.const 0)) (else (i32.const 1))))
      (func (export "br_unless") (param $x i32) (result i32)
        (block $clear
          (br_if $clear (i32.eqz (i32.and (local.get $x) (i32.const 0x80000001))))
          (return (i32.const 7)))
        (i32.const 9)))"#;
    assert_uses(wat, 0, "BrI32AndImmNez");
    assert_uses(wat, 1, "BrI32AndImmEqz");
    let kept = internal_code(wat, 2);
    assert!(!kept.contains("BrI32AndImm"), "{kept}");
    assert_uses(wat, 3, "BrI32AndImmNez");
    assert_uses(wat, 4, "BrI32AndImmEqz");
    assert!(!internal_code(wat, 3).contains("I32AndImm("));
    let (mut store, inst) = instance(wat);
    for x in [
        0,
        1,
        0x10,
        0x80,
        0x90,
        0x6f,
        -1,
        i32::MIN,
        i32::MAX,
        6,
        4,
        9,
    ] {
        let got = |store: &mut Store<()>, name: &str| call_i32(store, inst, name, &[x]);
        assert_eq!(
            got(&mut store, "br_if"),
            (x & 0x90 != 0) as i32,
            "br_if {x}"
        );
        let want_if = if x & 0x8000_0001u32 as i32 != 0 { 7 } else { 9 };
        assert_eq!(got(&mut store, "if"), want_if, "if {x}");
        let want_kept = if x & 6 != 0 { x & 6 } else { -1 };
        assert_eq!(got(&mut store, "kept"), want_kept, "kept {x}");
        assert_eq!(
            got(&mut store, "if_not"),
            (x & 0x90 != 0) as i32,
            "if_not {x}"
        );
        assert_eq!(got(&mut store, "br_unless"), want_if, "br_unless {x}");
    }
}

#[test]
fn switch_bit_tests_become_one_branch() {
    // `(1 << x) & mask` tested by br_if, by if, and through i32.eqz; then the cases that
    // must not fuse: the shift kept in a local, and the 1 held in a local.
    let wat = r#"(module
      (func (export "br_if") (param $x i32) (result i32)
        (block $hit
          (br_if $hit (i32.and (i32.shl (i32.const 1) (local.get $x)) (i32.const 0x800013)))
          (return (i32.const 0)))
        (i32.const 1))
      (func (export "if") (param $x i32) (result i32)
        (if (result i32) (i32.and (i32.shl (i32.const 1) (local.get $x)) (i32.const 0x80000005))
          (then (i32.const 1)) (else (i32.const 0))))
      (func (export "if_not") (param $x i32) (result i32)
        (if (result i32) (i32.eqz (i32.and (i32.shl (i32.const 1) (local.get $x)) (i32.const 0x6)))
          (then (i32.const 0)) (else (i32.const 1))))
      (func (export "kept_shift") (param $x i32) (result i32) (local $b i32)
        (if (i32.and (local.tee $b (i32.shl (i32.const 1) (local.get $x))) (i32.const 0x13))
          (then (return (local.get $b))))
        (i32.const 0))
      (func (export "one_in_local") (param $x i32) (result i32) (local $one i32)
        (local.set $one (i32.const 1))
        (if (i32.and (i32.shl (local.get $one) (local.get $x)) (i32.const 0x13))
          (then (return (local.get $one))))
        (i32.const 0)))"#;
    assert_uses(wat, 0, "BrBitNez");
    assert_uses(wat, 1, "BrBitEqz");
    assert_uses(wat, 2, "BrBitNez");
    for k in [0, 1, 2] {
        let code = internal_code(wat, k);
        assert!(
            !code.contains("I32Shl") && !code.contains("I32AndImm"),
            "{code}"
        );
    }
    for k in [3, 4] {
        let code = internal_code(wat, k);
        assert!(!code.contains("BrBit"), "{code}");
    }
    let (mut store, inst) = instance(wat);
    let bit = |mask: u32, x: i32| (1u32.wrapping_shl(x as u32) & mask != 0) as i32;
    for x in [0, 1, 2, 4, 5, 7, 23, 24, 31, 32, 33, 36, 55, -1, i32::MIN] {
        let got = |store: &mut Store<()>, name: &str| call_i32(store, inst, name, &[x]);
        assert_eq!(got(&mut store, "br_if"), bit(0x800013, x), "br_if {x}");
        assert_eq!(got(&mut store, "if"), bit(0x8000_0005, x), "if {x}");
        assert_eq!(got(&mut store, "if_not"), bit(0x6, x), "if_not {x}");
        let shifted = 1u32.wrapping_shl(x as u32) as i32;
        let kept = if bit(0x13, x) == 1 { shifted } else { 0 };
        assert_eq!(got(&mut store, "kept_shift"), kept, "kept_shift {x}");
        assert_eq!(
            got(&mut store, "one_in_local"),
            bit(0x13, x),
            "one_in_local {x}"
        );
    }
}

#[test]
fn an_add_and_the_copy_after_it_run_as_one_in_order() {
    // An interpreter's `old = pc; pc = old + 1`, and an add followed by an unrelated copy.
    let wat = r#"(module
      (func (export "bump") (param $pc i32) (result i32) (local $old i32)
        (local.set $pc (i32.add (local.tee $old (local.get $pc)) (i32.const 1)))
        (i32.add (i32.mul (local.get $pc) (i32.const 100)) (local.get $old)))
      (func (export "swap_add") (param $a i32) (param $b i32) (result i32) (local $t i32)
        (local.set $t (i32.add (local.get $a) (i32.const 5)))
        (local.set $a (local.get $b))
        (i32.sub (i32.mul (local.get $a) (i32.const 1000)) (local.get $t))))"#;
    // `t = a + 5; a = b`: the copy reads `b` after the add wrote `t`.
    assert_uses(wat, 1, "I32AddImmCopy");
    let (mut store, inst) = instance(wat);
    for pc in [0, 1, 41, -1, i32::MAX] {
        let want = pc.wrapping_add(1).wrapping_mul(100).wrapping_add(pc);
        assert_eq!(call_i32(&mut store, inst, "bump", &[pc]), want, "bump {pc}");
        let want = 7i32.wrapping_mul(1000).wrapping_sub(pc.wrapping_add(5));
        assert_eq!(
            call_i32(&mut store, inst, "swap_add", &[pc, 7]),
            want,
            "swap {pc}"
        );
    }
}

#[test]
fn a_constant_on_the_left_of_sub_or_shl_needs_no_separate_constant() {
    let wat = r#"(module
      (func (export "sub") (param $x i32) (result i32) (i32.sub (i32.const 10) (local.get $x)))
      (func (export "shl") (param $x i32) (result i32) (i32.shl (i32.const 3) (local.get $x))))"#;
    assert_uses(wat, 0, "I32SubRevImm");
    assert_uses(wat, 1, "I32ShlRevImm");
    for k in [0, 1] {
        let code = internal_code(wat, k);
        assert!(!code.contains("Const32"), "{code}");
    }
    let (mut store, inst) = instance(wat);
    for x in [0, 1, 10, 11, 31, 32, 33, -1, i32::MIN, i32::MAX] {
        assert_eq!(
            call_i32(&mut store, inst, "sub", &[x]),
            10i32.wrapping_sub(x),
            "{x}"
        );
        let want = 3i32.wrapping_shl(x as u32);
        assert_eq!(call_i32(&mut store, inst, "shl", &[x]), want, "{x}");
    }
}

#[test]
fn a_byte_table_lookup_and_its_branch_run_as_one() {
    // `if (class[c])` with the table at 100: bytes 100.. are 0, 7, 0, 9.
    let wat = r#"(module (memory 1)
      (data (i32.const 100) "\00\07\00\09")
      (func (export "if") (param $c i32) (result i32)
        (if (result i32) (i32.load8_u (i32.add (local.get $c) (i32.const 100)))
          (then (i32.const 1)) (else (i32.const 0))))
      (func (export "br_if") (param $c i32) (result i32)
        (block $set
          (br_if $set (i32.load8_u (i32.add (local.get $c) (i32.const 100))))
          (return (i32.const 0)))
        (i32.const 1))
      ;; With an offset as well: not this form, the same answers.
      (func (export "offset") (param $c i32) (result i32)
        (if (result i32) (i32.load8_u offset=50 (i32.add (local.get $c) (i32.const 50)))
          (then (i32.const 1)) (else (i32.const 0)))))"#;
    assert_uses(wat, 0, "BrLoad8UDispEqz");
    assert_uses(wat, 1, "BrLoad8UDispNez");
    assert!(!internal_code(wat, 2).contains("BrLoad8UDisp"));
    let (mut store, inst) = instance(wat);
    for (c, want) in [(0, 0), (1, 1), (2, 0), (3, 1), (4, 0), (-99, 0), (-100, 0)] {
        for name in ["if", "br_if"] {
            assert_eq!(call_i32(&mut store, inst, name, &[c]), want, "{name} {c}");
        }
        if c >= 0 {
            assert_eq!(
                call_i32(&mut store, inst, "offset", &[c]),
                want,
                "offset {c}"
            );
        }
    }
    // `c + 100` wraps at 32 bits (-99 reads address 1, -97 address 3); past the memory
    // it traps, as the offset does past 4 GiB.
    assert_eq!(call_i32(&mut store, inst, "if", &[-97]), 0);
    assert_eq!(call_i32(&mut store, inst, "br_if", &[-1]), 0);
    let err = call(&mut store, inst, "offset", &[Val::I32(-99)]).unwrap_err();
    assert_eq!(
        err.as_trap().expect("trap").kind,
        TrapKind::MemoryOutOfBounds
    );
    let err = call(&mut store, inst, "br_if", &[Val::I32(65536 - 100)]).unwrap_err();
    assert_eq!(
        err.as_trap().expect("trap").kind,
        TrapKind::MemoryOutOfBounds
    );
}

#[test]
fn storing_x_plus_c_adds_in_the_store() {
    let wat = r#"(module (memory (export "memory") 1)
      (func (export "bump") (param $p i32) (param $x i32)
        (i32.store offset=8 (local.get $p) (i32.add (local.get $x) (i32.const 5))))
      ;; The sum is also kept: stored from its local instead.
      (func (export "kept") (param $p i32) (param $x i32) (result i32) (local $y i32)
        (i32.store (local.get $p) (local.tee $y (i32.add (local.get $x) (i32.const -3))))
        (local.get $y)))"#;
    assert_uses(wat, 0, "I32StoreAddImm");
    assert!(!internal_code(wat, 1).contains("I32StoreAddImm"));
    let (mut store, inst) = instance(wat);
    let memory = inst.get_memory(&store, "memory").expect("exported");
    let word = |store: &Store<()>, at: usize| {
        let mut b = [0u8; 4];
        memory.read(store, at, &mut b).unwrap();
        i32::from_le_bytes(b)
    };
    for (p, x) in [(0, 1), (100, -5), (200, i32::MAX), (300, i32::MIN)] {
        call(&mut store, inst, "bump", &[Val::I32(p), Val::I32(x)]).unwrap();
        assert_eq!(
            word(&store, p as usize + 8),
            x.wrapping_add(5),
            "bump {p} {x}"
        );
        assert_eq!(
            call_i32(&mut store, inst, "kept", &[p, x]),
            x.wrapping_sub(3)
        );
        assert_eq!(word(&store, p as usize), x.wrapping_sub(3), "kept {p} {x}");
    }
    let err = call(
        &mut store,
        inst,
        "bump",
        &[Val::I32(65536 - 10), Val::I32(0)],
    )
    .unwrap_err();
    assert_eq!(
        err.as_trap().expect("trap").kind,
        TrapKind::MemoryOutOfBounds
    );
}

#[test]
fn a_chain_of_two_adds_is_one_three_input_add() {
    let wat = r#"(module
      (func (export "left") (param $a i32) (param $b i32) (param $c i32) (result i32)
        (i32.add (i32.add (local.get $a) (local.get $b)) (local.get $c)))
      (func (export "right") (param $a i32) (param $b i32) (param $c i32) (result i32)
        (i32.add (local.get $c) (i32.add (local.get $a) (local.get $b))))
      ;; Into a local, then read with the old value of $a still needed.
      (func (export "round") (param $a i32) (param $b i32) (param $c i32) (result i32)
        (local $old i32)
        (local.set $old (local.get $a))
        (local.set $a (i32.add (i32.add (local.get $a) (local.get $b)) (local.get $c)))
        (i32.xor (local.get $a) (i32.mul (local.get $old) (i32.const 3)))))"#;
    for k in 0..3 {
        assert_uses(wat, k, "I32Add3");
    }
    let (mut store, inst) = instance(wat);
    for (a, b, c) in [(1, 2, 3), (i32::MAX, 1, 1), (-5, i32::MIN, 7), (0, 0, -1)] {
        let sum = a.wrapping_add(b).wrapping_add(c);
        assert_eq!(call_i32(&mut store, inst, "left", &[a, b, c]), sum);
        assert_eq!(call_i32(&mut store, inst, "right", &[a, b, c]), sum);
        let want = sum ^ a.wrapping_mul(3);
        assert_eq!(call_i32(&mut store, inst, "round", &[a, b, c]), want);
    }
}

#[test]
fn an_arx_quarter_round_runs_in_pairs() {
    // BLAKE-style: a += b; a += m; d = rotl(d ^ a, 16); c += d; b = rotl(b ^ c, 20).
    let wat = r#"(module
      (func (export "g") (param $a i32) (param $b i32) (param $c i32) (param $d i32) (param $m i32) (result i32)
        (local.set $a (i32.add (local.get $a) (local.get $b)))
        (local.set $a (i32.add (local.get $a) (local.get $m)))
        (local.set $d (i32.rotl (i32.xor (local.get $d) (local.get $a)) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (local.get $d)))
        (local.set $b (i32.rotl (i32.xor (local.get $b) (local.get $c)) (i32.const 20)))
        (i32.xor (i32.xor (local.get $a) (local.get $b)) (i32.xor (local.get $c) (local.get $d)))))"#;
    assert_uses(wat, 0, "I32Add2");
    assert_uses(wat, 0, "I32AddXorRotl");
    let (mut store, inst) = instance(wat);
    let g = |a: i32, b: i32, c: i32, d: i32, m: i32| {
        let a = a.wrapping_add(b).wrapping_add(m);
        let d = ((d ^ a) as u32).rotate_left(16) as i32;
        let c = c.wrapping_add(d);
        let b = ((b ^ c) as u32).rotate_left(20) as i32;
        a ^ b ^ (c ^ d)
    };
    for args in [
        [1, 2, 3, 4, 5],
        [i32::MAX, 1, -1, i32::MIN, 77],
        [0x6a09e667, -0x4498517b, 0x3c6ef372, -0x5ab00ac6, 0x510e527f],
    ] {
        let [a, b, c, d, m] = args;
        assert_eq!(
            call_i32(&mut store, inst, "g", &args),
            g(a, b, c, d, m),
            "{args:?}"
        );
    }
}

#[test]
fn a_loop_stepping_two_slots_keeps_its_increment_in_the_branch() {
    // `j += a; i += b; while (i != n)`: the second add goes into the branch (BrIncBy)
    // rather than into a pair with the first.
    let wat = r#"(module
      (func (export "f") (param $a i32) (param $b i32) (param $n i32) (result i32)
        (local $i i32) (local $j i32)
        (loop $l
          (local.set $j (i32.add (local.get $j) (local.get $a)))
          (local.set $i (i32.add (local.get $i) (local.get $b)))
          (br_if $l (i32.ne (local.get $i) (local.get $n))))
        (i32.add (i32.mul (local.get $j) (i32.const 1000)) (local.get $i))))"#;
    let code = internal_code(wat, 0);
    assert!(
        code.contains("BrIncBy") && !code.contains("I32Add2"),
        "{code}"
    );
    let (mut store, inst) = instance(wat);
    assert_eq!(call_i32(&mut store, inst, "f", &[3, 2, 10]), 15 * 1000 + 10);
    assert_eq!(call_i32(&mut store, inst, "f", &[-1, 1, 7]), -7 * 1000 + 7);
}

#[test]
fn a_load_and_the_comparison_branching_on_it_agree_with_rust() {
    // Every i32 comparison of a loaded word or byte with a slot, a small constant (either
    // side) and a constant too wide to fuse, branched on by `br_if` and by `if`, with the
    // loaded value teed into a local (still written by the fused form) or not.
    type Compare = fn(i32, i32) -> bool;
    let ops: [(&str, Compare); 10] = [
        ("eq", |a, b| a == b),
        ("ne", |a, b| a != b),
        ("lt_s", |a, b| a < b),
        ("lt_u", |a, b| (a as u32) < (b as u32)),
        ("gt_s", |a, b| a > b),
        ("gt_u", |a, b| (a as u32) > (b as u32)),
        ("le_s", |a, b| a <= b),
        ("le_u", |a, b| (a as u32) <= (b as u32)),
        ("ge_s", |a, b| a >= b),
        ("ge_u", |a, b| (a as u32) >= (b as u32)),
    ];
    // (operand text, the constant if any, loaded value on the left)
    let rhs_forms: [(&str, Option<i32>, bool); 5] = [
        ("(local.get $x)", None, true),
        ("(local.get $x)", None, false),
        ("(i32.const -3)", Some(-3), true),
        ("(i32.const 100)", Some(100), false),
        ("(i32.const 100000)", Some(100_000), true),
    ];
    let mut funcs = String::new();
    // (export, op, rhs form, byte load, tee, expected fused)
    let mut cases = Vec::new();
    for (op, f) in ops {
        for (rhs, constant, left) in rhs_forms {
            // A word, a byte, a word at a constant address (the same address, 16).
            for form in ["BrLoad(", "BrLoad8U(", "BrLoadAbs("] {
                for tee in [false, true] {
                    for by_if in [false, true] {
                        let name = format!("f{}", cases.len());
                        let mut loaded = match form {
                            "BrLoad(" => "(i32.load offset=8 (local.get $p))",
                            "BrLoad8U(" => "(i32.load8_u offset=8 (local.get $p))",
                            _ => "(i32.load offset=8 (i32.const 8))",
                        }
                        .to_string();
                        if tee {
                            loaded = format!("(local.tee $v {loaded})");
                        }
                        let cmp = if left {
                            format!("(i32.{op} {loaded} {rhs})")
                        } else {
                            format!("(i32.{op} {rhs} {loaded})")
                        };
                        let body = if by_if {
                            format!(
                                "(if (result i32) {cmp} (then (i32.const 1)) (else (i32.const 0)))"
                            )
                        } else {
                            format!(
                                "(block $b (br_if $b {cmp}) (return (i32.add (i32.shl (local.get $v) (i32.const 1)) (i32.const 0)))) (i32.add (i32.shl (local.get $v) (i32.const 1)) (i32.const 1))"
                            )
                        };
                        // `$v` is read after the comparison teed it.
                        let body = if by_if {
                            format!("(i32.add {body} (i32.shl (local.get $v) (i32.const 1)))")
                        } else {
                            body
                        };
                        funcs.push_str(&format!(
                            "(func (export \"{name}\") (param $p i32) (param $x i32) (result i32) (local $v i32) {body})\n"
                        ));
                        let fused = constant != Some(100_000);
                        cases.push((name, f, constant, left, form, tee, fused));
                    }
                }
            }
        }
    }
    // A constant address past the memory traps in the fused form too.
    funcs.push_str(
        r#"(func (export "abs_oob") (result i32)
          (if (result i32) (i32.eq (i32.load (i32.const 65534)) (i32.const 1))
            (then (i32.const 1)) (else (i32.const 0))))"#,
    );
    let wat = format!("(module (memory (export \"memory\") 1) {funcs})");
    assert_uses(&wat, cases.len(), "BrLoadAbs(");
    for (k, (name, .., form, _, fused)) in cases.iter().enumerate() {
        let code = internal_code(&wat, k);
        assert_eq!(code.contains(form), *fused, "{name}:\n{code}");
    }
    let (mut store, inst) = instance(&wat);
    let memory = inst.get_memory(&store, "memory").unwrap();
    let words = [
        0,
        1,
        -1,
        -3,
        99,
        100,
        101,
        255,
        128,
        100_000,
        i32::MAX,
        i32::MIN,
    ];
    let xs = [0, 1, -3, 100, -1, i32::MIN, 255];
    for word in words {
        memory.data_mut(&mut store)[16..20].copy_from_slice(&word.to_le_bytes());
        for x in xs {
            for (name, f, constant, left, form, tee, _) in &cases {
                let v = if *form == "BrLoad8U(" {
                    word & 0xff
                } else {
                    word
                };
                let other = constant.unwrap_or(x);
                let taken = if *left { f(v, other) } else { f(other, v) };
                let want = if *tee { v.wrapping_shl(1) } else { 0 } + taken as i32;
                assert_eq!(
                    call_i32(&mut store, inst, name, &[8, x]),
                    want,
                    "{name}: word {word}, x {x}"
                );
            }
        }
    }
    // A fused load out of bounds traps at the load.
    let err = call(&mut store, inst, "f0", &[Val::I32(65_530), Val::I32(0)]).unwrap_err();
    assert_eq!(
        err.as_trap().expect("trap").kind,
        TrapKind::MemoryOutOfBounds
    );
    let err = call(&mut store, inst, "abs_oob", &[]).unwrap_err();
    assert_eq!(
        err.as_trap().expect("trap").kind,
        TrapKind::MemoryOutOfBounds
    );
}

#[test]
fn a_branch_to_the_comparison_keeps_the_load_apart() {
    // The comparison is a jump target (the end of a block a branch skips the load by):
    // fusing would run the load on that path too.
    let wat = r#"(module (memory 1)
      (func (export "f") (param $p i32) (param $k i32) (result i32) (local $v i32)
        (local.set $v (i32.const 7))
        (block $b
          (br_if $b (local.get $k))
          (local.set $v (i32.load (local.get $p))))
        (if (i32.gt_u (local.get $v) (i32.const 5)) (then (return (i32.const 1))))
        (i32.const 0)))"#;
    assert!(!internal_code(wat, 0).contains("BrLoad("));
    let (mut store, inst) = instance(wat);
    assert_eq!(call_i32(&mut store, inst, "f", &[0, 1]), 1);
    assert_eq!(call_i32(&mut store, inst, "f", &[0, 0]), 0);
    // Out of bounds, but skipped.
    assert_eq!(call_i32(&mut store, inst, "f", &[70_000, 1]), 1);
}

#[test]
fn a_br_table_on_a_loaded_value_loads_it_itself() {
    // `switch (*p)` and `switch (code[i])` (an indexed load), the loaded value teed into a
    // local the arms read (the fused form still writes it), or not; and a small bytecode
    // loop whose `br_table` jumps back to its own loop.
    let arms = |load: &str| {
        format!(
            r#"(block $d (block $c2 (block $c1 (block $c0
              (br_table $c0 $c1 $c2 $d {load}))
              (return (i32.add (i32.const 10) (i32.shl (local.get $v) (i32.const 8)))))
              (return (i32.add (i32.const 11) (i32.shl (local.get $v) (i32.const 8)))))
              (return (i32.add (i32.const 12) (i32.shl (local.get $v) (i32.const 8)))))
            (i32.add (i32.const 13) (i32.shl (local.get $v) (i32.const 8)))"#
        )
    };
    let plain = arms("(local.tee $v (i32.load offset=4 (local.get $p)))");
    let indexed =
        arms("(local.tee $v (i32.load (i32.add (i32.shl (local.get $p) (i32.const 2)) (i32.const 1024))))");
    let untee = arms("(i32.load offset=4 (local.get $p))");
    let wat = format!(
        r#"(module (memory (export "memory") 1)
          (func (export "plain") (param $p i32) (result i32) (local $v i32) {plain})
          (func (export "indexed") (param $p i32) (result i32) (local $v i32) {indexed})
          (func (export "untee") (param $p i32) (result i32) (local $v i32) {untee})
          (func (export "run") (param $pc i32) (result i32) (local $acc i32)
            (block $halt
              (loop $next
                (local.set $pc (i32.add (local.get $pc) (i32.const 4)))
                (block $double
                  (block $inc
                    (br_table $halt $inc $double $next
                      (i32.load offset=1020 (i32.shl (local.get $pc) (i32.const 0)))))
                  (local.set $acc (i32.add (local.get $acc) (i32.const 1)))
                  (br $next))
                (local.set $acc (i32.shl (local.get $acc) (i32.const 1)))
                (br $next)))
            (local.get $acc))
          (func (export "label") (param $p i32) (param $k i32) (result i32) (local $v i32)
            (local.set $v (i32.const 2))
            (block $b
              (br_if $b (local.get $k))
              (local.set $v (i32.load (local.get $p))))
            (block $two (block $one (block $zero
              (br_table $zero $one $two (local.get $v)))
              (return (i32.const 0)))
              (return (i32.const 1)))
            (i32.const 2)))"#
    );
    // A branch reaches the `br_table` of "label" without the load: they stay apart.
    assert!(!internal_code(&wat, 4).contains("BrTableLoad"));
    assert_uses(&wat, 0, "BrTableLoad {");
    assert_uses(&wat, 1, "BrTableLoadDisp {");
    assert_uses(&wat, 2, "BrTableLoad {");
    assert_uses(&wat, 3, "BrTableLoad {");
    let (mut store, inst) = instance(&wat);
    let memory = inst.get_memory(&store, "memory").unwrap();
    for v in [0u32, 1, 2, 3, 4, 1000, 0x8000_0000, u32::MAX] {
        let arm = v.min(3) as i32;
        let data = memory.data_mut(&mut store);
        data[104..108].copy_from_slice(&v.to_le_bytes());
        data[1024 + 4 * 25..1024 + 4 * 26].copy_from_slice(&v.to_le_bytes());
        let teed = 10 + arm + (v << 8) as i32;
        assert_eq!(
            call_i32(&mut store, inst, "plain", &[100]),
            teed,
            "plain {v}"
        );
        assert_eq!(
            call_i32(&mut store, inst, "indexed", &[25]),
            teed,
            "indexed {v}"
        );
        assert_eq!(
            call_i32(&mut store, inst, "untee", &[100]),
            10 + arm,
            "untee {v}"
        );
    }
    // Program at 1024: inc, inc, (skip), double, inc, double, halt -> ((2 * 2) + 1) * 2.
    let program: [u32; 7] = [1, 1, 3, 2, 1, 2, 0];
    for (i, op) in program.iter().enumerate() {
        memory.data_mut(&mut store)[1024 + 4 * i..1028 + 4 * i].copy_from_slice(&op.to_le_bytes());
    }
    assert_eq!(call_i32(&mut store, inst, "run", &[0]), 10);
    // Memory at 0 holds 0: loaded, arm 0; skipped, `$v` stays 2.
    memory.data_mut(&mut store)[0..4].fill(0);
    assert_eq!(call_i32(&mut store, inst, "label", &[0, 0]), 0);
    assert_eq!(call_i32(&mut store, inst, "label", &[0, 1]), 2);
    // The index computation wraps at 32 bits, as wasm's `i32.shl` and `i32.add` do: to
    // address 0 here (which holds 0, arm 0).
    memory.data_mut(&mut store)[0..4].fill(0);
    assert_eq!(call_i32(&mut store, inst, "indexed", &[0x3fff_ff00]), 10);
    // Loads out of bounds trap.
    for (f, p) in [("plain", 65_533), ("indexed", 0x3fff_0000), ("untee", -2)] {
        let err = call(&mut store, inst, f, &[Val::I32(p)]).unwrap_err();
        assert_eq!(
            err.as_trap().expect("trap").kind,
            TrapKind::MemoryOutOfBounds,
            "{f}"
        );
    }
}

#[test]
fn a_store_at_x_plus_c_of_a_value_computed_after_the_address_adds_in_the_store() {
    // `buf[i + C] = v + K` and the like: the address add moves into the store, after the
    // value's instruction, for every width; a value loaded through a pointer the same
    // expression steps must not move ahead of the address add.
    let wat = r#"(module (memory (export "memory") 2)
      (func (export "s8") (param $i i32) (param $x i32)
        (i32.store8 (i32.add (local.get $i) (i32.const 3)) (i32.add (local.get $x) (i32.const 21))))
      (func (export "s16") (param $i i32) (param $x i32)
        (i32.store16 offset=2 (i32.add (local.get $i) (i32.const 3)) (i32.mul (local.get $x) (local.get $x))))
      (func (export "s32") (param $i i32) (param $x i32)
        (i32.store (i32.add (local.get $i) (i32.const -4)) (i32.xor (local.get $x) (local.get $i))))
      (func (export "s64") (param $i i32) (param $x i64)
        (i64.store (i32.add (local.get $i) (i32.const 5)) (i64.add (local.get $x) (i64.const 7))))
      (func (export "load") (param $i i32) (param $p i32)
        (i32.store (i32.add (local.get $i) (i32.const 4)) (i32.load offset=1234 (local.get $p))))
      (func (export "step") (param $p i32) (result i32)
        (i32.store (i32.add (local.get $p) (i32.const 100000))
          (i32.load (local.tee $p (i32.add (local.get $p) (i32.const 4)))))
        (local.get $p)))"#;
    for (k, form) in [
        (0, "I32Store8Disp"),
        (1, "I32Store16Disp"),
        (2, "I32StoreDisp"),
        (3, "I64StoreDisp"),
        (4, "I32StoreDisp"),
    ] {
        assert_uses(wat, k, form);
    }
    assert!(internal_code(wat, 5).contains("I32LoadPreStep"));
    assert!(!internal_code(wat, 5).contains("StoreDisp"));
    let (mut store, inst) = instance(wat);
    let memory = inst.get_memory(&store, "memory").unwrap();
    let run = |store: &mut Store<()>, name: &str, args: &[Val]| {
        call(store, inst, name, args).expect("call succeeds");
    };
    run(&mut store, "s8", &[Val::I32(100), Val::I32(0x1234)]);
    run(&mut store, "s16", &[Val::I32(200), Val::I32(300)]);
    run(&mut store, "s32", &[Val::I32(304), Val::I32(0x5555)]);
    run(&mut store, "s64", &[Val::I32(400), Val::I64(-10)]);
    // The address add wraps at 32 bits: -1 + 3 is 2.
    run(&mut store, "s8", &[Val::I32(-1), Val::I32(1)]);
    let data = memory.data(&store);
    assert_eq!(data[103], (0x1234 + 21) as u8);
    assert_eq!(data[104], 0);
    assert_eq!(&data[205..207], &((300 * 300u32) as u16).to_le_bytes());
    assert_eq!(&data[300..304], &(0x5555 ^ 304u32).to_le_bytes());
    assert_eq!(&data[405..413], &(-3i64).to_le_bytes());
    assert_eq!(data[2], 22);
    // The value is read before the store writes.
    memory.data_mut(&mut store)[500 + 1234..504 + 1234].copy_from_slice(&77u32.to_le_bytes());
    run(&mut store, "load", &[Val::I32(600), Val::I32(500)]);
    assert_eq!(&memory.data(&store)[604..608], &77u32.to_le_bytes());
    // The load out of bounds traps at the load, before the store.
    let binary = wat::parse_str(wat).unwrap();
    let load_at = binary
        .windows(4)
        .position(|w| w == [0x28, 0x02, 0xd2, 0x09])
        .expect("the load is in the binary");
    let err = call(
        &mut store,
        inst,
        "load",
        &[Val::I32(700), Val::I32(131_000)],
    )
    .unwrap_err();
    let trap = err.as_trap().expect("trap");
    assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);
    assert_eq!(trap.backtrace[0].offset, Some(load_at as u32));
    assert_eq!(&memory.data(&store)[704..708], &[0; 4]);
    // `p + 100000` is taken before `p` steps by 4: the word at 1004 goes to 101000.
    memory.data_mut(&mut store)[1004..1008].copy_from_slice(&99u32.to_le_bytes());
    assert_eq!(call_i32(&mut store, inst, "step", &[1000]), 1004);
    assert_eq!(&memory.data(&store)[101_000..101_004], &99u32.to_le_bytes());
    assert_eq!(&memory.data(&store)[101_004..101_008], &[0; 4]);
}

#[test]
fn a_byte_read_through_a_pointer_and_looked_up_branches_in_one_dispatch() {
    // `while (class[*p]) p++` over "ab1 " with class 1 for letters: the read, the lookup
    // and the branch fuse when the table lies in the memory's minimum size; a table near
    // the end of the memory (a lookup that could trap) or a read with an offset does not.
    let scan = |name: &str, table: i32, offset: u32| {
        format!(
            r#"(func (export "{name}") (param $p i32) (result i32) (local $c i32) (local $start i32)
              (local.set $start (local.get $p))
              (block $done
                (loop $next
                  (br_if $done (i32.eqz (i32.load8_u (i32.add
                    (local.tee $c (i32.load8_u offset={offset} (local.get $p)))
                    (i32.const {table})))))
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (br $next)))
              (i32.add (i32.mul (i32.sub (local.get $p) (local.get $start)) (i32.const 1000))
                (local.get $c)))"#
        )
    };
    let wat = format!(
        r#"(module (memory (export "memory") 1)
          {} {} {}
          (func (export "if") (param $p i32) (result i32)
            (if (result i32) (i32.load8_u (i32.add (i32.load8_u (local.get $p)) (i32.const 1024)))
              (then (i32.const 1)) (else (i32.const 0)))))"#,
        scan("fits", 1024, 0),
        scan("near_end", 65_400, 0),
        scan("offset", 1024, 1),
    );
    assert_uses(&wat, 0, "BrLoad8ULookupEqz");
    assert!(!internal_code(&wat, 1).contains("BrLoad8ULookup"));
    assert!(!internal_code(&wat, 2).contains("BrLoad8ULookup"));
    assert_uses(&wat, 3, "BrLoad8ULookupEqz");
    let (mut store, inst) = instance(&wat);
    let memory = inst.get_memory(&store, "memory").unwrap();
    {
        let data = memory.data_mut(&mut store);
        for table in [1024, 65_400] {
            for c in b'a'..=b'z' {
                data[table + c as usize] = 1;
            }
        }
        data[100..104].copy_from_slice(b"ab1 ");
        data[200..203].copy_from_slice(b"xyz");
        data[65_535] = b'q';
    }
    // Two letters, then '1' (49) stops the scan; each loop also keeps the last byte read.
    for f in ["fits", "near_end"] {
        assert_eq!(call_i32(&mut store, inst, f, &[100]), 2049, "{f}");
    }
    assert_eq!(call_i32(&mut store, inst, "offset", &[99]), 2049);
    assert_eq!(call_i32(&mut store, inst, "if", &[100]), 1);
    assert_eq!(call_i32(&mut store, inst, "if", &[102]), 0);
    assert_eq!(call_i32(&mut store, inst, "fits", &[200]), 3000);
    // Letters up to the last byte: the read past the memory traps, at the read (the
    // first `i32.load8_u`, the one `local.tee` follows, of the first function).
    let binary = wat::parse_str(&wat).unwrap();
    let read_at = binary
        .windows(4)
        .position(|w| w == [0x2d, 0x00, 0x00, 0x22])
        .expect("the read is in the binary");
    let err = call(&mut store, inst, "fits", &[Val::I32(65_535)]).unwrap_err();
    let trap = err.as_trap().expect("trap");
    assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);
    assert_eq!(trap.backtrace[0].offset, Some(read_at as u32));
    // A lookup past the end of the memory (byte 255 in the table at 65400) traps at the
    // lookup: the second function's `i32.load8_u` that `i32.eqz` follows.
    memory.data_mut(&mut store)[300] = 0xff;
    let lookup_at = binary
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == [0x2d, 0x00, 0x00, 0x45])
        .map(|(i, _)| i)
        .nth(1)
        .expect("the lookup is in the binary");
    let err = call(&mut store, inst, "near_end", &[Val::I32(300)]).unwrap_err();
    let trap = err.as_trap().expect("trap");
    assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);
    assert_eq!(trap.backtrace[0].offset, Some(lookup_at as u32));
}

#[test]
fn a_constant_or_copy_before_a_forward_jump_jumps_itself() {
    let wat = r#"(module
      ;; Arms yielding a constant or a copy, then the jump to the join.
      (func (export "pick") (param $c i32) (param $y i32) (result i32) (local $x i32)
        (block $join
          (block $two
            (block $one
              (br_table $one $two $join (local.get $c)))
            (local.set $x (i32.const 11))
            (br $join))
          (local.set $x (local.get $y))
          (br $join))
        (i32.add (local.get $x) (i32.const 1000)))
      ;; The `if` skips the constant to the jump, which stays; its branch is threaded
      ;; past the jump, straight to the join.
      (func (export "skip") (param $c i32) (result i32) (local $x i32)
        (local.set $x (i32.const 3))
        (block $out
          (if (local.get $c) (then (local.set $x (i32.const 7))))
          (br $out))
        (i32.mul (local.get $x) (local.get $x)))
      ;; A backward jump after a constant (it polls for interruption): not fused.
      (func (export "count") (param $n i32) (result i32) (local $i i32) (local $flag i32)
        (loop $next
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (if (i32.lt_u (local.get $i) (local.get $n))
            (then (local.set $flag (i32.const 1)) (br $next))))
        (i32.add (local.get $i) (local.get $flag))))"#;
    let pick = internal_code(wat, 0);
    assert!(
        pick.contains("Const32Br") && pick.contains("CopyBr"),
        "{pick}"
    );
    assert_uses(wat, 1, "Const32Br");
    assert!(!internal_code(wat, 2).contains("Const32Br"));
    // No branch of "skip" lands on a `Br`.
    let skip = internal_code(wat, 1);
    let lines: Vec<&str> = skip.lines().collect();
    for line in &lines {
        if let Some(t) = line.split("target: ").nth(1) {
            let t: usize = t.trim_end_matches([' ', '}', ')']).parse().unwrap();
            assert!(
                !lines[t].contains(": Br {"),
                "{line} lands on a Br:\n{skip}"
            );
        }
    }
    let (mut store, inst) = instance(wat);
    for (c, want) in [(0, 1011), (1, 1042), (2, 1000), (-1, 1000)] {
        assert_eq!(
            call_i32(&mut store, inst, "pick", &[c, 42]),
            want,
            "pick {c}"
        );
    }
    assert_eq!(call_i32(&mut store, inst, "skip", &[1]), 49);
    assert_eq!(call_i32(&mut store, inst, "skip", &[0]), 9);
    assert_eq!(call_i32(&mut store, inst, "count", &[5]), 6);
    assert_eq!(call_i32(&mut store, inst, "count", &[0]), 1);
}

#[test]
fn a_load_through_a_stepping_pointer_and_the_branch_on_it_keep_their_order() {
    // `while (*p++ < x)` and friends: the load, the step and the test are one instruction
    // that steps where the unfused code did; a pointer loaded into itself (`p = *p; p += 4`)
    // stays unfused (the step changes the value tested).
    let wat = r#"(module (memory (export "memory") 1)
      (func (export "post") (param $p i32) (param $x i32) (result i32) (local $v i32)
        (loop $l
          (local.set $v (i32.load (local.get $p)))
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (br_if $l (i32.lt_s (local.get $v) (local.get $x))))
        (i32.add (i32.mul (local.get $p) (i32.const 1000)) (local.get $v)))
      (func (export "post8") (param $p i32) (param $x i32) (result i32) (local $v i32)
        (loop $l
          (local.set $v (i32.load8_u (local.get $p)))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $v) (i32.const 100))))
        (i32.add (i32.mul (local.get $p) (i32.const 1000)) (local.get $v)))
      (func (export "pre") (param $p i32) (param $x i32) (result i32) (local $v i32)
        (loop $l
          (local.set $p (i32.add (local.get $p) (i32.const -4)))
          (br_if $l (i32.gt_s (local.tee $v (i32.load (local.get $p))) (local.get $x))))
        (i32.add (i32.mul (local.get $p) (i32.const 1000)) (local.get $v)))
      (func (export "pre8") (param $p i32) (param $x i32) (result i32) (local $v i32)
        (loop $l
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br_if $l (local.tee $v (i32.load8_u (local.get $p)))))
        (i32.add (i32.mul (local.get $p) (i32.const 1000)) (local.get $v)))
      (func (export "other") (param $p i32) (param $x i32) (result i32) (local $v i32)
        (loop $l
          (local.set $v (i32.load (local.get $p)))
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (br_if $l (i32.ne (local.get $v) (local.get $p))))
        (i32.add (i32.mul (local.get $p) (i32.const 1000)) (local.get $v)))
      (func (export "alias") (param $p i32) (param $x i32) (result i32)
        (loop $l
          (local.set $p (i32.load (local.get $p)))
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (br_if $l (i32.ne (local.get $p) (local.get $x))))
        (local.get $p)))"#;
    for (k, form) in [
        (0, "BrLoadPostStep("),
        (1, "BrLoad8UPostStep("),
        (2, "BrLoadPreStep("),
        (3, "BrLoad8UPreStep("),
        (4, "BrLoadPostStep("),
    ] {
        assert_uses(wat, k, form);
    }
    assert!(internal_code(wat, 5).contains("I32LoadPostStep"));
    assert!(!internal_code(wat, 5).contains("BrLoad"));
    let (mut store, inst) = instance(wat);
    let memory = inst.get_memory(&store, "memory").unwrap();
    let words = |store: &mut Store<()>, at: usize, ws: &[i32]| {
        for (i, w) in ws.iter().enumerate() {
            memory.data_mut(&mut *store)[at + 4 * i..at + 4 * i + 4]
                .copy_from_slice(&w.to_le_bytes());
        }
    };
    // post: 1, 2, 3, 9 at 100 (x = 5): stops after 9, p past it.
    words(&mut store, 100, &[1, 2, 3, 9]);
    assert_eq!(
        call_i32(&mut store, inst, "post", &[100, 5]),
        116 * 1000 + 9
    );
    // post8: bytes 10, 20, 200 at 400.
    memory.data_mut(&mut store)[400..403].copy_from_slice(&[10, 20, 200]);
    assert_eq!(
        call_i32(&mut store, inst, "post8", &[400, 0]),
        403 * 1000 + 200
    );
    // pre: 7, 8, 2 below 512 (x = 5): from 512 down to the 2 at 500.
    words(&mut store, 500, &[2, 8, 7]);
    assert_eq!(call_i32(&mut store, inst, "pre", &[512, 5]), 500 * 1000 + 2);
    // pre8: nonzero bytes after 600 up to a zero at 603.
    memory.data_mut(&mut store)[600..604].copy_from_slice(&[9, 1, 2, 0]);
    assert_eq!(call_i32(&mut store, inst, "pre8", &[600, 0]), 603 * 1000);
    // other: 5 at 700, then 708 at 704 (the stepped pointer): stops there.
    words(&mut store, 700, &[5, 708]);
    assert_eq!(
        call_i32(&mut store, inst, "other", &[700, 0]),
        708 * 1000 + 708
    );
    // alias: 800 -> 900 (+4 = 904) -> 1000 (+4 = 1004).
    words(&mut store, 800, &[900]);
    words(&mut store, 904, &[1000]);
    assert_eq!(call_i32(&mut store, inst, "alias", &[800, 1004]), 1004);
    // A load off the end traps.
    let err = call(&mut store, inst, "post8", &[Val::I32(65_535), Val::I32(0)]);
    assert_eq!(
        err.map(|_| ()).unwrap_err().as_trap().expect("trap").kind,
        TrapKind::MemoryOutOfBounds
    );
}

#[test]
fn a_word_moved_between_a_field_and_a_global_traps_where_the_unfused_code_would() {
    let wat = r#"(module (memory (export "memory") 1)
      (func (export "get") (param $p i32)
        (i32.store (i32.const 64) (i32.load offset=1234 (local.get $p))))
      (func (export "put") (param $p i32)
        (i32.store offset=1234 (local.get $p) (i32.load (i32.const 64))))
      ;; The global's last bytes lie past the memory: its access could trap, no fusion.
      (func (export "get_far") (param $p i32)
        (i32.store (i32.const 65534) (i32.load (local.get $p)))))"#;
    assert_uses(wat, 0, "I32LoadStoreAbs");
    assert_uses(wat, 1, "I32LoadAbsStore");
    let far = internal_code(wat, 2);
    assert!(!far.contains("I32LoadStoreAbs"), "{far}");
    let (mut store, inst) = instance(wat);
    let memory = inst.get_memory(&store, "memory").unwrap();
    memory.data_mut(&mut store)[1334..1338].copy_from_slice(&0x0102_0304u32.to_le_bytes());
    call(&mut store, inst, "get", &[Val::I32(100)]).unwrap();
    assert_eq!(&memory.data(&store)[64..68], &0x0102_0304u32.to_le_bytes());
    memory.data_mut(&mut store)[64..68].copy_from_slice(&77u32.to_le_bytes());
    call(&mut store, inst, "put", &[Val::I32(2000)]).unwrap();
    assert_eq!(&memory.data(&store)[3234..3238], &77u32.to_le_bytes());
    // Out of bounds: the field's load, then the field's store, trap at their offsets.
    let binary = wat::parse_str(wat).unwrap();
    let find = |pattern: [u8; 4]| {
        binary
            .windows(4)
            .position(|w| w == pattern)
            .expect("the access is in the binary") as u32
    };
    let (load_at, store_at) = (
        find([0x28, 0x02, 0xd2, 0x09]),
        find([0x36, 0x02, 0xd2, 0x09]),
    );
    for (f, at) in [("get", load_at), ("put", store_at)] {
        let err = call(&mut store, inst, f, &[Val::I32(65_000)]).unwrap_err();
        let trap = err.as_trap().expect("trap");
        assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds, "{f}");
        assert_eq!(trap.backtrace[0].offset, Some(at), "{f}");
    }
    let err = call(&mut store, inst, "get_far", &[Val::I32(0)]).unwrap_err();
    assert_eq!(
        err.as_trap().expect("trap").kind,
        TrapKind::MemoryOutOfBounds
    );
}

#[test]
fn integer_hash_steps_agree_with_rust() {
    // Thomas Wang's 32-bit integer hash (WebKit's `intHash`): `key += ~(key << s)` is one
    // `I32AddNotShl` whichever side the complement is on; `~(x << s)` alone is one
    // `I32NotShlImm`, shift counts taken modulo 32.
    let wat = r#"(module
      (func (export "hash") (param $key i32) (result i32)
        (local.set $key (i32.add (local.get $key) (i32.xor (i32.shl (local.get $key) (i32.const 15)) (i32.const -1))))
        (local.set $key (i32.xor (local.get $key) (i32.shr_u (local.get $key) (i32.const 10))))
        (local.set $key (i32.add (local.get $key) (i32.shl (local.get $key) (i32.const 3))))
        (local.set $key (i32.xor (local.get $key) (i32.shr_u (local.get $key) (i32.const 6))))
        (local.set $key (i32.add (i32.xor (i32.const -1) (i32.shl (local.get $key) (i32.const 11))) (local.get $key)))
        (local.set $key (i32.xor (local.get $key) (i32.shr_u (local.get $key) (i32.const 16))))
        (local.get $key))
      (func (export "not_shl") (param $x i32) (result i32)
        (i32.xor (i32.shl (local.get $x) (i32.const 35)) (i32.const -1)))
      ;; Not a complement: an ordinary shift-xor.
      (func (export "shl_xor") (param $x i32) (result i32)
        (i32.xor (i32.shl (local.get $x) (i32.const 4)) (i32.const -2)))
      (func (export "add_not_shl") (param $x i32) (param $y i32) (result i32)
        (i32.add (local.get $y) (i32.xor (i32.shl (local.get $x) (i32.const 20)) (i32.const -1)))))"#;
    let hash = internal_code(wat, 0);
    assert_eq!(hash.matches("I32AddNotShl").count(), 2, "{hash}");
    assert_uses(wat, 1, "I32NotShlImm");
    assert!(!internal_code(wat, 2).contains("NotShl"));
    assert_uses(wat, 3, "I32AddNotShl");
    let wang = |mut key: u32| {
        key = key.wrapping_add(!(key << 15));
        key ^= key >> 10;
        key = key.wrapping_add(key << 3);
        key ^= key >> 6;
        key = key.wrapping_add(!(key << 11));
        key ^= key >> 16;
        key as i32
    };
    let (mut store, inst) = instance(wat);
    for x in [
        0u32,
        1,
        2,
        0x8000_0000,
        u32::MAX,
        0x1234_5678,
        0xdead_beef,
        12345,
    ] {
        let xi = x as i32;
        assert_eq!(
            call_i32(&mut store, inst, "hash", &[xi]),
            wang(x),
            "hash {x}"
        );
        assert_eq!(
            call_i32(&mut store, inst, "not_shl", &[xi]),
            !(x << 3) as i32
        );
        assert_eq!(
            call_i32(&mut store, inst, "shl_xor", &[xi]),
            ((x << 4) ^ 0xffff_fffe) as i32
        );
        assert_eq!(
            call_i32(&mut store, inst, "add_not_shl", &[xi, 77]),
            77u32.wrapping_add(!(x << 20)) as i32
        );
    }
}

/// A function's name, its body on parameter 0 (local 1 holds 0x00ff00ff) and a model.
type Chain = (&'static str, &'static str, fn(u32) -> u32);

#[test]
fn chains_of_constant_operations_fold_into_one() {
    // Constant-time base64 decoding computes `~(x + C)` and `~(C - x)`; with the other
    // chains of one operation with a constant after another, each function below is one
    // instruction on `x` (the function name says which, checked by what it may not use),
    // with the wrapping results of the two wasm operations. The last ones are not chains.
    let chains: [Chain; 14] = [
        (
            "add_add",
            "(i32.add (i32.add (local.get 0) (i32.const 0x7fff_fff0)) (i32.const 100))",
            |x| x.wrapping_add(0x7fff_fff0).wrapping_add(100),
        ),
        (
            "sub_add",
            "(i32.sub (i32.add (local.get 0) (i32.const 7)) (i32.const -9))",
            |x| x.wrapping_add(7).wrapping_add(9),
        ),
        (
            "rsub_add",
            "(i32.add (i32.sub (i32.const 122) (local.get 0)) (i32.const 3))",
            |x| 122u32.wrapping_sub(x).wrapping_add(3),
        ),
        (
            "add_rsub",
            "(i32.sub (i32.const -5) (i32.add (local.get 0) (i32.const 0x4000_0000)))",
            |x| (-5i32 as u32).wrapping_sub(x.wrapping_add(0x4000_0000)),
        ),
        (
            "rsub_rsub",
            "(i32.sub (i32.const 90) (i32.sub (i32.const 65) (local.get 0)))",
            |x| 90u32.wrapping_sub(65u32.wrapping_sub(x)),
        ),
        (
            "not_add",
            "(i32.xor (i32.add (local.get 0) (i32.const 65439)) (i32.const -1))",
            |x| !x.wrapping_add(65439),
        ),
        (
            "not_sub",
            "(i32.xor (i32.const -1) (i32.sub (local.get 0) (i32.const -2147483648)))",
            |x| !x.wrapping_sub(0x8000_0000),
        ),
        (
            "not_rsub",
            "(i32.xor (i32.sub (i32.const 122) (local.get 0)) (i32.const -1))",
            |x| !122u32.wrapping_sub(x),
        ),
        (
            "xor_xor",
            "(i32.xor (i32.xor (local.get 0) (i32.const 16336)) (i32.const -1))",
            |x| !(x ^ 16336),
        ),
        (
            "and_and",
            "(i32.and (i32.and (local.get 0) (i32.const 0xff0f)) (i32.const 0x0ff8))",
            |x| x & 0xff0f & 0x0ff8,
        ),
        (
            "or_or",
            "(i32.or (i32.or (local.get 0) (i32.const 0x100)) (i32.const -2147483648))",
            |x| x | 0x100 | 0x8000_0000,
        ),
        // Not chains: a complement of a xor with a variable, and an add after an and.
        (
            "not_xor_var",
            "(i32.xor (i32.xor (local.get 0) (local.get 1)) (i32.const -1))",
            |x| !(x ^ 0x00ff_00ff),
        ),
        (
            "and_add",
            "(i32.add (i32.and (local.get 0) (i32.const 0xff)) (i32.const 1))",
            |x| (x & 0xff) + 1,
        ),
        // The first result is kept in a local: both operations stay.
        (
            "kept",
            "(i32.add (local.tee 1 (i32.add (local.get 0) (i32.const 5))) (i32.const 6))",
            |x| x.wrapping_add(11),
        ),
    ];
    let funcs: String = chains
        .iter()
        .map(|(name, body, _)| {
            format!("(func (export \"{name}\") (param i32) (result i32) (local i32)\n  (local.set 1 (i32.const 0x00ff00ff)) {body})\n")
        })
        .collect();
    let wat = format!("(module {funcs})");
    for (k, (name, _, _)) in chains.iter().enumerate() {
        let code = internal_code(&wat, k);
        let arithmetic = code
            .lines()
            .filter(|l| {
                ["Add", "Sub", "Xor", "And", "Or"]
                    .iter()
                    .any(|op| l.contains(op))
            })
            .count();
        let expected = if k < 11 { 1 } else { 2 };
        assert_eq!(arithmetic, expected, "{name}:\n{code}");
    }
    let (mut store, inst) = instance(&wat);
    for x in [
        0u32,
        1,
        2,
        5,
        65,
        90,
        122,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fff0,
        u32::MAX,
        0xdead_beef,
    ] {
        for (name, _, model) in &chains {
            assert_eq!(
                call_i32(&mut store, inst, name, &[x as i32]) as u32,
                model(x),
                "{name}({x:#x})"
            );
        }
    }
}

#[test]
fn a_global_assigned_and_tested_branches_on_the_value_stored() {
    let wat = r#"(module (memory (export "memory") 1)
      ;; Counts down, publishing the counter in a global each step.
      (func (export "nez") (param $p i32) (result i32) (local $n i32)
        (loop $next
          (local.set $n (i32.add (local.get $n) (i32.const 10)))
          (local.set $p (i32.add (local.get $p) (i32.const -1)))
          (i32.store (i32.const 64) (local.get $p))
          (br_if $next (local.get $p)))
        (local.get $n))
      (func (export "eqz") (param $p i32) (result i32)
        (block $zero
          (i32.store (i32.const 68) (local.get $p))
          (br_if $zero (i32.eqz (local.get $p)))
          (return (i32.const 1)))
        (i32.const 0))
      ;; The global past the memory: the store traps before the branch.
      (func (export "oob") (param $p i32) (result i32)
        (block $zero
          (i32.store (i32.const 65534) (local.get $p))
          (br_if $zero (local.get $p))
          (return (i32.const 1)))
        (i32.const 0)))"#;
    assert_uses(wat, 0, "BrStoreAbsNez");
    assert_uses(wat, 1, "BrStoreAbsEqz");
    assert_uses(wat, 2, "BrStoreAbsNez");
    let (mut store, inst) = instance(wat);
    let memory = inst.get_memory(&store, "memory").unwrap();
    assert_eq!(call_i32(&mut store, inst, "nez", &[3]), 30);
    assert_eq!(&memory.data(&store)[64..68], &[0; 4]);
    for (p, want) in [(0, 0), (5, 1), (-1, 1)] {
        assert_eq!(call_i32(&mut store, inst, "eqz", &[p]), want, "eqz {p}");
        assert_eq!(&memory.data(&store)[68..72], &p.to_le_bytes());
    }
    let err = call(&mut store, inst, "oob", &[Val::I32(0)]).unwrap_err();
    assert_eq!(
        err.as_trap().expect("trap").kind,
        TrapKind::MemoryOutOfBounds
    );
}

#[test]
fn a_negated_float_comparison_branches_in_one_instruction_and_agrees_with_rust_on_nan() {
    // `br_if (i32.eqz (f64.lt a b))`: the comparison cannot be inverted (NaN), so the
    // `eqz` stays apart from it until the branch takes both in (`BrF64NotLt` and kin).
    type Compare = fn(f64, f64) -> bool;
    let ops: [(&str, Compare); 6] = [
        ("eq", |a, b| a == b),
        ("ne", |a, b| a != b),
        ("lt", |a, b| a < b),
        ("gt", |a, b| a > b),
        ("le", |a, b| a <= b),
        ("ge", |a, b| a >= b),
    ];
    let mut funcs = String::new();
    for (op, _) in ops {
        for ty in ["f32", "f64"] {
            funcs.push_str(&format!(
                r#"(func (export "br_{op}_{ty}") (param $a {ty}) (param $b {ty}) (result i32)
                  (block $no
                    (br_if $no (i32.eqz ({ty}.{op} (local.get $a) (local.get $b))))
                    (return (i32.const 1)))
                  (i32.const 0))
                (func (export "if_{op}_{ty}") (param $a {ty}) (param $b {ty}) (result i32)
                  (if (result i32) (i32.eqz ({ty}.{op} (local.get $a) (local.get $b)))
                    (then (i32.const 0)) (else (i32.const 1))))"#
            ));
        }
    }
    let wat = format!("(module {funcs})");
    // Each function is one fused branch: no `I32Eqz` and no separate comparison left.
    for k in 0..24 {
        let code = internal_code(&wat, k);
        assert!(
            !code.contains("I32Eqz") && code.contains("BrF"),
            "function {k}:\n{code}"
        );
    }
    let (mut store, inst) = instance(&wat);
    let values = [
        0.0,
        -0.0,
        1.5,
        -2.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    for (op, f) in ops {
        for a in values {
            for b in values {
                let want = f(a, b) as i32;
                for form in ["br", "if"] {
                    let f64_name = format!("{form}_{op}_f64");
                    let f32_name = format!("{form}_{op}_f32");
                    let got = call(
                        &mut store,
                        inst,
                        &f64_name,
                        &[Val::F64(a.to_bits()), Val::F64(b.to_bits())],
                    )
                    .unwrap()[0]
                        .i32()
                        .unwrap();
                    assert_eq!(got, want, "{f64_name}({a}, {b})");
                    let (a32, b32) = (a as f32, b as f32);
                    let got = call(
                        &mut store,
                        inst,
                        &f32_name,
                        &[Val::F32(a32.to_bits()), Val::F32(b32.to_bits())],
                    )
                    .unwrap()[0]
                        .i32()
                        .unwrap();
                    assert_eq!(got, want, "{f32_name}({a}, {b})");
                }
            }
        }
    }
}

/// A SIMD shift by a constant runs as `V128ShiftImm`, which keeps the amount modulo 64:
/// every lane width and amount (negative ones and ones past 64 included) gives what a
/// lane model gives, and what the same shift by an amount in a local gives.
#[test]
fn simd_shifts_by_constants_agree_with_a_lane_model() {
    let ops = [
        ("i8x16", 8u32, "shl"),
        ("i8x16", 8, "shr_s"),
        ("i8x16", 8, "shr_u"),
        ("i16x8", 16, "shl"),
        ("i16x8", 16, "shr_s"),
        ("i16x8", 16, "shr_u"),
        ("i32x4", 32, "shl"),
        ("i32x4", 32, "shr_s"),
        ("i32x4", 32, "shr_u"),
        ("i64x2", 64, "shl"),
        ("i64x2", 64, "shr_s"),
        ("i64x2", 64, "shr_u"),
    ];
    let amounts = [
        0i32,
        1,
        7,
        8,
        9,
        15,
        16,
        17,
        31,
        32,
        33,
        63,
        64,
        65,
        127,
        200,
        -1,
        -8,
        i32::MIN,
    ];
    let mut wat = String::from("(module\n");
    for (shape, _, op) in ops {
        for (k, a) in amounts.iter().enumerate() {
            wat.push_str(&format!(
                "(func (export \"{shape}.{op}.{k}\") (param v128) (result v128)
                   ({shape}.{op} (local.get 0) (i32.const {a})))\n"
            ));
        }
        wat.push_str(&format!(
            "(func (export \"{shape}.{op}\") (param v128 i32) (result v128)
               ({shape}.{op} (local.get 0) (local.get 1)))\n"
        ));
    }
    wat.push(')');
    assert_uses(&wat, 0, "V128ShiftImm");
    assert_uses(&wat, amounts.len(), "V128Shift {");
    let (mut store, inst) = instance(&wat);
    let x: u128 = 0x8123_4567_89ab_cdef_fedc_ba98_7654_3210;
    for (shape, bits, op) in ops {
        for (k, &a) in amounts.iter().enumerate() {
            let n = (a as u32) % bits;
            let lanes = 128 / bits;
            let mut expect = 0u128;
            for lane in 0..lanes {
                let mask = if bits == 128 {
                    u128::MAX
                } else {
                    (1u128 << bits) - 1
                };
                let v = (x >> (lane * bits)) & mask;
                let r = match op {
                    "shl" => (v << n) & mask,
                    "shr_u" => v >> n,
                    _ => {
                        // Sign-extend the lane, shift arithmetically, cut back.
                        let signed = ((v << (128 - bits)) as i128) >> (128 - bits);
                        ((signed >> n) as u128) & mask
                    }
                };
                expect |= r << (lane * bits);
            }
            let name = format!("{shape}.{op}.{k}");
            let got = call(&mut store, inst, &name, &[Val::V128(x)]).unwrap();
            assert_eq!(got[0], Val::V128(expect), "{name}: {shape}.{op} by {a}");
            let by_local = call(
                &mut store,
                inst,
                &format!("{shape}.{op}"),
                &[Val::V128(x), Val::I32(a)],
            )
            .unwrap();
            assert_eq!(by_local[0], Val::V128(expect), "{shape}.{op} by local {a}");
        }
    }
}

/// A rotation written as two shifts of one vector and an `or` or `xor` (SIMD has no
/// rotate) runs as one `V128Rotl32Imm`/`V128Rotl64Imm`, in either order of the shifts and
/// of the `or`'s operands, and gives what a lane model gives. Near misses stay three
/// instructions and keep their own meaning: amounts that do not add up to the lane
/// width, a zero amount with `xor` (`x ^ x` is 0, not `x`), shifts of two different
/// vectors, and shifts of different lane widths.
#[test]
fn simd_rotations_by_two_shifts_agree_with_a_lane_model() {
    // (name, wat of the body over locals 0 and 1, lane bits, Some(rotation) if fused)
    let rot = |shape: &str, first: &str, k: i32, second: &str, m: i32, comb: &str, swap: bool| {
        let a = format!("({shape}.{first} (local.get 0) (i32.const {k}))");
        let b = format!("({shape}.{second} (local.get 0) (i32.const {m}))");
        let (a, b) = if swap { (b, a) } else { (a, b) };
        // `swap` evaluates the second shift first, as its wat order says.
        format!("(v128.{comb} {a} {b})")
    };
    let cases: Vec<(String, String, bool)> = vec![
        (
            "rotl32.12".into(),
            rot("i32x4", "shl", 20, "shr_u", 12, "or", false),
            true,
        ),
        (
            "rotl32.7".into(),
            rot("i32x4", "shl", 25, "shr_u", 7, "or", true),
            true,
        ),
        (
            "rotl32.xor".into(),
            rot("i32x4", "shr_u", 31, "shl", 1, "xor", false),
            true,
        ),
        (
            "rotl32.big".into(),
            rot("i32x4", "shl", 40, "shr_u", 24, "or", false),
            true,
        ),
        (
            "rotl64.13".into(),
            rot("i64x2", "shl", 13, "shr_u", 51, "or", false),
            true,
        ),
        (
            "rotl64.xor".into(),
            rot("i64x2", "shr_u", 1, "shl", 63, "xor", true),
            true,
        ),
        (
            "miss.sum".into(),
            rot("i32x4", "shl", 20, "shr_u", 11, "or", false),
            false,
        ),
        (
            "miss.zero.xor".into(),
            rot("i32x4", "shl", 0, "shr_u", 32, "xor", false),
            false,
        ),
        (
            "miss.zero.or".into(),
            rot("i32x4", "shl", 32, "shr_u", 0, "or", false),
            false,
        ),
        (
            "miss.width".into(),
            rot("i64x2", "shl", 20, "shr_u", 12, "or", false),
            false,
        ),
        (
            "miss.mixed".into(),
            "(v128.or (i32x4.shl (local.get 0) (i32.const 20)) \
                      (i64x2.shr_u (local.get 0) (i32.const 12)))"
                .into(),
            false,
        ),
        (
            "miss.two.vectors".into(),
            "(v128.or (i32x4.shl (local.get 0) (i32.const 20)) \
                      (i32x4.shr_u (local.get 1) (i32.const 12)))"
                .into(),
            false,
        ),
        (
            "miss.and".into(),
            "(v128.and (i32x4.shl (local.get 0) (i32.const 20)) \
                       (i32x4.shr_u (local.get 0) (i32.const 12)))"
                .into(),
            false,
        ),
    ];
    let mut wat = String::from("(module\n");
    for (name, body, _) in &cases {
        wat.push_str(&format!(
            "(func (export \"{name}\") (param v128 v128) (result v128) {body})\n"
        ));
    }
    // A rotation whose result is stored to a local (the `local.set` takes over its
    // output), then rotated again in place: `x = rotl(x, 7); x = rotl(x, 7)`.
    wat.push_str(
        "(func (export \"twice\") (param v128 v128) (result v128)
           (local.set 0 (v128.or (i32x4.shl (local.get 0) (i32.const 7))
                                 (i32x4.shr_u (local.get 0) (i32.const 25))))
           (local.set 0 (v128.or (i32x4.shl (local.get 0) (i32.const 7))
                                 (i32x4.shr_u (local.get 0) (i32.const 25))))
           (local.get 0))\n",
    );
    wat.push(')');
    for (k, (name, _, fused)) in cases.iter().enumerate() {
        let code = internal_code(&wat, k);
        let rotates = code.contains("V128Rotl32Imm") || code.contains("V128Rotl64Imm");
        assert_eq!(rotates, *fused, "{name}:\n{code}");
        assert_eq!(code.contains("V128ShiftImm"), !fused, "{name}:\n{code}");
    }
    let twice = internal_code(&wat, cases.len());
    assert_eq!(twice.matches("V128Rotl32Imm").count(), 2, "{twice}");

    // The lane model: each shift and the combination, lane by lane.
    let lanes_of = |v: u128, bits: u32| -> Vec<u128> {
        let mask = (1u128 << bits) - 1;
        (0..128 / bits).map(|i| (v >> (i * bits)) & mask).collect()
    };
    let model_shift = |v: u128, bits: u32, op: &str, n: i32| -> u128 {
        let n = (n as u32) % bits;
        let mask = (1u128 << bits) - 1;
        lanes_of(v, bits)
            .iter()
            .enumerate()
            .map(|(i, &lane)| {
                let r = if op == "shl" {
                    (lane << n) & mask
                } else {
                    lane >> n
                };
                r << (i as u32 * bits)
            })
            .fold(0, |acc, r| acc | r)
    };
    let (mut store, inst) = instance(&wat);
    let x: u128 = 0x8123_4567_89ab_cdef_fedc_ba98_7654_3210;
    let y: u128 = 0x0f1e_2d3c_4b5a_6978_8796_a5b4_c3d2_e1f0;
    let expect = |name: &str| -> u128 {
        let (s, b) = (
            |o, n| model_shift(x, 32, o, n),
            |o, n| model_shift(x, 64, o, n),
        );
        match name {
            "rotl32.12" => s("shl", 20) | s("shr_u", 12),
            "rotl32.7" => s("shr_u", 7) | s("shl", 25),
            "rotl32.xor" => s("shr_u", 31) ^ s("shl", 1),
            "rotl32.big" => s("shl", 40) | s("shr_u", 24),
            "rotl64.13" => b("shl", 13) | b("shr_u", 51),
            "rotl64.xor" => b("shl", 63) ^ b("shr_u", 1),
            "miss.sum" => s("shl", 20) | s("shr_u", 11),
            "miss.zero.xor" => s("shl", 0) ^ s("shr_u", 32),
            "miss.zero.or" => s("shl", 32) | s("shr_u", 0),
            "miss.width" => b("shl", 20) | b("shr_u", 12),
            "miss.mixed" => s("shl", 20) | b("shr_u", 12),
            "miss.two.vectors" => s("shl", 20) | model_shift(y, 32, "shr_u", 12),
            "miss.and" => s("shl", 20) & s("shr_u", 12),
            other => panic!("no model for {other}"),
        }
    };
    for (name, _, _) in &cases {
        let got = call(&mut store, inst, name, &[Val::V128(x), Val::V128(y)]).unwrap();
        assert_eq!(got[0], Val::V128(expect(name)), "{name}");
    }
    // Rotations of every lane by 7, twice, are rotations by 14.
    let by14 = lanes_of(x, 32)
        .iter()
        .enumerate()
        .map(|(i, &l)| u128::from((l as u32).rotate_left(14)) << (i * 32))
        .fold(0, |acc, r| acc | r);
    let got = call(&mut store, inst, "twice", &[Val::V128(x), Val::V128(y)]).unwrap();
    assert_eq!(got[0], Val::V128(by14), "twice");
}

/// The steps of a vectorized ARX round (BLAKE3's SSE2 code) run fused, and give what a lane
/// model gives, every local they write included:
/// - `_mm_shufflehi_epi16(_mm_shufflelo_epi16(d))` (two 16-bit shuffles of one local in
///   place) is one rotation by 16; two lane shuffles that do not rotate are one shuffle;
/// - `d ^= a` then a rotation of `d` (by shuffles or shifts, in place or into another
///   local) is one `V128XorRotl32`, and with the `a += b` before it one `V128AddXorRotl32`
///   (either operand order of the xor, and `a ^ a`);
/// - two `i32x4.add` in a row are one `V128Add2`, the second reading the first's result.
///
/// Near misses keep their instructions: a second shuffle that reads another vector too or
/// writes another local (the first's result stays visible), a label between the shuffles,
/// a subtraction before the xor, and an xor whose result is not the one rotated.
#[test]
fn vector_arx_steps_fuse_and_agree_with_a_lane_model() {
    const LO: &str = "2 3 0 1 6 7 4 5 8 9 10 11 12 13 14 15";
    const HI: &str = "0 1 2 3 4 5 6 7 10 11 8 9 14 15 12 13";
    // The high half from the second operand.
    const HI_FROM_A: &str = "0 1 2 3 4 5 6 7 26 27 24 25 30 31 28 29";
    const PICK_LANES: &str = "4 5 6 7 0 1 2 3 12 13 14 15 12 13 14 15";
    const SWAP_HALVES: &str = "8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7";
    let shuffle = |mask: &str, dst: u32, lhs: u32, rhs: u32| {
        format!("(local.set {dst} (i8x16.shuffle {mask} (local.get {lhs}) (local.get {rhs})))")
    };
    let rotl = |dst: u32, src: u32, k: u32| {
        format!(
            "(local.set {dst} (v128.or (i32x4.shl (local.get {src}) (i32.const {k}))
                                       (i32x4.shr_u (local.get {src}) (i32.const {}))))",
            32 - k
        )
    };
    let bin = |op: &str, dst: u32, lhs: u32, rhs: u32| {
        format!("(local.set {dst} ({op} (local.get {lhs}) (local.get {rhs})))")
    };
    let (add, xor, sub) = ("i32x4.add", "v128.xor", "i32x4.sub");
    // (name, body over locals a b c d = 0 1 2 3, the two locals returned, what the code
    // must contain (a `v128` local `n` is in slot `2n`), how many of `counted` it must have)
    type Case = (
        &'static str,
        String,
        [u32; 2],
        &'static str,
        (&'static str, usize),
    );
    let cases: Vec<Case> = vec![
        (
            "rot16",
            shuffle(LO, 3, 3, 3) + &shuffle(HI, 3, 3, 3),
            [3, 0],
            "V128Rotl32Imm { dst: 6, lhs: 6, amount: 16 }",
            ("(Shuffle", 0),
        ),
        (
            "compose",
            shuffle(PICK_LANES, 3, 0, 0) + &shuffle(SWAP_HALVES, 3, 3, 3),
            [3, 0],
            "V128Shuffle32To",
            ("(Shuffle", 1),
        ),
        (
            "xor.rot16",
            bin(xor, 3, 3, 0) + &shuffle(LO, 3, 3, 3) + &shuffle(HI, 3, 3, 3),
            [3, 0],
            "V128XorRotl32 { dst: 6, lhs: 6, rhs: 0, dst2: 6, amount: 16 }",
            ("V128Binary", 0),
        ),
        (
            "xor.rot12.other",
            bin(xor, 1, 1, 2) + &rotl(3, 1, 20),
            [1, 3],
            "V128XorRotl32 { dst: 2, lhs: 2, rhs: 4, dst2: 6, amount: 20 }",
            ("V128Binary", 0),
        ),
        (
            "add.xor.rot",
            bin(add, 0, 0, 1) + &bin(xor, 3, 3, 0) + &rotl(3, 3, 24),
            [0, 3],
            "V128AddXorRotl32 { dst: 0, lhs: 0, rhs: 2, dst2: 6, other: 6, dst3: 6, amount: 24 }",
            ("V128Binary", 0),
        ),
        (
            "add.xor.rot.swapped",
            bin(add, 0, 0, 1) + &bin(xor, 3, 0, 3) + &rotl(2, 3, 7),
            [0, 2],
            "V128AddXorRotl32 { dst: 0, lhs: 0, rhs: 2, dst2: 6, other: 6, dst3: 4, amount: 7 }",
            ("V128Binary", 0),
        ),
        (
            "add.xor.self",
            bin(add, 0, 0, 1) + &bin(xor, 3, 0, 0) + &shuffle(LO, 3, 3, 3) + &shuffle(HI, 3, 3, 3),
            [0, 3],
            "V128AddXorRotl32 { dst: 0, lhs: 0, rhs: 2, dst2: 6, other: 0, dst3: 6, amount: 16 }",
            ("V128Binary", 0),
        ),
        (
            "add.add",
            bin(add, 0, 0, 2) + &bin(add, 0, 0, 1),
            [0, 3],
            "V128Add2 { dst: 0, lhs: 0, rhs: 4, dst2: 0, lhs2: 0, rhs2: 2 }",
            ("V128Binary", 0),
        ),
        (
            "miss.second.reads.another",
            shuffle(LO, 3, 3, 3) + &shuffle(HI_FROM_A, 3, 3, 0),
            [3, 0],
            "V128Shuffle16To",
            ("(Shuffle", 2),
        ),
        (
            "miss.first.kept",
            shuffle(LO, 2, 3, 3) + &shuffle(HI, 1, 2, 2),
            [2, 1],
            "V128Shuffle16To",
            ("(Shuffle", 2),
        ),
        (
            "miss.label",
            shuffle(LO, 3, 3, 3) + "(loop " + &shuffle(HI, 3, 3, 3) + ")",
            [3, 0],
            "V128Shuffle16To",
            ("(Shuffle", 2),
        ),
        (
            "miss.sub",
            bin(sub, 0, 0, 1) + &bin(xor, 3, 3, 0) + &rotl(3, 3, 24),
            [0, 3],
            "V128XorRotl32",
            ("V128Binary", 1),
        ),
        (
            "miss.not.rotated",
            bin(xor, 1, 1, 2) + &rotl(3, 2, 20),
            [1, 3],
            "V128Rotl32Imm",
            ("V128Binary", 1),
        ),
    ];
    let mut wat = String::from("(module\n");
    for (name, body, [r0, r1], _, _) in &cases {
        wat += &format!(
            "(func (export \"{name}\") (param v128 v128 v128 v128) (result v128 v128)
               {body} (local.get {r0}) (local.get {r1}))\n"
        );
    }
    wat.push(')');
    for (k, (name, _, _, uses, (counted, times))) in cases.iter().enumerate() {
        let code = internal_code(&wat, k);
        assert!(code.contains(uses), "{name} uses {uses}:\n{code}");
        assert_eq!(
            code.matches(counted).count(),
            *times,
            "{name}: {counted}:\n{code}"
        );
    }

    // The lane model.
    let lanes = |v: u128| -> [u32; 4] { std::array::from_fn(|i| (v >> (32 * i)) as u32) };
    let join = |l: [u32; 4]| {
        l.iter()
            .rev()
            .fold(0u128, |acc, &x| acc << 32 | u128::from(x))
    };
    let zip = |a: u128, b: u128, f: fn(u32, u32) -> u32| {
        let (a, b) = (lanes(a), lanes(b));
        join(std::array::from_fn(|i| f(a[i], b[i])))
    };
    let add = |a, b| zip(a, b, u32::wrapping_add);
    let sub = |a, b| zip(a, b, u32::wrapping_sub);
    let rot = |v: u128, k: u32| join(lanes(v).map(|x| x.rotate_left(k)));
    let shuffle = |mask: &str, a: u128, b: u128| -> u128 {
        let (a, b) = (a.to_le_bytes(), b.to_le_bytes());
        let bytes: Vec<u8> = mask
            .split(' ')
            .map(|i| i.parse::<usize>().unwrap())
            .map(|i| if i < 16 { a[i] } else { b[i - 16] })
            .collect();
        u128::from_le_bytes(bytes.try_into().unwrap())
    };
    let model = |name: &str, [a, b, c, d]: [u128; 4]| -> [u128; 2] {
        match name {
            "rot16" => [rot(d, 16), a],
            "compose" => [shuffle(SWAP_HALVES, shuffle(PICK_LANES, a, a), 0), a],
            "xor.rot16" => [rot(d ^ a, 16), a],
            "xor.rot12.other" => [b ^ c, rot(b ^ c, 20)],
            "add.xor.rot" => [add(a, b), rot(d ^ add(a, b), 24)],
            "add.xor.rot.swapped" => [add(a, b), rot(d ^ add(a, b), 7)],
            "add.xor.self" => [add(a, b), 0],
            "add.add" => [add(add(a, c), b), d],
            "miss.second.reads.another" => [shuffle(HI_FROM_A, shuffle(LO, d, d), a), a],
            "miss.first.kept" => [shuffle(LO, d, d), rot(d, 16)],
            "miss.label" => [rot(d, 16), a],
            "miss.sub" => [sub(a, b), rot(d ^ sub(a, b), 24)],
            "miss.not.rotated" => [b ^ c, rot(c, 20)],
            other => panic!("no model for {other}"),
        }
    };
    let (mut store, inst) = instance(&wat);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move || {
        let mut half = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        u128::from(half()) << 64 | u128::from(half())
    };
    for _ in 0..20 {
        let args = [random(), random(), random(), random()];
        for (name, ..) in &cases {
            let got = call(&mut store, inst, name, &args.map(Val::V128)).unwrap();
            let want = model(name, args).map(Val::V128);
            assert_eq!(got, want, "{name} on {args:x?}");
        }
    }
}

/// `v128.load (i32.add p C)` runs as one `V128LoadDisp`, which wraps `p + C` at 32 bits
/// before adding the offset and traps exactly where the unfused load would; an
/// `i32x4.dot_i16x8_s` added to an accumulator is one `V128DotAdd` (also when its result
/// is kept in a local and added to itself; not when the add does not read it). Both give
/// what a byte and lane model gives.
#[test]
fn fused_vector_loads_and_dot_products_agree_with_a_model() {
    let data: Vec<u8> = (0..256u32).map(|i| (i * 97 + 13) as u8).collect();
    let hex: String = data.iter().map(|b| format!("\\{b:02x}")).collect();
    let wat = format!(
        r#"(module (memory 1) (data (i32.const 0) "{hex}")
  (func (export "load") (param i32) (result v128)
    (v128.load offset=8 (i32.add (local.get 0) (i32.const 32))))
  (func (export "dot_add") (param v128 v128 v128) (result v128)
    (local.set 2 (i32x4.add (local.get 2) (i32x4.dot_i16x8_s (local.get 0) (local.get 1))))
    (local.get 2))
  (func (export "dot_self") (param v128 v128 v128) (result v128 v128)
    (local.set 0 (i32x4.add (local.tee 2 (i32x4.dot_i16x8_s (local.get 0) (local.get 1)))
                            (local.get 2)))
    (local.get 0) (local.get 2))
  (func (export "dot_then_add") (param v128 v128 v128) (result v128 v128)
    (local.set 2 (i32x4.dot_i16x8_s (local.get 0) (local.get 1)))
    (local.set 0 (i32x4.add (local.get 0) (local.get 1)))
    (local.get 0) (local.get 2))
  (func (export "load_scaled") (param i32) (result v128)
    (v128.load offset=8 (i32.add (i32.shl (local.get 0) (i32.const 4)) (i32.const 32)))))"#
    );
    assert_uses(&wat, 0, "V128LoadDisp");
    assert_uses(&wat, 4, "V128LoadDisp(LoadDisp { dst: 1, addr: 0, shift: 4");
    // An add that does not read the product is not fused with it.
    assert!(!internal_code(&wat, 3).contains("V128DotAdd"));
    assert_uses(&wat, 1, "V128DotAdd");
    assert_uses(&wat, 2, "V128DotAdd");
    let (mut store, inst) = instance(&wat);
    let page = 65536u64;
    for p in [
        0u32,
        7,
        200,
        65_000,
        (page - 56) as u32,
        (page - 55) as u32,
        u32::MAX - 31,
    ] {
        let got = call(&mut store, inst, "load", &[Val::I32(p as i32)]);
        let at = u64::from(p.wrapping_add(32)) + 8;
        if at + 16 > page {
            assert!(got.is_err(), "load at {p} traps");
            continue;
        }
        let bytes: [u8; 16] =
            std::array::from_fn(|i| data.get(at as usize + i).copied().unwrap_or(0));
        assert_eq!(
            got.unwrap(),
            vec![Val::V128(u128::from_le_bytes(bytes))],
            "load at {p}"
        );
    }
    // `(i << 4) + 32`, wrapped at 32 bits before the offset.
    for i in [0u32, 5, 4093, 4094, 0x1000_0000 - 2, 0x1000_0000 - 3] {
        let got = call(&mut store, inst, "load_scaled", &[Val::I32(i as i32)]);
        let at = u64::from((i << 4).wrapping_add(32)) + 8;
        if at + 16 > page {
            assert!(got.is_err(), "scaled load at {i} traps");
            continue;
        }
        let bytes: [u8; 16] =
            std::array::from_fn(|k| data.get(at as usize + k).copied().unwrap_or(0));
        let want = vec![Val::V128(u128::from_le_bytes(bytes))];
        assert_eq!(got.unwrap(), want, "scaled load at {i}");
    }
    let halves = |v: u128| -> [i16; 8] { std::array::from_fn(|i| (v >> (16 * i)) as i16) };
    let words = |v: u128| -> [i32; 4] { std::array::from_fn(|i| (v >> (32 * i)) as i32) };
    let join = |w: [i32; 4]| {
        w.iter()
            .rev()
            .fold(0u128, |acc, &x| acc << 32 | u128::from(x as u32))
    };
    let dot = |a: u128, b: u128| {
        let (a, b) = (halves(a), halves(b));
        join(std::array::from_fn(|i| {
            (i32::from(a[2 * i]) * i32::from(b[2 * i]))
                .wrapping_add(i32::from(a[2 * i + 1]) * i32::from(b[2 * i + 1]))
        }))
    };
    let add = |a: u128, b: u128| {
        let (a, b) = (words(a), words(b));
        join(std::array::from_fn(|i| a[i].wrapping_add(b[i])))
    };
    let vectors = [
        0u128,
        u128::MAX,
        0x8000_8000_8000_8000_8000_8000_8000_8000,
        0x7fff_8000_7fff_8000_0001_ffff_1234_edcb,
        0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
    ];
    for a in vectors {
        for b in vectors {
            let acc = 0x7fff_ffff_8000_0000_0000_0001_ffff_fffe;
            let args = [Val::V128(a), Val::V128(b), Val::V128(acc)];
            let got = call(&mut store, inst, "dot_add", &args).unwrap();
            assert_eq!(got, vec![Val::V128(add(acc, dot(a, b)))], "{a:x} . {b:x}");
            let got = call(&mut store, inst, "dot_self", &args).unwrap();
            let p = dot(a, b);
            assert_eq!(
                got,
                vec![Val::V128(add(p, p)), Val::V128(p)],
                "{a:x} . {b:x} twice"
            );
            let got = call(&mut store, inst, "dot_then_add", &args).unwrap();
            let want = vec![Val::V128(add(a, b)), Val::V128(p)];
            assert_eq!(got, want, "{a:x} . {b:x}, then a + b");
        }
    }
}

/// `a += b; d ^= a` on `i64` runs as one `I64AddXor` (the sum on either side of the xor,
/// and xored with itself), and gives what Rust computes, both locals included. An xor that
/// does not read the sum, or an `i64.sub` before it, keeps two instructions.
#[test]
fn i64_add_then_xor_of_the_sum_fuses_and_agrees_with_rust() {
    let body = |first: &str, xor: &str| {
        format!(
            "(func (param i64 i64 i64) (result i64 i64)
               (local.set 0 (i64.{first} (local.get 0) (local.get 1)))
               (local.set 2 (i64.xor {xor}))
               (local.get 0) (local.get 2))"
        )
    };
    type Model = fn(u64, u64, u64) -> [u64; 2];
    let cases: [(&str, &str, bool, Model); 5] = [
        ("add", "(local.get 2) (local.get 0)", true, |a, b, d| {
            [a.wrapping_add(b), d ^ a.wrapping_add(b)]
        }),
        ("add", "(local.get 0) (local.get 2)", true, |a, b, d| {
            [a.wrapping_add(b), a.wrapping_add(b) ^ d]
        }),
        ("add", "(local.get 0) (local.get 0)", true, |a, b, _| {
            [a.wrapping_add(b), 0]
        }),
        ("add", "(local.get 2) (local.get 1)", false, |a, b, d| {
            [a.wrapping_add(b), d ^ b]
        }),
        ("sub", "(local.get 2) (local.get 0)", false, |a, b, d| {
            [a.wrapping_sub(b), d ^ a.wrapping_sub(b)]
        }),
    ];
    let mut wat = String::from("(module\n");
    for (k, (first, xor, _, _)) in cases.iter().enumerate() {
        wat += &body(first, xor).replace("(func", &format!("(func (export \"f{k}\")"));
    }
    wat.push(')');
    let (mut store, inst) = instance(&wat);
    for (k, (_, _, fused, model)) in cases.iter().enumerate() {
        let code = internal_code(&wat, k);
        assert_eq!(code.contains("I64AddXor"), *fused, "f{k}:\n{code}");
        for (a, b, d) in [
            (1u64, 2u64, 3u64),
            (u64::MAX, 1, 0x8000_0000_0000_0000),
            (
                0x0123_4567_89ab_cdef,
                0xfedc_ba98_7654_3210,
                0x5555_aaaa_5555_aaaa,
            ),
        ] {
            let args = [a, b, d].map(|x| Val::I64(x as i64));
            let got = call(&mut store, inst, &format!("f{k}"), &args).unwrap();
            let want: Vec<Val> = model(a, b, d).iter().map(|&x| Val::I64(x as i64)).collect();
            assert_eq!(got, want, "f{k} on {a:x} {b:x} {d:x}");
        }
    }
}

#[test]
fn a_loaded_factor_accumulated_is_one_instruction_and_traps_at_its_load() {
    // `sum += a[i] * b[k]`: the load of `b[k]` and the multiply-accumulate are one
    // `I32LoadMulAcc`, in either factor order; a load kept in a local is not fused.
    let wat = r#"(module (memory (export "memory") 1)
      (func (export "dot") (param $a i32) (param $b i32) (param $n i32) (result i32) (local $sum i32)
        (loop $next
          (local.set $sum (i32.add (local.get $sum)
            (i32.mul (i32.load (local.get $a)) (i32.load offset=4 (local.get $b)))))
          (local.set $sum (i32.add
            (i32.mul (i32.load offset=8 (local.get $b)) (local.get $n)) (local.get $sum)))
          (local.set $a (i32.add (local.get $a) (i32.const 4)))
          (br_if $next (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (local.get $sum))
      (func (export "kept") (param $p i32) (result i32) (local $x i32)
        (i32.add
          (i32.add (local.get $p) (i32.mul (local.get $p) (local.tee $x (i32.load (local.get $p)))))
          (local.get $x))))"#;
    let code = internal_code(wat, 0);
    assert_eq!(code.matches("I32LoadMulAcc").count(), 2, "{code}");
    assert!(!internal_code(wat, 1).contains("I32LoadMulAcc"));
    let (mut store, inst) = instance(wat);
    let memory = inst.get_memory(&store, "memory").unwrap();
    let words: Vec<u32> = (0..64u32)
        .map(|i| i.wrapping_mul(0x9e37_79b9) ^ 0x1234)
        .collect();
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    memory.write(&mut store, 0, &bytes).unwrap();
    let word = |addr: u32| words[(addr / 4) as usize];
    let model = |a: u32, b: u32, n: u32| {
        let (mut a, mut n, mut sum) = (a, n, 0u32);
        loop {
            sum = sum.wrapping_add(word(a).wrapping_mul(word(b + 4)));
            sum = word(b + 8).wrapping_mul(n).wrapping_add(sum);
            a += 4;
            n -= 1;
            if n == 0 {
                return sum as i32;
            }
        }
    };
    for (a, b, n) in [(0, 0, 1), (16, 40, 10), (100, 8, 20)] {
        let got = call(
            &mut store,
            inst,
            "dot",
            &[Val::I32(a as i32), Val::I32(b as i32), Val::I32(n as i32)],
        )
        .unwrap();
        assert_eq!(got, vec![Val::I32(model(a, b, n))], "dot({a}, {b}, {n})");
    }
    assert_eq!(
        call(&mut store, inst, "kept", &[Val::I32(8)]).unwrap(),
        vec![Val::I32(
            8u32.wrapping_add(8u32.wrapping_mul(word(8)))
                .wrapping_add(word(8)) as i32
        )]
    );
    // `b + 4` past the end of memory: the fused load traps, where the load is.
    let err = call(
        &mut store,
        inst,
        "dot",
        &[Val::I32(0), Val::I32(65532), Val::I32(1)],
    )
    .unwrap_err();
    let trap = err.as_trap().expect("a trap");
    assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);
    let load_offset = wat_load_offset(wat);
    assert_eq!(trap.backtrace[0].offset, Some(load_offset));
}

/// The module offset of the first `i32.load offset=4` in `wat`'s code.
fn wat_load_offset(wat: &str) -> u32 {
    let bytes = wat::parse_str(wat).unwrap();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
            let mut ops = body.get_operators_reader().unwrap();
            while !ops.eof() {
                let (op, at) = ops.read_with_offset().unwrap();
                if let wasmparser::Operator::I32Load { memarg } = op {
                    if memarg.offset == 4 {
                        return at as u32;
                    }
                }
            }
        }
    }
    panic!("no i32.load offset=4");
}

/// An engine translating eagerly (each operator validated as it is decoded) and one
/// translating lazily (validated at `Module::new`, translated at the first call).
fn eager_and_lazy(simd: bool) -> [Engine; 2] {
    [false, true].map(|lazy| {
        let mut config = Config::default();
        config.lazy_translation(lazy).wasm_simd(simd);
        Engine::new(&config)
    })
}

/// The compile error of `module` with eager and with lazy translation.
fn compile_errors(simd: bool, module: impl AsRef<[u8]>) -> [String; 2] {
    eager_and_lazy(simd).map(|engine| {
        Module::new(&engine, module.as_ref())
            .map(drop)
            .expect_err("invalid module compiled")
            .to_string()
    })
}

#[test]
fn eager_and_lazy_translation_reject_the_same_bodies_with_the_same_errors() {
    let grow = wat::parse_str("(module (memory 1) (func (drop (memory.grow (i32.const 0)))))")
        .expect("wat");
    // `memory.grow`'s memory index byte, not zero: no such memory.
    let at = grow
        .windows(2)
        .rposition(|w| w == [0x40, 0x00])
        .expect("memory.grow");
    let mut bad_grow = grow.clone();
    bad_grow[at + 1] = 0x01;
    let cases: [(Vec<u8>, &str); 4] = [
        (
            b"(module (func (result i32) (i64.const 1)))".to_vec(),
            "type mismatch",
        ),
        (
            b"(module (func (i32.add (i32.const 1))))".to_vec(),
            "type mismatch",
        ),
        (bad_grow, "unknown memory 1"),
        (
            b"(module (func (result i32) (v128.const i64x2 0 0)))".to_vec(),
            "type mismatch",
        ),
    ];
    for (bytes, expected) in &cases {
        let [eager, lazy] = compile_errors(true, bytes);
        assert_eq!(eager, lazy);
        assert!(eager.contains(expected), "{eager}");
    }
    // The unpatched module is fine both ways.
    for engine in eager_and_lazy(true) {
        Module::new(&engine, &grow).expect("valid module");
    }
}

#[test]
fn simd_operators_are_rejected_when_simd_is_off_in_both_translation_modes() {
    // Lane 2 of (1 2 3 4) + (5 6 7 8), from a parameter so nothing is folded.
    let wat = "(module (func (export \"f\") (param i32) (result i32)
        (i32x4.extract_lane 2 (i32x4.add (i32x4.splat (local.get 0)) (v128.const i32x4 5 6 7 8)))))";
    let [eager, lazy] = compile_errors(false, wat);
    assert_eq!(eager, lazy);
    assert!(eager.contains("SIMD"), "{eager}");
    for engine in eager_and_lazy(true) {
        let module = Module::new(&engine, wat).expect("SIMD on");
        let mut store = Store::new(&engine, ());
        let inst = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .expect("instantiates");
        // With SIMD on, it runs (in both modes): 3 + 7.
        assert_eq!(call_i32(&mut store, inst, "f", &[3]), 10);
    }
}

#[test]
fn unsigned_division_by_a_constant_multiplies_by_its_reciprocal_and_agrees_with_rust() {
    let divisors: [u32; 12] = [
        1,
        2,
        3,
        7,
        10,
        641,
        139_968,
        1 << 31,
        0x8000_0001,
        1_000_000_007,
        u32::MAX - 1,
        u32::MAX,
    ];
    let mut wat = String::from("(module\n");
    for (k, d) in divisors.iter().enumerate() {
        let d = *d as i32;
        // The quotient into a local (the result slot is redirected), the remainder on the stack.
        wat.push_str(&format!(
            "(func (export \"div{k}\") (param i32) (result i32) (local i32)
               (local.set 1 (i32.div_u (local.get 0) (i32.const {d}))) (local.get 1))
             (func (export \"rem{k}\") (param i32) (result i32)
               (i32.rem_u (local.get 0) (i32.const {d})))\n"
        ));
    }
    wat.push_str(
        "(func (export \"rem_zero\") (param i32) (result i32) (i32.rem_u (local.get 0) (i32.const 0))))",
    );
    assert_uses(&wat, 0, "I32DivUImm");
    assert_uses(&wat, 1, "I32RemUImm");
    assert!(
        !internal_code(&wat, 0).contains("Copy"),
        "{}",
        internal_code(&wat, 0)
    );
    let (mut store, inst) = instance(&wat);
    let mut x = 0x2545_f491u32;
    let mut numerators = vec![0u32, 1, 2, 9, 10, 11, 139_967, 139_968, u32::MAX, 1 << 31];
    for _ in 0..400 {
        // xorshift: reproducible and spread over the whole range.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        numerators.push(x);
    }
    for (k, &d) in divisors.iter().enumerate() {
        for &n in numerators
            .iter()
            .chain(&[d - 1, d, d.wrapping_add(1), d.wrapping_mul(3)])
        {
            let n32 = n as i32;
            assert_eq!(
                call_i32(&mut store, inst, &format!("div{k}"), &[n32]) as u32,
                n / d,
                "{n} / {d}"
            );
            assert_eq!(
                call_i32(&mut store, inst, &format!("rem{k}"), &[n32]) as u32,
                n % d,
                "{n} % {d}"
            );
        }
    }
    // A zero divisor still traps.
    let err = call(&mut store, inst, "rem_zero", &[Val::I32(5)]).unwrap_err();
    assert_eq!(
        err.as_trap().map(|t| t.kind.clone()),
        Some(TrapKind::IntegerDivideByZero)
    );
}
