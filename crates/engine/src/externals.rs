//! `Memory`, `Table`, `Global` handles and the `Extern` sum of all importable entities.

use crate::error::{Error, TrapKind};
use crate::exec::memory_grow;
use crate::func::Func;
use crate::store::{AsContext, AsContextMut, GlobalEntity, MemoryEntity, StoreInner, TableEntity};
use crate::types::*;
use crate::values::Val;

/// Reading or writing outside a memory's bounds from the host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("out of bounds memory access: {len} byte(s) at offset {offset}")]
pub struct MemoryAccessError {
    pub offset: usize,
    pub len: usize,
}

impl From<MemoryAccessError> for Error {
    fn from(_: MemoryAccessError) -> Error {
        TrapKind::MemoryOutOfBounds.into()
    }
}

/// A linear memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Memory {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

impl Memory {
    pub fn new(mut store: impl AsContextMut, ty: MemoryType) -> Result<Memory, Error> {
        let ctx = store.as_context_mut();
        let index = ctx.inner.new_memory(ty)?;
        Ok(Memory {
            store: ctx.inner.id,
            index,
        })
    }

    fn entity<'a>(&self, inner: &'a StoreInner) -> Option<&'a MemoryEntity> {
        (inner.id == self.store)
            .then(|| inner.memories.get(self.index as usize))
            .flatten()
    }

    /// The type, with the current size as minimum.
    pub fn ty(&self, store: impl AsContext) -> MemoryType {
        let ctx = store.as_context();
        match self.entity(ctx.inner) {
            Some(m) => MemoryType {
                minimum: m.pages(),
                maximum: m.ty.maximum,
            },
            None => MemoryType {
                minimum: 0,
                maximum: Some(0),
            },
        }
    }

    /// Size in 64 KiB pages.
    pub fn size(&self, store: impl AsContext) -> u32 {
        self.entity(store.as_context().inner)
            .map_or(0, |m| m.pages())
    }

    /// Size in bytes.
    pub fn data_size(&self, store: impl AsContext) -> usize {
        self.entity(store.as_context().inner)
            .map_or(0, |m| m.data.len())
    }

    pub fn data<'a, S: AsContext>(&self, store: &'a S) -> &'a [u8] {
        let inner = store.as_context().inner;
        self.entity(inner).map_or(&[], |m| &m.data)
    }

    pub fn data_mut<'a, S: AsContextMut>(&self, store: &'a mut S) -> &'a mut [u8] {
        let inner = store.as_context_mut().inner;
        if inner.id != self.store {
            return &mut [];
        }
        match inner.memories.get_mut(self.index as usize) {
            Some(m) => &mut m.data,
            None => &mut [],
        }
    }

    /// The memory's bytes and the store's data at once (host functions need both, e.g. a
    /// WASI call reading guest buffers while updating its context).
    pub fn data_and_store_mut<'a, S: AsContextMut>(
        &self,
        store: &'a mut S,
    ) -> (&'a mut [u8], &'a mut S::Data) {
        let ctx = store.as_context_mut();
        let (inner, data) = (ctx.inner, ctx.data);
        let bytes: &'a mut [u8] = if inner.id != self.store {
            &mut []
        } else {
            match inner.memories.get_mut(self.index as usize) {
                Some(m) => &mut m.data,
                None => &mut [],
            }
        };
        (bytes, data)
    }

    pub fn read(
        &self,
        store: impl AsContext,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), MemoryAccessError> {
        let ctx = store.as_context();
        let data = self.entity(ctx.inner).map_or(&[][..], |m| &m.data);
        let src = offset
            .checked_add(buf.len())
            .and_then(|end| data.get(offset..end))
            .ok_or(MemoryAccessError {
                offset,
                len: buf.len(),
            })?;
        buf.copy_from_slice(src);
        Ok(())
    }

    pub fn write(
        &self,
        mut store: impl AsContextMut,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), MemoryAccessError> {
        let data = self.data_mut(&mut store);
        let dst = offset
            .checked_add(bytes.len())
            .and_then(|end| data.get_mut(offset..end))
            .ok_or(MemoryAccessError {
                offset,
                len: bytes.len(),
            })?;
        dst.copy_from_slice(bytes);
        Ok(())
    }

    /// Copies `len` bytes from this memory at `src_offset` to `dst` at `dst_offset`, straight
    /// from one memory to the other (or within one, with memmove semantics). Both ranges are
    /// bounds-checked first; nothing is copied if either is out of bounds.
    pub fn copy_to(
        &self,
        mut store: impl AsContextMut,
        src_offset: usize,
        dst: &Memory,
        dst_offset: usize,
        len: usize,
    ) -> Result<(), MemoryAccessError> {
        let ctx = store.as_context_mut();
        let inner = ctx.inner;
        let oob = |offset| MemoryAccessError { offset, len };
        if inner.id != self.store || inner.id != dst.store {
            return Err(oob(src_offset));
        }
        let (s, d) = (self.index as usize, dst.index as usize);
        let src_end = src_offset.checked_add(len).ok_or(oob(src_offset))?;
        let dst_end = dst_offset.checked_add(len).ok_or(oob(dst_offset))?;
        let src_len = inner.memories.get(s).ok_or(oob(src_offset))?.data.len();
        let dst_len = inner.memories.get(d).ok_or(oob(dst_offset))?.data.len();
        if src_end > src_len {
            return Err(oob(src_offset));
        }
        if dst_end > dst_len {
            return Err(oob(dst_offset));
        }
        if s == d {
            inner.memories[s]
                .data
                .copy_within(src_offset..src_end, dst_offset);
        } else if s < d {
            let (a, b) = inner.memories.split_at_mut(d);
            b[0].data[dst_offset..dst_end].copy_from_slice(&a[s].data[src_offset..src_end]);
        } else {
            let (a, b) = inner.memories.split_at_mut(s);
            a[d].data[dst_offset..dst_end].copy_from_slice(&b[0].data[src_offset..src_end]);
        }
        Ok(())
    }

    /// Grows by `delta` pages and returns the old size in pages.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u32) -> Result<u32, Error> {
        let ctx = store.as_context_mut();
        ctx.inner.check(self.store)?;
        let total_limit = ctx.inner.limits.total_memory;
        let inner = &mut *ctx.inner;
        let mem = &mut inner.memories[self.index as usize];
        match memory_grow(mem, delta, &mut inner.memory_bytes, total_limit) {
            u32::MAX => Err(Error::LimitExceeded(format!(
                "cannot grow memory by {delta} pages (maximum {} pages)",
                mem.max_pages()
            ))),
            old => Ok(old),
        }
    }
}

