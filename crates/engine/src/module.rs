//! `Module`: a decoded, validated and translated WebAssembly module.

use crate::engine::Engine;
use crate::error::{CompileError, Error};
use crate::ir::Instr;
use crate::limits::{module_limit, ModuleLimits};
use crate::translate::{translate_function, validate_function, ModuleEnv, Validated};
use crate::types::*;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use wasmparser::{Parser, Payload, Validator};

/// A compiled module: immutable, `Send + Sync`, cheap to clone, instantiable many times.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.inner.names.get().module)
            .field("funcs", &self.inner.funcs.len())
            .finish()
    }
}

/// A function body translated to the internal instruction set.
#[derive(Debug)]
pub(crate) struct CompiledFunc {
    /// The instructions, each with its threaded handler (`crate::threaded`).
    pub(crate) code: Box<[crate::threaded::Op]>,
    /// Wasm byte offset of each instruction (for backtraces).
    pub(crate) offsets: Box<[u32]>,
    /// v128 constants and shuffle masks, as translated; moved into the module's pool
    /// (`ModuleInner::consts`) once all functions are translated.
    pub(crate) consts: Box<[u128]>,
    pub(crate) param_cells: u32,
    /// Parameters plus declared locals, in cells.
    pub(crate) local_cells: u32,
    /// Cells the frame needs: locals plus the deepest operand stack.
    pub(crate) frame_cells: u32,
}

#[derive(Clone, Debug)]
pub(crate) enum ImportKind {
    Func(u32),
    Table(TableType),
    Memory(MemoryType),
    Global(GlobalType),
}

#[derive(Clone, Debug)]
pub(crate) struct Import {
    pub(crate) module: String,
    pub(crate) name: String,
    pub(crate) kind: ImportKind,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ExportKind {
    Func,
    Table,
    Memory,
    Global,
}

/// One operation of a constant expression.
#[derive(Clone, Debug)]
pub(crate) enum ConstOp {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    RefNull,
    RefFunc(u32),
    GlobalGet(u32),
    I32Add,
    I32Sub,
    I32Mul,
    I64Add,
    I64Sub,
    I64Mul,
}

pub(crate) type ConstExpr = Box<[ConstOp]>;

#[derive(Clone, Debug)]
pub(crate) enum SegmentMode {
    Passive,
    Active { index: u32, offset: ConstExpr },
    Declared,
}

#[derive(Clone, Debug)]
pub(crate) struct ElemSegment {
    pub(crate) mode: SegmentMode,
    pub(crate) items: Box<[ConstExpr]>,
}

#[derive(Clone, Debug)]
pub(crate) struct DataSegment {
    pub(crate) mode: SegmentMode,
    pub(crate) bytes: Arc<[u8]>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    pub(crate) module: Option<String>,
    pub(crate) funcs: HashMap<u32, String>,
}

/// The name sections, decoded on first use (a trap's backtrace, `Module::name`): a
/// compiled toolchain's name section can take longer to decode than the rest of the
/// module outside its code.
#[derive(Debug, Default)]
pub(crate) struct LazyNames {
    /// Each name section's bytes, and their offset in the module.
    sections: Vec<(Box<[u8]>, u64)>,
    decoded: OnceLock<Names>,
}

impl LazyNames {
    pub(crate) fn get(&self) -> &Names {
        self.decoded.get_or_init(|| {
            let mut names = Names::default();
            for (data, offset) in &self.sections {
                // A malformed name section is not an error (the spec says to ignore
                // it); what decoded before the flaw is kept.
                let _ = parse_names(&mut names, data, *offset);
            }
            names
        })
    }
}

pub(crate) struct ModuleInner {
    pub(crate) engine: Engine,
    pub(crate) types: Vec<FuncType>,
    /// Engine-wide id of each type.
    pub(crate) type_ids: Vec<u32>,
    pub(crate) imports: Vec<Import>,
    /// Type index of every function (imports first).
    pub(crate) funcs: Vec<u32>,
    pub(crate) num_imported_funcs: u32,
    pub(crate) tables: Vec<TableType>,
    pub(crate) num_imported_tables: u32,
    pub(crate) memories: Vec<MemoryType>,
    pub(crate) num_imported_memories: u32,
    pub(crate) globals: Vec<GlobalType>,
    pub(crate) num_imported_globals: u32,
    pub(crate) global_inits: Vec<ConstExpr>,
    pub(crate) exports: Vec<(String, ExportKind, u32)>,
    pub(crate) start: Option<u32>,
    pub(crate) elems: Vec<ElemSegment>,
    pub(crate) datas: Vec<DataSegment>,
    /// Each defined function's translation: filled while compiling, or on the function's
    /// first call (lazy translation, see `Config::lazy_translation`).
    pub(crate) code: Vec<OnceLock<CompiledFunc>>,
    /// The bodies of the functions not translated yet.
    pub(crate) lazy: LazyBodies,
    /// The v128 constants and shuffle masks of all its functions: the interpreter reads
    /// them through the running module, without looking up the running function.
    pub(crate) consts: Vec<u128>,
    /// The largest frame of any of its functions, in cells (for a function not translated
    /// yet, a bound on it).
    pub(crate) max_frame_cells: u32,
    pub(crate) names: LazyNames,
    pub(crate) custom_sections: Vec<(String, usize)>,
}

/// The code section, kept for the functions translated on their first call.
#[derive(Default)]
pub(crate) struct LazyBodies {
    /// The code section's contents (empty when every function was translated).
    bytes: Box<[u8]>,
    /// Module offset of `bytes[0]` (backtraces and errors give module offsets).
    offset: u64,
    /// Each defined function's body within `bytes`, as (start, end).
    ranges: Vec<(u32, u32)>,
}

impl ModuleInner {
    /// Defined function `index`, translated (now, if this is its first call).
    #[inline(always)]
    pub(crate) fn compiled(&self, index: u32) -> Result<&CompiledFunc, Box<Error>> {
        match self.code[index as usize].get() {
            Some(compiled) => Ok(compiled),
            None => self.translate_lazily(index),
        }
    }

