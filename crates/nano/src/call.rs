//! Cross-nanoprocess calls: the host function that serves one linked import by the
//! canonical ABI, copying arguments from the importer's memory into the provider's and the
//! result back, straight from memory to memory.
//!
//! - Owns: [`Link`] (one import served by one provider export), the per-nanoprocess call
//!   state ([`NanoState`]: memory, `cabi_realloc`, poisoning, "inside realloc"), and the
//!   two passes of every transfer: **validate** the whole value in the source memory (UTF-8,
//!   bounds, alignment, discriminants, `char`s, total size) before anything is written,
//!   then **copy** it (bulk `Memory::copy_to` per string and list, then fix up what is not
//!   plain bytes: nested pointers, `bool`s, unused flag bits, padding zeroed).
//! - Must never: write outside a region the receiving side allocated with its own
//!   `cabi_realloc` (or handed over as a return pointer), copy a source byte the value does
//!   not contain (padding is zeroed, not copied), let a nanoprocess reach another's memory,
//!   table or global, or call into a poisoned nanoprocess. Every fault is a trap naming
//!   both nanoprocesses.
//!
//! Why validation first: it makes a bad value fail before the receiver's `cabi_realloc` is
//! ever called (no half-written value), and the copy pass can trust what it reads — the
//! source cannot change in between, because only the receiver's `cabi_realloc` runs during
//! a copy and, as in the component model (`may_leave`), it may not call other
//! nanoprocesses.

use crate::abi::{Core, Kind, Sig, Ty};
use nanoproc_engine::{
    AsContext, AsContextMut, Caller, Error, Extern, Func, Instance, Memory, Trap, TrapKind,
    TypedFunc, Val,
};
use nanoproc_wasi::{I32Exit, WasiCtx};
use std::sync::Arc;

/// The canonical ABI's largest string, in bytes.
const MAX_STRING_BYTES: u64 = (1 << 31) - 1;

/// What a nanoprocess's calls need at run time.
pub(crate) struct NanoState {
    pub(crate) name: Arc<str>,
    pub(crate) memory: Option<Memory>,
    pub(crate) realloc: Option<TypedFunc<(i32, i32, i32, i32), i32>>,
    /// Why further calls into it are refused (it trapped while serving one).
    pub(crate) poisoned: Option<String>,
    /// The runtime is inside its `cabi_realloc`: it may not call other nanoprocesses.
    pub(crate) in_realloc: bool,
    /// The most bytes its memory can hold: a value sent to it cannot need more.
    pub(crate) memory_limit: u64,
}

/// The store's data: every nanoprocess's call state and WASI context, by index.
pub(crate) struct Host {
    pub(crate) nanos: Vec<NanoState>,
    pub(crate) wasi: Vec<WasiCtx>,
    pub(crate) direct: Vec<DirectLink>,
    /// How many innermost frames of the trap now unwinding have been attributed to
    /// nanoprocesses already (by an inner [`Link`]), so an outer level does not do it twice.
    pub(crate) attributed: usize,
}

/// A link served without the runtime in the middle, because the runtime has nothing to do
/// for it: every value in the signature passes as it is ([`Sig::is_direct`]) and the
/// provider has no `cabi_post_` for it. The importer's import is an *alias* of the
/// provider's export, so the call is a plain cross-instance wasm call (about the cost of a
/// call inside one module). Whenever a rule needs the runtime — the provider is poisoned,
/// or the importer is inside its `cabi_realloc` — the alias is pointed at `slow`, the full
/// [`Link`] host function, which refuses the call with the usual message
/// ([`refresh_direct`]). A trap that unwinds through the alias is attributed from the
/// backtrace ([`attribute_direct`]).
pub(crate) struct DirectLink {
    pub(crate) importer: usize,
    pub(crate) provider: usize,
    /// `acme:img/resize#resize`.
    pub(crate) name: String,
    pub(crate) alias: Func,
    pub(crate) export: Func,
    pub(crate) slow: Func,
    /// The export's instance and function index, to recognise its frames in a backtrace.
    pub(crate) origin: Option<(Instance, u32)>,
    /// Set once the importer is instantiated (its start function may call before).
    pub(crate) importer_instance: Option<Instance>,
}

/// Points every direct link (of `importer` only, if given) at the provider's export, or at
/// the runtime's checks while a rule needs them.
pub(crate) fn refresh_direct(mut cx: impl AsContextMut<Data = Host>, importer: Option<usize>) {
    for k in 0..cx.as_context().data().direct.len() {
        let host = cx.as_context().data();
        let d = &host.direct[k];
        if importer.is_some_and(|i| i != d.importer) {
            continue;
        }
        let blocked =
            host.nanos[d.provider].poisoned.is_some() || host.nanos[d.importer].in_realloc;
        let (alias, target) = (d.alias, if blocked { d.slow } else { d.export });
        alias
            .retarget(&mut cx, &target)
            .expect("a direct link's alias, export and slow path share one type");
    }
}