/// A table of references.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Table {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

fn ref_cell(inner: &StoreInner, ty: RefType, init: Val) -> Result<u64, Error> {
    if init.ty() != ValType::from(ty) {
        return Err(Error::TypeMismatch(format!(
            "table element must be {ty}, got {}",
            init.ty()
        )));
    }
    let mut cells = Vec::with_capacity(1);
    init.write_cells(inner.id, &mut cells)?;
    Ok(cells[0])
}

impl Table {
    pub fn new(mut store: impl AsContextMut, ty: TableType, init: Val) -> Result<Table, Error> {
        let ctx = store.as_context_mut();
        let cell = ref_cell(ctx.inner, ty.element, init)?;
        let index = ctx.inner.new_table(ty, cell)?;
        Ok(Table {
            store: ctx.inner.id,
            index,
        })
    }

    fn entity<'a>(&self, inner: &'a StoreInner) -> Option<&'a TableEntity> {
        (inner.id == self.store)
            .then(|| inner.tables.get(self.index as usize))
            .flatten()
    }

    /// The type, with the current size as minimum.
    pub fn ty(&self, store: impl AsContext) -> TableType {
        let ctx = store.as_context();
        match self.entity(ctx.inner) {
            Some(t) => TableType {
                element: t.ty.element,
                minimum: t.elems.len() as u32,
                maximum: t.ty.maximum,
            },
            None => TableType {
                element: RefType::FuncRef,
                minimum: 0,
                maximum: Some(0),
            },
        }
    }

    pub fn size(&self, store: impl AsContext) -> u32 {
        self.entity(store.as_context().inner)
            .map_or(0, |t| t.elems.len() as u32)
    }

    pub fn get(&self, store: impl AsContext, index: u32) -> Option<Val> {
        let ctx = store.as_context();
        let t = self.entity(ctx.inner)?;
        let cell = *t.elems.get(index as usize)?;
        Some(Val::from_cells(t.ty.element.into(), &[cell], ctx.inner.id))
    }

    pub fn set(&self, mut store: impl AsContextMut, index: u32, value: Val) -> Result<(), Error> {
        let ctx = store.as_context_mut();
        ctx.inner.check(self.store)?;
        let ty = ctx.inner.tables[self.index as usize].ty.element;
        let cell = ref_cell(ctx.inner, ty, value)?;
        match ctx.inner.tables[self.index as usize]
            .elems
            .get_mut(index as usize)
        {
            Some(slot) => {
                *slot = cell;
                Ok(())
            }
            None => Err(TrapKind::TableOutOfBounds.into()),
        }
    }

    /// Grows by `delta` elements set to `init` and returns the old size.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u32, init: Val) -> Result<u32, Error> {
        let ctx = store.as_context_mut();
        ctx.inner.check(self.store)?;
        let ty = ctx.inner.tables[self.index as usize].ty.element;
        let cell = ref_cell(ctx.inner, ty, init)?;
        let total_limit = ctx.inner.limits.total_table_elements;
        let inner = &mut *ctx.inner;
        let t = &mut inner.tables[self.index as usize];
        match t.grow(delta, cell, &mut inner.table_elements, total_limit) {
            u32::MAX => Err(Error::LimitExceeded(format!(
                "cannot grow table by {delta} elements (maximum {})",
                t.max()
            ))),
            old => Ok(old),
        }
    }
}

