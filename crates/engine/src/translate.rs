//! Translation of validated wasm function bodies into the slot-addressed IR (`crate::ir`).
//!
//! The translator validates each operator with wasmparser first (unless the body was
//! validated already, by `validate_function`, for lazy translation), then mirrors the wasm
//! operand stack at compile time. Each compile-time entry knows where its value lives:
//! in its canonical slot (its stack position), in a local's slot, or as a constant not yet
//! written anywhere. Values are only written to their canonical slot when they must be
//! ("materialized"): as call arguments, at control-flow merges, before the local they alias is
//! overwritten. That is what lets `local.get` and constants cost nothing at run time.
//!
//! Invariants:
//! - Slot entries always sit in their canonical slot.
//! - At the entry of every block, loop and if, no entry aliases a local (so no arm or
//!   iteration can see a stale alias); loop and if parameters are fully materialized.
//! - Unreachable code is validated but not translated.

use crate::error::Error;
use crate::ir::*;
use crate::module::{CompiledFunc, ModuleInner};
use crate::simd::{self, SimdBinary, SimdLoad, SimdOp, SimdShift, SimdTernary};
use crate::types::ValType;
use wasmparser::{BlockType, FuncValidator, FunctionBody, Operator, ValidatorResources};

pub(crate) struct ModuleEnv<'a> {
    pub(crate) module: &'a ModuleInner,
}

/// Reusable buffers, so translating many functions does not reallocate.
#[derive(Default)]
pub(crate) struct TranslatorAllocs {
    stack: Vec<Entry>,
    saved: Vec<Entry>,
    fixups: Vec<Vec<u32>>,
    local_slots: Vec<u32>,
    local_types: Vec<ValType>,
}

#[derive(Copy, Clone, Debug, PartialEq)]
enum Src {
    /// In its canonical slot (`Entry::pos`).
    Slot,
    /// Aliases the local stored at this slot.
    Local(u32),
    Const(u64),
    /// A v128 constant, by its index in the function's constant pool (`consts`): an
    /// entry stays 24 bytes, not 48.
    Const128(u32),
}

#[derive(Copy, Clone, Debug)]
struct Entry {
    src: Src,
    ty: ValType,
    /// Canonical slot: the cell height below this entry.
    pos: u32,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    Func,
    Block,
    Loop,
    If,
    Else,
}

#[derive(Debug)]
struct Control<'a> {
    kind: Kind,
    /// Pushed in unreachable code: only nesting is tracked.
    dead: bool,
    params: &'a [ValType],
    results: &'a [ValType],
    /// Stack entries below the block's parameters.
    height: usize,
    /// Cell position of the first parameter/result.
    base: u32,
    /// Loop header.
    start: Target,
    /// Index into `fixups` of branches waiting for this block's end.
    fixups: usize,
    /// The `BrIfEqz` of an `if`, to be pointed at the `else` arm.
    else_patch: Option<u32>,
    /// Where the saved `if` parameters start in `saved`.
    saved_start: usize,
    /// Whether a branch targets the end of this block.
    end_targeted: bool,
}

static ONE_TYPE: [[ValType; 1]; 7] = [
    [ValType::I32],
    [ValType::I64],
    [ValType::F32],
    [ValType::F64],
    [ValType::V128],
    [ValType::FuncRef],
    [ValType::ExternRef],
];

fn one_type(t: ValType) -> &'static [ValType] {
    let i = match t {
        ValType::I32 => 0,
        ValType::I64 => 1,
        ValType::F32 => 2,
        ValType::F64 => 3,
        ValType::V128 => 4,
        ValType::FuncRef => 5,
        ValType::ExternRef => 6,
    };
    &ONE_TYPE[i]
}

fn cells_of(tys: &[ValType]) -> u32 {
    tys.iter().map(|t| t.cells()).sum()
}

struct Translator<'a, 'b> {
    module: &'a ModuleInner,
    code: Vec<Instr>,
    offsets: Vec<u32>,
    consts: Vec<u128>,
    stack: &'b mut Vec<Entry>,
    control: Vec<Control<'a>>,
    saved: &'b mut Vec<Entry>,
    fixups: &'b mut Vec<Vec<u32>>,
    fixups_used: usize,
    local_slots: &'b [u32],
    local_types: &'b [ValType],
    local_cells: u32,
    max_cells: u32,
    reachable: bool,
    /// Number of stack entries aliasing a local (skip scans when zero).
    local_aliases: usize,
    /// The last instruction wrote the top-of-stack entry and may be redirected.
    fusable: Option<usize>,
    /// The last position handed out as a jump target: fusions that remove an instruction
    /// must not cross it.
    barrier: usize,
    /// A slot did not fit an instruction's 16-bit field: the frame is past the window, and
    /// the function is refused when it ends (`cells_per_function`), so what was emitted
    /// for it never runs.
    oversized: bool,
    /// Fuel metering: the `ConsumeFuel` of the current region.
    fuel: bool,
    fuel_region: Option<usize>,
    offset: u32,
    /// Declared locals still known to hold zero (bit `i`: local `first_declared + i`, for
    /// the first 64): nothing has written them since function entry, on any path. Setting
    /// such a local to a zero constant emits nothing (compilers often spell out `x = 0` for
    /// locals the entry already zeroed, e.g. an accumulator at the top of a hot function).
    /// Bits only ever clear; every write clears one, and a loop header clears all (its
    /// back edge may bring a written value). A forward label needs no care: each branch to
    /// it comes from earlier code, where at least the same bits were set.
    zero_locals: u64,
    first_declared: u32,
}

pub(crate) fn translate_function(
    env: &ModuleEnv<'_>,
    func_index: u32,
    body: &FunctionBody<'_>,
    mut validator: Option<&mut FuncValidator<ValidatorResources>>,
    allocs: &mut TranslatorAllocs,
) -> Result<CompiledFunc, Error> {
    let module = env.module;
    let ty = module.func_type(func_index);

    // Locals: parameters first, then declared locals, each at a fixed cell offset.
    let mut local_types = std::mem::take(&mut allocs.local_types);
    let mut local_slots = std::mem::take(&mut allocs.local_slots);
    local_types.clear();
    local_slots.clear();
    local_types.extend_from_slice(ty.params());
    let mut reader = body.get_binary_reader();
    read_locals(
        module,
        func_index,
        &mut reader,
        validator.as_deref_mut(),
        |count, t| {
            // Validation bounds the total number of locals, so this cannot blow up.
            local_types.extend(std::iter::repeat_n(t, count as usize));
        },
    )?;
    let mut cell = 0u32;
    for t in &local_types {
        local_slots.push(cell);
        cell += t.cells();
    }
    let local_cells = cell;

    let multi_memory = module
        .engine
        .config()
        .features()
        .contains(wasmparser::WasmFeatures::MULTI_MEMORY);
    let mut stack = std::mem::take(&mut allocs.stack);
    let mut saved = std::mem::take(&mut allocs.saved);
    let mut fixups = std::mem::take(&mut allocs.fixups);
    stack.clear();
    saved.clear();
    // Recognized before translating, as a `strlen` starts with its fast path (see `idioms`).
    let idiom = crate::idioms::recognize(ty.params(), ty.results(), &local_types, body);
    let result = {
        let mut t = Translator {
            module,
            code: Vec::with_capacity((body.range().end - body.range().start) as usize / 2 + 4),
            offsets: Vec::with_capacity((body.range().end - body.range().start) as usize / 2 + 4),
            consts: Vec::new(),
            stack: &mut stack,
            control: Vec::new(),
            saved: &mut saved,
            fixups: &mut fixups,
            fixups_used: 0,
            local_slots: &local_slots,
            local_types: &local_types,
            local_cells,
            max_cells: local_cells,
            reachable: true,
            local_aliases: 0,
            fusable: None,
            barrier: 0,
            oversized: false,
            fuel: module.engine.config().consume_fuel,
            fuel_region: None,
            offset: reader.original_position() as u32,
            zero_locals: match local_types.len() - ty.params().len() {
                n if n >= 64 => u64::MAX,
                n => (1u64 << n) - 1,
            },
            first_declared: ty.params().len() as u32,
        };
        t.function_entry();
        t.push_control(
            Kind::Func,
            ty.params().get(..0).unwrap_or(&[]),
            ty.results(),
            0,
        );
        t.control[0].base = local_cells;
        if idiom == Some(crate::idioms::Idiom::Strlen) {
            t.strlen_fast_path();
        }
        match validator {
            // Each operator is decoded once, validated as it is decoded and translated
            // where it was decoded (`Translating`); the validator's frame stack serves the
            // reader too.
            Some(v) => {
                while !reader.eof() {
                    let offset = reader.original_position();
                    t.offset = offset as u32;
                    let memory_size_or_grow = reader.visit_operator(&mut Translating {
                        validator: v.visitor(offset),
                        translator: &mut t,
                    })??;
                    if memory_size_or_grow {
                        check_memory_index_byte(offset, reader.original_position(), multi_memory)?;
                    }
                }
                reader.finish_expression(&v.visitor(reader.original_position()))?;
            }
            None => {
                // Validated before (lazy translation): the reader keeps the frame stack.
                let mut ops = wasmparser::OperatorsReader::new(reader);
                while !ops.eof() {
                    let offset = ops.original_position();
                    t.offset = offset as u32;
                    let memory_size_or_grow = ops.visit_operator(&mut Translating {
                        validator: AlreadyValidated,
                        translator: &mut t,
                    })??;
                    if memory_size_or_grow {
                        check_memory_index_byte(offset, ops.original_position(), multi_memory)?;
                    }
                }
                ops.finish()?;
            }
        }
        if let Some(multi3 @ crate::idioms::Idiom::Multi3 { .. }) = idiom {
            t.replace_with_idiom(multi3, t.offset);
        }
        thread_jumps(&mut t.code);
        fuse_moves_into_jumps(&mut t.code);
        // Backward branches poll for interruption, unless fuel's loop-header regions do.
        let config = module.engine.config();
        let poll = config.interruptible && !config.consume_fuel;
        mark_backward(&mut t.code, poll, t.offset as u64)?;
        let frame_cells = t.max_cells.max(ty.result_cells()).max(ty.param_cells()) + 2;
        // The interpreter addresses a frame through a fixed window of cells (so operand
        // accesses need no bounds checks): a frame must fit in it.
        if frame_cells as usize > crate::exec::FRAME_WINDOW || t.oversized {
            return Err(crate::limits::module_limit(
                "cells_per_function",
                crate::exec::FRAME_WINDOW,
                format!("{frame_cells} cells (locals and operands) in function {func_index}"),
                t.offset as u64,
            ));
        }
        Ok::<_, Error>(CompiledFunc {
            code: crate::threaded::thread(t.code),
            offsets: t.offsets.into_boxed_slice(),
            consts: t.consts.into_boxed_slice(),
            param_cells: ty.param_cells(),
            local_cells,
            frame_cells,
        })
    };
    allocs.stack = stack;
    allocs.saved = saved;
    allocs.fixups = fixups;
    allocs.local_slots = local_slots;
    allocs.local_types = local_types;
    result
}

/// Reads a body's local declarations (checking the locals limit, and declaring them to
/// `validator` if there is one), handing each group to `each` as (count, type).
fn read_locals(
    module: &ModuleInner,
    func_index: u32,
    reader: &mut wasmparser::BinaryReader<'_>,
    mut validator: Option<&mut FuncValidator<ValidatorResources>>,
    mut each: impl FnMut(u32, ValType),
) -> Result<(), Error> {
    let limits = &module.engine.config().module_limits;
    let groups = reader.read_var_u32()?;
    let mut locals = module.func_type(func_index).params().len() as u64;
    for _ in 0..groups {
        let offset = reader.original_position();
        let count = reader.read_var_u32()?;
        locals += count as u64;
        if locals > limits.locals_per_function as u64 {
            return Err(crate::limits::module_limit(
                "locals_per_function",
                limits.locals_per_function,
                format!("at least {locals} in function {func_index}"),
                offset,
            ));
        }
        let vt: wasmparser::ValType = reader.read()?;
        if let Some(v) = validator.as_deref_mut() {
            v.define_locals(offset, count, vt)?;
        }
        let t = ValType::from_wasmparser(vt).ok_or_else(|| {
            Error::Compile(crate::error::CompileError {
                message: "unsupported local type".into(),
                offset,
            })
        })?;
        each(count, t);
    }
    Ok(())
}

/// Without multi-memory, the memory index of `memory.size`/`memory.grow` (the operator
/// from `offset` to `end`) is a reserved zero byte, not a LEB128 (which wasmparser would
/// accept): the operator is 2 bytes.
fn check_memory_index_byte(offset: u64, end: u64, multi_memory: bool) -> Result<(), Error> {
    if !multi_memory && end - offset != 2 {
        return Err(Error::Compile(crate::error::CompileError {
            message: "zero byte expected".into(),
            offset: offset + 1,
        }));
    }
    Ok(())
}

/// The `br_table_targets` limit, checked by translation and by lazy validation alike.
fn check_br_table_targets(module: &ModuleInner, targets: u32, offset: u64) -> Result<(), Error> {
    let limit = module.engine.config().module_limits.br_table_targets;
    if targets > limit {
        return Err(crate::limits::module_limit(
            "br_table_targets",
            limit,
            targets,
            offset,
        ));
    }
    Ok(())
}

/// What validating a body without translating it decided (lazy translation).
pub(crate) enum Validated {
    /// Translate on its first call: the translation cannot fail, and its frame will need
    /// at most `frame_bound` cells.
    Deferred { frame_bound: u32 },
    /// Translate now: the body has v128 constants or shuffle masks (they go to the
    /// module's pool, which is built once), or it is large enough that an
    /// implementation limit of the translation might reject it, which must happen here,
    /// not at a call.
    TranslateNow,
}

/// Bodies at least this large are translated at once: each wasm byte becomes at most a few
/// thousand instructions (a call moving 1000 arguments), so smaller ones cannot reach the
/// per-function instruction limit (`BACKWARD`).
const LAZY_BODY_BYTES: usize = (BACKWARD as usize) / 4096;

/// A forwarding visitor's `simd_visitor`: itself where its validator has one. Without
/// one (as in the validator's own case), the reader reports the SIMD operator.
macro_rules! simd_visitor_as_the_validator {
    () => {
        fn simd_visitor(
            &mut self,
        ) -> Option<&mut dyn wasmparser::VisitSimdOperator<'a, Output = Self::Output>> {
            match self.validator.simd_visitor() {
                Some(_) => Some(self),
                None => None,
            }
        }
    };
}

/// An operator lazy validation must look at beyond what the validator checks.
#[derive(Copy, Clone)]
enum Noticed {
    Nothing,
    /// `br_table` with this many targets (besides the default).
    BrTable {
        targets: u32,
    },
    /// `memory.size` or `memory.grow` (their memory index byte).
    MemorySizeOrGrow,
    /// `v128.const` or `i8x16.shuffle`: the body needs the module's constant pool.
    PoolConstant,
    /// A SIMD operator the validator had no visitor for (a broken invariant).
    NoSimdValidator,
}

/// Forwards every operator to the validator `V`, noting the ones in [`Noticed`].
struct Noticing<V> {
    validator: V,
    noticed: Noticed,
}

// One forwarding method per operator (`wasmparser::for_each_visit_operator!` lists them);
// `notice!` picks the operators to note by name.
macro_rules! forward_operators {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            fn $visit(&mut self $($(, $arg: $argty)*)?) -> Self::Output {
                notice!(self, $visit $($(, $arg)*)?);
                self.validator.$visit($($($arg),*)?)
            }
        )*
    };
}
macro_rules! notice {
    ($self:ident, visit_br_table, $targets:ident) => {
        $self.noticed = Noticed::BrTable {
            targets: $targets.len(),
        }
    };
    ($self:ident, visit_memory_size $(, $arg:ident)*) => {
        $self.noticed = Noticed::MemorySizeOrGrow
    };
    ($self:ident, visit_memory_grow $(, $arg:ident)*) => {
        $self.noticed = Noticed::MemorySizeOrGrow
    };
    ($self:ident, visit_v128_const $(, $arg:ident)*) => {
        $self.noticed = Noticed::PoolConstant
    };
    ($self:ident, visit_i8x16_shuffle $(, $arg:ident)*) => {
        $self.noticed = Noticed::PoolConstant
    };
    ($self:ident, $visit:ident $(, $arg:ident)*) => {};
}

// The SIMD operators reach the validator through its `simd_visitor`, as the reader's own
// dispatch does.
macro_rules! forward_simd_operators {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            fn $visit(&mut self $($(, $arg: $argty)*)?) -> Self::Output {
                notice!(self, $visit $($(, $arg)*)?);
                match self.validator.simd_visitor() {
                    Some(validator) => validator.$visit($($($arg),*)?),
                    // Not reached: `simd_visitor` offers these only when the validator has
                    // them.
                    None => {
                        self.noticed = Noticed::NoSimdValidator;
                        Ok(())
                    }
                }
            }
        )*
    };
}

impl<'a, V> wasmparser::VisitOperator<'a> for Noticing<V>
where
    V: wasmparser::VisitOperator<'a, Output = wasmparser::Result<()>>,
{
    type Output = wasmparser::Result<()>;

    simd_visitor_as_the_validator!();

    wasmparser::for_each_visit_operator!(forward_operators);
}

impl<'a, V> wasmparser::VisitSimdOperator<'a> for Noticing<V>
where
    V: wasmparser::VisitOperator<'a, Output = wasmparser::Result<()>>,
{
    wasmparser::for_each_visit_simd_operator!(forward_simd_operators);
}

impl<V: wasmparser::FrameStack> wasmparser::FrameStack for Noticing<V> {
    fn current_frame(&self) -> Option<wasmparser::FrameKind> {
        self.validator.current_frame()
    }
}

/// Validates each operator with the validator `V` as it is decoded (`AlreadyValidated`
/// for a body validated at `Module::new`), then translates it there: an operator is
/// decoded once and matched once for validation (`FuncValidator::op` on a decoded
/// `Operator` would match it a second time), and no `Operator` is copied whole after being
/// written a field at a time (which stalled on store forwarding). The output tells whether
/// it was `memory.size` or `memory.grow`, whose encoding the caller checks.
struct Translating<'t, 'a, 'b, V> {
    validator: V,
    translator: &'t mut Translator<'a, 'b>,
}

// One method per operator, building the operator as wasmparser's own `read` does.
macro_rules! validate_and_translate {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            fn $visit(&mut self $($(, $arg: $argty)*)?) -> Self::Output {
                self.validator.$visit($($($arg.clone()),*)?)?;
                self.translator.translate(Operator::$op $({ $($arg),* })?)?;
                Ok(is_memory_size_or_grow!($visit))
            }
        )*
    };
}

macro_rules! is_memory_size_or_grow {
    (visit_memory_size) => {
        true
    };
    (visit_memory_grow) => {
        true
    };
    ($visit:ident) => {
        false
    };
}

macro_rules! validate_and_translate_simd {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            fn $visit(&mut self $($(, $arg: $argty)*)?) -> Self::Output {
                match self.validator.simd_visitor() {
                    Some(validator) => validator.$visit($($($arg.clone()),*)?)?,
                    // Not reached: `simd_visitor` offers these only when the validator has
                    // them.
                    None => {
                        return Err(crate::module::internal_error(
                            "a SIMD operator reached validation without a SIMD validator",
                        ))
                    }
                }
                self.translator.translate(Operator::$op $({ $($arg),* })?)?;
                Ok(false)
            }
        )*
    };
}

#[allow(clippy::clone_on_copy)]
impl<'a, V> wasmparser::VisitOperator<'a> for Translating<'_, '_, '_, V>
where
    V: wasmparser::VisitOperator<'a, Output = wasmparser::Result<()>>,
{
    type Output = Result<bool, Error>;

    simd_visitor_as_the_validator!();

    wasmparser::for_each_visit_operator!(validate_and_translate);
}

#[allow(clippy::clone_on_copy)]
impl<'a, V> wasmparser::VisitSimdOperator<'a> for Translating<'_, '_, '_, V>
where
    V: wasmparser::VisitOperator<'a, Output = wasmparser::Result<()>>,
{
    wasmparser::for_each_visit_simd_operator!(validate_and_translate_simd);
}

impl<V: wasmparser::FrameStack> wasmparser::FrameStack for Translating<'_, '_, '_, V> {
    fn current_frame(&self) -> Option<wasmparser::FrameKind> {
        self.validator.current_frame()
    }
}

/// The validator of a body validated before (lazy translation): accepts every operator.
struct AlreadyValidated;

macro_rules! accept_all {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            #[inline(always)]
            fn $visit(&mut self $($(, $arg: $argty)*)?) -> Self::Output {
                $($(let _ = $arg;)*)?
                Ok(())
            }
        )*
    };
}