    /// The code of defined function `index` if it is translated already (the interpreter
    /// loop's check: a load and a compare, no call).
    #[inline(always)]
    pub(crate) fn translated(&self, index: u32) -> Option<&CompiledFunc> {
        self.code[index as usize].get()
    }

    /// Translates a function validated at compile time. Two threads may both translate it;
    /// the translations are equal and the first one stored wins.
    #[cold]
    #[inline(never)]
    fn translate_lazily(&self, index: u32) -> Result<&CompiledFunc, Box<Error>> {
        let internal = |what: &str| Box::new(internal_error(what));
        let cell = &self.code[index as usize];
        let &(start, end) = self
            .lazy
            .ranges
            .get(index as usize)
            .ok_or_else(|| internal("no body kept for lazy translation"))?;
        let bytes = self
            .lazy
            .bytes
            .get(start as usize..end as usize)
            .ok_or_else(|| internal("a kept body is out of bounds"))?;
        let body = wasmparser::FunctionBody::new(wasmparser::BinaryReader::new(
            bytes,
            self.lazy.offset + u64::from(start),
        ));
        let env = ModuleEnv { module: self };
        let mut allocs = crate::translate::TranslatorAllocs::default();
        let compiled = translate_function(
            &env,
            self.num_imported_funcs + index,
            &body,
            None,
            &mut allocs,
        )
        .map_err(Box::new)?;
        // Both hold by construction (`validate_function`); checked because the stack
        // bookkeeping relies on them.
        if !compiled.consts.is_empty() || compiled.frame_cells > self.max_frame_cells {
            return Err(internal("lazy translation does not match its validation"));
        }
        let _ = cell.set(compiled);
        cell.get()
            .ok_or_else(|| internal("lazy translation was not stored"))
    }
}

impl Module {
    /// Compiles a module from binary wasm or `.wat` text.
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module, Error> {
        let bytes = bytes.as_ref();
        let binary = if bytes.starts_with(b"\0asm") {
            std::borrow::Cow::Borrowed(bytes)
        } else {
            std::borrow::Cow::Owned(
                wat::parse_bytes(bytes)
                    .map_err(|e| Error::Wat(e.to_string()))?
                    .into_owned(),
            )
        };
        Module::from_binary(engine, &binary)
    }

    /// Compiles a module from a file (binary or text).
    pub fn from_file(engine: &Engine, path: impl AsRef<std::path::Path>) -> Result<Module, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        if bytes.starts_with(b"\0asm") {
            return Module::from_binary(engine, &bytes);
        }
        let binary = wat::parse_bytes(&bytes).map_err(|mut e| {
            e.set_path(path);
            Error::Wat(e.to_string())
        })?;
        Module::from_binary(engine, &binary)
    }

    /// Compiles a module from binary wasm only.
    pub fn from_binary(engine: &Engine, bytes: &[u8]) -> Result<Module, Error> {
        let inner = parse(engine, bytes)?;
        Ok(Module {
            inner: Arc::new(inner),
        })
    }

    /// Checks that `bytes` is a valid module without keeping the result.
    pub fn validate(engine: &Engine, bytes: &[u8]) -> Result<(), Error> {
        Module::from_binary(engine, bytes).map(|_| ())
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The module's name from the `name` section.
    pub fn name(&self) -> Option<&str> {
        self.inner.names.get().module.as_deref()
    }

    pub fn imports(&self) -> impl ExactSizeIterator<Item = ImportType> + '_ {
        self.inner.imports.iter().map(|imp| ImportType {
            module: imp.module.clone(),
            name: imp.name.clone(),
            ty: match &imp.kind {
                ImportKind::Func(t) => ExternType::Func(self.inner.types[*t as usize].clone()),
                ImportKind::Table(t) => ExternType::Table(*t),
                ImportKind::Memory(m) => ExternType::Memory(*m),
                ImportKind::Global(g) => ExternType::Global(*g),
            },
        })
    }

