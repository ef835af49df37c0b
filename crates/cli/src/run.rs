//! `nanoproc run`: turns the command line into capability grants (a `WasiCtx`), limits (a
//! `Config` and `StoreLimits`), preloaded modules, and one call: `_start` or `--invoke`.

use crate::options::{
    format_size, parse_clock, parse_dir, parse_duration, parse_env, parse_preload, parse_size,
    ClockSpec, DirSpec, EnvSpec, PreloadSpec,
};
use crate::values::{format_val, parse_args};
use crate::{compile, report};
use anyhow::{bail, Context, Result};
use nanoproc_engine::{
    Config, Engine, Error, ExternType, FuncType, Instance, Linker, Module, Store, StoreLimits,
    TrapKind, Val,
};
use nanoproc_wasi::{add_to_linker, AuditLevel, AuditSink, Clock, DirPerms, Random, WasiCtx};
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// The engine's default call depth (`Config::max_call_depth`), shown by `--help`. The
/// engine has no getter for it; `tests/cli.rs` checks that the help text and the engine
/// agree by running a recursion one frame short of it.
const DEFAULT_CALL_DEPTH: usize = nanoproc_engine::Config::DEFAULT_MAX_CALL_DEPTH;

/// What `--deterministic` sets unless `--clock` / `--random-seed` say otherwise: the clocks
/// start at the Unix epoch and advance 1 µs per read (so a loop waiting for time to pass
/// still ends), and random bytes come from seed 0.
const DETERMINISTIC_CLOCK: ClockSpec = ClockSpec {
    start: 0,
    step: Duration::from_micros(1),
};
const DETERMINISTIC_SEED: u64 = 0;

fn memory_help() -> String {
    let d = StoreLimits::default();
    format!(
        "Largest linear memory, and largest total of all memories, e.g. 64MiB, 1GiB, 65536 \
         (memory.grow past it returns -1; a larger initial memory fails instantiation) \
         [default: {} per memory, {} in total]",
        format_size(d.memory_size as u64),
        format_size(d.total_memory as u64)
    )
}

fn table_help() -> String {
    let d = StoreLimits::default();
    format!(
        "Most elements of one table (table.grow past it returns -1) \
         [default: {} per table, {} in total]",
        d.table_elements, d.total_table_elements
    )
}

fn call_depth_help() -> String {
    format!(
        "Most nested wasm calls before the trap `call stack exhausted` \
         [default: {DEFAULT_CALL_DEPTH}]"
    )
}

#[derive(clap::Args)]
#[command(after_help = "\
Capabilities are deny-by-default: without options the guest gets its arguments and the \
inherited stdin/stdout/stderr, and nothing else (no directories, no environment). The \
module's `proc_exit` code becomes nanoproc's exit code; a trap exits with 134.")]
pub(crate) struct RunArgs {
    /// Call this exported function instead of `_start` (after `_initialize`, if the module
    /// exports it); ARGS are its arguments, its results are printed one per line.
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,

