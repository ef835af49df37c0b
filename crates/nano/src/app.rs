//! Running a manifest: [`App`] checks everything first (attenuation, modules, WIT, links,
//! every import), then instantiates every nanoprocess in one store — providers before their
//! importers — each with its own linker, WASI context built from its grants, and memory
//! limit, and serves each `links` entry by canonical-ABI calls (`crate::call`).
//!
//! - Owns: the static link check ([`App::check`]), instantiation order, the translation of
//!   grants into a `WasiCtx`, the top-level entry points ([`App::run_main`], [`App::call`]).
//! - Must never: give a nanoprocess an import that is neither WASI (with its own grants) nor
//!   a `links` entry, share a memory, table or global between nanoprocesses, or run any
//!   guest code before the whole manifest checked clean.

use crate::abi::{self, Sig};
use crate::call::{
    attribute_direct, cell_to_val, poison, val_to_cell, Callee, DirectLink, Host, Link, NanoState,
};
use crate::manifest::{ClockGrant, Manifest, Mode, Nanoprocess, Problem, RandomGrant};
use crate::{capability_tree, check_attenuation};
use nanoproc_engine::{
    Caller, Config, Engine, Error, ExternType, Func, FuncType, Instance, Linker, Module, Store,
    StoreLimits, Trap, TrapKind, Val, ValType,
};
use nanoproc_wasi::{
    AuditLevel, AuditSink, Clock, DirPerms, Errno, I32Exit, Random, SharedBuffer, Stdio, WasiCtx,
    WasiCtxBuilder, WasiError,
};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where the audit log of every nanoprocess goes (one JSON line per call, with a
/// `"nanoprocess"` key naming who made it).
pub type AuditWriter = Arc<Mutex<dyn Write + Send>>;

/// How to run an application, beyond what its manifest says.
#[derive(Default)]
pub struct AppOptions {
    /// The main nanoprocess's arguments, `argv[0]` included (default: its name). Other
    /// nanoprocesses get their name as their only argument.
    pub args: Vec<String>,
    /// Where an *inherited* stdin/stdout/stderr goes instead of the host's own stream
    /// (tests, embedders capturing output). Only nanoprocesses granted the stream see it.
    pub stdin: Option<SharedBuffer>,
    pub stdout: Option<SharedBuffer>,
    pub stderr: Option<SharedBuffer>,
    /// Audit every nanoprocess's WASI calls (refusals, or everything with
    /// [`AuditLevel::All`]).
    pub audit: Option<(AuditWriter, AuditLevel)>,
    /// Memory limit of a nanoprocess whose manifest sets none (default: the engine's,
    /// 1 GiB per memory).
    pub default_memory: Option<u64>,
}

/// Why an application cannot be built or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NanoError {
    /// The manifest, its modules, WIT files or links have problems: every one found.
    #[error("{}", problems_text(.0))]
    Invalid(Vec<Problem>),
    /// A grant could not be given (e.g. a granted directory vanished).
    #[error("nanoprocess `{nanoprocess}`: {source}")]
    Wasi {
        nanoprocess: String,
        #[source]
        source: WasiError,
    },
    /// Instantiation (or its `_initialize`) failed.
    #[error("nanoprocess `{nanoprocess}`: cannot instantiate: {source}")]
    Instantiate {
        nanoprocess: String,
        #[source]
        source: Box<Error>,
    },
    /// A call from the host trapped or failed; `source` keeps the trap and its backtrace
    /// (a nanoprocess's own `proc_exit` is `source.downcast_ref::<I32Exit>()`).
    #[error("nanoprocess `{nanoprocess}`: `{export}`: {source}")]
    Call {
        nanoprocess: String,
        export: String,
        #[source]
        source: Box<Error>,
    },
    #[error("no nanoprocess named `{0}`")]
    UnknownNanoprocess(String),
    #[error("nanoprocess `{nanoprocess}` exports no function `{export}`")]
    UnknownExport { nanoprocess: String, export: String },
    /// It trapped while serving a call earlier; it is never entered again.
    #[error("nanoprocess `{nanoprocess}` is poisoned: {reason}")]
    Poisoned { nanoprocess: String, reason: String },
    #[error("nanoprocess `{nanoprocess}`: {message}")]
    Memory {
        nanoprocess: String,
        message: String,
    },
}

