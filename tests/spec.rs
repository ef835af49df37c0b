//! The official WebAssembly spec testsuite, run through `nanoproc-wast`.
//!
//! Reads the suite from `$NANOPROC_TESTSUITE` (default `../shared/wasm-testsuite` beside the
//! repository). Every root `.wast` (WebAssembly 2.0) must pass every assertion. From
//! `proposals/wasm-3.0/` we run the tail-call files and the global/data/elem files for
//! extended constant expressions; assertions there that need 3.0 features we do not implement
//! yet are listed below, line by line, with the reason. A listed assertion that starts to pass
//! fails the test too, so the table can only shrink.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Root 2.0 files that cannot run yet: must stay empty.
const ROOT_EXPECTED_FAILURES: &[(&str, u32, &str)] = &[];

const GC_GLOBAL_GET: &str = "gc: global.get of a defined global in a constant expression";
const FUNC_REFS: &str = "function-references: non-nullable reference types";
const TABLE_INIT_EXPR: &str = "function-references: table initializer expression";

/// The 3.0 files we run, and the assertions in them that need other 3.0 proposals.
const PROPOSAL_FILES: &[(&str, &[(u32, &str)])] = &[
    ("return_call.wast", &[]),
    ("return_call_indirect.wast", &[]),
    (
        "global.wast",
        &[
            (373, GC_GLOBAL_GET),
            (374, GC_GLOBAL_GET),
            (634, TABLE_INIT_EXPR),
            // The following invoke exports of the module at line 634.
            (659, TABLE_INIT_EXPR),
            (660, TABLE_INIT_EXPR),
            (661, TABLE_INIT_EXPR),
            (663, TABLE_INIT_EXPR),
            (664, TABLE_INIT_EXPR),
        ],
    ),
    ("data.wast", &[(89, GC_GLOBAL_GET), (90, GC_GLOBAL_GET)]),
    (
        "elem.wast",
        &[
            (87, FUNC_REFS),
            (178, GC_GLOBAL_GET),
            (182, GC_GLOBAL_GET),
            (315, FUNC_REFS),
            (448, FUNC_REFS),
            (453, FUNC_REFS),
            (465, FUNC_REFS),
            (470, FUNC_REFS),
            (482, FUNC_REFS),
            (487, FUNC_REFS),
            (499, FUNC_REFS),
            (504, FUNC_REFS),
            (539, FUNC_REFS),
            (544, FUNC_REFS),
            (556, FUNC_REFS),
            (561, FUNC_REFS),
            (573, FUNC_REFS),
            (578, FUNC_REFS),
        ],
    ),
];

fn testsuite_dir() -> PathBuf {
    let dir = std::env::var_os("NANOPROC_TESTSUITE")
        .map(PathBuf::from)
        .unwrap_or_else(|| nanoproc_tests::workspace_root().join("../shared/wasm-testsuite"));
    assert!(
        dir.join("i32.wast").is_file(),
        "the WebAssembly spec testsuite was not found at {}.\n\
         Get it with:\n  git clone https://github.com/WebAssembly/testsuite && \
         git -C testsuite checkout a810159\n\
         and point NANOPROC_TESTSUITE at that folder.",
        dir.display()
    );
    dir
}

/// Runs one file; returns the problems: unexpected failures and expected ones that passed.
fn run(path: &Path, expected: &[(u32, &str)], total: &mut (usize, usize)) -> Vec<String> {
    run_with(path, expected, total, &nanoproc_engine::Config::default())
}

fn run_with(
    path: &Path,
    expected: &[(u32, &str)],
    total: &mut (usize, usize),
    config: &nanoproc_engine::Config,
) -> Vec<String> {
    let report = nanoproc_wast::run_file_with(path, config).unwrap_or_else(|e| panic!("{e}"));
    let name = path.display().to_string();
    println!("{name}: {} passed, {} failed", report.passed, report.failed);
    total.0 += report.passed;
    total.1 += report.failed;
    let expected_lines: BTreeSet<u32> = expected.iter().map(|(l, _)| *l).collect();
    let mut failed_lines = BTreeSet::new();
    let mut problems = Vec::new();
    for f in &report.failures {
        // "<path>:<line>: message"
        let line = f[name.len() + 1..]
            .split(':')
            .next()
            .and_then(|l| l.parse::<u32>().ok())
            .unwrap_or(0);
        failed_lines.insert(line);
        if !expected_lines.contains(&line) {
            problems.push(format!("unexpected failure: {f}"));
        }
    }
    for (line, why) in expected {
        if !failed_lines.contains(line) {
            problems.push(format!(
                "{name}:{line} now passes (was expected to fail: {why}); remove it from the table"
            ));
        }
    }
    problems
}

#[test]
fn spec_testsuite_wasm2() {
    spec_wasm2(&nanoproc_engine::Config::default());
}

/// The same suite with fuel metering: the extra instructions at every jump target must not
/// change any result.
#[test]
fn spec_testsuite_wasm2_with_fuel_metering() {
    spec_wasm2(nanoproc_engine::Config::new().consume_fuel(true));
}

/// The same suite with every function translated when its module is compiled (the default
/// translates each on its first call).
#[test]
fn spec_testsuite_wasm2_translated_eagerly() {
    spec_wasm2(nanoproc_engine::Config::new().lazy_translation(false));
}

fn spec_wasm2(config: &nanoproc_engine::Config) {
    let dir = testsuite_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("readable testsuite folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wast"))
        .collect();
    files.sort();
    assert!(
        files.len() > 100,
        "expected the full 2.0 suite, found {} files",
        files.len()
    );
    let mut total = (0, 0);
    let mut problems = Vec::new();
    for file in &files {
        let fname = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let expected: Vec<(u32, &str)> = ROOT_EXPECTED_FAILURES
            .iter()
            .filter(|(f, _, _)| *f == fname)
            .map(|(_, l, w)| (*l, *w))
            .collect();
        problems.extend(run_with(file, &expected, &mut total, config));
    }
    println!("spec 2.0: {} files", files.len());
    println!("{} passed, {} failed", total.0, total.1);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn spec_testsuite_wasm3_tail_call_and_extended_const() {
    let dir = testsuite_dir().join("proposals/wasm-3.0");
    let mut total = (0, 0);
    let mut problems = Vec::new();
    for (file, expected) in PROPOSAL_FILES {
        problems.extend(run(&dir.join(file), expected, &mut total));
    }
    let expected_failures: usize = PROPOSAL_FILES.iter().map(|(_, e)| e.len()).sum();
    println!(
        "{} passed, {} failed ({expected_failures} listed as needing other 3.0 proposals)",
        total.0, total.1
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
