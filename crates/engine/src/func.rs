//! `Func` and `TypedFunc`: calling wasm and host functions, and defining host functions.

use crate::error::Error;
use crate::store::{
    AsContext, AsContextMut, Caller, FuncEntity, HostFn, HostResult, PlainHostFn, Store,
};
use crate::types::{FuncType, ValType};
use crate::values::{ExternRef, Val};
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Arc;

/// A function owned by a store (wasm or host).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Func {
    pub(crate) store: u64,
    pub(crate) index: u32,
}

/// A host function as defined, before it is registered in a store: its type, how the
/// interpreter calls it with the store, and (for a closure without `Caller`) how the
/// threaded code calls it without.
pub(crate) struct HostDef<T> {
    pub(crate) ty: FuncType,
    pub(crate) call: Arc<HostFn<T>>,
    pub(crate) plain: Option<Arc<PlainHostFn>>,
}

impl<T> Clone for HostDef<T> {
    fn clone(&self) -> Self {
        HostDef {
            ty: self.ty.clone(),
            call: self.call.clone(),
            plain: self.plain.clone(),
        }
    }
}

impl<T> HostDef<T> {
    pub(crate) fn with_caller(ty: FuncType, call: Arc<HostFn<T>>) -> HostDef<T> {
        HostDef {
            ty,
            call,
            plain: None,
        }
    }
}

/// Registers a host function in the store and returns its store index.
pub(crate) fn register_host<T>(store: &mut Store<T>, def: &HostDef<T>) -> u32 {
    let engine = store.inner.engine.clone();
    let host = store.hosts.len() as u32;
    let ty = &def.ty;
    store.hosts.push(def.call.clone());
    store.inner.plain_hosts.push(def.plain.clone());
    let params = ty.param_cells();
    store.inner.funcs.push(FuncEntity::Host {
        host,
        ty: engine.intern_type(ty),
        params,
        cells: params.max(ty.result_cells()),
    });
    store.inner.funcs.len() as u32 - 1
}

/// Wraps an untyped closure over `Val`s as a raw-cell host function.
pub(crate) fn untyped_host<T: 'static>(
    ty: FuncType,
    f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync + 'static,
) -> Arc<HostFn<T>> {
    Arc::new(
        move |caller: Caller<'_, T>, cells: &mut [u64]| -> HostResult {
            let store_id = caller.inner.id;
            let mut params = Vec::with_capacity(ty.params().len());
            let mut i = 0;
            for &t in ty.params() {
                params.push(Val::from_cells(t, &cells[i..], store_id));
                i += t.cells() as usize;
            }
            let mut results: Vec<Val> = ty.results().iter().map(|&t| Val::default_for(t)).collect();
            f(caller, &params, &mut results)?;
            let mut out = Vec::with_capacity(cells.len());
            for (r, &t) in results.iter().zip(ty.results()) {
                if r.ty() != t {
                    return Err(Box::new(Error::TypeMismatch(format!(
                        "host function returned {} where {t} was expected",
                        r.ty()
                    ))));
                }
                r.write_cells(store_id, &mut out)?;
            }
            cells[..out.len()].copy_from_slice(&out);
            Ok(())
        },
    )
}

impl Func {
    /// A host function with a dynamic signature.
    pub fn new<T: 'static>(
        store: &mut Store<T>,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Func {
        let host = untyped_host(ty.clone(), f);
        let index = register_host(store, &HostDef::with_caller(ty, host));
        Func {
            store: store.inner.id,
            index,
        }
    }

    /// A host function from a typed Rust closure, optionally taking a `Caller` first.
    pub fn wrap<T: 'static, Params, Results>(
        store: &mut Store<T>,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Func {
        let (ty, call, plain) = f.into_host();
        let index = register_host(store, &HostDef { ty, call, plain });
        Func {
            store: store.inner.id,
            index,
        }
    }