impl<'a> wasmparser::VisitOperator<'a> for AlreadyValidated {
    type Output = wasmparser::Result<()>;

    fn simd_visitor(
        &mut self,
    ) -> Option<&mut dyn wasmparser::VisitSimdOperator<'a, Output = Self::Output>> {
        Some(self)
    }

    wasmparser::for_each_visit_operator!(accept_all);
}

impl<'a> wasmparser::VisitSimdOperator<'a> for AlreadyValidated {
    wasmparser::for_each_visit_simd_operator!(accept_all);
}

/// Validates a body in full, and checks every limit its translation would check, without
/// translating it. After `Validated::Deferred`, `translate_function` without a validator
/// succeeds on the same body.
pub(crate) fn validate_function(
    env: &ModuleEnv<'_>,
    func_index: u32,
    body: &FunctionBody<'_>,
    validator: &mut FuncValidator<ValidatorResources>,
) -> Result<Validated, Error> {
    let module = env.module;
    let ty = module.func_type(func_index);
    let mut reader = body.get_binary_reader();
    let mut local_cells = u64::from(ty.param_cells());
    read_locals(
        module,
        func_index,
        &mut reader,
        Some(&mut *validator),
        |count, t| local_cells += u64::from(count) * u64::from(t.cells()),
    )?;
    let multi_memory = module
        .engine
        .config()
        .features()
        .contains(wasmparser::WasmFeatures::MULTI_MEMORY);
    let mut now = body.range().end - body.range().start >= LAZY_BODY_BYTES as u64;
    let mut max_height = 0u32;
    // The validator visits each operator straight from the reader (as
    // `FuncValidator::validate` does), through `Noticing`, which picks out the few
    // operators the limits concern as they are visited: no second decoding of the opcode.
    while !reader.eof() {
        let offset = reader.original_position();
        let noticed = {
            let mut visitor = Noticing {
                validator: validator.visitor(offset),
                noticed: Noticed::Nothing,
            };
            reader.visit_operator(&mut visitor)??;
            visitor.noticed
        };
        match noticed {
            Noticed::Nothing => {}
            Noticed::BrTable { targets } => check_br_table_targets(module, targets, offset)?,
            Noticed::MemorySizeOrGrow => {
                check_memory_index_byte(offset, reader.original_position(), multi_memory)?
            }
            Noticed::PoolConstant => now = true,
            Noticed::NoSimdValidator => {
                return Err(crate::module::internal_error(
                    "a SIMD operator reached validation without a SIMD validator",
                ))
            }
        }
        max_height = max_height.max(validator.operand_stack_height());
    }
    reader.finish_expression(&validator.visitor(reader.original_position()))?;
    // The translator's operand cells mirror the wasm operand stack (at most 2 cells a
    // value), above the locals; see `translate_function` for the rest of the frame.
    let frame_bound = (local_cells + 2 * u64::from(max_height))
        .max(u64::from(ty.result_cells()))
        .max(u64::from(ty.param_cells()))
        + 2;
    if now || frame_bound > crate::exec::FRAME_WINDOW as u64 {
        return Ok(Validated::TranslateNow);
    }
    Ok(Validated::Deferred {
        frame_bound: frame_bound as u32,
    })
}

/// `load` (an `i32.load`, plain or at `(x << s) + C` without an offset) and the
/// `br_table` with `len` targets on slot `index` after it as one `BrTableLoad*`, if the
/// load wrote `index` and the fields fit.
fn table_load(load: Instr, index: Slot, len: u32) -> Option<Instr> {
    if load.dst() != Some(index) {
        return None;
    }
    match load {
        Instr::I32Load(l) => Some(Instr::BrTableLoad {
            dst: u16::try_from(l.dst).ok()?,
            addr: u16::try_from(l.addr).ok()?,
            offset: l.offset,
            len,
        }),
        Instr::I32LoadDisp(l) if l.offset == 0 => Some(Instr::BrTableLoadDisp {
            dst: l.dst,
            addr: l.addr,
            shift: l.shift,
            disp: l.disp,
            len,
        }),
        _ => None,
    }
}

/// `load` (an `i32.load`, from a constant address too, or an `i32.load8_u`) and the
/// conditional `branch` after it, which tests the loaded value, as one `BrLoad*`, if the fields fit: the test becomes a
/// comparison of the loaded value (a comparison with the value on the right is turned
/// around). The fused instruction still writes the value, so nothing else need be dead.
fn load_branch(load: Instr, branch: Instr) -> Option<Instr> {
    let v = match load {
        Instr::I32Load(l) | Instr::I32Load8U(l) => l.dst,
        Instr::I32LoadAbs(l) => l.dst,
        Instr::I32LoadPreStep(l)
        | Instr::I32Load8UPreStep(l)
        | Instr::I32LoadPostStep(l)
        | Instr::I32Load8UPostStep(l) => Slot::from(l.dst),
        _ => return None,
    };
    let slot = |s: Slot| Some(u16::try_from(s).ok()? as i16);
    let imm = |i: i32| i16::try_from(i).ok();
    use LoadTest as T;
    // (test with the value on the left, the same with it on the right, lhs, rhs)
    let cmp = |t: T, swapped: T, lhs: Slot, rhs: Slot| {
        if lhs == v {
            Some((t, slot(rhs)?))
        } else if rhs == v {
            Some((swapped, slot(lhs)?))
        } else {
            None
        }
    };
    let with_imm = |t: T, lhs: Slot, i: i32| if lhs == v { Some((t, imm(i)?)) } else { None };
    let (test, other) = match branch {
        Instr::BrIfNez { cond, .. } if cond == v => (T::Nez, 0),
        Instr::BrIfEqz { cond, .. } if cond == v => (T::Eqz, 0),
        Instr::BrI32Eq { lhs, rhs, .. } => cmp(T::Eq, T::Eq, lhs, rhs)?,
        Instr::BrI32Ne { lhs, rhs, .. } => cmp(T::Ne, T::Ne, lhs, rhs)?,
        Instr::BrI32LtS { lhs, rhs, .. } => cmp(T::LtS, T::GtS, lhs, rhs)?,
        Instr::BrI32LtU { lhs, rhs, .. } => cmp(T::LtU, T::GtU, lhs, rhs)?,
        Instr::BrI32GtS { lhs, rhs, .. } => cmp(T::GtS, T::LtS, lhs, rhs)?,
        Instr::BrI32GtU { lhs, rhs, .. } => cmp(T::GtU, T::LtU, lhs, rhs)?,
        Instr::BrI32LeS { lhs, rhs, .. } => cmp(T::LeS, T::GeS, lhs, rhs)?,
        Instr::BrI32LeU { lhs, rhs, .. } => cmp(T::LeU, T::GeU, lhs, rhs)?,
        Instr::BrI32GeS { lhs, rhs, .. } => cmp(T::GeS, T::LeS, lhs, rhs)?,
        Instr::BrI32GeU { lhs, rhs, .. } => cmp(T::GeU, T::LeU, lhs, rhs)?,
        Instr::BrI32EqImm { lhs, imm, .. } => with_imm(T::EqImm, lhs, imm)?,
        Instr::BrI32NeImm { lhs, imm, .. } => with_imm(T::NeImm, lhs, imm)?,
        Instr::BrI32LtSImm { lhs, imm, .. } => with_imm(T::LtSImm, lhs, imm)?,
        Instr::BrI32LtUImm { lhs, imm, .. } => with_imm(T::LtUImm, lhs, imm)?,
        Instr::BrI32GtSImm { lhs, imm, .. } => with_imm(T::GtSImm, lhs, imm)?,
        Instr::BrI32GtUImm { lhs, imm, .. } => with_imm(T::GtUImm, lhs, imm)?,
        Instr::BrI32LeSImm { lhs, imm, .. } => with_imm(T::LeSImm, lhs, imm)?,
        Instr::BrI32LeUImm { lhs, imm, .. } => with_imm(T::LeUImm, lhs, imm)?,
        Instr::BrI32GeSImm { lhs, imm, .. } => with_imm(T::GeSImm, lhs, imm)?,
        Instr::BrI32GeUImm { lhs, imm, .. } => with_imm(T::GeUImm, lhs, imm)?,
        _ => return None,
    };
    let target = branch.target()?;
    // No offset; after the load, a step of the loaded value's own register would change
    // the value tested.
    let stepped = |l: LoadStep, post: bool| {
        (l.offset == 0 && !(post && l.dst == l.addr)).then_some(())?;
        Some(LoadStepBr {
            dst: l.dst,
            addr: l.addr,
            step: i16::try_from(l.step).ok()?,
            test,
            other,
            target,
        })
    };
    let fused = |l: Load| {
        Some(LoadBr {
            dst: u16::try_from(l.dst).ok()?,
            addr: u16::try_from(l.addr).ok()?,
            offset: u16::try_from(l.offset).ok()?,
            test,
            other,
            target,
        })
    };
    match load {
        Instr::I32Load(l) => fused(l).map(Instr::BrLoad),
        Instr::I32Load8U(l) => fused(l).map(Instr::BrLoad8U),
        Instr::I32LoadAbs(l) => Some(Instr::BrLoadAbs(LoadAbsBr {
            dst: u16::try_from(l.dst).ok()?,
            addr: l.addr,
            test,
            other,
            target,
        })),
        Instr::I32LoadPreStep(l) => stepped(l, false).map(Instr::BrLoadPreStep),
        Instr::I32Load8UPreStep(l) => stepped(l, false).map(Instr::BrLoad8UPreStep),
        Instr::I32LoadPostStep(l) => stepped(l, true).map(Instr::BrLoadPostStep),
        Instr::I32Load8UPostStep(l) => stepped(l, true).map(Instr::BrLoad8UPostStep),
        _ => None,
    }
}

/// The two adds a pair instruction from `fuse_pair` runs (`I32AddImm2`, `I32Add2`), in
/// order.
fn split_adds(pair: Instr) -> Option<(Instr, Instr)> {
    let s = Slot::from;
    match pair {
        Instr::I32AddImm2 {
            dst,
            lhs,
            imm,
            dst2,
            lhs2,
            imm2,
        } => Some((
            Instr::I32AddImm(BinImm {
                dst: s(dst),
                lhs: s(lhs),
                imm: i32::from(imm),
            }),
            Instr::I32AddImm(BinImm {
                dst: s(dst2),
                lhs: s(lhs2),
                imm: i32::from(imm2),
            }),
        )),
        Instr::I32Add2 {
            dst,
            lhs,
            rhs,
            dst2,
            lhs2,
            rhs2,
        } => Some((
            Instr::I32Add(Bin {
                dst: s(dst),
                lhs: s(lhs),
                rhs: s(rhs),
            }),
            Instr::I32Add(Bin {
                dst: s(dst2),
                lhs: s(lhs2),
                rhs: s(rhs2),
            }),
        )),
        _ => None,
    }
}

/// `dst = acc + mul.lhs * mul.rhs`, if every slot fits the fused form.
fn mul_acc(dst: Slot, acc: Slot, mul: Bin) -> Option<MulAcc> {
    Some(MulAcc {
        dst: u16::try_from(dst).ok()?,
        acc: u16::try_from(acc).ok()?,
        lhs: u16::try_from(mul.lhs).ok()?,
        rhs: u16::try_from(mul.rhs).ok()?,
    })
}

macro_rules! bin {
    ($self:ident, $op:ident) => {
        $self.binary(Instr::$op, None, None)
    };
    ($self:ident, $op:ident, $imm:ident) => {
        $self.binary(Instr::$op, Some(Instr::$imm), None)
    };
    ($self:ident, $op:ident, $imm:ident, $swapped:ident) => {
        $self.binary(Instr::$op, Some(Instr::$imm), Some(Instr::$swapped))
    };
}

impl<'a, 'b> Translator<'a, 'b> {
    // ------------------------------------------------------------------ emission

    fn emit(&mut self, instr: Instr) -> usize {
        self.fusable = None;
        if let Some(region) = self.fuel_region {
            if let Instr::ConsumeFuel { amount } = &mut self.code[region] {
                *amount = amount.saturating_add(1);
            }
        }
        self.code.push(instr);
        self.offsets.push(self.offset);
        self.code.len() - 1
    }

    /// `regs[dst] = regs[src]`, merged into the previous instruction when that is a copy
    /// too or an `i32.add x C` (and no jump target lies between them): one `Copy2` or
    /// `I32AddImmCopy` dispatch instead of two.
    fn emit_copy(&mut self, dst: Slot, src: Slot) {
        let last = self.code.len().wrapping_sub(1);
        if let (Some(&first), true) = (self.code.last(), last >= self.barrier) {
            let u = |s: Slot| u16::try_from(s).ok();
            let merged = match first {
                Instr::Copy(first) => (|| {
                    Some(Instr::Copy2 {
                        dst: u(first.dst)?,
                        src: u(first.src)?,
                        dst2: u(dst)?,
                        src2: u(src)?,
                    })
                })(),
                Instr::I32AddImm(add) => (|| {
                    Some(Instr::I32AddImmCopy {
                        dst: u(add.dst)?,
                        lhs: u(add.lhs)?,
                        imm: add.imm,
                        dst2: u(dst)?,
                        src2: u(src)?,
                    })
                })(),
                _ => None,
            };
            if let Some(merged) = merged {
                self.code[last] = merged;
                self.fusable = None;
                return;
            }
        }
        self.emit(Instr::Copy(Un { dst, src }));
    }

    /// The current position, as a jump target: nothing before it may be fused with what
    /// follows (see `barrier`).
    fn pc(&mut self) -> Target {
        self.barrier = self.code.len();
        self.code.len() as Target
    }

    /// Binds a jump target here.
    fn label(&mut self) -> Target {
        self.fusable = None;
        self.pc()
    }

    /// Starts a fuel region here (function entry, loop header): a `ConsumeFuel` carrying
    /// the size of the code up to the next region start.
    fn fuel_region(&mut self) -> Target {
        let here = self.code.len();
        self.barrier = here;
        self.fuel_region = None;
        self.fusable = None;
        self.code.push(Instr::ConsumeFuel { amount: 0 });
        self.offsets.push(self.offset);
        self.fuel_region = Some(here);
        here as Target
    }

    /// A loop header. Without fuel it needs no instruction: the interpreter polls for
    /// interruption on every taken backward branch, which is what keeps a loop running.
    fn loop_header(&mut self) -> Target {
        if self.fuel {
            self.fuel_region()
        } else {
            self.pc()
        }
    }

    /// Function entry: the first fuel region. (Without fuel, recursion — which has no
    /// backward branch — is made stoppable by the interpreter polling on every call, which
    /// costs no dispatch.)
    fn function_entry(&mut self) {
        if self.fuel {
            self.fuel_region();
        }
    }

    fn patch(&mut self, at: u32, to: Target) {
        self.code[at as usize].set_target(to);
    }

    /// Emits "branch if `cond` is `when`" (target patched later) and returns its index.
    /// A comparison computed by the previous instruction just for this branch is fused
    /// into it, so `br_if (i32.lt_s a b)` and `if (i32.eqz x)` are one instruction; then
    /// what computed the branch's operand may fuse too (see `fuse_into_branch`).
    fn cond_branch(&mut self, cond: Entry, when: bool) -> u32 {
        if let (Src::Slot, Some(idx)) = (cond.src, self.fusable) {
            let last = self.code[idx];
            if last.dst() == Some(cond.pos) {
                if let Some(fused) = fused_branch(last, when) {
                    self.code[idx] = fused;
                    self.fusable = None;
                    return self.fuse_into_branch(idx, Some(last));
                }
            }
        }
        let cond = self.operand(cond);
        let instr = if when {
            Instr::BrIfNez { cond, target: 0 }
        } else {
            Instr::BrIfEqz { cond, target: 0 }
        };
        let at = self.emit(instr);
        self.fuse_into_branch(at, None)
    }

    /// Fuses into the conditional branch at `at` (the last instruction) the instruction
    /// before it when that computed the branch's operand: a mask (and the `1 << x` it
    /// masks), a float comparison under an absorbed `i32.eqz`, an increment, a load (and
    /// the byte read before a table lookup), a store to a C global. `absorbed` is the
    /// comparison the branch replaced, if any. Returns the branch's index.
    fn fuse_into_branch(&mut self, at: usize, absorbed: Option<Instr>) -> u32 {
        match absorbed {
            // The eqz overwrote its operand in place: if a mask computed that operand,
            // nothing else reads it.
            Some(Instr::I32Eqz(u)) if u.dst == u.src => {
                if let Some(at) = self.fuse_mask(at) {
                    return self.fuse_mask_source(at as usize);
                }
                if let Some(at) = self.fuse_negated_compare(at) {
                    return at;
                }
            }
            Some(Instr::I32AndImm(_)) => return self.fuse_mask_source(at),
            _ => {}
        }
        let at = self.fuse_increment(at);
        self.fuse_load(at as usize)
    }

    /// The conditional branch just emitted at `at` (the last instruction) absorbed an
    /// `i32.eqz` of a comparison the instruction before it computed, which nothing else
    /// reads: `if (!(a < b))` on floats, whose comparison cannot be inverted (NaN), so the
    /// `eqz` was not folded into it. Both become the comparison's branch (`BrF64NotLt`).
    /// Not when a label lies between them. The branch's new index, if fused.
    fn fuse_negated_compare(&mut self, at: usize) -> Option<u32> {
        let prev = at.checked_sub(1)?;
        if self.barrier > prev || at + 1 != self.code.len() {
            return None;
        }
        let (cond, when) = match self.code[at] {
            Instr::BrIfNez { cond, .. } => (cond, true),
            Instr::BrIfEqz { cond, .. } => (cond, false),
            _ => return None,
        };
        let cmp = self.code[prev];
        if cmp.dst() != Some(cond) {
            return None;
        }
        let mut fused = fused_branch(cmp, when)?;
        fused.set_target(self.code[at].target()?);
        self.code[prev] = fused;
        self.drop_merged_last();
        Some(prev as u32)
    }

    /// The conditional branch just emitted at `at` (the last instruction) tests the value
    /// that the instruction before it loaded (the byte of C string loops, `while (*p)`,
    /// and of parsers' character classes, `if (class[c])`; a word compared, a global) or
    /// stored in a C global: both become one `BrLoad*` (which still writes the value) or
    /// `BrStoreAbs*`. Not when a label lies between them. Returns the branch's index.
    fn fuse_load(&mut self, at: usize) -> u32 {
        let Some(prev) = at.checked_sub(1) else {
            return at as u32;
        };
        if self.barrier > prev || at + 1 != self.code.len() {
            return at as u32;
        }
        let (nez, cond) = match self.code[at] {
            Instr::BrIfNez { cond, .. } => (true, cond),
            Instr::BrIfEqz { cond, .. } => (false, cond),
            branch => {
                // A comparison of the loaded value (with a slot or a small constant).
                let Some(fused) = load_branch(self.code[prev], branch) else {
                    return at as u32;
                };
                self.code[prev] = fused;
                self.drop_merged_last();
                return prev as u32;
            }
        };
        let target = 0;
        let fused = match self.code[prev] {
            // A global just assigned the value tested (the store keeps its offset).
            Instr::I32StoreAbs(st) if st.src == cond => Some(if nez {
                Instr::BrStoreAbsNez {
                    src: st.src,
                    addr: st.addr,
                    target,
                }
            } else {
                Instr::BrStoreAbsEqz {
                    src: st.src,
                    addr: st.addr,
                    target,
                }
            }),
            // A table lookup at `x + C` (no offset, no shift).
            Instr::I32Load8UDisp(l)
                if Slot::from(l.dst) == cond && l.shift == 0 && l.offset == 0 =>
            {
                let (dst, addr, disp) = (l.dst, l.addr, l.disp);
                Some(if nez {
                    Instr::BrLoad8UDispNez {
                        dst,
                        addr,
                        disp,
                        target,
                    }
                } else {
                    Instr::BrLoad8UDispEqz {
                        dst,
                        addr,
                        disp,
                        target,
                    }
                })
            }
            load => load_branch(load, self.code[at]),
        };
        let Some(fused) = fused else {
            return at as u32;
        };
        self.code[prev] = fused;
        self.drop_merged_last();
        self.fuse_lookup(prev)
    }

    /// Whether `len` bytes at the constant address `addr` lie within the first memory's
    /// minimum size, so that an access there can never trap (memories only grow).
    fn in_minimum_memory(&self, addr: u32, len: u64) -> bool {
        let min_bytes = self
            .module
            .memories
            .first()
            .map_or(0, |m| u64::from(m.minimum) * 65_536);
        u64::from(addr) + len <= min_bytes
    }

