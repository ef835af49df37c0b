//! # nanoproc — the command-line interface
//!
//! - Owns: argument parsing, turning command-line text into wasm values and wasm values
//!   back into text, error printing and exit codes.
//! - Must never: contain engine logic. Everything about modules, instances and execution
//!   is a call into `nanoproc-engine` (or `nanoproc-wast` for spec scripts); if a feature
//!   needs more than formatting and glue, it belongs in a library crate.
//!
//! Exit codes: 0 on success, 1 on any error (one line `error: <cause>` on stderr), 134 when
//! the guest traps (`error: trap: <kind>` followed by the wasm backtrace), 2 for a command
//! line clap cannot parse, 101 if nanoproc itself panics (a bug; still one `error:` line).

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use nanoproc_engine::{Engine, Error, ExternType, FuncType, Linker, Module, Store, Val, ValType};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit code of a run that ended in a trap (what a process killed by SIGABRT reports).
const TRAP_EXIT_CODE: u8 = 134;

#[derive(Parser)]
#[command(name = "nanoproc", version, about = "Run untrusted WebAssembly.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Instantiate a module and call one of its exported functions.
    Run(RunArgs),
    /// Describe a module: imports, exports, memories, tables, globals, sections.
    Inspect(InspectArgs),
    /// Run WebAssembly spec testsuite scripts (.wast) and count passed assertions.
    Wast(WastArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The exported function to call (default: `_start`).
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
    /// The module (.wasm or .wat), then the arguments of the invoked function. Everything
    /// after MODULE belongs to the guest, even if it looks like an option.
    #[arg(
        value_name = "MODULE [ARGS]...",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    module_and_args: Vec<OsString>,
}

#[derive(Args)]
struct InspectArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// The module (.wasm or .wat).
    module: PathBuf,
}

#[derive(Args)]
struct WastArgs {
    /// The .wast scripts to run.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    install_panic_hook();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Inspect(args) => inspect(args),
        Command::Wast(args) => wast(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => report(&err),
    }
}