    /// A new, distinct handle that calls what `self` calls, at the same speed (a wasm
    /// function stays a direct wasm call). Unlike `self`, the alias can later be pointed
    /// elsewhere with [`Func::retarget`]: the nanoprocess runtime links a provider's export
    /// into an importer through an alias, so it can cut the link (e.g. when the provider
    /// is poisoned) without touching the provider's own export.
    pub fn alias(&self, mut store: impl AsContextMut) -> Result<Func, Error> {
        let ctx = store.as_context_mut();
        ctx.inner.check(self.store)?;
        let entity = ctx.inner.funcs[self.index as usize];
        ctx.inner.funcs.push(entity);
        Ok(Func {
            store: self.store,
            index: ctx.inner.funcs.len() as u32 - 1,
        })
    }

    /// Makes every later call of `self` (from imports, tables or the host) call `target`
    /// instead. The two must have the same type. Frames already running are unaffected.
    pub fn retarget(&self, mut store: impl AsContextMut, target: &Func) -> Result<(), Error> {
        let ctx = store.as_context_mut();
        ctx.inner.check(self.store)?;
        ctx.inner.check(target.store)?;
        let new = ctx.inner.funcs[target.index as usize];
        let old = &mut ctx.inner.funcs[self.index as usize];
        if old.ty() != new.ty() {
            let engine = &ctx.inner.engine;
            return Err(Error::TypeMismatch(format!(
                "cannot retarget a function of type {} to one of type {}",
                engine.resolve_type(old.ty()),
                engine.resolve_type(new.ty())
            )));
        }
        *old = new;
        // Instances resolved their imports when they were created: those importing
        // `self` must call the new target too.
        crate::instance::refresh_imported(ctx.inner, self.index);
        Ok(())
    }

    /// For a wasm function, the instance it belongs to and its index in that module's
    /// function index space (imports included), as in [`crate::FrameInfo`]; `None` for a
    /// host function.
    pub fn origin(&self, store: impl AsContext) -> Option<(crate::Instance, u32)> {
        let ctx = store.as_context();
        if ctx.inner.check(self.store).is_err() {
            return None;
        }
        match ctx.inner.funcs[self.index as usize] {
            FuncEntity::Wasm {
                instance, index, ..
            } => {
                let module = &ctx.inner.instances[instance as usize].module;
                Some((
                    crate::Instance {
                        store: self.store,
                        index: instance,
                    },
                    module.num_imported_funcs + index,
                ))
            }
            FuncEntity::Host { .. } => None,
        }
    }

    pub fn ty(&self, store: impl AsContext) -> FuncType {
        let ctx = store.as_context();
        match ctx.inner.funcs.get(self.index as usize) {
            Some(f) if self.store == ctx.inner.id => ctx.inner.engine.resolve_type(f.ty()),
            _ => FuncType::new([], []),
        }
    }

    /// Calls the function with dynamically typed arguments; `results` must have the right length.
    pub fn call(
        &self,
        mut store: impl AsContextMut,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), Error> {
        let mut ctx = store.as_context_mut();
        ctx.inner.check(self.store)?;
        let ty = self.ty(&ctx);
        if params.len() != ty.params().len() {
            return Err(Error::TypeMismatch(format!(
                "expected {} argument(s), got {}",
                ty.params().len(),
                params.len()
            )));
        }
        for (i, (p, &t)) in params.iter().zip(ty.params()).enumerate() {
            if p.ty() != t {
                return Err(Error::TypeMismatch(format!(
                    "argument {i} has type {}, expected {t}",
                    p.ty()
                )));
            }
        }
        if results.len() != ty.results().len() {
            return Err(Error::TypeMismatch(format!(
                "expected {} result slot(s), got {}",
                ty.results().len(),
                results.len()
            )));
        }
        let store_id = ctx.inner.id;
        let mut cells = Vec::with_capacity(4);
        for p in params {
            p.write_cells(store_id, &mut cells)?;
        }
        let n = ty.param_cells().max(ty.result_cells()) as usize;
        cells.resize(n.max(cells.len()), 0);
        ctx.invoke(self.index, &mut cells)?;
        let mut i = 0;
        for (r, &t) in results.iter_mut().zip(ty.results()) {
            *r = Val::from_cells(t, &cells[i..], store_id);
            i += t.cells() as usize;
        }
        Ok(())
    }