    /// Grant the host directory HOST to the guest as GUEST (default: the same path),
    /// read-write.
    #[arg(long, value_name = "HOST[::GUEST]", help_heading = "Capabilities")]
    dir: Vec<String>,
    /// Grant the host directory HOST to the guest as GUEST, read-only: every write,
    /// create, rename, unlink, truncate, set-times and link is refused.
    #[arg(long, value_name = "HOST[::GUEST]", help_heading = "Capabilities")]
    dir_ro: Vec<String>,
    /// Set a guest environment variable; `--env NAME` passes the host's value through
    /// (nothing if the host does not have it, as wasmtime does).
    #[arg(long, value_name = "NAME[=VALUE]", value_parser = parse_env, help_heading = "Capabilities")]
    env: Vec<EnvSpec>,
    /// A virtual wall and monotonic clock: starts at the RFC 3339 instant and advances
    /// by DURATION (default 0) on every read; sleeping advances it instead of waiting.
    #[arg(long, value_name = "fixed=RFC3339[,step=DURATION]", value_parser = parse_clock, help_heading = "Capabilities")]
    clock: Option<ClockSpec>,
    /// random_get returns a deterministic stream (SplitMix64) seeded with N instead of
    /// the OS generator's bytes.
    #[arg(long, value_name = "N", help_heading = "Capabilities")]
    random_seed: Option<u64>,
    /// Same output for the same input: clocks fixed at the Unix epoch (advancing 1us per
    /// read), random seed 0, no inherited environment variables (`--env NAME` is refused).
    #[arg(long, help_heading = "Capabilities")]
    deterministic: bool,
    /// Append one JSON line per refused WASI operation to FILE (`-` for stderr).
    #[arg(long, value_name = "FILE", help_heading = "Capabilities")]
    audit: Option<OsString>,
    /// What --audit records: `denials` (default) or `all` (also every granted
    /// filesystem operation).
    #[arg(long, value_name = "LEVEL", value_parser = ["denials", "all"], requires = "audit", help_heading = "Capabilities")]
    audit_level: Option<String>,
    /// Same as `--audit-level all`.
    #[arg(
        long,
        requires = "audit",
        conflicts_with = "audit_level",
        help_heading = "Capabilities"
    )]
    audit_all: bool,
    /// Instantiate the module at PATH first (own instance and memory; WASI imports
    /// satisfied too; `_initialize` called if exported) and provide its exports to the
    /// main module under the import module name NAME.
    #[arg(long, value_name = "NAME=PATH", value_parser = parse_preload, help_heading = "Capabilities")]
    preload: Vec<PreloadSpec>,

    /// Execution budget: the guest traps with `out of fuel` after N units (one unit is
    /// one internal instruction, see docs/limits.md) [default: unlimited]
    #[arg(long, value_name = "N", help_heading = "Limits")]
    fuel: Option<u64>,
    /// Wall-clock budget counted from instantiation, e.g. 200ms, 2s, 1m: the guest traps
    /// with `interrupted` [default: none]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Limits")]
    timeout: Option<Duration>,
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help = memory_help(), help_heading = "Limits")]
    max_memory: Option<u64>,
    #[arg(long, value_name = "N", help = table_help(), help_heading = "Limits")]
    max_table_elements: Option<u32>,
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help = call_depth_help(), help_heading = "Limits")]
    max_call_depth: Option<u64>,

    /// The module (.wasm or .wat), then its arguments. Everything after MODULE belongs to
    /// the guest, even if it looks like an option. A `.toml` file is an application
    /// manifest: its main nanoprocess runs, and only --invoke and --audit apply.
    #[arg(
        value_name = "MODULE [ARGS]...",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    module_and_args: Vec<OsString>,

    /// The command-line positions of the `--dir` and `--dir-ro` values, so preopens get
    /// file descriptors 3, 4, … in the order they were given (filled in by `main`).
    #[arg(skip)]
    pub(crate) dir_positions: Vec<usize>,
    #[arg(skip)]
    pub(crate) dir_ro_positions: Vec<usize>,
}

pub(crate) fn run(args: RunArgs) -> Result<ExitCode> {
    if let Some(first) = args.module_and_args.first() {
        if crate::app::is_manifest(Path::new(first)) {
            return run_app(args);
        }
    }
    let hints = Hints {
        fuel: args.fuel,
        timeout: args.timeout,
    };
    match run_inner(args) {
        Ok(code) => Ok(code),
        Err(err) => {
            let code = report(&err);
            hints.explain(&err);
            Ok(code)
        }
    }
}

