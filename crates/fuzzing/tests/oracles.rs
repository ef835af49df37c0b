//! Runs every oracle on a deterministic stream of pseudo-random inputs for a bounded time
//! (`NANOPROC_FUZZ_SECONDS` per oracle, default 20), and replays every input saved under
//! `tests/regressions/<oracle>/`. This is the brief fuzzing CI does; the long runs use
//! cargo-fuzz (`fuzz/`, see `docs/fuzzing.md`).
//!
//! A failing input (broken property, panic, or no answer within a minute) is written to
//! `target/fuzz-failures/<oracle>-<n>.bin`, ready to be copied into `tests/regressions/`.

use nanoproc_fuzzing::{
    decode_validate_translate, differential, eager_translation, smith_module, wasi_paths, Failure,
};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

type Oracle = fn(&[u8]) -> Result<(), Failure>;

/// One input gets this long before it counts as a hang.
const HANG: Duration = Duration::from_secs(60);

fn budget() -> Duration {
    let secs = std::env::var("NANOPROC_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(20.0);
    Duration::from_secs_f64(secs)
}

/// splitmix64: tiny, deterministic, good enough to drive input generation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Runs `oracle` on `input` in its own thread: `Err` describes a broken property, a panic
/// or a hang.
fn check(oracle: Oracle, input: &[u8]) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    let owned = input.to_vec();
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let r = std::panic::catch_unwind(|| oracle(&owned));
            let _ = tx.send(match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(f)) => Err(format!("oracle failure: {f}")),
                Err(p) => Err(format!(
                    "panic: {}",
                    p.downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| p.downcast_ref::<&str>().copied())
                        .unwrap_or("(non-string payload)")
                )),
            });
        })
        .expect("spawn");
    match rx.recv_timeout(HANG) {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {HANG:?} (hang)")),
    }
}

fn save_failure(name: &str, n: usize, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let path = match n {
        usize::MAX => dir.join(format!("{name}-current.bin")),
        n => dir.join(format!("{name}-{n}.bin")),
    };
    let _ = std::fs::write(&path, input);
    path
}

/// Feeds `gen`'s inputs to `oracle` until the budget is spent; panics on the first failure.
fn fuzz(name: &str, oracle: Oracle, seed: u64, mut gen: impl FnMut(&mut Rng) -> Vec<u8>) {
    let budget = budget();
    let start = Instant::now();
    let mut rng = Rng(seed);
    let mut n = 0usize;
    // A crash that kills the process (an abort, a stack overflow) cannot be reported from
    // here: the input being run is always on disk instead.
    let current = save_failure(name, usize::MAX, &[]);
    while start.elapsed() < budget {
        let input = gen(&mut rng);
        let _ = std::fs::write(&current, &input);
        if let Err(e) = check(oracle, &input) {
            let path = save_failure(name, n, &input);
            panic!(
                "{name}: input #{n} ({} bytes, saved to {}): {e}",
                input.len(),
                path.display()
            );
        }
        n += 1;
    }
    eprintln!("{name}: {n} inputs in {:.1?}, no failure", start.elapsed());
    assert!(n > 0, "{name}: no input ran");
}

/// Raw bytes, wasm-smith modules, and wasm-smith modules with a few bytes changed or cut.
fn module_input(rng: &mut Rng) -> Vec<u8> {
    match rng.below(4) {
        0 => {
            let mut v = b"\0asm\x01\0\0\0".to_vec();
            let len = rng.below(256);
            v.extend(rng.bytes(len));
            v
        }
        1 => {
            let len = rng.below(2048) + 16;
            let seed = rng.bytes(len);
            smith_module(&seed).unwrap_or(seed)
        }
        _ => {
            let len = rng.below(2048) + 16;
            let seed = rng.bytes(len);
            let mut m = smith_module(&seed).unwrap_or(seed);
            for _ in 0..rng.below(4) + 1 {
                let i = rng.below(m.len());
                m[i] = rng.next() as u8;
            }
            if rng.below(4) == 0 {
                let cut = rng.below(m.len());
                m.truncate(cut);
            }
            m
        }
    }
}

#[test]
fn fuzz_decode_validate_translate() {
    fuzz(
        "decode_validate_translate",
        decode_validate_translate,
        1,
        module_input,
    );
}

#[test]
fn fuzz_differential() {
    fuzz("differential", differential, 2, |rng| {
        let len = rng.below(4096) + 64;
        rng.bytes(len)
    });
    eprintln!(
        "differential: {}",
        nanoproc_fuzzing::stats::differential::summary()
    );
}

#[test]
fn fuzz_eager_translation() {
    fuzz("eager_translation", eager_translation, 4, |rng| {
        let len = rng.below(4096) + 64;
        rng.bytes(len)
    });
    eprintln!(
        "eager_translation: {}",
        nanoproc_fuzzing::stats::eager_translation::summary()
    );
}

#[test]
fn fuzz_wasi_paths() {
    fuzz("wasi_paths", wasi_paths, 3, |rng| {
        let len = rng.below(512) + 8;
        rng.bytes(len)
    });
    eprintln!(
        "wasi_paths: {}",
        nanoproc_fuzzing::stats::wasi_paths::summary()
    );
}

/// Every input under `tests/regressions/<oracle>/` still passes its oracle.
#[test]
fn regressions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let oracles: [(&str, Oracle); 4] = [
        ("decode_validate_translate", decode_validate_translate),
        ("differential", differential),
        ("eager_translation", eager_translation),
        ("wasi_paths", wasi_paths),
    ];
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, oracle) in oracles {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            let input = std::fs::read(&path).expect("read regression input");
            count += 1;
            if let Err(e) = check(oracle, &input) {
                failures.push(format!("{}: {e}", path.display()));
            }
        }
    }
    eprintln!("replayed {count} regression inputs");
    assert!(
        failures.is_empty(),
        "regressions fail:\n{}",
        failures.join("\n")
    );
}
