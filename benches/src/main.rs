//! `nanoproc-bench`: measures the engine and prints one table.
//!
//! Run with `cargo run --release -p nanoproc-bench` (optionally `-- --runs N`). Figures are
//! medians over N runs (default 5). Measures, never asserts: the numbers go to
//! `docs/benchmarks.md` by hand or by the harness of a later issue.
//!
//! - compile: decode + validate + translate throughput on the largest sightglass module
//!   (`$NANOPROC_SIGHTGLASS`, default `../shared/benchmarks/sightglass`).
//! - fib(30): recursive calls (WAT below).
//! - sum 100M i64: a tight counted loop.
//! - host calls: host→wasm and wasm→host call overhead (`--only calls`).
//! - nanoprocess calls (`--only nano`): a plain wasm→wasm call inside one module beside
//!   cross-nanoprocess calls through the canonical ABI (`nanoproc-nano`'s `App`): empty,
//!   a 1 KiB `string`, a 1 MiB `list<u8>`; and a 1 MiB `memcpy` on this machine for
//!   reference (`docs/nanoprocess-calls.md` records the figures and targets).

use nanoproc_engine::{Config, Engine, Linker, Module, Store};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const FIB: &str = r#"(module
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2))))))))"#;

const SUM: &str = r#"(module
  (func (export "sum") (param $n i64) (result i64) (local $i i64) (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $acc)))"#;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<R>(runs: usize, mut f: impl FnMut() -> R) -> (Duration, R) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f();
        times.push(t.elapsed());
        last = Some(r);
    }
    (median(times), last.expect("at least one run"))
}

fn largest_sightglass_module() -> Option<PathBuf> {
    let dir = std::env::var_os("NANOPROC_SIGHTGLASS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/benchmarks/sightglass")
        });
    let mut best: Option<(u64, PathBuf)> = None;
    for entry in std::fs::read_dir(&dir).ok()?.flatten() {
        let Ok(files) = std::fs::read_dir(entry.path()) else {
            continue; // license files beside the benchmark folders
        };
        for f in files.flatten() {
            let p = f.path();
            if p.extension().is_some_and(|e| e == "wasm") {
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                if best.as_ref().is_none_or(|(l, _)| len > *l) {
                    best = Some((len, p));
                }
            }
        }
    }
    best.map(|(_, p)| p)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut runs = 5;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        runs = args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(5)
            .max(1);
    }
    // `--only LABEL`: run just the configurations whose label contains LABEL (for
    // `valgrind --tool=callgrind`, whose instruction counts are repeatable on a noisy VM).
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    // `--small`: fib(25) and a 10 M-iteration loop, for slow tools like callgrind.
    let small = args.iter().any(|a| a == "--small");
    // `--workload fib|sum`: run one workload only.
    let workload = args
        .iter()
        .position(|a| a == "--workload")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_default();
    let (fib_n, fib_expect, fib_calls, sum_n): (i32, i32, f64, i64) = if small {
        (25, 75_025, 242_785.0, 10_000_000)
    } else {
        (30, 832_040, 2_692_537.0, 100_000_000)
    };
    let engine = Engine::default();
    println!("| benchmark | median of {runs} | figure |");
    println!("|---|---|---|");

    match largest_sightglass_module().filter(|_| only.is_none()) {
        Some(path) => {
            let bytes = std::fs::read(&path)?;
            let (t, module) = time(runs, || Module::from_binary(&engine, &bytes));
            let module = module?;
            let mb = bytes.len() as f64 / 1e6;
            println!(
                "| compile {} ({:.2} MB, {} functions → {} instructions) | {:.1} ms | {:.1} MB/s |",
                path.parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                mb,
                module.defined_function_count(),
                module.instruction_count(),
                t.as_secs_f64() * 1e3,
                mb / t.as_secs_f64()
            );
        }
        None if only.is_none() => {
            println!("| compile | skipped: sightglass folder not found | — |")
        }
        None => {}
    }

    // Execution under three configurations, to measure what the safety checks cost.
    let mut plain = Config::new();
    plain.interruptible(false);
    let mut fuel = Config::new();
    fuel.consume_fuel(true);
    let configs = [
        ("no checks", plain),
        ("interruptible (default)", Config::new()),
        ("interruptible + fuel", fuel),
    ];
    for (label, config) in &configs {
        if only.as_ref().is_some_and(|o| !label.contains(o.as_str())) {
            continue;
        }
        let engine = Engine::new(config);
        let mut store = Store::new(&engine, ());
        let _ = store.set_fuel(u64::MAX);
        if workload.is_empty() || workload == "fib" {
            let module = Module::new(&engine, FIB)?;
            let inst = Linker::new(&engine).instantiate(&mut store, &module)?;
            let fib = inst.get_typed_func::<i32, i32>(&store, "fib")?;
            let (t, r) = time(runs, || fib.call(&mut store, fib_n));
            assert_eq!(r?, fib_expect, "fib computed a wrong value");
            println!(
                "| fib({fib_n}) recursive, {label} | {:.1} ms | {:.1} ns/call |",
                t.as_secs_f64() * 1e3,
                t.as_secs_f64() * 1e9 / fib_calls
            );
        }
        if !(workload.is_empty() || workload == "sum") {
            continue;
        }

        let module = Module::new(&engine, SUM)?;
        let inst = Linker::new(&engine).instantiate(&mut store, &module)?;
        let sum = inst.get_typed_func::<i64, i64>(&store, "sum")?;
        let n = sum_n;
        let (t, r) = time(runs, || sum.call(&mut store, n));
        assert_eq!(r?, n * (n - 1) / 2, "sum computed a wrong value");
        println!(
            "| sum {}M i64 loop, {label} | {:.1} ms | {:.2} ns/iteration |",
            n / 1_000_000,
            t.as_secs_f64() * 1e3,
            t.as_secs_f64() * 1e9 / n as f64
        );
    }
    if only.is_none() || only.as_deref() == Some("calls") {
        host_calls(runs, small)?;
    }
    if only.is_none() || only.as_deref() == Some("instantiate") {
        instantiation(runs, small)?;
    }
    if only.is_none() || only.as_deref() == Some("nano") {
        nano_calls(runs, small)?;
    }
    Ok(())
}