/// `nanoproc run APP.toml`: grants and limits come from the manifest alone, so the flags
/// that would add to them are refused rather than silently ignored.
fn run_app(args: RunArgs) -> Result<ExitCode> {
    let mut refused = Vec::new();
    for (flag, given) in [
        ("--dir", !args.dir.is_empty()),
        ("--dir-ro", !args.dir_ro.is_empty()),
        ("--env", !args.env.is_empty()),
        ("--clock", args.clock.is_some()),
        ("--random-seed", args.random_seed.is_some()),
        ("--deterministic", args.deterministic),
        ("--preload", !args.preload.is_empty()),
        ("--fuel", args.fuel.is_some()),
        ("--timeout", args.timeout.is_some()),
        ("--max-memory", args.max_memory.is_some()),
        ("--max-table-elements", args.max_table_elements.is_some()),
        ("--max-call-depth", args.max_call_depth.is_some()),
    ] {
        if given {
            refused.push(flag);
        }
    }
    let mut rest = args.module_and_args.into_iter();
    let manifest = rest.next().context("no manifest given")?;
    if !refused.is_empty() {
        bail!(
            "{} cannot be used with a manifest (`{}`): an application's grants and limits \
             are those its manifest gives each nanoprocess",
            refused.join(", "),
            Path::new(&manifest).display()
        );
    }
    let audit = args.audit.map(|target| {
        let level = if args.audit_all || args.audit_level.as_deref() == Some("all") {
            AuditLevel::All
        } else {
            AuditLevel::Denials
        };
        (target, level)
    });
    crate::app::run(crate::app::RunApp {
        manifest,
        args: rest.collect(),
        invoke: args.invoke,
        audit,
    })
}

/// The limits that were set, to say which one a trap came from.
struct Hints {
    fuel: Option<u64>,
    timeout: Option<Duration>,
}

impl Hints {
    fn explain(&self, err: &anyhow::Error) {
        let kind = err
            .chain()
            .find_map(|c| c.downcast_ref::<Error>())
            .and_then(Error::as_trap)
            .map(|t| &t.kind);
        match (kind, self.fuel, self.timeout) {
            (Some(TrapKind::OutOfFuel), Some(fuel), _) => {
                errln!("note: the guest used up its fuel (--fuel {fuel})")
            }
            (Some(TrapKind::Interrupted), _, Some(timeout)) => {
                errln!("note: the guest ran past its deadline (--timeout {timeout:?})")
            }
            _ => {}
        }
    }
}

fn run_inner(args: RunArgs) -> Result<ExitCode> {
    let mut rest = args.module_and_args.iter();
    let module_arg = rest.next().context("no module given")?;
    let module_path = Path::new(module_arg);
    let guest_args: Vec<OsString> = rest.cloned().collect();

    let mut config = Config::default();
    config.consume_fuel(args.fuel.is_some());
    if let Some(depth) = args.max_call_depth {
        config.max_call_depth(usize::try_from(depth).unwrap_or(usize::MAX));
    }
    let engine = Engine::new(&config);
    let module = compile(&engine, module_path)?;

    // Everything cheap to check goes before instantiation, so a bad command line fails
    // fast and without side effects.
    let entry = match &args.invoke {
        Some(name) => Some((name.clone(), func_type(&module, name)?)),
        None if module.get_export("_start").is_some() => None,
        None => bail!("no --invoke given and the module has no `_start` export"),
    };
    let params = match &entry {
        Some((name, ty)) => parse_args(name, ty, &guest_args)?,
        None => Vec::new(),
    };

    let ctx = wasi_ctx(&args, module_arg, &guest_args)?;
    let mut store = Store::new(&engine, ctx);
    store.set_limits(store_limits(&args));
    if let Some(fuel) = args.fuel {
        store.set_fuel(fuel)?;
    }
    let mut linker = Linker::<WasiCtx>::new(&engine);
    add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
    if let Some(timeout) = args.timeout {
        store.set_deadline(timeout);
        arm_blocked_guest_watchdog(timeout);
    }

    for preload in &args.preload {
        let path = Path::new(&preload.path);
        let module = compile(&engine, path)?;
        let instance = instantiate(&linker, &mut store, &module, path)
            .with_context(|| format!("--preload {}={}", preload.name, preload.path))?;
        linker
            .instance(&mut store, &preload.name, instance)
            .with_context(|| format!("--preload {}={}", preload.name, preload.path))?;
    }

    let instance = instantiate(&linker, &mut store, &module, module_path)?;
    let (name, ty) = entry.unwrap_or_else(|| ("_start".to_string(), FuncType::new([], [])));
    let func = instance
        .get_func(&store, &name)
        .with_context(|| format!("export `{name}` is not a function"))?;
    let mut results: Vec<Val> = ty.results().iter().map(|&t| Val::default_for(t)).collect();
    func.call(&mut store, &params, &mut results)
        .with_context(|| format!("calling `{name}`"))?;

    let mut out = std::io::stdout().lock();
    for value in &results {
        writeln!(out, "{}", format_val(value))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// How long after `--timeout` a guest may stay blocked in a host call before the process
/// is ended from outside.
const BLOCKED_GRACE: Duration = Duration::from_secs(1);

/// The engine interrupts wasm code at its deadline, but a guest blocked inside a host call
/// (sleeping in `poll_oneoff`, reading a stdin that never ends) only sees the interruption
/// once the call returns. So that `--timeout` bounds the whole run, a thread ends the
/// process like an interrupted trap if the run is still going `BLOCKED_GRACE` later.
pub(crate) fn arm_blocked_guest_watchdog(timeout: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(timeout + BLOCKED_GRACE);
        errln!(
            "error: trap: interrupted\nnote: the guest was still blocked in a host call \
             {BLOCKED_GRACE:?} after its deadline (--timeout {timeout:?})"
        );
        // Flushes stdout, as a normal exit does.
        std::process::exit(i32::from(crate::TRAP_EXIT_CODE));
    });
}