/// Prints `err` on stderr and returns the exit code it deserves.
fn report(err: &anyhow::Error) -> ExitCode {
    let trap = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<Error>())
        .and_then(Error::as_trap);
    if let Some(trap) = trap {
        eprint!("error: trap: {}\n{}", trap.kind, trap.backtrace_string());
        return ExitCode::from(TRAP_EXIT_CODE);
    }
    eprintln!("error: {}", one_line(&chain_text(err)));
    ExitCode::FAILURE
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
        eprintln!(
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
fn compile(engine: &Engine, path: &Path) -> Result<Module> {
    Module::from_file(engine, path).map_err(|err| match err {
        // The I/O message already names the file.
        Error::Io { .. } => anyhow!(err),
        err => anyhow!(err).context(format!("cannot compile `{}`", path.display())),
    })
}

// ---------------------------------------------------------------------------------------
// run

fn run(args: RunArgs) -> Result<ExitCode> {
    let mut rest = args.module_and_args.into_iter();
    let module_path = PathBuf::from(rest.next().context("no module given")?);
    let guest_args: Vec<OsString> = rest.collect();

    let engine = Engine::default();
    let module = compile(&engine, &module_path)?;
    // No host functions and no WASI yet: an empty linker.
    let linker = Linker::<()>::new(&engine);
    let missing = linker.missing_imports(&module);
    if !missing.is_empty() {
        bail!(
            "`{}` needs imports nanoproc does not provide: {}",
            module_path.display(),
            missing.join(", ")
        );
    }

    let name = match args.invoke {
        Some(name) => name,
        None if module.get_export("_start").is_some() => "_start".to_string(),
        None => bail!("no --invoke given and the module has no `_start` export"),
    };
    let ty = match module.get_export(&name) {
        Some(ExternType::Func(ty)) => ty,
        Some(other) => bail!("export `{name}` is a {}, not a function", other.kind()),
        None => bail!("{}", unknown_export(&module, &name)),
    };
    let params = parse_args(&name, &ty, &guest_args)?;

    let mut store = Store::new(&engine, ());
    let instance = linker
        .instantiate(&mut store, &module)
        .with_context(|| format!("cannot instantiate `{}`", module_path.display()))?;
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
    Ok(ExitCode::SUCCESS)
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

fn parse_args(name: &str, ty: &FuncType, args: &[OsString]) -> Result<Vec<Val>> {
    if args.len() != ty.params().len() {
        let types: Vec<String> = ty.params().iter().map(ToString::to_string).collect();
        bail!(
            "`{name}` takes {} argument(s) ({}), got {}",
            ty.params().len(),
            if types.is_empty() {
                "none".to_string()
            } else {
                types.join(" ")
            },
            args.len()
        );
    }
    args.iter()
        .zip(ty.params())
        .enumerate()
        .map(|(i, (arg, &t))| {
            let text = arg
                .to_str()
                .with_context(|| format!("argument {} of `{name}` is not UTF-8", i + 1))?;
            parse_val(text, t).with_context(|| format!("argument {} of `{name}`", i + 1))
        })
        .collect()
}

/// Parses one command-line argument as a value of type `ty`.
fn parse_val(text: &str, ty: ValType) -> Result<Val> {
    let bad = || anyhow!("`{text}` is not a valid {ty}");
    Ok(match ty {
        ValType::I32 => Val::I32(parse_int(text, 32).ok_or_else(bad)? as u32 as i32),
        ValType::I64 => Val::I64(parse_int(text, 64).ok_or_else(bad)? as u64 as i64),
        ValType::F32 => Val::F32(parse_f32(text).ok_or_else(bad)?),
        ValType::F64 => Val::F64(parse_f64(text).ok_or_else(bad)?),
        ValType::V128 => Val::V128(parse_int(text, 128).ok_or_else(bad)? as u128),
        ValType::FuncRef | ValType::ExternRef => {
            if text != "null" {
                bail!("{ty} arguments can only be `null`, got `{text}`");
            }
            Val::default_for(ty)
        }
    })
}

/// Parses a decimal or `0x` hexadecimal integer, optionally negative, that fits in `bits`
/// bits as a signed or an unsigned number; the result is the two's complement pattern.
fn parse_int(text: &str, bits: u32) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits = digits.replace('_', "");
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) if !hex.is_empty() && !hex.starts_with('+') => u128::from_str_radix(hex, 16),
        Some(_) => return None,
        None if !digits.is_empty() && !digits.starts_with('+') => digits.parse::<u128>(),
        None => return None,
    }
    .ok()?;
    if bits == 128 {
        // No room for a sign check in i128: accept the full unsigned range, or a negative
        // number down to i128::MIN.
        return if negative {
            (magnitude <= 1 << 127).then(|| magnitude.wrapping_neg() as i128)
        } else {
            Some(magnitude as i128)
        };
    }
    let unsigned_max = (1u128 << bits) - 1;
    let signed_min = 1u128 << (bits - 1);
    if negative {
        (magnitude <= signed_min).then(|| -(magnitude as i128))
    } else {
        (magnitude <= unsigned_max).then_some(magnitude as i128)
    }
}

/// Splits off a sign and recognises `nan` / `nan:0xPAYLOAD`; returns (negative, payload)
/// with `None` payload for the canonical NaN.
fn parse_nan(text: &str) -> Option<(bool, Option<u64>)> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest.eq_ignore_ascii_case("nan") {
        return Some((negative, None));
    }
    let payload = rest.strip_prefix("nan:0x")?;
    Some((negative, Some(u64::from_str_radix(payload, 16).ok()?)))
}

fn parse_f32(text: &str) -> Option<u32> {
    if let Some((negative, payload)) = parse_nan(text) {
        let payload = payload.unwrap_or(0x40_0000);
        if payload == 0 || payload > 0x7f_ffff {
            return None;
        }
        return Some(((negative as u32) << 31) | 0x7f80_0000 | payload as u32);
    }
    text.parse::<f32>().ok().map(f32::to_bits)
}

fn parse_f64(text: &str) -> Option<u64> {
    if let Some((negative, payload)) = parse_nan(text) {
        let payload = payload.unwrap_or(0x8_0000_0000_0000);
        if payload == 0 || payload > 0xf_ffff_ffff_ffff {
            return None;
        }
        return Some(((negative as u64) << 63) | 0x7ff0_0000_0000_0000 | payload);
    }
    text.parse::<f64>().ok().map(f64::to_bits)
}