/// Refuses further calls into nanoprocess `index` (keeping the first reason).
pub(crate) fn poison(mut cx: impl AsContextMut<Data = Host>, index: usize, why: String) {
    let mut ctx = cx.as_context_mut();
    let state = &mut ctx.data_mut().nanos[index];
    if state.poisoned.is_none() {
        state.poisoned = Some(why);
        refresh_direct(cx, None);
    }
}

/// Attributes a trap that unwound through direct links: every provider it left through a
/// direct link is poisoned, and the message names them from the innermost out, as if each
/// link had been served by the runtime. Frames an inner [`Link`] attributed already are
/// skipped. Out of fuel and interruption keep their kind (limits of the whole chain).
pub(crate) fn attribute_direct(cx: impl AsContextMut<Data = Host>, e: Error) -> Error {
    attribute_direct_from(cx, e).0
}

/// [`attribute_direct`], also returning where the frames not attributed to a direct
/// provider start (the outermost nanoprocess's own frames).
fn attribute_direct_from(mut cx: impl AsContextMut<Data = Host>, e: Error) -> (Error, usize) {
    let Error::Trap(trap) = e else {
        return (e, 0);
    };
    let frames = &trap.backtrace;
    let host = cx.as_context().data();
    let start = host.attributed.min(frames.len());
    // (index of the provider's outermost frame, direct link) per crossing, innermost first.
    let mut crossings: Vec<(usize, usize)> = Vec::new();
    for k in start..frames.len().saturating_sub(1) {
        let (callee, caller) = (&frames[k], &frames[k + 1]);
        let (Some(p), Some(i)) = (callee.instance, caller.instance) else {
            continue;
        };
        if p == i {
            continue;
        }
        if let Some(d) = host.direct.iter().position(|d| {
            // Before the importer is recorded (its start function), any caller matches.
            d.origin == Some((p, callee.func_index)) && d.importer_instance.is_none_or(|x| x == i)
        }) {
            crossings.push((k, d));
        }
    }
    let len = frames.len();
    cx.as_context_mut().data_mut().attributed = len;
    if crossings.is_empty() {
        return (Error::Trap(trap), start);
    }
    let mut what = match &trap.kind {
        TrapKind::Host(m) => m.clone(),
        kind => kind.to_string(),
    };
    let mut from = start;
    for (k, d) in crossings {
        let host = cx.as_context().data();
        let link = &host.direct[d];
        let provider = host.nanos[link.provider].name.clone();
        let mut message = format!(
            "nanoprocess `{provider}` trapped while serving `{}`'s call to {}: {what}",
            host.nanos[link.importer].name, link.name
        );
        message.push_str(&format!("\nbacktrace of `{provider}`:"));
        for (n, frame) in trap.backtrace[from..=k].iter().enumerate() {
            message.push_str(&format!("\n  {n}: {frame}"));
        }
        from = k + 1;
        let index = link.provider;
        poison(&mut cx, index, message.clone());
        what = message;
    }
    let kind = match trap.kind {
        TrapKind::OutOfFuel | TrapKind::Interrupted => trap.kind,
        _ => TrapKind::Host(what),
    };
    let trap = Trap {
        kind,
        backtrace: trap.backtrace,
    };
    (Error::Trap(trap), from)
}

/// One linked import: `importer` imports `interface.function`, `provider` exports it.
pub(crate) struct Link {
    pub(crate) importer: usize,
    pub(crate) provider: usize,
    /// `acme:img/resize#resize`.
    pub(crate) name: String,
    pub(crate) sig: Sig,
    pub(crate) export: Callee,
    pub(crate) post: Option<Callee>,
}

/// A function to call with raw cells: through a `TypedFunc` for the common all-`i32`
/// shapes (no dynamic type checks, no allocation), else through `Func::call`.
pub(crate) enum Callee {
    Dyn(Func, nanoproc_engine::FuncType),
    V0(TypedFunc<(), ()>),
    V1(TypedFunc<i32, ()>),
    V2(TypedFunc<(i32, i32), ()>),
    V3(TypedFunc<(i32, i32, i32), ()>),
    V4(TypedFunc<(i32, i32, i32, i32), ()>),
    R0(TypedFunc<(), i32>),
    R1(TypedFunc<i32, i32>),
    R2(TypedFunc<(i32, i32), i32>),
    R3(TypedFunc<(i32, i32, i32), i32>),
    R4(TypedFunc<(i32, i32, i32, i32), i32>),
}

impl Callee {
    pub(crate) fn new(func: Func, store: impl AsContext) -> Callee {
        macro_rules! try_typed {
            ($($variant:ident: $p:ty => $r:ty;)*) => {$(
                if let Ok(t) = func.typed::<$p, $r>(&store) {
                    return Callee::$variant(t);
                }
            )*};
        }
        try_typed! {
            V0: () => ();
            V1: i32 => ();
            V2: (i32, i32) => ();
            V3: (i32, i32, i32) => ();
            V4: (i32, i32, i32, i32) => ();
            R0: () => i32;
            R1: i32 => i32;
            R2: (i32, i32) => i32;
            R3: (i32, i32, i32) => i32;
            R4: (i32, i32, i32, i32) => i32;
        }
        let ty = func.ty(&store);
        Callee::Dyn(func, ty)
    }