    /// The `BrLoad8UDisp*` at `at` (the last instruction) looks up a byte that the
    /// instruction before it loaded through a pointer (`if (class[*p])`): both become one
    /// `BrLoad8ULookup*`, when the table lies within the memory's minimum size, so that
    /// only the first load can trap (the fused instruction reports the first's offset).
    /// Not when a label lies between them. Returns the branch's index.
    fn fuse_lookup(&mut self, at: usize) -> u32 {
        let Some(prev) = at.checked_sub(1) else {
            return at as u32;
        };
        let (Instr::I32Load8U(first), true) = (self.code[prev], self.barrier <= prev) else {
            return at as u32;
        };
        let (nez, dst2, addr, disp, target) = match self.code[at] {
            Instr::BrLoad8UDispNez {
                dst,
                addr,
                disp,
                target,
            } => (true, dst, addr, disp, target),
            Instr::BrLoad8UDispEqz {
                dst,
                addr,
                disp,
                target,
            } => (false, dst, addr, disp, target),
            _ => return at as u32,
        };
        // Every byte `disp + 0..=255` (no wrap) lies in the first memory's minimum size.
        let table_fits = self.in_minimum_memory(disp as u32, 256);
        let (Ok(dst), Ok(first_addr)) = (u16::try_from(first.dst), u16::try_from(first.addr))
        else {
            return at as u32;
        };
        if !table_fits || first.offset != 0 || dst != addr {
            return at as u32;
        }
        self.code[prev] = if nez {
            Instr::BrLoad8ULookupNez {
                dst,
                addr: first_addr,
                dst2,
                disp,
                target,
            }
        } else {
            Instr::BrLoad8ULookupEqz {
                dst,
                addr: first_addr,
                dst2,
                disp,
                target,
            }
        };
        self.drop_merged_last();
        prev as u32
    }

    /// The conditional branch just emitted at `at` (the last instruction) tests a mask
    /// that the instruction before it computed and nothing else reads (`if (!(x & C))`,
    /// whose `i32.eqz` the branch absorbed): both become one `BrI32AndImm*`. Not when a
    /// label lies between them. The branch's new index, if fused.
    fn fuse_mask(&mut self, at: usize) -> Option<u32> {
        let prev = at.checked_sub(1)?;
        if self.barrier > prev || at + 1 != self.code.len() {
            return None;
        }
        let Instr::I32AndImm(mask) = self.code[prev] else {
            return None;
        };
        let (lhs, imm, target) = (mask.lhs, mask.imm, 0);
        self.code[prev] = match self.code[at] {
            Instr::BrIfNez { cond, .. } if cond == mask.dst => {
                Instr::BrI32AndImmNez { lhs, imm, target }
            }
            Instr::BrIfEqz { cond, .. } if cond == mask.dst => {
                Instr::BrI32AndImmEqz { lhs, imm, target }
            }
            _ => return None,
        };
        self.drop_merged_last();
        Some(prev as u32)
    }

    /// Fuses into the flag-test branch just made at `at` (the last instruction) what
    /// computed the value it masks, if it is a bit or zero-byte test. The branch's index.
    fn fuse_mask_source(&mut self, at: usize) -> u32 {
        match self.fuse_zero_byte(at) {
            Some(at) => at,
            None => self.fuse_bit_test(at),
        }
    }

    /// The flag-test branch just made at `at` (the last instruction) masks
    /// `(x + C) & (x ^ -1)` that the three instructions before it computed through
    /// temporaries (the "has a zero byte" test of word-at-a-time string functions): all
    /// four become one `BrZeroByte*`. Not when a label lies between them. The branch's new
    /// index, if fused.
    fn fuse_zero_byte(&mut self, at: usize) -> Option<u32> {
        let first = at.checked_sub(3)?;
        if self.barrier > first || at + 1 != self.code.len() {
            return None;
        }
        let (nez, masked, mask) = match self.code[at] {
            Instr::BrI32AndImmNez { lhs, imm, .. } => (true, lhs, imm),
            Instr::BrI32AndImmEqz { lhs, imm, .. } => (false, lhs, imm),
            _ => return None,
        };
        let Instr::I32And(and) = self.code[at - 1] else {
            return None;
        };
        // The three results are temporaries, each read once, by the next step: locals
        // would be read later.
        let temporary = |slot: Slot| slot >= self.local_cells;
        if and.dst != masked || !temporary(and.dst) {
            return None;
        }
        let (not, add) = match (self.code[first], self.code[first + 1]) {
            (Instr::I32XorImm(not), Instr::I32AddImm(add))
            | (Instr::I32AddImm(add), Instr::I32XorImm(not)) => (not, add),
            _ => return None,
        };
        let x = not.lhs;
        let operands_match =
            (and.lhs, and.rhs) == (not.dst, add.dst) || (and.lhs, and.rhs) == (add.dst, not.dst);
        // Both read `x` itself, not the other's result.
        let both_read_x = add.lhs == x && x != not.dst && x != add.dst;
        if not.imm != -1
            || !operands_match
            || !both_read_x
            || not.dst == add.dst
            || !temporary(not.dst)
            || !temporary(add.dst)
        {
            return None;
        }
        let src = u16::try_from(x).ok()?;
        let (add, target) = (add.imm, 0);
        self.code[first] = if nez {
            Instr::BrZeroByteNez {
                src,
                add,
                mask,
                target,
            }
        } else {
            Instr::BrZeroByteEqz {
                src,
                add,
                mask,
                target,
            }
        };
        for _ in 0..3 {
            self.drop_merged_last();
        }
        Some(first as u32)
    }

    /// The flag-test branch just made at `at` (the last instruction) tests a mask of
    /// `1 << x` that the instruction before it computed into a temporary (a `switch`
    /// lowered to a bit test): both become one `BrBit*`. Not when a label lies between
    /// them. Returns the branch's index.
    fn fuse_bit_test(&mut self, at: usize) -> u32 {
        let Some(prev) = at.checked_sub(1) else {
            return at as u32;
        };
        if self.barrier > prev || at + 1 != self.code.len() {
            return at as u32;
        }
        let (nez, s, mask) = match self.code[at] {
            Instr::BrI32AndImmNez { lhs, imm, .. } => (true, lhs, imm),
            Instr::BrI32AndImmEqz { lhs, imm, .. } => (false, lhs, imm),
            _ => return at as u32,
        };
        // The shift's result was consumed by the mask; a local would be read later.
        let Instr::I32ShlRevImm(shl) = self.code[prev] else {
            return at as u32;
        };
        if shl.imm != 1 || shl.dst != s || s < self.local_cells {
            return at as u32;
        }
        let (bit, target) = (shl.lhs, 0);
        self.code[prev] = if nez {
            Instr::BrBitNez { bit, mask, target }
        } else {
            Instr::BrBitEqz { bit, mask, target }
        };
        self.drop_merged_last();
        prev as u32
    }

    /// Removes the last instruction, now part of the one before it.
    fn drop_merged_last(&mut self) {
        self.code.pop();
        self.offsets.pop();
        // The region's fuel counted both instructions; one is left.
        if let Some(region) = self.fuel_region {
            if let Instr::ConsumeFuel { amount } = &mut self.code[region] {
                *amount = amount.saturating_sub(1);
            }
        }
        self.fusable = None;
    }

    /// Merges the last two instructions into one when they form a pair with a fused form:
    /// a pointer step and a load through the pointer, either order (`*++p`, `*p++`), a
    /// store then a step (`*p++ = x`), two `i32.add x C` or two `i32.add` in a row, an
    /// add and an xor-rotate (ARX rounds), or a word moved between a field and a C global.
    /// Called where the last instruction has just become final (a load or a store emitted,
    /// an add redirected into its local); the one before it is final already, so no later
    /// fusion looks for it. Not across a jump target. The fused instruction does both in
    /// the original order.
    fn fuse_pair(&mut self) {
        let Some(prev) = self.code.len().checked_sub(2) else {
            return;
        };
        if self.barrier > prev {
            return;
        }
        let u = |s: Slot| u16::try_from(s).ok();
        let load_step = |l: Load, addr: Slot, step: i32| {
            Some(LoadStep {
                dst: u(l.dst)?,
                addr: u(addr)?,
                step,
                offset: l.offset,
            })
        };
        let store_step = |st: Store, step: i32| {
            Some(StoreStep {
                addr: u(st.addr)?,
                src: u(st.src)?,
                step,
                offset: st.offset,
            })
        };
        let (first, second) = (self.code[prev], self.code[prev + 1]);
        // The instruction that can trap, whose wasm offset the fused one keeps.
        let mut trapping = prev;
        let fused = match (first, second) {
            (Instr::I32AddImm(a), Instr::I32Load(l)) if a.dst == a.lhs && l.addr == a.dst => {
                trapping = prev + 1;
                load_step(l, a.dst, a.imm).map(Instr::I32LoadPreStep)
            }
            (Instr::I32AddImm(a), Instr::I32Load8U(l)) if a.dst == a.lhs && l.addr == a.dst => {
                trapping = prev + 1;
                load_step(l, a.dst, a.imm).map(Instr::I32Load8UPreStep)
            }
            (Instr::I32Load(l), Instr::I32AddImm(a)) if a.dst == a.lhs && l.addr == a.dst => {
                load_step(l, a.dst, a.imm).map(Instr::I32LoadPostStep)
            }
            (Instr::I32Load8U(l), Instr::I32AddImm(a)) if a.dst == a.lhs && l.addr == a.dst => {
                load_step(l, a.dst, a.imm).map(Instr::I32Load8UPostStep)
            }
            (Instr::I32Store(st), Instr::I32AddImm(a)) if a.dst == a.lhs && st.addr == a.dst => {
                store_step(st, a.imm).map(Instr::I32StorePostStep)
            }
            (Instr::I32Store8(st), Instr::I32AddImm(a)) if a.dst == a.lhs && st.addr == a.dst => {
                store_step(st, a.imm).map(Instr::I32Store8PostStep)
            }
            (Instr::I32Add(a), Instr::I32Add(b)) => (|| {
                Some(Instr::I32Add2 {
                    dst: u(a.dst)?,
                    lhs: u(a.lhs)?,
                    rhs: u(a.rhs)?,
                    dst2: u(b.dst)?,
                    lhs2: u(b.lhs)?,
                    rhs2: u(b.rhs)?,
                })
            })(),
            (Instr::I32Add(a), Instr::I32XorRotl(b)) => (|| {
                Some(Instr::I32AddXorRotl {
                    dst: u(a.dst)?,
                    lhs: u(a.lhs)?,
                    rhs: u(a.rhs)?,
                    dst2: b.dst,
                    lhs2: b.lhs,
                    rhs2: b.rhs,
                    shift: b.shift,
                })
            })(),
            // A word moved between a field and a global whose address cannot trap.
            (Instr::I32Load(l), Instr::I32StoreAbs(st))
                if st.src == l.dst && self.in_minimum_memory(st.addr, 4) =>
            {
                (|| {
                    Some(Instr::I32LoadStoreAbs {
                        dst: u(l.dst)?,
                        addr: u(l.addr)?,
                        offset: l.offset,
                        abs: st.addr,
                    })
                })()
            }
            (Instr::I32LoadAbs(l), Instr::I32Store(st))
                if st.src == l.dst && self.in_minimum_memory(l.addr, 4) =>
            {
                trapping = prev + 1;
                (|| {
                    Some(Instr::I32LoadAbsStore {
                        dst: u(l.dst)?,
                        abs: l.addr,
                        addr: u(st.addr)?,
                        offset: st.offset,
                    })
                })()
            }
            (
                Instr::V128Shuffle32To(_) | Instr::V128Shuffle16To(_),
                Instr::V128Shuffle32To(_) | Instr::V128Shuffle16To(_),
            ) => compose_shuffles(first, second),
            // An `i32x4.add` after an `i32x4.add` (`a += m; a += b`), or after a dot
            // product it accumulates.
            (
                Instr::V128Binary {
                    op: first_op @ (SimdBinary::I32x4Add | SimdBinary::I32x4DotI16x8S),
                    dst,
                    lhs,
                    rhs,
                },
                Instr::V128Binary {
                    op: SimdBinary::I32x4Add,
                    dst: dst2,
                    lhs: lhs2,
                    rhs: rhs2,
                },
            ) => (|| {
                let (dst, lhs, rhs, dst2) = (u(dst)?, u(lhs)?, u(rhs)?, u(dst2)?);
                let (lhs2, rhs2) = (u(lhs2)?, u(rhs2)?);
                if first_op == SimdBinary::I32x4Add {
                    return Some(Instr::V128Add2 {
                        dst,
                        lhs,
                        rhs,
                        dst2,
                        lhs2,
                        rhs2,
                    });
                }
                let other = match (lhs2 == dst, rhs2 == dst) {
                    (true, _) => rhs2,
                    (false, true) => lhs2,
                    (false, false) => return None,
                };
                Some(Instr::V128DotAdd {
                    dst,
                    lhs,
                    rhs,
                    dst2,
                    other,
                })
            })(),
            (
                Instr::V128Binary {
                    op: SimdBinary::V128Xor,
                    dst,
                    lhs,
                    rhs,
                },
                Instr::V128Rotl32Imm {
                    dst: dst2,
                    lhs: rotated,
                    amount,
                },
            ) if rotated == dst => (|| {
                Some(Instr::V128XorRotl32 {
                    dst: u(dst)?,
                    lhs: u(lhs)?,
                    rhs: u(rhs)?,
                    dst2: u(dst2)?,
                    amount: u8::try_from(amount).ok()?,
                })
            })(),
            (
                Instr::V128Binary {
                    op: SimdBinary::I32x4Add,
                    dst,
                    lhs,
                    rhs,
                },
                Instr::V128XorRotl32 {
                    dst: xored,
                    lhs: xor_lhs,
                    rhs: xor_rhs,
                    dst2,
                    amount,
                },
            ) if u(dst).is_some_and(|sum| sum == xor_lhs || sum == xor_rhs) => (|| {
                let sum = u(dst)?;
                Some(Instr::V128AddXorRotl32 {
                    dst: sum,
                    lhs: u(lhs)?,
                    rhs: u(rhs)?,
                    dst2: xored,
                    other: if xor_lhs == sum { xor_rhs } else { xor_lhs },
                    dst3: dst2,
                    amount,
                })
            })(),
            (Instr::I64Add(a), Instr::I64Xor(x)) if x.lhs == a.dst || x.rhs == a.dst => (|| {
                Some(Instr::I64AddXor {
                    dst: u(a.dst)?,
                    lhs: u(a.lhs)?,
                    rhs: u(a.rhs)?,
                    dst2: u(x.dst)?,
                    other: u(if x.lhs == a.dst { x.rhs } else { x.lhs })?,
                })
            })(
            ),
            (Instr::I32AddImm(a), Instr::I32AddImm(b)) => (|| {
                Some(Instr::I32AddImm2 {
                    dst: u(a.dst)?,
                    lhs: u(a.lhs)?,
                    imm: i16::try_from(a.imm).ok()?,
                    dst2: u(b.dst)?,
                    lhs2: u(b.lhs)?,
                    imm2: i16::try_from(b.imm).ok()?,
                })
            })(),
            _ => None,
        };
        let Some(fused) = fused else {
            return;
        };
        self.code[prev] = fused;
        self.offsets[prev] = self.offsets[trapping];
        self.drop_merged_last();
        // A vector rotation or xor-rotation may now fuse with the instruction before it
        // (composed shuffles that rotate, after the xor that feeds them).
        if matches!(
            fused,
            Instr::V128Rotl32Imm { .. } | Instr::V128XorRotl32 { .. }
        ) {
            self.fuse_pair();
        }
    }

    /// The conditional branch just emitted at `at` (the last instruction) tests a local
    /// that the instruction before it incremented in place, as a counted loop's tail does
    /// (`i += C; br_if i != n`): both become one `BrInc*`. Not when a label lies between
    /// them (a branch to the test must not run the increment). Returns the branch's index.
    /// One instruction with a comparison field rather than one per comparison: seven more
    /// handlers tipped LLVM into spilling the frame window in the interpreter loop.
    fn fuse_increment(&mut self, at: usize) -> u32 {
        let Some(prev) = at.checked_sub(1) else {
            return at as u32;
        };
        // When `fuse_pair` merged the increment with the add before it, the increment
        // moves into the branch and the first add stays on its own: two instructions
        // either way, but the cheaper ones.
        let (first, increment) = match split_adds(self.code[prev]) {
            Some((first, second)) => (Some(first), second),
            None => (None, self.code[prev]),
        };
        // `i += C` (the step in the instruction) or `i += s` (in a slot, the sieve's
        // `i += prime`).
        let (dst, step) = match increment {
            Instr::I32AddImm(BinImm { dst, lhs, imm }) if dst == lhs => {
                (dst, i16::try_from(imm).ok().map(|add| (add, false)))
            }
            Instr::I32Add(Bin { dst, lhs, rhs }) if dst == lhs || dst == rhs => {
                let by = if dst == lhs { rhs } else { lhs };
                (dst, u16::try_from(by).ok().map(|by| (by as i16, true)))
            }
            _ => return at as u32,
        };
        let (Ok(slot), Some((add, by_slot))) = (u16::try_from(dst), step) else {
            return at as u32;
        };
        if self.barrier > prev || at + 1 != self.code.len() {
            return at as u32;
        }
        let inc = |test: IncTest, other: i32| {
            let b = IncBr {
                test,
                slot,
                add,
                other,
                target: 0,
            };
            if by_slot {
                Instr::BrIncBy(b)
            } else {
                Instr::BrInc(b)
            }
        };
        let slot_of = |s: Slot| u16::try_from(s).ok().map(|s| s as i32);
        let fused = match self.code[at] {
            Instr::BrIfNez { cond, .. } if cond == dst => Some(inc(IncTest::Nez, 0)),
            Instr::BrI32Ne { lhs, rhs, .. } if lhs == dst => {
                slot_of(rhs).map(|o| inc(IncTest::Ne, o))
            }
            Instr::BrI32Ne { lhs, rhs, .. } if rhs == dst => {
                slot_of(lhs).map(|o| inc(IncTest::Ne, o))
            }
            Instr::BrI32LtU { lhs, rhs, .. } if lhs == dst => {
                slot_of(rhs).map(|o| inc(IncTest::LtU, o))
            }
            Instr::BrI32LtS { lhs, rhs, .. } if lhs == dst => {
                slot_of(rhs).map(|o| inc(IncTest::LtS, o))
            }
            Instr::BrI32NeImm { lhs, imm, .. } if lhs == dst => Some(inc(IncTest::NeImm, imm)),
            Instr::BrI32LtUImm { lhs, imm, .. } if lhs == dst => Some(inc(IncTest::LtUImm, imm)),
            Instr::BrI32LtSImm { lhs, imm, .. } if lhs == dst => Some(inc(IncTest::LtSImm, imm)),
            _ => None,
        };
        let Some(fused) = fused else {
            return at as u32;
        };
        if let Some(first) = first {
            self.code[prev] = first;
            self.code[at] = fused;
            self.fusable = None;
            return at as u32;
        }
        self.code[prev] = fused;
        self.drop_merged_last();
        prev as u32
    }

    // ------------------------------------------------------------------ stack

    fn height_cells(&self) -> u32 {
        match self.stack.last() {
            Some(e) => e.pos + e.ty.cells(),
            None => self.control.first().map_or(self.local_cells, |c| c.base),
        }
    }

    // Inlined: `src`, passed by pointer, was written a field at a time, and reading it
    // whole stalled on store forwarding (5% of an eager compile).
    #[inline(always)]
    fn push(&mut self, src: Src, ty: ValType) -> u32 {
        let pos = self.height_cells();
        if matches!(src, Src::Local(_)) {
            self.local_aliases += 1;
        }
        self.stack.push(Entry { src, ty, pos });
        self.max_cells = self.max_cells.max(pos + ty.cells());
        pos
    }

    fn pop(&mut self) -> Entry {
        let e = self
            .stack
            .pop()
            .expect("validated: operand stack underflow");
        if matches!(e.src, Src::Local(_)) {
            self.local_aliases -= 1;
        }
        e
    }

    /// Pushes the result of the instruction just emitted (writing `pos`), which may later be
    /// redirected into a local.
    fn push_result(&mut self, ty: ValType) -> u32 {
        let pos = self.push(Src::Slot, ty);
        self.fusable = Some(self.code.len() - 1);
        pos
    }

    /// The instruction just emitted, if it computed `e` (a temporary nothing else has read):
    /// it may be replaced by a fused instruction that also does the consumer's work. Its
    /// inputs still hold the values it read, since nothing ran in between.
    fn producer(&self, e: Entry) -> Option<(usize, Instr)> {
        let last = self.fusable?;
        let instr = self.code[last];
        (e.src == Src::Slot && last + 1 == self.code.len() && instr.dst() == Some(e.pos))
            .then_some((last, instr))
    }