    /// A statically typed view of the function; fails if the signature differs.
    pub fn typed<P: WasmParams, R: WasmResults>(
        &self,
        store: impl AsContext,
    ) -> Result<TypedFunc<P, R>, Error> {
        let ty = self.ty(&store);
        let expected = FuncType::new(P::types(), R::types());
        if ty != expected {
            return Err(Error::TypeMismatch(format!(
                "function has type {ty}, expected {expected}"
            )));
        }
        Ok(TypedFunc {
            func: *self,
            cells: ty.param_cells().max(ty.result_cells()) as usize,
            _marker: PhantomData,
        })
    }
}

/// A function with a statically checked signature: calls skip all dynamic type checks.
pub struct TypedFunc<Params, Results> {
    func: Func,
    cells: usize,
    _marker: PhantomData<fn(Params) -> Results>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P, R> Copy for TypedFunc<P, R> {}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    pub fn func(&self) -> Func {
        self.func
    }

    pub fn call(&self, mut store: impl AsContextMut, params: P) -> Result<R, Error> {
        let mut ctx = store.as_context_mut();
        ctx.inner.check(self.func.store)?;
        let store_id = ctx.inner.id;
        if self.cells <= 8 {
            let mut cells = [0u64; 8];
            params.store(store_id, &mut cells)?;
            ctx.invoke(self.func.index, &mut cells[..self.cells])?;
            Ok(R::load(&cells, store_id))
        } else {
            let mut cells = vec![0u64; self.cells];
            params.store(store_id, &mut cells)?;
            ctx.invoke(self.func.index, &mut cells)?;
            Ok(R::load(&cells, store_id))
        }
    }
}

/// A Rust type that maps to one wasm value type.
pub trait WasmTy: Sized + 'static {
    const TY: ValType;
    #[doc(hidden)]
    fn store(self, store_id: u64, cells: &mut [u64]) -> Result<(), Error>;
    #[doc(hidden)]
    fn load(cells: &[u64], store_id: u64) -> Self;
    /// [`WasmTy::store`] into shared cells (a store-free host function's frame).
    #[doc(hidden)]
    #[inline]
    fn store_cells(self, store_id: u64, cells: &[Cell<u64>]) -> Result<(), Error> {
        let mut buf = [0u64; 2];
        self.store(store_id, &mut buf)?;
        for (d, s) in cells.iter().zip(&buf[..Self::TY.cells() as usize]) {
            d.set(*s);
        }
        Ok(())
    }
    /// [`WasmTy::load`] from shared cells.
    #[doc(hidden)]
    #[inline]
    fn load_cells(cells: &[Cell<u64>], store_id: u64) -> Self {
        let mut buf = [0u64; 2];
        for (d, s) in buf.iter_mut().zip(cells) {
            *d = s.get();
        }
        Self::load(&buf, store_id)
    }
}

macro_rules! wasm_ty_int {
    ($($t:ty => $vt:ident, |$x:ident| $to:expr, |$c:ident| $from:expr;)*) => {$(
        impl WasmTy for $t {
            const TY: ValType = ValType::$vt;
            #[inline]
            fn store(self, _: u64, cells: &mut [u64]) -> Result<(), Error> {
                let $x = self;
                cells[0] = $to;
                Ok(())
            }
            #[inline]
            fn load(cells: &[u64], _: u64) -> Self {
                let $c = cells[0];
                $from
            }
        }
    )*};
}

wasm_ty_int! {
    i32 => I32, |x| x as u32 as u64, |c| c as u32 as i32;
    u32 => I32, |x| x as u64, |c| c as u32;
    i64 => I64, |x| x as u64, |c| c as i64;
    u64 => I64, |x| x, |c| c;
    f32 => F32, |x| x.to_bits() as u64, |c| f32::from_bits(c as u32);
    f64 => F64, |x| x.to_bits(), |c| f64::from_bits(c);
}

/// A 128-bit SIMD value for typed calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct V128(pub u128);

impl WasmTy for V128 {
    const TY: ValType = ValType::V128;
    fn store(self, _: u64, cells: &mut [u64]) -> Result<(), Error> {
        cells[0] = self.0 as u64;
        cells[1] = (self.0 >> 64) as u64;
        Ok(())
    }
    fn load(cells: &[u64], _: u64) -> Self {
        V128(cells[0] as u128 | ((cells[1] as u128) << 64))
    }
}