    /// Calls with `args` (one cell per core value); a result goes to `results[0]`.
    pub(crate) fn call(
        &self,
        cx: &mut Caller<'_, Host>,
        args: &[u64],
        results: &mut [u64],
    ) -> Result<(), Error> {
        let a = |i: usize| args.get(i).map_or(0, |&c| c as u32 as i32);
        let mut put = |r: i32| {
            if let Some(slot) = results.first_mut() {
                *slot = r as u32 as u64;
            }
        };
        match self {
            Callee::V0(f) => f.call(cx, ())?,
            Callee::V1(f) => f.call(cx, a(0))?,
            Callee::V2(f) => f.call(cx, (a(0), a(1)))?,
            Callee::V3(f) => f.call(cx, (a(0), a(1), a(2)))?,
            Callee::V4(f) => f.call(cx, (a(0), a(1), a(2), a(3)))?,
            Callee::R0(f) => put(f.call(cx, ())?),
            Callee::R1(f) => put(f.call(cx, a(0))?),
            Callee::R2(f) => put(f.call(cx, (a(0), a(1)))?),
            Callee::R3(f) => put(f.call(cx, (a(0), a(1), a(2)))?),
            Callee::R4(f) => put(f.call(cx, (a(0), a(1), a(2), a(3)))?),
            Callee::Dyn(f, ty) => {
                let params: Vec<Val> = ty
                    .params()
                    .iter()
                    .zip(args)
                    .map(|(&t, &c)| cell_to_val(t, c))
                    .collect();
                let mut out: Vec<Val> = ty.results().iter().map(|&t| Val::default_for(t)).collect();
                f.call(&mut *cx, &params, &mut out)?;
                for (slot, v) in results.iter_mut().zip(out) {
                    *slot = val_to_cell(v);
                }
            }
        }
        Ok(())
    }
}

/// Which side of the call a fault is attributed to (the provider is poisoned for its own).
#[derive(Copy, Clone, PartialEq, Eq)]
enum Blame {
    Importer,
    Provider,
}

/// A fault: a message and who caused it.
struct Fault(Blame, String);

type Res<T> = Result<T, Fault>;

/// One side of a transfer, for messages and memory access.
#[derive(Copy, Clone)]
struct End {
    index: usize,
    memory: Option<Memory>,
    blame: Blame,
}

impl Link {
    /// The host function body: `cells` holds the importer's lowered arguments and receives
    /// its results.
    pub(crate) fn call(&self, cx: &mut Caller<'_, Host>, cells: &mut [u64]) -> Result<(), Error> {
        // A new call: no trap is unwinding.
        cx.data_mut().attributed = 0;
        let e = match self.call_inner(cx, cells) {
            Ok(()) => return Ok(()),
            Err(Outcome::Fault(Fault(blame, message))) => {
                if blame == Blame::Provider {
                    self.poison(cx, &message);
                }
                self.trap(cx, &message)
            }
            Err(Outcome::Error(e)) => e,
        };
        // Everything below this call has been attributed.
        cx.data_mut().attributed = match &e {
            Error::Trap(t) => t.backtrace.len(),
            _ => 0,
        };
        Err(e)
    }

    fn name_of<'a>(&self, cx: &'a Caller<'_, Host>, index: usize) -> &'a str {
        &cx.data().nanos[index].name
    }

    fn trap(&self, cx: &Caller<'_, Host>, message: &str) -> Error {
        Trap::new(TrapKind::Host(format!(
            "call from `{}` to `{}` ({}): {message}",
            self.name_of(cx, self.importer),
            self.name_of(cx, self.provider),
            self.name
        )))
        .into()
    }

    fn poison(&self, cx: &mut Caller<'_, Host>, why: &str) {
        poison(cx, self.provider, why.to_string());
    }

