//! Whole-function idioms (`crates/engine/src/idioms.rs`): the two `__multi3` bodies
//! that C and Rust programs carry are run as one 128-bit multiply and their two stores,
//! with the results, the traps and the partial writes of the operators they replace.

use nanoproc_engine::{Engine, Instance, Linker, Module, Store, TrapKind, Val};

/// compiler-rt's `__multi3` as clang emits it (from sightglass's shootout-ed25519).
const COMPILER_RT: &str = r#"
  (func $__multi3 (param i32 i64 i64 i64 i64)
    (local i64)
    local.get 0
    local.get 4
    local.get 1
    i64.mul
    local.get 2
    local.get 3
    i64.mul
    i64.add
    local.get 3
    i64.const 32
    i64.shr_u
    local.tee 2
    local.get 1
    i64.const 32
    i64.shr_u
    local.tee 4
    i64.mul
    i64.add
    local.get 3
    i64.const 4294967295
    i64.and
    local.tee 3
    local.get 1
    i64.const 4294967295
    i64.and
    local.tee 1
    i64.mul
    local.tee 5
    i64.const 32
    i64.shr_u
    local.get 3
    local.get 4
    i64.mul
    i64.add
    local.tee 3
    i64.const 32
    i64.shr_u
    i64.add
    local.get 3
    i64.const 4294967295
    i64.and
    local.get 2
    local.get 1
    i64.mul
    i64.add
    local.tee 1
    i64.const 32
    i64.shr_u
    i64.add
    i64.store offset=8
    local.get 0
    local.get 1
    i64.const 32
    i64.shl
    local.get 5
    i64.const 4294967295
    i64.and
    i64.or
    i64.store
  )"#;

/// Rust compiler-builtins' `__multi3` (from sightglass's rust-json).
const COMPILER_BUILTINS: &str = r#"
  (func $__multi3 (param i32 i64 i64 i64 i64)
    (local i64 i64 i64 i64 i64 i64)
    local.get 0
    local.get 3
    i64.const 4294967295
    i64.and
    local.tee 5
    local.get 1
    i64.const 4294967295
    i64.and
    local.tee 6
    i64.mul
    local.tee 7
    local.get 3
    i64.const 32
    i64.shr_u
    local.tee 8
    local.get 6
    i64.mul
    local.tee 6
    local.get 5
    local.get 1
    i64.const 32
    i64.shr_u
    local.tee 9
    i64.mul
    i64.add
    local.tee 5
    i64.const 32
    i64.shl
    i64.add
    local.tee 10
    i64.store
    local.get 0
    local.get 8
    local.get 9
    i64.mul
    local.get 5
    local.get 6
    i64.lt_u
    i64.extend_i32_u
    i64.const 32
    i64.shl
    local.get 5
    i64.const 32
    i64.shr_u
    i64.or
    i64.add
    local.get 10
    local.get 7
    i64.lt_u
    i64.extend_i32_u
    i64.add
    local.get 4
    local.get 1
    i64.mul
    local.get 3
    local.get 2
    i64.mul
    i64.add
    i64.add
    i64.store offset=8
  )"#;

/// A module with `body` as function 0 (`nop` inserted before its final `end` if `nop`,
/// which makes it no longer the idiom without changing what it computes or where its
/// operators are), called through `mul`.
fn module_text(body: &str, nop: bool) -> String {
    let body = body.trim_end();
    let body = match (nop, body.strip_suffix(')')) {
        (true, Some(open)) => format!("{open} nop)"),
        _ => body.to_string(),
    };
    format!(
        r#"(module (memory (export "memory") 1)
          {body}
          (func (export "mul") (param i32 i64 i64 i64 i64)
            (call $__multi3 (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4))))"#
    )
}

fn instance(text: &str) -> (Store<()>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, text).expect("module compiles");
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .expect("module instantiates");
    (store, inst)
}

fn internal_code(text: &str) -> String {
    let module = Module::new(&Engine::default(), text).expect("module compiles");
    module.internal_code(0).expect("function 0 exists")
}