/// A value in the spec's text form: integers signed decimal, floats shortest round-trip
/// (`nan`, `nan:0x…` for other payloads, `inf`), v128 as four i32 lanes.
fn format_val(value: &Val) -> String {
    match *value {
        Val::I32(v) => v.to_string(),
        Val::I64(v) => v.to_string(),
        Val::F32(bits) => {
            let v = f32::from_bits(bits);
            let sign = if bits >> 31 != 0 { "-" } else { "" };
            if v.is_nan() {
                format_nan(sign, u64::from(bits & 0x7f_ffff), 0x40_0000)
            } else if v.is_infinite() {
                format!("{sign}inf")
            } else {
                format_float(v)
            }
        }
        Val::F64(bits) => {
            let v = f64::from_bits(bits);
            let sign = if bits >> 63 != 0 { "-" } else { "" };
            if v.is_nan() {
                format_nan(sign, bits & 0xf_ffff_ffff_ffff, 0x8_0000_0000_0000)
            } else if v.is_infinite() {
                format!("{sign}inf")
            } else {
                format_float(v)
            }
        }
        Val::V128(bits) => {
            let lanes: Vec<String> = (0..4)
                .map(|i| ((bits >> (32 * i)) as u32 as i32).to_string())
                .collect();
            format!("i32x4 {}", lanes.join(" "))
        }
        Val::FuncRef(None) | Val::ExternRef(None) => "null".to_string(),
        Val::FuncRef(Some(_)) => "ref.func".to_string(),
        Val::ExternRef(Some(_)) => "ref.extern".to_string(),
    }
}

fn format_nan(sign: &str, payload: u64, canonical: u64) -> String {
    if payload == canonical {
        format!("{sign}nan")
    } else {
        format!("{sign}nan:0x{payload:x}")
    }
}