/// Links and instantiates `module`, then runs `_initialize` if it exports one (a WASI
/// reactor). A module needing imports nobody provides is refused with the whole list.
fn instantiate(
    linker: &Linker<WasiCtx>,
    store: &mut Store<WasiCtx>,
    module: &Module,
    path: &Path,
) -> Result<Instance> {
    let missing = linker.missing_imports(module);
    if !missing.is_empty() {
        let hint = if missing
            .iter()
            .any(|m| !m.starts_with(&format!("{}::", nanoproc_wasi::MODULE)))
        {
            " (--preload NAME=PATH provides the exports of another module as NAME)"
        } else {
            ""
        };
        bail!(
            "`{}` needs imports nanoproc does not provide: {}{hint}",
            path.display(),
            missing.join(", ")
        );
    }
    let instance = linker
        .instantiate(store, module)
        .with_context(|| format!("cannot instantiate `{}`", path.display()))?;
    if module.get_export("_start").is_none() {
        if let Some(init) = instance.get_func(&*store, "_initialize") {
            init.call(&mut *store, &[], &mut [])
                .with_context(|| format!("calling `_initialize` of `{}`", path.display()))?;
        }
    }
    Ok(instance)
}

fn func_type(module: &Module, name: &str) -> Result<FuncType> {
    match module.get_export(name) {
        Some(ExternType::Func(ty)) => Ok(ty),
        Some(other) => bail!("export `{name}` is a {}, not a function", other.kind()),
        None => bail!("{}", unknown_export(module, name)),
    }
}

fn unknown_export(module: &Module, name: &str) -> String {
    let funcs: Vec<String> = module
        .exports()
        .filter(|e| matches!(e.ty, ExternType::Func(_)))
        .map(|e| e.name)
        .collect();
    if funcs.is_empty() {
        format!("unknown export `{name}`: the module exports no functions")
    } else {
        format!(
            "unknown export `{name}` (exported functions: {})",
            funcs.join(", ")
        )
    }
}

