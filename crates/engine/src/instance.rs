//! Instantiation: resolving imports, allocating entities, running segment initializers and
//! the start function.

use crate::error::{Error, TrapKind};
use crate::externals::{Extern, Global, Memory, Table};
use crate::func::{Func, TypedFunc, WasmParams, WasmResults};
use crate::module::{ConstExpr, ConstOp, ExportKind, ImportKind, Module, SegmentMode};
use crate::store::{
    AsContext, AsContextMut, FuncEntity, GlobalEntity, ImportedFunc, InstanceEntity, StoreInner,
};
use crate::types::*;

/// An instantiated module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instance {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

pub(crate) fn instance_export(inner: &StoreInner, instance: u32, name: &str) -> Option<Extern> {
    let inst = inner.instances.get(instance as usize)?;
    let (_, kind, idx) = inst.module.exports.iter().find(|(n, _, _)| n == name)?;
    Some(entity_extern(inner.id, inst, *kind, *idx))
}

fn entity_extern(store: u64, inst: &InstanceEntity, kind: ExportKind, idx: u32) -> Extern {
    let idx = idx as usize;
    match kind {
        ExportKind::Func => Extern::Func(Func {
            store,
            index: inst.funcs[idx],
        }),
        ExportKind::Table => Extern::Table(Table {
            store,
            index: inst.tables[idx],
        }),
        ExportKind::Memory => Extern::Memory(Memory {
            store,
            index: inst.memories[idx],
        }),
        ExportKind::Global => Extern::Global(Global {
            store,
            index: inst.globals[idx],
        }),
    }
}

fn limits_match(actual_min: u32, actual_max: Option<u32>, min: u32, max: Option<u32>) -> bool {
    actual_min >= min
        && match max {
            None => true,
            Some(max) => actual_max.is_some_and(|am| am <= max),
        }
}

/// Checks that `item` can satisfy an import of type `expected`.
fn check_import(
    inner: &StoreInner,
    module: &Module,
    expected: &ImportKind,
    item: &Extern,
) -> Result<(), (String, String)> {
    let m = &module.inner;
    let found = match item {
        Extern::Func(f) => ExternType::Func(
            inner
                .engine
                .resolve_type(inner.funcs[f.index as usize].ty()),
        ),
        Extern::Memory(mem) => {
            let e = &inner.memories[mem.index as usize];
            ExternType::Memory(MemoryType {
                minimum: e.pages(),
                maximum: e.ty.maximum,
            })
        }
        Extern::Table(t) => {
            let e = &inner.tables[t.index as usize];
            ExternType::Table(TableType {
                element: e.ty.element,
                minimum: e.elems.len() as u32,
                maximum: e.ty.maximum,
            })
        }
        Extern::Global(g) => ExternType::Global(inner.globals[g.index as usize].ty),
    };
    let ok = match (expected, &found) {
        (ImportKind::Func(t), ExternType::Func(ft)) => {
            let id = m.type_ids[*t as usize];
            inner.funcs[item_index(item)].ty() == id || &m.types[*t as usize] == ft
        }
        (ImportKind::Memory(want), ExternType::Memory(have)) => {
            limits_match(have.minimum, have.maximum, want.minimum, want.maximum)
        }
        (ImportKind::Table(want), ExternType::Table(have)) => {
            want.element == have.element
                && limits_match(have.minimum, have.maximum, want.minimum, want.maximum)
        }
        (ImportKind::Global(want), ExternType::Global(have)) => want == have,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let expected = match expected {
        ImportKind::Func(t) => m.types[*t as usize].to_string(),
        ImportKind::Memory(t) => t.to_string(),
        ImportKind::Table(t) => t.to_string(),
        ImportKind::Global(t) => t.to_string(),
    };
    Err((expected, found.to_string()))
}

fn item_index(item: &Extern) -> usize {
    match item {
        Extern::Func(f) => f.index as usize,
        Extern::Memory(m) => m.index as usize,
        Extern::Table(t) => t.index as usize,
        Extern::Global(g) => g.index as usize,
    }
}

/// Evaluates a constant expression in the context of a partially built instance.
fn eval_const(inner: &StoreInner, inst: &InstanceEntity, expr: &ConstExpr) -> u128 {
    let mut stack: Vec<u128> = Vec::with_capacity(2);
    for op in expr.iter() {
        let v = match *op {
            ConstOp::I32(v) => v as u32 as u128,
            ConstOp::I64(v) => v as u64 as u128,
            ConstOp::F32(v) => v as u128,
            ConstOp::F64(v) => v as u128,
            ConstOp::V128(v) => v,
            ConstOp::RefNull => 0,
            ConstOp::RefFunc(f) => inst.funcs[f as usize] as u128 + 1,
            ConstOp::GlobalGet(g) => inner.globals[inst.globals[g as usize] as usize].value,
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let b = stack.pop().unwrap_or(0) as u32;
                let a = stack.pop().unwrap_or(0) as u32;
                (match op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                }) as u128
            }
            ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                let b = stack.pop().unwrap_or(0) as u64;
                let a = stack.pop().unwrap_or(0) as u64;
                (match op {
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                }) as u128
            }
        };
        stack.push(v);
    }
    stack.pop().unwrap_or(0)
}