    /// Replaces the producer at `at` by `fused`, which now computes the consumer's result.
    fn replace_producer(&mut self, at: usize, fused: Instr, ty: ValType) {
        self.code[at] = fused;
        // A trap points at the consumer (a load), the last wasm operator fused in.
        self.offsets[at] = self.offset;
        self.push_result(ty);
    }

    /// Replaces the producer at `at` by `store`, which also does the store consuming it.
    fn replace_producer_with_store(&mut self, at: usize, store: Instr) {
        self.code[at] = store;
        // A trap points at the store.
        self.offsets[at] = self.offset;
        self.fusable = None;
    }

    /// The slot where `e`'s value can be read, writing constants into their canonical slot.
    fn operand(&mut self, e: Entry) -> Slot {
        match e.src {
            Src::Slot => e.pos,
            Src::Local(slot) => slot,
            Src::Const(_) | Src::Const128(_) => {
                self.copy_to(e, e.pos);
                e.pos
            }
        }
    }

    /// Emits code writing `e`'s value to `dst` (nothing if it is already there).
    fn copy_to(&mut self, e: Entry, dst: Slot) {
        let wide = e.ty.cells() == 2;
        match e.src {
            Src::Slot if e.pos == dst => {}
            Src::Local(src) if src == dst => {}
            Src::Slot if wide => {
                self.emit(Instr::Copy128 { dst, src: e.pos });
            }
            Src::Local(src) if wide => {
                self.emit(Instr::Copy128 { dst, src });
            }
            Src::Slot => self.emit_copy(dst, e.pos),
            Src::Local(src) => self.emit_copy(dst, src),
            Src::Const(value) => {
                if value <= u32::MAX as u64 {
                    self.emit(Instr::Const32 {
                        dst,
                        value: value as u32,
                    });
                } else {
                    self.emit(Instr::Const64 { dst, value });
                }
            }
            Src::Const128(index) => {
                self.emit(Instr::Const128 { dst, index });
            }
        }
    }

    /// Writes stack entry `i` into its canonical slot and marks it so.
    fn materialize(&mut self, i: usize) {
        let e = self.stack[i];
        if e.src != Src::Slot {
            self.copy_to(e, e.pos);
            if matches!(e.src, Src::Local(_)) {
                self.local_aliases -= 1;
            }
            self.stack[i].src = Src::Slot;
        }
    }

    /// Materializes the top `n` entries (call arguments, bulk-op operands).
    fn materialize_top(&mut self, n: usize) {
        let len = self.stack.len();
        for i in len - n..len {
            self.materialize(i);
        }
    }

    /// Materializes every entry that aliases a local (`only`: just those aliasing that slot).
    fn materialize_aliases(&mut self, only: Option<u32>) {
        if self.local_aliases == 0 {
            return;
        }
        for i in 0..self.stack.len() {
            if let Src::Local(s) = self.stack[i].src {
                if only.is_none() || only == Some(s) {
                    self.materialize(i);
                }
            }
        }
    }

    // ------------------------------------------------------------------ control

    fn block_sig(&self, bt: BlockType) -> (&'a [ValType], &'a [ValType]) {
        match bt {
            BlockType::Empty => (&[], &[]),
            BlockType::Type(t) => (
                &[],
                ValType::from_wasmparser(t).map(one_type).unwrap_or(&[]),
            ),
            BlockType::FuncType(idx) => {
                let ty = &self.module.types[idx as usize];
                (ty.params(), ty.results())
            }
        }
    }

    fn push_control(
        &mut self,
        kind: Kind,
        params: &'a [ValType],
        results: &'a [ValType],
        nparams: usize,
    ) {
        let height = self.stack.len() - nparams;
        let base = if nparams > 0 {
            self.stack[height].pos
        } else {
            self.height_cells()
        };
        if self.fixups.len() <= self.fixups_used {
            self.fixups.push(Vec::new());
        }
        self.fixups[self.fixups_used].clear();
        self.fixups_used += 1;
        // Only a loop's start is a jump target (a branch to a block or an `if` goes to its
        // end), and `enter_block` binds that one with `loop_header`: recording the position
        // here sets no barrier, so fusions may span the start of a block or an `if`.
        let start = self.code.len() as Target;
        self.control.push(Control {
            kind,
            dead: false,
            params,
            results,
            height,
            base,
            start,
            fixups: self.fixups_used - 1,
            else_patch: None,
            saved_start: self.saved.len(),
            end_targeted: false,
        });
    }

    fn push_dead_control(&mut self) {
        self.control.push(Control {
            kind: Kind::Block,
            dead: true,
            params: &[],
            results: &[],
            height: self.stack.len(),
            base: 0,
            start: 0,
            fixups: usize::MAX,
            else_patch: None,
            saved_start: self.saved.len(),
            end_targeted: false,
        });
    }

    /// Binds the end label of the innermost block to the current position.
    fn bind_fixups(&mut self, fixups: usize) {
        if self.fixups[fixups].is_empty() {
            return;
        }
        let here = self.label();
        let list = std::mem::take(&mut self.fixups[fixups]);
        for &at in &list {
            self.patch(at, here);
        }
        self.fixups[fixups] = list;
        self.fusable = None;
    }

    /// Emits the copies that move the top `tys.len()` values to the cells starting at `dst`.
    fn copy_values(&mut self, tys: &[ValType], dst: u32) {
        let n = tys.len();
        let len = self.stack.len();
        let mut cell = dst;
        // Increasing order is safe: sources never lie below their destinations (see module doc).
        for i in len - n..len {
            let e = self.stack[i];
            self.copy_to(e, cell);
            cell += e.ty.cells();
        }
    }

    fn needs_copies(&self, tys: &[ValType], dst: u32) -> bool {
        let n = tys.len();
        let len = self.stack.len();
        let mut cell = dst;
        for e in &self.stack[len - n..len] {
            if e.src != Src::Slot || e.pos != cell {
                return true;
            }
            cell += e.ty.cells();
        }
        false
    }

    /// Emits a return of the function's results, which sit at the top of the stack.
    fn emit_return(&mut self) {
        let results = self.control[0].results;
        let n = results.len();
        if n == 1 && results[0].cells() == 1 {
            let e = self.stack[self.stack.len() - 1];
            let src = self.operand(e);
            self.emit(Instr::ReturnSlot { src });
            return;
        }
        // A result copied into slot k must not clobber a local another result still reads
        // (a single result has no other: a local is copied straight, or not at all when it
        // is already where the result goes).
        let result_cells = cells_of(results);
        let len = self.stack.len();
        for i in (len - n..len).filter(|_| n > 1) {
            if let Src::Local(s) = self.stack[i].src {
                if s < result_cells {
                    self.materialize(i);
                }
            }
        }
        self.copy_values(results, 0);
        self.emit(Instr::Return);
    }

    /// Branch to the label `depth` levels out: unconditional.
    fn branch(&mut self, depth: u32) {
        let idx = self.control.len() - 1 - depth as usize;
        if idx == 0 {
            self.emit_return();
            return;
        }
        let (kind, base) = (self.control[idx].kind, self.control[idx].base);
        if kind == Kind::Loop {
            let params = self.control[idx].params;
            let start = self.control[idx].start;
            self.copy_values(params, base);
            self.emit(Instr::Br { target: start });
        } else {
            let results = self.control[idx].results;
            self.copy_values(results, base);
            let at = self.emit(Instr::Br { target: 0 }) as u32;
            self.add_fixup(idx, at);
        }
    }

    fn add_fixup(&mut self, idx: usize, at: u32) {
        let f = self.control[idx].fixups;
        self.fixups[f].push(at);
        self.control[idx].end_targeted = true;
    }

    /// The values a branch to `depth` carries and where they go; `None` for a return.
    fn branch_dest(&self, depth: u32) -> Option<(&'a [ValType], u32)> {
        let idx = self.control.len() - 1 - depth as usize;
        if idx == 0 {
            return None;
        }
        let c = &self.control[idx];
        Some(if c.kind == Kind::Loop {
            (c.params, c.base)
        } else {
            (c.results, c.base)
        })
    }

    fn branch_if(&mut self, depth: u32) {
        let cond = self.pop();
        let idx = self.control.len() - 1 - depth as usize;
        let direct = match self.branch_dest(depth) {
            Some((tys, dst)) => !self.needs_copies(tys, dst),
            None => false,
        };
        if direct {
            let at = self.cond_branch(cond, true);
            if self.control[idx].kind == Kind::Loop {
                let start = self.control[idx].start;
                self.patch(at, start);
            } else {
                self.add_fixup(idx, at);
            }
        } else {
            let skip = self.cond_branch(cond, false);
            self.branch(depth);
            let here = self.label();
            self.patch(skip, here);
            self.fusable = None;
        }
    }

    fn br_table(&mut self, targets: &wasmparser::BrTable<'_>) -> Result<(), Error> {
        check_br_table_targets(self.module, targets.len(), self.offset as u64)?;
        let index = self.pop();
        let mut depths = Vec::with_capacity(targets.len() as usize + 1);
        for t in targets.targets() {
            depths.push(t?);
        }
        depths.push(targets.default());
        let len = targets.len();
        // `br_table` on `x + C` just computed (a `switch` whose cases start at `-C`, as on
        // characters) takes the addition in, in the place of the instruction that made it.
        match self.producer(index) {
            Some((at, Instr::I32AddImm(a))) => {
                self.code[at] = Instr::BrTable {
                    index: a.lhs,
                    len,
                    add: a.imm,
                };
                self.offsets[at] = self.offset;
                self.fusable = None;
            }
            _ => {
                let index = self.operand(index);
                // `br_table` on a value just loaded (an interpreter's `switch (*pc)`),
                // teed into a local or not, does the load itself, trapping where the load
                // would. Not when a branch may reach the `br_table` without the load.
                let last = self.code.len().checked_sub(1);
                let fused = last
                    .filter(|&last| self.barrier <= last)
                    .and_then(|last| Some((last, table_load(self.code[last], index, len)?)));
                match fused {
                    Some((last, fused)) => {
                        self.code[last] = fused;
                        self.fusable = None;
                    }
                    None => {
                        self.emit(Instr::BrTable { index, len, add: 0 });
                    }
                }
            }
        }
        let table_start = self.pc();
        for _ in &depths {
            self.emit(Instr::Br { target: 0 });
        }
        // Targets whose values are already in place jump directly; the others share one
        // landing pad per depth that copies the values and then branches.
        let mut pads: Vec<(u32, Target)> = Vec::new();
        for (i, &depth) in depths.iter().enumerate() {
            let at = table_start + i as u32;
            let idx = self.control.len() - 1 - depth as usize;
            let direct = match self.branch_dest(depth) {
                Some((tys, dst)) => !self.needs_copies(tys, dst),
                None => false,
            };
            if direct {
                if self.control[idx].kind == Kind::Loop {
                    let start = self.control[idx].start;
                    self.patch(at, start);
                } else {
                    self.add_fixup(idx, at);
                }
            } else if let Some(&(_, pad)) = pads.iter().find(|(d, _)| *d == depth) {
                self.patch(at, pad);
            } else {
                let pad = self.label();
                pads.push((depth, pad));
                self.patch(at, pad);
                self.branch(depth);
            }
        }
        Ok(())
    }

    fn enter_block(&mut self, kind: Kind, bt: BlockType) {
        let (params, results) = self.block_sig(bt);
        // Aliases must not survive into a region where a local may change (see module doc).
        self.materialize_aliases(None);
        if kind != Kind::Block {
            self.materialize_top(params.len());
        }
        self.push_control(kind, params, results, params.len());
        if kind == Kind::Loop {
            self.zero_locals = 0;
            let start = self.loop_header();
            if let Some(c) = self.control.last_mut() {
                c.start = start;
            }
        }
        self.fusable = None;
    }

    fn translate_if(&mut self, bt: BlockType) {
        let cond = self.pop();
        // Entering the block may emit copies; fusing stays correct because `cond_branch`
        // only fuses when the comparison is still the last instruction.
        let fusable = self.fusable;
        self.enter_block(Kind::If, bt);
        if self.code.len().checked_sub(1) == fusable {
            self.fusable = fusable;
        }
        let at = self.cond_branch(cond, false);
        let c = self.control.last_mut().expect("just pushed");
        c.else_patch = Some(at);
        let (height, n) = (c.height, c.params.len());
        for i in height..height + n {
            let e = self.stack[i];
            self.saved.push(e);
        }
    }

    fn translate_else(&mut self) {
        let idx = self.control.len() - 1;
        if self.control[idx].dead {
            return;
        }
        if self.reachable {
            let results = self.control[idx].results;
            let base = self.control[idx].base;
            self.copy_values(results, base);
            let at = self.emit(Instr::Br { target: 0 }) as u32;
            self.add_fixup(idx, at);
        }
        let c = &mut self.control[idx];
        c.kind = Kind::Else;
        let patch = c.else_patch.take();
        let (height, saved_start) = (c.height, c.saved_start);
        while self.stack.len() > height {
            self.pop();
        }
        for i in saved_start..self.saved.len() {
            let e = self.saved[i];
            self.stack.push(e);
        }
        self.saved.truncate(saved_start);
        if let Some(at) = patch {
            let here = self.label();
            self.patch(at, here);
        }
        self.fusable = None;
        self.reachable = true;
    }

    fn translate_end(&mut self) {
        let c = self.control.pop().expect("validated: control underflow");
        if c.dead {
            return;
        }
        if self.control.is_empty() {
            // End of the function body.
            self.control.push(c);
            if self.reachable {
                self.emit_return();
            }
            self.control.pop();
            return;
        }
        if self.reachable {
            // Fallthrough: results must be in their canonical cells, as branches leave them.
            self.control.push(c);
            let c = self.control.last().expect("pushed");
            let (results, base) = (c.results, c.base);
            self.copy_values(results, base);
            let c = self.control.pop().expect("pushed");
            self.finish_block(c, true);
        } else {
            self.finish_block(c, false);
        }
    }

    fn finish_block(&mut self, c: Control<'a>, fallthrough: bool) {
        self.saved.truncate(c.saved_start);
        if let Some(at) = c.else_patch {
            // An `if` without `else`: the false path skips straight to the end.
            let here = self.label();
            self.patch(at, here);
        }
        self.bind_fixups(c.fixups);
        self.fixups_used -= 1;
        let reachable = fallthrough || c.end_targeted || (c.kind == Kind::If);
        while self.stack.len() > c.height {
            self.pop();
        }
        if reachable {
            for &t in c.results {
                self.push(Src::Slot, t);
            }
        }
        self.reachable = reachable;
        self.fusable = None;
    }

    // ------------------------------------------------------------------ operators

    fn unary(&mut self, make: fn(Un) -> Instr, result: ValType) {
        let e = self.pop();
        let src = self.operand(e);
        self.emit(make(Un { dst: e.pos, src }));
        self.push_result(result);
    }

    /// A binary operation; uses the immediate form when the right operand (or, for
    /// commutative and mirrored comparisons, the left) is a small constant.
    /// `i32.div_u` (or `i32.rem_u` if `rem`) of a value by a constant other than zero as
    /// an `I32DivUImm` (`I32RemUImm`), if the slots fit: a multiplication by the
    /// reciprocal. False (nothing done) otherwise.
    fn div_u_by_constant(&mut self, rem: bool) -> bool {
        let n = self.stack.len();
        let (Some(&l), Some(&r)) = (
            n.checked_sub(2).and_then(|i| self.stack.get(i)),
            self.stack.last(),
        ) else {
            return false;
        };
        let (Src::Const(d), false) = (r.src, matches!(l.src, Src::Const(_))) else {
            return false;
        };
        let divisor = d as u32;
        let lhs = match l.src {
            Src::Local(slot) => slot,
            _ => l.pos,
        };
        let (Ok(dst), Ok(lhs), true) = (u16::try_from(l.pos), u16::try_from(lhs), divisor != 0)
        else {
            return false;
        };
        let (magic, _) = crate::num::reciprocal_u32(divisor);
        let op = DivImm {
            dst,
            lhs,
            magic,
            divisor,
        };
        // Neither is a constant to materialize: nothing to emit before.
        self.pop();
        self.pop();
        self.emit(if rem {
            Instr::I32RemUImm(op)
        } else {
            Instr::I32DivUImm(op)
        });
        self.push_result(ValType::I32);
        true
    }

    fn binary(
        &mut self,
        make: fn(Bin) -> Instr,
        make_imm: Option<fn(BinImm) -> Instr>,
        swapped_imm: Option<fn(BinImm) -> Instr>,
    ) {
        let rhs = self.pop();
        let lhs = self.pop();
        let result = result_type_of_binary(make, lhs.ty);
        if let (Src::Const(a), Src::Const(b)) = (lhs.src, rhs.src) {
            // Both known: the result is a constant too (address arithmetic on globals).
            if let Some(value) = fold_binary(make, a, b) {
                self.push(Src::Const(value), result);
                return;
            }
        }
        let dst = lhs.pos;
        if let (Some(imm_op), Some(imm)) = (make_imm, small_imm(rhs)) {
            if !matches!(lhs.src, Src::Const(_)) {
                // A range check on `x + C` just computed: one instruction.
                if let Some((at, fused)) =
                    self.range_check(imm_op(BinImm { dst, lhs: dst, imm }), lhs)
                {
                    self.replace_producer(at, fused, result);
                    return;
                }
                if let Some((at, fused)) =
                    self.fold_imm_chain(lhs, imm_op(BinImm { dst, lhs: dst, imm }))
                {
                    self.replace_producer(at, fused, result);
                    return;
                }
                let l = self.operand(lhs);
                self.emit(imm_op(BinImm { dst, lhs: l, imm }));
                self.push_result(result);
                return;
            }
        }
        if let (Some(imm_op), Some(imm)) = (swapped_imm, small_imm(lhs)) {
            if !matches!(rhs.src, Src::Const(_)) {
                if let Some((at, fused)) =
                    self.fold_imm_chain(rhs, imm_op(BinImm { dst, lhs: dst, imm }))
                {
                    self.replace_producer(at, fused, result);
                    return;
                }
                let r = self.operand(rhs);
                self.emit(imm_op(BinImm { dst, lhs: r, imm }));
                self.push_result(result);
                return;
            }
        }
        let l = self.operand(lhs);
        let r = self.operand(rhs);
        self.emit(make(Bin {
            dst,
            lhs: l,
            rhs: r,
        }));
        self.push_result(result);
    }

    /// `second` (an `i32` operation with a constant, its operand `e`) applied to what the
    /// instruction just emitted computed from some `x` with a constant, as one operation
    /// on `x`, when that exists: constant-time code (base64 decoding, for one) writes
    /// `~(x + C)`, which is `(-1 - C) - x`, and `~(C - x)`, which is `x + (-1 - C)`;
    /// chains of adds, subtractions from a constant, xors, ands and ors fold too. Exact
    /// in 32-bit wrapping arithmetic. The producer's result was a temporary only `second`
    /// reads, so it need not be kept.
    fn fold_imm_chain(&self, e: Entry, second: Instr) -> Option<(usize, Instr)> {
        use Instr as I;
        let (at, first) = self.producer(e)?;
        // Where `second` writes: the temporary of its result, which for `C - e` is not
        // `e`'s.
        let dst = second.dst()?;
        let fold = |make: fn(BinImm) -> Instr, x: Slot, imm: i32| {
            Some((at, make(BinImm { dst, lhs: x, imm })))
        };
        match (first, second) {
            (I::I32AddImm(a), I::I32AddImm(b)) => {
                fold(I::I32AddImm, a.lhs, a.imm.wrapping_add(b.imm))
            }
            (I::I32SubRevImm(a), I::I32AddImm(b)) => {
                fold(I::I32SubRevImm, a.lhs, a.imm.wrapping_add(b.imm))
            }
            (I::I32AddImm(a), I::I32SubRevImm(b)) => {
                fold(I::I32SubRevImm, a.lhs, b.imm.wrapping_sub(a.imm))
            }
            (I::I32SubRevImm(a), I::I32SubRevImm(b)) => {
                fold(I::I32AddImm, a.lhs, b.imm.wrapping_sub(a.imm))
            }
            (I::I32AddImm(a), I::I32XorImm(b)) if b.imm == -1 => {
                fold(I::I32SubRevImm, a.lhs, (-1i32).wrapping_sub(a.imm))
            }
            (I::I32SubRevImm(a), I::I32XorImm(b)) if b.imm == -1 => {
                fold(I::I32AddImm, a.lhs, (-1i32).wrapping_sub(a.imm))
            }
            (I::I32XorImm(a), I::I32XorImm(b)) => fold(I::I32XorImm, a.lhs, a.imm ^ b.imm),
            (I::I32AndImm(a), I::I32AndImm(b)) => fold(I::I32AndImm, a.lhs, a.imm & b.imm),
            (I::I32OrImm(a), I::I32OrImm(b)) => fold(I::I32OrImm, a.lhs, a.imm | b.imm),
            _ => None,
        }
    }

