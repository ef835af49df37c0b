//! Hostile programs: each tries to hurt the host and must end with the expected trap or
//! error within bounded time and memory; afterwards the same engine runs a normal module.
//! Runs as one test so the peak-RSS check measures one attack at a time.

use nanoproc_engine::*;
use std::time::{Duration, Instant};

/// Peak resident set size of this process, in bytes (Linux).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn leb(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb(body.len() as u64, out);
    out.extend_from_slice(body);
}

/// A module with one `[] -> []` type, one function, and the given code body (without size).
fn module_with_body(locals: &[u8], code: &[u8]) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut m);
    section(3, &[1, 0], &mut m);
    section(7, &[1, 1, b'f', 0, 0], &mut m);
    let mut body = locals.to_vec();
    body.extend_from_slice(code);
    let mut entry = Vec::new();
    leb(body.len() as u64, &mut entry);
    entry.extend_from_slice(&body);
    let mut code_sec = vec![1];
    code_sec.extend_from_slice(&entry);
    section(10, &code_sec, &mut m);
    m
}

enum Expect {
    Trap(TrapKind),
    CompileLimit(&'static str),
    CompileError,
    Returns,
}

struct Case {
    name: &'static str,
    module: Vec<u8>,
    export: &'static str,
    expect: Expect,
}

fn wat(s: &str) -> Vec<u8> {
    wat::parse_str(s).expect("battery WAT parses")
}

fn battery() -> Vec<Case> {
    let mut deep = Vec::new();
    for _ in 0..100_000 {
        deep.extend_from_slice(&[0x02, 0x40]);
    }
    deep.extend(std::iter::repeat_n(0x0b, 100_001));
    // One group of 4 billion locals.
    let mut locals = vec![1];
    leb(4_000_000_000, &mut locals);
    locals.push(0x7f);
    // A function section declaring a million functions whose bodies never come.
    let mut million = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut million);
    let mut funcs = Vec::new();
    leb(1_000_000, &mut funcs);
    funcs.extend(std::iter::repeat_n(0, 1000));
    section(3, &funcs, &mut million);
    // A data segment claiming 100 MB that the file does not contain.
    let mut absent = b"\0asm\x01\0\0\0".to_vec();
    section(5, &[1, 0, 1], &mut absent);
    let mut data = vec![1, 0, 0x41, 0, 0x0b];
    leb(100_000_000, &mut data);
    data.extend_from_slice(b"tiny");
    section(11, &data, &mut absent);

    vec![
        Case {
            name: "infinite loop (loop + br)",
            module: wat("(module (func (export \"f\") (loop (br 0))))"),
            export: "f",
            expect: Expect::Trap(TrapKind::Interrupted),
        },
        Case {
            name: "infinite tail-recursive cycle",
            module: wat(
                "(module (func $a (export \"f\") (return_call $b)) (func $b (return_call $a)))",
            ),
            export: "f",
            expect: Expect::Trap(TrapKind::Interrupted),
        },
        Case {
            name: "br_table back-edge",
            module: wat(
                "(module (func (export \"f\") (loop (br_table 0 0 0 (i32.const 1)))))",
            ),
            export: "f",
            expect: Expect::Trap(TrapKind::Interrupted),
        },
        Case {
            name: "huge memory.fill in a loop",
            module: wat(
                "(module (memory 16384) (func (export \"f\")
                   (loop (memory.fill (i32.const 0) (i32.const 7) (i32.const 0x40000000)) (br 0))))",
            ),
            export: "f",
            expect: Expect::Trap(TrapKind::Interrupted),
        },
        Case {
            name: "huge memory.copy in a loop",
            module: wat(
                "(module (memory 16384) (func (export \"f\")
                   (loop (memory.copy (i32.const 1) (i32.const 0) (i32.const 0x3fffffff)) (br 0))))",
            ),
            export: "f",
            expect: Expect::Trap(TrapKind::Interrupted),
        },
        Case {
            name: "recursion bomb",
            module: wat("(module (func $f (export \"f\") (call $f)))"),
            export: "f",
            expect: Expect::Trap(TrapKind::CallStackExhausted),
        },
        Case {
            name: "recursion bomb with big frames",
            module: wat(
                "(module (func $f (export \"f\") (local v128 v128 v128 v128 v128 v128 v128 v128)
                   (call $f)))",
            ),
            export: "f",
            expect: Expect::Trap(TrapKind::CallStackExhausted),
        },
        Case {
            name: "memory.grow until refused",
            module: wat(
                "(module (memory 1) (func (export \"f\")
                   (loop (br_if 0 (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))))",
            ),
            export: "f",
            expect: Expect::Returns,
        },
        Case {
            name: "table.grow until refused",
            module: wat(
                "(module (table 1 funcref) (func (export \"f\")
                   (loop (br_if 0 (i32.ne (table.grow (ref.null func) (i32.const 1000)) (i32.const -1))))))",
            ),
            export: "f",
            expect: Expect::Returns,
        },
        Case {
            name: "100k nested blocks",
            module: module_with_body(&[0], &deep),
            export: "f",
            expect: Expect::Returns,
        },
        Case {
            name: "4 billion locals",
            module: module_with_body(&locals, &[0x0b]),
            export: "f",
            expect: Expect::CompileLimit("locals_per_function"),
        },
        Case {
            name: "a million declared functions",
            module: million,
            export: "f",
            expect: Expect::CompileLimit("functions"),
        },
        Case {
            name: "100 MB data segment declared but absent",
            module: absent,
            export: "f",
            expect: Expect::CompileError,
        },
    ]
}