/// Calls `mul(ret, a, b)` and returns the 16 bytes at `ret` (or the trap).
fn mul(
    store: &mut Store<()>,
    inst: Instance,
    ret: i32,
    a: u128,
    b: u128,
) -> Result<(), nanoproc_engine::Error> {
    let f = inst.get_func(&*store, "mul").expect("mul");
    let args = [
        Val::I32(ret),
        Val::I64(a as u64 as i64),
        Val::I64((a >> 64) as u64 as i64),
        Val::I64(b as u64 as i64),
        Val::I64((b >> 64) as u64 as i64),
    ];
    f.call(&mut *store, &args, &mut [])
}

fn bytes_at(store: &Store<()>, inst: Instance, at: usize, n: usize) -> Vec<u8> {
    let memory = inst.get_memory(store, "memory").expect("memory");
    let mut buf = vec![0u8; n];
    memory.read(store, at, &mut buf).expect("in bounds");
    buf
}

/// Operands with every carry pattern: zero, one, all ones, halves, and a spread of others.
fn operands() -> Vec<u128> {
    let mut v = vec![
        0,
        1,
        u128::MAX,
        u64::MAX as u128,
        (u64::MAX as u128) << 64,
        1 << 63,
        1 << 64,
        1 << 127,
        0xFFFF_FFFF,
        0xFFFF_FFFF_0000_0000,
    ];
    let mut x: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
    for _ in 0..30 {
        x = x
            .wrapping_mul(0x2545_F491_4F6C_DD1D_9E37_79B9_7F4A_7C15)
            .wrapping_add(0x9e37);
        v.push(x);
        v.push(x >> (x % 128) as u32);
    }
    v
}

#[test]
fn both_multi3_bodies_are_recognized_and_nothing_else() {
    for body in [COMPILER_RT, COMPILER_BUILTINS] {
        let exact = internal_code(&module_text(body, false));
        assert!(exact.contains("I64MulWide"), "{exact}");
        let changed = internal_code(&module_text(body, true));
        assert!(!changed.contains("I64MulWide"), "{changed}");
        // One constant different: a different function, translated as it is.
        let shifted = body.replacen("i64.const 32", "i64.const 31", 1);
        let near = internal_code(&module_text(&shifted, false));
        assert!(!near.contains("I64MulWide"), "{near}");
    }
}

#[test]
fn multi3_stores_the_low_128_bits_of_the_product() {
    let ops = operands();
    for body in [COMPILER_RT, COMPILER_BUILTINS] {
        // The operators themselves (`nop` keeps them from being recognized) and the idiom.
        for nop in [true, false] {
            let (mut store, inst) = instance(&module_text(body, nop));
            for &a in &ops {
                for &b in ops.iter().step_by(3) {
                    mul(&mut store, inst, 64, a, b).expect("no trap");
                    let got =
                        u128::from_le_bytes(bytes_at(&store, inst, 64, 16).try_into().unwrap());
                    assert_eq!(got, a.wrapping_mul(b), "{a:#x} * {b:#x}, nop {nop}");
                }
            }
        }
    }
}

/// Where function 0's `i64.store`s are in the module `text`: (byte offset, memarg
/// offset), in operator order. Read with wasmparser, independently of the engine.
fn stores_of_function_0(text: &str) -> Vec<(u32, u64)> {
    let bytes = wat::parse_str(text).expect("valid text");
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload.expect("valid module") {
            let mut ops = body.get_operators_reader().expect("operators");
            let mut stores = Vec::new();
            while !ops.eof() {
                let (op, at) = ops.read_with_offset().expect("operator");
                if let wasmparser::Operator::I64Store { memarg } = op {
                    stores.push((at as u32, memarg.offset));
                }
            }
            return stores;
        }
    }
    panic!("no code section");
}

