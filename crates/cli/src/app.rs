//! `nanoproc check APP.toml` and `nanoproc run APP.toml`: applications described by a
//! manifest (a tree of nanoprocesses, `docs/manifest.md`). Thin glue over
//! `nanoproc_nano::App`: the manifest is the only source of grants and limits.
//!
//! Problems with a manifest (its structure, attenuation, modules, WIT files, links,
//! imports) are printed one per line, each starting with `error: `, all of them at once.
//! A trap names the nanoprocess it happened in and gives each nanoprocess's part of the
//! backtrace under `backtrace of `NAME`:`.

use crate::values::{format_val, parse_args};
use crate::{exit_code, one_line, TRAP_EXIT_CODE};
use anyhow::{Context, Result};
use nanoproc_engine::{Trap, TrapKind};
use nanoproc_nano::{App, AppOptions, AuditLevel, AuditWriter, Manifest, ManifestError, NanoError};
use nanoproc_wasi::I32Exit;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

/// Whether `nanoproc run` was given a manifest rather than a module.
pub(crate) fn is_manifest(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

#[derive(clap::Args)]
#[command(after_help = "\
Checks everything `nanoproc run APP.toml` checks before running anything: the manifest, \
the attenuation rule (every child holds a subset of its parent's grants), every module \
compiles, every WIT file parses, every import is WASI or a link whose types match the \
canonical ABI. Prints the capability tree, or every problem (exit 1).")]
pub(crate) struct CheckArgs {
    /// The application manifest (nanoproc.toml).
    #[arg(value_name = "APP.toml")]
    manifest: OsString,
}

/// Prints every problem, one `error:` line each, and returns exit code 1.
fn report_problems<'a>(problems: impl IntoIterator<Item = &'a nanoproc_nano::Problem>) -> ExitCode {
    for p in problems {
        errln!("error: {}", one_line(&p.to_string()));
    }
    ExitCode::FAILURE
}

/// Reads a manifest; `Err` carries the exit code after the problems were printed.
fn load(path: &Path) -> Result<Manifest, ExitCode> {
    match Manifest::from_file(path) {
        Ok(m) => Ok(m),
        Err(ManifestError::Invalid(problems)) => Err(report_problems(&problems)),
        Err(e) => {
            errln!("error: {}", one_line(&e.to_string()));
            Err(ExitCode::FAILURE)
        }
    }
}

pub(crate) fn check(args: CheckArgs) -> Result<ExitCode> {
    let path = Path::new(&args.manifest);
    let manifest = match load(path) {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    match App::check(&manifest) {
        Ok(tree) => {
            let n = manifest.nanoprocesses.len();
            let mut out = std::io::stdout().lock();
            let name = if manifest.app_name.is_empty() {
                String::new()
            } else {
                format!("app `{}`, ", manifest.app_name)
            };
            writeln!(
                out,
                "{}: ok ({name}{n} nanoprocess{}, main `{}`)",
                path.display(),
                if n == 1 { "" } else { "es" },
                manifest.main
            )?;
            write!(out, "{tree}")?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => Ok(report_problems(&problems)),
    }
}

/// What `nanoproc run APP.toml` takes from the command line; everything else comes from
/// the manifest.
pub(crate) struct RunApp {
    pub(crate) manifest: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) invoke: Option<String>,
    pub(crate) audit: Option<(OsString, AuditLevel)>,
}

pub(crate) fn run(args: RunApp) -> Result<ExitCode> {
    let path = Path::new(&args.manifest);
    let manifest = match load(path) {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    let mut argv = vec![utf8(&args.manifest, "the manifest path")?];
    for (i, a) in args.args.iter().enumerate() {
        argv.push(utf8(a, &format!("argument {}", i + 1))?);
    }
    let audit = match &args.audit {
        None => None,
        Some((target, level)) => {
            let out: AuditWriter = if target == "-" {
                Arc::new(Mutex::new(std::io::stderr()))
            } else {
                let file = crate::run::open_audit_log(target)?;
                Arc::new(Mutex::new(file))
            };
            Some((out, *level))
        }
    };
    let options = AppOptions {
        // With --invoke there is no `_start`; main still gets the arguments as argv.
        args: if args.invoke.is_some() {
            vec![argv[0].clone()]
        } else {
            argv
        },
        audit,
        ..AppOptions::default()
    };
    let main_limits = manifest.nanoprocesses[&manifest.main].limits.clone();
    let hint = |e: &NanoError| explain_limits(e, &manifest.main, &main_limits);

    let mut app = match App::new(&manifest, options) {
        Ok(app) => app,
        Err(NanoError::Invalid(problems)) => return Ok(report_problems(&problems)),
        Err(e) => return Ok(fail(&e, &hint)),
    };
    let main = app.main().to_string();
    if let Some(timeout) = main_limits.timeout {
        crate::run::arm_blocked_guest_watchdog(timeout);
    }
    match &args.invoke {
        None => match app.run_main() {
            Ok(code) => Ok(exit_code(code)),
            Err(NanoError::UnknownExport {
                nanoprocess,
                export,
            }) if export == "_start" => {
                errln!(
                    "error: the main nanoprocess `{nanoprocess}` exports no `_start` (give \
                     --invoke NAME to call another export)"
                );
                Ok(ExitCode::FAILURE)
            }
            Err(e) => Ok(fail(&e, &hint)),
        },
        Some(export) => {
            let ty = match app.export_type(&main, export) {
                Ok(ty) => ty,
                Err(e) => return Ok(fail(&e, &hint)),
            };
            let params = parse_args(export, &ty, &args.args)?;
            match app.call(&main, export, &params) {
                Ok(results) => {
                    let mut out = std::io::stdout().lock();
                    for value in &results {
                        writeln!(out, "{}", format_val(value))?;
                    }
                    out.flush()?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(fail(&e, &hint)),
            }
        }
    }
}

fn utf8(s: &OsString, what: &str) -> Result<String> {
    s.to_str()
        .map(str::to_string)
        .with_context(|| format!("{what} is not valid UTF-8: {}", s.to_string_lossy()))
}

/// Prints an application error and returns its exit code: the main nanoprocess's
/// `proc_exit` code, 134 for a trap, 1 otherwise.
fn fail(err: &NanoError, hint: &dyn Fn(&NanoError) -> Option<String>) -> ExitCode {
    let (nanoprocess, source) = match err {
        NanoError::Call {
            nanoprocess,
            source,
            ..
        }
        | NanoError::Instantiate {
            nanoprocess,
            source,
        } => (nanoprocess.as_str(), Some(source)),
        _ => ("", None),
    };
    if let Some(I32Exit(code)) = source.and_then(|s| s.downcast_ref::<I32Exit>()) {
        return exit_code(*code);
    }
    match err.as_trap() {
        Some(trap) => {
            eprint!("{}", trap_text(nanoprocess, trap));
            if let Some(note) = hint(err) {
                errln!("note: {note}");
            }
            ExitCode::from(TRAP_EXIT_CODE)
        }
        None => {
            errln!("error: {}", one_line(&err.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// `error: trap: …` naming the nanoprocess, then each nanoprocess's frames under
/// `backtrace of `NAME`:`.
///
/// A trap in a nanoprocess serving a call already reads ``nanoprocess `child` trapped
/// while serving `main`'s call to …`` followed by the backtrace of each nanoprocess on the
/// chain; the trap's own backtrace holds those frames first and the caller's after them,
/// so only the caller's are added here, under its name.
pub(crate) fn trap_text(nanoprocess: &str, trap: &Trap) -> String {
    let message = match &trap.kind {
        // Without the engine's `host error: ` prefix.
        TrapKind::Host(m) => m.clone(),
        kind => kind.to_string(),
    };
    let frames: Vec<String> = trap.backtrace.iter().map(ToString::to_string).collect();
    let mut out = String::new();
    let served = matches!(trap.kind, TrapKind::Host(_)) && message.starts_with("nanoprocess `");
    let skip = if served {
        out.push_str(&format!("error: trap: {message}\n"));
        // The frames already listed in the message's `backtrace of` blocks, one block per
        // nanoprocess that served a call, each with its own frames.
        message.lines().filter(|l| is_frame_line(l)).count()
    } else {
        out.push_str(&format!(
            "error: trap: nanoprocess `{nanoprocess}`: {}\n",
            one_line(&message)
        ));
        0
    };
    let own = frames.get(skip..).unwrap_or_default();
    if !own.is_empty() {
        out.push_str(&format!("backtrace of `{nanoprocess}`:\n"));
        for (i, f) in own.iter().enumerate() {
            out.push_str(&format!("  {i}: {f}\n"));
        }
    }
    out
}

/// `  3: child!divide @ 0x2a`: a frame line of a `backtrace of` block.
fn is_frame_line(line: &str) -> bool {
    line.strip_prefix("  ")
        .and_then(|l| l.split_once(": "))
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Which of main's limits a trap came from.
fn explain_limits(err: &NanoError, main: &str, limits: &nanoproc_nano::Limits) -> Option<String> {
    match (err.as_trap().map(|t| &t.kind), limits.fuel, limits.timeout) {
        (Some(TrapKind::OutOfFuel), Some(fuel), _) => Some(format!(
            "the application used up its fuel (`limits.fuel = {fuel}` of `{main}`, shared by \
             every nanoprocess its calls reach)"
        )),
        (Some(TrapKind::Interrupted), _, Some(t)) => Some(format!(
            "the application ran past its deadline (`limits.timeout` {t:?} of `{main}`)"
        )),
        _ => None,
    }
}
