//! `nanoproc-peers`: nanoproc side by side with other WebAssembly runtimes.
//!
//! Prints markdown tables (progress goes to stderr); `scripts/bench.sh` wraps them into
//! `docs/benchmarks.md`. Every execution is checked for correct output, so a wrong answer
//! cannot look fast; figures are medians; nothing is asserted about time.
//!
//! ```text
//! nanoproc-peers [--quick] [--runs N] [--budget SECS] [--only SUBSTRING]
//!                [--runtimes a,b,c] [--sightglass DIR] [--workloads DIR]
//! nanoproc-peers --single RUNTIME WORKLOAD [--small]   # one run, e.g. under callgrind
//! ```

mod runtimes;
mod table;
mod wasi;

use runtimes::Runtime;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use table::{Cell, Table};
use wasi::{Files, WasiCtx};

const USAGE: &str = "\
usage: nanoproc-peers [--quick] [--runs N] [--budget SECS] [--only SUBSTRING]
                      [--runtimes a,b,c] [--sightglass DIR] [--workloads DIR]
       nanoproc-peers --single RUNTIME WORKLOAD [--small]

  --quick           at most 2 runs and 5 s per workload; no slow sightglass programs
  --runs N          runs per runtime and workload (default 5; the median is reported)
  --budget SECS     stop repeating once a runtime's runs took this long (default 20)
  --only SUBSTRING  only workloads (or sections: compile, instantiate, memory, calls)
                    whose name contains SUBSTRING
  --runtimes a,b,c  only these runtimes (nanoproc, wasmi, wasm3, wamr, wasmtime,
                    wasmtime-pulley, wasmtime-pooling: as built)
  --single R W      one checked run of workload W on runtime R (for callgrind, perf)
  --small           smaller sizes for our C workloads (with --single under callgrind)";

/// Our C workloads (benches/peers/workloads), with the argument of a full run and of a
/// `--small` run (for callgrind, which is ~50× slower).
const WORKLOADS: &[(&str, &str, &str)] = &[
    ("coremark", "1000", "10"),
    ("fib", "35", "25"),
    ("loop", "60000000", "1000000"),
    ("memops", "500000", "5000"),
    ("calls", "3000000", "50000"),
    ("bytecode", "10000", "1000"),
];

/// Sightglass programs that take minutes in an interpreter, left out by `--quick`.
const SLOW_SIGHTGLASS: &[&str] = &[
    "gcc-loops/benchmark",
    "shootout/shootout-ed25519",
    "shootout/shootout-seqhash",
];

/// Programs whose output is compared ignoring trailing newlines (see tests/sightglass.rs:
/// hex-simd prints one newline for its empty default.input; its expected file is empty).
const TRAILING_NEWLINES_IGNORED: &[&str] = &["hex-simd/benchmark"];

