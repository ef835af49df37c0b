//! # nanoproc-wast
//!
//! Runs WebAssembly spec testsuite scripts (`.wast`) against `nanoproc-engine` and counts
//! assertions. Owns: the script interpreter and the spec's `spectest` host module. Must never:
//! hide a failure — every assertion that does not hold, and every directive it cannot run,
//! is counted as failed and reported with its line.

#![forbid(unsafe_code)]

use nanoproc_engine::{
    Config, Engine, Error, ExternRef, Global, GlobalType, Instance, Linker, Memory, MemoryType,
    Module, Mutability, RefType, Store, Table, TableType, TrapKind, Val, ValType,
};
use std::collections::HashMap;
use std::path::Path;
use wast::core::{NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

/// The outcome of one script.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    /// One line per failure: `file:line: what went wrong`.
    pub failures: Vec<String>,
}

/// A script that could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum WastError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse {path}: {message}")]
    Parse { path: String, message: String },
}

/// Runs the script at `path` with the default engine configuration.
pub fn run_file(path: &Path) -> Result<Report, WastError> {
    run_file_with(path, &Config::default())
}

/// Runs the script at `path` with `config` (with fuel metering, stores get unlimited fuel).
pub fn run_file_with(path: &Path, config: &Config) -> Result<Report, WastError> {
    let text = std::fs::read_to_string(path).map_err(|source| WastError::Io {
        path: path.display().to_string(),
        source,
    })?;
    run_source_with(&text, &path.display().to_string(), config)
}

/// Runs a script given as text; `name` is used in messages.
pub fn run_source(text: &str, name: &str) -> Result<Report, WastError> {
    run_source_with(text, name, &Config::default())
}

/// Runs a script given as text with `config`.
pub fn run_source_with(text: &str, name: &str, config: &Config) -> Result<Report, WastError> {
    let parse_err = |e: wast::Error| {
        let mut e = e;
        e.set_text(text);
        WastError::Parse {
            path: name.to_string(),
            message: e.to_string(),
        }
    };
    // The testsuite deliberately uses bidi and zero-width characters in names.
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buf = ParseBuffer::new_with_lexer(lexer).map_err(parse_err)?;
    let script = parser::parse::<Wast>(&buf).map_err(parse_err)?;
    let mut runner = Runner::new(config);
    let mut report = Report::default();
    for directive in script.directives {
        let (line, _) = directive.span().linecol_in(text);
        match runner.directive(directive) {
            Ok(()) => report.passed += 1,
            Err(msg) => {
                report.failed += 1;
                report.failures.push(format!("{name}:{}: {msg}", line + 1));
            }
        }
    }
    Ok(report)
}

struct Runner {
    engine: Engine,
    store: Store<()>,
    linker: Linker<()>,
    named: HashMap<String, Instance>,
    last: Option<Instance>,
    definitions: HashMap<String, Module>,
    last_definition: Option<Module>,
}

type Outcome = Result<Vec<Val>, Error>;

impl Runner {
    fn new(config: &Config) -> Runner {
        let engine = Engine::new(config);
        let mut store = Store::new(&engine, ());
        // Fuel only matters when metered; the suite's own loops are all finite.
        let _ = store.set_fuel(u64::MAX);
        let mut linker = Linker::new(&engine);
        linker.allow_shadowing(true);
        define_spectest(&mut linker, &mut store).expect("spectest definitions are valid");
        Runner {
            engine,
            store,
            linker,
            named: HashMap::new(),
            last: None,
            definitions: HashMap::new(),
            last_definition: None,
        }
    }

    fn instance(&self, id: Option<wast::token::Id<'_>>) -> Result<Instance, String> {
        match id {
            Some(id) => self
                .named
                .get(id.name())
                .copied()
                .ok_or_else(|| format!("no module named ${}", id.name())),
            None => self
                .last
                .ok_or_else(|| "no module instantiated".to_string()),
        }
    }

    fn instantiate(&mut self, module: &Module) -> Result<Instance, Error> {
        self.linker.instantiate(&mut self.store, module)
    }