    /// The fast path of a recognized `strlen`, before its own code: the length and a
    /// return where memory holds a zero byte from the pointer on (see `StrlenOrSkip`).
    fn strlen_fast_path(&mut self) {
        let (Ok(s), Ok(dst)) = (
            u16::try_from(self.local_slots[0]),
            u16::try_from(self.local_cells),
        ) else {
            return;
        };
        self.max_cells = self.max_cells.max(self.local_cells + 1);
        self.emit(Instr::StrlenOrSkip { s, dst });
        self.emit(Instr::ReturnSlot {
            src: Slot::from(dst),
        });
        // Nothing after it may fuse into the return.
        self.label();
    }

    /// Replaces the function's code by `idiom`'s (the body, validated and translated, is
    /// exactly the idiom's operators; see `idioms`). `end` is the body's last offset.
    fn replace_with_idiom(&mut self, idiom: crate::idioms::Idiom, end: u32) {
        let crate::idioms::Idiom::Multi3 { low_first, stores } = idiom else {
            return;
        };
        let slot = |local: usize| self.local_slots[local];
        let (lo, hi) = (self.local_cells, self.local_cells + 1);
        let u = |s: Slot| u16::try_from(s).ok();
        let (Some(lo16), Some(hi16), Some(a), Some(a_hi), Some(b), Some(b_hi)) =
            (u(lo), u(hi), u(slot(1)), u(slot(2)), u(slot(3)), u(slot(4)))
        else {
            // Only in a frame too large to run at all (the frame check reports it): keep
            // the code as translated.
            return;
        };
        // A fuel region's `ConsumeFuel` stays first; everything after it goes.
        let kept = usize::from(self.fuel);
        self.code.truncate(kept);
        self.offsets.truncate(kept);
        self.fuel_region = self.fuel.then_some(0);
        self.fusable = None;
        self.barrier = kept;
        self.max_cells = self.max_cells.max(self.local_cells + 2);
        self.offset = end;
        self.emit(Instr::I64MulWide {
            lo: lo16,
            hi: hi16,
            a,
            a_hi,
            b,
            b_hi,
        });
        let ret = slot(0);
        let halves = if low_first {
            [(lo, 0), (hi, 8)]
        } else {
            [(hi, 8), (lo, 0)]
        };
        for ((src, offset), at) in halves.into_iter().zip(stores) {
            self.offset = at;
            self.emit(Instr::I64Store(Store {
                addr: ret,
                src,
                offset,
            }));
        }
        self.offset = end;
        self.emit(Instr::Return);
        if let Some(Instr::ConsumeFuel { amount }) = self.code.first_mut() {
            // The region now holds the four instructions above.
            *amount = 4;
        }
    }

    /// `slot` for a 16-bit field. Every slot of a frame that fits the interpreter's window
    /// does; one that does not marks the function `oversized` (refused at its end).
    fn slot16(&mut self, slot: Slot) -> u16 {
        u16::try_from(slot).unwrap_or_else(|_| {
            self.oversized = true;
            0
        })
    }

    /// A shuffle, reading both operands where they are (a local directly) and writing a
    /// slot of its own, which a `local.set` can take over (`V128Shuffle*To`).
    fn shuffle(&mut self, lanes: &[u8; 16]) {
        let r = self.pop();
        let l = self.pop();
        let lhs = self.operand(l);
        let rhs = self.operand(r);
        let (dst, lhs, rhs) = (self.slot16(l.pos), self.slot16(lhs), self.slot16(rhs));
        let make = |lanes| Shuffle {
            dst,
            lhs,
            rhs,
            lanes,
        };
        // Most shuffles move whole 16- or 32-bit lanes (lane permutations, interleaves,
        // broadcasts): a few lane picks instead of 16 byte picks.
        let instr = if let Some(packed) = packed_lanes(lanes, 4) {
            Instr::V128Shuffle32To(make(packed))
        } else if let Some(packed) = packed_lanes(lanes, 2) {
            Instr::V128Shuffle16To(make(packed))
        } else {
            let index = self.consts.len() as u32;
            self.consts.push(u128::from_le_bytes(*lanes));
            Instr::V128ShuffleTo(make(index))
        };
        self.emit(instr);
        self.push_result(ValType::V128);
    }

    /// `v128.bitselect`, reading its operands where they are and writing a slot of its
    /// own, which a `local.set` can take over (`V128BitselectTo`).
    fn bitselect(&mut self) {
        let c = self.pop();
        let b = self.pop();
        let a = self.pop();
        let (a_at, b_at, c_at) = (self.operand(a), self.operand(b), self.operand(c));
        let bits = Bin3 {
            dst: self.slot16(a.pos),
            a: self.slot16(a_at),
            b: self.slot16(b_at),
            c: self.slot16(c_at),
        };
        self.emit(Instr::V128BitselectTo(bits));
        self.push_result(ValType::V128);
    }

    /// `shl(x, k) | shr_u(x, w - k)` (or `^`, either order) on 32- or 64-bit lanes, when
    /// the two shifts are the last two instructions, computed `l` and `r`, and no label
    /// lies between them: one rotate, to replace both (the `or` is never emitted).
    fn vector_rotation(&self, l: Entry, r: Entry) -> Option<Instr> {
        let n = self.code.len();
        let first = n.checked_sub(2)?;
        if l.src != Src::Slot || r.src != Src::Slot || self.barrier > first {
            return None;
        }
        let shift = |i: Instr| match i {
            Instr::V128ShiftImm {
                op,
                dst,
                lhs,
                amount,
            } => Some((op, dst, lhs, amount)),
            _ => None,
        };
        let (a_op, a_dst, a_src, a_amount) = shift(self.code[first])?;
        let (b_op, b_dst, b_src, b_amount) = shift(self.code[first + 1])?;
        let outputs_match = (a_dst, b_dst) == (l.pos, r.pos) || (a_dst, b_dst) == (r.pos, l.pos);
        // The second shift must read `x` itself, not the first one's result.
        if !outputs_match || a_src != b_src || b_src == a_dst {
            return None;
        }
        use SimdShift as S;
        let (bits, left) = match (a_op, b_op) {
            (S::I32x4Shl, S::I32x4ShrU) => (32, a_amount),
            (S::I32x4ShrU, S::I32x4Shl) => (32, b_amount),
            (S::I64x2Shl, S::I64x2ShrU) => (64, a_amount),
            (S::I64x2ShrU, S::I64x2Shl) => (64, b_amount),
            _ => return None,
        };
        // A zero amount is no rotation: `x | x` is `x`, but `x ^ x` is 0.
        let k = left % bits;
        if k == 0 || (a_amount % bits + b_amount % bits) != bits {
            return None;
        }
        let dst = l.pos;
        Some(if bits == 32 {
            Instr::V128Rotl32Imm {
                dst,
                lhs: a_src,
                amount: k,
            }
        } else {
            Instr::V128Rotl64Imm {
                dst,
                lhs: a_src,
                amount: k,
            }
        })
    }

    /// `(x + C) <u N` (from `lt_u`, `le_u`, `gt_u` or `ge_u` by a constant, `compare`, on
    /// `e`), when `e` was just computed by `i32.add x C`: the fused `I32AddLtU`/`I32AddGeU`
    /// and where it goes.
    fn range_check(&self, compare: Instr, e: Entry) -> Option<(usize, Instr)> {
        let (less, bound) = match compare {
            Instr::I32LtUImm(b) => (true, b.imm),
            Instr::I32GeUImm(b) => (false, b.imm),
            // `<= N` is `< N + 1`, `> N` is `>= N + 1` (not for N = u32::MAX).
            Instr::I32LeUImm(b) => (true, (b.imm as u32).checked_add(1)? as i32),
            Instr::I32GtUImm(b) => (false, (b.imm as u32).checked_add(1)? as i32),
            _ => return None,
        };
        let Some((at, Instr::I32AddImm(a))) = self.producer(e) else {
            return None;
        };
        let c = AddCmp {
            dst: u16::try_from(e.pos).ok()?,
            lhs: u16::try_from(a.lhs).ok()?,
            add: a.imm,
            bound,
        };
        Some((
            at,
            if less {
                Instr::I32AddLtU(c)
            } else {
                Instr::I32AddGeU(c)
            },
        ))
    }

    /// `i32.add`, fusing the instruction that just computed one operand: `x * C1 + C2`
    /// becomes one `I32MulAdd`, and `b + (i << C)` one `I32AddShl` (which a load that
    /// follows takes in as a scaled index).
    fn add32(&mut self) {
        let n = self.stack.len();
        let (lhs, rhs) = (self.stack[n - 2], self.stack[n - 1]);
        let mul_add = |at: usize, x: Slot, mul: i32, add: i32| {
            Some((
                at,
                Instr::I32MulAdd(MulAdd {
                    dst: u16::try_from(lhs.pos).ok()?,
                    lhs: u16::try_from(x).ok()?,
                    mul,
                    add,
                }),
            ))
        };
        let fused = match (small_imm(rhs), self.producer(lhs)) {
            (Some(add), Some((at, Instr::I32MulImm(m)))) => mul_add(at, m.lhs, m.imm, add),
            // `x << s` is `x * 2^s` (both wrap); a load takes it as a scaled index.
            (Some(add), Some((at, Instr::I32ShlImm(m)))) => {
                mul_add(at, m.lhs, (1u32 << (m.imm & 31)) as i32, add)
            }
            _ => self.fuse_either_operand(lhs, rhs, |producer, other| match producer {
                Instr::I32ShlImm(shl) => Some(Instr::I32AddShl(BinShift {
                    dst: u16::try_from(lhs.pos).ok()?,
                    lhs: u16::try_from(other).ok()?,
                    rhs: u16::try_from(shl.lhs).ok()?,
                    shift: (shl.imm & 31) as u8,
                })),
                Instr::I32NotShlImm(shl) => Some(Instr::I32AddNotShl(BinShift {
                    dst: u16::try_from(lhs.pos).ok()?,
                    lhs: u16::try_from(other).ok()?,
                    rhs: u16::try_from(shl.lhs).ok()?,
                    shift: (shl.imm & 31) as u8,
                })),
                Instr::I32Mul(mul) => mul_acc(lhs.pos, other, mul).map(Instr::I32MulAcc),
                Instr::I32Add(add) => Some(Instr::I32Add3(Bin3 {
                    dst: u16::try_from(lhs.pos).ok()?,
                    a: u16::try_from(add.lhs).ok()?,
                    b: u16::try_from(add.rhs).ok()?,
                    c: u16::try_from(other).ok()?,
                })),
                _ => None,
            }),
        };
        match fused {
            Some((at, instr @ Instr::I32MulAcc(m))) => {
                self.finish_binary_fusion(at, instr, ValType::I32);
                self.fuse_load_into_mul_acc(at, m);
            }
            Some((at, instr)) => self.finish_binary_fusion(at, instr, ValType::I32),
            None => bin!(self, I32Add, I32AddImm, I32AddImm),
        }
    }

    /// The `I32MulAcc` at `at` (the last instruction) and the `i32.load` just before it,
    /// which loaded one of its factors into a temporary only it reads, as one
    /// `I32LoadMulAcc`. It keeps the load's offset: the only thing in it that traps.
    fn fuse_load_into_mul_acc(&mut self, at: usize, m: MulAcc) {
        let Some(prev) = at.checked_sub(1).filter(|&p| p >= self.barrier) else {
            return;
        };
        let Instr::I32Load(load) = self.code[prev] else {
            return;
        };
        let other = if Slot::from(m.rhs) == load.dst {
            m.lhs
        } else if Slot::from(m.lhs) == load.dst {
            m.rhs
        } else {
            return;
        };
        // A temporary (not a local), and not read in any other role.
        if load.dst < self.local_cells
            || Slot::from(other) == load.dst
            || Slot::from(m.acc) == load.dst
        {
            return;
        }
        let Ok(addr) = u16::try_from(load.addr) else {
            return;
        };
        let offset = load.offset;
        self.code[prev] = Instr::I32LoadMulAcc {
            dst: m.dst,
            acc: m.acc,
            lhs: other,
            addr,
            offset,
        };
        self.drop_merged_last();
        // The fused instruction computes the result now: later fusions may take it.
        self.fusable = Some(prev);
    }

    /// `i64.add`: `a + x * y` with the product just computed is one `I64MulAcc`.
    fn add64(&mut self) {
        let n = self.stack.len();
        let (lhs, rhs) = (self.stack[n - 2], self.stack[n - 1]);
        let fused = self.fuse_either_operand(lhs, rhs, |producer, other| match producer {
            Instr::I64Mul(mul) => mul_acc(lhs.pos, other, mul).map(Instr::I64MulAcc),
            _ => None,
        });
        match fused {
            Some((at, instr)) => self.finish_binary_fusion(at, instr, ValType::I64),
            None => bin!(self, I64Add, I64AddImm, I64AddImm),
        }
    }

    /// For a commutative binary operation on `lhs` and `rhs`: if one operand was just
    /// computed (see `producer`) and the other is in a slot, `fuse(producer, other_slot)`
    /// may give the one instruction doing both; returns it with the producer's index.
    fn fuse_either_operand(
        &self,
        lhs: Entry,
        rhs: Entry,
        fuse: impl Fn(Instr, Slot) -> Option<Instr>,
    ) -> Option<(usize, Instr)> {
        [(rhs, lhs), (lhs, rhs)]
            .into_iter()
            .find_map(|(produced, other)| {
                let (at, producer) = self.producer(produced)?;
                let other = match other.src {
                    Src::Slot => other.pos,
                    Src::Local(slot) => slot,
                    _ => return None,
                };
                Some((at, fuse(producer, other)?))
            })
    }

    /// Pops a binary operation's operands and puts `fused` in place of the producer at `at`.
    fn finish_binary_fusion(&mut self, at: usize, fused: Instr, ty: ValType) {
        self.pop();
        self.pop();
        self.replace_producer(at, fused, ty);
    }

    /// `i64.and`: with `0xFFFF_FFFF` it is `i32.wrap_i64` (cells zero-extend i32s), and
    /// `(x ^ -1) & y` just computed is one `I64AndNot`.
    fn and64(&mut self) {
        let n = self.stack.len();
        let (lhs, rhs) = (self.stack[n - 2], self.stack[n - 1]);
        // A mask of the low 32 bits is a 32-bit operation (its result zero-extended), so
        // masks such as 0xFFFF_FFFE need no 64-bit constant: `I32AndImm`, or `I32WrapI64`
        // for 0xFFFF_FFFF.
        for (mask, other) in [(rhs, lhs), (lhs, rhs)] {
            let Src::Const(c) = mask.src else { continue };
            if c <= 0xFFFF_FFFF && !matches!(other.src, Src::Const(_)) {
                self.pop();
                self.pop();
                let src = self.operand(other);
                let dst = lhs.pos;
                self.emit(match c {
                    0xFFFF_FFFF => Instr::I32WrapI64(Un { dst, src }),
                    _ => Instr::I32AndImm(BinImm {
                        dst,
                        lhs: src,
                        imm: c as u32 as i32,
                    }),
                });
                self.push_result(ValType::I64);
                return;
            }
        }
        let fused = self.fuse_either_operand(lhs, rhs, |producer, other| match producer {
            Instr::I64XorImm(x) if x.imm == -1 => Some(Instr::I64AndNot(Bin {
                dst: lhs.pos,
                lhs: x.lhs,
                rhs: other,
            })),
            _ => None,
        });
        match fused {
            Some((at, instr)) => self.finish_binary_fusion(at, instr, ValType::I64),
            None => bin!(self, I64And, I64AndImm, I64AndImm),
        }
    }

    /// `xor`: `rotl(x, C) ^ y` with the rotation just computed is one `*RotlXor` (ARX
    /// hashes such as SipHash, which Rust's `HashMap` uses: `v1 = rotl(v1, 13) ^ v0`), and
    /// `(x >> C) ^ y` or `(x << C) ^ y` one `*ShrUXor`/`*ShlXor` (xorshift, `h ^= h >> 16`).
    fn xor(&mut self, wide: bool) {
        let n = self.stack.len();
        let (lhs, rhs) = (self.stack[n - 2], self.stack[n - 1]);
        let bits = if wide { 64 } else { 32 };
        // `~(x << C)` (a shift just computed, then `^ -1`) is one `I32NotShlImm`.
        if !wide {
            for (ones, shifted) in [(rhs, lhs), (lhs, rhs)] {
                if !matches!(ones.src, Src::Const(c) if c as u32 == u32::MAX) {
                    continue;
                }
                if let Some((at, Instr::I32ShlImm(shl))) = self.producer(shifted) {
                    let not_shl = Instr::I32NotShlImm(BinImm {
                        dst: lhs.pos,
                        lhs: shl.lhs,
                        imm: shl.imm & 31,
                    });
                    self.finish_binary_fusion(at, not_shl, ValType::I32);
                    return;
                }
            }
        }
        let fused = self.fuse_either_operand(lhs, rhs, |producer, other| {
            let (shift, make): (BinImm, fn(BinShift) -> Instr) = match (wide, producer) {
                (true, Instr::I64RotlImm(r)) => (r, Instr::I64RotlXor),
                (false, Instr::I32RotlImm(r)) => (r, Instr::I32RotlXor),
                (true, Instr::I64ShrUImm(r)) => (r, Instr::I64ShrUXor),
                (false, Instr::I32ShrUImm(r)) => (r, Instr::I32ShrUXor),
                (true, Instr::I64ShlImm(r)) => (r, Instr::I64ShlXor),
                (false, Instr::I32ShlImm(r)) => (r, Instr::I32ShlXor),
                _ => return None,
            };
            Some(make(BinShift {
                dst: u16::try_from(lhs.pos).ok()?,
                lhs: u16::try_from(shift.lhs).ok()?,
                rhs: u16::try_from(other).ok()?,
                // Wasm takes shift counts modulo the width.
                shift: (shift.imm as u32 % bits) as u8,
            }))
        });
        match fused {
            Some((at, instr)) => self.finish_binary_fusion(at, instr, lhs.ty),
            None if wide => bin!(self, I64Xor, I64XorImm, I64XorImm),
            None => bin!(self, I32Xor, I32XorImm, I32XorImm),
        }
    }

    /// Rotations by a constant (common in hashes and ciphers) use the `RotlImm` forms;
    /// `rotr` by `c` is `rotl` by `bits - c`.
    fn rotate(&mut self, wide: bool, right: bool) {
        let bits: u64 = if wide { 64 } else { 32 };
        let top = self.stack.len() - 1;
        if let Src::Const(c) = self.stack[top].src {
            let lhs_is_const = matches!(self.stack[top - 1].src, Src::Const(_));
            if !lhs_is_const {
                let k = c % bits;
                let amount = if right { (bits - k) % bits } else { k };
                self.pop();
                let lhs = self.pop();
                // `rotl(a ^ b, C)` and `rotl(a + b, C)`, the mixing steps of ciphers and
                // hashes, are one instruction.
                let xor = match (wide, self.producer(lhs)) {
                    (true, Some((at, Instr::I64Xor(x)))) => {
                        Some((at, x, Instr::I64XorRotl as fn(_) -> _))
                    }
                    (false, Some((at, Instr::I32Xor(x)))) => {
                        Some((at, x, Instr::I32XorRotl as fn(_) -> _))
                    }
                    (true, Some((at, Instr::I64Add(x)))) => {
                        Some((at, x, Instr::I64AddRotl as fn(_) -> _))
                    }
                    (false, Some((at, Instr::I32Add(x)))) => {
                        Some((at, x, Instr::I32AddRotl as fn(_) -> _))
                    }
                    _ => None,
                };
                if let Some((at, x, make)) = xor {
                    if let (Ok(dst), Ok(a), Ok(b)) = (
                        u16::try_from(lhs.pos),
                        u16::try_from(x.lhs),
                        u16::try_from(x.rhs),
                    ) {
                        let fused = make(BinShift {
                            dst,
                            lhs: a,
                            rhs: b,
                            shift: amount as u8,
                        });
                        self.replace_producer(at, fused, lhs.ty);
                        return;
                    }
                }
                let l = self.operand(lhs);
                let imm = BinImm {
                    dst: lhs.pos,
                    lhs: l,
                    imm: amount as i32,
                };
                self.emit(if wide {
                    Instr::I64RotlImm(imm)
                } else {
                    Instr::I32RotlImm(imm)
                });
                self.push_result(lhs.ty);
                return;
            }
        }
        match (wide, right) {
            (false, false) => bin!(self, I32Rotl),
            (false, true) => bin!(self, I32Rotr),
            (true, false) => bin!(self, I64Rotl),
            (true, true) => bin!(self, I64Rotr),
        }
    }