    pub fn exports(&self) -> impl ExactSizeIterator<Item = ExportType> + '_ {
        self.inner
            .exports
            .iter()
            .map(|(name, kind, idx)| ExportType {
                name: name.clone(),
                ty: self.inner.entity_type(*kind, *idx),
            })
    }

    /// The type of the export `name`, if any.
    pub fn get_export(&self, name: &str) -> Option<ExternType> {
        self.inner
            .exports
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, kind, idx)| self.inner.entity_type(*kind, *idx))
    }

    /// Number of functions, imported and defined.
    pub fn function_count(&self) -> usize {
        self.inner.funcs.len()
    }

    /// Number of functions defined (with bodies) in the module.
    pub fn defined_function_count(&self) -> usize {
        self.inner.code.len()
    }

    /// Number of defined functions translated to internal code so far: all of them with
    /// eager translation, only those called at least once (or inspected) with lazy
    /// translation ([`Config::lazy_translation`](crate::Config::lazy_translation)).
    pub fn translated_function_count(&self) -> usize {
        self.inner.code.iter().filter(|c| c.get().is_some()).count()
    }

    /// Number of internal instructions all bodies were translated to (translating the
    /// ones not called yet).
    pub fn instruction_count(&self) -> usize {
        (0..self.inner.code.len() as u32)
            .filter_map(|i| self.inner.compiled(i).ok())
            .map(|c| c.code.len())
            .sum()
    }

    /// The internal code of defined function `index` (0 = first defined function), one
    /// instruction per line, `(pair)` after one that runs with the next as one dispatch:
    /// for engine development and `nanoproc inspect --ir`, not a stable format.
    pub fn internal_code(&self, index: usize) -> Option<String> {
        let index = u32::try_from(index)
            .ok()
            .filter(|&i| (i as usize) < self.inner.code.len())?;
        let f = self.inner.compiled(index).ok()?;
        let mut out = String::new();
        for (pc, op) in f.code.iter().enumerate() {
            // Targets print as plain indices; the backward flag is the interpreter's.
            let mut instr = op.instr();
            if let Some(target) = instr.target() {
                instr.set_target(target & !crate::ir::BACKWARD);
            }
            // A pair handler (see `threaded`'s `pairs!`) runs it and the next as one.
            let paired = f.code.get(pc + 1).is_some_and(|next| {
                crate::threaded::pair_handler_for(&op.instr(), &next.instr()).is_some()
            });
            let pair = if paired { "  (pair)" } else { "" };
            out.push_str(&format!("{pc:5}: {instr:?}{pair}\n"));
        }
        Some(out)
    }

    pub fn memories(&self) -> &[MemoryType] {
        &self.inner.memories
    }

    pub fn tables(&self) -> &[TableType] {
        &self.inner.tables
    }

    pub fn globals(&self) -> &[GlobalType] {
        &self.inner.globals
    }

    /// Custom sections as (name, size in bytes).
    pub fn custom_sections(&self) -> &[(String, usize)] {
        &self.inner.custom_sections
    }

    /// The name of function `index` from the `name` section.
    pub fn func_name(&self, index: u32) -> Option<&str> {
        self.inner.names.get().funcs.get(&index).map(|s| s.as_str())
    }

    /// The start function's index, if any.
    pub fn start(&self) -> Option<u32> {
        self.inner.start
    }
}

impl ModuleInner {
    pub(crate) fn entity_type(&self, kind: ExportKind, idx: u32) -> ExternType {
        match kind {
            ExportKind::Func => {
                ExternType::Func(self.types[self.funcs[idx as usize] as usize].clone())
            }
            ExportKind::Table => ExternType::Table(self.tables[idx as usize]),
            ExportKind::Memory => ExternType::Memory(self.memories[idx as usize]),
            ExportKind::Global => ExternType::Global(self.globals[idx as usize]),
        }
    }

    pub(crate) fn func_type(&self, func: u32) -> &FuncType {
        &self.types[self.funcs[func as usize] as usize]
    }
}

/// An engine bug surfaced as an error instead of a panic.
pub(crate) fn internal_error(what: &str) -> Error {
    err(format!("internal error: {what}"), 0)
}

fn err(message: impl Into<String>, offset: u64) -> Error {
    Error::Compile(CompileError {
        message: message.into(),
        offset,
    })
}