/// How the threaded code calls store function `f`, imported (see [`ImportedFunc`]).
/// Anything unexpected goes the general way (`Wasm`: `exec` looks the function up).
fn imported_func(inner: &StoreInner, f: u32) -> ImportedFunc {
    match inner.funcs.get(f as usize) {
        Some(&FuncEntity::Host { host, cells, .. }) => match inner.plain_hosts.get(host as usize) {
            Some(Some(call)) => ImportedFunc::Plain {
                call: call.clone(),
                cells,
                store: inner.id,
            },
            _ => ImportedFunc::Host { host, cells },
        },
        _ => ImportedFunc::Wasm,
    }
}

/// Store function `f` now calls something else (`Func::retarget`): every instance that
/// imports it calls that instead.
pub(crate) fn refresh_imported(inner: &mut StoreInner, f: u32) {
    let mut importers = Vec::new();
    for (i, inst) in inner.instances.iter().enumerate() {
        for (k, &g) in inst
            .funcs
            .iter()
            .enumerate()
            .take(inst.imported_funcs.len())
        {
            if g == f {
                importers.push((i, k));
            }
        }
    }
    for (i, k) in importers {
        let resolved = imported_func(inner, f);
        if let Some(slot) = inner.instances[i].imported_funcs.get_mut(k) {
            *slot = resolved;
        }
    }
}