#[test]
fn multi3_traps_as_its_operators_do() {
    // `ret` 8 bytes below the end of memory: the half stored at `ret + 8` is out of
    // bounds. compiler-rt stores that half first, so nothing is written; compiler-builtins
    // stores the low half first, which lands. The trap points at the first store that
    // does not fit, in the idiom as in the operators.
    let end = 65536;
    for (body, low_lands) in [(COMPILER_RT, false), (COMPILER_BUILTINS, true)] {
        for nop in [true, false] {
            let text = module_text(body, nop);
            let stores = stores_of_function_0(&text);
            assert_eq!(stores.len(), 2);
            let (mut store, inst) = instance(&text);
            for ret in [end - 8, end - 1, -8, i32::MAX] {
                let err = mul(&mut store, inst, ret, 0x1111_2222_3333_4444, 3).unwrap_err();
                let trap = err.as_trap().expect("a trap");
                assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);
                let failing = stores
                    .iter()
                    .find(|(_, offset)| u64::from(ret as u32) + offset + 8 > end as u64)
                    .expect("one store fails");
                assert_eq!(
                    trap.backtrace[0].offset,
                    Some(failing.0),
                    "ret {ret}, nop {nop}"
                );
            }
            let written = bytes_at(&store, inst, (end - 8) as usize, 8);
            let expected = if low_lands {
                (0x1111_2222_3333_4444_u64 * 3).to_le_bytes().to_vec()
            } else {
                vec![0; 8]
            };
            assert_eq!(written, expected, "nop {nop}");
            // In bounds at the last possible place.
            mul(&mut store, inst, end - 16, 5, 7).expect("fits");
            assert_eq!(
                bytes_at(&store, inst, (end - 16) as usize, 16),
                35u128.to_le_bytes()
            );
        }
    }
}

#[test]
fn multi3_under_fuel_is_metered_and_exact() {
    // With fuel, the idiom still starts with its fuel region: each call costs fuel, and
    // running out stops it before it stores anything.
    let mut config = nanoproc_engine::Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    for body in [COMPILER_RT, COMPILER_BUILTINS] {
        let module = Module::new(&engine, module_text(body, false)).expect("compiles");
        assert!(module.internal_code(0).unwrap().contains("I64MulWide"));
        let mut store = Store::new(&engine, ());
        store.set_fuel(1_000).unwrap();
        let inst = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .expect("instantiates");
        let (a, b) = (u128::MAX / 3, 0xdead_beef_u128 << 70 | 12345);
        mul(&mut store, inst, 32, a, b).expect("enough fuel");
        let got = u128::from_le_bytes(bytes_at(&store, inst, 32, 16).try_into().unwrap());
        assert_eq!(got, a.wrapping_mul(b));
        let left = store.get_fuel().unwrap();
        assert!(left < 1_000, "the call consumed fuel");
        store.set_fuel(0).unwrap();
        let err = mul(&mut store, inst, 128, a, b).unwrap_err();
        assert_eq!(
            err.as_trap().map(|t| t.kind.clone()),
            Some(TrapKind::OutOfFuel)
        );
        assert_eq!(bytes_at(&store, inst, 128, 16), [0; 16]);
    }
}

/// musl's `strlen` as clang emits it for wasi-libc (from sightglass's shootout-minicsv).
const STRLEN_MUSL: &str = r#"
  (func $strlen (param i32) (result i32)
    (local i32 i32)
    local.get 0
    local.set 1
    block ;; label = @1
      block ;; label = @2
        local.get 0
        i32.const 3
        i32.and
        i32.eqz
        br_if 0 (;@2;)
        local.get 0
        local.set 1
        local.get 0
        i32.load8_u
        i32.eqz
        br_if 1 (;@1;)
        local.get 0
        i32.const 1
        i32.add
        local.tee 1
        i32.const 3
        i32.and
        i32.eqz
        br_if 0 (;@2;)
        local.get 1
        i32.load8_u
        i32.eqz
        br_if 1 (;@1;)
        local.get 0
        i32.const 2
        i32.add
        local.tee 1
        i32.const 3
        i32.and
        i32.eqz
        br_if 0 (;@2;)
        local.get 1
        i32.load8_u
        i32.eqz
        br_if 1 (;@1;)
        local.get 0
        i32.const 3
        i32.add
        local.tee 1
        i32.const 3
        i32.and
        i32.eqz
        br_if 0 (;@2;)
        local.get 1
        i32.load8_u
        i32.eqz
        br_if 1 (;@1;)
        local.get 0
        i32.const 4
        i32.add
        local.set 1
      end
      local.get 1
      i32.const -5
      i32.add
      local.set 1
      loop ;; label = @2
        local.get 1
        i32.const 5
        i32.add
        local.set 2
        local.get 1
        i32.const 4
        i32.add
        local.set 1
        local.get 2
        i32.load
        local.tee 2
        i32.const -1
        i32.xor
        local.get 2
        i32.const -16843009
        i32.add
        i32.and
        i32.const -2139062144
        i32.and
        i32.eqz
        br_if 0 (;@2;)
      end
      loop ;; label = @2
        local.get 1
        i32.const 1
        i32.add
        local.tee 1
        i32.load8_u
        br_if 0 (;@2;)
      end
    end
    local.get 1
    local.get 0
    i32.sub
  )"#;

