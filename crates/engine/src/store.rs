//! `Store<T>`: owns every runtime entity (functions, instances, memories, tables, globals)
//! plus the embedder's data `T`. Handles (`Func`, `Memory`, ...) are indices into a store,
//! tagged with the store's id so they can't be used with another store.

use crate::engine::Engine;
use crate::error::Error;
use crate::exec::{self, HostCaller};
use crate::interrupt::{InterruptHandle, InterruptState};
use crate::limits::StoreLimits;
use crate::module::ModuleInner;
use crate::types::{GlobalType, MemoryType, TableType};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub(crate) const PAGE_SIZE: usize = 65536;
/// The spec's limit for 32-bit memories.
pub(crate) const MAX_PAGES: u32 = 65536;

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// A function as the store sees it.
#[derive(Copy, Clone, Debug)]
pub(crate) enum FuncEntity {
    Wasm {
        instance: u32,
        /// Index among the module's defined functions.
        index: u32,
        ty: u32,
        params: u32,
    },
    Host {
        host: u32,
        ty: u32,
        params: u32,
        /// Cells the call needs: max(params, results).
        cells: u32,
    },
}

impl FuncEntity {
    pub(crate) fn ty(&self) -> u32 {
        match self {
            FuncEntity::Wasm { ty, .. } | FuncEntity::Host { ty, .. } => *ty,
        }
    }
}

pub(crate) struct InstanceEntity {
    pub(crate) module: Arc<ModuleInner>,
    pub(crate) funcs: Vec<u32>,
    pub(crate) tables: Vec<u32>,
    pub(crate) memories: Vec<u32>,
    pub(crate) globals: Vec<u32>,
    /// Data segments; a dropped segment is empty.
    pub(crate) datas: Vec<Arc<[u8]>>,
    /// Element segments as reference cells; a dropped segment is empty.
    pub(crate) elems: Vec<Box<[u64]>>,
    /// The imported functions, as the threaded code calls them.
    pub(crate) imported_funcs: Box<[ImportedFunc]>,
}

/// How the threaded code calls an imported function (see `threaded::call_imported`),
/// resolved once when the instance is created so that a call looks up one table.
pub(crate) enum ImportedFunc {
    /// A host function without `Caller`, called in place on its `cells` cells; `store` is
    /// the store's id (for reference values).
    Plain {
        call: Arc<PlainHostFn>,
        cells: u32,
        store: u64,
    },
    /// A host function with `Caller`: the threaded code stops for `run` to call it.
    Host { host: u32, cells: u32 },
    /// A wasm function of another instance, which `exec` enters.
    Wasm,
}

pub(crate) struct MemoryEntity {
    pub(crate) data: Vec<u8>,
    pub(crate) ty: MemoryType,
    /// Effective maximum in pages: declared maximum, spec maximum and store limit.
    pub(crate) limit_pages: u32,
}

impl MemoryEntity {
    pub(crate) fn empty() -> MemoryEntity {
        MemoryEntity {
            data: Vec::new(),
            ty: MemoryType {
                minimum: 0,
                maximum: Some(0),
            },
            limit_pages: 0,
        }
    }

    pub(crate) fn max_pages(&self) -> u32 {
        self.limit_pages
    }

    pub(crate) fn pages(&self) -> u32 {
        (self.data.len() / PAGE_SIZE) as u32
    }
}

pub(crate) struct TableEntity {
    pub(crate) elems: Vec<u64>,
    pub(crate) ty: TableType,
    /// Effective maximum: declared maximum and store limit.
    pub(crate) limit: u32,
}

impl TableEntity {
    pub(crate) fn max(&self) -> u32 {
        self.limit
    }

    /// Grows by `delta` elements set to `init`, within the table's maximum and the store's
    /// total (`total`/`total_limit`); the old size, or `u32::MAX` (-1) on failure.
    pub(crate) fn grow(&mut self, delta: u32, init: u64, total: &mut u64, total_limit: u64) -> u32 {
        let old = self.elems.len() as u32;
        let Some(new) = old.checked_add(delta) else {
            return u32::MAX;
        };
        if new > self.max()
            || total.saturating_add(delta as u64) > total_limit
            || self.elems.try_reserve_exact(delta as usize).is_err()
        {
            return u32::MAX;
        }
        self.elems.resize(new as usize, init);
        *total += delta as u64;
        old
    }
}