impl Instance {
    /// Instantiates `module` with `imports` given in the module's import order.
    pub fn new<T>(
        mut store: impl AsContextMut<Data = T>,
        module: &Module,
        imports: &[Extern],
    ) -> Result<Instance, Error> {
        let mut ctx = store.as_context_mut();
        let m = &module.inner;
        if !crate::Engine::same(&m.engine, &ctx.inner.engine) {
            return Err(Error::TypeMismatch(
                "module was compiled with a different engine".into(),
            ));
        }
        if imports.len() != m.imports.len() {
            return Err(Error::TypeMismatch(format!(
                "module has {} imports, {} given",
                m.imports.len(),
                imports.len()
            )));
        }
        let store_id = ctx.inner.id;
        let mut inst = InstanceEntity {
            module: m.clone(),
            funcs: Vec::with_capacity(m.funcs.len()),
            tables: Vec::with_capacity(m.tables.len()),
            memories: Vec::with_capacity(m.memories.len()),
            globals: Vec::with_capacity(m.globals.len()),
            datas: Vec::new(),
            elems: Vec::new(),
            imported_funcs: Box::default(),
        };
        for (imp, item) in m.imports.iter().zip(imports) {
            if item.store_id() != store_id {
                return Err(Error::WrongStore);
            }
            if let Err((expected, found)) = check_import(ctx.inner, module, &imp.kind, item) {
                return Err(Error::IncompatibleImport {
                    module: imp.module.clone(),
                    name: imp.name.clone(),
                    expected,
                    found,
                });
            }
            let idx = item_index(item) as u32;
            match item {
                Extern::Func(_) => inst.funcs.push(idx),
                Extern::Memory(_) => inst.memories.push(idx),
                Extern::Table(_) => inst.tables.push(idx),
                Extern::Global(_) => inst.globals.push(idx),
            }
        }

        let inner = &mut *ctx.inner;
        inst.imported_funcs = inst
            .funcs
            .iter()
            .map(|&f| imported_func(inner, f))
            .collect();
        if inner.instances.len() >= inner.limits.instances {
            return Err(Error::LimitExceeded(format!(
                "store limit `instances` ({}) reached",
                inner.limits.instances
            )));
        }
        let instance_index = inner.instances.len() as u32;
        // Defined functions.
        for (i, &ty) in m.funcs[m.num_imported_funcs as usize..].iter().enumerate() {
            inner.funcs.push(FuncEntity::Wasm {
                instance: instance_index,
                index: i as u32,
                ty: m.type_ids[ty as usize],
                params: m.types[ty as usize].param_cells(),
            });
            inst.funcs.push(inner.funcs.len() as u32 - 1);
        }
        // Defined tables and memories.
        for t in &m.tables[m.num_imported_tables as usize..] {
            let idx = inner.new_table(*t, 0)?;
            inst.tables.push(idx);
        }
        for mt in &m.memories[m.num_imported_memories as usize..] {
            let idx = inner.new_memory(*mt)?;
            inst.memories.push(idx);
        }
        // Globals, in order (later initializers may read earlier globals).
        for (g, init) in m.globals[m.num_imported_globals as usize..]
            .iter()
            .zip(&m.global_inits)
        {
            let value = eval_const(inner, &inst, init);
            inner.globals.push(GlobalEntity { value, ty: *g });
            inst.globals.push(inner.globals.len() as u32 - 1);
        }
        for seg in &m.elems {
            let items: Box<[u64]> = seg
                .items
                .iter()
                .map(|e| eval_const(inner, &inst, e) as u64)
                .collect();
            inst.elems.push(items);
        }
        inst.datas = m.datas.iter().map(|d| d.bytes.clone()).collect();

        // The instance exists from here on even if initialization traps: functions it
        // placed in imported tables stay callable, as the spec requires.
        inner.max_frame_cells = inner.max_frame_cells.max(m.max_frame_cells);
        inner.instances.push(inst);
        let instance = Instance {
            store: store_id,
            index: instance_index,
        };
        let inst_idx = instance_index as usize;

        for (i, seg) in m.elems.iter().enumerate() {
            match &seg.mode {
                SegmentMode::Active { index, offset } => {
                    let inst = &inner.instances[inst_idx];
                    let offset = eval_const(inner, inst, offset) as u32 as usize;
                    let table = inst.tables[*index as usize] as usize;
                    let items = std::mem::take(&mut inner.instances[inst_idx].elems[i]);
                    let t = &mut inner.tables[table];
                    let end = offset.checked_add(items.len());
                    match end {
                        Some(end) if end <= t.elems.len() => {
                            t.elems[offset..end].copy_from_slice(&items)
                        }
                        _ => return Err(TrapKind::TableOutOfBounds.into()),
                    }
                }
                SegmentMode::Declared => {
                    inner.instances[inst_idx].elems[i] = Box::new([]);
                }
                SegmentMode::Passive => {}
            }
        }
        for (i, seg) in m.datas.iter().enumerate() {
            if let SegmentMode::Active { index, offset } = &seg.mode {
                let inst = &inner.instances[inst_idx];
                let offset = eval_const(inner, inst, offset) as u32 as usize;
                let memory = inst.memories[*index as usize] as usize;
                inner.instances[inst_idx].datas[i] = std::sync::Arc::from(&[][..]);
                let mem = &mut inner.memories[memory];
                match offset.checked_add(seg.bytes.len()) {
                    Some(end) if end <= mem.data.len() => {
                        mem.data[offset..end].copy_from_slice(&seg.bytes)
                    }
                    _ => return Err(TrapKind::MemoryOutOfBounds.into()),
                }
            }
        }
        if let Some(start) = m.start {
            let f = inner.instances[inst_idx].funcs[start as usize];
            let mut cells = [0u64; 0];
            ctx.invoke(f, &mut cells)?;
        }
        Ok(instance)
    }

    /// The export `name`, if any.
    pub fn get_export(&self, store: impl AsContext, name: &str) -> Option<Extern> {
        let ctx = store.as_context();
        if ctx.inner.id != self.store {
            return None;
        }
        instance_export(ctx.inner, self.index, name)
    }

    pub fn get_func(&self, store: impl AsContext, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }

    pub fn get_typed_func<P: WasmParams, R: WasmResults>(
        &self,
        store: impl AsContext,
        name: &str,
    ) -> Result<TypedFunc<P, R>, Error> {
        let f = self
            .get_func(&store, name)
            .ok_or_else(|| Error::UnknownExport(name.to_string()))?;
        f.typed(&store)
    }

    pub fn get_memory(&self, store: impl AsContext, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }

    pub fn get_table(&self, store: impl AsContext, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }

    pub fn get_global(&self, store: impl AsContext, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }

    /// All exports, in the module's order.
    pub fn exports(&self, store: impl AsContext) -> Vec<(String, Extern)> {
        let ctx = store.as_context();
        let Some(inst) = ctx.inner.instances.get(self.index as usize) else {
            return Vec::new();
        };
        inst.module
            .exports
            .iter()
            .map(|(n, k, i)| (n.clone(), entity_extern(ctx.inner.id, inst, *k, *i)))
            .collect()
    }

    /// The module this instance was created from.
    pub fn module(&self, store: impl AsContext) -> Option<Module> {
        let ctx = store.as_context();
        ctx.inner
            .instances
            .get(self.index as usize)
            .map(|i| Module {
                inner: i.module.clone(),
            })
    }
}