/// Counts the bytes the process holds on the heap, for "memory per idle instance".
struct CountingAllocator;

static HEAP_BYTES: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        HEAP_BYTES.fetch_add(layout.size() as isize, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        HEAP_BYTES.fetch_sub(layout.size() as isize, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        HEAP_BYTES.fetch_add(
            new as isize - layout.size() as isize,
            std::sync::atomic::Ordering::Relaxed,
        );
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// A small module as plugins start: one memory, a few functions, two data segments, a
/// global and a table.
const SMALL_MODULE: &str = r#"(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (table 4 funcref)
  (elem (i32.const 0) $a $b)
  (data (i32.const 16) "hello, nanoprocess")
  (data (i32.const 64) "\01\02\03\04\05\06\07\08")
  (func $a (export "a") (result i32) (global.get $g))
  (func $b (export "b") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "c") (param i32) (result i32) (i32.load (local.get 0))))"#;

/// Instantiation latency (a fresh store and instance each time, as a serverless platform
/// does per request) and the heap an idle instance holds beyond its linear memory.
fn instantiation(runs: usize, small: bool) -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = if small { 1_000 } else { 100_000 };
    let engine = Engine::default();
    let module = Module::new(&engine, SMALL_MODULE)?;
    let linker: Linker<()> = Linker::new(&engine);
    let (t, r) = time(runs, || {
        for _ in 0..n {
            let mut store = Store::new(&engine, ());
            let instance = linker.instantiate(&mut store, &module)?;
            std::hint::black_box(instance);
        }
        Ok::<(), nanoproc_engine::Error>(())
    });
    r?;
    println!(
        "| instantiate a small module (new store + instance; 1 memory, 3 funcs, 2 data segments) | {:.1} ms for {n} | {:.2} µs each |",
        t.as_secs_f64() * 1e3,
        t.as_secs_f64() * 1e6 / f64::from(n)
    );

    // The same, plus one call of an exported function (a request served by a fresh
    // instance): includes the store's first interpreter entry.
    let (t, r) = time(runs, || {
        for _ in 0..n {
            let mut store = Store::new(&engine, ());
            let instance = linker.instantiate(&mut store, &module)?;
            let b = instance.get_typed_func::<i32, i32>(&store, "b")?;
            std::hint::black_box(b.call(&mut store, 41)?);
        }
        Ok::<(), nanoproc_engine::Error>(())
    });
    r?;
    println!(
        "| instantiate the small module and call one export (new store each time) | {:.1} ms for {n} | {:.2} µs each |",
        t.as_secs_f64() * 1e3,
        t.as_secs_f64() * 1e6 / f64::from(n)
    );

    // Idle instances, one store each, kept alive: heap growth per instance minus its
    // 64 KiB linear memory.
    let count = 1_000;
    let before = HEAP_BYTES.load(std::sync::atomic::Ordering::Relaxed);
    let mut keep = Vec::with_capacity(count);
    for _ in 0..count {
        let mut store = Store::new(&engine, ());
        let instance = linker.instantiate(&mut store, &module)?;
        keep.push((store, instance));
    }
    let after = HEAP_BYTES.load(std::sync::atomic::Ordering::Relaxed);
    let per_instance = (after - before) as f64 / count as f64;
    let memory = 65536.0;
    println!(
        "| heap per idle instance (its own store), beyond its 64 KiB linear memory | {count} instances | {:.2} KiB |",
        (per_instance - memory) / 1024.0
    );
    drop(keep);
    Ok(())
}

