//! Running nanoprocess graphs: every WIT value type round-tripped through a
//! cross-nanoprocess call (by the canonical ABI, in hand-written WAT guests), each kind of
//! bad guest data trapping cleanly with both nanoprocesses named, isolation (a child cannot
//! reach its parent's files), attenuation and missing imports refusing to run, poisoning,
//! and limits shared along the calling chain.
//!
//! The test side has its own small canonical-ABI encoder and decoder (`T`, `V`), written
//! independently of the runtime's, so a layout mistake in one shows up against the other.
//! Every round trip is checked in both memories: the importer's (what came back) and the
//! provider's (what it received).

use nanoproc_nano::*;
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------
// A scratch application folder.

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("nanoproc-graph-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(dir.join("data/secret.txt"), "the parent's secret").unwrap();
        Scratch(dir)
    }
    fn file(&self, name: &str, text: &str) -> &Self {
        std::fs::write(self.0.join(name), text).unwrap();
        self
    }
    fn manifest(&self, text: &str) -> Manifest {
        let path = self.0.join("nanoproc.toml");
        std::fs::write(&path, text).unwrap();
        Manifest::from_file(&path).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// The test's own canonical ABI model.

#[derive(Clone, Debug)]
enum T {
    Bool,
    U8,
    S8,
    U16,
    S16,
    U32,
    S32,
    U64,
    S64,
    F32,
    F64,
    Char,
    Str,
    List(Box<T>),
    Rec(Vec<T>),
    Var(Vec<Option<T>>),
    Flags(u32),
}

#[derive(Clone, Debug, PartialEq)]
enum V {
    Bool(bool),
    U8(u8),
    S8(i8),
    U16(u16),
    S16(i16),
    U32(u32),
    S32(i32),
    U64(u64),
    S64(i64),
    F32(f32),
    F64(f64),
    Char(char),
    Str(String),
    List(Vec<V>),
    Rec(Vec<V>),
    Var(u32, Option<Box<V>>),
    Flags(u64),
    // Bad data, for the traps.
    /// A string or list with this (pointer, length), pointing wherever.
    Raw(u32, u32),
    /// String bytes that need not be UTF-8.
    Bytes(Vec<u8>),
    /// A `char` or `bool` with this raw bit pattern.
    RawScalar(u32),
}

fn list(t: T) -> T {
    T::List(Box::new(t))
}
fn some(v: V) -> V {
    V::Var(1, Some(Box::new(v)))
}
fn none() -> V {
    V::Var(0, None)
}
fn s(x: &str) -> V {
    V::Str(x.to_string())
}

impl T {
    fn align(&self) -> u32 {
        match self {
            T::Bool | T::U8 | T::S8 => 1,
            T::U16 | T::S16 => 2,
            T::U32 | T::S32 | T::F32 | T::Char | T::Str | T::List(_) => 4,
            T::U64 | T::S64 | T::F64 => 8,
            T::Rec(fs) => fs.iter().map(T::align).max().unwrap_or(1),
            T::Var(cs) => self
                .disc()
                .max(cs.iter().flatten().map(T::align).max().unwrap_or(1)),
            T::Flags(n) => match n {
                0..=8 => 1,
                9..=16 => 2,
                _ => 4,
            },
        }
    }
    fn disc(&self) -> u32 {
        match self {
            T::Var(cs) if cs.len() <= 256 => 1,
            T::Var(cs) if cs.len() <= 65536 => 2,
            _ => 4,
        }
    }
    fn size(&self) -> u32 {
        let up = |n: u32, a: u32| n.div_ceil(a) * a;
        match self {
            T::Bool | T::U8 | T::S8 => 1,
            T::U16 | T::S16 => 2,
            T::U32 | T::S32 | T::F32 | T::Char => 4,
            T::U64 | T::S64 | T::F64 | T::Str | T::List(_) => 8,
            T::Rec(fs) => {
                let mut n = 0;
                for f in fs {
                    n = up(n, f.align()) + f.size();
                }
                up(n, self.align())
            }
            T::Var(cs) => {
                let pa = cs.iter().flatten().map(T::align).max().unwrap_or(1);
                let ps = cs.iter().flatten().map(T::size).max().unwrap_or(0);
                up(up(self.disc(), pa) + ps, self.align())
            }
            T::Flags(n) => match n {
                0 => 0,
                1..=8 => 1,
                9..=16 => 2,
                _ => 4 * n.div_ceil(32),
            },
        }
    }
    fn payload_offset(&self) -> u32 {
        let T::Var(cs) = self else { unreachable!() };
        let pa = cs.iter().flatten().map(T::align).max().unwrap_or(1);
        self.disc().div_ceil(pa) * pa
    }
}

/// A memory image built from address `base` up, with a bump allocator.
struct Image {
    bytes: Vec<u8>,
}

impl Image {
    fn new(base: usize) -> Image {
        Image {
            bytes: vec![0; base],
        }
    }
    fn alloc(&mut self, align: u32, size: u32) -> u32 {
        let a = align.max(1) as usize;
        let at = self.bytes.len().div_ceil(a) * a;
        self.bytes.resize(at + size as usize, 0);
        at as u32
    }
    fn put(&mut self, at: u32, bytes: &[u8]) {
        self.bytes[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    }
    fn store(&mut self, t: &T, v: &V, at: u32) {
        match (t, v) {
            (_, V::RawScalar(x)) => {
                let n = t.size() as usize;
                self.put(at, &x.to_le_bytes()[..n]);
            }
            (T::Bool, V::Bool(b)) => self.put(at, &[*b as u8]),
            (T::U8, V::U8(x)) => self.put(at, &[*x]),
            (T::S8, V::S8(x)) => self.put(at, &x.to_le_bytes()),
            (T::U16, V::U16(x)) => self.put(at, &x.to_le_bytes()),
            (T::S16, V::S16(x)) => self.put(at, &x.to_le_bytes()),
            (T::U32, V::U32(x)) => self.put(at, &x.to_le_bytes()),
            (T::S32, V::S32(x)) => self.put(at, &x.to_le_bytes()),
            (T::U64, V::U64(x)) => self.put(at, &x.to_le_bytes()),
            (T::S64, V::S64(x)) => self.put(at, &x.to_le_bytes()),
            (T::F32, V::F32(x)) => self.put(at, &x.to_le_bytes()),
            (T::F64, V::F64(x)) => self.put(at, &x.to_le_bytes()),
            (T::Char, V::Char(c)) => self.put(at, &(*c as u32).to_le_bytes()),
            (T::Str | T::List(_), V::Raw(p, l)) => {
                self.put(at, &p.to_le_bytes());
                self.put(at + 4, &l.to_le_bytes());
            }
            (T::Str, V::Str(x)) => self.store(t, &V::Bytes(x.as_bytes().to_vec()), at),
            (T::Str, V::Bytes(b)) => {
                let p = self.alloc(1, b.len() as u32);
                self.put(p, b);
                self.put(at, &p.to_le_bytes());
                self.put(at + 4, &(b.len() as u32).to_le_bytes());
            }
            (T::List(e), V::List(items)) => {
                let p = self.alloc(e.align(), e.size() * items.len() as u32);
                for (i, item) in items.iter().enumerate() {
                    self.store(e, item, p + i as u32 * e.size());
                }
                self.put(at, &p.to_le_bytes());
                self.put(at + 4, &(items.len() as u32).to_le_bytes());
            }
            (T::Rec(fs), V::Rec(vs)) => {
                let mut off: u32 = 0;
                for (f, v) in fs.iter().zip(vs) {
                    off = off.div_ceil(f.align()) * f.align();
                    self.store(f, v, at + off);
                    off += f.size();
                }
            }
            (T::Var(cs), V::Var(d, payload)) => {
                let n = t.disc() as usize;
                self.put(at, &d.to_le_bytes()[..n]);
                if let (Some(Some(ct)), Some(p)) = (cs.get(*d as usize), payload) {
                    self.store(ct, p, at + t.payload_offset());
                }
            }
            (T::Flags(_), V::Flags(bits)) => {
                let n = t.size() as usize;
                self.put(at, &bits.to_le_bytes()[..n]);
            }
            _ => panic!("value {v:?} does not fit type {t:?}"),
        }
    }
}

fn load(mem: &[u8], t: &T, at: u32) -> V {
    let at = at as usize;
    let b = |n: usize| -> u64 {
        let mut x = [0u8; 8];
        x[..n].copy_from_slice(&mem[at..at + n]);
        u64::from_le_bytes(x)
    };
    match t {
        T::Bool => {
            let x = b(1);
            assert!(x <= 1, "a stored bool is 0 or 1, found {x}");
            V::Bool(x == 1)
        }
        T::U8 => V::U8(b(1) as u8),
        T::S8 => V::S8(b(1) as i8),
        T::U16 => V::U16(b(2) as u16),
        T::S16 => V::S16(b(2) as i16),
        T::U32 => V::U32(b(4) as u32),
        T::S32 => V::S32(b(4) as i32),
        T::U64 => V::U64(b(8)),
        T::S64 => V::S64(b(8) as i64),
        T::F32 => V::F32(f32::from_bits(b(4) as u32)),
        T::F64 => V::F64(f64::from_bits(b(8))),
        T::Char => V::Char(char::from_u32(b(4) as u32).expect("a valid char")),
        T::Str => {
            let (p, l) = (b(4) as usize, (b(8) >> 32) as usize);
            V::Str(String::from_utf8(mem[p..p + l].to_vec()).expect("UTF-8"))
        }
        T::List(e) => {
            let (p, l) = (b(4) as u32, (b(8) >> 32) as u32);
            assert_eq!(p % e.align(), 0, "list pointer aligned");
            V::List((0..l).map(|i| load(mem, e, p + i * e.size())).collect())
        }
        T::Rec(fs) => {
            let mut off: u32 = 0;
            let mut out = Vec::new();
            for f in fs {
                off = off.div_ceil(f.align()) * f.align();
                out.push(load(mem, f, at as u32 + off));
                off += f.size();
            }
            V::Rec(out)
        }
        T::Var(cs) => {
            let d = b(t.disc() as usize) as u32;
            let payload = cs[d as usize]
                .as_ref()
                .map(|ct| Box::new(load(mem, ct, at as u32 + t.payload_offset())));
            V::Var(d, payload)
        }
        T::Flags(_) => V::Flags(b(t.size() as usize)),
    }
}

// ---------------------------------------------------------------------------------------
// The guests.

/// A bump allocator as `cabi_realloc`, growing memory as needed.
const REALLOC: &str = r#"
  (func $realloc (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (if (i32.eq (memory.grow (i32.add (i32.const 1) (i32.shr_u (i32.sub (global.get $heap)
                                        (i32.mul (memory.size) (i32.const 65536))) (i32.const 16))))
                        (i32.const -1))
              (then unreachable))))
    (local.get $p))
  (func (export "heap") (result i32) (global.get $heap))
"#;

const WIT_TYPES: &str = r#"
  type pad = tuple<u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64>;
  record point { x: s16, y: u8, z: f64 }
  record person { name: string, age: u8, tags: list<string>, scores: list<f32> }
  variant shape { circle(f32), rect(point), label(string), empty }
  enum color { red, green, blue }
  flags perms { read, write, exec }
  flags wide { w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15, w16, w17, w18, w19, w20, w21, w22, w23, w24, w25, w26 }
"#;

fn point_t() -> T {
    T::Rec(vec![T::S16, T::U8, T::F64])
}
fn person_t() -> T {
    T::Rec(vec![T::Str, T::U8, list(T::Str), list(T::F32)])
}
fn shape_t() -> T {
    T::Var(vec![Some(T::F32), Some(point_t()), Some(T::Str), None])
}
fn person(name: &str, age: u8, tags: &[&str], scores: &[f32]) -> V {
    V::Rec(vec![
        s(name),
        V::U8(age),
        V::List(tags.iter().map(|t| s(t)).collect()),
        V::List(scores.iter().map(|x| V::F32(*x)).collect()),
    ])
}

/// The memory round trips: `echo-N: func(x: T, pad: pad) -> T`. With more than 16 flat
/// parameters the arguments go through memory, and the provider returns the pointer it
/// received: the tuple starts with `x`, laid out exactly as the result.
fn echo_cases() -> &'static [(&'static str, T, Vec<V>)] {
    static CASES: std::sync::OnceLock<Vec<(&'static str, T, Vec<V>)>> = std::sync::OnceLock::new();
    CASES.get_or_init(make_echo_cases)
}

fn make_echo_cases() -> Vec<(&'static str, T, Vec<V>)> {
    let big = "ü🎉ab".repeat(20_000);
    let mib: Vec<V> = (0..1 << 20).map(|i| V::U8((i % 251) as u8)).collect();
    vec![
        (
            "string",
            T::Str,
            vec![s(""), s("hello"), s("héllo wörld ✓ 🎉 日本語"), V::Str(big)],
        ),
        (
            "list<u8>",
            list(T::U8),
            vec![V::List(vec![]), V::List(vec![V::U8(0), V::U8(1), V::U8(255)]), V::List(mib)],
        ),
        (
            "list<list<person>>",
            list(list(person_t())),
            vec![
                V::List(vec![]),
                V::List(vec![V::List(vec![])]),
                V::List(vec![
                    V::List(vec![
                        person("Zoë", 31, &["admin", "ünïcode"], &[1.5, -2.25]),
                        person("", 0, &[], &[]),
                    ]),
                    V::List(vec![]),
                    V::List(vec![person("Émile", 255, &["x"; 40], &[0.0; 100])]),
                ]),
            ],
        ),
        (
            "point",
            point_t(),
            vec![V::Rec(vec![V::S16(-3), V::U8(250), V::F64(1.5)])],
        ),
        (
            "tuple<bool, s8, u16, char, s64, f32, u32, s32, u64, f64>",
            T::Rec(vec![
                T::Bool,
                T::S8,
                T::U16,
                T::Char,
                T::S64,
                T::F32,
                T::U32,
                T::S32,
                T::U64,
                T::F64,
            ]),
            vec![
                V::Rec(vec![
                    V::Bool(true),
                    V::S8(-128),
                    V::U16(65535),
                    V::Char('🎉'),
                    V::S64(i64::MIN),
                    V::F32(-0.5),
                    V::U32(u32::MAX),
                    V::S32(-7),
                    V::U64(u64::MAX),
                    V::F64(std::f64::consts::PI),
                ]),
                V::Rec(vec![
                    V::Bool(false),
                    V::S8(127),
                    V::U16(0),
                    V::Char('\0'),
                    V::S64(0),
                    V::F32(f32::INFINITY),
                    V::U32(0),
                    V::S32(i32::MIN),
                    V::U64(0),
                    V::F64(-0.0),
                ]),
            ],
        ),
        (
            "shape",
            shape_t(),
            vec![
                V::Var(0, Some(Box::new(V::F32(1.5)))),
                V::Var(
                    1,
                    Some(Box::new(V::Rec(vec![V::S16(7), V::U8(8), V::F64(9.5)]))),
                ),
                V::Var(2, Some(Box::new(s("ü")))),
                V::Var(3, None),
            ],
        ),
        ("option<string>", T::Var(vec![None, Some(T::Str)]), vec![none(), some(s("x"))]),
        (
            "result<string, u32>",
            T::Var(vec![Some(T::Str), Some(T::U32)]),
            vec![
                V::Var(0, Some(Box::new(s("é")))),
                V::Var(1, Some(Box::new(V::U32(7)))),
            ],
        ),
        (
            "list<color>",
            list(T::Var(vec![None, None, None])),
            vec![V::List(vec![V::Var(0, None), V::Var(2, None), V::Var(1, None)])],
        ),
        (
            "list<perms>",
            list(T::Flags(3)),
            vec![V::List(vec![V::Flags(0b101), V::Flags(0), V::Flags(0b111)])],
        ),
        (
            "list<wide>",
            list(T::Flags(27)),
            vec![V::List(vec![V::Flags(0), V::Flags((1 << 27) - 1), V::Flags(1 << 26)])],
        ),
        (
            "list<option<u64>>",
            list(T::Var(vec![None, Some(T::U64)])),
            vec![V::List(vec![none(), some(V::U64(u64::MAX)), some(V::U64(3))])],
        ),
        (
            "list<result<_, string>>",
            list(T::Var(vec![None, Some(T::Str)])),
            vec![V::List(vec![V::Var(0, None), V::Var(1, Some(Box::new(s("bad"))))])],
        ),
        (
            "list<char>",
            list(T::Char),
            vec![V::List(vec![V::Char('a'), V::Char('é'), V::Char('🎉')])],
        ),
        (
            "list<bool>",
            list(T::Bool),
            vec![V::List(vec![V::Bool(true), V::Bool(false), V::Bool(true)])],
        ),
        (
            "tuple<list<s8>, list<s16>, list<u16>, list<u32>, list<s32>, list<u64>, list<s64>, list<f64>>",
            T::Rec(vec![
                list(T::S8),
                list(T::S16),
                list(T::U16),
                list(T::U32),
                list(T::S32),
                list(T::U64),
                list(T::S64),
                list(T::F64),
            ]),
            vec![V::Rec(vec![
                V::List(vec![V::S8(-1), V::S8(2)]),
                V::List(vec![V::S16(-300)]),
                V::List(vec![V::U16(60000), V::U16(1), V::U16(2)]),
                V::List(vec![V::U32(1 << 31)]),
                V::List(vec![V::S32(-5), V::S32(5)]),
                V::List(vec![]),
                V::List(vec![V::S64(-1 << 40)]),
                V::List(vec![V::F64(2.5), V::F64(-1e300)]),
            ])],
        ),
        (
            "option<option<list<string>>>",
            T::Var(vec![None, Some(T::Var(vec![None, Some(list(T::Str))]))]),
            vec![
                none(),
                some(none()),
                some(some(V::List(vec![s("a"), s(""), s("ç")]))),
            ],
        ),
    ]
}

/// Flat functions: `(name, WIT signature, importer's core signature, provider's core
/// function)`.
fn flat_functions() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    vec![
        ("len", "func(s: string) -> u32", "(param i32 i32) (result i32)",
         "(param i32 i32) (result i32) (local.get 1)"),
        ("first", "func(a: string, b: string) -> string", "(param i32 i32 i32 i32 i32)",
         "(param i32 i32 i32 i32) (result i32)
            (i32.store (i32.const 8) (local.get 0)) (i32.store (i32.const 12) (local.get 1)) (i32.const 8)"),
        ("add-u8", "func(a: u8, b: u8) -> u8", "(param i32 i32) (result i32)",
         "(param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))"),
        ("neg-s8", "func(a: s8) -> s8", "(param i32) (result i32)",
         "(param i32) (result i32) (i32.sub (i32.const 0) (local.get 0))"),
        ("id-bool", "func(b: bool) -> bool", "(param i32) (result i32)", "(param i32) (result i32) (local.get 0)"),
        ("id-char", "func(c: char) -> char", "(param i32) (result i32)", "(param i32) (result i32) (local.get 0)"),
        ("id-u16", "func(x: u16) -> u16", "(param i32) (result i32)", "(param i32) (result i32) (local.get 0)"),
        ("id-s16", "func(x: s16) -> s16", "(param i32) (result i32)", "(param i32) (result i32) (local.get 0)"),
        ("id-u32", "func(x: u32) -> u32", "(param i32) (result i32)", "(param i32) (result i32) (local.get 0)"),
        ("id-s32", "func(x: s32) -> s32", "(param i32) (result i32)", "(param i32) (result i32) (local.get 0)"),
        ("id-u64", "func(x: u64) -> u64", "(param i64) (result i64)", "(param i64) (result i64) (local.get 0)"),
        ("id-s64", "func(x: s64) -> s64", "(param i64) (result i64)", "(param i64) (result i64) (local.get 0)"),
        ("id-f32", "func(x: f32) -> f32", "(param f32) (result f32)", "(param f32) (result f32) (local.get 0)"),
        ("id-f64", "func(x: f64) -> f64", "(param f64) (result f64)", "(param f64) (result f64) (local.get 0)"),
        ("id-color", "func(c: color) -> color", "(param i32) (result i32)", "(param i32) (result i32) (local.get 0)"),
        ("id-perms", "func(p: perms) -> perms", "(param i32) (result i32)", "(param i32) (result i32) (local.get 0)"),
        ("unwrap-or", "func(o: option<u32>, d: u32) -> u32", "(param i32 i32 i32) (result i32)",
         "(param i32 i32 i32) (result i32) (select (local.get 1) (local.get 2) (local.get 0))"),
        ("pick", "func(r: result<f32, u64>) -> f64", "(param i32 i64) (result f64)",
         "(param i32 i64) (result f64)
            (if (result f64) (local.get 0)
              (then (f64.convert_i64_u (local.get 1)))
              (else (f64.promote_f32 (f32.reinterpret_i32 (i32.wrap_i64 (local.get 1))))))"),
        ("sum17", "func(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32, i: u32, j: u32, k: u32, l: u32, m: u32, n: u32, o: u32, p: u32, q: u32) -> u32",
         "(param i32) (result i32)",
         "(param $p i32) (result i32) (local $i i32) (local $sum i32)
            (loop $next
              (local.set $sum (i32.add (local.get $sum) (i32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $next (i32.lt_u (local.get $i) (i32.const 17))))
            (local.get $sum)"),
        ("nothing", "func()", "", ""),
        ("boom", "func()", "", "(call $explode)"),
        ("spin", "func()", "", "(loop $l (br $l))"),
        ("bad-string", "func() -> string", "(param i32)",
         "(result i32) (i32.store (i32.const 0x18) (i32.const 0x20)) (i32.store (i32.const 0x1c) (i32.const 2))
            (i32.store16 (i32.const 0x20) (i32.const 0xffff)) (i32.const 0x18)"),
        ("bad-color", "func() -> color", "(result i32)", "(result i32) (i32.const 9)"),
        ("probe-file", "func() -> u32", "(result i32)", "(result i32) (call $open_secret)"),
        ("probe-clock", "func() -> u32", "(result i32)",
         "(result i32) (call $clock_time_get (i32.const 0) (i64.const 0) (i32.const 0x40))"),
        ("grow", "func(pages: u32) -> s32", "(param i32) (result i32)", "(param i32) (result i32) (memory.grow (local.get 0))"),
    ]
}

const WASI_IMPORTS: &str = r#"
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
"#;

/// Opens `secret.txt` in preopen fd 3 for reading; returns the errno (0: opened).
const OPEN_SECRET: &str = r#"
  (data (i32.const 0x100) "secret.txt")
  (func $open_secret (result i32)
    (call $path_open (i32.const 3) (i32.const 0) (i32.const 0x100) (i32.const 10) (i32.const 0)
      (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 0x110)))
"#;

/// Importer region the tests write values into: [0x1000, 0x300000); its heap starts above.
const MAIN_HEAP: u32 = 0x30_0000;

fn echo_wit() -> String {
    let mut w = format!("package test:rt;\ninterface echo {{\n{WIT_TYPES}\n");
    for (i, (ty, _, _)) in echo_cases().iter().enumerate() {
        w.push_str(&format!("  echo-{i}: func(x: {ty}, pad: pad) -> {ty};\n"));
    }
    for (name, sig, _, _) in flat_functions() {
        w.push_str(&format!("  {name}: {sig};\n"));
    }
    w.push_str("}\nworld child { export echo; }\n");
    w
}

fn main_wat() -> String {
    let mut w = String::from("(module $main\n");
    w.push_str(WASI_IMPORTS);
    let mut wrappers = String::new();
    let mut add = |name: &str, sig: &str| {
        w.push_str(&format!(
            "  (import \"test:rt/echo\" \"{name}\" (func ${name} {sig}))\n"
        ));
        let n = sig.matches("i32").count()
            + sig.matches("i64").count()
            + sig.matches("f32").count()
            + sig.matches("f64").count()
            - results_in(sig);
        let gets: String = (0..n).map(|i| format!("(local.get {i}) ")).collect();
        wrappers.push_str(&format!(
            "  (func (export \"call-{name}\") {sig} {gets}(call ${name}))\n"
        ));
    };
    for i in 0..echo_cases().len() {
        add(&format!("echo-{i}"), "(param i32 i32)");
    }
    for (name, _, sig, _) in flat_functions() {
        add(name, sig);
    }
    w.push_str("  (memory (export \"memory\") 80)\n");
    w.push_str(&format!(
        "  (global $heap (mut i32) (i32.const {MAIN_HEAP}))\n"
    ));
    w.push_str(REALLOC);
    w.push_str(OPEN_SECRET);
    w.push_str("  (func (export \"open-own\") (result i32) (call $open_secret))\n");
    w.push_str("  (func (export \"ping\") (result i32) (i32.const 42))\n");
    w.push_str(&wrappers);
    w.push_str(")\n");
    w
}

/// How many core types of `sig` are results.
fn results_in(sig: &str) -> usize {
    match sig.find("(result") {
        Some(at) => {
            let r = &sig[at..];
            r.matches("i32").count()
                + r.matches("i64").count()
                + r.matches("f32").count()
                + r.matches("f64").count()
        }
        None => 0,
    }
}

fn child_wat() -> String {
    let mut w = String::from("(module $child\n");
    w.push_str(WASI_IMPORTS);
    w.push_str("  (memory (export \"memory\") 2)\n");
    w.push_str("  (global $heap (mut i32) (i32.const 0x1000))\n");
    w.push_str("  (global $last (mut i32) (i32.const 0))\n");
    w.push_str("  (global $posts (mut i32) (i32.const 0))\n");
    w.push_str(REALLOC);
    w.push_str(OPEN_SECRET);
    w.push_str("  (func (export \"last\") (result i32) (global.get $last))\n");
    w.push_str("  (func (export \"posts\") (result i32) (global.get $posts))\n");
    w.push_str("  (func $explode (i32.div_u (i32.const 1) (i32.const 0)) (drop))\n");
    for i in 0..echo_cases().len() {
        w.push_str(&format!(
            "  (func (export \"test:rt/echo#echo-{i}\") (param i32) (result i32) (global.set $last (local.get 0)) (local.get 0))\n"
        ));
        w.push_str(&format!(
            "  (func (export \"cabi_post_test:rt/echo#echo-{i}\") (param i32) (global.set $posts (i32.add (global.get $posts) (i32.const 1))))\n"
        ));
    }
    for (name, _, _, body) in flat_functions() {
        w.push_str(&format!(
            "  (func (export \"test:rt/echo#{name}\") {body})\n"
        ));
    }
    w.push_str(")\n");
    w
}

const MANIFEST: &str = r#"
[app]
main = "main"

[nanoprocess.main]
module = "main.wat"
grants.dirs = [{ host = "data", guest = "/data", mode = "ro" }]
links = { "test:rt/echo" = "child" }

[nanoprocess.child]
parent = "main"
module = "child.wat"
wit = "echo.wit"
limits = { memory = "8MiB" }
"#;

fn scratch(tag: &str) -> Scratch {
    let s = Scratch::new(tag);
    s.file("echo.wit", &echo_wit())
        .file("main.wat", &main_wat())
        .file("child.wat", &child_wat());
    s
}

fn app(s: &Scratch, manifest: &str) -> App {
    App::new(&s.manifest(manifest), AppOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn i32s(vals: &[Val]) -> Vec<i32> {
    vals.iter().map(|v| v.i32().unwrap()).collect()
}

/// Writes `x` (the params tuple `(x, pad)`) into main's memory, calls `echo-N`, and returns
/// the trap message if any.
fn echo(app: &mut App, n: usize, t: &T, x: &V) -> Result<(V, V), String> {
    let tuple = T::Rec(vec![t.clone(), T::Rec(vec![T::U64; 16])]);
    let mut img = Image::new(0x1000);
    let params = img.alloc(tuple.align(), tuple.size());
    img.store(t, x, params);
    let ret = img.alloc(t.align(), t.size());
    assert!(img.bytes.len() < MAIN_HEAP as usize);
    app.write_memory("main", 0x1000, &img.bytes[0x1000..])
        .unwrap();
    app.call(
        "main",
        &format!("call-echo-{n}"),
        &[Val::I32(params as i32), Val::I32(ret as i32)],
    )
    .map_err(|e| e.to_string())?;
    let main_mem = app
        .read_memory("main", 0, memory_size(app, "main"))
        .unwrap();
    let back = load(&main_mem, t, ret);
    let at = app.call("child", "last", &[]).unwrap()[0].i32().unwrap() as u32;
    let child_mem = app
        .read_memory("child", 0, memory_size(app, "child"))
        .unwrap();
    let seen = load(&child_mem, t, at);
    Ok((back, seen))
}

fn memory_size(app: &App, name: &str) -> usize {
    // Binary search for the end of the memory: read_memory fails past it.
    let (mut lo, mut hi) = (0usize, 1usize << 32);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if app.read_memory(name, mid - 1, 1).is_ok() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

// ---------------------------------------------------------------------------------------
// Round trips.

#[test]
fn every_wit_type_round_trips_through_memory() {
    let s = scratch("roundtrip");
    let mut app = app(&s, MANIFEST);
    let mut calls = 0;
    for (n, (name, t, values)) in echo_cases().iter().enumerate() {
        for v in values {
            let (back, seen) = echo(&mut app, n, t, v).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(back == *v, "{name}: came back different");
            assert!(
                seen == *v,
                "{name}: the provider received something different"
            );
            calls += 1;
        }
    }
    let posts = app.call("child", "posts", &[]).unwrap()[0].i32().unwrap();
    assert_eq!(posts, calls, "cabi_post_ runs after every call");
}

#[test]
fn flat_values_are_lifted_and_lowered() {
    let s = scratch("flat");
    let mut app = app(&s, MANIFEST);
    let mut call = |f: &str, args: &[Val]| -> Vec<Val> {
        app.call("main", &format!("call-{f}"), args)
            .unwrap_or_else(|e| panic!("{f}: {e}"))
    };
    // Narrow integers: the provider's high bits are dropped, signed ones sign-extended.
    assert_eq!(i32s(&call("add-u8", &[Val::I32(200), Val::I32(100)])), [44]);
    assert_eq!(i32s(&call("neg-s8", &[Val::I32(-128)])), [-128]);
    assert_eq!(i32s(&call("neg-s8", &[Val::I32(5)])), [-5]);
    assert_eq!(i32s(&call("id-u16", &[Val::I32(0x1_2345)])), [0x2345]);
    assert_eq!(i32s(&call("id-s16", &[Val::I32(0xffff)])), [-1]);
    assert_eq!(i32s(&call("id-u32", &[Val::I32(-1)])), [-1]);
    assert_eq!(i32s(&call("id-s32", &[Val::I32(i32::MIN)])), [i32::MIN]);
    // A bool is 0 or 1 whatever non-zero value the importer used.
    assert_eq!(i32s(&call("id-bool", &[Val::I32(7)])), [1]);
    assert_eq!(i32s(&call("id-bool", &[Val::I32(0)])), [0]);
    assert_eq!(i32s(&call("id-char", &[Val::I32(0x1F389)])), [0x1F389]);
    assert_eq!(call("id-u64", &[Val::I64(-1)])[0].i64(), Some(-1));
    assert_eq!(
        call("id-s64", &[Val::I64(i64::MIN)])[0].i64(),
        Some(i64::MIN)
    );
    assert_eq!(
        call("id-f32", &[Val::F32(1.25f32.to_bits())])[0].f32(),
        Some(1.25)
    );
    assert_eq!(
        call("id-f64", &[Val::F64((-2.5f64).to_bits())])[0].f64(),
        Some(-2.5)
    );
    assert_eq!(i32s(&call("id-color", &[Val::I32(2)])), [2]);
    // Unknown flag bits are dropped.
    assert_eq!(i32s(&call("id-perms", &[Val::I32(0xff)])), [0b111]);
    // Variants flattened: option<u32> is (disc, payload); result<f32, u64> joins to i64.
    assert_eq!(
        i32s(&call("unwrap-or", &[Val::I32(1), Val::I32(5), Val::I32(9)])),
        [5]
    );
    assert_eq!(
        i32s(&call("unwrap-or", &[Val::I32(0), Val::I32(5), Val::I32(9)])),
        [9]
    );
    let f = (0.75f32.to_bits()) as i64;
    assert_eq!(
        call("pick", &[Val::I32(0), Val::I64(f)])[0].f64(),
        Some(0.75)
    );
    assert_eq!(
        call("pick", &[Val::I32(1), Val::I64(1 << 40)])[0].f64(),
        Some((1u64 << 40) as f64)
    );
    // 17 parameters go through memory (the provider's cabi_realloc).
    let args: Vec<Val> = (1..=17).map(Val::I32).collect();
    let mut img = Image::new(0x1000);
    let p = img.alloc(4, 17 * 4);
    for (i, a) in args.iter().enumerate() {
        img.put(p + 4 * i as u32, &a.i32().unwrap().to_le_bytes());
    }
    app.write_memory("main", 0x1000, &img.bytes[0x1000..])
        .unwrap();
    let r = app
        .call("main", "call-sum17", &[Val::I32(p as i32)])
        .unwrap();
    assert_eq!(i32s(&r), [17 * 18 / 2]);
    assert!(app.call("main", "call-nothing", &[]).unwrap().is_empty());
}

#[test]
fn flat_strings_and_return_pointers() {
    let s = scratch("strings");
    let mut app = app(&s, MANIFEST);
    let mut img = Image::new(0x1000);
    let text = "naïve café ✓";
    let a = img.alloc(1, text.len() as u32);
    img.put(a, text.as_bytes());
    let b = img.alloc(1, 3);
    img.put(b, b"xyz");
    let ret = img.alloc(4, 8);
    app.write_memory("main", 0x1000, &img.bytes[0x1000..])
        .unwrap();
    let n = app
        .call(
            "main",
            "call-len",
            &[Val::I32(a as i32), Val::I32(text.len() as i32)],
        )
        .unwrap();
    assert_eq!(i32s(&n), [text.len() as i32]);
    let heap_before = app.call("main", "heap", &[]).unwrap()[0].i32().unwrap();
    app.call(
        "main",
        "call-first",
        &[
            Val::I32(a as i32),
            Val::I32(text.len() as i32),
            Val::I32(b as i32),
            Val::I32(3),
            Val::I32(ret as i32),
        ],
    )
    .unwrap();
    let mem = app
        .read_memory("main", 0, memory_size(&app, "main"))
        .unwrap();
    assert_eq!(load(&mem, &T::Str, ret), V::Str(text.into()));
    let p = u32::from_le_bytes(mem[ret as usize..ret as usize + 4].try_into().unwrap());
    assert!(
        p as i32 >= heap_before,
        "the result string was allocated with main's cabi_realloc"
    );
}

// ---------------------------------------------------------------------------------------
// Bad data: a clean trap naming both nanoprocesses, nothing written.

fn assert_trap(result: Result<impl std::fmt::Debug, String>, what: &str) -> String {
    let message = result.expect_err("a trap");
    assert!(message.contains("`main`"), "{what}: {message}");
    assert!(message.contains("`child`"), "{what}: {message}");
    assert!(message.contains(what), "expected `{what}` in: {message}");
    message
}

#[test]
fn bad_arguments_trap_naming_both_and_write_nothing() {
    let s = scratch("badargs");
    let mut app = app(&s, MANIFEST);
    let empty = || V::List(vec![]);
    let lists = |i: usize, bad: V| {
        let mut v: Vec<V> = (0..8).map(|_| empty()).collect();
        v[i] = bad;
        V::Rec(v)
    };
    let cases: Vec<(usize, V, &str)> = vec![
        (0, V::Bytes(vec![b'o', b'k', 0xff, 0xfe]), "not valid UTF-8"),
        (0, V::Bytes(vec![0xe2, 0x82]), "not valid UTF-8"),
        (0, V::Raw(0xffff_ff00, 0x200), "out of bounds"),
        (1, V::Raw(0x4ff_fff0, 0x20), "out of bounds"),
        (6, V::Var(7, None), "bad discriminant 7"),
        (8, V::List(vec![V::Var(3, None)]), "bad discriminant 3"),
        (
            13,
            V::List(vec![V::Char('a'), V::RawScalar(0xD800)]),
            "invalid char 0xd800",
        ),
        (
            13,
            V::List(vec![V::RawScalar(0x11_0000)]),
            "invalid char 0x110000",
        ),
        (15, lists(1, V::Raw(0x1001, 2)), "misaligned list pointer"),
        (
            2,
            V::List(vec![V::Raw(0x1001, 1)]),
            "misaligned list pointer",
        ),
        // More than the receiver's whole memory limit (8 MiB) is refused before any copy.
        (
            15,
            {
                let mut v = lists(5, V::Raw(0x1000, 0x9_0000));
                if let V::Rec(items) = &mut v {
                    items[6] = V::Raw(0x1000, 0x9_0000);
                }
                v
            },
            "`child`'s memory may hold",
        ),
    ];
    for (n, v, what) in cases {
        let t = echo_cases()[n].1.clone();
        let heap = app.call("child", "heap", &[]).unwrap();
        let main_heap = app.call("main", "heap", &[]).unwrap();
        assert_trap(echo(&mut app, n, &t, &v).map(|_| ()), what);
        assert_eq!(
            app.call("child", "heap", &[]).unwrap(),
            heap,
            "{what}: nothing allocated in the child"
        );
        assert_eq!(
            app.call("main", "heap", &[]).unwrap(),
            main_heap,
            "{what}: nor in main"
        );
        assert_eq!(
            app.poisoned("child"),
            None,
            "bad arguments are the caller's fault"
        );
    }
    // Flat values: invalid chars, discriminants, high bits in a joined slot.
    let flat: Vec<(&str, Vec<Val>, &str)> = vec![
        ("id-char", vec![Val::I32(0xDFFF)], "invalid char 0xdfff"),
        ("id-char", vec![Val::I32(-1)], "invalid char 0xffffffff"),
        ("id-color", vec![Val::I32(3)], "bad discriminant 3"),
        (
            "unwrap-or",
            vec![Val::I32(2), Val::I32(0), Val::I32(0)],
            "bad discriminant 2",
        ),
        ("pick", vec![Val::I32(0), Val::I64(1 << 32)], "high bits"),
        (
            "len",
            vec![Val::I32(0x10), Val::I32(-1)],
            "longer than 2^31-1",
        ),
        ("len", vec![Val::I32(-16), Val::I32(100)], "out of bounds"),
    ];
    for (f, args, what) in flat {
        assert_trap(
            app.call("main", &format!("call-{f}"), &args)
                .map_err(|e| e.to_string()),
            what,
        );
    }
    // Every call above failed cleanly: both still work.
    assert_eq!(
        i32s(&app.call("main", "call-id-u32", &[Val::I32(3)]).unwrap()),
        [3]
    );
}

#[test]
fn a_bad_return_area_traps_without_writing() {
    let s = scratch("retptr");
    let mut app = app(&s, MANIFEST);
    let text = "abc";
    let mut img = Image::new(0x1000);
    let a = img.alloc(1, 3);
    img.put(a, text.as_bytes());
    app.write_memory("main", 0x1000, &img.bytes[0x1000..])
        .unwrap();
    for (ret, what) in [
        (0x2001, "misaligned return area"),
        (0x4ff_fffc, "out of bounds"),
    ] {
        let r = app.call(
            "main",
            "call-first",
            &[
                Val::I32(a as i32),
                Val::I32(3),
                Val::I32(a as i32),
                Val::I32(3),
                Val::I32(ret),
            ],
        );
        assert_trap(r.map_err(|e| e.to_string()), what);
    }
}

#[test]
fn bad_results_trap_and_poison_the_provider() {
    let s = scratch("badresult");
    let mut app = app(&s, MANIFEST);
    let r = app.call("main", "call-bad-string", &[Val::I32(0x2000)]);
    assert_trap(r.map_err(|e| e.to_string()), "not valid UTF-8");
    assert!(app.poisoned("child").is_some());

    let mut app = self::app(&s, MANIFEST);
    let r = app.call("main", "call-bad-color", &[]);
    assert_trap(r.map_err(|e| e.to_string()), "bad discriminant 9");
    assert!(app.poisoned("child").is_some());
}

/// A provider whose `cabi_realloc` returns whatever the test sets.
const EVIL_WAT: &str = r#"
(module $evil
  (memory (export "memory") 1)
  (global $ret (mut i32) (i32.const 0x100))
  (func (export "set-ret") (param i32) (global.set $ret (local.get 0)))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (global.get $ret))
  (func (export "test:rt/evil#len") (param i32 i32) (result i32) (local.get 1))
  (func (export "test:rt/evil#sum") (param i32 i32) (result i32) (i32.const 0)))
"#;

const EVIL_MAIN: &str = r#"
(module $main
  (import "test:rt/evil" "len" (func $len (param i32 i32) (result i32)))
  (import "test:rt/evil" "sum" (func $sum (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello")
  (func (export "len") (result i32) (call $len (i32.const 16) (i32.const 5)))
  (func (export "sum") (result i32) (call $sum (i32.const 16) (i32.const 1))))
"#;

#[test]
fn a_garbage_cabi_realloc_traps_naming_both() {
    let s = Scratch::new("evil");
    s.file("main.wat", EVIL_MAIN).file("evil.wat", EVIL_WAT).file(
        "evil.wit",
        "package test:rt;\ninterface evil { len: func(s: string) -> u32; sum: func(l: list<u32>) -> u32; }\n",
    );
    let manifest = r#"
[app]
main = "main"
[nanoprocess.main]
module = "main.wat"
links = { "test:rt/evil" = "evil" }
[nanoprocess.evil]
parent = "main"
module = "evil.wat"
wit = "evil.wit"
"#;
    for (ret, export, what) in [
        (0xffff_fff0u32, "len", "out of bounds of its memory"),
        (65534, "len", "out of bounds of its memory"),
        (0x102, "sum", "not aligned to 4"),
    ] {
        let mut app = app(&s, manifest);
        assert_eq!(
            i32s(&app.call("main", "len", &[]).unwrap()),
            [5],
            "a sane realloc works"
        );
        app.call("evil", "set-ret", &[Val::I32(ret as i32)])
            .unwrap();
        let before = app.read_memory("evil", 0, 65536).unwrap();
        let message = app.call("main", export, &[]).unwrap_err().to_string();
        assert!(
            message.contains("`main`") && message.contains("`evil`"),
            "{message}"
        );
        assert!(message.contains(what), "{what}: {message}");
        assert_eq!(
            app.read_memory("evil", 0, 65536).unwrap(),
            before,
            "nothing written"
        );
        assert!(
            app.poisoned("evil").is_some(),
            "a lying cabi_realloc poisons its owner"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Traps, poisoning, limits.

#[test]
fn a_trapped_child_is_poisoned_while_the_parent_goes_on() {
    let s = scratch("poison");
    let mut app = app(&s, MANIFEST);
    let err = app.call("main", "call-boom", &[]).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("nanoprocess `child` trapped"), "{message}");
    assert!(
        message.contains("`main`'s call to test:rt/echo#boom"),
        "{message}"
    );
    assert!(message.contains("integer divide by zero"), "{message}");
    assert!(message.contains("backtrace of `child`"), "{message}");
    assert!(message.contains("explode"), "the child's frames: {message}");
    let trap = err.as_trap().expect("a trap");
    assert!(
        trap.backtrace
            .iter()
            .any(|f| f.func_name.as_deref() == Some("explode")),
        "{:?}",
        trap.backtrace
    );
    assert!(app
        .poisoned("child")
        .unwrap()
        .contains("integer divide by zero"));
    // The parent is not poisoned: the host can go on calling it.
    assert_eq!(i32s(&app.call("main", "ping", &[]).unwrap()), [42]);
    // Every later call into the child traps at once, whatever the function.
    for f in ["call-nothing", "call-boom"] {
        let m = app.call("main", f, &[]).unwrap_err().to_string();
        assert!(m.contains("`child` is poisoned"), "{m}");
        assert!(m.contains("`main`"), "{m}");
    }
    let direct = app.call("child", "posts", &[]).unwrap_err();
    assert!(matches!(direct, NanoError::Poisoned { .. }), "{direct}");
}

#[test]
fn fuel_is_shared_along_the_calling_chain() {
    let s = scratch("fuel");
    let manifest = MANIFEST
        .replace(
            "links = { \"test:rt/echo\" = \"child\" }",
            "links = { \"test:rt/echo\" = \"child\" }\nlimits = { fuel = 1_000_000 }",
        )
        .replace(
            "limits = { memory = \"8MiB\" }",
            "limits = { memory = \"8MiB\", fuel = 1_000_000 }",
        );
    let mut app = app(&s, &manifest);
    let before = app.fuel().unwrap();
    app.call("main", "call-nothing", &[]).unwrap();
    assert!(
        app.fuel().unwrap() < before,
        "the child's work is charged to the chain"
    );
    let err = app.call("main", "call-spin", &[]).unwrap_err();
    let trap = err.as_trap().expect("a trap");
    assert_eq!(trap.kind, TrapKind::OutOfFuel, "{err}");
    assert!(
        app.poisoned("child").is_some(),
        "interrupted mid-call: poisoned"
    );
}

#[test]
fn the_deadline_bounds_the_whole_chain() {
    let s = scratch("deadline");
    let manifest = MANIFEST
        .replace(
            "links = { \"test:rt/echo\" = \"child\" }",
            "links = { \"test:rt/echo\" = \"child\" }\nlimits = { timeout = \"200ms\" }",
        )
        .replace(
            "limits = { memory = \"8MiB\" }",
            "limits = { memory = \"8MiB\", timeout = \"200ms\" }",
        );
    let mut app = app(&s, &manifest);
    let start = std::time::Instant::now();
    let err = app.call("main", "call-spin", &[]).unwrap_err();
    assert_eq!(
        err.as_trap().map(|t| t.kind.clone()),
        Some(TrapKind::Interrupted),
        "{err}"
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn each_child_has_its_own_memory_limit() {
    let s = scratch("memory");
    let mut app = app(
        &s,
        &MANIFEST.replace("memory = \"8MiB\"", "memory = \"256KiB\""),
    );
    // 2 pages initial, 4 allowed.
    assert_eq!(
        i32s(&app.call("main", "call-grow", &[Val::I32(2)]).unwrap()),
        [2]
    );
    assert_eq!(
        i32s(&app.call("main", "call-grow", &[Val::I32(1)]).unwrap()),
        [-1]
    );
    // main is not limited by the child's cap.
    assert!(app.read_memory("main", 80 * 65536 - 1, 1).is_ok());
    // A module needing more than its cap at instantiation is refused.
    let err = App::new(
        &s.manifest(&MANIFEST.replace("memory = \"8MiB\"", "memory = \"64KiB\"")),
        AppOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, NanoError::Instantiate { nanoprocess, .. } if nanoprocess == "child"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Isolation and grants.

#[test]
fn a_child_cannot_reach_a_file_its_parent_can() {
    let s = scratch("files");
    let mut app = app(&s, MANIFEST);
    assert_eq!(
        i32s(&app.call("main", "open-own", &[]).unwrap()),
        [0],
        "main opens its file"
    );
    // The child has no preopen at all: fd 3 does not exist for it (BADF = 8).
    assert_eq!(
        i32s(&app.call("main", "call-probe-file", &[]).unwrap()),
        [8]
    );
    // And no clock: NOTCAPABLE (76).
    assert_eq!(
        i32s(&app.call("main", "call-probe-clock", &[]).unwrap()),
        [76]
    );
}

#[test]
fn grants_reach_the_wasi_context() {
    let s = scratch("grants");
    std::fs::create_dir_all(s.0.join("data/sub")).unwrap();
    std::fs::write(s.0.join("data/sub/secret.txt"), "child's").unwrap();
    let manifest = MANIFEST.replace(
        "wit = \"echo.wit\"",
        "wit = \"echo.wit\"\ngrants.dirs = [{ host = \"data/sub\", guest = \"/sub\" }]\ngrants.clock = \"fixed:2024-01-01T00:00:00Z\"",
    );
    let mut app = app(&s, &manifest);
    assert_eq!(
        i32s(&app.call("main", "call-probe-file", &[]).unwrap()),
        [0],
        "its own preopen"
    );
    assert_eq!(
        i32s(&app.call("main", "call-probe-clock", &[]).unwrap()),
        [0],
        "a virtual clock"
    );
    let mem = app.read_memory("child", 0x40, 8).unwrap();
    assert_eq!(
        u64::from_le_bytes(mem.try_into().unwrap()),
        1_704_067_200_000_000_000
    );
}

#[test]
fn attenuation_violations_refuse_to_run() {
    let s = scratch("attenuation");
    std::fs::create_dir_all(s.0.join("other")).unwrap();
    let manifest = MANIFEST.replace(
        "wit = \"echo.wit\"",
        "wit = \"echo.wit\"\ngrants.dirs = [{ host = \"other\" }, { host = \"data\", mode = \"rw\" }]\ngrants.clock = \"real\"",
    );
    let m = s.manifest(&manifest);
    let err = App::new(&m, AppOptions::default()).unwrap_err();
    let NanoError::Invalid(problems) = &err else {
        panic!("{err}")
    };
    assert_eq!(problems.len(), 3, "{err}");
    assert!(problems
        .iter()
        .all(|p| p.nanoprocess.as_deref() == Some("child")));
    assert_eq!(App::check(&m).unwrap_err(), *problems);
}

#[test]
fn missing_imports_are_listed_with_the_nanoprocess() {
    let s = scratch("missing");
    s.file(
        "main.wat",
        r#"(module
            (import "test:rt/echo" "len" (func (param i32 i32) (result i32)))
            (import "acme:other/thing" "f" (func))
            (import "env" "memory" (memory 1))
            (import "wasi_snapshot_preview1" "no_such_call" (func))
            (func (export "_start")))"#,
    );
    let err = App::new(&s.manifest(MANIFEST), AppOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("nanoprocess `main`"), "{text}");
    assert!(text.contains("acme:other/thing::f"), "{text}");
    assert!(text.contains("env::memory"), "{text}");
    assert!(
        text.contains("wasi_snapshot_preview1::no_such_call"),
        "{text}"
    );
    let missing = text.lines().find(|l| l.contains("`imports`")).unwrap();
    assert!(!missing.contains("test:rt/echo"), "linked: {missing}");
    assert!(
        text.contains("must export its memory"),
        "len passes a string: {text}"
    );
}

#[test]
fn link_mismatches_are_reported() {
    let s = scratch("mismatch");
    s.file(
        "main.wat",
        r#"(module
            (import "test:rt/echo" "len" (func (param i32) (result i32)))
            (import "test:rt/echo" "nope" (func))
            (import "test:rt/other" "f" (func))
            (memory (export "memory") 1))"#,
    );
    let manifest = MANIFEST.replace(
        "links = { \"test:rt/echo\" = \"child\" }",
        "links = { \"test:rt/echo\" = \"child\", \"test:rt/other\" = \"child\" }",
    );
    let problems = App::check(&s.manifest(&manifest)).unwrap_err();
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let text = text.join("\n");
    assert!(text.contains("lowers it to func"), "{text}");
    assert!(text.contains("has no function `nope`"), "{text}");
    assert!(text.contains("has no interface `test:rt/other`"), "{text}");
}

#[test]
fn both_sides_of_a_bad_link_are_reported_at_once() {
    // The importer declares the wrong type AND the provider lacks the export: two problems,
    // both listed (the importer's mismatch does not hide the provider's).
    let s = scratch("both-sides");
    s.file(
        "main.wat",
        r#"(module
            (import "test:rt/echo" "len" (func (param i64)))
            (memory (export "memory") 1))"#,
    )
    .file(
        "child.wat",
        r#"(module (memory (export "memory") 1)
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0)))"#,
    );
    let problems = App::check(&s.manifest(MANIFEST)).unwrap_err();
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let text = text.join("\n");
    assert!(text.contains("lowers it to func"), "{text}");
    assert!(text.contains("must export `test:rt/echo#len`"), "{text}");
}

#[test]
fn link_cycles_are_refused() {
    let s = scratch("cycle");
    let manifest = MANIFEST.replace(
        "wit = \"echo.wit\"",
        "wit = \"echo.wit\"\nlinks = { \"test:rt/back\" = \"main\" }",
    );
    let problems = App::check(&s.manifest(&manifest)).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("links form a cycle")),
        "{problems:?}"
    );
}

#[test]
fn run_main_returns_the_exit_code() {
    let s = scratch("exit");
    s.file(
        "main.wat",
        r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (import "test:rt/echo" "add-u8" (func $add (param i32 i32) (result i32)))
            (func (export "_start") (call $exit (call $add (i32.const 250) (i32.const 9)))))"#,
    );
    let mut app = app(&s, MANIFEST);
    assert_eq!(app.main(), "main");
    assert_eq!(
        app.export_type("main", "_start").unwrap(),
        FuncType::new([], [])
    );
    assert!(matches!(
        app.export_type("main", "nope"),
        Err(NanoError::UnknownExport { .. })
    ));
    assert_eq!(app.run_main().unwrap(), 3);
    assert!(App::check(&s.manifest(MANIFEST)).unwrap().contains("child"));
}

#[test]
fn padding_is_zeroed_and_bools_normalized_not_copied() {
    let s = scratch("padding");
    let mut app = app(&s, MANIFEST);
    // list<bool> with a 2 in it: true, stored as 1 on the other side.
    let (back, seen) = echo(
        &mut app,
        14,
        &list(T::Bool),
        &V::List(vec![V::RawScalar(2), V::Bool(false)]),
    )
    .unwrap();
    let expected = V::List(vec![V::Bool(true), V::Bool(false)]);
    assert_eq!((back, seen), (expected.clone(), expected));

    // record point { x: s16, y: u8, z: f64 }: bytes 3..8 are padding. Fill them (and the
    // unused payload of a payload-less variant case) with garbage in main's memory: none of
    // it may reach the child.
    let point = V::Rec(vec![V::S16(1), V::U8(2), V::F64(3.0)]);
    for (n, t, v, garbage) in [
        (3, point_t(), point, 3..8usize),
        (5, shape_t(), V::Var(3, None), 1..24usize),
    ] {
        let tuple = T::Rec(vec![t.clone(), T::Rec(vec![T::U64; 16])]);
        let mut img = Image::new(0x1000);
        let params = img.alloc(tuple.align(), tuple.size());
        img.store(&t, &v, params);
        for i in garbage.clone() {
            img.bytes[params as usize + i] = 0xAA;
        }
        let ret = img.alloc(t.align(), t.size());
        app.write_memory("main", 0x1000, &img.bytes[0x1000..])
            .unwrap();
        app.call(
            "main",
            &format!("call-echo-{n}"),
            &[Val::I32(params as i32), Val::I32(ret as i32)],
        )
        .unwrap();
        let at = app.call("child", "last", &[]).unwrap()[0].i32().unwrap() as usize;
        let child = app.read_memory("child", at, t.size() as usize).unwrap();
        assert!(
            garbage.clone().all(|i| child[i] == 0),
            "{n}: padding reached the child: {child:?}"
        );
        let main = app
            .read_memory("main", ret as usize, t.size() as usize)
            .unwrap();
        assert!(
            garbage.clone().all(|i| main[i] == 0),
            "{n}: and came back: {main:?}"
        );
    }
}

const CHAIN_MAIN: &str = r#"
(module $main
  (import "test:chain/mid" "run" (func $run (param i32) (result i32)))
  (func (export "run") (param i32) (result i32) (call $run (local.get 0))))
"#;
const CHAIN_MID: &str = r#"
(module $mid
  (import "test:chain/leaf" "run" (func $leaf (param i32) (result i32)))
  (func (export "test:chain/mid#run") (param i32) (result i32)
    (i32.add (i32.const 1000) (call $leaf (local.get 0)))))
"#;
const CHAIN_LEAF: &str = r#"
(module $leaf
  (func $crash unreachable)
  (func (export "test:chain/leaf#run") (param i32) (result i32)
    (if (local.get 0) (then (call $crash)))
    (i32.const 7)))
"#;

#[test]
fn a_trap_deep_in_a_chain_poisons_every_nanoprocess_it_unwound() {
    let s = Scratch::new("chain");
    s.file("main.wat", CHAIN_MAIN)
        .file("mid.wat", CHAIN_MID)
        .file("leaf.wat", CHAIN_LEAF)
        .file(
            "mid.wit",
            "package test:chain;\ninterface mid { run: func(crash: bool) -> u32; }\n",
        )
        .file(
            "leaf.wit",
            "package test:chain;\ninterface leaf { run: func(crash: bool) -> u32; }\n",
        );
    let manifest = r#"
[app]
main = "main"
[nanoprocess.main]
module = "main.wat"
links = { "test:chain/mid" = "mid" }
[nanoprocess.mid]
parent = "main"
module = "mid.wat"
wit = "mid.wit"
links = { "test:chain/leaf" = "leaf" }
[nanoprocess.leaf]
parent = "mid"
module = "leaf.wat"
wit = "leaf.wit"
"#;
    let mut app = app(&s, manifest);
    assert_eq!(
        app.nanoprocesses(),
        ["leaf", "mid", "main"],
        "providers first"
    );
    assert_eq!(
        i32s(&app.call("main", "run", &[Val::I32(0)]).unwrap()),
        [1007]
    );
    let err = app.call("main", "run", &[Val::I32(1)]).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("nanoprocess `leaf` trapped while serving `mid`'s call"),
        "{message}"
    );
    assert!(
        message.contains("nanoprocess `mid` trapped while serving `main`'s call"),
        "{message}"
    );
    assert!(message.contains("unreachable"), "{message}");
    let frames: Vec<String> = err
        .as_trap()
        .unwrap()
        .backtrace
        .iter()
        .filter_map(|f| f.func_name.clone())
        .collect();
    assert!(frames.contains(&"crash".to_string()), "{frames:?}");
    assert!(app.poisoned("leaf").is_some());
    assert!(app.poisoned("mid").is_some(), "mid was unwound mid-call");
    assert_eq!(app.poisoned("main"), None);
}

#[test]
fn audit_lines_name_the_nanoprocess() {
    let s = scratch("audit");
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let writer: AuditWriter = std::sync::Arc::new(std::sync::Mutex::new(Sink(log.clone())));
    let options = AppOptions {
        audit: Some((writer, AuditLevel::All)),
        ..AppOptions::default()
    };
    let mut app = App::new(&s.manifest(MANIFEST), options).unwrap();
    app.call("main", "open-own", &[]).unwrap();
    app.call("main", "call-probe-file", &[]).unwrap();
    let text = String::from_utf8(log.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("{\"nanoprocess\":\"main\",") && l.contains("path_open")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("{\"nanoprocess\":\"child\",") && l.contains("badf")),
        "{text}"
    );
}

const REENTRY_MAIN: &str = r#"
(module $main
  (import "t:x/i" "name" (func $name (param i32)))
  (import "t:x/i" "ping" (func $ping))
  (import "t:x/i" "quit" (func $quit))
  (memory (export "memory") 1)
  ;; A cabi_realloc that calls out: the runtime refuses (the component model's may_leave).
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (call $ping) (i32.const 64))
  (func (export "name") (call $name (i32.const 16)))
  (func (export "_start") (call $quit)))
"#;
const REENTRY_CHILD: &str = r#"
(module $child
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "\10\00\00\00\03\00\00\00")
  (data (i32.const 16) "abc")
  (func (export "t:x/i#name") (result i32) (i32.const 8))
  (func (export "t:x/i#ping"))
  (func (export "t:x/i#quit") (call $exit (i32.const 9))))
"#;

#[test]
fn a_cabi_realloc_may_not_call_out_and_a_child_cannot_exit_the_app() {
    let s = Scratch::new("reentry");
    s.file("main.wat", REENTRY_MAIN)
        .file("child.wat", REENTRY_CHILD)
        .file(
            "child.wit",
            "package t:x;\ninterface i { name: func() -> string; ping: func(); quit: func(); }\n",
        );
    let manifest = r#"
[app]
main = "main"
[nanoprocess.main]
module = "main.wat"
links = { "t:x/i" = "child" }
[nanoprocess.child]
parent = "main"
module = "child.wat"
wit = "child.wit"
"#;
    let mut app = app(&s, manifest);
    let message = app.call("main", "name", &[]).unwrap_err().to_string();
    assert!(
        message.contains("`main` may not call other nanoprocesses from its cabi_realloc"),
        "{message}"
    );
    assert_eq!(app.poisoned("child"), None, "the importer's fault");

    // proc_exit inside a child is a trap for its caller, not the application's exit.
    let err = app.run_main().unwrap_err();
    assert!(err.to_string().contains("called proc_exit(9)"), "{err}");
    assert!(app.poisoned("child").is_some());
}

// ---------------------------------------------------------------------------------------
// Direct links: signatures whose values all pass as they are (32/64-bit integers and
// floats) are linked as plain cross-instance calls; the rules must hold all the same.

const DIRECT_MAIN: &str = r#"
(module $main
  (import "t:x/a" "mix" (func $mix (param i32 i64 f32 f64) (result f64)))
  (import "t:x/a" "run" (func $run (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "mix") (param i32 i64 f32 f64) (result f64)
    (call $mix (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "run") (param i32) (result i32) (call $run (local.get 0))))
"#;
const DIRECT_A: &str = r#"
(module $a
  (import "t:y/b" "dive" (func $dive (param i32) (result i32)))
  (memory (export "memory") 1)
  ;; Its own memory: 7 at address 0 (main's is all zeros).
  (data (i32.const 0) "\07")
  (func (export "t:x/a#mix") (param i32 i64 f32 f64) (result f64)
    (f64.add (f64.add (f64.convert_i32_u (local.get 0)) (f64.convert_i64_u (local.get 1)))
             (f64.add (f64.promote_f32 (local.get 2))
                      (f64.add (local.get 3) (f64.convert_i32_u (i32.load8_u (i32.const 0)))))))
  (func $run (export "t:x/a#run") (param i32) (result i32)
    (call $dive (local.get 0))))
"#;
const DIRECT_B: &str = r#"
(module $b
  (memory (export "memory") 1)
  ;; Recurses `n` deep, then traps: a backtrace longer than the part printed in full.
  (func $dive (export "t:y/b#dive") (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then unreachable))
    (i32.add (call $dive (i32.sub (local.get 0) (i32.const 1))) (i32.const 1))))
"#;

#[test]
fn direct_links_pass_values_and_attribute_traps_along_the_chain() {
    let s = Scratch::new("direct");
    s.file("main.wat", DIRECT_MAIN)
        .file("a.wat", DIRECT_A)
        .file("b.wat", DIRECT_B)
        .file(
            "a.wit",
            "package t:x;\ninterface a { mix: func(a: u32, b: u64, c: f32, d: f64) -> f64; run: func(n: s32) -> s32; }\n",
        )
        .file("b.wit", "package t:y;\ninterface b { dive: func(n: s32) -> s32; }\n");
    let manifest = r#"
[app]
main = "main"
[nanoprocess.main]
module = "main.wat"
links = { "t:x/a" = "a" }
[nanoprocess.a]
parent = "main"
module = "a.wat"
wit = "a.wit"
links = { "t:y/b" = "b" }
[nanoprocess.b]
parent = "a"
module = "b.wat"
wit = "b.wit"
"#;
    let mut app = app(&s, manifest);
    // Values arrive unchanged, and the callee runs against its own memory (the 7).
    let r = app
        .call(
            "main",
            "mix",
            &[
                Val::I32(-1),
                Val::I64(1 << 40),
                Val::F32(0.5f32.to_bits()),
                Val::F64(0.25f64.to_bits()),
            ],
        )
        .unwrap();
    let expected = u32::MAX as f64 + (1u64 << 40) as f64 + 0.5 + 0.25 + 7.0;
    assert_eq!(r[0].f64(), Some(expected), "{r:?}");

    // b traps 300 frames deep while serving a, which serves main.
    let err = app.call("main", "run", &[Val::I32(300)]).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("nanoprocess `a` trapped while serving `main`'s call to t:x/a#run: nanoprocess `b` trapped while serving `a`'s call to t:y/b#dive: unreachable executed"),
        "{message}"
    );
    assert!(message.contains("backtrace of `b`"), "{message}");
    assert!(
        message.contains("frames omitted"),
        "a long backtrace is shortened: {message}"
    );
    // Each nanoprocess's block lists its own frames.
    let (inner, a_block) = message.split_once("backtrace of `a`:").expect("a's block");
    assert!(
        a_block.contains("a!") && !a_block.contains("b!"),
        "{message}"
    );
    assert!(inner.contains("b!dive"), "{message}");
    // Both providers on the chain are poisoned; main is not.
    assert!(app.poisoned("b").unwrap().contains("unreachable executed"));
    assert!(app
        .poisoned("a")
        .unwrap()
        .contains("nanoprocess `b` trapped"));
    assert_eq!(app.poisoned("main"), None);
    // A later call through the same direct link is refused at once by the runtime.
    let again = app
        .call(
            "main",
            "mix",
            &[Val::I32(1), Val::I64(1), Val::F32(0), Val::F64(0)],
        )
        .unwrap_err()
        .to_string();
    assert!(
        again.contains("call from `main` to `a` (t:x/a#mix)") && again.contains("`a` is poisoned"),
        "{again}"
    );
}

#[test]
fn a_trap_reached_from_an_importers_start_function_names_the_provider() {
    // The importer's start function calls a provider that traps: App::new fails naming
    // both, instead of blaming the importer alone.
    let s = Scratch::new("direct-start");
    s.file(
        "main.wat",
        r#"(module (import "t:y/b" "dive" (func $dive (param i32) (result i32)))
             (memory (export "memory") 1)
             (func $start (drop (call $dive (i32.const 3))))
             (start $start)
             (func (export "_start")))"#,
    )
    .file("b.wat", DIRECT_B)
    .file(
        "b.wit",
        "package t:y;\ninterface b { dive: func(n: s32) -> s32; }\n",
    );
    let manifest = r#"
[app]
main = "main"
[nanoprocess.main]
module = "main.wat"
links = { "t:y/b" = "b" }
[nanoprocess.b]
parent = "main"
module = "b.wat"
wit = "b.wit"
"#;
    let err = App::new(&s.manifest(manifest), AppOptions::default()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("nanoprocess `b` trapped while serving `main`'s call to t:y/b#dive"),
        "{message}"
    );
}
