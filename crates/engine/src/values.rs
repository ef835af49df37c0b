//! Runtime values (`Val`), host references (`ExternRef`) and their cell encoding.

use crate::error::Error;
use crate::func::Func;
use crate::store::{AsContext, AsContextMut, StoreInner};
use crate::types::ValType;
use std::any::Any;

/// A WebAssembly value. Floats are kept as bits so NaN payloads survive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    FuncRef(Option<Func>),
    ExternRef(Option<ExternRef>),
}

impl Val {
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The zero value of a type (null for references).
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::FuncRef => Val::FuncRef(None),
            ValType::ExternRef => Val::ExternRef(None),
        }
    }

    pub fn i32(&self) -> Option<i32> {
        match self {
            Val::I32(v) => Some(*v),
            _ => None,
        }
    }

    pub fn i64(&self) -> Option<i64> {
        match self {
            Val::I64(v) => Some(*v),
            _ => None,
        }
    }

    pub fn f32(&self) -> Option<f32> {
        match self {
            Val::F32(v) => Some(f32::from_bits(*v)),
            _ => None,
        }
    }

    pub fn f64(&self) -> Option<f64> {
        match self {
            Val::F64(v) => Some(f64::from_bits(*v)),
            _ => None,
        }
    }

    /// Appends the cell encoding; fails for references owned by another store.
    pub(crate) fn write_cells(&self, store_id: u64, out: &mut Vec<u64>) -> Result<(), Error> {
        match *self {
            Val::I32(v) => out.push(v as u32 as u64),
            Val::I64(v) => out.push(v as u64),
            Val::F32(v) => out.push(v as u64),
            Val::F64(v) => out.push(v),
            Val::V128(v) => {
                out.push(v as u64);
                out.push((v >> 64) as u64);
            }
            Val::FuncRef(None) | Val::ExternRef(None) => out.push(0),
            Val::FuncRef(Some(f)) => {
                if f.store != store_id {
                    return Err(Error::WrongStore);
                }
                out.push(f.index as u64 + 1);
            }
            Val::ExternRef(Some(r)) => {
                if r.store != store_id {
                    return Err(Error::WrongStore);
                }
                out.push(r.index as u64 + 1);
            }
        }
        Ok(())
    }

    /// Decodes a value of type `ty` from the start of `cells`.
    pub(crate) fn from_cells(ty: ValType, cells: &[u64], store_id: u64) -> Val {
        let c = cells[0];
        match ty {
            ValType::I32 => Val::I32(c as u32 as i32),
            ValType::I64 => Val::I64(c as i64),
            ValType::F32 => Val::F32(c as u32),
            ValType::F64 => Val::F64(c),
            ValType::V128 => Val::V128(c as u128 | ((cells[1] as u128) << 64)),
            ValType::FuncRef => Val::FuncRef(ref_index(c).map(|index| Func {
                store: store_id,
                index,
            })),
            ValType::ExternRef => Val::ExternRef(ref_index(c).map(|index| ExternRef {
                store: store_id,
                index,
            })),
        }
    }

    /// The value as a 128-bit global cell.
    pub(crate) fn to_global_cell(self, store_id: u64) -> Result<u128, Error> {
        let mut cells = Vec::with_capacity(2);
        self.write_cells(store_id, &mut cells)?;
        Ok(cells[0] as u128 | (cells.get(1).copied().unwrap_or(0) as u128) << 64)
    }

    pub(crate) fn from_global_cell(ty: ValType, cell: u128, store_id: u64) -> Val {
        Val::from_cells(ty, &[cell as u64, (cell >> 64) as u64], store_id)
    }
}

fn ref_index(cell: u64) -> Option<u32> {
    cell.checked_sub(1).map(|i| i as u32)
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}
impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}

/// A reference to a host value, passed through wasm as `externref`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExternRef {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

impl ExternRef {
    /// Stores `value` in the store and returns a reference to it.
    pub fn new(mut store: impl AsContextMut, value: impl Any + Send + Sync) -> ExternRef {
        let ctx = store.as_context_mut();
        let inner: &mut StoreInner = ctx.inner;
        inner.externs.push(Box::new(value));
        ExternRef {
            store: inner.id,
            index: inner.externs.len() as u32 - 1,
        }
    }

    /// The host value behind the reference.
    pub fn data<'a, S: AsContext>(&self, store: &'a S) -> Option<&'a (dyn Any + Send + Sync)> {
        let inner = store.as_context().inner;
        if inner.id != self.store {
            return None;
        }
        inner.externs.get(self.index as usize).map(|b| &**b)
    }
}