struct Options {
    runs: usize,
    budget: Duration,
    quick: bool,
    only: Option<String>,
    runtimes: Option<Vec<String>>,
    sightglass: PathBuf,
    workloads: PathBuf,
    single: Option<(String, String)>,
    small: bool,
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        runs: 5,
        budget: Duration::from_secs(20),
        quick: false,
        only: None,
        runtimes: None,
        sightglass: std::env::var_os("NANOPROC_SIGHTGLASS")
            .map(PathBuf::from)
            .unwrap_or_else(|| manifest_dir().join("../../../shared/benchmarks/sightglass")),
        workloads: manifest_dir().join("target/workloads"),
        single: None,
        small: false,
    };
    let mut args = std::env::args().skip(1);
    let value = |args: &mut dyn Iterator<Item = String>, flag: &str| {
        args.next().ok_or_else(|| format!("{flag} needs a value"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => o.quick = true,
            "--small" => o.small = true,
            "--runs" => {
                o.runs = value(&mut args, "--runs")?
                    .parse::<usize>()
                    .map_err(|e| format!("--runs: {e}"))?
                    .max(1)
            }
            "--budget" => {
                o.budget = Duration::from_secs_f64(
                    value(&mut args, "--budget")?
                        .parse()
                        .map_err(|e| format!("--budget: {e}"))?,
                )
            }
            "--only" => o.only = Some(value(&mut args, "--only")?),
            "--runtimes" => {
                o.runtimes = Some(
                    value(&mut args, "--runtimes")?
                        .split(',')
                        .map(str::to_string)
                        .collect(),
                )
            }
            "--sightglass" => o.sightglass = value(&mut args, "--sightglass")?.into(),
            "--workloads" => o.workloads = value(&mut args, "--workloads")?.into(),
            "--single" => {
                let rt = value(&mut args, "--single")?;
                o.single = Some((rt, value(&mut args, "--single")?));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    if o.quick {
        o.runs = o.runs.min(2);
        o.budget = o.budget.min(Duration::from_secs(5));
    }
    Ok(o)
}

fn main() {
    let options = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("nanoproc-peers: {e}");
            std::process::exit(2);
        }
    };
    let mut available = runtimes::all();
    if let Some(names) = &options.runtimes {
        if let Some(unknown) = names
            .iter()
            .find(|n| !available.iter().any(|(name, _)| name == n))
        {
            let known: Vec<&str> = available.iter().map(|(name, _)| *name).collect();
            eprintln!("nanoproc-peers: unknown runtime {unknown:?}; this build has {known:?}");
            std::process::exit(2);
        }
        available.retain(|(name, _)| names.iter().any(|n| n == name));
    }
    if let Some((runtime, _)) = &options.single {
        available.retain(|(name, _)| name == runtime);
    }
    let runtimes: Vec<Box<dyn Runtime>> = available.iter().map(|(_, make)| make()).collect();
    if let Some((runtime, workload)) = &options.single {
        std::process::exit(single(&options, &runtimes, runtime, workload));
    }
    let selected = |name: &str| {
        options
            .only
            .as_ref()
            .is_none_or(|o| name.contains(o.as_str()))
    };

    let workloads = own_workloads(&options);
    if workloads.iter().any(|w| selected(&w.name)) {
        let workloads: Vec<&Workload> = workloads.iter().filter(|w| selected(&w.name)).collect();
        let table = run_workloads(&options, &runtimes, &workloads, true);
        print_section("Our C workloads", &table);
    }
    match sightglass_workloads(&options) {
        Ok(programs) => {
            let programs: Vec<&Workload> = programs.iter().filter(|w| selected(&w.name)).collect();
            if !programs.is_empty() {
                let table = run_workloads(&options, &runtimes, &programs, false);
                print_section("Sightglass programs", &table);
            }
        }
        Err(e) => eprintln!("nanoproc-peers: sightglass skipped: {e}"),
    }
    if selected("compile") {
        print_section(
            "Compile throughput",
            &compile_throughput(&options, &runtimes),
        );
    }
    if selected("instantiate") {
        print_section("Instantiation latency", &instantiation(&options, &runtimes));
    }
    if selected("memory") {
        print_section("Memory per idle instance", &idle_memory(&runtimes));
    }
    if selected("calls") {
        print_section("Host-call overhead", &host_calls(&options, &runtimes));
    }
}

fn print_section(title: &str, table: &Table) {
    println!("### {title}\n");
    println!("{}", table.markdown());
}

/// One program to run to completion as a WASI command.
struct Workload {
    /// `folder/stem` for sightglass programs, the source's stem for ours.
    name: String,
    wasm: Vec<u8>,
    args: Vec<String>,
    files: Files,
    uses_simd: bool,
    expected_stdout: Option<Vec<u8>>,
    expected_stderr: Option<Vec<u8>>,
    /// Our workloads: the gcc -O2 build and its argument.
    native: Option<PathBuf>,
}

fn own_workloads(o: &Options) -> Vec<Workload> {
    WORKLOADS
        .iter()
        .filter_map(|(name, full, small)| {
            let path = o.workloads.join(format!("{name}.wasm"));
            let wasm = match std::fs::read(&path) {
                Ok(w) => w,
                Err(e) => {
                    eprintln!(
                        "nanoproc-peers: {} ({e}): run benches/peers/build-workloads.sh",
                        path.display()
                    );
                    return None;
                }
            };
            let arg = if o.small { small } else { full };
            Some(Workload {
                name: (*name).to_string(),
                uses_simd: uses_simd(&wasm),
                wasm,
                args: vec![format!("{name}.wasm"), (*arg).to_string()],
                files: Files::default(),
                expected_stdout: None,
                expected_stderr: Some(Vec::new()),
                native: Some(o.workloads.join(format!("{name}.native"))),
            })
        })
        .collect()
}

/// The expected-output file of `stem` for `stream`, or, in a folder with one program, the
/// one `*.stream.expected` there (gcc-loops names its files after the input).
fn expected(dir: &Path, stem: &str, stream: &str, single: bool) -> Option<Vec<u8>> {
    let own = dir.join(format!("{stem}.{stream}.expected"));
    if own.is_file() {
        return std::fs::read(own).ok();
    }
    if !single {
        return None;
    }
    let suffix = format!(".{stream}.expected");
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(&suffix)))
        .collect();
    match found.as_slice() {
        [one] => std::fs::read(one).ok(),
        _ => None,
    }
}