/// Shortest round-trip text; exponent notation only where plain digits would be huge.
fn format_float<F>(v: F) -> String
where
    F: std::fmt::Display + std::fmt::LowerExp + Into<f64> + Copy,
{
    let abs = v.into().abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

// ---------------------------------------------------------------------------------------
// inspect

/// What `inspect` reports, gathered once and printed as text or JSON.
struct Summary {
    name: Option<String>,
    imports: Vec<(String, String, ExternType)>,
    exports: Vec<(String, ExternType)>,
    /// (type, imported?) in index order.
    memories: Vec<(nanoproc_engine::MemoryType, bool)>,
    tables: Vec<(nanoproc_engine::TableType, bool)>,
    globals: Vec<(nanoproc_engine::GlobalType, bool)>,
    funcs_total: usize,
    funcs_defined: usize,
    start: Option<u32>,
    custom_sections: Vec<(String, usize)>,
    instructions: usize,
}

impl Summary {
    fn of(module: &Module) -> Summary {
        let imports: Vec<_> = module.imports().map(|i| (i.module, i.name, i.ty)).collect();
        let imported = |kind: &str| imports.iter().filter(|(_, _, t)| t.kind() == kind).count();
        let (n_mem, n_table, n_global) =
            (imported("memory"), imported("table"), imported("global"));
        Summary {
            name: module.name().map(str::to_string),
            exports: module.exports().map(|e| (e.name, e.ty)).collect(),
            memories: enumerate_imported(module.memories(), n_mem),
            tables: enumerate_imported(module.tables(), n_table),
            globals: enumerate_imported(module.globals(), n_global),
            funcs_total: module.function_count(),
            funcs_defined: module.defined_function_count(),
            start: module.start(),
            custom_sections: module.custom_sections().to_vec(),
            instructions: module.instruction_count(),
            imports,
        }
    }

    fn print_text(&self, out: &mut impl Write) -> std::io::Result<()> {
        if let Some(name) = &self.name {
            writeln!(out, "module: {name}")?;
        }
        writeln!(out, "imports ({}):", self.imports.len())?;
        for (module, name, ty) in &self.imports {
            writeln!(out, "  {:<6} {module}::{name} {ty}", ty.kind())?;
        }
        writeln!(out, "exports ({}):", self.exports.len())?;
        for (name, ty) in &self.exports {
            writeln!(out, "  {:<6} {name} {ty}", ty.kind())?;
        }
        writeln!(out, "memories ({}):", self.memories.len())?;
        for (i, (ty, imported)) in self.memories.iter().enumerate() {
            writeln!(
                out,
                "  {i}: {}{}",
                limits(ty.minimum, ty.maximum, "pages"),
                origin(*imported)
            )?;
        }
        writeln!(out, "tables ({}):", self.tables.len())?;
        for (i, (ty, imported)) in self.tables.iter().enumerate() {
            let lim = limits(ty.minimum, ty.maximum, "elements");
            writeln!(out, "  {i}: {} {lim}{}", ty.element, origin(*imported))?;
        }
        writeln!(out, "globals ({}):", self.globals.len())?;
        for (i, (ty, imported)) in self.globals.iter().enumerate() {
            writeln!(out, "  {i}: {ty}{}", origin(*imported))?;
        }
        writeln!(
            out,
            "functions: {} ({} imported, {} defined)",
            self.funcs_total,
            self.funcs_total - self.funcs_defined,
            self.funcs_defined
        )?;
        if let Some(start) = self.start {
            writeln!(out, "start function: {start}")?;
        }
        writeln!(out, "custom sections ({}):", self.custom_sections.len())?;
        for (name, size) in &self.custom_sections {
            writeln!(out, "  {name}: {size} bytes")?;
        }
        writeln!(out, "instructions: {}", self.instructions)
    }

    fn to_json(&self) -> String {
        let mut j = String::from("{");
        j.push_str(&format!("\"name\":{}", json_opt_str(self.name.as_deref())));
        let imports: Vec<String> = self
            .imports
            .iter()
            .map(|(module, name, ty)| {
                format!(
                    "{{\"module\":{},\"name\":{},{}}}",
                    json_str(module),
                    json_str(name),
                    json_extern(ty)
                )
            })
            .collect();
        j.push_str(&format!(",\"imports\":[{}]", imports.join(",")));
        let exports: Vec<String> = self
            .exports
            .iter()
            .map(|(name, ty)| format!("{{\"name\":{},{}}}", json_str(name), json_extern(ty)))
            .collect();
        j.push_str(&format!(",\"exports\":[{}]", exports.join(",")));
        let memories: Vec<String> = self
            .memories
            .iter()
            .map(|(ty, imported)| {
                format!(
                    "{{\"imported\":{imported},\"minimum\":{},\"maximum\":{}}}",
                    ty.minimum,
                    json_opt_u32(ty.maximum)
                )
            })
            .collect();
        j.push_str(&format!(",\"memories\":[{}]", memories.join(",")));
        let tables: Vec<String> = self
            .tables
            .iter()
            .map(|(ty, imported)| {
                format!(
                    "{{\"imported\":{imported},\"element\":\"{}\",\"minimum\":{},\"maximum\":{}}}",
                    ty.element,
                    ty.minimum,
                    json_opt_u32(ty.maximum)
                )
            })
            .collect();
        j.push_str(&format!(",\"tables\":[{}]", tables.join(",")));
        let globals: Vec<String> = self
            .globals
            .iter()
            .map(|(ty, imported)| {
                format!(
                    "{{\"imported\":{imported},\"type\":\"{}\",\"mutable\":{}}}",
                    ty.content,
                    ty.mutability == nanoproc_engine::Mutability::Var
                )
            })
            .collect();
        j.push_str(&format!(",\"globals\":[{}]", globals.join(",")));
        j.push_str(&format!(
            ",\"functions\":{{\"total\":{},\"imported\":{},\"defined\":{}}}",
            self.funcs_total,
            self.funcs_total - self.funcs_defined,
            self.funcs_defined
        ));
        j.push_str(&format!(
            ",\"start\":{}",
            self.start.map_or("null".to_string(), |s| s.to_string())
        ));
        let customs: Vec<String> = self
            .custom_sections
            .iter()
            .map(|(name, size)| format!("{{\"name\":{},\"size\":{size}}}", json_str(name)))
            .collect();
        j.push_str(&format!(",\"custom_sections\":[{}]", customs.join(",")));
        j.push_str(&format!(",\"instructions\":{}}}", self.instructions));
        j
    }
}

/// Pairs each entity with whether it is imported (imports come first in the index space).
fn enumerate_imported<T: Copy>(items: &[T], imported: usize) -> Vec<(T, bool)> {
    items
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, i < imported))
        .collect()
}