    fn directive(&mut self, d: WastDirective<'_>) -> Result<(), String> {
        match d {
            WastDirective::Module(mut qw) => {
                let name = qw.name().map(|id| id.name().to_string());
                let bytes = qw
                    .encode()
                    .map_err(|e| format!("cannot encode module: {e}"))?;
                let module = Module::new(&self.engine, bytes)
                    .map_err(|e| format!("module failed to compile: {e}"))?;
                let inst = self
                    .instantiate(&module)
                    .map_err(|e| format!("module failed to instantiate: {e}"))?;
                self.last = Some(inst);
                if let Some(name) = name {
                    self.named.insert(name, inst);
                }
                Ok(())
            }
            WastDirective::ModuleDefinition(mut qw) => {
                let name = qw.name().map(|id| id.name().to_string());
                let bytes = qw
                    .encode()
                    .map_err(|e| format!("cannot encode module: {e}"))?;
                let module = Module::new(&self.engine, bytes)
                    .map_err(|e| format!("module definition failed to compile: {e}"))?;
                if let Some(name) = name {
                    self.definitions.insert(name, module.clone());
                }
                self.last_definition = Some(module);
                Ok(())
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let def = match module {
                    Some(id) => self.definitions.get(id.name()).cloned(),
                    None => self.last_definition.clone(),
                }
                .ok_or("unknown module definition")?;
                let inst = self
                    .instantiate(&def)
                    .map_err(|e| format!("module failed to instantiate: {e}"))?;
                self.last = Some(inst);
                if let Some(id) = instance {
                    self.named.insert(id.name().to_string(), inst);
                }
                Ok(())
            }
            WastDirective::Register { name, module, .. } => {
                let inst = self.instance(module)?;
                self.linker
                    .instance(&mut self.store, name, inst)
                    .map_err(|e| format!("register failed: {e}"))?;
                Ok(())
            }
            WastDirective::Invoke(invoke) => self
                .invoke(&invoke)
                .map(|_| ())
                .map_err(|e| format!("invoke `{}` failed: {e}", invoke.name)),
            WastDirective::AssertReturn { exec, results, .. } => {
                let actual = self
                    .execute(exec)?
                    .map_err(|e| format!("expected a return, got error: {e}"))?;
                self.check_results(&actual, &results)
            }
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec)? {
                Ok(vals) => Err(format!("expected trap `{message}`, got {vals:?}")),
                Err(e) => match e.as_trap() {
                    Some(t) if trap_matches(&t.kind, message) => Ok(()),
                    _ => Err(format!("expected trap `{message}`, got error: {e}")),
                },
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call) {
                Ok(vals) => Err(format!("expected exhaustion, got {vals:?}")),
                Err(e) => match e.as_trap() {
                    Some(t) if t.kind == TrapKind::CallStackExhausted => Ok(()),
                    _ => Err(format!("expected `{message}`, got error: {e}")),
                },
            },
            WastDirective::AssertInvalid {
                module, message, ..
            }
            | WastDirective::AssertMalformed {
                module, message, ..
            } => self.assert_rejected(module, message),
            WastDirective::AssertUnlinkable {
                module, message, ..
            } => {
                let mut module = module;
                let bytes = module
                    .encode()
                    .map_err(|e| format!("cannot encode module: {e}"))?;
                let module = Module::new(&self.engine, bytes)
                    .map_err(|e| format!("unlinkable module failed to compile: {e}"))?;
                match self.instantiate(&module) {
                    Ok(_) => Err(format!("expected link failure `{message}`, module linked")),
                    Err(Error::UnknownImport { .. }) | Err(Error::IncompatibleImport { .. }) => {
                        Ok(())
                    }
                    Err(e) => Err(format!("expected link failure `{message}`, got: {e}")),
                }
            }
            other => Err(format!(
                "unsupported directive {:?}",
                std::mem::discriminant(&other)
            )),
        }
    }

    fn assert_rejected(&mut self, mut module: QuoteWat<'_>, message: &str) -> Result<(), String> {
        let bytes = match module.encode() {
            Ok(b) => b,
            // The text itself is malformed: rejected before it reaches the engine.
            Err(_) => return Ok(()),
        };
        match Module::new(&self.engine, bytes) {
            Ok(_) => Err(format!("expected module to be rejected (`{message}`)")),
            Err(_) => Ok(()),
        }
    }

    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Outcome, String> {
        match exec {
            WastExecute::Invoke(invoke) => Ok(self.invoke(&invoke)),
            WastExecute::Wat(wat) => {
                let mut wat: Wat<'_> = wat;
                let bytes = wat
                    .encode()
                    .map_err(|e| format!("cannot encode module: {e}"))?;
                let module = match Module::new(&self.engine, bytes) {
                    Ok(m) => m,
                    Err(e) => return Ok(Err(e)),
                };
                Ok(self.instantiate(&module).map(|_| Vec::new()))
            }
            WastExecute::Get { module, global, .. } => {
                let inst = self.instance(module)?;
                let g = inst
                    .get_global(&self.store, global)
                    .ok_or_else(|| format!("no global `{global}`"))?;
                Ok(Ok(vec![g.get(&self.store)]))
            }
        }
    }

    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Outcome {
        let inst = self
            .instance(invoke.module)
            .map_err(|e| Error::UnknownExport(e.to_string()))?;
        let func = inst
            .get_func(&self.store, invoke.name)
            .ok_or_else(|| Error::UnknownExport(invoke.name.to_string()))?;
        let mut args = Vec::with_capacity(invoke.args.len());
        for a in &invoke.args {
            args.push(self.arg(a).map_err(Error::TypeMismatch)?);
        }
        let ty = func.ty(&self.store);
        let mut results: Vec<Val> = ty.results().iter().map(|&t| Val::default_for(t)).collect();
        func.call(&mut self.store, &args, &mut results)?;
        Ok(results)
    }

    fn arg(&mut self, a: &WastArg<'_>) -> Result<Val, String> {
        let WastArg::Core(a) = a else {
            return Err("component-model arguments are not supported".into());
        };
        Ok(match a {
            WastArgCore::I32(v) => Val::I32(*v),
            WastArgCore::I64(v) => Val::I64(*v),
            WastArgCore::F32(v) => Val::F32(v.bits),
            WastArgCore::F64(v) => Val::F64(v.bits),
            WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
            WastArgCore::RefNull(ht) => match ht {
                wast::core::HeapType::Abstract {
                    ty: wast::core::AbstractHeapType::Extern,
                    ..
                } => Val::ExternRef(None),
                _ => Val::FuncRef(None),
            },
            WastArgCore::RefExtern(n) => Val::ExternRef(Some(ExternRef::new(&mut self.store, *n))),
            other => return Err(format!("unsupported argument {other:?}")),
        })
    }

    fn check_results(&self, actual: &[Val], expected: &[WastRet<'_>]) -> Result<(), String> {
        if actual.len() != expected.len() {
            return Err(format!(
                "expected {} results, got {}: {actual:?}",
                expected.len(),
                actual.len()
            ));
        }
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            let WastRet::Core(e) = e else {
                return Err("component-model results are not supported".into());
            };
            if !self.matches(a, e) {
                return Err(format!("result {i}: expected {e:?}, got {}", show(a)));
            }
        }
        Ok(())
    }

    fn matches(&self, actual: &Val, expected: &WastRetCore<'_>) -> bool {
        match (actual, expected) {
            (Val::I32(a), WastRetCore::I32(e)) => a == e,
            (Val::I64(a), WastRetCore::I64(e)) => a == e,
            (Val::F32(a), WastRetCore::F32(e)) => f32_matches(*a, e),
            (Val::F64(a), WastRetCore::F64(e)) => f64_matches(*a, e),
            (Val::V128(a), WastRetCore::V128(e)) => v128_matches(*a, e),
            (Val::FuncRef(None), WastRetCore::RefNull(_))
            | (Val::ExternRef(None), WastRetCore::RefNull(_)) => true,
            (Val::FuncRef(Some(_)), WastRetCore::RefFunc(_)) => true,
            (Val::ExternRef(Some(_)), WastRetCore::RefExtern(None)) => true,
            (Val::ExternRef(Some(r)), WastRetCore::RefExtern(Some(n))) => r
                .data(&self.store)
                .and_then(|d| d.downcast_ref::<u32>())
                .is_some_and(|v| v == n),
            (a, WastRetCore::Either(cases)) => cases.iter().any(|c| self.matches(a, c)),
            _ => false,
        }
    }
}