fn convert_table(t: &wasmparser::TableType, offset: u64) -> Result<TableType, Error> {
    let element = RefType::from_wasmparser(t.element_type)
        .ok_or_else(|| err("unsupported table element type", offset))?;
    if t.table64 {
        return Err(err("64-bit tables are not supported", offset));
    }
    Ok(TableType {
        element,
        minimum: t.initial as u32,
        maximum: t.maximum.map(|m| m as u32),
    })
}

fn convert_memory(m: &wasmparser::MemoryType, offset: u64) -> Result<MemoryType, Error> {
    if m.memory64 || m.shared || m.page_size_log2.is_some() {
        return Err(err("unsupported memory type", offset));
    }
    Ok(MemoryType {
        minimum: m.initial as u32,
        maximum: m.maximum.map(|m| m as u32),
    })
}

fn convert_global(g: &wasmparser::GlobalType, offset: u64) -> Result<GlobalType, Error> {
    if g.shared {
        return Err(err("shared globals are not supported", offset));
    }
    Ok(GlobalType {
        content: ValType::from_wasmparser(g.content_type)
            .ok_or_else(|| err("unsupported global type", offset))?,
        mutability: if g.mutable {
            Mutability::Var
        } else {
            Mutability::Const
        },
    })
}

fn convert_const_expr(expr: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr, Error> {
    use wasmparser::Operator as O;
    let mut ops = Vec::new();
    let mut reader = expr.get_operators_reader();
    while !reader.eof() {
        let (op, offset) = reader.read_with_offset()?;
        ops.push(match op {
            O::I32Const { value } => ConstOp::I32(value),
            O::I64Const { value } => ConstOp::I64(value),
            O::F32Const { value } => ConstOp::F32(value.bits()),
            O::F64Const { value } => ConstOp::F64(value.bits()),
            O::V128Const { value } => ConstOp::V128(value.i128() as u128),
            O::RefNull { .. } => ConstOp::RefNull,
            O::RefFunc { function_index } => ConstOp::RefFunc(function_index),
            O::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            O::I32Add => ConstOp::I32Add,
            O::I32Sub => ConstOp::I32Sub,
            O::I32Mul => ConstOp::I32Mul,
            O::I64Add => ConstOp::I64Add,
            O::I64Sub => ConstOp::I64Sub,
            O::I64Mul => ConstOp::I64Mul,
            O::End => break,
            other => {
                return Err(err(
                    format!("unsupported constant expression operator {other:?}"),
                    offset,
                ))
            }
        });
    }
    Ok(ops.into_boxed_slice())
}

impl From<wasmparser::BinaryReaderError> for Error {
    fn from(e: wasmparser::BinaryReaderError) -> Error {
        Error::Compile(e.into())
    }
}

fn parse(engine: &Engine, bytes: &[u8]) -> Result<ModuleInner, Error> {
    let limits = &engine.config().module_limits;
    if bytes.len() > limits.module_size {
        return Err(module_limit(
            "module_size",
            limits.module_size,
            bytes.len(),
            0,
        ));
    }
    let mut data_bytes = 0usize;
    let mut element_items = 0u64;
    let mut validator = Validator::new_with_features(engine.config().features());
    let mut m = ModuleInner {
        engine: engine.clone(),
        types: Vec::new(),
        type_ids: Vec::new(),
        imports: Vec::new(),
        funcs: Vec::new(),
        num_imported_funcs: 0,
        tables: Vec::new(),
        num_imported_tables: 0,
        memories: Vec::new(),
        num_imported_memories: 0,
        globals: Vec::new(),
        num_imported_globals: 0,
        global_inits: Vec::new(),
        exports: Vec::new(),
        start: None,
        elems: Vec::new(),
        datas: Vec::new(),
        code: Vec::new(),
        lazy: LazyBodies::default(),
        consts: Vec::new(),
        max_frame_cells: 0,
        names: LazyNames::default(),
        custom_sections: Vec::new(),
    };
    let mut func_allocs = wasmparser::FuncValidatorAllocations::default();
    let mut translator_allocs = crate::translate::TranslatorAllocs::default();
    // A code section of at least PARALLEL_CODE_BYTES is kept until the end of the module
    // and translated on every core.
    let mut pending: Vec<PendingBody<'_>> = Vec::new();
    let mut parallel_code = false;
    let mut code_range = 0..0;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload?;
        check_section_counts(limits, &payload, m.funcs.len())?;
        let valid = validator.payload(&payload)?;
        match payload {
            Payload::TypeSection(reader) => {
                for rec_group in reader {
                    let rec_group = rec_group?;
                    for sub in rec_group.types() {
                        let offset = 0;
                        let wasmparser::CompositeInnerType::Func(f) = &sub.composite_type.inner
                        else {
                            return Err(err("only function types are supported", offset));
                        };
                        let conv = |t: &wasmparser::ValType| {
                            ValType::from_wasmparser(*t)
                                .ok_or_else(|| err("unsupported value type", offset))
                        };
                        let params = f.params().iter().map(conv).collect::<Result<Vec<_>, _>>()?;
                        let results = f
                            .results()
                            .iter()
                            .map(conv)
                            .collect::<Result<Vec<_>, _>>()?;
                        let ty = FuncType::new(params, results);
                        m.type_ids.push(engine.intern_type(&ty));
                        m.types.push(ty);
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports_with_offsets() {
                    let (offset, import) = import?;
                    let kind = match import.ty {
                        wasmparser::TypeRef::Func(t) => {
                            m.funcs.push(t);
                            m.num_imported_funcs += 1;
                            ImportKind::Func(t)
                        }
                        wasmparser::TypeRef::Table(t) => {
                            let t = convert_table(&t, offset)?;
                            m.tables.push(t);
                            m.num_imported_tables += 1;
                            ImportKind::Table(t)
                        }
                        wasmparser::TypeRef::Memory(mt) => {
                            let mt = convert_memory(&mt, offset)?;
                            m.memories.push(mt);
                            m.num_imported_memories += 1;
                            ImportKind::Memory(mt)
                        }
                        wasmparser::TypeRef::Global(g) => {
                            let g = convert_global(&g, offset)?;
                            m.globals.push(g);
                            m.num_imported_globals += 1;
                            ImportKind::Global(g)
                        }
                        _ => return Err(err("unsupported import kind", offset)),
                    };
                    m.imports.push(Import {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        kind,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    m.funcs.push(ty?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader.into_iter_with_offsets() {
                    let (offset, table) = table?;
                    m.tables.push(convert_table(&table.ty, offset)?);
                    // Initializer expressions belong to the function-references proposal,
                    // which validation rejects unless enabled.
                    if let wasmparser::TableInit::Expr(_) = table.init {
                        return Err(err(
                            "table initializer expressions are not supported",
                            offset,
                        ));
                    }
                }
            }
            Payload::MemorySection(reader) => {
                check_memory_limits_leb(bytes, reader.range())?;
                for mem in reader.into_iter_with_offsets() {
                    let (offset, mem) = mem?;
                    m.memories.push(convert_memory(&mem, offset)?);
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader.into_iter_with_offsets() {
                    let (offset, global) = global?;
                    m.globals.push(convert_global(&global.ty, offset)?);
                    m.global_inits.push(convert_const_expr(&global.init_expr)?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    let kind = match export.kind {
                        wasmparser::ExternalKind::Func => ExportKind::Func,
                        wasmparser::ExternalKind::Table => ExportKind::Table,
                        wasmparser::ExternalKind::Memory => ExportKind::Memory,
                        wasmparser::ExternalKind::Global => ExportKind::Global,
                        _ => return Err(err("unsupported export kind", 0)),
                    };
                    m.exports
                        .push((export.name.to_string(), kind, export.index));
                }
            }
            Payload::StartSection { func, .. } => m.start = Some(func),
            Payload::ElementSection(reader) => {
                for elem in reader {
                    let elem = elem?;
                    let mode = match elem.kind {
                        wasmparser::ElementKind::Passive => SegmentMode::Passive,
                        wasmparser::ElementKind::Declared => SegmentMode::Declared,
                        wasmparser::ElementKind::Active {
                            table_index,
                            offset_expr,
                        } => SegmentMode::Active {
                            index: table_index.unwrap_or(0),
                            offset: convert_const_expr(&offset_expr)?,
                        },
                    };
                    element_items += match &elem.items {
                        wasmparser::ElementItems::Functions(r) => r.count() as u64,
                        wasmparser::ElementItems::Expressions(_, r) => r.count() as u64,
                    };
                    if element_items > limits.element_items {
                        return Err(module_limit(
                            "element_items",
                            limits.element_items,
                            format!("at least {element_items}"),
                            elem.range.start,
                        ));
                    }
                    let items = match elem.items {
                        wasmparser::ElementItems::Functions(r) => r
                            .into_iter()
                            .map(|f| f.map(|f| Box::new([ConstOp::RefFunc(f)]) as ConstExpr))
                            .collect::<Result<Vec<_>, _>>()?,
                        wasmparser::ElementItems::Expressions(_, r) => {
                            let mut v = Vec::new();
                            for e in r {
                                v.push(convert_const_expr(&e?)?);
                            }
                            v
                        }
                    };
                    m.elems.push(ElemSegment {
                        mode,
                        items: items.into_boxed_slice(),
                    });
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data?;
                    data_bytes = data_bytes.saturating_add(data.data.len());
                    if data_bytes > limits.data_bytes {
                        return Err(module_limit(
                            "data_bytes",
                            limits.data_bytes,
                            format!("at least {data_bytes}"),
                            data.range.start,
                        ));
                    }
                    let mode = match data.kind {
                        wasmparser::DataKind::Passive => SegmentMode::Passive,
                        wasmparser::DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => SegmentMode::Active {
                            index: memory_index,
                            offset: convert_const_expr(&offset_expr)?,
                        },
                    };
                    m.datas.push(DataSegment {
                        mode,
                        bytes: Arc::from(data.data),
                    });
                }
            }
            Payload::CodeSectionEntry(body) => {
                let size = (body.range().end - body.range().start) as usize;
                if size > limits.function_body_size {
                    return Err(module_limit(
                        "function_body_size",
                        limits.function_body_size,
                        size,
                        body.range().start,
                    ));
                }
                let wasmparser::ValidPayload::Func(func_to_validate, _) = valid else {
                    return Err(err("code section entry was not validated", 0));
                };
                if parallel_code {
                    pending.push((func_to_validate, body));
                } else {
                    // A small code section is handled as it arrives, on this thread.
                    let mut func_validator =
                        func_to_validate.into_validator(std::mem::take(&mut func_allocs));
                    let func_index = m.num_imported_funcs + m.code.len() as u32;
                    let env = ModuleEnv { module: &m };
                    let prepared = prepare_function(
                        &env,
                        func_index,
                        &body,
                        &mut func_validator,
                        &mut translator_allocs,
                    )?;
                    func_allocs = func_validator.into_allocations();
                    add_function(&mut m, prepared, body.range(), &code_range);
                }
            }
            Payload::CodeSectionStart {
                count,
                size,
                unchecked_range,
                ..
            } => {
                parallel_code = size as usize >= PARALLEL_CODE_BYTES;
                code_range = unchecked_range;
                // The validator has checked `count` against the function section.
                let count = count as usize;
                m.code.reserve(count);
                m.lazy.ranges.reserve(count);
                if parallel_code {
                    pending.reserve(count);
                }
            }
            Payload::End(_) if !pending.is_empty() => {
                let pending = std::mem::take(&mut pending);
                let ranges: Vec<_> = pending.iter().map(|(_, body)| body.range()).collect();
                let prepared = prepare_parallel(&m, pending)?;
                for (p, range) in prepared.into_iter().zip(ranges) {
                    add_function(&mut m, p, range, &code_range);
                }
            }
            Payload::CustomSection(reader) => {
                m.custom_sections
                    .push((reader.name().to_string(), reader.data().len()));
                if reader.name() == "name" {
                    m.names
                        .sections
                        .push((reader.data().into(), reader.data_offset()));
                }
            }
            _ => {}
        }
    }
    if !m.lazy.ranges.is_empty() {
        // Some function waits for its first call: keep the code section for it.
        let section = usize::try_from(code_range.start)
            .ok()
            .zip(usize::try_from(code_range.end).ok())
            .and_then(|(start, end)| bytes.get(start..end))
            .ok_or_else(|| err("code section out of bounds", code_range.start))?;
        m.lazy.bytes = section.into();
        m.lazy.offset = code_range.start;
    }
    if !engine.config().lazy_translation {
        crate::inline::inline_leaf_calls(&mut m);
    }
    pool_constants(&mut m)?;
    Ok(m)
}

/// Moves every function's v128 constants into the module's pool, rebasing the indices
/// of the instructions that read them.
fn pool_constants(m: &mut ModuleInner) -> Result<(), Error> {
    for f in m.code.iter_mut().filter_map(OnceLock::get_mut) {
        if f.consts.is_empty() {
            continue;
        }
        let base = u32::try_from(m.consts.len())
            .map_err(|_| err("too many v128 constants in one module", 0))?;
        for op in f.code.iter_mut() {
            let mut instr = op.instr();
            if let Instr::Const128 { index, .. }
            | Instr::V128BinaryConst { index, .. }
            | Instr::V128ShuffleTo(crate::ir::Shuffle { lanes: index, .. }) = &mut instr
            {
                *index = index
                    .checked_add(base)
                    .ok_or_else(|| err("too many v128 constants in one module", 0))?;
                // The same handler (which may be a pair's): only the index moved.
                *op = crate::threaded::Op {
                    h: op.h,
                    ..crate::threaded::Op::new(instr)
                };
            }
        }
        m.consts.extend_from_slice(&std::mem::take(&mut f.consts));
    }
    Ok(())
}

/// A function body validated for structure, waiting for translation.
type PendingBody<'a> = (
    wasmparser::FuncToValidate<wasmparser::ValidatorResources>,
    wasmparser::FunctionBody<'a>,
);

/// Code sections at least this large (in bytes) are translated in parallel: below it,
/// starting threads costs more than it saves.
const PARALLEL_CODE_BYTES: usize = 64 * 1024;

/// A validated function: translated, or waiting for its first call.
enum Prepared {
    Translated(CompiledFunc),
    /// Translated on its first call; its frame needs at most this many cells.
    Deferred(u32),
}

/// Validates a function body and translates it, unless lazy translation defers that to
/// its first call.
fn prepare_function(
    env: &ModuleEnv<'_>,
    func_index: u32,
    body: &wasmparser::FunctionBody<'_>,
    validator: &mut wasmparser::FuncValidator<wasmparser::ValidatorResources>,
    allocs: &mut crate::translate::TranslatorAllocs,
) -> Result<Prepared, Error> {
    if !env.module.engine.config().lazy_translation {
        return translate_function(env, func_index, body, Some(validator), allocs)
            .map(Prepared::Translated);
    }
    match validate_function(env, func_index, body, validator)? {
        Validated::Deferred { frame_bound } => Ok(Prepared::Deferred(frame_bound)),
        Validated::TranslateNow => {
            translate_function(env, func_index, body, None, allocs).map(Prepared::Translated)
        }
    }
}

/// Appends a prepared function to the module's code.
fn add_function(
    m: &mut ModuleInner,
    prepared: Prepared,
    body: std::ops::Range<u64>,
    code_range: &std::ops::Range<u64>,
) {
    let index = m.code.len();
    match prepared {
        Prepared::Translated(compiled) => {
            m.max_frame_cells = m.max_frame_cells.max(compiled.frame_cells);
            m.code.push(OnceLock::from(compiled));
        }
        Prepared::Deferred(frame_bound) => {
            m.max_frame_cells = m.max_frame_cells.max(frame_bound);
            m.code.push(OnceLock::new());
            // Ranges of the functions before it are never read: only deferred ones are.
            let (start, end) = (body.start, body.end);
            m.lazy.ranges.resize(index, (0, 0));
            // Within the code section, whose size is a u32 in the binary format.
            m.lazy.ranges.push((
                (start - code_range.start) as u32,
                (end - code_range.start) as u32,
            ));
        }
    }
}

/// The cores compilation may use (at most 8), looked up once: the lookup reads cgroup
/// files, which costs more than validating a small module.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8)
    })
}

/// Splits `items` into `lanes` lanes of about equal total `size`, each in the items'
/// order and paired with its position: the largest item first, each to the lane with
/// the least so far (one huge function, common in compiled Rust, then gets a lane to
/// itself instead of slowing down a lane that also has every n-th other function).
fn balanced_lanes<T>(
    items: Vec<T>,
    size: impl Fn(&T) -> u64,
    lanes: usize,
) -> Vec<Vec<(usize, T)>> {
    let lanes = lanes.max(1);
    let mut order: Vec<(u64, usize)> = items.iter().map(size).zip(0..).collect();
    // Largest first; equal sizes in item order, so the split is deterministic.
    order.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut lane_of = vec![0usize; items.len()];
    let mut load = vec![0u64; lanes];
    for (bytes, i) in order {
        let lightest = (0..lanes).min_by_key(|&l| load[l]).unwrap_or(0);
        load[lightest] += bytes;
        lane_of[i] = lightest;
    }
    let mut out: Vec<Vec<(usize, T)>> = (0..lanes).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        out[lane_of[i]].push((i, item));
    }
    out
}

/// Prepares `bodies` (functions `m.code.len()..` in order) on every core, in lanes of
/// about equal code size; the first error in function order wins, so the error a module
/// gets does not depend on scheduling.
fn prepare_parallel(m: &ModuleInner, bodies: Vec<PendingBody<'_>>) -> Result<Vec<Prepared>, Error> {
    let threads = cores().min(bodies.len()).max(1);
    let first = m.num_imported_funcs + m.code.len() as u32;
    let env = ModuleEnv { module: m };
    let lanes = balanced_lanes(
        bodies,
        |(_, body)| body.range().end - body.range().start,
        threads,
    );
    let prepare_lane = |lane: Vec<(usize, PendingBody<'_>)>| {
        let mut func_allocs = wasmparser::FuncValidatorAllocations::default();
        let mut translator_allocs = crate::translate::TranslatorAllocs::default();
        let mut out = Vec::with_capacity(lane.len());
        for (i, (func_to_validate, body)) in lane {
            let mut validator = func_to_validate.into_validator(std::mem::take(&mut func_allocs));
            let result = prepare_function(
                &env,
                first + i as u32,
                &body,
                &mut validator,
                &mut translator_allocs,
            );
            func_allocs = validator.into_allocations();
            let failed = result.is_err();
            out.push((i, result));
            // A lane's later functions come after this error in function order: they
            // cannot change which error the module gets, so don't prepare them.
            if failed {
                break;
            }
        }
        out
    };
    let mut results: Vec<(usize, Result<Prepared, Error>)> = std::thread::scope(|scope| {
        let mut lanes = lanes.into_iter();
        let own = lanes.next().unwrap_or_default();
        let handles: Vec<_> = lanes
            .map(|lane| scope.spawn(|| prepare_lane(lane)))
            .collect();
        let mut all = prepare_lane(own);
        for h in handles {
            match h.join() {
                Ok(part) => all.extend(part),
                // A panic in a translator thread is a bug; surface it as one, not as a
                // half-compiled module.
                Err(_) => all.push((
                    usize::MAX,
                    Err(err("internal error: translator thread panicked", 0)),
                )),
            }
        }
        all
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

fn parse_names(names: &mut Names, data: &[u8], offset: u64) -> Result<(), Error> {
    let reader = wasmparser::NameSectionReader::new(wasmparser::BinaryReader::new(data, offset));
    for sub in reader {
        match sub? {
            wasmparser::Name::Module { name, .. } => names.module = Some(name.to_string()),
            wasmparser::Name::Function(map) => {
                for naming in map {
                    let naming = naming?;
                    names.funcs.insert(naming.index, naming.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// wasmparser reads memory limits as 64-bit LEB128s (for memory64); without memory64 the
/// spec requires at most 5 bytes, so re-read the limits strictly.
fn check_memory_limits_leb(bytes: &[u8], range: std::ops::Range<u64>) -> Result<(), Error> {
    let data = bytes
        .get(range.start as usize..range.end as usize)
        .unwrap_or(&[]);
    let mut r = wasmparser::BinaryReader::new(data, range.start);
    let count = r.read_var_u32()?;
    for _ in 0..count {
        let flags = r.read_u8()?;
        if flags & !1 != 0 {
            // memory64, shared or custom page sizes: validation decides.
            return Ok(());
        }
        r.read_var_u32()?;
        if flags & 1 != 0 {
            r.read_var_u32()?;
        }
    }
    Ok(())
}

/// Checks the declared entry counts of a section against the module limits, before
/// wasmparser or we allocate anything proportional to them.
fn check_section_counts(
    limits: &ModuleLimits,
    payload: &Payload<'_>,
    funcs_so_far: usize,
) -> Result<(), Error> {
    let (name, limit, count, offset) = match payload {
        Payload::TypeSection(r) => ("types", limits.types, r.count(), r.range().start),
        Payload::ImportSection(r) => ("imports", limits.imports, r.count(), r.range().start),
        Payload::ExportSection(r) => ("exports", limits.exports, r.count(), r.range().start),
        Payload::GlobalSection(r) => ("globals", limits.globals, r.count(), r.range().start),
        Payload::DataSection(r) => (
            "data_segments",
            limits.data_segments,
            r.count(),
            r.range().start,
        ),
        Payload::ElementSection(r) => (
            "element_segments",
            limits.element_segments,
            r.count(),
            r.range().start,
        ),
        Payload::FunctionSection(r) => {
            let total = funcs_so_far as u64 + r.count() as u64;
            if total > limits.functions as u64 {
                return Err(module_limit(
                    "functions",
                    limits.functions,
                    total,
                    r.range().start,
                ));
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    if count > limit {
        return Err(module_limit(name, limit, count, offset));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::balanced_lanes;

    fn split(sizes: &[u64], lanes: usize) -> Vec<Vec<usize>> {
        balanced_lanes(sizes.to_vec(), |&s| s, lanes)
            .into_iter()
            .map(|lane| lane.into_iter().map(|(i, _)| i).collect())
            .collect()
    }

    #[test]
    fn a_huge_function_gets_a_lane_to_itself() {
        // hashset's shape: one function of ~93% of the code among small ones.
        assert_eq!(
            split(&[10, 300, 20, 5, 30], 2),
            vec![vec![1], vec![0, 2, 3, 4]]
        );
    }

    #[test]
    fn lanes_balance_bytes_keep_function_order_and_lose_nothing() {
        let sizes: Vec<u64> = (0..100u64).map(|i| (i * 37) % 101 + 1).collect();
        let lanes = split(&sizes, 3);
        let loads: Vec<u64> = lanes
            .iter()
            .map(|lane| lane.iter().map(|&i| sizes[i]).sum())
            .collect();
        let (min, max) = (loads.iter().min().unwrap(), loads.iter().max().unwrap());
        // Greedy largest-first: lanes differ by at most the largest item.
        assert!(max - min <= 101, "{loads:?}");
        for lane in &lanes {
            assert!(lane.windows(2).all(|w| w[0] < w[1]), "{lane:?}");
        }
        let mut all: Vec<usize> = lanes.concat();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        // Equal sizes split in function order, the same way every time.
        assert_eq!(split(&[7, 7, 7, 7], 2), vec![vec![0, 2], vec![1, 3]]);
        assert_eq!(split(&[1, 2, 3], 1), vec![vec![0, 1, 2]]);
        assert_eq!(split(&[], 2), vec![Vec::<usize>::new(), vec![]]);
    }
}