    fn call_inner(&self, cx: &mut Caller<'_, Host>, cells: &mut [u64]) -> Result<(), Outcome> {
        let host = cx.data();
        let (importer, provider) = (&host.nanos[self.importer], &host.nanos[self.provider]);
        if importer.in_realloc {
            return Err(Fault(
                Blame::Importer,
                format!(
                    "`{}` may not call other nanoprocesses from its cabi_realloc",
                    importer.name
                ),
            )
            .into());
        }
        if let Some(why) = &provider.poisoned {
            return Err(Fault(
                Blame::Importer,
                format!(
                    "`{}` is poisoned: it trapped earlier ({})",
                    provider.name,
                    why.lines().next().unwrap_or("")
                ),
            )
            .into());
        }
        let importer_memory = match importer.memory {
            Some(m) => Some(m),
            // Its start function may call before the runtime has recorded its exports.
            None => match cx.get_export("memory") {
                Some(Extern::Memory(m)) => Some(m),
                _ => None,
            },
        };
        let from = End {
            index: self.importer,
            memory: importer_memory,
            blame: Blame::Importer,
        };
        let to = End {
            index: self.provider,
            memory: provider.memory,
            blame: Blame::Provider,
        };
        let sig = &self.sig;

        // Arguments: validate in the importer, then lower into the provider.
        let mut args: Vec<u64> = Vec::with_capacity(sig.lifted.params().len());
        if sig.params_in_memory {
            let ptr = cells[0] as u32;
            let limit = cx.data().nanos[self.provider].memory_limit;
            let mut v = Validator::new(cx, from, self.provider, limit);
            v.tuple(&sig.params, ptr, "argument tuple")?;
            v.value(&sig.params, ptr as u64)?;
            let mut c = Copier { cx, from, to };
            let dst = c.alloc(sig.params.align, sig.params.size as u64)?;
            c.copy_mem(&sig.params, ptr as u64, dst as u64)?;
            args.push(dst as u64);
        } else {
            let n = sig.params.flat.len();
            let limit = cx.data().nanos[self.provider].memory_limit;
            let mut v = Validator::new(cx, from, self.provider, limit);
            v.flat(&sig.params, &cells[..n], &mut 0)?;
            let mut c = Copier { cx, from, to };
            c.copy_flat(&sig.params, &cells[..n], &mut 0, &mut args)?;
        }

        // The call itself.
        let mut results = [0u64; 1];
        if let Err(e) = self.export.call(cx, &args, &mut results) {
            return Err(Outcome::Error(self.provider_failed(cx, e, "")));
        }

        // The result: validate in the provider, then lower into the importer.
        let (from, to) = (
            End {
                blame: Blame::Provider,
                ..to
            },
            End {
                blame: Blame::Importer,
                ..from
            },
        );
        if let Some(result) = &sig.result {
            if sig.result_in_memory {
                let src = results[0] as u32;
                let retptr = cells[sig.lowered.params().len() - 1] as u32;
                let limit = cx.data().nanos[self.importer].memory_limit;
                let mut v = Validator::new(cx, from, self.importer, limit);
                v.tuple(result, src, "result")?;
                v.value(result, src as u64)?;
                // The return area is the importer's: it must be aligned and in bounds.
                let mut v = Validator::new(cx, to, self.importer, u64::MAX);
                v.tuple(result, retptr, "return area")?;
                let mut c = Copier { cx, from, to };
                c.copy_mem(result, src as u64, retptr as u64)?;
            } else if !result.flat.is_empty() {
                let cell = results[0];
                let mut v = Validator::new(cx, from, self.importer, 0);
                v.flat(result, &[cell], &mut 0)?;
                let mut out = Vec::with_capacity(1);
                let mut c = Copier { cx, from, to };
                c.copy_flat(result, &[cell], &mut 0, &mut out)?;
                cells[0] = out[0];
            }
        }

        // Let the provider free what it returned.
        if let Some(post) = &self.post {
            let n = sig.lifted.results().len();
            if let Err(e) = post.call(cx, &results[..n], &mut []) {
                return Err(Outcome::Error(self.provider_failed(
                    cx,
                    e,
                    " (in its cabi_post_ function)",
                )));
            }
        }
        Ok(())
    }

    /// The provider trapped (or exited): poison it and turn the error into a trap for the
    /// importer that names the provider and carries its backtrace.
    fn provider_failed(&self, cx: &mut Caller<'_, Host>, e: Error, during: &str) -> Error {
        let (e, own_frames) = attribute_direct_from(&mut *cx, e);
        let provider = self.name_of(cx, self.provider).to_string();
        let importer = self.name_of(cx, self.importer).to_string();
        let (what, backtrace) = match &e {
            // A nested nanoprocess failure already reads as a sentence; show it without
            // the generic "host error: " prefix of `TrapKind::Host`.
            Error::Trap(Trap {
                kind: TrapKind::Host(m),
                backtrace,
            }) => (m.clone(), backtrace.clone()),
            Error::Trap(t) => (t.kind.to_string(), t.backtrace.clone()),
            other => match other.downcast_ref::<I32Exit>() {
                Some(exit) => (format!("called proc_exit({})", exit.0), Vec::new()),
                None => (other.to_string(), Vec::new()),
            },
        };
        let mut message = format!(
            "nanoprocess `{provider}` trapped{during} while serving `{importer}`'s call to {}: {what}",
            self.name
        );
        // Its own frames: those of nanoprocesses it called are in their own blocks above.
        let own = backtrace.get(own_frames..).unwrap_or_default();
        if !own.is_empty() {
            message.push_str(&format!("\nbacktrace of `{provider}`:"));
            for (i, frame) in own.iter().enumerate() {
                message.push_str(&format!("\n  {i}: {frame}"));
            }
        }
        self.poison(cx, &message);
        // Out of fuel and interruption are limits of the whole calling chain: keep their
        // kind so the embedder can tell them apart.
        let kind = match &e {
            Error::Trap(t) if matches!(t.kind, TrapKind::OutOfFuel | TrapKind::Interrupted) => {
                t.kind.clone()
            }
            _ => TrapKind::Host(message),
        };
        Trap { kind, backtrace }.into()
    }
}