impl NanoError {
    /// The trap, if this error is one.
    pub fn as_trap(&self) -> Option<&nanoproc_engine::Trap> {
        match self {
            NanoError::Call { source, .. } | NanoError::Instantiate { source, .. } => {
                source.as_trap()
            }
            _ => None,
        }
    }
}

fn problems_text(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    lines.join("\n")
}

/// The interface functions a nanoprocess exports, by interface name (`acme:img/resize`),
/// parsed from its WIT file.
type Interfaces = BTreeMap<String, BTreeMap<String, Result<Sig, String>>>;

/// One import served by a link, checked.
struct PlannedLink {
    interface: String,
    function: String,
    provider: String,
    sig: Sig,
}

/// Everything checked before anything runs.
struct Plan {
    engine: Engine,
    /// Instantiation order: every provider before its importers.
    order: Vec<String>,
    modules: BTreeMap<String, Module>,
    links: BTreeMap<String, Vec<PlannedLink>>,
}

/// An application: every nanoprocess instantiated in one store (so fuel and the deadline
/// are shared along a calling chain), each isolated from the others.
pub struct App {
    store: Store<Host>,
    instances: Vec<Instance>,
    index: BTreeMap<String, usize>,
    main: usize,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("nanoprocesses", &self.index.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl App {
    /// Checks a manifest without running anything: attenuation, every module, WIT file and
    /// link (interfaces exist, signatures match the canonical ABI on both sides, `memory`
    /// and `cabi_realloc` exported where needed), every import satisfied. Returns the
    /// capability tree, or every problem found.
    pub fn check(manifest: &Manifest) -> Result<String, Vec<Problem>> {
        let mut problems = check_attenuation(manifest);
        let _ = plan(manifest, &mut problems);
        if problems.is_empty() {
            Ok(capability_tree(manifest))
        } else {
            Err(problems)
        }
    }

    /// Checks the manifest (refusing to run on any problem, listing all), then instantiates
    /// every nanoprocess and runs each one's `_initialize` if it exports one.
    pub fn new(manifest: &Manifest, options: AppOptions) -> Result<App, NanoError> {
        let mut problems = check_attenuation(manifest);
        let plan = plan(manifest, &mut problems);
        if !problems.is_empty() {
            return Err(NanoError::Invalid(problems));
        }
        let plan = plan.expect("a plan without problems");
        let index: BTreeMap<String, usize> = plan
            .order
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let main_np = &manifest.nanoprocesses[&manifest.main];

        let mut wasi = Vec::with_capacity(plan.order.len());
        let mut nanos = Vec::with_capacity(plan.order.len());
        let default_memory = options
            .default_memory
            .unwrap_or(StoreLimits::default().memory_size as u64);
        for name in &plan.order {
            let np = &manifest.nanoprocesses[name];
            wasi.push(wasi_ctx(np, name == &manifest.main, &options)?);
            nanos.push(NanoState {
                name: Arc::from(name.as_str()),
                memory: None,
                realloc: None,
                poisoned: None,
                in_realloc: false,
                memory_limit: np.limits.memory.unwrap_or(default_memory),
            });
        }
        let mut store = Store::new(
            &plan.engine,
            Host {
                nanos,
                wasi,
                direct: Vec::new(),
                attributed: 0,
            },
        );
        if let Some(fuel) = main_np.limits.fuel {
            store
                .set_fuel(fuel)
                .expect("the engine meters fuel when main has a fuel limit");
        }
        let timeout = main_np.limits.timeout;
        if let Some(t) = timeout {
            store.set_deadline(t);
        }

        let mut instances: Vec<Instance> = Vec::with_capacity(plan.order.len());
        for (i, name) in plan.order.iter().enumerate() {
            let np = &manifest.nanoprocesses[name];
            let err = |source: Error| NanoError::Instantiate {
                nanoprocess: name.clone(),
                source: Box::new(source),
            };
            let mut linker: Linker<Host> = Linker::new(&plan.engine);
            nanoproc_wasi::add_to_linker(&mut linker, move |h: &mut Host| &mut h.wasi[i])
                .map_err(err)?;
            deny_ungranted(&mut linker, np).map_err(err)?;
            if i != index[&manifest.main] {
                // A dependency cannot end the application: its `proc_exit` is a trap for
                // whoever called it (and poisons it), found in the backtrace like any other.
                linker.allow_shadowing(true);
                linker
                    .func_wrap(
                        "wasi_snapshot_preview1",
                        "proc_exit",
                        |code: i32| -> Result<(), Error> {
                            Err(
                                Trap::new(TrapKind::Host(format!("called proc_exit({code})")))
                                    .into(),
                            )
                        },
                    )
                    .map_err(err)?;
                linker.allow_shadowing(false);
            }
            let first_direct = store.data().direct.len();
            for link in &plan.links[name] {
                let p = index[&link.provider];
                let export_name = format!("{}#{}", link.interface, link.function);
                let export = instances[p]
                    .get_func(&store, &export_name)
                    .expect("checked by the plan");
                let post = instances[p].get_func(&store, &format!("cabi_post_{export_name}"));
                let direct = link.sig.is_direct() && post.is_none();
                let served = Arc::new(Link {
                    importer: i,
                    provider: p,
                    name: export_name.clone(),
                    sig: link.sig.clone(),
                    export: Callee::new(export, &store),
                    post: post.map(|f| Callee::new(f, &store)),
                });
                if direct {
                    let alias = export.alias(&mut store).map_err(err)?;
                    let ty = link.sig.lowered.clone();
                    let slow = Func::new(
                        &mut store,
                        ty.clone(),
                        move |mut caller: Caller<'_, Host>, params: &[Val], results: &mut [Val]| {
                            let mut cells: Vec<u64> =
                                params.iter().map(|v| val_to_cell(*v)).collect();
                            cells.resize(cells.len().max(results.len()), 0);
                            served.call(&mut caller, &mut cells)?;
                            for ((r, &t), &c) in results.iter_mut().zip(ty.results()).zip(&cells) {
                                *r = cell_to_val(t, c);
                            }
                            Ok(())
                        },
                    );
                    let origin = export.origin(&store);
                    store.data_mut().direct.push(DirectLink {
                        importer: i,
                        provider: p,
                        name: export_name,
                        alias,
                        export,
                        slow,
                        origin,
                        importer_instance: None,
                    });
                    linker
                        .define(&store, &link.interface, &link.function, alias)
                        .map_err(err)?;
                } else {
                    linker
                        .func_raw(
                            &link.interface,
                            &link.function,
                            link.sig.lowered.clone(),
                            move |mut caller: Caller<'_, Host>, cells: &mut [u64]| {
                                served.call(&mut caller, cells)
                            },
                        )
                        .map_err(err)?;
                }
            }
            let limit = store.data().nanos[i].memory_limit;
            store.set_limits(StoreLimits {
                memory_size: usize::try_from(limit).unwrap_or(usize::MAX),
                ..StoreLimits::default()
            });
            let instance = from_host(&mut store, |s| linker.instantiate(s, &plan.modules[name]))
                .map_err(err)?;
            let memory = instance.get_memory(&store, "memory");
            let realloc = instance
                .get_func(&store, "cabi_realloc")
                .and_then(|f| f.typed::<(i32, i32, i32, i32), i32>(&store).ok());
            for d in &mut store.data_mut().direct[first_direct..] {
                d.importer_instance = Some(instance);
            }
            let state = &mut store.data_mut().nanos[i];
            state.memory = memory;
            state.realloc = realloc;
            instances.push(instance);
            if let Some(init) = instance.get_func(&store, "_initialize") {
                from_host(&mut store, |s| init.call(s, &[], &mut [])).map_err(err)?;
            }
        }
        store.clear_deadline();
        Ok(App {
            store,
            instances,
            main: index[&manifest.main],
            index,
            timeout,
        })
    }