pub(crate) struct GlobalEntity {
    pub(crate) value: u128,
    pub(crate) ty: GlobalType,
}

impl Drop for StoreInner {
    fn drop(&mut self) {
        crate::exec::recycle_stacks(self);
    }
}

/// The non-generic part of a store: everything the interpreter touches.
pub struct StoreInner {
    pub(crate) id: u64,
    pub(crate) engine: Engine,
    pub(crate) funcs: Vec<FuncEntity>,
    pub(crate) instances: Vec<InstanceEntity>,
    pub(crate) memories: Vec<MemoryEntity>,
    pub(crate) tables: Vec<TableEntity>,
    pub(crate) globals: Vec<GlobalEntity>,
    pub(crate) externs: Vec<Box<dyn Any + Send + Sync>>,
    /// Recycled value stacks and frame stacks (one per nested invocation).
    /// Boxed, so taking one out and putting it back moves a pointer, not three `Vec`s
    /// (25 instructions less per host→wasm call).
    #[allow(clippy::vec_box)]
    pub(crate) exec_pool: Vec<Box<exec::ExecContext>>,
    /// The largest frame of any instantiated module: how far past a frame base the
    /// interpreter can have written (for zeroing a stack before the engine reuses it).
    pub(crate) max_frame_cells: u32,
    /// Wasm frames active in outer invocations (host functions re-entering wasm).
    pub(crate) call_depth: usize,
    /// While the innermost run is in a host function: where its frame called it (`pc`),
    /// for the backtrace of a panic (the interpreter's own copy is lost in the unwind).
    /// `exec::NOT_IN_HOST` otherwise, so a panic of the engine itself is not mistaken for
    /// the host's. (A plain `u32`: an `Option` made the interpreter loop 3–8% slower.)
    pub(crate) host_call_pc: u32,
    pub(crate) limits: StoreLimits,
    /// Bytes of all linear memories and elements of all tables, for the store-wide limits.
    pub(crate) memory_bytes: usize,
    pub(crate) table_elements: u64,
    /// Remaining fuel (when the engine meters fuel).
    pub(crate) fuel: u64,
    /// Called when fuel runs out: more fuel to continue, or `None` to trap.
    pub(crate) out_of_fuel: Option<Box<OutOfFuelFn>>,
    pub(crate) interrupt: Arc<InterruptState>,
    /// The host functions that need no store, by host index (`None` for one that takes a
    /// `Caller`; see [`PlainHostFn`]).
    pub(crate) plain_hosts: Vec<Option<Arc<PlainHostFn>>>,
    /// The error of the last store-free host function that failed, until the threaded
    /// code's driver reports it.
    pub(crate) host_error: Option<Box<Error>>,
    /// The host function with `Caller` the threaded code last stopped to call.
    pub(crate) pending_host: crate::threaded::PendingHost,
}

/// A host function that takes no `Caller` (it cannot touch the store): its cells and the
/// store's id (for reference values). The threaded code calls it where the call is, on the
/// frame's own cells, without giving the store back and borrowing it again around the call.
pub(crate) type PlainHostFn =
    dyn Fn(&[std::cell::Cell<u64>], u64) -> HostResult + Send + Sync + 'static;

/// Decides what happens when a store runs out of fuel (see `Store::on_out_of_fuel`).
pub type OutOfFuelFn = dyn FnMut() -> Option<u64> + Send + Sync + 'static;

impl StoreInner {
    fn set_fuel(&mut self, fuel: u64) -> Result<(), Error> {
        if !self.engine.config().consume_fuel {
            return Err(Error::TypeMismatch(
                "fuel is not enabled: use Config::consume_fuel(true)".into(),
            ));
        }
        self.fuel = fuel;
        Ok(())
    }