/// How a call failed: a fault found by the runtime, or an error to pass on as it is.
enum Outcome {
    Fault(Fault),
    Error(Error),
}

impl From<Fault> for Outcome {
    fn from(f: Fault) -> Outcome {
        Outcome::Fault(f)
    }
}

pub(crate) fn cell_to_val(t: nanoproc_engine::ValType, c: u64) -> Val {
    match t {
        nanoproc_engine::ValType::I64 => Val::I64(c as i64),
        nanoproc_engine::ValType::F32 => Val::F32(c as u32),
        nanoproc_engine::ValType::F64 => Val::F64(c),
        _ => Val::I32(c as u32 as i32),
    }
}

pub(crate) fn val_to_cell(v: Val) -> u64 {
    match v {
        Val::I32(v) => v as u32 as u64,
        Val::I64(v) => v as u64,
        Val::F32(v) => v as u64,
        Val::F64(v) => v,
        _ => 0,
    }
}

fn char_ok(c: u32) -> bool {
    c < 0x11_0000 && !(0xD800..=0xDFFF).contains(&c)
}

/// The validation pass: reads only the source memory, writes nothing.
struct Validator<'a> {
    mem: &'a [u8],
    who: &'a str,
    blame: Blame,
    /// Bytes the receiver may still be asked to allocate.
    budget: u64,
    limit: u64,
    receiver: &'a str,
}