impl WasmTy for Option<Func> {
    const TY: ValType = ValType::FuncRef;
    fn store(self, store_id: u64, cells: &mut [u64]) -> Result<(), Error> {
        let mut v = Vec::with_capacity(1);
        Val::FuncRef(self).write_cells(store_id, &mut v)?;
        cells[0] = v[0];
        Ok(())
    }
    fn load(cells: &[u64], store_id: u64) -> Self {
        match Val::from_cells(ValType::FuncRef, cells, store_id) {
            Val::FuncRef(f) => f,
            _ => None,
        }
    }
}

impl WasmTy for Option<ExternRef> {
    const TY: ValType = ValType::ExternRef;
    fn store(self, store_id: u64, cells: &mut [u64]) -> Result<(), Error> {
        let mut v = Vec::with_capacity(1);
        Val::ExternRef(self).write_cells(store_id, &mut v)?;
        cells[0] = v[0];
        Ok(())
    }
    fn load(cells: &[u64], store_id: u64) -> Self {
        match Val::from_cells(ValType::ExternRef, cells, store_id) {
            Val::ExternRef(r) => r,
            _ => None,
        }
    }
}

/// A list of wasm values: `()`, a single `WasmTy`, or a tuple of them.
pub trait WasmTyList: Sized + 'static {
    #[doc(hidden)]
    fn types() -> Vec<ValType>;
    #[doc(hidden)]
    fn store(self, store_id: u64, cells: &mut [u64]) -> Result<(), Error>;
    #[doc(hidden)]
    fn load(cells: &[u64], store_id: u64) -> Self;
    /// [`WasmTyList::store`] into shared cells.
    #[doc(hidden)]
    fn store_cells(self, store_id: u64, cells: &[Cell<u64>]) -> Result<(), Error>;
}

/// Parameters of a typed call.
pub trait WasmParams: WasmTyList {}
impl<T: WasmTyList> WasmParams for T {}
/// Results of a typed call.
pub trait WasmResults: WasmTyList {}
impl<T: WasmTyList> WasmResults for T {}

impl<T: WasmTy> WasmTyList for T {
    fn types() -> Vec<ValType> {
        vec![T::TY]
    }
    fn store(self, store_id: u64, cells: &mut [u64]) -> Result<(), Error> {
        WasmTy::store(self, store_id, cells)
    }
    fn load(cells: &[u64], store_id: u64) -> Self {
        WasmTy::load(cells, store_id)
    }
    #[inline]
    fn store_cells(self, store_id: u64, cells: &[Cell<u64>]) -> Result<(), Error> {
        WasmTy::store_cells(self, store_id, cells)
    }
}

macro_rules! tuple_list {
    ($($t:ident $v:ident),*) => {
        impl<$($t: WasmTy),*> WasmTyList for ($($t,)*) {
            fn types() -> Vec<ValType> {
                vec![$($t::TY),*]
            }
            #[allow(unused_variables, unused_mut, unused_assignments)]
            fn store(self, store_id: u64, cells: &mut [u64]) -> Result<(), Error> {
                let ($($v,)*) = self;
                let mut i = 0;
                $(
                    $v.store(store_id, &mut cells[i..])?;
                    i += $t::TY.cells() as usize;
                )*
                Ok(())
            }
            #[allow(unused_variables, unused_mut, unused_assignments)]
            #[inline]
            fn store_cells(self, store_id: u64, cells: &[Cell<u64>]) -> Result<(), Error> {
                let ($($v,)*) = self;
                let mut i = 0;
                $(
                    $v.store_cells(store_id, cells.get(i..).unwrap_or_default())?;
                    i += $t::TY.cells() as usize;
                )*
                Ok(())
            }
            #[allow(unused_variables, unused_mut, unused_assignments, clippy::unused_unit)]
            fn load(cells: &[u64], store_id: u64) -> Self {
                let mut i = 0;
                ($({
                    let v = $t::load(&cells[i..], store_id);
                    i += $t::TY.cells() as usize;
                    v
                },)*)
            }
        }
    };
}