    /// `x - c` becomes `x + (-c)`.
    fn sub(&mut self, wide: bool) {
        let rhs = self.stack[self.stack.len() - 1];
        if let Src::Const(c) = rhs.src {
            let neg = if wide {
                (c as i64).checked_neg().and_then(|n| i32::try_from(n).ok())
            } else {
                Some((c as u32 as i32).wrapping_neg())
            };
            if let Some(neg) = neg {
                let lhs_is_const = matches!(self.stack[self.stack.len() - 2].src, Src::Const(_));
                if !lhs_is_const {
                    self.pop();
                    let lhs = self.pop();
                    let add = BinImm {
                        dst: lhs.pos,
                        lhs: lhs.pos,
                        imm: neg,
                    };
                    if !wide {
                        if let Some((at, fused)) = self.fold_imm_chain(lhs, Instr::I32AddImm(add)) {
                            self.replace_producer(at, fused, lhs.ty);
                            return;
                        }
                    }
                    let l = self.operand(lhs);
                    let imm = BinImm { lhs: l, ..add };
                    self.emit(if wide {
                        Instr::I64AddImm(imm)
                    } else {
                        Instr::I32AddImm(imm)
                    });
                    self.push_result(lhs.ty);
                    return;
                }
            }
        }
        if wide {
            bin!(self, I64Sub)
        } else {
            self.binary(Instr::I32Sub, None, Some(Instr::I32SubRevImm))
        }
    }

    fn load(
        &mut self,
        make: fn(Load) -> Instr,
        fused: Option<FusedLoads>,
        memarg: wasmparser::MemArg,
        ty: ValType,
    ) {
        let addr = self.pop();
        // A constant address (a C global): the whole address is known now.
        if let (Some((_, _, Some(make_abs))), Src::Const(c)) = (fused, addr.src) {
            if let Ok(ea) = u32::try_from(c as u32 as u64 + memarg.offset) {
                self.emit(make_abs(LoadAbs {
                    dst: addr.pos,
                    addr: ea,
                }));
                self.push_result(ty);
                return;
            }
        }
        // The address was just computed into this temporary by an `i32.add` (possibly of
        // a shifted index) or an add of a constant: fuse that into the load.
        if let (Some((make_idx, make_disp, _)), Some((at, producer))) = (fused, self.producer(addr))
        {
            let offset = memarg.offset as u32;
            let dst = u16::try_from(addr.pos).ok();
            let idx = |base: Slot, index: Slot, shift: u8| {
                Some(make_idx(LoadIdx {
                    dst: dst?,
                    base: u16::try_from(base).ok()?,
                    index: u16::try_from(index).ok()?,
                    shift,
                    offset,
                }))
            };
            let fused = match producer {
                Instr::I32Add(Bin { lhs, rhs, .. }) => idx(lhs, rhs, 0),
                Instr::I32AddShl(BinShift {
                    lhs, rhs, shift, ..
                }) => idx(lhs as Slot, rhs as Slot, shift),
                other => dst
                    .and_then(|dst| load_disp(other, dst, offset))
                    .map(make_disp),
            };
            if let Some(fused) = fused {
                self.replace_producer(at, fused, ty);
                return;
            }
        }
        let a = self.operand(addr);
        self.emit(make(Load {
            dst: addr.pos,
            addr: a,
            offset: memarg.offset as u32,
        }));
        self.fuse_pair();
        self.push_result(ty);
    }

    fn store(&mut self, forms: StoreForms, wide: bool, memarg: wasmparser::MemArg) {
        let StoreForms {
            make,
            make_imm,
            make_disp,
            make_imm_disp,
            make_abs,
            make_add,
        } = forms;
        let value = self.pop();
        let addr = self.pop();
        // A constant address (a C global) and a value in a slot.
        if let (Some(make_abs), Src::Const(c), false) =
            (make_abs, addr.src, matches!(value.src, Src::Const(_)))
        {
            if let Ok(ea) = u32::try_from(c as u32 as u64 + memarg.offset) {
                let src = self.operand(value);
                self.emit(make_abs(StoreAbs { src, addr: ea }));
                self.fuse_pair();
                return;
            }
        }
        // `i32.add x C` just computed the address, and the value is a local (so nothing
        // ran since): one store at `x + C`.
        if let (Src::Local(src), Some((at, Instr::I32AddImm(a)))) = (value.src, self.producer(addr))
        {
            if let (Ok(addr), Ok(src)) = (u16::try_from(a.lhs), u16::try_from(src)) {
                let store = make_disp(StoreDisp {
                    addr,
                    src,
                    disp: a.imm,
                    offset: memarg.offset as u32,
                });
                self.replace_producer_with_store(at, store);
                return;
            }
        }
        // A constant value is stored from the instruction itself: 32 bits or narrower
        // always fit; 64-bit ones when they are a sign-extended i32.
        if let Src::Const(c) = value.src {
            let imm = if wide {
                i32::try_from(c as i64).ok()
            } else {
                Some(c as u32 as i32)
            };
            if let Some(imm) = imm {
                // ... and through `i32.add x C` just computed: one store at `x + C`
                // (a value that fits 16 bits, sign-extended like `imm`).
                if let (Ok(value), Some((at, Instr::I32AddImm(a)))) =
                    (i16::try_from(imm), self.producer(addr))
                {
                    if let Ok(x) = u16::try_from(a.lhs) {
                        let store = make_imm_disp(StoreImmDisp {
                            addr: x,
                            value,
                            disp: a.imm,
                            offset: memarg.offset as u32,
                        });
                        self.replace_producer_with_store(at, store);
                        return;
                    }
                }
                let a = self.operand(addr);
                self.emit(make_imm(StoreImm {
                    addr: a,
                    value: imm,
                    offset: memarg.offset as u32,
                }));
                return;
            }
        }
        let a = self.operand(addr);
        // `x + C` was just computed into a temporary only this store reads: the store
        // adds it (`obj->len = len + 1`).
        if let (Some(make_add), Some((at, Instr::I32AddImm(add)))) =
            (make_add, self.producer(value))
        {
            if let (Ok(addr), Ok(src)) = (u16::try_from(a), u16::try_from(add.lhs)) {
                let store = make_add(StoreStep {
                    addr,
                    src,
                    step: add.imm,
                    offset: memarg.offset as u32,
                });
                self.replace_producer_with_store(at, store);
                return;
            }
        }
        if self.store_disp_past_value(addr, value, make_disp, memarg.offset as u32) {
            return;
        }
        let v = self.operand(value);
        self.emit(make(Store {
            addr: a,
            src: v,
            offset: memarg.offset as u32,
        }));
        self.fuse_pair();
    }

    /// `i32.add x C` computed the store's address into a temporary, then the last
    /// instruction computed the value into another (`buf[i + 3] = v + 1`): the add moves
    /// into the store (`*Disp`) and the value's instruction takes its place. It runs first
    /// now, which changes nothing: the add has no effect but its temporary, which only
    /// the store reads, and the value's instruction must not write `x` (it writes only its
    /// result, which is not `x`). Not across a jump target. True if done.
    fn store_disp_past_value(
        &mut self,
        addr: Entry,
        value: Entry,
        make_disp: fn(StoreDisp) -> Instr,
        offset: u32,
    ) -> bool {
        let Some((last, value_instr)) = self.producer(value) else {
            return false;
        };
        let Some(at) = last.checked_sub(1) else {
            return false;
        };
        let Instr::I32AddImm(add) = self.code[at] else {
            return false;
        };
        // The pointer-step loads write their address register too.
        let steps = matches!(
            value_instr,
            Instr::I32LoadPreStep(_)
                | Instr::I32Load8UPreStep(_)
                | Instr::I32LoadPostStep(_)
                | Instr::I32Load8UPostStep(_)
        );
        if addr.src != Src::Slot
            || add.dst != addr.pos
            || self.barrier > at
            || steps
            || value_instr.dst() == Some(add.lhs)
        {
            return false;
        }
        let (Ok(base), Ok(src)) = (u16::try_from(add.lhs), u16::try_from(value.pos)) else {
            return false;
        };
        self.code[at] = value_instr;
        self.offsets[at] = self.offsets[last];
        self.drop_merged_last();
        self.emit(make_disp(StoreDisp {
            addr: base,
            src,
            disp: add.imm,
            offset,
        }));
        true
    }

    fn local_set(&mut self, local: u32, tee: bool) {
        let slot = self.local_slots[local as usize];
        let ty = self.local_types[local as usize];
        let e = self.pop();
        let zero_bit = local
            .checked_sub(self.first_declared)
            .and_then(|i| 1u64.checked_shl(i))
            .unwrap_or(0);
        if self.zero_locals & zero_bit != 0 {
            let zero = match e.src {
                Src::Const(value) => value == 0,
                Src::Const128(index) => self.consts[index as usize] == 0,
                _ => false,
            } && matches!(
                ty,
                ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64 | ValType::V128
            );
            if zero {
                // The local already holds this zero; `local.tee` passes the constant on.
                self.fusable = None;
                if tee {
                    self.push(e.src, ty);
                }
                return;
            }
            self.zero_locals &= !zero_bit;
        }
        let fusable = self.fusable;
        self.materialize_aliases(Some(slot));
        let mut done = false;
        if e.src == Src::Slot && fusable.is_some() && self.fusable == fusable {
            if let Some(idx) = fusable {
                if self.code[idx].dst() == Some(e.pos) && self.code[idx].set_dst(slot) {
                    done = true;
                    self.fuse_pair();
                }
            }
        }
        if !done {
            self.copy_to(e, slot);
        }
        self.fusable = None;
        if tee {
            self.push(Src::Local(slot), ty);
        }
    }

    /// Pops `n` call arguments (materialized) and returns the base slot of the callee frame.
    fn call_args(&mut self, n: usize) -> Slot {
        self.materialize_top(n);
        let base = if n > 0 {
            self.stack[self.stack.len() - n].pos
        } else {
            self.height_cells()
        };
        for _ in 0..n {
            self.pop();
        }
        base
    }

    fn call(&mut self, func: u32, tail: bool) {
        let ty = self.module.func_type(func);
        let base = self.call_args(ty.params().len());
        let imported = func < self.module.num_imported_funcs;
        let instr = match (imported, tail) {
            (true, false) => Instr::CallImported { func, base },
            (true, true) => Instr::ReturnCallImported { func, base },
            (false, false) => Instr::CallInternal {
                func: func - self.module.num_imported_funcs,
                base,
            },
            (false, true) => Instr::ReturnCallInternal {
                func: func - self.module.num_imported_funcs,
                base,
            },
        };
        self.emit(instr);
        self.after_call(ty.results(), base, tail);
    }

    fn after_call(&mut self, results: &'a [ValType], base: Slot, tail: bool) {
        if tail {
            self.reachable = false;
            return;
        }
        debug_assert_eq!(self.height_cells(), base);
        for &t in results {
            self.push(Src::Slot, t);
        }
        // The callee's frame overlaps ours from `base` on; make sure the frame covers it.
        self.max_cells = self.max_cells.max(base + cells_of(results));
    }

    fn call_indirect(&mut self, type_index: u32, table: u32, tail: bool) {
        let ty = &self.module.types[type_index as usize];
        let index = self.pop();
        let idx_slot = self.operand(index);
        let n = ty.params().len();
        let base = if n > 0 { self.call_args(n) } else { index.pos };
        let ty_id = self.module.type_ids[type_index as usize];
        let table = table as u16;
        self.emit(if tail {
            Instr::ReturnCallIndirect {
                ty: ty_id,
                index: idx_slot,
                base,
                table,
            }
        } else {
            Instr::CallIndirect {
                ty: ty_id,
                index: idx_slot,
                base,
                table,
            }
        });
        self.after_call(ty.results(), base, tail);
    }

    /// Pops `n` operands into consecutive canonical cells and returns the first.
    fn contiguous_args(&mut self, n: usize) -> Slot {
        self.materialize_top(n);
        let first = self.stack[self.stack.len() - n].pos;
        for _ in 0..n {
            self.pop();
        }
        first
    }

    fn select(&mut self) {
        let n = self.stack.len();
        if self.stack[n - 3].ty.cells() == 1 {
            let cond = self.pop();
            let b = self.pop();
            let a = self.pop();
            let c = self.operand(cond);
            let bs = self.operand(b);
            let as_ = self.operand(a);
            // Every slot fits 16 bits in a function that fits the frame window; a function
            // that does not is refused once translated, so what is emitted then is moot.
            let s16 = |s: Slot| s as u16;
            self.emit(Instr::Select3(Select3 {
                dst: s16(a.pos),
                a: s16(as_),
                b: s16(bs),
                cond: s16(c),
            }));
            self.push_result(a.ty);
            return;
        }
        let cond = self.pop();
        let other = self.pop();
        let first = self.stack.len() - 1;
        self.materialize(first);
        let first = self.pop();
        let c = self.operand(cond);
        let o = self.operand(other);
        let dst = first.pos;
        self.emit(Instr::Select128 {
            dst,
            other: o,
            cond: c,
        });
        self.push_result(first.ty);
        self.fusable = None;
    }

    fn retype(&mut self, ty: ValType) {
        let i = self.stack.len() - 1;
        self.stack[i].ty = ty;
    }

