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