fn sightglass_workloads(o: &Options) -> Result<Vec<Workload>, String> {
    let root = &o.sightglass;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| format!("{}: {e} (set NANOPROC_SIGHTGLASS)", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let mut stems: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".wasm").map(str::to_string))
            .collect();
        stems.sort();
        let single = stems.len() == 1;
        let folder = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        // The folder's files are read once, before anything is timed.
        let files = Files::preload(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for stem in stems {
            let name = format!("{folder}/{stem}");
            if o.quick && SLOW_SIGHTGLASS.contains(&name.as_str()) {
                continue;
            }
            let wasm =
                std::fs::read(dir.join(format!("{stem}.wasm"))).map_err(|e| e.to_string())?;
            out.push(Workload {
                args: vec![format!("{stem}.wasm")],
                files: files.clone(),
                uses_simd: uses_simd(&wasm),
                expected_stdout: expected(&dir, &stem, "stdout", single),
                expected_stderr: expected(&dir, &stem, "stderr", single),
                native: None,
                wasm,
                name,
            });
        }
    }
    Ok(out)
}

/// Whether `wasm` needs fixed-width SIMD: it does not validate without it. (Not only the
/// `*-simd` programs: meshoptimizer has v128 code too.)
fn uses_simd(wasm: &[u8]) -> bool {
    let features = wasmparser::WasmFeatures::default() - wasmparser::WasmFeatures::SIMD;
    wasmparser::Validator::new_with_features(features)
        .validate_all(wasm)
        .is_err()
}

/// What one run printed, for comparison.
#[derive(PartialEq, Eq, Clone)]
struct Output {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn trim_newlines(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != b'\n').map_or(0, |i| i + 1);
    &b[..end]
}

