//! `Linker<T>`: names host functions and instance exports so modules can import them.

use crate::engine::Engine;
use crate::error::Error;
use crate::externals::Extern;
use crate::func::{register_host, untyped_host, Func, HostDef, IntoFunc};
use crate::instance::Instance;
use crate::module::{ImportKind, Module};
use crate::store::{AsContext, Caller, Store};
use crate::types::FuncType;
use crate::values::Val;
use std::collections::HashMap;
use std::sync::Arc;

enum Definition<T> {
    Extern(Extern),
    /// A host function not yet tied to a store; materialized per store on first use.
    Host(HostDef<T>),
}

impl<T> Clone for Definition<T> {
    fn clone(&self) -> Self {
        match self {
            Definition::Extern(e) => Definition::Extern(*e),
            Definition::Host(def) => Definition::Host(def.clone()),
        }
    }
}

/// Resolves imports by `(module, name)`.
pub struct Linker<T> {
    engine: Engine,
    defs: HashMap<(String, String), Definition<T>>,
    allow_shadowing: bool,
}

impl<T> Clone for Linker<T> {
    fn clone(&self) -> Self {
        Linker {
            engine: self.engine.clone(),
            defs: self.defs.clone(),
            allow_shadowing: self.allow_shadowing,
        }
    }
}

impl<T: 'static> Linker<T> {
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker {
            engine: engine.clone(),
            defs: HashMap::new(),
            allow_shadowing: false,
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether a later definition may replace an earlier one with the same name.
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Self {
        self.allow_shadowing = allow;
        self
    }

    fn insert(&mut self, module: &str, name: &str, def: Definition<T>) -> Result<(), Error> {
        let key = (module.to_string(), name.to_string());
        if !self.allow_shadowing && self.defs.contains_key(&key) {
            return Err(Error::DuplicateDefinition {
                module: module.to_string(),
                name: name.to_string(),
            });
        }
        self.defs.insert(key, def);
        Ok(())
    }

    /// Defines an existing store entity under `module::name`.
    pub fn define(
        &mut self,
        _store: impl AsContext<Data = T>,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Self, Error> {
        self.insert(module, name, Definition::Extern(item.into()))?;
        Ok(self)
    }

    /// Defines a host function from a typed closure.
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Result<&mut Self, Error> {
        let (ty, call, plain) = f.into_host();
        self.insert(module, name, Definition::Host(HostDef { ty, call, plain }))?;
        Ok(self)
    }

    /// Defines a host function with a dynamic signature.
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Result<&mut Self, Error> {
        let host = untyped_host(ty.clone(), f);
        self.insert(
            module,
            name,
            Definition::Host(HostDef::with_caller(ty, host)),
        )?;
        Ok(self)
    }

    /// Defines a host function working on raw cells (for embedders that need the fastest
    /// possible host calls): parameters in `cells`, results written back there.
    pub fn func_raw(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &mut [u64]) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Result<&mut Self, Error> {
        let f = move |caller: Caller<'_, T>, cells: &mut [u64]| f(caller, cells).map_err(Box::new);
        self.insert(
            module,
            name,
            Definition::Host(HostDef::with_caller(ty, Arc::new(f))),
        )?;
        Ok(self)
    }

    /// Defines every export of `instance` under the module name `module`.
    pub fn instance(
        &mut self,
        store: &mut Store<T>,
        module: &str,
        instance: Instance,
    ) -> Result<&mut Self, Error> {
        for (name, item) in instance.exports(&*store) {
            self.insert(module, &name, Definition::Extern(item))?;
        }
        Ok(self)
    }

    /// Whether anything is defined under `module::name`.
    pub fn contains(&self, module: &str, name: &str) -> bool {
        self.defs
            .contains_key(&(module.to_string(), name.to_string()))
    }

    /// The definition under `module::name`, materialized in `store`.
    pub fn get(&self, store: &mut Store<T>, module: &str, name: &str) -> Option<Extern> {
        let def = self.defs.get(&(module.to_string(), name.to_string()))?;
        Some(Self::materialize(store, def))
    }

    fn materialize(store: &mut Store<T>, def: &Definition<T>) -> Extern {
        match def {
            Definition::Extern(e) => *e,
            Definition::Host(def) => {
                let index = register_host(store, def);
                Extern::Func(Func {
                    store: store.inner.id,
                    index,
                })
            }
        }
    }

    /// The imports of `module` this linker cannot satisfy, as `module::name`.
    pub fn missing_imports(&self, module: &Module) -> Vec<String> {
        module
            .inner
            .imports
            .iter()
            .filter(|i| !self.contains(&i.module, &i.name))
            .map(|i| format!("{}::{}", i.module, i.name))
            .collect()
    }

    /// Resolves every import of `module` and instantiates it.
    pub fn instantiate(&self, store: &mut Store<T>, module: &Module) -> Result<Instance, Error> {
        let mut imports = Vec::with_capacity(module.inner.imports.len());
        for imp in &module.inner.imports {
            let def = self
                .defs
                .get(&(imp.module.clone(), imp.name.clone()))
                .ok_or_else(|| Error::UnknownImport {
                    module: imp.module.clone(),
                    name: imp.name.clone(),
                })?;
            // A host function only satisfies a function import of its exact type; check
            // before registering it so failed links leave nothing behind.
            if let (Definition::Host(HostDef { ty, .. }), ImportKind::Func(t)) = (def, &imp.kind) {
                let want = &module.inner.types[*t as usize];
                if ty != want {
                    return Err(Error::IncompatibleImport {
                        module: imp.module.clone(),
                        name: imp.name.clone(),
                        expected: want.to_string(),
                        found: ty.to_string(),
                    });
                }
            }
            imports.push(Self::materialize(store, def));
        }
        Instance::new(store, module, &imports)
    }
}