    fn lookup(&self, name: &str) -> Result<usize, NanoError> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| NanoError::UnknownNanoprocess(name.to_string()))
    }

    /// Runs the main nanoprocess's `_start`; returns its exit code (`0` when `_start`
    /// returns, the code it passed to `proc_exit` otherwise).
    pub fn run_main(&mut self) -> Result<i32, NanoError> {
        let main = self.main().to_string();
        match self.call(&main, "_start", &[]) {
            Ok(_) => Ok(0),
            Err(NanoError::Call { source, .. }) if source.downcast_ref::<I32Exit>().is_some() => {
                Ok(source.downcast_ref::<I32Exit>().map_or(1, |e| e.0))
            }
            Err(e) => Err(e),
        }
    }

    /// Calls the core export `export` of nanoprocess `name` with core values (as
    /// `nanoproc run --invoke` does for the main one). A nanoprocess other than the main one
    /// that traps here is poisoned, as when it traps serving another nanoprocess; the main
    /// one is never poisoned: the embedder decides whether to go on.
    pub fn call(&mut self, name: &str, export: &str, args: &[Val]) -> Result<Vec<Val>, NanoError> {
        let i = self.lookup(name)?;
        if let Some(reason) = &self.state(i).poisoned {
            return Err(NanoError::Poisoned {
                nanoprocess: name.to_string(),
                reason: reason.clone(),
            });
        }
        let func = self.instances[i]
            .get_func(&self.store, export)
            .ok_or_else(|| NanoError::UnknownExport {
                nanoprocess: name.to_string(),
                export: export.to_string(),
            })?;
        let mut results: Vec<Val> = func
            .ty(&self.store)
            .results()
            .iter()
            .map(|&t| Val::default_for(t))
            .collect();
        if let Some(t) = self.timeout {
            self.store.set_deadline(t);
        }
        let r = from_host(&mut self.store, |s| func.call(s, args, &mut results));
        self.store.clear_deadline();
        match r {
            Ok(()) => Ok(results),
            Err(source) => {
                // Only a trap leaves it in an unknown state (not, e.g., wrong arguments).
                if i != self.main && source.as_trap().is_some() {
                    poison(
                        &mut self.store,
                        i,
                        format!("it trapped in `{export}`: {source}"),
                    );
                }
                Err(NanoError::Call {
                    nanoprocess: name.to_string(),
                    export: export.to_string(),
                    source: Box::new(source),
                })
            }
        }
    }

    /// The core type of `name`'s export `export` (so a command line can parse `--invoke`
    /// arguments by their types).
    pub fn export_type(&self, name: &str, export: &str) -> Result<FuncType, NanoError> {
        let i = self.lookup(name)?;
        self.instances[i]
            .get_func(&self.store, export)
            .map(|f| f.ty(&self.store))
            .ok_or_else(|| NanoError::UnknownExport {
                nanoprocess: name.to_string(),
                export: export.to_string(),
            })
    }

    /// The main nanoprocess's name.
    pub fn main(&self) -> &str {
        &self.state(self.main).name
    }

    fn state(&self, i: usize) -> &NanoState {
        &self.store.data().nanos[i]
    }

    /// The nanoprocesses, in instantiation order (every provider before its importers).
    pub fn nanoprocesses(&self) -> Vec<&str> {
        self.store.data().nanos.iter().map(|n| &*n.name).collect()
    }

    /// Why `name` is poisoned, if it is.
    pub fn poisoned(&self, name: &str) -> Option<&str> {
        let i = self.index.get(name)?;
        self.state(*i).poisoned.as_deref()
    }

    /// The remaining fuel of the whole application, if it is metered.
    pub fn fuel(&self) -> Option<u64> {
        self.store.get_fuel().ok()
    }

    fn memory_of(&self, name: &str) -> Result<nanoproc_engine::Memory, NanoError> {
        let i = self.lookup(name)?;
        self.state(i).memory.ok_or_else(|| NanoError::Memory {
            nanoprocess: name.to_string(),
            message: "exports no memory named `memory`".into(),
        })
    }

    /// Reads `len` bytes of `name`'s memory at `offset` (inspection, tests).
    pub fn read_memory(&self, name: &str, offset: usize, len: usize) -> Result<Vec<u8>, NanoError> {
        let memory = self.memory_of(name)?;
        let mut buf = vec![0; len];
        memory
            .read(&self.store, offset, &mut buf)
            .map_err(|e| NanoError::Memory {
                nanoprocess: name.to_string(),
                message: e.to_string(),
            })?;
        Ok(buf)
    }

    /// Writes `bytes` into `name`'s memory at `offset` (setting up data, tests).
    pub fn write_memory(
        &mut self,
        name: &str,
        offset: usize,
        bytes: &[u8],
    ) -> Result<(), NanoError> {
        let memory = self.memory_of(name)?;
        memory
            .write(&mut self.store, offset, bytes)
            .map_err(|e| NanoError::Memory {
                nanoprocess: name.to_string(),
                message: e.to_string(),
            })
    }
}