/// Host→wasm and wasm→host call overhead with empty functions.
fn host_calls(runs: usize, small: bool) -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = if small { 100_000 } else { 5_000_000 };
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (import "host" "nop" (func $nop))
          (func (export "empty"))
          (func (export "call_host") (param $n i32)
            (loop $l
              (call $nop)
              (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "nop", || {})?;
    let inst = linker.instantiate(&mut store, &module)?;
    let empty = inst.get_typed_func::<(), ()>(&store, "empty")?;
    let (t, r) = time(runs, || {
        for _ in 0..n {
            empty.call(&mut store, ())?;
        }
        Ok::<(), nanoproc_engine::Error>(())
    });
    r?;
    println!(
        "| host→wasm call of an empty function (TypedFunc) | {:.1} ms for {n} | {:.1} ns/call |",
        t.as_secs_f64() * 1e3,
        t.as_secs_f64() * 1e9 / n as f64
    );
    let call_host = inst.get_typed_func::<i32, ()>(&store, "call_host")?;
    let (t, r) = time(runs, || call_host.call(&mut store, n as i32));
    r?;
    println!(
        "| wasm→host call of an empty host function | {:.1} ms for {n} | {:.1} ns/call (incl. loop) |",
        t.as_secs_f64() * 1e3,
        t.as_secs_f64() * 1e9 / n as f64
    );
    Ok(())
}

/// The benchmark application: `main` loops over calls to an empty local function (the
/// plain call) or to `lib`'s exports through the link (the cross-nanoprocess calls).
const NANO_MAIN: &str = r#"(module $main
  (import "example:bench/calls" "nop" (func $nop))
  (import "example:bench/calls" "take-string" (func $take_string (param i32 i32) (result i32)))
  (import "example:bench/calls" "take-bytes" (func $take_bytes (param i32 i32) (result i32)))
  (memory (export "memory") 18)
  (func $local_nop)
  ;; 1 KiB of ASCII at 4096 (validated as UTF-8 on every call), 1 MiB at 65536.
  (func (export "_initialize")
    (memory.fill (i32.const 4096) (i32.const 0x78) (i32.const 1024))
    (memory.fill (i32.const 65536) (i32.const 0xa5) (i32.const 1048576)))
  (func (export "plain") (param $n i32)
    (loop $l (call $local_nop)
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "empty") (param $n i32)
    (loop $l (call $nop)
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "string") (param $n i32) (result i32) (local $r i32)
    (loop $l (local.set $r (call $take_string (i32.const 4096) (i32.const 1024)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $r))
  (func (export "bytes") (param $n i32) (result i32) (local $r i32)
    (loop $l (local.set $r (call $take_bytes (i32.const 65536) (i32.const 1048576)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $r)))"#;

/// The callee: its `cabi_realloc` hands out one fixed scratch area (so a million calls
/// don't need a million allocations), its functions return the length they received.
const NANO_LIB: &str = r#"(module $lib
  (memory (export "memory") 17)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "example:bench/calls#nop"))
  (func (export "example:bench/calls#take-string") (param i32 i32) (result i32) (local.get 1))
  (func (export "example:bench/calls#take-bytes") (param i32 i32) (result i32)
    ;; Touch the last byte, so the copy must have happened.
    (drop (i32.load8_u (i32.add (i32.const 1023) (local.get 1))))
    (local.get 1)))"#;

const NANO_WIT: &str = "package example:bench;
interface calls {
  nop: func();
  take-string: func(s: string) -> u32;
  take-bytes: func(b: list<u8>) -> u32;
}
";

const NANO_MANIFEST: &str = r#"[app]
main = "main"
[nanoprocess.main]
module = "main.wat"
links = { "example:bench/calls" = "lib" }
[nanoprocess.lib]
parent = "main"
module = "lib.wat"
wit = "calls.wit"
"#;

/// Call overhead across nanoprocesses, beside a plain call and a memcpy.
fn nano_calls(runs: usize, small: bool) -> Result<(), Box<dyn std::error::Error>> {
    use nanoproc_nano::{App, AppOptions, Manifest, Val};

    let dir = std::env::temp_dir().join(format!("nanoproc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("main.wat"), NANO_MAIN)?;
    std::fs::write(dir.join("lib.wat"), NANO_LIB)?;
    std::fs::write(dir.join("calls.wit"), NANO_WIT)?;
    std::fs::write(dir.join("nanoproc.toml"), NANO_MANIFEST)?;
    let app = Manifest::from_file(dir.join("nanoproc.toml"))
        .map_err(|e| e.to_string())
        .and_then(|m| App::new(&m, AppOptions::default()).map_err(|e| e.to_string()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut app = app?;

    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    let scale = if small { 50 } else { 1 };
    let cases: [(&str, &str, u32, Option<i32>); 4] = [
        (
            "plain wasm→wasm call inside one module",
            "plain",
            5_000_000,
            None,
        ),
        ("empty cross-nanoprocess call", "empty", 1_000_000, None),
        (
            "cross-nanoprocess call passing a 1 KiB string",
            "string",
            1_000_000,
            Some(KIB as i32),
        ),
        (
            "cross-nanoprocess call passing a 1 MiB list<u8>",
            "bytes",
            2_000,
            Some(MIB as i32),
        ),
    ];
    let mut per_call = Vec::new();
    for (label, export, n, expect) in cases {
        let n = (n / scale).max(10);
        let (t, r) = time(runs, || app.call("main", export, &[Val::I32(n as i32)]));
        let results = r?;
        if let Some(want) = expect {
            assert!(
                matches!(results.as_slice(), [Val::I32(got)] if *got == want),
                "{export}: the callee saw the wrong length: {results:?}"
            );
        }
        let ns = t.as_secs_f64() * 1e9 / f64::from(n);
        per_call.push(ns);
        let extra = if export == "bytes" {
            format!(" ({:.1} GB/s)", MIB as f64 / ns)
        } else {
            String::new()
        };
        println!(
            "| {label} | {:.1} ms for {n} | {} per call (incl. loop){extra} |",
            t.as_secs_f64() * 1e3,
            format_ns(ns)
        );
    }

    // memcpy of 1 MiB between two cache-hot buffers, for reference.
    let src = vec![0xa5u8; MIB];
    let mut dst = vec![0u8; MIB];
    let copies = (2_000 / scale).max(10);
    let (t, ()) = time(runs, || {
        for _ in 0..copies {
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&mut dst);
        }
    });
    let memcpy = t.as_secs_f64() * 1e9 / f64::from(copies);
    println!(
        "| memcpy of 1 MiB (this machine, for reference) | {:.1} ms for {copies} | {} per copy ({:.1} GB/s) |",
        t.as_secs_f64() * 1e3,
        format_ns(memcpy),
        MIB as f64 / memcpy
    );
    println!(
        "| ratios (targets: empty ≤ 3× plain; 1 MiB ≈ memcpy) | — | empty cross call {:.1}× a plain call; 1 MiB list<u8> call {:.2}× a memcpy |",
        per_call[1] / per_call[0],
        per_call[3] / memcpy
    );
    Ok(())
}

fn format_ns(ns: f64) -> String {
    if ns >= 1_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{ns:.1} ns")
    }
}
