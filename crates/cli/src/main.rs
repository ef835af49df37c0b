//! # nanoproc — the command-line interface
//!
//! - Owns: argument parsing, turning command-line text into wasm values and wasm values
//!   back into text, error printing and exit codes.
//! - Must never: contain engine logic. Everything about modules, instances and execution
//!   is a call into `nanoproc-engine` (or `nanoproc-wast` for spec scripts); if a feature
//!   needs more than formatting and glue, it belongs in a library crate.
//!
//! Exit codes: 0 on success; for `run`, the guest's `proc_exit` code; 1 on any error (one
//! line `error: <cause>` on stderr); 134 when the guest traps (`error: trap: <kind>` followed
//! by the wasm backtrace); 2 for a command line clap cannot parse; 101 if nanoproc itself
//! panics (a bug; still one `error:` line).

use anyhow::{anyhow, Result};
use clap::{Args, CommandFactory, FromArgMatches, Subcommand};
use nanoproc_engine::{Engine, Error, Module};
use nanoproc_wasi::I32Exit;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `eprintln!` that cannot panic: when stderr is closed (`nanoproc … 2>&1 | head`), an
/// error report must not turn into a crash.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `println!` that cannot panic on a closed stdout.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod app;
mod inspect;
mod options;
mod run;
mod values;

/// Exit code of a run that ended in a trap (what a process killed by SIGABRT reports).
const TRAP_EXIT_CODE: u8 = 134;

#[derive(clap::Parser)]
#[command(name = "nanoproc", version, about = "Run untrusted WebAssembly.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a WASI command module (`_start`), or call an exported function (`--invoke`),
    /// with only the capabilities and within the limits given; or an application
    /// manifest (`APP.toml`), with the grants and limits it gives each nanoprocess.
    Run(Box<run::RunArgs>),
    /// Check an application manifest (modules, WIT, links, attenuation) without running
    /// it, and print its capability tree.
    Check(app::CheckArgs),
    /// Describe a module: imports, exports, memories, tables, globals, sections.
    Inspect(inspect::InspectArgs),
    /// Run WebAssembly spec testsuite scripts (.wast) and count passed assertions.
    Wast(WastArgs),
}

#[derive(Args)]
struct WastArgs {
    /// The .wast scripts to run.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    install_panic_hook();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Run(mut args) => {
            // Clap keeps `--dir` and `--dir-ro` in separate lists; their positions restore
            // the command-line order for the preopens' file descriptors.
            if let Some(m) = matches.subcommand_matches("run") {
                let positions = |id: &str| -> Vec<usize> {
                    m.indices_of(id).map(Iterator::collect).unwrap_or_default()
                };
                args.dir_positions = positions("dir");
                args.dir_ro_positions = positions("dir_ro");
            }
            run::run(*args)
        }
        Command::Check(args) => app::check(args),
        Command::Inspect(args) => inspect::inspect(args),
        Command::Wast(args) => wast(args),
    };
    // The guest's output went through Rust's buffered stdout; flush it before exiting.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    match result {
        Ok(code) => code,
        Err(err) => report(&err),
    }
}

/// Prints `err` on stderr and returns the exit code it deserves.
pub(crate) fn report(err: &anyhow::Error) -> ExitCode {
    let engine_err = err.chain().find_map(|cause| cause.downcast_ref::<Error>());
    if let Some(I32Exit(code)) = engine_err.and_then(Error::downcast_ref::<I32Exit>) {
        return exit_code(*code);
    }
    let trap = engine_err.and_then(Error::as_trap);
    if let Some(trap) = trap {
        eprint!("error: trap: {}\n{}", trap.kind, trap.backtrace_string());
        return ExitCode::from(TRAP_EXIT_CODE);
    }
    errln!("error: {}", one_line(&chain_text(err)));
    ExitCode::FAILURE
}

/// The process exit code for a guest's `proc_exit(code)`. Like wasmtime on Unix, the low
/// 8 bits — except that a nonzero code never turns into 0 (success).
fn exit_code(code: i32) -> ExitCode {
    match code as u8 {
        0 if code != 0 => ExitCode::FAILURE,
        low => ExitCode::from(low),
    }
}

/// The error and its causes joined with `: ` (like anyhow's `{:#}`), skipping a cause whose
/// text an outer message already quotes: the engine's errors embed their source.
fn chain_text(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let msg = cause.to_string();
        if out.contains(&msg) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&msg);
    }
    out
}

/// A panic is a bug in nanoproc, but the promise of one `error:` line still holds (set
/// `RUST_BACKTRACE=1` to get Rust's full report instead).
fn install_panic_hook() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        errln!(
            "error: internal error (a bug in nanoproc): {}{location}",
            one_line(&msg)
        );
    }));
}

/// Folds a multi-line message (the `wat` crate's errors quote the source with a caret)
/// into one line, keeping the location.
fn one_line(msg: &str) -> String {
    let mut out = String::new();
    for line in msg.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(location) = line.strip_prefix("--> ") {
            out.push_str(&format!(" (at {location})"));
            continue;
        }
        let is_snippet = line.starts_with('|')
            || line
                .split_once(" |")
                .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()));
        if is_snippet {
            continue;
        }
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str(line);
    }
    out
}

/// Compiles a module file; the engine's message already names the byte offset.
pub(crate) fn compile(engine: &Engine, path: &Path) -> Result<Module> {
    Module::from_file(engine, path).map_err(|err| match err {
        // The I/O message already names the file.
        Error::Io { .. } => anyhow!(err),
        err => anyhow!(err).context(format!("cannot compile `{}`", path.display())),
    })
}

// ---------------------------------------------------------------------------------------
// wast

fn wast(args: WastArgs) -> Result<ExitCode> {
    let (mut passed, mut failed, mut file_errors) = (0usize, 0usize, 0usize);
    for path in &args.files {
        match nanoproc_wast::run_file(path) {
            Ok(report) => {
                for failure in &report.failures {
                    errln!("{failure}");
                }
                outln!(
                    "{}: {} passed, {} failed",
                    path.display(),
                    report.passed,
                    report.failed
                );
                passed += report.passed;
                failed += report.failed;
            }
            Err(err) => {
                let msg = one_line(&err.to_string());
                let file = path.display().to_string();
                if msg.contains(&file) {
                    errln!("error: {msg}");
                } else {
                    errln!("error: {file}: {msg}");
                }
                file_errors += 1;
            }
        }
    }
    outln!("{passed} passed, {failed} failed");
    Ok(if failed == 0 && file_errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wat_errors_fold_to_one_line() {
        let msg = "expected `(`\n     --> x.wat:1:1\n      |\n    1 | garbage\n      | ^";
        assert_eq!(one_line(msg), "expected `(` (at x.wat:1:1)");
    }
}