impl<'a> Validator<'a> {
    /// Validates values `src` sends to `receiver`, whose memory holds at most `limit` bytes.
    fn new(cx: &'a Caller<'_, Host>, src: End, receiver: usize, limit: u64) -> Validator<'a> {
        let host = cx.data();
        let receiver = &host.nanos[receiver].name;
        Validator {
            mem: src.memory.map_or(&[][..], |m| m.data(cx)),
            who: &host.nanos[src.index].name,
            blame: src.blame,
            budget: limit,
            limit,
            receiver,
        }
    }

    fn fault(&self, message: String) -> Fault {
        Fault(self.blame, message)
    }

    fn load(&self, addr: u64, n: usize) -> Res<u64> {
        let bytes = usize::try_from(addr)
            .ok()
            .and_then(|a| self.mem.get(a..a.checked_add(n)?))
            .ok_or_else(|| {
                self.fault(format!(
                    "out-of-bounds read of {n} byte(s) at {addr:#x} in `{}`'s memory",
                    self.who
                ))
            })?;
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(bytes);
        Ok(u64::from_le_bytes(b))
    }

    /// A pointer to a whole value of type `ty` (argument tuple, result, return area).
    fn tuple(&mut self, ty: &Ty, ptr: u32, what: &str) -> Res<()> {
        if !ptr.is_multiple_of(ty.align) {
            return Err(self.fault(format!(
                "misaligned {what} pointer {ptr:#x} in `{}` (needs alignment {})",
                self.who, ty.align
            )));
        }
        if ptr as u64 + ty.size as u64 > self.mem.len() as u64 {
            return Err(self.fault(format!(
                "{what} at {ptr:#x} ({} bytes) is out of bounds of `{}`'s memory ({} bytes)",
                ty.size,
                self.who,
                self.mem.len()
            )));
        }
        self.spend(ty.size as u64)
    }

    fn spend(&mut self, bytes: u64) -> Res<()> {
        match self.budget.checked_sub(bytes) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(self.fault(format!(
                "the value `{}` passes needs more than the {} bytes `{}`'s memory may hold",
                self.who, self.limit, self.receiver
            ))),
        }
    }

    fn string(&mut self, ptr: u32, len: u32) -> Res<()> {
        let len = len as u64;
        if len > MAX_STRING_BYTES {
            return Err(self.fault(format!(
                "string of {len} bytes from `{}` is longer than 2^31-1 bytes",
                self.who
            )));
        }
        let start = ptr as usize;
        let Some(bytes) = self.mem.get(start..start + len as usize) else {
            return Err(self.fault(format!(
                "string at {ptr:#x} ({len} bytes) is out of bounds of `{}`'s memory ({} bytes)",
                self.who,
                self.mem.len()
            )));
        };
        if let Err(e) = std::str::from_utf8(bytes) {
            return Err(self.fault(format!(
                "string at {ptr:#x} ({len} bytes) from `{}` is not valid UTF-8 (at byte {})",
                self.who,
                e.valid_up_to()
            )));
        }
        self.spend(len)
    }

    fn list(&mut self, elem: &Ty, ptr: u32, len: u32) -> Res<()> {
        if !ptr.is_multiple_of(elem.align) {
            return Err(self.fault(format!(
                "misaligned list pointer {ptr:#x} from `{}` (list<{}> needs alignment {})",
                self.who,
                elem.describe(),
                elem.align
            )));
        }
        let bytes = len as u64 * elem.size as u64;
        if ptr as u64 + bytes > self.mem.len() as u64 {
            return Err(self.fault(format!(
                "list at {ptr:#x} ({len} elements, {bytes} bytes) is out of bounds of `{}`'s memory ({} bytes)",
                self.who,
                self.mem.len()
            )));
        }
        self.spend(bytes)?;
        if elem.checked && elem.size > 0 {
            for i in 0..len as u64 {
                self.value(elem, ptr as u64 + i * elem.size as u64)?;
            }
        }
        Ok(())
    }

    /// A value in memory at `addr` (aligned and in bounds: checked by the caller).
    fn value(&mut self, ty: &Ty, addr: u64) -> Res<()> {
        if !ty.checked {
            return Ok(());
        }
        match &ty.kind {
            Kind::Char => {
                let c = self.load(addr, 4)? as u32;
                if !char_ok(c) {
                    return Err(self.fault(format!(
                        "invalid char {c:#x} at {addr:#x} from `{}`",
                        self.who
                    )));
                }
            }
            Kind::String => {
                let (p, l) = (self.load(addr, 4)?, self.load(addr + 4, 4)?);
                self.string(p as u32, l as u32)?;
            }
            Kind::List(elem) => {
                let (p, l) = (self.load(addr, 4)?, self.load(addr + 4, 4)?);
                self.list(elem, p as u32, l as u32)?;
            }
            Kind::Record { fields, .. } => {
                for (offset, t) in fields {
                    self.value(t, addr + *offset as u64)?;
                }
            }
            Kind::Variant(v) => {
                let disc = self.load(addr, v.disc_size as usize)?;
                match v.cases.get(disc as usize) {
                    None => {
                        return Err(self.fault(format!(
                        "bad discriminant {disc} at {addr:#x} from `{}` (the type has {} cases)",
                        self.who,
                        v.cases.len()
                    )))
                    }
                    Some(Some(t)) => self.value(t, addr + v.payload_offset as u64)?,
                    Some(None) => {}
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Flat values `cells[*i..]` of type `ty`.
    fn flat(&mut self, ty: &Ty, cells: &[u64], i: &mut usize) -> Res<()> {
        match &ty.kind {
            Kind::Char => {
                let c = cells[*i] as u32;
                if !char_ok(c) {
                    return Err(self.fault(format!("invalid char {c:#x} from `{}`", self.who)));
                }
                *i += 1;
            }
            Kind::String => {
                self.string(cells[*i] as u32, cells[*i + 1] as u32)?;
                *i += 2;
            }
            Kind::List(elem) => {
                self.list(elem, cells[*i] as u32, cells[*i + 1] as u32)?;
                *i += 2;
            }
            Kind::Record { fields, .. } => {
                for (_, t) in fields {
                    self.flat(t, cells, i)?;
                }
            }
            Kind::Variant(v) => {
                let disc = cells[*i] as u32;
                *i += 1;
                let start = *i;
                match v.cases.get(disc as usize) {
                    None => {
                        return Err(self.fault(format!(
                            "bad discriminant {disc} from `{}` (the type has {} cases)",
                            self.who,
                            v.cases.len()
                        )))
                    }
                    Some(Some(t)) => {
                        // A 32-bit payload in a joined i64 slot must have clear high bits.
                        for (k, want) in t.flat.iter().enumerate() {
                            if v.payload_flat[k] == Core::I64
                                && want.is_32()
                                && cells[start + k] >> 32 != 0
                            {
                                return Err(self.fault(format!(
                                    "variant payload from `{}` has high bits set in a 32-bit value",
                                    self.who
                                )));
                            }
                        }
                        let mut j = start;
                        self.flat(t, cells, &mut j)?;
                    }
                    Some(None) => {}
                }
                *i = start + v.payload_flat.len();
            }
            _ => *i += ty.flat.len(),
        }
        Ok(())
    }
}

/// The copy pass: the value was validated, so reads of the source cannot fail; only the
/// receiver's `cabi_realloc` can misbehave.
struct Copier<'c, 'd> {
    cx: &'c mut Caller<'d, Host>,
    from: End,
    to: End,
}

impl Copier<'_, '_> {
    fn name(&self, index: usize) -> &str {
        &self.cx.data().nanos[index].name
    }

    fn memory(&self, end: End) -> Res<Memory> {
        end.memory.ok_or_else(|| {
            Fault(
                end.blame,
                format!(
                    "`{}` exports no memory named `memory`",
                    self.name(end.index)
                ),
            )
        })
    }

    /// Allocates `size` bytes aligned to `align` in the receiver with its `cabi_realloc`,
    /// checking what it returns.
    fn alloc(&mut self, align: u32, size: u64) -> Result<u32, Outcome> {
        let to = self.to;
        let memory = self.memory(to)?;
        let who = |c: &Self| c.name(to.index).to_string();
        let realloc = match self.cx.data().nanos[to.index].realloc {
            Some(r) => Some(r),
            // The importer's start function may call before its exports are recorded; the
            // caller is the importer then.
            None if to.blame == Blame::Importer => match self.cx.get_export("cabi_realloc") {
                Some(Extern::Func(f)) => f.typed(&*self.cx).ok(),
                _ => None,
            },
            None => None,
        };
        let Some(realloc) = realloc else {
            let who = who(self);
            return Err(Fault(to.blame, format!("`{who}` exports no cabi_realloc")).into());
        };
        self.cx.data_mut().nanos[to.index].in_realloc = true;
        refresh_direct(&mut *self.cx, Some(to.index));
        let r = realloc.call(&mut *self.cx, (0, 0, align as i32, size as u32 as i32));
        self.cx.data_mut().nanos[to.index].in_realloc = false;
        refresh_direct(&mut *self.cx, Some(to.index));
        let ptr = match r {
            Ok(p) => p as u32,
            Err(e) => {
                let who = who(self);
                let what = match &e {
                    Error::Trap(t) => format!("{t}\n{}", t.backtrace_string()),
                    other => other.to_string(),
                };
                return Err(
                    Fault(to.blame, format!("`{who}`'s cabi_realloc failed: {what}")).into(),
                );
            }
        };
        if ptr % align != 0 {
            let who = who(self);
            return Err(Fault(
                to.blame,
                format!(
                    "`{who}`'s cabi_realloc returned {ptr:#x}, not aligned to {align} as asked"
                ),
            )
            .into());
        }
        let len = memory.data_size(&*self.cx) as u64;
        if ptr as u64 + size > len {
            let who = who(self);
            return Err(Fault(
                to.blame,
                format!(
                    "`{who}`'s cabi_realloc returned {ptr:#x} for {size} bytes, out of bounds of its memory ({len} bytes)"
                ),
            )
            .into());
        }
        Ok(ptr)
    }

    fn read(&self, memory: Memory, addr: u64, n: usize) -> Result<u64, Outcome> {
        let mut b = [0u8; 8];
        memory
            .read(&*self.cx, addr as usize, &mut b[..n])
            .map_err(|e| self.access_fault(e))?;
        Ok(u64::from_le_bytes(b))
    }

    fn write(&mut self, memory: Memory, addr: u64, value: u64, n: usize) -> Result<(), Outcome> {
        memory
            .write(&mut *self.cx, addr as usize, &value.to_le_bytes()[..n])
            .map_err(|e| self.access_fault(e))
    }

    fn zero(&mut self, memory: Memory, start: u64, end: u64) {
        if let Some(bytes) = memory
            .data_mut(&mut *self.cx)
            .get_mut(start as usize..end as usize)
        {
            bytes.fill(0);
        }
    }

    fn bulk(&mut self, src: u64, dst: u64, len: u64) -> Result<(), Outcome> {
        let (from, to) = (self.memory(self.from)?, self.memory(self.to)?);
        from.copy_to(&mut *self.cx, src as usize, &to, dst as usize, len as usize)
            .map_err(|e| self.access_fault(e))
    }

    /// An access the validation pass should have ruled out; still a clean trap if the
    /// receiver's own code changed what it had allocated.
    fn access_fault(&self, e: nanoproc_engine::MemoryAccessError) -> Outcome {
        let (from, to) = (self.name(self.from.index), self.name(self.to.index));
        Fault(
            self.to.blame,
            format!("copying from `{from}` to `{to}`: {e}"),
        )
        .into()
    }

    fn copy_string(&mut self, ptr: u32, len: u32) -> Result<u32, Outcome> {
        let dst = self.alloc(1, len as u64)?;
        self.bulk(ptr as u64, dst as u64, len as u64)?;
        Ok(dst)
    }

    fn copy_list(&mut self, elem: &Ty, ptr: u32, len: u32) -> Result<u32, Outcome> {
        let size = elem.size as u64;
        let dst = self.alloc(elem.align, len as u64 * size)?;
        self.bulk(ptr as u64, dst as u64, len as u64 * size)?;
        if !elem.plain && size > 0 {
            for i in 0..len as u64 {
                self.fixup(elem, ptr as u64 + i * size, dst as u64 + i * size)?;
            }
        }
        Ok(dst)
    }

    /// Copies a value of `ty` from `src` (source memory) to `dst` (receiver memory, already
    /// allocated): all its bytes at once, then whatever is not plain bytes.
    fn copy_mem(&mut self, ty: &Ty, src: u64, dst: u64) -> Result<(), Outcome> {
        self.bulk(src, dst, ty.size as u64)?;
        self.fixup(ty, src, dst)
    }

    /// After a bulk copy: re-reads from the source what must not be taken verbatim and
    /// writes the receiver's version (nested strings and lists copied, `bool`s as 0/1,
    /// unused flag bits, padding and unused payload bytes zeroed).
    fn fixup(&mut self, ty: &Ty, src: u64, dst: u64) -> Result<(), Outcome> {
        if ty.plain {
            return Ok(());
        }
        let (from, to) = (self.memory(self.from)?, self.memory(self.to)?);
        match &ty.kind {
            Kind::Bool => {
                let b = self.read(from, src, 1)?;
                self.write(to, dst, (b != 0) as u64, 1)?;
            }
            Kind::String => {
                let (p, l) = (self.read(from, src, 4)?, self.read(from, src + 4, 4)?);
                let q = self.copy_string(p as u32, l as u32)?;
                self.write(to, dst, q as u64 | (l << 32), 8)?;
            }
            Kind::List(elem) => {
                let (p, l) = (self.read(from, src, 4)?, self.read(from, src + 4, 4)?);
                let q = self.copy_list(elem, p as u32, l as u32)?;
                self.write(to, dst, q as u64 | (l << 32), 8)?;
            }
            Kind::Record { fields, padding } => {
                for (offset, t) in fields {
                    self.fixup(t, src + *offset as u64, dst + *offset as u64)?;
                }
                for &(a, b) in padding {
                    self.zero(to, dst + a as u64, dst + b as u64);
                }
            }
            Kind::Variant(v) => {
                let disc = self.read(from, src, v.disc_size as usize)?;
                let po = v.payload_offset as u64;
                self.zero(to, dst + v.disc_size as u64, dst + po);
                let used = match v.cases.get(disc as usize) {
                    Some(Some(t)) => {
                        self.fixup(t, src + po, dst + po)?;
                        t.size as u64
                    }
                    _ => 0,
                };
                self.zero(to, dst + po + used, dst + ty.size as u64);
            }
            Kind::Flags(n) => {
                let n = *n as u64;
                let (word, words) = match ty.size {
                    1 | 2 => (ty.size as u64, 1),
                    s => (4, s as u64 / 4),
                };
                for k in 0..words {
                    let bits = (n - k * 32).min(word * 8);
                    let mask = if bits >= 64 {
                        u64::MAX
                    } else {
                        (1 << bits) - 1
                    };
                    let v = self.read(from, src + k * word, word as usize)?;
                    self.write(to, dst + k * word, v & mask, word as usize)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Copies flat values `cells[*i..]` of type `ty`, appending the receiver's to `out`.
    fn copy_flat(
        &mut self,
        ty: &Ty,
        cells: &[u64],
        i: &mut usize,
        out: &mut Vec<u64>,
    ) -> Result<(), Outcome> {
        let c = cells.get(*i).copied().unwrap_or(0);
        match &ty.kind {
            Kind::Bool => out.push((c as u32 != 0) as u64),
            Kind::U8 => out.push(c & 0xff),
            Kind::S8 => out.push(c as u8 as i8 as i32 as u32 as u64),
            Kind::U16 => out.push(c & 0xffff),
            Kind::S16 => out.push(c as u16 as i16 as i32 as u32 as u64),
            Kind::U32 | Kind::S32 | Kind::Char | Kind::F32 => out.push(c as u32 as u64),
            Kind::U64 | Kind::S64 | Kind::F64 => out.push(c),
            Kind::String => {
                let l = cells[*i + 1] as u32;
                let q = self.copy_string(c as u32, l)?;
                out.extend([q as u64, l as u64]);
                *i += 2;
                return Ok(());
            }
            Kind::List(elem) => {
                let l = cells[*i + 1] as u32;
                let q = self.copy_list(elem, c as u32, l)?;
                out.extend([q as u64, l as u64]);
                *i += 2;
                return Ok(());
            }
            Kind::Record { fields, .. } => {
                for (_, t) in fields {
                    self.copy_flat(t, cells, i, out)?;
                }
                return Ok(());
            }
            Kind::Variant(v) => {
                out.push(c as u32 as u64);
                *i += 1;
                let (start_in, start_out) = (*i, out.len());
                if let Some(Some(t)) = v.cases.get(c as u32 as usize) {
                    let mut j = start_in;
                    self.copy_flat(t, cells, &mut j, out)?;
                }
                // Unused payload slots are zero.
                out.resize(start_out + v.payload_flat.len(), 0);
                *i = start_in + v.payload_flat.len();
                return Ok(());
            }
            Kind::Flags(n) => {
                let words = ty.flat.len();
                for k in 0..words {
                    let bits = (*n as usize - k * 32).min(32);
                    let mask = if bits == 32 {
                        u32::MAX
                    } else {
                        (1 << bits) - 1
                    };
                    out.push((cells[*i + k] as u32 & mask) as u64);
                }
                *i += words;
                return Ok(());
            }
        }
        *i += 1;
        Ok(())
    }
}
