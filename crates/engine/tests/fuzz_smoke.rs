//! A small fuzz-style test run in CI: random and mutated byte strings through
//! decode → validate → translate must never panic (errors are fine).

use nanoproc_engine::{Engine, Module};

/// xorshift64*: deterministic, dependency-free randomness.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SEEDS: &[&str] = &[
    r#"(module (func (export "f") (param i32) (result i32)
        (block (result i32) (br_table 0 0 (local.get 0) (local.get 0)))))"#,
    r#"(module (memory 1) (data (i32.const 0) "abc")
        (func (export "g") (param i32 i64) (result i64)
          (i64.add (i64.load (local.get 0)) (local.get 1))
          (i32.store8 (i32.const 3) (i32.const 9)))
        (table 2 funcref) (elem (i32.const 0) func 0)
        (global (mut i32) (i32.const 4)))"#,
    r#"(module (type $t (func (param i32) (result i32 i32)))
        (func (export "h") (param i32) (result i32)
          (loop $l (result i32) (local.get 0) (if (result i32) (then (i32.const 1)) (else (i32.const 2))))
          (call_indirect (type $t) (i32.const 0) (i32.const 0)) (drop) (i32.add))
        (table 1 funcref))"#,
    r#"(module (func (export "s") (param v128) (result v128)
        (i32x4.add (local.get 0) (v128.const i32x4 1 2 3 4))
        (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (local.get 0))))"#,
];

fn compile_never_panics(engine: &Engine, bytes: &[u8]) {
    // Errors are expected for most inputs; a panic fails the test.
    let _ = Module::new(engine, bytes);
}

#[test]
fn random_bytes_never_panic() {
    let engine = Engine::default();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let len = rng.below(200);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Half of them get a valid header so the parser goes further.
        if rng.below(2) == 0 {
            let header = b"\0asm\x01\0\0\0";
            bytes.splice(0..0, header.iter().copied());
        }
        compile_never_panics(&engine, &bytes);
    }
}

#[test]
fn mutated_modules_never_panic() {
    let engine = Engine::default();
    let seeds: Vec<Vec<u8>> = SEEDS.iter().map(|s| wat::parse_str(s).unwrap()).collect();
    for s in &seeds {
        Module::new(&engine, s).expect("seed modules are valid");
    }
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let mut compiled = 0;
    for i in 0..6000 {
        let mut bytes = seeds[i % seeds.len()].clone();
        for _ in 0..1 + rng.below(4) {
            match rng.below(4) {
                0 => {
                    let at = rng.below(bytes.len());
                    bytes[at] = rng.next() as u8;
                }
                1 => {
                    let at = rng.below(bytes.len());
                    bytes[at] ^= 1 << rng.below(8);
                }
                2 => {
                    let at = rng.below(bytes.len());
                    bytes.insert(at, rng.next() as u8);
                }
                _ => {
                    let at = rng.below(bytes.len());
                    bytes.remove(at);
                }
            }
        }
        if Module::new(&engine, &bytes).is_ok() {
            compiled += 1;
        }
    }
    // Some mutants must still be valid, or the test exercises nothing past the parser.
    assert!(compiled > 50, "only {compiled} mutants compiled");
}