    fn translate(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        if !self.reachable {
            match op {
                O::Block { .. } | O::Loop { .. } | O::If { .. } => self.push_dead_control(),
                O::Else => self.translate_else(),
                O::End => self.translate_end(),
                _ => {}
            }
            return Ok(());
        }
        match op {
            O::Unreachable => {
                self.emit(Instr::Unreachable);
                self.reachable = false;
            }
            O::Nop => {}
            O::Block { blockty } => self.enter_block(Kind::Block, blockty),
            O::Loop { blockty } => self.enter_block(Kind::Loop, blockty),
            O::If { blockty } => self.translate_if(blockty),
            O::Else => self.translate_else(),
            O::End => self.translate_end(),
            O::Br { relative_depth } => {
                self.branch(relative_depth);
                self.reachable = false;
            }
            O::BrIf { relative_depth } => self.branch_if(relative_depth),
            O::BrTable { targets } => {
                self.br_table(&targets)?;
                self.reachable = false;
            }
            O::Return => {
                self.emit_return();
                self.reachable = false;
            }
            O::Call { function_index } => self.call(function_index, false),
            O::ReturnCall { function_index } => self.call(function_index, true),
            O::CallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(type_index, table_index, false),
            O::ReturnCallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(type_index, table_index, true),
            O::Drop => {
                self.pop();
            }
            O::Select | O::TypedSelect { .. } => self.select(),
            O::TypedSelectMulti { .. } => unreachable!("rejected by validation"),
            O::LocalGet { local_index } => {
                let slot = self.local_slots[local_index as usize];
                let ty = self.local_types[local_index as usize];
                self.push(Src::Local(slot), ty);
            }
            O::LocalSet { local_index } => self.local_set(local_index, false),
            O::LocalTee { local_index } => self.local_set(local_index, true),
            O::GlobalGet { global_index } => {
                let ty = self.module.globals[global_index as usize].content;
                let dst = self.height_cells();
                self.emit(if ty.cells() == 2 {
                    Instr::GlobalGet128 {
                        dst,
                        global: global_index,
                    }
                } else {
                    match global_index.checked_sub(self.module.num_imported_globals) {
                        Some(global) => Instr::GlobalGet { dst, global },
                        None => Instr::GlobalGetImported {
                            dst,
                            global: global_index,
                        },
                    }
                });
                self.push_result(ty);
            }
            O::GlobalSet { global_index } => {
                let e = self.pop();
                let src = self.operand(e);
                self.emit(if e.ty.cells() == 2 {
                    Instr::GlobalSet128 {
                        src,
                        global: global_index,
                    }
                } else {
                    match global_index.checked_sub(self.module.num_imported_globals) {
                        Some(global) => Instr::GlobalSet { src, global },
                        None => Instr::GlobalSetImported {
                            src,
                            global: global_index,
                        },
                    }
                });
            }

            // ---- memory ----
            O::I32Load { memarg } => self.load(
                Instr::I32Load,
                Some((
                    Instr::I32LoadIdx,
                    Instr::I32LoadDisp,
                    Some(Instr::I32LoadAbs),
                )),
                memarg,
                ValType::I32,
            ),
            O::I64Load { memarg } => self.load(
                Instr::I64Load,
                Some((
                    Instr::I64LoadIdx,
                    Instr::I64LoadDisp,
                    Some(Instr::I64LoadAbs),
                )),
                memarg,
                ValType::I64,
            ),
            O::F32Load { memarg } => self.load(
                Instr::I32Load,
                Some((
                    Instr::I32LoadIdx,
                    Instr::I32LoadDisp,
                    Some(Instr::I32LoadAbs),
                )),
                memarg,
                ValType::F32,
            ),
            O::F64Load { memarg } => self.load(
                Instr::I64Load,
                Some((
                    Instr::I64LoadIdx,
                    Instr::I64LoadDisp,
                    Some(Instr::I64LoadAbs),
                )),
                memarg,
                ValType::F64,
            ),
            O::I32Load8S { memarg } => self.load(
                Instr::I32Load8S,
                Some((Instr::I32Load8SIdx, Instr::I32Load8SDisp, None)),
                memarg,
                ValType::I32,
            ),
            O::I32Load8U { memarg } => self.load(
                Instr::I32Load8U,
                Some((
                    Instr::I32Load8UIdx,
                    Instr::I32Load8UDisp,
                    Some(Instr::I32Load8UAbs),
                )),
                memarg,
                ValType::I32,
            ),
            O::I32Load16S { memarg } => self.load(
                Instr::I32Load16S,
                Some((Instr::I32Load16SIdx, Instr::I32Load16SDisp, None)),
                memarg,
                ValType::I32,
            ),
            O::I32Load16U { memarg } => self.load(
                Instr::I32Load16U,
                Some((Instr::I32Load16UIdx, Instr::I32Load16UDisp, None)),
                memarg,
                ValType::I32,
            ),
            O::I64Load8S { memarg } => self.load(Instr::I64Load8S, None, memarg, ValType::I64),
            O::I64Load8U { memarg } => self.load(
                Instr::I32Load8U,
                Some((
                    Instr::I32Load8UIdx,
                    Instr::I32Load8UDisp,
                    Some(Instr::I32Load8UAbs),
                )),
                memarg,
                ValType::I64,
            ),
            O::I64Load16S { memarg } => self.load(Instr::I64Load16S, None, memarg, ValType::I64),
            O::I64Load16U { memarg } => self.load(
                Instr::I32Load16U,
                Some((Instr::I32Load16UIdx, Instr::I32Load16UDisp, None)),
                memarg,
                ValType::I64,
            ),
            O::I64Load32S { memarg } => self.load(Instr::I64Load32S, None, memarg, ValType::I64),
            O::I64Load32U { memarg } => self.load(
                Instr::I32Load,
                Some((
                    Instr::I32LoadIdx,
                    Instr::I32LoadDisp,
                    Some(Instr::I32LoadAbs),
                )),
                memarg,
                ValType::I64,
            ),
            O::I32Store { memarg } | O::F32Store { memarg } | O::I64Store32 { memarg } => self
                .store(
                    StoreForms {
                        make: Instr::I32Store,
                        make_imm: Instr::I32StoreImm,
                        make_disp: Instr::I32StoreDisp,
                        make_imm_disp: Instr::I32StoreImmDisp,
                        make_abs: Some(Instr::I32StoreAbs),
                        make_add: Some(Instr::I32StoreAddImm),
                    },
                    false,
                    memarg,
                ),
            O::I64Store { memarg } | O::F64Store { memarg } => self.store(
                StoreForms {
                    make: Instr::I64Store,
                    make_imm: Instr::I64StoreImm,
                    make_disp: Instr::I64StoreDisp,
                    make_imm_disp: Instr::I64StoreImmDisp,
                    make_abs: Some(Instr::I64StoreAbs),
                    make_add: None,
                },
                true,
                memarg,
            ),
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => self.store(
                StoreForms {
                    make: Instr::I32Store8,
                    make_imm: Instr::I32Store8Imm,
                    make_disp: Instr::I32Store8Disp,
                    make_imm_disp: Instr::I32Store8ImmDisp,
                    make_abs: None,
                    make_add: None,
                },
                false,
                memarg,
            ),
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => self.store(
                StoreForms {
                    make: Instr::I32Store16,
                    make_imm: Instr::I32Store16Imm,
                    make_disp: Instr::I32Store16Disp,
                    make_imm_disp: Instr::I32Store16ImmDisp,
                    make_abs: None,
                    make_add: None,
                },
                false,
                memarg,
            ),
            O::MemorySize { mem } => {
                let dst = self.height_cells();
                self.emit(Instr::MemorySize { dst, memory: mem });
                self.push_result(ValType::I32);
            }
            O::MemoryGrow { mem } => {
                let e = self.pop();
                let delta = self.operand(e);
                self.emit(Instr::MemoryGrow {
                    dst: e.pos,
                    delta,
                    memory: mem,
                });
                self.push_result(ValType::I32);
            }
            O::MemoryFill { mem } => {
                let args = self.contiguous_args(3);
                self.emit(Instr::MemoryFill { args, memory: mem });
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                let args = self.contiguous_args(3);
                self.emit(Instr::MemoryCopy {
                    args,
                    dst_memory: dst_mem,
                    src_memory: src_mem,
                });
            }
            O::MemoryInit { data_index, mem } => {
                let args = self.contiguous_args(3);
                self.emit(Instr::MemoryInit {
                    args,
                    data: data_index,
                    memory: mem,
                });
            }
            O::DataDrop { data_index } => {
                self.emit(Instr::DataDrop { data: data_index });
            }

            // ---- tables and references ----
            O::TableGet { table } => {
                let e = self.pop();
                let index = self.operand(e);
                self.emit(Instr::TableGet {
                    dst: e.pos,
                    index,
                    table,
                });
                let ty = self.module.tables[table as usize].element.into();
                self.push_result(ty);
            }
            O::TableSet { table } => {
                let v = self.pop();
                let i = self.pop();
                let index = self.operand(i);
                let value = self.operand(v);
                self.emit(Instr::TableSet {
                    index,
                    value,
                    table,
                });
            }
            O::TableSize { table } => {
                let dst = self.height_cells();
                self.emit(Instr::TableSize { dst, table });
                self.push_result(ValType::I32);
            }
            O::TableGrow { table } => {
                let args = self.contiguous_args(2);
                self.emit(Instr::TableGrow { args, table });
                self.push(Src::Slot, ValType::I32);
            }
            O::TableFill { table } => {
                let args = self.contiguous_args(3);
                self.emit(Instr::TableFill { args, table });
            }
            O::TableCopy {
                dst_table,
                src_table,
            } => {
                let args = self.contiguous_args(3);
                self.emit(Instr::TableCopy {
                    args,
                    dst_table,
                    src_table,
                });
            }
            O::TableInit { elem_index, table } => {
                let args = self.contiguous_args(3);
                self.emit(Instr::TableInit {
                    args,
                    elem: elem_index,
                    table,
                });
            }
            O::ElemDrop { elem_index } => {
                self.emit(Instr::ElemDrop { elem: elem_index });
            }
            O::RefNull { hty } => {
                let ty = if hty == wasmparser::HeapType::EXTERN {
                    ValType::ExternRef
                } else {
                    ValType::FuncRef
                };
                self.push(Src::Const(0), ty);
            }
            O::RefIsNull => self.unary(
                |u| Instr::RefIsNull {
                    dst: u.dst,
                    src: u.src,
                },
                ValType::I32,
            ),
            O::RefFunc { function_index } => {
                let dst = self.height_cells();
                self.emit(Instr::RefFunc {
                    dst,
                    func: function_index,
                });
                self.push_result(ValType::FuncRef);
            }

            // ---- constants ----
            O::I32Const { value } => {
                self.push(Src::Const(value as u32 as u64), ValType::I32);
            }
            O::I64Const { value } => {
                self.push(Src::Const(value as u64), ValType::I64);
            }
            O::F32Const { value } => {
                self.push(Src::Const(value.bits() as u64), ValType::F32);
            }
            O::F64Const { value } => {
                self.push(Src::Const(value.bits()), ValType::F64);
            }

            // ---- i32 ----
            O::I32Eqz => self.unary(Instr::I32Eqz, ValType::I32),
            O::I32Eq => bin!(self, I32Eq, I32EqImm, I32EqImm),
            O::I32Ne => bin!(self, I32Ne, I32NeImm, I32NeImm),
            O::I32LtS => bin!(self, I32LtS, I32LtSImm, I32GtSImm),
            O::I32LtU => bin!(self, I32LtU, I32LtUImm, I32GtUImm),
            O::I32GtS => bin!(self, I32GtS, I32GtSImm, I32LtSImm),
            O::I32GtU => bin!(self, I32GtU, I32GtUImm, I32LtUImm),
            O::I32LeS => bin!(self, I32LeS, I32LeSImm, I32GeSImm),
            O::I32LeU => bin!(self, I32LeU, I32LeUImm, I32GeUImm),
            O::I32GeS => bin!(self, I32GeS, I32GeSImm, I32LeSImm),
            O::I32GeU => bin!(self, I32GeU, I32GeUImm, I32LeUImm),
            O::I32Clz => self.unary(Instr::I32Clz, ValType::I32),
            O::I32Ctz => self.unary(Instr::I32Ctz, ValType::I32),
            O::I32Popcnt => self.unary(Instr::I32Popcnt, ValType::I32),
            O::I32Add => self.add32(),
            O::I32Sub => self.sub(false),
            O::I32Mul => bin!(self, I32Mul, I32MulImm, I32MulImm),
            O::I32DivS => bin!(self, I32DivS),
            O::I32DivU => {
                if !self.div_u_by_constant(false) {
                    bin!(self, I32DivU)
                }
            }
            O::I32RemS => bin!(self, I32RemS),
            O::I32RemU => {
                if !self.div_u_by_constant(true) {
                    bin!(self, I32RemU)
                }
            }
            O::I32And => bin!(self, I32And, I32AndImm, I32AndImm),
            O::I32Or => bin!(self, I32Or, I32OrImm, I32OrImm),
            O::I32Xor => self.xor(false),
            O::I32Shl => self.binary(
                Instr::I32Shl,
                Some(Instr::I32ShlImm),
                Some(Instr::I32ShlRevImm),
            ),
            O::I32ShrS => self.binary(Instr::I32ShrS, Some(Instr::I32ShrSImm), None),
            O::I32ShrU => self.binary(Instr::I32ShrU, Some(Instr::I32ShrUImm), None),
            O::I32Rotl => self.rotate(false, false),
            O::I32Rotr => self.rotate(false, true),

            // ---- i64 ----
            O::I64Eqz => self.unary(Instr::I64Eqz, ValType::I32),
            O::I64Eq => bin!(self, I64Eq, I64EqImm, I64EqImm),
            O::I64Ne => bin!(self, I64Ne, I64NeImm, I64NeImm),
            O::I64LtS => bin!(self, I64LtS, I64LtSImm, I64GtSImm),
            O::I64LtU => bin!(self, I64LtU, I64LtUImm, I64GtUImm),
            O::I64GtS => bin!(self, I64GtS, I64GtSImm, I64LtSImm),
            O::I64GtU => bin!(self, I64GtU, I64GtUImm, I64LtUImm),
            O::I64LeS => bin!(self, I64LeS, I64LeSImm, I64GeSImm),
            O::I64LeU => bin!(self, I64LeU, I64LeUImm, I64GeUImm),
            O::I64GeS => bin!(self, I64GeS, I64GeSImm, I64LeSImm),
            O::I64GeU => bin!(self, I64GeU, I64GeUImm, I64LeUImm),
            O::I64Clz => self.unary(Instr::I64Clz, ValType::I64),
            O::I64Ctz => self.unary(Instr::I64Ctz, ValType::I64),
            O::I64Popcnt => self.unary(Instr::I64Popcnt, ValType::I64),
            O::I64Add => self.add64(),
            O::I64Sub => self.sub(true),
            O::I64Mul => bin!(self, I64Mul, I64MulImm, I64MulImm),
            O::I64DivS => bin!(self, I64DivS),
            O::I64DivU => bin!(self, I64DivU),
            O::I64RemS => bin!(self, I64RemS),
            O::I64RemU => bin!(self, I64RemU),
            O::I64And => self.and64(),
            O::I64Or => bin!(self, I64Or, I64OrImm, I64OrImm),
            O::I64Xor => self.xor(true),
            O::I64Shl => self.binary(Instr::I64Shl, Some(Instr::I64ShlImm), None),
            O::I64ShrS => self.binary(Instr::I64ShrS, Some(Instr::I64ShrSImm), None),
            O::I64ShrU => self.binary(Instr::I64ShrU, Some(Instr::I64ShrUImm), None),
            O::I64Rotl => self.rotate(true, false),
            O::I64Rotr => self.rotate(true, true),

            // ---- f32 ----
            O::F32Eq => bin!(self, F32Eq),
            O::F32Ne => bin!(self, F32Ne),
            O::F32Lt => bin!(self, F32Lt),
            O::F32Gt => bin!(self, F32Gt),
            O::F32Le => bin!(self, F32Le),
            O::F32Ge => bin!(self, F32Ge),
            O::F32Abs => self.unary(Instr::F32Abs, ValType::F32),
            O::F32Neg => self.unary(Instr::F32Neg, ValType::F32),
            O::F32Ceil => self.unary(Instr::F32Ceil, ValType::F32),
            O::F32Floor => self.unary(Instr::F32Floor, ValType::F32),
            O::F32Trunc => self.unary(Instr::F32Trunc, ValType::F32),
            O::F32Nearest => self.unary(Instr::F32Nearest, ValType::F32),
            O::F32Sqrt => self.unary(Instr::F32Sqrt, ValType::F32),
            O::F32Add => bin!(self, F32Add),
            O::F32Sub => bin!(self, F32Sub),
            O::F32Mul => bin!(self, F32Mul),
            O::F32Div => bin!(self, F32Div),
            O::F32Min => bin!(self, F32Min),
            O::F32Max => bin!(self, F32Max),
            O::F32Copysign => bin!(self, F32Copysign),

            // ---- f64 ----
            O::F64Eq => bin!(self, F64Eq),
            O::F64Ne => bin!(self, F64Ne),
            O::F64Lt => bin!(self, F64Lt),
            O::F64Gt => bin!(self, F64Gt),
            O::F64Le => bin!(self, F64Le),
            O::F64Ge => bin!(self, F64Ge),
            O::F64Abs => self.unary(Instr::F64Abs, ValType::F64),
            O::F64Neg => self.unary(Instr::F64Neg, ValType::F64),
            O::F64Ceil => self.unary(Instr::F64Ceil, ValType::F64),
            O::F64Floor => self.unary(Instr::F64Floor, ValType::F64),
            O::F64Trunc => self.unary(Instr::F64Trunc, ValType::F64),
            O::F64Nearest => self.unary(Instr::F64Nearest, ValType::F64),
            O::F64Sqrt => self.unary(Instr::F64Sqrt, ValType::F64),
            O::F64Add => bin!(self, F64Add),
            O::F64Sub => bin!(self, F64Sub),
            O::F64Mul => bin!(self, F64Mul),
            O::F64Div => bin!(self, F64Div),
            O::F64Min => bin!(self, F64Min),
            O::F64Max => bin!(self, F64Max),
            O::F64Copysign => bin!(self, F64Copysign),

            // ---- conversions ----
            O::I32WrapI64 => self.unary(Instr::I32WrapI64, ValType::I32),
            O::I32TruncF32S => self.unary(Instr::I32TruncF32S, ValType::I32),
            O::I32TruncF32U => self.unary(Instr::I32TruncF32U, ValType::I32),
            O::I32TruncF64S => self.unary(Instr::I32TruncF64S, ValType::I32),
            O::I32TruncF64U => self.unary(Instr::I32TruncF64U, ValType::I32),
            O::I64ExtendI32S => self.unary(Instr::I64ExtendI32S, ValType::I64),
            O::I64ExtendI32U => self.retype(ValType::I64),
            O::I64TruncF32S => self.unary(Instr::I64TruncF32S, ValType::I64),
            O::I64TruncF32U => self.unary(Instr::I64TruncF32U, ValType::I64),
            O::I64TruncF64S => self.unary(Instr::I64TruncF64S, ValType::I64),
            O::I64TruncF64U => self.unary(Instr::I64TruncF64U, ValType::I64),
            O::F32ConvertI32S => self.unary(Instr::F32ConvertI32S, ValType::F32),
            O::F32ConvertI32U => self.unary(Instr::F32ConvertI32U, ValType::F32),
            O::F32ConvertI64S => self.unary(Instr::F32ConvertI64S, ValType::F32),
            O::F32ConvertI64U => self.unary(Instr::F32ConvertI64U, ValType::F32),
            O::F32DemoteF64 => self.unary(Instr::F32DemoteF64, ValType::F32),
            O::F64ConvertI32S => self.unary(Instr::F64ConvertI32S, ValType::F64),
            O::F64ConvertI32U => self.unary(Instr::F64ConvertI32U, ValType::F64),
            O::F64ConvertI64S => self.unary(Instr::F64ConvertI64S, ValType::F64),
            O::F64ConvertI64U => self.unary(Instr::F64ConvertI64U, ValType::F64),
            O::F64PromoteF32 => self.unary(Instr::F64PromoteF32, ValType::F64),
            O::I32ReinterpretF32 => self.retype(ValType::I32),
            O::I64ReinterpretF64 => self.retype(ValType::I64),
            O::F32ReinterpretI32 => self.retype(ValType::F32),
            O::F64ReinterpretI64 => self.retype(ValType::F64),
            O::I32Extend8S => self.unary(Instr::I32Extend8S, ValType::I32),
            O::I32Extend16S => self.unary(Instr::I32Extend16S, ValType::I32),
            O::I64Extend8S => self.unary(Instr::I64Extend8S, ValType::I64),
            O::I64Extend16S => self.unary(Instr::I64Extend16S, ValType::I64),
            O::I64Extend32S => self.unary(Instr::I64Extend32S, ValType::I64),
            O::I32TruncSatF32S => self.unary(Instr::I32TruncSatF32S, ValType::I32),
            O::I32TruncSatF32U => self.unary(Instr::I32TruncSatF32U, ValType::I32),
            O::I32TruncSatF64S => self.unary(Instr::I32TruncSatF64S, ValType::I32),
            O::I32TruncSatF64U => self.unary(Instr::I32TruncSatF64U, ValType::I32),
            O::I64TruncSatF32S => self.unary(Instr::I64TruncSatF32S, ValType::I64),
            O::I64TruncSatF32U => self.unary(Instr::I64TruncSatF32U, ValType::I64),
            O::I64TruncSatF64S => self.unary(Instr::I64TruncSatF64S, ValType::I64),
            O::I64TruncSatF64U => self.unary(Instr::I64TruncSatF64U, ValType::I64),

            other => match simd::classify(&other) {
                Some(s) => self.simd(s),
                None => {
                    return Err(Error::Compile(crate::error::CompileError {
                        message: format!("unsupported operator {other:?}"),
                        offset: self.offset as u64,
                    }))
                }
            },
        }
        Ok(())
    }

    fn simd(&mut self, op: SimdOp) {
        match op {
            SimdOp::Const(v) => {
                let index = self.consts.len() as u32;
                self.consts.push(v);
                self.push(Src::Const128(index), ValType::V128);
            }
            SimdOp::Unary(op) => {
                let e = self.pop();
                let src = self.operand(e);
                self.emit(Instr::V128Unary {
                    op,
                    dst: e.pos,
                    src,
                });
                self.push_result(ValType::V128);
            }
            SimdOp::Binary(op) => {
                let r = self.pop();
                let l = self.pop();
                if matches!(op, SimdBinary::V128Or | SimdBinary::V128Xor) {
                    if let Some(rotate) = self.vector_rotation(l, r) {
                        let first = self.code.len() - 2;
                        self.code[first] = rotate;
                        self.drop_merged_last();
                        self.push_result(ValType::V128);
                        return;
                    }
                }
                let lhs = self.operand(l);
                if let Src::Const128(index) = r.src {
                    self.emit(Instr::V128BinaryConst {
                        op,
                        dst: l.pos,
                        lhs,
                        index,
                    });
                } else {
                    let rhs = self.operand(r);
                    self.emit(Instr::V128Binary {
                        op,
                        dst: l.pos,
                        lhs,
                        rhs,
                    });
                }
                self.push_result(ValType::V128);
            }
            SimdOp::Ternary(SimdTernary::V128Bitselect) => self.bitselect(),
            SimdOp::Shift(op) => {
                let amount = self.pop();
                let v = self.pop();
                let lhs = self.operand(v);
                if let Src::Const(c) = amount.src {
                    self.emit(Instr::V128ShiftImm {
                        op,
                        dst: v.pos,
                        lhs,
                        amount: (c as u32 % 64) as u16,
                    });
                } else {
                    let amount = self.operand(amount);
                    self.emit(Instr::V128Shift {
                        op,
                        dst: v.pos,
                        lhs,
                        amount,
                    });
                }
                self.push_result(ValType::V128);
            }
            SimdOp::Splat(op) => {
                let e = self.pop();
                let src = self.operand(e);
                self.emit(Instr::V128Splat {
                    op,
                    dst: e.pos,
                    src,
                });
                self.push_result(ValType::V128);
            }
            SimdOp::ExtractLane(op, lane) => {
                let e = self.pop();
                let src = self.operand(e);
                self.emit(Instr::V128ExtractLane {
                    op,
                    lane,
                    dst: e.pos,
                    src,
                });
                self.push_result(extract_type(op));
            }
            SimdOp::ReplaceLane(op, lane) => {
                let s = self.pop();
                let first = self.stack.len() - 1;
                self.materialize(first);
                let v = self.pop();
                let scalar = self.operand(s);
                self.emit(Instr::V128ReplaceLane {
                    op,
                    lane,
                    dst: v.pos,
                    scalar,
                });
                self.push(Src::Slot, ValType::V128);
            }
            SimdOp::Test(op) => {
                let e = self.pop();
                let src = self.operand(e);
                self.emit(Instr::V128Test {
                    op,
                    dst: e.pos,
                    src,
                });
                self.push_result(ValType::I32);
            }
            SimdOp::Shuffle(lanes) => {
                if let Some((wide, bytes, from_rhs)) = lane_rotation(&lanes) {
                    // A rotation of every 32- or 64-bit lane by whole bytes (BLAKE3's and
                    // ChaCha's `rot16`/`rot8`, written as shuffles): four or two rotates
                    // instead of lane picks.
                    let r = self.pop();
                    let l = self.pop();
                    let lhs = self.operand(if from_rhs { r } else { l });
                    let amount = 8 * bytes as u16;
                    let dst = l.pos;
                    self.emit(if wide {
                        Instr::V128Rotl64Imm { dst, lhs, amount }
                    } else {
                        Instr::V128Rotl32Imm { dst, lhs, amount }
                    });
                    self.push_result(ValType::V128);
                    return;
                }
                self.shuffle(&lanes);
            }
            SimdOp::Load(op, memarg) => {
                let addr = self.pop();
                // `v128.load` of an address just computed as `p + C` or `(i << s) + C`: one
                // load, as for scalar loads.
                if let (SimdLoad::Load128, Some((at, producer)), Ok(dst)) =
                    (op, self.producer(addr), u16::try_from(addr.pos))
                {
                    if let Some(load) = load_disp(producer, dst, memarg.offset as u32) {
                        self.replace_producer(at, Instr::V128LoadDisp(load), ValType::V128);
                        return;
                    }
                }
                let a = self.operand(addr);
                self.emit(Instr::V128Load {
                    op,
                    dst: addr.pos,
                    addr: a,
                    offset: memarg.offset as u32,
                });
                self.push_result(ValType::V128);
            }
            SimdOp::Store(memarg) => {
                let v = self.pop();
                let addr = self.pop();
                let a = self.operand(addr);
                let src = self.operand(v);
                self.emit(Instr::V128Store {
                    addr: a,
                    src,
                    offset: memarg.offset as u32,
                });
            }
            SimdOp::LoadLane(op, memarg, lane) => {
                // The vector is updated in its own canonical cells, then moved down over the
                // address operand.
                let top = self.stack.len() - 1;
                self.materialize(top);
                let v = self.pop();
                let addr = self.pop();
                let a = self.operand(addr);
                self.emit(Instr::V128LoadLane {
                    op,
                    lane,
                    dst: v.pos,
                    addr: a,
                    offset: memarg.offset as u32,
                });
                self.emit(Instr::Copy128 {
                    dst: addr.pos,
                    src: v.pos,
                });
                self.push(Src::Slot, ValType::V128);
            }
            SimdOp::StoreLane(op, memarg, lane) => {
                let v = self.pop();
                let addr = self.pop();
                let a = self.operand(addr);
                let src = self.operand(v);
                self.emit(Instr::V128StoreLane {
                    op,
                    lane,
                    src,
                    addr: a,
                    offset: memarg.offset as u32,
                });
            }
        }
    }
}