fn store_limits(args: &RunArgs) -> StoreLimits {
    let mut limits = StoreLimits::default();
    if let Some(size) = args.max_memory {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        limits.memory_size = size;
        limits.total_memory = size;
    }
    if let Some(n) = args.max_table_elements {
        limits.table_elements = n;
        // One table may hold all of it: never let the default total undercut the flag.
        limits.total_table_elements = limits.total_table_elements.max(u64::from(n));
    }
    limits
}

/// The grants of the command line, as a WASI context.
fn wasi_ctx(args: &RunArgs, module_arg: &OsString, guest_args: &[OsString]) -> Result<WasiCtx> {
    let mut b = WasiCtx::builder();
    b.inherit_stdio();
    b.arg(utf8(module_arg, "the module path")?);
    for (i, arg) in guest_args.iter().enumerate() {
        b.arg(utf8(arg, &format!("guest argument {}", i + 1))?);
    }

    for spec in &args.env {
        match spec {
            EnvSpec::Set(name, value) => {
                b.env(name, value);
            }
            EnvSpec::Inherit(name) if args.deterministic => bail!(
                "--env {name} passes a host variable through, which --deterministic forbids \
                 (give it a value: --env {name}=VALUE)"
            ),
            EnvSpec::Inherit(name) => {
                // As wasmtime: a variable the host does not have is not passed.
                if let Some(value) = std::env::var_os(name) {
                    let value = value.into_string().map_err(|_| {
                        anyhow::anyhow!("--env {name}: the host's value is not UTF-8")
                    })?;
                    b.env(name, value);
                }
            }
        }
    }

    // Preopens take file descriptors 3, 4, … in command-line order. Their syntax is
    // checked here rather than by clap: a bad grant is an error (exit 1) like a missing
    // host directory.
    let mut dirs: Vec<(usize, DirSpec, DirPerms)> = Vec::new();
    let position = |positions: &[usize], i: usize| positions.get(i).copied().unwrap_or(i);
    for (flag, values, positions, perms) in [
        ("--dir", &args.dir, &args.dir_positions, DirPerms::ReadWrite),
        (
            "--dir-ro",
            &args.dir_ro,
            &args.dir_ro_positions,
            DirPerms::ReadOnly,
        ),
    ] {
        for (i, text) in values.iter().enumerate() {
            let spec = parse_dir(text).map_err(|e| anyhow::anyhow!("{flag} `{text}`: {e}"))?;
            dirs.push((position(positions, i), spec, perms));
        }
    }
    dirs.sort_by_key(|(pos, _, _)| *pos);
    for (_, d, perms) in dirs {
        b.preopened_dir(&d.host, &d.guest, perms)?;
    }

    let clock = args
        .clock
        .or(args.deterministic.then_some(DETERMINISTIC_CLOCK));
    if let Some(c) = clock {
        let clock = Clock::Fixed {
            start: c.start,
            step: c.step,
        };
        b.wall_clock(clock).monotonic_clock(clock);
    }
    let seed = args
        .random_seed
        .or(args.deterministic.then_some(DETERMINISTIC_SEED));
    if let Some(seed) = seed {
        b.random(Random::Seeded(seed));
    }

    if let Some(target) = &args.audit {
        let level = if args.audit_all || args.audit_level.as_deref() == Some("all") {
            AuditLevel::All
        } else {
            AuditLevel::Denials
        };
        let sink = if target == "-" {
            AuditSink::new(std::io::stderr(), level)
        } else {
            let file = open_audit_log(target)?;
            AuditSink::new(file, level)
        };
        b.audit(sink);
    }
    Ok(b.build())
}

fn utf8(s: &OsString, what: &str) -> Result<String> {
    s.to_str()
        .map(str::to_string)
        .with_context(|| format!("{what} is not valid UTF-8: {}", s.to_string_lossy()))
}

/// Opens (appending, creating if needed) the audit log named on the command line.
pub(crate) fn open_audit_log(target: &std::ffi::OsStr) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(target)
        .with_context(|| {
            format!(
                "cannot open the audit log `{}`",
                Path::new(target).display()
            )
        })
}
