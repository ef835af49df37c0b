//! `Engine` and `Config`: the shared, thread-safe compilation context.

use crate::limits::ModuleLimits;
use crate::types::FuncType;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Engine configuration: enabled proposals and execution limits.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) simd: bool,
    pub(crate) tail_call: bool,
    pub(crate) extended_const: bool,
    pub(crate) max_call_depth: usize,
    pub(crate) max_stack_cells: usize,
    pub(crate) consume_fuel: bool,
    pub(crate) interruptible: bool,
    pub(crate) lazy_translation: bool,
    pub(crate) module_limits: ModuleLimits,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            simd: true,
            tail_call: true,
            extended_const: true,
            max_call_depth: Config::DEFAULT_MAX_CALL_DEPTH,
            max_stack_cells: Config::DEFAULT_MAX_STACK_CELLS,
            consume_fuel: false,
            interruptible: true,
            lazy_translation: true,
            module_limits: ModuleLimits::default(),
        }
    }
}

impl Config {
    /// Default for [`Config::max_call_depth`].
    pub const DEFAULT_MAX_CALL_DEPTH: usize = 100_000;
    /// Default for [`Config::max_stack_cells`] (64 MiB of 8-byte cells).
    pub const DEFAULT_MAX_STACK_CELLS: usize = 8 * 1024 * 1024;

    pub fn new() -> Config {
        Config::default()
    }

    /// Enables fixed-width 128-bit SIMD (default on).
    pub fn wasm_simd(&mut self, enable: bool) -> &mut Config {
        self.simd = enable;
        self
    }

    /// Enables `return_call` and `return_call_indirect` (default on).
    pub fn wasm_tail_call(&mut self, enable: bool) -> &mut Config {
        self.tail_call = enable;
        self
    }

    /// Enables extended constant expressions (default on).
    pub fn wasm_extended_const(&mut self, enable: bool) -> &mut Config {
        self.extended_const = enable;
        self
    }

    /// Maximum number of nested wasm calls before `call stack exhausted` (default 100 000).
    pub fn max_call_depth(&mut self, depth: usize) -> &mut Config {
        self.max_call_depth = depth.max(1);
        self
    }

    /// Maximum size of the value stack in 8-byte cells (default 8 Mi cells = 64 MiB).
    pub fn max_stack_cells(&mut self, cells: usize) -> &mut Config {
        self.max_stack_cells = cells.max(1024);
        self
    }

    /// Meters execution with fuel (default off). Stores then start with no fuel: give them
    /// some with `Store::set_fuel`. See `costs` for what one unit is.
    pub fn consume_fuel(&mut self, enable: bool) -> &mut Config {
        self.consume_fuel = enable;
        self
    }

    /// Checks for interruption (`InterruptHandle`, `Store::set_deadline`) at function
    /// entries, loop headers and inside bulk operations (default on).
    pub fn interruptible(&mut self, enable: bool) -> &mut Config {
        self.interruptible = enable;
        self
    }

    /// Translates each function on its first call instead of when the module is compiled
    /// (default on), which makes compiling several times faster and saves the work for
    /// functions never called. Every function is still validated, and every limit checked,
    /// when the module is compiled: a module `Module::new` accepts never fails to translate
    /// later. Off, all of the work happens in `Module::new` (predictable latency for the
    /// first calls), and with every function at hand the translator also inlines the
    /// calls of tiny leaf functions (straight-line arithmetic such as `isalnum`), which
    /// lazy translation cannot know about when it translates a caller.
    pub fn lazy_translation(&mut self, enable: bool) -> &mut Config {
        self.lazy_translation = enable;
        self
    }

    /// Limits checked while decoding modules (see `ModuleLimits` for the defaults).
    pub fn module_limits(&mut self, limits: ModuleLimits) -> &mut Config {
        self.module_limits = limits;
        self
    }

    pub(crate) fn features(&self) -> wasmparser::WasmFeatures {
        use wasmparser::WasmFeatures as F;
        let mut f = F::WASM2;
        f.set(F::SIMD, self.simd);
        f.set(F::TAIL_CALL, self.tail_call);
        f.set(F::EXTENDED_CONST, self.extended_const);
        f
    }
}

/// The compilation context shared by modules and stores. Cheap to clone, `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

#[derive(Debug)]
pub(crate) struct EngineInner {
    pub(crate) config: Config,
    /// Function types interned engine-wide, so a signature check is one integer compare.
    types: RwLock<TypeRegistry>,
    /// Value stacks of dropped stores, zeroed where they were written, for new stores:
    /// a store's first call then needs no fresh half-megabyte allocation (see
    /// `exec::FRAME_WINDOW`), which matters when every request gets a new store.
    stacks: std::sync::Mutex<Vec<Vec<u64>>>,
}

/// Stacks the engine keeps for reuse.
const POOLED_STACKS: usize = 32;

#[derive(Debug, Default)]
struct TypeRegistry {
    ids: HashMap<FuncType, u32>,
    types: Vec<FuncType>,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(&Config::default())
    }
}

impl Engine {
    pub fn new(config: &Config) -> Engine {
        Engine {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                types: RwLock::new(TypeRegistry::default()),
                stacks: std::sync::Mutex::new(Vec::new()),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Whether two handles refer to the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    /// A zeroed value stack from a dropped store, if one is pooled.
    pub(crate) fn take_stack(&self) -> Option<Vec<u64>> {
        self.inner
            .stacks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
    }

    /// Returns an all-zero stack to the pool (dropped if the pool is full).
    pub(crate) fn give_stack(&self, stack: Vec<u64>) {
        let mut pool = self.inner.stacks.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOLED_STACKS {
            pool.push(stack);
        }
    }

    /// Interns a function type and returns its engine-wide id.
    pub(crate) fn intern_type(&self, ty: &FuncType) -> u32 {
        // A poisoned lock only means another thread panicked mid-insert of a plain map;
        // the map itself is still consistent, so keep going.
        if let Some(&id) = self
            .inner
            .types
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .ids
            .get(ty)
        {
            return id;
        }
        let mut reg = self.inner.types.write().unwrap_or_else(|e| e.into_inner());
        if let Some(&id) = reg.ids.get(ty) {
            return id;
        }
        let id = reg.types.len() as u32;
        reg.types.push(ty.clone());
        reg.ids.insert(ty.clone(), id);
        id
    }

    /// The function type behind an interned id.
    pub(crate) fn resolve_type(&self, id: u32) -> FuncType {
        self.inner
            .types
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .types
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| FuncType::new([], []))
    }
}