tuple_list!();
tuple_list!(A1 a1);
tuple_list!(A1 a1, A2 a2);
tuple_list!(A1 a1, A2 a2, A3 a3);
tuple_list!(A1 a1, A2 a2, A3 a3, A4 a4);
tuple_list!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5);
tuple_list!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6);
tuple_list!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7);
tuple_list!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8);

/// What a typed host closure may return: values, or `Result` of values.
pub trait WasmRet: 'static {
    #[doc(hidden)]
    type List: WasmTyList;
    #[doc(hidden)]
    fn into_result(self) -> Result<Self::List, Error>;
}

impl<T: WasmTyList> WasmRet for T {
    type List = T;
    fn into_result(self) -> Result<T, Error> {
        Ok(self)
    }
}

impl<T: WasmTyList> WasmRet for Result<T, Error> {
    type List = T;
    fn into_result(self) -> Result<T, Error> {
        self
    }
}

/// Marker for closures that take a `Caller` as their first argument.
pub struct WithCaller<T>(PhantomData<T>);

/// A Rust closure usable as a host function.
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    /// The function's type, how the interpreter calls it, and (without `Caller`) how the
    /// threaded code calls it without the store.
    #[doc(hidden)]
    fn into_host(self) -> (FuncType, Arc<HostFn<T>>, Option<Arc<PlainHostFn>>);
}

macro_rules! into_func {
    ($($t:ident $v:ident),*) => {
        impl<T: 'static, F, R, $($t,)*> IntoFunc<T, (WithCaller<T>, $($t,)*), R> for F
        where
            F: Fn(Caller<'_, T>, $($t),*) -> R + Send + Sync + 'static,
            $($t: WasmTy,)*
            R: WasmRet,
        {
            #[allow(unused_assignments)]
            fn into_host(self) -> (FuncType, Arc<HostFn<T>>, Option<Arc<PlainHostFn>>) {
                let ty = FuncType::new(vec![$($t::TY),*], <R::List as WasmTyList>::types());
                let f = move |caller: Caller<'_, T>, cells: &mut [u64]| -> HostResult {
                    let store_id = caller.inner.id;
                    #[allow(unused_mut, unused_variables, unused_assignments)]
                    let mut i = 0usize;
                    $(
                        let $v = $t::load(&cells[i..], store_id);
                        i += $t::TY.cells() as usize;
                    )*
                    let results = self(caller, $($v),*).into_result()?;
                    Ok(results.store(store_id, cells)?)
                };
                (ty, Arc::new(f), None)
            }
        }

        impl<T: 'static, F, R, $($t,)*> IntoFunc<T, ($($t,)*), R> for F
        where
            F: Fn($($t),*) -> R + Send + Sync + 'static,
            $($t: WasmTy,)*
            R: WasmRet,
        {
            #[allow(unused_assignments)]
            fn into_host(self) -> (FuncType, Arc<HostFn<T>>, Option<Arc<PlainHostFn>>) {
                let ty = FuncType::new(vec![$($t::TY),*], <R::List as WasmTyList>::types());
                // Needs no store: one closure for both ways of calling it.
                // Works on the frame's cells in place: the threaded code passes them as
                // they are, and a copy in and out cost a fifth of an empty call.
                let plain = Arc::new(move |cells: &[Cell<u64>], store_id: u64| -> HostResult {
                    #[allow(unused_mut, unused_variables, unused_assignments)]
                    let mut i = 0usize;
                    $(
                        let $v = $t::load_cells(cells.get(i..).unwrap_or_default(), store_id);
                        i += $t::TY.cells() as usize;
                    )*
                    let results = self($($v),*).into_result()?;
                    Ok(results.store_cells(store_id, cells)?)
                });
                let direct = plain.clone();
                let call = move |caller: Caller<'_, T>, cells: &mut [u64]| -> HostResult {
                    direct(Cell::from_mut(cells).as_slice_of_cells(), caller.inner.id)
                };
                (ty, Arc::new(call), Some(plain))
            }
        }
    };
}

into_func!();
into_func!(A1 a1);
into_func!(A1 a1, A2 a2);
into_func!(A1 a1, A2 a2, A3 a3);
into_func!(A1 a1, A2 a2, A3 a3, A4 a4);
into_func!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5);
into_func!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6);
into_func!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7);
into_func!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8);
into_func!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9);
into_func!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10);
