//! The sightglass benchmark programs (`$NANOPROC_SIGHTGLASS`, default
//! `../shared/benchmarks/sightglass`) as end-to-end correctness tests: every `*.wasm` runs
//! through the real `nanoproc run`, with its folder as working directory and preopened
//! read-only as `.`, `bench.start`/`bench.end` from `examples/bench.wat`, and stdin empty;
//! its exit code must be 0 and its stdout/stderr must equal the `.expected` files byte for
//! byte (a stream without an `.expected` file is not checked; `TRAILING_NEWLINES_IGNORED`
//! lists the one program compared more loosely, and why).
//!
//! Programs run two at a time (the CI machines have two cores). The few that take minutes
//! under the interpreter only run with `NANOPROC_SLOW_TESTS=1`; they are listed in `SLOW`
//! with their measured time. The test fails (never skips) when the folder is missing.

use nanoproc_tests::{nanoproc_bin, workspace_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Programs left out unless `NANOPROC_SLOW_TESTS=1`, as `folder/stem`, with the wall time
/// `nanoproc run` (release build) took on the 2-core development machine. None at the
/// moment: the whole set takes 150-230 s two at a time (see `LONGEST`). Add a program here,
/// with its time, if the set grows past ~6 minutes.
const SLOW: &[(&str, &str)] = &[];

/// The programs that take longest (seconds measured alone, release build, 2-core machine),
/// started first so that the two workers finish close together; all others take under
/// 10 s each (together about 45 s).
const LONGEST: &[(&str, u32)] = &[
    ("gcc-loops/benchmark", 117),
    ("shootout/shootout-ed25519", 66),
    ("shootout/shootout-seqhash", 61),
    ("shootout/shootout-fib2", 11),
];

/// Programs whose output is compared ignoring trailing newlines, with the reason. Everything
/// else must match byte for byte.
const TRAILING_NEWLINES_IGNORED: &[(&str, &str)] = &[(
    "hex-simd/benchmark",
    "it prints the hex encoding of default.input with println!, so one newline for the \
     empty default.input here, while its benchmark.stdout.expected is empty (upstream \
     sightglass compares line by line and has a 1 MiB input)",
)];

/// How many programs run at once.
const JOBS: usize = 2;

struct Program {
    /// `folder/stem`, e.g. `shootout/shootout-fib2`.
    name: String,
    dir: PathBuf,
    wasm: String,
    stdout: Option<PathBuf>,
    stderr: Option<PathBuf>,
}

struct Outcome {
    name: String,
    time: Duration,
    failure: Option<String>,
}

fn sightglass_dir() -> PathBuf {
    match std::env::var_os("NANOPROC_SIGHTGLASS") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("../shared/benchmarks/sightglass"),
    }
}

/// The expected-output file of `stem` for `stream` (`stdout`/`stderr`): `stem.stream.expected`,
/// or, in a folder with a single program, the one `*.stream.expected` there (gcc-loops
/// names its files after the input, `default.stdout.expected`).
fn expected(dir: &Path, stem: &str, stream: &str, single: bool) -> Option<PathBuf> {
    let own = dir.join(format!("{stem}.{stream}.expected"));
    if own.is_file() {
        return Some(own);
    }
    if !single {
        return None;
    }
    let suffix = format!(".{stream}.expected");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(&suffix)))
        .collect();
    (found.len() == 1).then(|| found.remove(0))
}

fn programs(root: &Path) -> Vec<Program> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| {
            panic!(
                "cannot read the sightglass folder {} ({e}); set NANOPROC_SIGHTGLASS",
                root.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let mut stems: Vec<String> = std::fs::read_dir(&dir)
            .expect("read benchmark folder")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".wasm").map(str::to_string))
            .collect();
        stems.sort();
        let single = stems.len() == 1;
        let folder = dir.file_name().unwrap().to_string_lossy().into_owned();
        for stem in stems {
            out.push(Program {
                name: format!("{folder}/{stem}"),
                stdout: expected(&dir, &stem, "stdout", single),
                stderr: expected(&dir, &stem, "stderr", single),
                wasm: format!("{stem}.wasm"),
                dir: dir.clone(),
            });
        }
    }
    out
}