fn show(v: &Val) -> String {
    match v {
        Val::F32(b) => format!("f32 {} (0x{b:08x})", f32::from_bits(*b)),
        Val::F64(b) => format!("f64 {} (0x{b:016x})", f64::from_bits(*b)),
        Val::V128(b) => format!("v128 0x{b:032x}"),
        other => format!("{other:?}"),
    }
}

fn f32_matches(bits: u32, e: &NanPattern<wast::token::F32>) -> bool {
    match e {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn f64_matches(bits: u64, e: &NanPattern<wast::token::F64>) -> bool {
    match e {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn v128_matches(v: u128, e: &V128Pattern) -> bool {
    let b = v.to_le_bytes();
    match e {
        V128Pattern::I8x16(l) => l.iter().enumerate().all(|(i, x)| b[i] as i8 == *x),
        V128Pattern::I16x8(l) => l
            .iter()
            .enumerate()
            .all(|(i, x)| i16::from_le_bytes([b[2 * i], b[2 * i + 1]]) == *x),
        V128Pattern::I32x4(l) => l.iter().enumerate().all(|(i, x)| {
            i32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap_or_default()) == *x
        }),
        V128Pattern::I64x2(l) => l.iter().enumerate().all(|(i, x)| {
            i64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or_default()) == *x
        }),
        V128Pattern::F32x4(l) => l.iter().enumerate().all(|(i, x)| {
            f32_matches(
                u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap_or_default()),
                x,
            )
        }),
        V128Pattern::F64x2(l) => l.iter().enumerate().all(|(i, x)| {
            f64_matches(
                u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or_default()),
                x,
            )
        }),
    }
}