    fn get_fuel(&self) -> Result<u64, Error> {
        if !self.engine.config().consume_fuel {
            return Err(Error::TypeMismatch(
                "fuel is not enabled: use Config::consume_fuel(true)".into(),
            ));
        }
        Ok(self.fuel)
    }

    /// Creates a table, enforcing the store's limits.
    pub(crate) fn new_table(&mut self, ty: TableType, init: u64) -> Result<u32, Error> {
        let l = &self.limits;
        if self.tables.len() >= l.tables {
            return Err(Error::LimitExceeded(format!(
                "store limit `tables` ({}) reached",
                l.tables
            )));
        }
        if ty.minimum > l.table_elements {
            return Err(Error::LimitExceeded(format!(
                "table of {} elements exceeds the limit `table_elements` ({})",
                ty.minimum, l.table_elements
            )));
        }
        if self.table_elements + ty.minimum as u64 > l.total_table_elements {
            return Err(Error::LimitExceeded(format!(
                "tables would hold more than the limit `total_table_elements` ({})",
                l.total_table_elements
            )));
        }
        let limit = ty.maximum.unwrap_or(u32::MAX).min(l.table_elements);
        self.table_elements += ty.minimum as u64;
        self.tables.push(TableEntity {
            elems: vec![init; ty.minimum as usize],
            ty,
            limit,
        });
        Ok(self.tables.len() as u32 - 1)
    }

    /// Creates a linear memory, enforcing the spec's and the store's limits.
    pub(crate) fn new_memory(&mut self, ty: MemoryType) -> Result<u32, Error> {
        let l = &self.limits;
        if self.memories.len() >= l.memories {
            return Err(Error::LimitExceeded(format!(
                "store limit `memories` ({}) reached",
                l.memories
            )));
        }
        let limit_pages = ty
            .maximum
            .unwrap_or(MAX_PAGES)
            .min(MAX_PAGES)
            .min((l.memory_size / PAGE_SIZE).min(MAX_PAGES as usize) as u32);
        let bytes = ty.minimum as usize * PAGE_SIZE;
        if ty.minimum > MAX_PAGES || bytes > l.memory_size {
            return Err(Error::LimitExceeded(format!(
                "memory of {} pages ({} KiB) exceeds the limit `memory_size` ({} KiB)",
                ty.minimum,
                bytes / 1024,
                l.memory_size / 1024
            )));
        }
        if self.memory_bytes.saturating_add(bytes) > l.total_memory {
            return Err(Error::LimitExceeded(format!(
                "memories would exceed the limit `total_memory` ({} KiB)",
                l.total_memory / 1024
            )));
        }
        // `vec![0; n]` asks the allocator for zeroed memory, which the OS provides lazily:
        // the host pays only for pages the guest touches.
        let data = vec![0u8; bytes];
        self.memory_bytes += bytes;
        self.memories.push(MemoryEntity {
            data,
            ty,
            limit_pages,
        });
        Ok(self.memories.len() as u32 - 1)
    }

    pub(crate) fn check(&self, store_id: u64) -> Result<(), Error> {
        if store_id == self.id {
            Ok(())
        } else {
            Err(Error::WrongStore)
        }
    }
}