#[test]
fn hostile_programs_cannot_hurt_the_host() {
    let engine = Engine::default();
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "panic", || -> () { panic!("host function bug") })
        .unwrap();
    let mut failures = Vec::new();
    for case in battery() {
        let start = Instant::now();
        let outcome = (|| -> Result<(), Error> {
            let module = Module::new(&engine, &case.module)?;
            let mut store = Store::new(&engine, ());
            let inst = linker.instantiate(&mut store, &module)?;
            let f = inst.get_typed_func::<(), ()>(&store, case.export)?;
            // Growing to the 1 GiB default limit touches every page; give it time.
            let deadline = if case.name.starts_with("memory.grow") {
                5000
            } else {
                200
            };
            store.set_deadline(Duration::from_millis(deadline));
            let r = f.call(&mut store, ());
            store.clear_deadline();
            r
        })();
        let elapsed = start.elapsed();
        let ok = match (&case.expect, &outcome) {
            (Expect::Trap(kind), Err(e)) => e.as_trap().map(|t| &t.kind) == Some(kind),
            (Expect::CompileLimit(name), Err(Error::LimitExceeded(msg))) => msg.contains(name),
            (Expect::CompileError, Err(Error::Compile(_))) => true,
            (Expect::Returns, Ok(())) => true,
            _ => false,
        };
        let rss = peak_rss();
        println!(
            "{:<40} {:>8.1} ms  peak RSS {:>6} MiB  {}",
            case.name,
            elapsed.as_secs_f64() * 1e3,
            rss >> 20,
            match &outcome {
                Ok(()) => "returned".to_string(),
                Err(e) => e.to_string(),
            }
        );
        if !ok {
            failures.push(format!("{}: unexpected outcome {outcome:?}", case.name));
        }
        if elapsed > Duration::from_secs(10) {
            failures.push(format!("{}: took {elapsed:?}", case.name));
        }
        // The default limits allow 1 GiB per memory; nothing may go far beyond that.
        if rss > 3 << 30 {
            failures.push(format!("{}: peak RSS {} MiB", case.name, rss >> 20));
        }
    }

    // A panicking host function is a trap, not an unwind through the engine.
    let module = Module::new(
        &engine,
        "(module (import \"host\" \"panic\" (func $p)) (func (export \"f\") (call $p)))",
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let f = inst.get_typed_func::<(), ()>(&store, "f").unwrap();
    let err = f.call(&mut store, ()).unwrap_err();
    assert!(
        matches!(err.as_trap().map(|t| &t.kind), Some(TrapKind::Host(_))),
        "{err}"
    );

    // The same engine still runs normal code.
    let module = Module::new(
        &engine,
        "(module (func (export \"add\") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))",
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let add = inst
        .get_typed_func::<(i32, i32), i32>(&store, "add")
        .unwrap();
    assert_eq!(add.call(&mut store, (2, 40)).unwrap(), 42);

    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