/// A global variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Global {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

impl Global {
    pub fn new(mut store: impl AsContextMut, ty: GlobalType, value: Val) -> Result<Global, Error> {
        let ctx = store.as_context_mut();
        if value.ty() != ty.content {
            return Err(Error::TypeMismatch(format!(
                "global of type {} initialized with {}",
                ty.content,
                value.ty()
            )));
        }
        let cell = value.to_global_cell(ctx.inner.id)?;
        ctx.inner.globals.push(GlobalEntity { value: cell, ty });
        Ok(Global {
            store: ctx.inner.id,
            index: ctx.inner.globals.len() as u32 - 1,
        })
    }

    pub fn ty(&self, store: impl AsContext) -> GlobalType {
        let ctx = store.as_context();
        match ctx.inner.globals.get(self.index as usize) {
            Some(g) if ctx.inner.id == self.store => g.ty,
            _ => GlobalType {
                content: ValType::I32,
                mutability: Mutability::Const,
            },
        }
    }

    pub fn get(&self, store: impl AsContext) -> Val {
        let ctx = store.as_context();
        match ctx.inner.globals.get(self.index as usize) {
            Some(g) if ctx.inner.id == self.store => {
                Val::from_global_cell(g.ty.content, g.value, ctx.inner.id)
            }
            _ => Val::I32(0),
        }
    }

    pub fn set(&self, mut store: impl AsContextMut, value: Val) -> Result<(), Error> {
        let ctx = store.as_context_mut();
        ctx.inner.check(self.store)?;
        let id = ctx.inner.id;
        let g = &mut ctx.inner.globals[self.index as usize];
        if g.ty.mutability == Mutability::Const {
            return Err(Error::TypeMismatch("cannot set an immutable global".into()));
        }
        if value.ty() != g.ty.content {
            return Err(Error::TypeMismatch(format!(
                "global of type {} set to {}",
                g.ty.content,
                value.ty()
            )));
        }
        g.value = value.to_global_cell(id)?;
        Ok(())
    }
}

/// Anything an instance can import or export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Extern {
    Func(Func),
    Memory(Memory),
    Table(Table),
    Global(Global),
}

impl Extern {
    pub fn into_func(self) -> Option<Func> {
        match self {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }
    pub fn into_memory(self) -> Option<Memory> {
        match self {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }
    pub fn into_table(self) -> Option<Table> {
        match self {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }
    pub fn into_global(self) -> Option<Global> {
        match self {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }

    pub(crate) fn store_id(&self) -> u64 {
        match self {
            Extern::Func(f) => f.store,
            Extern::Memory(m) => m.store,
            Extern::Table(t) => t.store,
            Extern::Global(g) => g.store,
        }
    }

    pub fn ty(&self, store: impl AsContext) -> ExternType {
        match self {
            Extern::Func(f) => ExternType::Func(f.ty(&store)),
            Extern::Memory(m) => ExternType::Memory(m.ty(&store)),
            Extern::Table(t) => ExternType::Table(t.ty(&store)),
            Extern::Global(g) => ExternType::Global(g.ty(&store)),
        }
    }
}

impl From<Func> for Extern {
    fn from(f: Func) -> Extern {
        Extern::Func(f)
    }
}
impl From<Memory> for Extern {
    fn from(m: Memory) -> Extern {
        Extern::Memory(m)
    }
}
impl From<Table> for Extern {
    fn from(t: Table) -> Extern {
        Extern::Table(t)
    }
}
impl From<Global> for Extern {
    fn from(g: Global) -> Extern {
        Extern::Global(g)
    }
}