/// A host function: reads parameters from, and writes results to, raw cells.
pub(crate) type HostFn<T> = dyn Fn(Caller<'_, T>, &mut [u64]) -> HostResult + Send + Sync + 'static;

/// What a host function returns to the interpreter: the error boxed, so the common `Ok`
/// comes back in a register instead of through a 100-byte `Result` in memory.
pub(crate) type HostResult = Result<(), Box<Error>>;

/// All runtime state of a group of instances, plus the embedder's data `T`.
pub struct Store<T> {
    pub(crate) inner: StoreInner,
    pub(crate) data: T,
    pub(crate) hosts: Vec<Arc<HostFn<T>>>,
}

impl<T> Store<T> {
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        let id = NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed);
        Store {
            inner: StoreInner {
                id,
                engine: engine.clone(),
                funcs: Vec::new(),
                instances: Vec::new(),
                memories: Vec::new(),
                tables: Vec::new(),
                globals: Vec::new(),
                externs: Vec::new(),
                exec_pool: Vec::new(),
                max_frame_cells: 0,
                call_depth: 0,
                host_call_pc: exec::NOT_IN_HOST,
                plain_hosts: Vec::new(),
                host_error: None,
                pending_host: Default::default(),
                limits: StoreLimits::default(),
                memory_bytes: 0,
                table_elements: 0,
                fuel: 0,
                out_of_fuel: None,
                interrupt: Arc::new(InterruptState::default()),
            },
            data,
            hosts: Vec::new(),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Replaces the store's resource limits (they apply to entities created afterwards and
    /// to every later `memory.grow`/`table.grow`).
    pub fn set_limits(&mut self, limits: StoreLimits) {
        self.inner.limits = limits;
    }

    pub fn limits(&self) -> &StoreLimits {
        &self.inner.limits
    }

    /// Sets the remaining fuel; fails unless the engine was configured with
    /// `Config::consume_fuel(true)`.
    pub fn set_fuel(&mut self, fuel: u64) -> Result<(), Error> {
        self.inner.set_fuel(fuel)
    }

    /// The remaining fuel; fails unless the engine meters fuel.
    pub fn get_fuel(&self) -> Result<u64, Error> {
        self.inner.get_fuel()
    }

    /// Called when the fuel runs out mid-execution: return `Some(n)` to add `n` units and
    /// resume where execution stopped, or `None` to trap with `out of fuel`.
    pub fn on_out_of_fuel(&mut self, f: impl FnMut() -> Option<u64> + Send + Sync + 'static) {
        self.inner.out_of_fuel = Some(Box::new(f));
    }

    /// A handle another thread can use to interrupt this store's executions.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle {
            state: self.inner.interrupt.clone(),
        }
    }

    /// Interrupts the execution running `after` from now (one-shot, replaces any earlier
    /// deadline): it traps with `interrupted` within milliseconds of the deadline.
    /// Needs `Config::interruptible(true)` (the default).
    pub fn set_deadline(&mut self, after: std::time::Duration) {
        self.inner.interrupt.set_deadline(after);
    }

    /// Cancels a deadline set with `set_deadline`.
    pub fn clear_deadline(&mut self) {
        self.inner.interrupt.clear_deadline();
    }

    pub fn data(&self) -> &T {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut T {
        &mut self.data
    }

    pub fn into_data(self) -> T {
        self.data
    }
}

/// Dispatches host calls for a store with data `T`.
pub(crate) struct HostDispatch<'a, T> {
    pub(crate) data: &'a mut T,
    pub(crate) hosts: &'a [Arc<HostFn<T>>],
}

impl<T> HostCaller for HostDispatch<'_, T> {
    fn call_host(
        &mut self,
        inner: &mut StoreInner,
        host: u32,
        caller_instance: Option<u32>,
        cells: &mut [u64],
    ) -> HostResult {
        let caller = Caller {
            inner,
            data: self.data,
            hosts: self.hosts,
            instance: caller_instance,
        };
        // A panic is caught where the interpreter was entered (`exec::invoke`), once per
        // entry rather than once per host call.
        (self.hosts[host as usize])(caller, cells)
    }
}

/// Fuel and deadline control, shared by the contexts host code holds (`StoreContextMut`,
/// `Caller`); each has an `inner: &mut StoreInner`.
macro_rules! store_control {
    () => {
        /// The store's remaining fuel (see `Store::get_fuel`).
        pub fn get_fuel(&self) -> Result<u64, Error> {
            self.inner.get_fuel()
        }

        /// Sets the store's remaining fuel (see `Store::set_fuel`); host functions use it to
        /// give a callee a smaller budget and restore the caller's afterwards.
        pub fn set_fuel(&mut self, fuel: u64) -> Result<(), Error> {
            self.inner.set_fuel(fuel)
        }

        /// Arms a one-shot deadline (see `Store::set_deadline`).
        pub fn set_deadline(&mut self, after: std::time::Duration) {
            self.inner.interrupt.set_deadline(after);
        }

        /// Cancels the deadline (see `Store::clear_deadline`).
        pub fn clear_deadline(&mut self) {
            self.inner.interrupt.clear_deadline();
        }
    };
}