/// Checks a run's output against the expected files, and against the first output seen
/// for this workload (`reference`: native code's, else the first runtime's), so runtimes
/// must at least agree where there is no expected file.
fn check(w: &Workload, got: &Output, reference: &mut Option<Output>) -> Result<(), String> {
    let loose = TRAILING_NEWLINES_IGNORED.contains(&w.name.as_str());
    let same = |a: &[u8], b: &[u8]| {
        if loose {
            trim_newlines(a) == trim_newlines(b)
        } else {
            a == b
        }
    };
    for (stream, got, want) in [
        ("stdout", &got.stdout, &w.expected_stdout),
        ("stderr", &got.stderr, &w.expected_stderr),
    ] {
        if let Some(want) = want {
            if !same(got, want) {
                return Err(format!(
                    "{stream} differs from the expected output: {:?}",
                    String::from_utf8_lossy(&got[..got.len().min(120)])
                ));
            }
        }
    }
    match reference {
        Some(r) if r != got => Err(format!(
            "output differs from the reference run's: {:?}",
            String::from_utf8_lossy(&got.stdout[..got.stdout.len().min(120)])
        )),
        Some(_) => Ok(()),
        None => {
            *reference = Some(got.clone());
            Ok(())
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `once` up to `runs` times, stopping when `budget` of wall time is spent (at least
/// one run); the median of the durations it returns.
fn repeat(
    runs: usize,
    budget: Duration,
    mut once: impl FnMut() -> Result<Duration, String>,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut times = Vec::new();
    while times.len() < runs && (times.is_empty() || started.elapsed() < budget) {
        times.push(once()?);
    }
    Ok(median(times))
}

/// One timed WASI run of `w` on `program`, checked.
fn run_once(
    w: &Workload,
    program: &dyn runtimes::Program,
    reference: &mut Option<Output>,
) -> Result<Duration, String> {
    let args: Vec<&str> = w.args.iter().map(String::as_str).collect();
    let ctx = program.run(WasiCtx::new(&args, w.files.clone()))?;
    if let Some(code) = ctx.exit_code.filter(|c| *c != 0) {
        return Err(format!(
            "exit code {code}: {}",
            String::from_utf8_lossy(&ctx.stderr)
        ));
    }
    let timed = ctx
        .timed()
        .ok_or("the program did not call bench.start and bench.end")?;
    check(
        w,
        &Output {
            stdout: ctx.stdout,
            stderr: ctx.stderr,
        },
        reference,
    )?;
    Ok(timed)
}

/// The gcc -O2 build of one of our workloads: its own `bench-ns:` line gives the time.
fn run_native(
    w: &Workload,
    path: &Path,
    reference: &mut Option<Output>,
) -> Result<Duration, String> {
    let out = std::process::Command::new(path)
        .args(&w.args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed: {}", path.display(), out.status));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ns: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("bench-ns: "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or("no bench-ns line")?;
    let got = Output {
        stdout: out.stdout,
        stderr: Vec::new(),
    };
    check(w, &got, reference)?;
    Ok(Duration::from_nanos(ns))
}

fn run_workloads(
    o: &Options,
    runtimes: &[Box<dyn Runtime>],
    workloads: &[&Workload],
    native: bool,
) -> Table {
    let mut columns: Vec<String> = runtimes
        .iter()
        .filter(|r| r.runs_workloads())
        .map(|r| r.name().to_string())
        .collect();
    if native {
        columns.push("native (gcc -O2)".into());
    }
    let mut table = Table::new("workload", columns, Cell::seconds);
    for w in workloads {
        // The native build runs first, so its output is the reference every runtime's
        // checksum must match (where there is no expected-output file).
        let mut reference = None;
        let native_cell = match (&w.native, native) {
            (Some(path), true) => {
                let outcome = repeat(o.runs, o.budget, || run_native(w, path, &mut reference));
                Some(Cell::from_outcome(&w.name, "native", outcome))
            }
            (None, true) => Some(Cell::NotApplicable),
            (_, false) => None,
        };
        let mut row = Vec::new();
        for rt in runtimes.iter().filter(|r| r.runs_workloads()) {
            let cell = if w.uses_simd && !rt.supports_simd() {
                Cell::NotApplicable
            } else {
                eprintln!("  {} on {} ...", w.name, rt.name());
                let outcome = rt.load(&w.wasm).and_then(|program| {
                    repeat(o.runs, o.budget, || run_once(w, &*program, &mut reference))
                });
                Cell::from_outcome(&w.name, rt.name(), outcome)
            };
            row.push(cell);
        }
        row.extend(native_cell);
        table.row(&w.name, row);
    }
    table.geomean_row();
    table
}

/// The `n` largest sightglass modules without SIMD (every runtime can compile those).
fn largest_modules(o: &Options, n: usize) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<(String, Vec<u8>)> = sightglass_workloads(o)
        .unwrap_or_default()
        .into_iter()
        .filter(|w| !w.uses_simd)
        .map(|w| (w.name, w.wasm))
        .collect();
    all.sort_by_key(|(_, wasm)| std::cmp::Reverse(wasm.len()));
    all.truncate(n);
    all
}

fn compile_throughput(o: &Options, runtimes: &[Box<dyn Runtime>]) -> Table {
    let modules = largest_modules(o, 3);
    // A configuration that only changes instance allocation compiles the same way. A
    // runtime with a lazier default mode gets a second column for it.
    let mut columns: Vec<(String, &dyn Runtime, bool)> = Vec::new();
    for rt in runtimes.iter().filter(|r| r.runs_workloads()) {
        columns.push((rt.name().to_string(), &**rt, false));
        if modules
            .first()
            .is_some_and(|(_, wasm)| rt.lazy_compile(wasm).is_some())
        {
            columns.push((format!("{} (lazy, its default)", rt.name()), &**rt, true));
        }
    }
    let names = columns.iter().map(|(name, _, _)| name.clone()).collect();
    let mut table = Table::new("module (size)", names, Cell::mb_per_s);
    for (name, wasm) in modules {
        let mb = wasm.len() as f64 / 1e6;
        let mut row = Vec::new();
        for (column, rt, lazy) in &columns {
            eprintln!("  compile {name} on {column} ...");
            let outcome = repeat(o.runs, o.budget, || {
                let (t, r) = runtimes::timed(|| {
                    if *lazy {
                        rt.lazy_compile(&wasm).unwrap_or(Ok(()))
                    } else {
                        rt.compile(&wasm)
                    }
                });
                r.map(|()| t)
            });
            row.push(Cell::from_outcome(&name, column, outcome.map(|t| (t, mb))));
        }
        table.row(&format!("{name} ({mb:.2} MB)"), row);
    }
    table.geomean_row();
    table
}

/// A small module as an embedder might instantiate per request: one memory, a table,
/// a global, a few functions and two data segments. `pages` sets the memory's size.
fn small_module(pages: u32) -> Vec<u8> {
    let text = format!(
        r#"(module
          (memory (export "memory") {pages})
          (global $count (mut i32) (i32.const 0))
          (table 2 funcref)
          (elem (i32.const 0) $inc $load)
          (data (i32.const 0) "nanoproc peers: a small data segment, sixty-four bytes long...")
          (data (i32.const 1024) "\01\02\03\04\05\06\07\08")
          (func $inc (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
          (func $load (export "load") (param i32) (result i32) (i32.load (local.get 0)))
          (func (export "dispatch") (param i32 i32) (result i32)
            (call_indirect (param i32) (result i32) (local.get 1) (local.get 0)))
          (func (export "bump") (global.set $count (i32.add (global.get $count) (i32.const 1)))))"#
    );
    wat::parse_str(text).expect("the small module is valid")
}

fn instantiation(o: &Options, runtimes: &[Box<dyn Runtime>]) -> Table {
    let wasm = small_module(1);
    let columns = runtimes.iter().map(|r| r.name().to_string()).collect();
    let mut table = Table::new("module", columns, Cell::micros);
    let n = if o.quick { 200 } else { 2000 };
    let mut row = Vec::new();
    for rt in runtimes {
        eprintln!("  instantiate on {} ...", rt.name());
        // Warm up allocators and caches, then take the median of many.
        let outcome = rt
            .instantiate(&wasm, n / 10)
            .and_then(|_| rt.instantiate(&wasm, n))
            .map(median);
        row.push(Cell::from_outcome("instantiate", rt.name(), outcome));
    }
    table.row(
        &format!("small module ({} bytes, 1 page), median of {n}", wasm.len()),
        row,
    );
    table
}

/// Bytes in use on the malloc heap. Rust's global allocator is malloc here, and the C
/// runtimes (wasm3, WAMR) allocate with malloc too, so this sees all of them.
fn heap_in_use() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let info = unsafe { libc::mallinfo2() };
    info.uordblks + info.hblkhd
}

/// Heap bytes per instance held by `runtime` for `wasm`, over `n` instances.
fn heap_per_instance(rt: &dyn Runtime, wasm: &[u8], n: usize) -> Result<f64, String> {
    let before = heap_in_use();
    let held = rt.hold_instances(wasm, n)?;
    let after = heap_in_use();
    drop(held);
    Ok((after as f64 - before as f64) / n as f64)
}

fn idle_memory(runtimes: &[Box<dyn Runtime>]) -> Table {
    const N: usize = 1000;
    const EXTRA_PAGES: u32 = 8;
    let small = small_module(1);
    let bigger = small_module(1 + EXTRA_PAGES);
    let columns = runtimes.iter().map(|r| r.name().to_string()).collect();
    let mut table = Table::new("figure", columns, Cell::kib);
    let mut idle = Vec::new();
    let mut total = Vec::new();
    for rt in runtimes {
        eprintln!("  memory on {} ...", rt.name());
        let outcome = heap_per_instance(&**rt, &small, N).and_then(|a| {
            // How much of a bigger linear memory lands on the heap tells whether (and how
            // much of) the 1-page memory above is heap-allocated; that part is subtracted.
            let b = heap_per_instance(&**rt, &bigger, N)?;
            let per_page = ((b - a) / f64::from(EXTRA_PAGES)).max(0.0);
            Ok((a, a - per_page))
        });
        total.push(Cell::from_outcome(
            "memory",
            rt.name(),
            outcome.clone().map(|(a, _)| a / 1024.0),
        ));
        idle.push(Cell::from_outcome(
            "memory",
            rt.name(),
            outcome.map(|(_, i)| i / 1024.0),
        ));
    }
    table.row(
        &format!("heap per instance, minus heap-allocated linear memory (KiB, {N} instances)"),
        idle,
    );
    table.row("heap per instance, all (KiB)", total);
    table
}

/// The host-call module: an empty export, and a loop calling an empty host function.
fn calls_module() -> Vec<u8> {
    wat::parse_str(
        r#"(module
          (import "host" "nop" (func $nop))
          (memory (export "memory") 1)
          (func (export "empty"))
          (func (export "call_host") (param $n i32)
            (loop $l
              (call $nop)
              (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#,
    )
    .expect("the calls module is valid")
}

fn host_calls(o: &Options, runtimes: &[Box<dyn Runtime>]) -> Table {
    let wasm = calls_module();
    let n: u32 = if o.quick { 100_000 } else { 1_000_000 };
    let columns = runtimes.iter().map(|r| r.name().to_string()).collect();
    let mut table = Table::new(
        &format!("call (ns per call, median of {} × {n})", o.runs),
        columns,
        Cell::nanos,
    );
    let mut to_host = Vec::new();
    let mut to_host_caller = Vec::new();
    let mut to_wasm = Vec::new();
    for rt in runtimes {
        eprintln!("  host calls on {} ...", rt.name());
        let mut pairs = Vec::new();
        let outcome = (0..o.runs).try_for_each(|_| rt.host_calls(&wasm, n).map(|p| pairs.push(p)));
        let per_call = |pick: fn(&(Duration, Duration)) -> Duration| {
            outcome
                .clone()
                .map(|()| median(pairs.iter().map(pick).collect()).as_secs_f64() / f64::from(n))
        };
        to_host.push(Cell::from_outcome("calls", rt.name(), per_call(|p| p.0)));
        to_wasm.push(Cell::from_outcome("calls", rt.name(), per_call(|p| p.1)));
        let mut with_caller = Vec::new();
        let outcome = (0..o.runs).try_for_each(|_| {
            rt.host_calls_with_caller(&wasm, n)
                .map(|t| with_caller.extend(t))
        });
        to_host_caller.push(match outcome {
            Ok(()) if with_caller.is_empty() => Cell::NotApplicable,
            outcome => Cell::from_outcome(
                "calls with Caller",
                rt.name(),
                outcome.map(|()| median(with_caller).as_secs_f64() / f64::from(n)),
            ),
        });
    }
    table.row(
        "wasm → host: empty host function, no store access (incl. loop)",
        to_host,
    );
    table.row(
        "wasm → host: empty host function taking `Caller` (incl. loop)",
        to_host_caller,
    );
    table.row("host → wasm: empty exported function (typed call)", to_wasm);
    table
}

/// `--single RUNTIME WORKLOAD`: one checked run, for profilers and callgrind.
fn single(o: &Options, runtimes: &[Box<dyn Runtime>], runtime: &str, workload: &str) -> i32 {
    let Some(rt) = runtimes.iter().find(|r| r.name() == runtime) else {
        eprintln!("nanoproc-peers: no runtime {runtime:?} in this build");
        return 2;
    };
    // Sightglass folders are read only when needed: under callgrind, reading them all
    // would add to the counted instructions.
    let mut all = own_workloads(o);
    if !all.iter().any(|w| w.name == workload) {
        all = sightglass_workloads(o).unwrap_or_default();
    }
    let Some(w) = all.iter().find(|w| w.name == workload) else {
        eprintln!("nanoproc-peers: no workload {workload:?}");
        return 2;
    };
    let mut reference = None;
    match rt
        .load(&w.wasm)
        .and_then(|p| run_once(w, &*p, &mut reference))
    {
        Ok(t) => {
            let out = reference.map(|r| r.stdout).unwrap_or_default();
            print!("{}", String::from_utf8_lossy(&out));
            eprintln!(
                "{} on {}: {:.3} ms between bench.start and bench.end",
                w.name,
                rt.name(),
                t.as_secs_f64() * 1e3
            );
            0
        }
        Err(e) => {
            eprintln!("{} on {}: {e}", w.name, rt.name());
            1
        }
    }
}