/// A module with `body` as function 0 (with `nop` before its final `end` if `nop`: no
/// longer the idiom, computing the same), called through `len`, over one page of memory
/// filled with 0x41 bytes except where `zeros` put zero bytes.
fn strlen_module(nop: bool, zeros: &[u32]) -> String {
    let body = STRLEN_MUSL.trim_end();
    let body = match (nop, body.strip_suffix(')')) {
        (true, Some(open)) => format!("{open} nop)"),
        _ => body.to_string(),
    };
    let fill: String = zeros
        .iter()
        .map(|z| format!("(i32.store8 (i32.const {z}) (i32.const 0))"))
        .collect();
    format!(
        r#"(module (memory (export "memory") 1)
          {body}
          (func $fill (memory.fill (i32.const 0) (i32.const 0x41) (i32.const 65536)) {fill})
          (start $fill)
          (func (export "len") (param i32) (result i32) (call $strlen (local.get 0))))"#
    )
}

#[test]
fn musl_strlen_is_recognized_and_nothing_else() {
    let exact = internal_code(&strlen_module(false, &[]));
    assert!(exact.contains("StrlenOrSkip"), "{exact}");
    let with_nop = internal_code(&strlen_module(true, &[]));
    assert!(!with_nop.contains("StrlenOrSkip"), "{with_nop}");
    // The word test's constant changed: another function.
    let changed = strlen_module(false, &[]).replace("i32.const -16843009", "i32.const -16843008");
    assert!(!internal_code(&changed).contains("StrlenOrSkip"));
}

#[test]
fn musl_strlen_measures_as_its_operators_do() {
    // Zero bytes at every alignment, strings of every length up to 40 from each start,
    // and a last string ending at the last byte of memory.
    let zeros: Vec<u32> = (0..16).map(|i| 100 + i * 7).chain([65535]).collect();
    let model = |s: u32| zeros.iter().filter(|&&z| z >= s).min().map(|z| z - s);
    for nop in [true, false] {
        let (mut store, inst) = instance(&strlen_module(nop, &zeros));
        let f = inst.get_func(&store, "len").expect("len");
        let mut results = [Val::I32(0)];
        for s in (90..220).chain(65500..65536) {
            f.call(&mut store, &[Val::I32(s as i32)], &mut results)
                .expect("no trap");
            let Val::I32(len) = results[0] else {
                panic!("i32")
            };
            assert_eq!(Some(len as u32), model(s), "strlen({s}), nop {nop}");
        }
    }
}

#[test]
fn musl_strlen_without_a_zero_byte_traps_as_its_operators_do() {
    // Nothing from `s` to the end of memory is zero (and from 65536 on, nothing is in
    // bounds): the function's own code runs into the end of memory, at whichever load
    // its alignment reaches first.
    let mut traps = Vec::new();
    for nop in [true, false] {
        let (mut store, inst) = instance(&strlen_module(nop, &[10]));
        let f = inst.get_func(&store, "len").expect("len");
        for s in [11, 65533, 65534, 65535, 65536, 70000, -1] {
            let err = f
                .call(&mut store, &[Val::I32(s)], &mut [Val::I32(0)])
                .unwrap_err();
            let trap = err.as_trap().expect("a trap");
            assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);
            traps.push((s, trap.backtrace[0].offset));
        }
    }
    // The `nop` adds a byte at the end of the body; its size's LEB128 stays two bytes
    // long, so every operator before it has the same offset in both modules.
    let (with_nop, idiom) = traps.split_at(traps.len() / 2);
    assert_eq!(with_nop, idiom);
}