/// A store borrowed for reading.
pub struct StoreContext<'a, T> {
    pub(crate) inner: &'a StoreInner,
    pub(crate) data: &'a T,
}

impl<'a, T> StoreContext<'a, T> {
    pub fn data(&self) -> &'a T {
        self.data
    }
}

/// A store borrowed for calls and mutation (from a `Store` or inside a host function).
pub struct StoreContextMut<'a, T> {
    pub(crate) inner: &'a mut StoreInner,
    pub(crate) data: &'a mut T,
    pub(crate) hosts: &'a [Arc<HostFn<T>>],
}

impl<T> StoreContextMut<'_, T> {
    pub fn data(&self) -> &T {
        self.data
    }

    store_control!();

    pub fn data_mut(&mut self) -> &mut T {
        self.data
    }

    /// Runs store function `func` with `cells` as parameters in and results out.
    pub(crate) fn invoke(&mut self, func: u32, cells: &mut [u64]) -> Result<(), Error> {
        let mut dispatch = HostDispatch {
            data: &mut *self.data,
            hosts: self.hosts,
        };
        exec::invoke(self.inner, &mut dispatch, func, cells).map_err(|e| *e)
    }
}

/// Read access to a store.
pub trait AsContext {
    type Data;
    fn as_context(&self) -> StoreContext<'_, Self::Data>;
}

/// Call and mutation access to a store.
pub trait AsContextMut: AsContext {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, Self::Data>;
}

impl<T> AsContext for Store<T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext {
            inner: &self.inner,
            data: &self.data,
        }
    }
}

impl<T> AsContextMut for Store<T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut {
            inner: &mut self.inner,
            data: &mut self.data,
            hosts: &self.hosts,
        }
    }
}

impl<T> AsContext for StoreContextMut<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext {
            inner: self.inner,
            data: self.data,
        }
    }
}

impl<T> AsContextMut for StoreContextMut<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut {
            inner: self.inner,
            data: self.data,
            hosts: self.hosts,
        }
    }
}

impl<T> AsContext for StoreContext<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext {
            inner: self.inner,
            data: self.data,
        }
    }
}

impl<S: AsContext> AsContext for &S {
    type Data = S::Data;
    fn as_context(&self) -> StoreContext<'_, S::Data> {
        (**self).as_context()
    }
}

impl<S: AsContext> AsContext for &mut S {
    type Data = S::Data;
    fn as_context(&self) -> StoreContext<'_, S::Data> {
        (**self).as_context()
    }
}

impl<S: AsContextMut> AsContextMut for &mut S {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, S::Data> {
        (**self).as_context_mut()
    }
}

/// What a host function receives: access to the store and the calling instance.
pub struct Caller<'a, T> {
    pub(crate) inner: &'a mut StoreInner,
    pub(crate) data: &'a mut T,
    pub(crate) hosts: &'a [Arc<HostFn<T>>],
    pub(crate) instance: Option<u32>,
}

impl<T> Caller<'_, T> {
    pub fn data(&self) -> &T {
        self.data
    }

    pub fn data_mut(&mut self) -> &mut T {
        self.data
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    store_control!();

    /// An export of the calling instance (e.g. its `memory`), as WASI implementations need.
    pub fn get_export(&self, name: &str) -> Option<crate::Extern> {
        let instance = self.instance?;
        crate::instance::instance_export(self.inner, instance, name)
    }
}

impl<T> AsContext for Caller<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext {
            inner: self.inner,
            data: self.data,
        }
    }
}

impl<T> AsContextMut for Caller<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut {
            inner: self.inner,
            data: self.data,
            hosts: self.hosts,
        }
    }
}