/// The indexed, displaced and absolute forms of a load, into which address arithmetic is
/// fused.
type FusedLoads = (
    fn(LoadIdx) -> Instr,
    fn(LoadDisp) -> Instr,
    Option<fn(LoadAbs) -> Instr>,
);

/// When backward branches poll for interruption (`poll`), flags every branch whose target
/// is at or before it (see [`BACKWARD`]) and makes backward `Br`s `BrBack`s; without
/// polling no flag is set, so the interpreter tests nothing. Last, once targets are final.
fn mark_backward(code: &mut [Instr], poll: bool, offset: u64) -> Result<(), Error> {
    if code.len() >= BACKWARD as usize {
        return Err(crate::limits::module_limit(
            "instructions_per_function",
            BACKWARD as usize - 1,
            code.len(),
            offset,
        ));
    }
    if !poll {
        return Ok(());
    }
    for (i, instr) in code.iter_mut().enumerate() {
        if let Some(target) = instr.target() {
            if target as usize <= i {
                // An unconditional backward branch gets its own instruction, so that a
                // forward `Br` needs no test at all.
                if let Instr::Br { .. } = instr {
                    *instr = Instr::BrBack { target };
                }
                instr.set_target(target | BACKWARD);
            }
        }
    }
    Ok(())
}

/// Jump threading, once every target is final: a branch to a `Br` goes straight to the
/// final target; a `Br` to a return becomes that return; and `Copy x ← y; return x` becomes
/// `return y` (the shape of an `if` arm that yields a value at the end of a function).
/// One-for-one replacements, so instruction indices, offsets and fuel counts are unchanged.
fn thread_jumps(code: &mut [Instr]) {
    // Where a jump to `target` ends up through `Br`s. Bounded: a cycle of `Br`s (an empty
    // infinite loop) must stay a loop.
    let through_brs = |code: &[Instr], mut target: Target| {
        for _ in 0..8 {
            match code.get(target as usize) {
                Some(&Instr::Br { target: next }) if next != target => target = next,
                _ => break,
            }
        }
        target
    };
    for i in 0..code.len() {
        let Instr::Br { target } = code[i] else {
            // A conditional branch to a `Br` goes straight to the final target.
            if let Some(target) = code[i].target() {
                let final_target = through_brs(code, target);
                code[i].set_target(final_target);
            }
            continue;
        };
        let target = through_brs(code, target);
        match code.get(target as usize).copied() {
            Some(ret @ (Instr::Return | Instr::ReturnSlot { .. })) => {
                code[i] = ret;
                if let (Instr::ReturnSlot { src: x }, Some(Instr::Copy(Un { dst, src }))) =
                    (ret, i.checked_sub(1).map(|j| code[j]))
                {
                    if dst == x {
                        code[i - 1] = Instr::ReturnSlot { src };
                    }
                }
            }
            _ => code[i] = Instr::Br { target },
        }
    }
}

/// A constant or a copy right before a forward `Br` (the value an `if` arm or a `switch`
/// case yields, then the jump to the join) jumps itself; the `Br` stays, run only by
/// branches to it. One-for-one, as [`thread_jumps`], once targets are final (and before
/// [`mark_backward`]: only forward jumps, which never poll, are taken in).
fn fuse_moves_into_jumps(code: &mut [Instr]) {
    for i in 1..code.len() {
        let Instr::Br { target } = code[i] else {
            continue;
        };
        if target as usize <= i {
            continue;
        }
        code[i - 1] = match code[i - 1] {
            Instr::Const32 { dst, value } => Instr::Const32Br { dst, value, target },
            Instr::Copy(Un { dst, src }) => Instr::CopyBr { dst, src, target },
            _ => continue,
        };
    }
}

/// The constant of `e` as an `*Imm` operand, if it fits.
fn small_imm(e: Entry) -> Option<i32> {
    match (e.src, e.ty) {
        (Src::Const(c), ValType::I32) => Some(c as u32 as i32),
        (Src::Const(c), ValType::I64) => i32::try_from(c as i64).ok(),
        _ => None,
    }
}

/// The value of integer operation `make` on constants `a` and `b` (i32 operands and results
/// zero-extended, as `Src::Const` holds them), or `None` when it is not folded (division,
/// which may trap, and floating point).
fn fold_binary(make: fn(Bin) -> Instr, a: u64, b: u64) -> Option<u64> {
    let probe = make(Bin {
        dst: 0,
        lhs: 0,
        rhs: 0,
    });
    let (x, y) = (a as u32, b as u32);
    let (xs, ys) = (x as i32, y as i32);
    let (ws, zs) = (a as i64, b as i64);
    use Instr::*;
    let v32 = |v: u32| Some(v as u64);
    let flag = |c: bool| Some(c as u64);
    match probe {
        I32Add(_) => v32(x.wrapping_add(y)),
        I32Sub(_) => v32(x.wrapping_sub(y)),
        I32Mul(_) => v32(x.wrapping_mul(y)),
        I32And(_) => v32(x & y),
        I32Or(_) => v32(x | y),
        I32Xor(_) => v32(x ^ y),
        I32Shl(_) => v32(x.wrapping_shl(y)),
        I32ShrU(_) => v32(x.wrapping_shr(y)),
        I32ShrS(_) => v32(xs.wrapping_shr(y) as u32),
        I32Eq(_) => flag(x == y),
        I32Ne(_) => flag(x != y),
        I32LtU(_) => flag(x < y),
        I32LtS(_) => flag(xs < ys),
        I32GtU(_) => flag(x > y),
        I32GtS(_) => flag(xs > ys),
        I32LeU(_) => flag(x <= y),
        I32LeS(_) => flag(xs <= ys),
        I32GeU(_) => flag(x >= y),
        I32GeS(_) => flag(xs >= ys),
        I64Add(_) => Some(a.wrapping_add(b)),
        I64Sub(_) => Some(a.wrapping_sub(b)),
        I64Mul(_) => Some(a.wrapping_mul(b)),
        I64And(_) => Some(a & b),
        I64Or(_) => Some(a | b),
        I64Xor(_) => Some(a ^ b),
        I64Shl(_) => Some(a.wrapping_shl(b as u32)),
        I64ShrU(_) => Some(a.wrapping_shr(b as u32)),
        I64ShrS(_) => Some(ws.wrapping_shr(b as u32) as u64),
        I64Eq(_) => flag(a == b),
        I64Ne(_) => flag(a != b),
        I64LtU(_) => flag(a < b),
        I64LtS(_) => flag(ws < zs),
        I64GtU(_) => flag(a > b),
        I64GtS(_) => flag(ws > zs),
        I64LeU(_) => flag(a <= b),
        I64LeS(_) => flag(ws <= zs),
        I64GeU(_) => flag(a >= b),
        I64GeS(_) => flag(ws >= zs),
        _ => None,
    }
}

/// Comparisons produce i32; everything else keeps the operand type.
fn result_type_of_binary(make: fn(Bin) -> Instr, operand: ValType) -> ValType {
    let probe = make(Bin {
        dst: 0,
        lhs: 0,
        rhs: 0,
    });
    use Instr::*;
    match probe {
        I32Eq(_) | I32Ne(_) | I32LtS(_) | I32LtU(_) | I32GtS(_) | I32GtU(_) | I32LeS(_)
        | I32LeU(_) | I32GeS(_) | I32GeU(_) | I64Eq(_) | I64Ne(_) | I64LtS(_) | I64LtU(_)
        | I64GtS(_) | I64GtU(_) | I64LeS(_) | I64LeU(_) | I64GeS(_) | I64GeU(_) | F32Eq(_)
        | F32Ne(_) | F32Lt(_) | F32Gt(_) | F32Le(_) | F32Ge(_) | F64Eq(_) | F64Ne(_) | F64Lt(_)
        | F64Gt(_) | F64Le(_) | F64Ge(_) => ValType::I32,
        _ => operand,
    }
}

/// The scalar type `extract_lane` produces.
fn extract_type(op: simd::SimdExtract) -> ValType {
    use simd::SimdExtract as E;
    match op {
        E::I8x16S | E::I8x16U | E::I16x8S | E::I16x8U | E::I32x4 => ValType::I32,
        E::I64x2 => ValType::I64,
        E::F32x4 => ValType::F32,
        E::F64x2 => ValType::F64,
    }
}

/// The fused branch equivalent to "compute `cmp`, then branch if the result is `when`".
fn fused_branch(cmp: Instr, when: bool) -> Option<Instr> {
    use Instr as I;
    // The float forms: an `if` branches when the comparison does not hold, which with a
    // NaN is not the opposite comparison, hence the `Not*` forms.
    macro_rules! float_branch {
        ($v:ident, $b:expr) => {
            I::$v {
                lhs: $b.lhs,
                rhs: $b.rhs,
                target: 0,
            }
        };
    }
    let range = |c: AddCmp| AddBr {
        lhs: c.lhs,
        add: c.add,
        bound: c.bound,
        target: 0,
    };
    Some(match (cmp, when) {
        (I::I32AddLtU(c), true) | (I::I32AddGeU(c), false) => I::BrAddLtU(range(c)),
        (I::I32AddGeU(c), true) | (I::I32AddLtU(c), false) => I::BrAddGeU(range(c)),
        (I::I32AndImm(b), true) => I::BrI32AndImmNez {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I32AndImm(b), false) => I::BrI32AndImmEqz {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I32Eqz(u), true) => I::BrIfEqz {
            cond: u.src,
            target: 0,
        },
        (I::I32Eqz(u), false) => I::BrIfNez {
            cond: u.src,
            target: 0,
        },
        (I::I64Eqz(u), true) => I::BrIfEqz64 {
            cond: u.src,
            target: 0,
        },
        (I::I64Eqz(u), false) => I::BrIfNez64 {
            cond: u.src,
            target: 0,
        },
        (I::F32Eq(b), true) | (I::F32Ne(b), false) => float_branch!(BrF32Eq, b),
        (I::F32Ne(b), true) | (I::F32Eq(b), false) => float_branch!(BrF32Ne, b),
        (I::F32Lt(b), true) => float_branch!(BrF32Lt, b),
        (I::F32Lt(b), false) => float_branch!(BrF32NotLt, b),
        (I::F32Gt(b), true) => float_branch!(BrF32Gt, b),
        (I::F32Gt(b), false) => float_branch!(BrF32NotGt, b),
        (I::F32Le(b), true) => float_branch!(BrF32Le, b),
        (I::F32Le(b), false) => float_branch!(BrF32NotLe, b),
        (I::F32Ge(b), true) => float_branch!(BrF32Ge, b),
        (I::F32Ge(b), false) => float_branch!(BrF32NotGe, b),
        (I::F64Eq(b), true) | (I::F64Ne(b), false) => float_branch!(BrF64Eq, b),
        (I::F64Ne(b), true) | (I::F64Eq(b), false) => float_branch!(BrF64Ne, b),
        (I::F64Lt(b), true) => float_branch!(BrF64Lt, b),
        (I::F64Lt(b), false) => float_branch!(BrF64NotLt, b),
        (I::F64Gt(b), true) => float_branch!(BrF64Gt, b),
        (I::F64Gt(b), false) => float_branch!(BrF64NotGt, b),
        (I::F64Le(b), true) => float_branch!(BrF64Le, b),
        (I::F64Le(b), false) => float_branch!(BrF64NotLe, b),
        (I::F64Ge(b), true) => float_branch!(BrF64Ge, b),
        (I::F64Ge(b), false) => float_branch!(BrF64NotGe, b),
        (I::I32Eq(b), true) | (I::I32Ne(b), false) => I::BrI32Eq {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I32EqImm(b), true) | (I::I32NeImm(b), false) => I::BrI32EqImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I32Ne(b), true) | (I::I32Eq(b), false) => I::BrI32Ne {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I32NeImm(b), true) | (I::I32EqImm(b), false) => I::BrI32NeImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I32LtS(b), true) | (I::I32GeS(b), false) => I::BrI32LtS {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I32LtSImm(b), true) | (I::I32GeSImm(b), false) => I::BrI32LtSImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I32LtU(b), true) | (I::I32GeU(b), false) => I::BrI32LtU {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I32LtUImm(b), true) | (I::I32GeUImm(b), false) => I::BrI32LtUImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I32GtS(b), true) | (I::I32LeS(b), false) => I::BrI32GtS {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I32GtSImm(b), true) | (I::I32LeSImm(b), false) => I::BrI32GtSImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I32GtU(b), true) | (I::I32LeU(b), false) => I::BrI32GtU {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I32GtUImm(b), true) | (I::I32LeUImm(b), false) => I::BrI32GtUImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I32LeS(b), true) | (I::I32GtS(b), false) => I::BrI32LeS {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I32LeSImm(b), true) | (I::I32GtSImm(b), false) => I::BrI32LeSImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I32LeU(b), true) | (I::I32GtU(b), false) => I::BrI32LeU {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I32LeUImm(b), true) | (I::I32GtUImm(b), false) => I::BrI32LeUImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I32GeS(b), true) | (I::I32LtS(b), false) => I::BrI32GeS {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I32GeSImm(b), true) | (I::I32LtSImm(b), false) => I::BrI32GeSImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I32GeU(b), true) | (I::I32LtU(b), false) => I::BrI32GeU {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I32GeUImm(b), true) | (I::I32LtUImm(b), false) => I::BrI32GeUImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I64Eq(b), true) | (I::I64Ne(b), false) => I::BrI64Eq {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I64EqImm(b), true) | (I::I64NeImm(b), false) => I::BrI64EqImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I64Ne(b), true) | (I::I64Eq(b), false) => I::BrI64Ne {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I64NeImm(b), true) | (I::I64EqImm(b), false) => I::BrI64NeImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I64LtS(b), true) | (I::I64GeS(b), false) => I::BrI64LtS {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I64LtSImm(b), true) | (I::I64GeSImm(b), false) => I::BrI64LtSImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I64LtU(b), true) | (I::I64GeU(b), false) => I::BrI64LtU {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I64LtUImm(b), true) | (I::I64GeUImm(b), false) => I::BrI64LtUImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I64GtS(b), true) | (I::I64LeS(b), false) => I::BrI64GtS {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I64GtSImm(b), true) | (I::I64LeSImm(b), false) => I::BrI64GtSImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I64GtU(b), true) | (I::I64LeU(b), false) => I::BrI64GtU {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I64GtUImm(b), true) | (I::I64LeUImm(b), false) => I::BrI64GtUImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I64LeS(b), true) | (I::I64GtS(b), false) => I::BrI64LeS {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I64LeSImm(b), true) | (I::I64GtSImm(b), false) => I::BrI64LeSImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I64LeU(b), true) | (I::I64GtU(b), false) => I::BrI64LeU {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I64LeUImm(b), true) | (I::I64GtUImm(b), false) => I::BrI64LeUImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I64GeS(b), true) | (I::I64LtS(b), false) => I::BrI64GeS {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I64GeSImm(b), true) | (I::I64LtSImm(b), false) => I::BrI64GeSImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        (I::I64GeU(b), true) | (I::I64LtU(b), false) => I::BrI64GeU {
            lhs: b.lhs,
            rhs: b.rhs,
            target: 0,
        },
        (I::I64GeUImm(b), true) | (I::I64LtUImm(b), false) => I::BrI64GeUImm {
            lhs: b.lhs,
            imm: b.imm,
            target: 0,
        },
        _ => return None,
    })
}

/// The shuffle `mask` as a rotation left of every lane of one operand: (64-bit lanes, by
/// how many bytes, of the second operand), if it is one. Result byte `j` of a lane rotated
/// left by `k` bytes is the lane's byte `(j - k) mod width` (little-endian lanes).
fn lane_rotation(mask: &[u8; 16]) -> Option<(bool, usize, bool)> {
    let from_rhs = mask[0] >= 16;
    if mask.iter().any(|&m| (m >= 16) != from_rhs || m >= 32) {
        return None;
    }
    let source = |i: usize| (mask[i] % 16) as usize;
    [4usize, 8].into_iter().find_map(|width| {
        (1..width)
            .find(|&k| {
                (0..16).all(|i| {
                    let (lane, j) = (i / width * width, i % width);
                    source(i) == lane + (j + width - k) % width
                })
            })
            .map(|k| (width == 8, k, from_rhs))
    })
}

/// The lane indices of a byte shuffle that moves whole lanes of `width` bytes (2 or 4),
/// packed `bits(32 / width)` bits per lane, lane 0 lowest; `None` if some lane is not
/// an aligned run of consecutive bytes.
fn packed_lanes(bytes: &[u8; 16], width: usize) -> Option<u32> {
    let bits = if width == 4 { 3 } else { 4 };
    let mut packed = 0u32;
    for (i, lane) in bytes.chunks_exact(width).enumerate() {
        let first = lane[0] as usize;
        let consecutive = lane
            .iter()
            .enumerate()
            .all(|(j, &b)| b as usize == first + j);
        if !first.is_multiple_of(width) || !consecutive || first >= 32 {
            return None;
        }
        packed |= ((first / width) as u32) << (bits * i);
    }
    Some(packed)
}

/// The load into `dst` at `offset` from an address that `producer` computed as `p + C`
/// or `(i << s) + C` (an `i32.shl` by a constant and an add, which `add32` made a
/// multiply-add by a power of two), if it computed it so.
fn load_disp(producer: Instr, dst: u16, offset: u32) -> Option<LoadDisp> {
    let (addr, shift, disp) = match producer {
        Instr::I32AddImm(BinImm { lhs, imm, .. }) => (u16::try_from(lhs).ok()?, 0, imm),
        Instr::I32MulAdd(MulAdd { lhs, mul, add, .. }) if (mul as u32).is_power_of_two() => {
            (lhs, (mul as u32).trailing_zeros() as u8, add)
        }
        _ => return None,
    };
    Some(LoadDisp {
        dst,
        addr,
        shift,
        disp,
        offset,
    })
}

/// A lane shuffle's operands and its byte mask: result byte `i` is byte `mask[i]` of
/// `lhs ++ rhs` (the inverse of [`packed_lanes`]).
fn shuffle_mask(instr: Instr) -> Option<(Shuffle, [u8; 16])> {
    let (shuffle, width, bits) = match instr {
        Instr::V128Shuffle32To(s) => (s, 4, 3),
        Instr::V128Shuffle16To(s) => (s, 2, 4),
        _ => return None,
    };
    let mut mask = [0u8; 16];
    for (i, byte) in mask.iter_mut().enumerate() {
        let lane = (shuffle.lanes >> (bits * (i / width))) & ((1 << bits) - 1);
        *byte = (lane as usize * width + i % width) as u8;
    }
    Some((shuffle, mask))
}

/// Two lane shuffles in a row where the second reads only the first one's result and
/// overwrites it (`_mm_shufflehi_epi16(_mm_shufflelo_epi16(x, k), k)`, BLAKE3's `rot16`
/// in SSE2 code): one shuffle of the first one's operands, or the rotation they make.
fn compose_shuffles(first: Instr, second: Instr) -> Option<Instr> {
    let (s1, m1) = shuffle_mask(first)?;
    let (s2, m2) = shuffle_mask(second)?;
    if s2.dst != s1.dst || s2.lhs != s1.dst || s2.rhs != s1.dst {
        return None;
    }
    let mask = m2.map(|byte| m1[byte as usize % 16]);
    if let Some((wide, bytes, from_rhs)) = lane_rotation(&mask) {
        let (dst, amount) = (Slot::from(s1.dst), 8 * bytes as u16);
        let lhs = Slot::from(if from_rhs { s1.rhs } else { s1.lhs });
        return Some(if wide {
            Instr::V128Rotl64Imm { dst, lhs, amount }
        } else {
            Instr::V128Rotl32Imm { dst, lhs, amount }
        });
    }
    // Lane shuffles compose to a lane shuffle: the 16-bit form always fits.
    let make = |lanes| Shuffle { lanes, ..s1 };
    packed_lanes(&mask, 4)
        .map(|lanes| Instr::V128Shuffle32To(make(lanes)))
        .or_else(|| packed_lanes(&mask, 2).map(|lanes| Instr::V128Shuffle16To(make(lanes))))
}

/// The instruction forms of one store width, for `Translator::store`.
struct StoreForms {
    make: fn(Store) -> Instr,
    make_imm: fn(StoreImm) -> Instr,
    make_disp: fn(StoreDisp) -> Instr,
    make_imm_disp: fn(StoreImmDisp) -> Instr,
    make_abs: Option<fn(StoreAbs) -> Instr>,
    /// The store of `x + C` just computed by `i32.add` (32-bit stores only).
    make_add: Option<fn(StoreStep) -> Instr>,
}