/// The WASI context a nanoprocess's grants describe, and nothing more.
/// Runs guest code entered from the host (instantiation with its start function, an
/// `_initialize`, an export): no trap is unwinding when it starts, and one that comes back
/// is attributed to the nanoprocesses it left through direct links.
fn from_host<R>(
    store: &mut Store<Host>,
    run: impl FnOnce(&mut Store<Host>) -> Result<R, Error>,
) -> Result<R, Error> {
    store.data_mut().attributed = 0;
    run(store).map_err(|e| attribute_direct(&mut *store, e))
}

fn wasi_ctx(np: &Nanoprocess, is_main: bool, options: &AppOptions) -> Result<WasiCtx, NanoError> {
    let g = &np.grants;
    let mut b = WasiCtxBuilder::new();
    if is_main && !options.args.is_empty() {
        b.args(options.args.iter().cloned());
    } else {
        b.arg(np.name.clone());
    }
    b.envs(g.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    for d in &g.dirs {
        let perms = match d.mode {
            Mode::Ro => DirPerms::ReadOnly,
            Mode::Rw => DirPerms::ReadWrite,
        };
        b.preopened_dir(&d.host, d.guest.clone(), perms)
            .map_err(|source| NanoError::Wasi {
                nanoprocess: np.name.clone(),
                source,
            })?;
    }
    let stream = |granted: bool, buffer: &Option<SharedBuffer>| match (granted, buffer) {
        (false, _) => Stdio::Null,
        (true, Some(buf)) => Stdio::Buffer(buf.clone()),
        (true, None) => Stdio::Inherit,
    };
    b.stdin(stream(g.stdio.stdin, &options.stdin));
    b.stdout(stream(g.stdio.stdout, &options.stdout));
    b.stderr(stream(g.stdio.stderr, &options.stderr));
    let clock = match &g.clock {
        ClockGrant::Real => Clock::Real,
        ClockGrant::Fixed { start_ns, step } => Clock::Fixed {
            start: (*start_ns).clamp(0, u64::MAX as i128) as u64,
            step: *step,
        },
        // No clock: reads are refused (see `deny_ungranted`); sleeping advances a frozen
        // virtual clock, so it reveals nothing either.
        ClockGrant::None => Clock::Fixed {
            start: 0,
            step: Duration::ZERO,
        },
    };
    b.wall_clock(clock).monotonic_clock(clock);
    b.random(match g.random {
        RandomGrant::Os => Random::Os,
        RandomGrant::Seed(s) => Random::Seeded(s),
        // Refused in `deny_ungranted`; the seed is never used.
        RandomGrant::None => Random::Seeded(0),
    });
    if let Some((out, level)) = &options.audit {
        b.audit(AuditSink::new(
            TaggedWriter {
                name: np.name.clone(),
                out: out.clone(),
                line: Vec::new(),
            },
            *level,
        ));
    }
    Ok(b.build())
}

/// WASI preview1 has no "no clock" or "no randomness": without the grant, reading a clock
/// or drawing random bytes fails with `NOTCAPABLE`.
fn deny_ungranted(linker: &mut Linker<Host>, np: &Nanoprocess) -> Result<(), Error> {
    let refused = i32::from(Errno::NOTCAPABLE.0);
    linker.allow_shadowing(true);
    if np.grants.clock == ClockGrant::None {
        linker.func_wrap(
            nanoproc_wasi::MODULE,
            "clock_time_get",
            move |_: Caller<'_, Host>,
                  _id: i32,
                  _precision: i64,
                  _out: i32|
                  -> Result<i32, Error> { Ok(refused) },
        )?;
        linker.func_wrap(
            nanoproc_wasi::MODULE,
            "clock_res_get",
            move |_: Caller<'_, Host>, _id: i32, _out: i32| -> Result<i32, Error> { Ok(refused) },
        )?;
    }
    if np.grants.random == RandomGrant::None {
        linker.func_wrap(
            nanoproc_wasi::MODULE,
            "random_get",
            move |_: Caller<'_, Host>, _buf: i32, _len: i32| -> Result<i32, Error> { Ok(refused) },
        )?;
    }
    linker.allow_shadowing(false);
    Ok(())
}

/// Adds `"nanoprocess":"NAME"` to every audit line.
struct TaggedWriter {
    name: String,
    out: AuditWriter,
    line: Vec<u8>,
}

impl Write for TaggedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for &b in buf {
            self.line.push(b);
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
                match line.strip_prefix(b"{") {
                    Some(rest) => {
                        let name = self.name.replace('\\', "\\\\").replace('"', "\\\"");
                        write!(out, "{{\"nanoprocess\":\"{name}\",")?;
                        out.write_all(rest)?;
                    }
                    None => out.write_all(&line)?,
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

/// The static half of [`App::new`]: compiles modules, parses WIT, resolves every import
/// and orders the nanoprocesses. Problems are appended; the plan is `None` if any arose.
fn plan(manifest: &Manifest, problems: &mut Vec<Problem>) -> Option<Plan> {
    let file = manifest.file.display().to_string();
    let before = problems.len();
    let mut problem = |np: &str, key: String, message: String| {
        problems.push(Problem {
            file: file.clone(),
            nanoprocess: Some(np.to_string()),
            key,
            message,
        })
    };
    let main = manifest.nanoprocesses.get(&manifest.main);
    let mut config = Config::new();
    config.consume_fuel(main.is_some_and(|m| m.limits.fuel.is_some()));
    let engine = Engine::new(&config);

    let mut modules = BTreeMap::new();
    let mut interfaces: BTreeMap<String, Interfaces> = BTreeMap::new();
    for np in manifest.nanoprocesses.values() {
        match Module::from_file(&engine, &np.module) {
            Ok(m) => {
                modules.insert(np.name.clone(), m);
            }
            Err(e) => problem(&np.name, "module".into(), e.to_string()),
        }
        if let Some(wit) = &np.wit {
            match parse_wit(wit) {
                Ok(i) => {
                    interfaces.insert(np.name.clone(), i);
                }
                Err(e) => problem(&np.name, "wit".into(), e),
            }
        }
    }

    // Which names WASI provides (with any context type: only the names matter here).
    let mut wasi_names: Linker<Host> = Linker::new(&engine);
    let _ = nanoproc_wasi::add_to_linker(&mut wasi_names, |h: &mut Host| &mut h.wasi[0]);

    let mut links: BTreeMap<String, Vec<PlannedLink>> = BTreeMap::new();
    for np in manifest.nanoprocesses.values() {
        let name = &np.name;
        let mut planned = Vec::new();
        let Some(module) = modules.get(name) else {
            links.insert(name.clone(), planned);
            continue;
        };
        for ns in np.links.keys() {
            if ns == nanoproc_wasi::MODULE {
                problem(
                    name,
                    format!("links.{ns}"),
                    "WASI cannot be linked to a nanoprocess: it comes from the grants".into(),
                );
            }
        }
        let mut missing = Vec::new();
        for import in module.imports() {
            let (m, f) = (&import.module, &import.name);
            if m == nanoproc_wasi::MODULE && !np.links.contains_key(m) {
                if !wasi_names.contains(m, f) {
                    missing.push(format!("{m}::{f} (not a WASI preview1 function)"));
                }
                continue;
            }
            let Some(provider) = np.links.get(m) else {
                missing.push(format!("{m}::{f}"));
                continue;
            };
            let key = format!("links.{m}");
            let Some(provider_np) = manifest.nanoprocesses.get(provider) else {
                continue; // reported by the manifest parser
            };
            let Some(ifaces) = interfaces.get(provider) else {
                if provider_np.wit.is_none() {
                    problem(
                        name,
                        key,
                        format!(
                            "`{provider}` declares no `wit` file, so it exports no interface `{m}`"
                        ),
                    );
                }
                continue;
            };
            let Some(funcs) = ifaces.get(m) else {
                let have: Vec<&str> = ifaces.keys().map(String::as_str).collect();
                problem(
                    name,
                    key,
                    format!(
                        "`{provider}`'s WIT has no interface `{m}` (it has: {})",
                        if have.is_empty() {
                            "none".into()
                        } else {
                            have.join(", ")
                        }
                    ),
                );
                continue;
            };
            let sig = match funcs.get(f) {
                None => {
                    problem(
                        name,
                        key,
                        format!("imports `{m}::{f}`, but interface `{m}` of `{provider}` has no function `{f}`"),
                    );
                    continue;
                }
                Some(Err(e)) => {
                    problem(name, key, format!("`{m}::{f}`: {e}"));
                    continue;
                }
                Some(Ok(sig)) => sig,
            };
            match &import.ty {
                ExternType::Func(t) if *t == sig.lowered => {}
                other => {
                    problem(
                        name,
                        key.clone(),
                        format!(
                            "imports `{m}::{f}` as {} {other}, but the canonical ABI lowers it to func {}",
                            other.kind(),
                            sig.lowered
                        ),
                    );
                    // Keep going: the provider's side is checked independently, so every
                    // problem of this link is listed at once.
                }
            }
            if sig.importer_memory() && !exports(module, "memory", None) {
                problem(
                    name,
                    key.clone(),
                    format!("calling `{m}::{f}` passes data through memory: `{name}` must export its memory as `memory`"),
                );
            }
            if sig.importer_allocates() && !exports(module, "cabi_realloc", Some(&realloc_type())) {
                problem(
                    name,
                    key.clone(),
                    format!("`{m}::{f}` returns strings or lists: `{name}` must export `cabi_realloc: (i32, i32, i32, i32) -> i32`"),
                );
            }
            if let Some(pm) = modules.get(provider) {
                let export = format!("{m}#{f}");
                if !exports(pm, &export, Some(&sig.lifted)) {
                    let found = match pm.get_export(&export) {
                        Some(t) => format!(", not {} {t}", t.kind()),
                        None => String::new(),
                    };
                    problem(
                        name,
                        key.clone(),
                        format!(
                            "`{provider}` must export `{export}` with type {}{found}",
                            sig.lifted
                        ),
                    );
                }
                let post = format!("cabi_post_{export}");
                if pm.get_export(&post).is_some() && !exports(pm, &post, Some(&sig.post)) {
                    problem(
                        name,
                        key.clone(),
                        format!("`{provider}`'s `{post}` must be func {}", sig.post),
                    );
                }
                if sig.provider_memory() && !exports(pm, "memory", None) {
                    problem(
                        name,
                        key.clone(),
                        format!("`{m}::{f}` passes data through memory: `{provider}` must export its memory as `memory`"),
                    );
                }
                if sig.provider_allocates() && !exports(pm, "cabi_realloc", Some(&realloc_type())) {
                    problem(
                        name,
                        key.clone(),
                        format!("`{m}::{f}` takes strings, lists or many parameters: `{provider}` must export `cabi_realloc: (i32, i32, i32, i32) -> i32`"),
                    );
                }
            }
            planned.push(PlannedLink {
                interface: m.clone(),
                function: f.clone(),
                provider: provider.clone(),
                sig: sig.clone(),
            });
        }
        if !missing.is_empty() {
            problem(
                name,
                "imports".into(),
                format!(
                    "imports nothing provides (only WASI and `links` entries can): {}",
                    missing.join(", ")
                ),
            );
        }
        links.insert(name.clone(), planned);
    }

    let order = match link_order(manifest) {
        Ok(order) => order,
        Err(cycle) => {
            problem(
                &cycle[0],
                "links".into(),
                format!("links form a cycle: {}", cycle.join(" -> ")),
            );
            Vec::new()
        }
    };
    (problems.len() == before).then_some(Plan {
        engine,
        order,
        modules,
        links,
    })
}

fn realloc_type() -> FuncType {
    FuncType::new([ValType::I32; 4], [ValType::I32])
}

/// Whether `module` exports `name` (a memory when `func` is `None`, else a function of
/// that type).
fn exports(module: &Module, name: &str, func: Option<&FuncType>) -> bool {
    match (module.get_export(name), func) {
        (Some(ExternType::Memory(_)), None) => true,
        (Some(ExternType::Func(t)), Some(want)) => &t == want,
        _ => false,
    }
}

/// Parses a WIT file: every named interface with its freestanding functions' signatures.
fn parse_wit(path: &std::path::Path) -> Result<Interfaces, String> {
    let mut resolve = wit_parser::Resolve::new();
    resolve
        .push_file(path)
        .map_err(|e| format!("{}: {e:#}", path.display()))?;
    let mut out = Interfaces::new();
    for (id, iface) in resolve.interfaces.iter() {
        let Some(name) = resolve.id_of(id) else {
            continue;
        };
        let mut funcs = BTreeMap::new();
        for (fname, func) in &iface.functions {
            let sig = (|| {
                if !matches!(func.kind, wit_parser::FunctionKind::Freestanding) {
                    return Err("only plain (synchronous, freestanding) functions can be called across nanoprocesses yet".to_string());
                }
                let params = func
                    .params
                    .iter()
                    .map(|p| abi::from_wit(&resolve, &p.ty))
                    .collect::<Result<Vec<_>, _>>()?;
                let result = func
                    .result
                    .as_ref()
                    .map(|t| abi::from_wit(&resolve, t))
                    .transpose()?;
                Ok(Sig::new(params, result))
            })();
            funcs.insert(fname.clone(), sig);
        }
        out.insert(name, funcs);
    }
    Ok(out)
}

/// Every nanoprocess after the ones it links to; or a cycle of links.
fn link_order(manifest: &Manifest) -> Result<Vec<String>, Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        manifest: &Manifest,
        name: &str,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
        order: &mut Vec<String>,
    ) -> Result<(), Vec<String>> {
        match marks.get(name).copied().unwrap_or(Mark::New) {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let start = path.iter().position(|p| p == name).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(name.to_string());
                return Err(cycle);
            }
            Mark::New => {}
        }
        marks.insert(name.to_string(), Mark::Active);
        path.push(name.to_string());
        if let Some(np) = manifest.nanoprocesses.get(name) {
            for target in np.links.values() {
                if manifest.nanoprocesses.contains_key(target) {
                    visit(manifest, target, marks, path, order)?;
                }
            }
        }
        path.pop();
        marks.insert(name.to_string(), Mark::Done);
        order.push(name.to_string());
        Ok(())
    }
    let mut marks = BTreeMap::new();
    let mut order = Vec::new();
    for name in manifest.nanoprocesses.keys() {
        visit(manifest, name, &mut marks, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}
