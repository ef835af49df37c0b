//! `nanoproc inspect`: what a module imports, exports and declares, as text or JSON.

use crate::compile;
use anyhow::Result;
use nanoproc_engine::{Engine, ExternType, Module, ValType};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub(crate) struct InspectArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Also print nanoproc's internal code of every defined function (for engine work;
    /// not a stable format).
    #[arg(long, conflicts_with = "json")]
    ir: bool,
    /// The module (.wasm or .wat).
    module: PathBuf,
}

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

pub(crate) fn inspect(args: InspectArgs) -> Result<ExitCode> {
    let engine = Engine::default();
    let module = compile(&engine, &args.module)?;
    let summary = Summary::of(&module);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", summary.to_json())?;
    } else {
        summary.print_text(&mut out)?;
    }
    if args.ir {
        let imported = module.function_count() - module.defined_function_count();
        for i in 0..module.defined_function_count() {
            let index = (imported + i) as u32;
            let name = module.func_name(index).unwrap_or("");
            writeln!(out, "\nfunction {index} {name}")?;
            write!(out, "{}", module.internal_code(i).unwrap_or_default())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes() {
        assert_eq!(json_str("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }
}