/// Whether a trap matches the testsuite's expected message. Our messages contain the spec's
/// phrases; a few spec phrasings differ between files and are mapped here.
fn trap_matches(kind: &TrapKind, expected: &str) -> bool {
    let actual = kind.to_string();
    if actual.contains(expected) || expected.contains(&actual) {
        return true;
    }
    matches!(
        (kind, expected),
        (TrapKind::UndefinedElement, e) if e.starts_with("undefined element") || e.starts_with("uninitialized element")
    ) || matches!(
        (kind, expected),
        (TrapKind::IndirectCallToNull, e) if e.starts_with("uninitialized element") || e.starts_with("undefined element")
    ) || matches!(
        (kind, expected),
        (TrapKind::TableOutOfBounds, e) if e.starts_with("undefined element") || e.starts_with("out of bounds table access")
    )
}

/// The spec's `spectest` module: print functions, globals, a table and a memory.
fn define_spectest(linker: &mut Linker<()>, store: &mut Store<()>) -> Result<(), Error> {
    linker.func_wrap("spectest", "print", || {})?;
    linker.func_wrap("spectest", "print_i32", |_: i32| {})?;
    linker.func_wrap("spectest", "print_i64", |_: i64| {})?;
    linker.func_wrap("spectest", "print_f32", |_: f32| {})?;
    linker.func_wrap("spectest", "print_f64", |_: f64| {})?;
    linker.func_wrap("spectest", "print_i32_f32", |_: i32, _: f32| {})?;
    linker.func_wrap("spectest", "print_f64_f64", |_: f64, _: f64| {})?;
    let global = |store: &mut Store<()>, ty: ValType, v: Val| {
        Global::new(
            store,
            GlobalType {
                content: ty,
                mutability: Mutability::Const,
            },
            v,
        )
    };
    let g = global(store, ValType::I32, Val::I32(666))?;
    linker.define(&*store, "spectest", "global_i32", g)?;
    let g = global(store, ValType::I64, Val::I64(666))?;
    linker.define(&*store, "spectest", "global_i64", g)?;
    let g = global(store, ValType::F32, Val::F32(666.6f32.to_bits()))?;
    linker.define(&*store, "spectest", "global_f32", g)?;
    let g = global(store, ValType::F64, Val::F64(666.6f64.to_bits()))?;
    linker.define(&*store, "spectest", "global_f64", g)?;
    let table = Table::new(
        &mut *store,
        TableType {
            element: RefType::FuncRef,
            minimum: 10,
            maximum: Some(20),
        },
        Val::FuncRef(None),
    )?;
    linker.define(&*store, "spectest", "table", table)?;
    let memory = Memory::new(
        &mut *store,
        MemoryType {
            minimum: 1,
            maximum: Some(2),
        },
    )?;
    linker.define(&*store, "spectest", "memory", memory)?;
    Ok(())
}