fn run_program(p: &Program, bench_wat: &Path) -> Outcome {
    let start = Instant::now();
    let output = Command::new(nanoproc_bin())
        .args(["run", "--dir-ro", "."])
        .arg("--preload")
        .arg(format!("bench={}", bench_wat.display()))
        .arg(&p.wasm)
        .current_dir(&p.dir)
        .stdin(Stdio::null())
        .output()
        .expect("spawn nanoproc");
    let time = start.elapsed();
    let mut problems = Vec::new();
    if !output.status.success() {
        problems.push(format!(
            "exit {:?}: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .next()
                .unwrap_or_default()
        ));
    }
    for (stream, got, want) in [
        ("stdout", &output.stdout, &p.stdout),
        ("stderr", &output.stderr, &p.stderr),
    ] {
        let Some(want) = want else { continue };
        let want = std::fs::read(want).expect("read expected output");
        let loose = TRAILING_NEWLINES_IGNORED
            .iter()
            .any(|(name, _)| *name == p.name);
        let trim = |b: &[u8]| -> Vec<u8> {
            let end = b.iter().rposition(|&c| c != b'\n').map_or(0, |i| i + 1);
            b[..end].to_vec()
        };
        let same = if loose {
            trim(got) == trim(&want)
        } else {
            *got == want
        };
        if !same {
            problems.push(format!(
                "{stream} differs ({} bytes, expected {}): {:?}",
                got.len(),
                want.len(),
                String::from_utf8_lossy(&got[..got.len().min(200)])
            ));
        }
    }
    Outcome {
        name: p.name.clone(),
        time,
        failure: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

#[test]
fn sightglass_programs_produce_expected_output() {
    let root = sightglass_dir();
    let bench_wat = workspace_root().join("examples/bench.wat");
    let slow_too = std::env::var_os("NANOPROC_SLOW_TESTS").is_some_and(|v| v == "1");
    let mut queue = Vec::new();
    for p in programs(&root) {
        match SLOW.iter().find(|(name, _)| *name == p.name) {
            Some((_, time)) if !slow_too => {
                println!("SKIP {} (takes {time}; set NANOPROC_SLOW_TESTS=1)", p.name)
            }
            _ => queue.push(p),
        }
    }
    assert!(!queue.is_empty(), "no programs found in {}", root.display());
    // Longest first (workers pop from the end), the rest in alphabetical order.
    let cost = |p: &Program| {
        LONGEST
            .iter()
            .find(|(name, _)| *name == p.name)
            .map_or(0, |(_, secs)| *secs)
    };
    queue.sort_by_key(|p| (cost(p), std::cmp::Reverse(p.name.clone())));
    let total = queue.len();
    let queue = Mutex::new(queue);
    let outcomes = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..JOBS {
            s.spawn(|| loop {
                let Some(p) = queue.lock().unwrap().pop() else {
                    break;
                };
                let outcome = run_program(&p, &bench_wat);
                let verdict = if outcome.failure.is_some() {
                    "FAIL"
                } else {
                    "ok  "
                };
                println!(
                    "{verdict} {:>7.2} s  {}",
                    outcome.time.as_secs_f64(),
                    p.name
                );
                outcomes.lock().unwrap().push(outcome);
            });
        }
    });
    let outcomes = outcomes.into_inner().unwrap();
    assert_eq!(outcomes.len(), total);
    let failures: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    for f in &failures {
        println!("FAILED {}: {}", f.name, f.failure.as_deref().unwrap_or(""));
    }
    println!(
        "{} passed, {} failed ({:.1} s wall time, {JOBS} at a time)",
        total - failures.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} sightglass program(s) failed",
        failures.len()
    );
}