fn limits(min: u32, max: Option<u32>, unit: &str) -> String {
    match max {
        Some(max) => format!("min {min} max {max} {unit}"),
        None => format!("min {min} {unit}, no max"),
    }
}

fn origin(imported: bool) -> &'static str {
    if imported {
        " (imported)"
    } else {
        ""
    }
}

/// `"kind":…,"type":…` plus structured params/results for functions.
fn json_extern(ty: &ExternType) -> String {
    let mut s = format!(
        "\"kind\":\"{}\",\"type\":{}",
        ty.kind(),
        json_str(&ty.to_string())
    );
    if let ExternType::Func(f) = ty {
        let list = |ts: &[ValType]| {
            ts.iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(",")
        };
        s.push_str(&format!(
            ",\"params\":[{}],\"results\":[{}]",
            list(f.params()),
            list(f.results())
        ));
    }
    s
}

/// A JSON string literal. Names in a module are arbitrary UTF-8, so escape everything JSON
/// requires: quotes, backslashes and all control characters.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt_str(s: Option<&str>) -> String {
    s.map_or("null".to_string(), json_str)
}

fn json_opt_u32(v: Option<u32>) -> String {
    v.map_or("null".to_string(), |v| v.to_string())
}

fn inspect(args: InspectArgs) -> Result<ExitCode> {
    let engine = Engine::default();
    let module = compile(&engine, &args.module)?;
    let summary = Summary::of(&module);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", summary.to_json())?;
    } else {
        summary.print_text(&mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------
// wast

fn wast(args: WastArgs) -> Result<ExitCode> {
    let (mut passed, mut failed, mut file_errors) = (0usize, 0usize, 0usize);
    for path in &args.files {
        match nanoproc_wast::run_file(path) {
            Ok(report) => {
                for failure in &report.failures {
                    eprintln!("{failure}");
                }
                println!(
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
                    eprintln!("error: {msg}");
                } else {
                    eprintln!("error: {file}: {msg}");
                }
                file_errors += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
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
    fn integers() {
        assert_eq!(parse_int("20", 32), Some(20));
        assert_eq!(parse_int("-5", 32), Some(-5));
        assert_eq!(parse_int("0x10", 32), Some(16));
        assert_eq!(parse_int("-0x80000000", 32), Some(-(1 << 31)));
        assert_eq!(parse_int("4294967295", 32), Some(u32::MAX as i128));
        assert_eq!(parse_int("4294967296", 32), None);
        assert_eq!(parse_int("-2147483649", 32), None);
        assert_eq!(parse_int("abc", 32), None);
        assert_eq!(parse_int("", 32), None);
        assert_eq!(parse_int("-", 32), None);
        assert_eq!(parse_int("0x", 32), None);
        assert_eq!(parse_int("--1", 32), None);
        assert_eq!(parse_int("-+1", 32), None);
        assert_eq!(
            parse_int("18446744073709551615", 64),
            Some(u64::MAX as i128)
        );
        assert_eq!(parse_int("-1", 128), Some(-1));
    }

    #[test]
    fn floats_round_trip() {
        for (text, ty) in [
            ("1", ValType::F32),
            ("-0", ValType::F32),
            ("0.1", ValType::F32),
            ("inf", ValType::F64),
            ("-inf", ValType::F32),
            ("nan", ValType::F64),
            ("-nan", ValType::F32),
            ("nan:0x1", ValType::F32),
            ("nan:0x4", ValType::F64),
            ("1e300", ValType::F64),
            ("1.5e-7", ValType::F64),
            ("123456.5", ValType::F64),
        ] {
            let v = parse_val(text, ty).unwrap();
            assert_eq!(format_val(&v), text);
        }
        assert!(parse_val("nan:0x0", ValType::F32).is_err());
        assert!(parse_val("x", ValType::F64).is_err());
    }

    #[test]
    fn json_escapes() {
        assert_eq!(json_str("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }

    #[test]
    fn wat_errors_fold_to_one_line() {
        let msg = "expected `(`\n     --> x.wat:1:1\n      |\n    1 | garbage\n      | ^";
        assert_eq!(one_line(msg), "expected `(` (at x.wat:1:1)");
    }
}
