//! The component model's canonical ABI for core modules (32-bit memories, UTF-8 strings):
//! each WIT value type compiled once into its memory layout (size, alignment, field
//! offsets, padding), its flattening into core values, and the core signatures a function
//! has on each side of a call.
//!
//! - Owns: [`Ty`] (a WIT type with everything a call needs precomputed) and [`Sig`] (a
//!   function's lowered signature, as the importer sees it, and lifted one, as the provider
//!   exports it), following `CanonicalABI.md` of the component model: `MAX_FLAT_PARAMS` 16,
//!   `MAX_FLAT_RESULTS` 1, smallest discriminants, `join` of variant payloads.
//! - Must never: touch memory or run code; it only describes types.

use nanoproc_engine::{FuncType, ValType};
use wit_parser::{Resolve, Type, TypeDefKind};

/// At most this many flat parameters are passed as core values; more go through memory.
pub(crate) const MAX_FLAT_PARAMS: usize = 16;
/// At most this many flat results are returned as core values; more go through memory.
pub(crate) const MAX_FLAT_RESULTS: usize = 1;

/// A core value type of the flattening.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Core {
    I32,
    I64,
    F32,
    F64,
}

impl Core {
    pub(crate) fn val_type(self) -> ValType {
        match self {
            Core::I32 => ValType::I32,
            Core::I64 => ValType::I64,
            Core::F32 => ValType::F32,
            Core::F64 => ValType::F64,
        }
    }

    /// Whether a value of this type occupies only the low 32 bits of a cell.
    pub(crate) fn is_32(self) -> bool {
        matches!(self, Core::I32 | Core::F32)
    }

    /// The canonical ABI's `join`: the core type two variant payloads share a slot with.
    fn join(a: Core, b: Core) -> Core {
        match (a, b) {
            _ if a == b => a,
            (Core::I32, Core::F32) | (Core::F32, Core::I32) => Core::I32,
            _ => Core::I64,
        }
    }
}

/// A WIT value type with its layout and flattening precomputed.
#[derive(Clone, Debug)]
pub(crate) struct Ty {
    pub(crate) kind: Kind,
    /// Bytes in linear memory (including trailing padding).
    pub(crate) size: u32,
    /// Alignment in linear memory: 1, 2, 4 or 8.
    pub(crate) align: u32,
    /// The core values it flattens to.
    pub(crate) flat: Vec<Core>,
    /// Its bytes, once validated, can be copied verbatim: no pointers, no padding, no
    /// `bool` to normalize, no unused flag bits.
    pub(crate) plain: bool,
    /// Contains a `string` or `list`, i.e. needs memory and `cabi_realloc` on the receiving
    /// side.
    pub(crate) has_pointers: bool,
    /// Some bit patterns are invalid (a `char`, a discriminant, a pointer): the value must
    /// be validated before it is copied.
    pub(crate) checked: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Bool,
    U8,
    S8,
    U16,
    S16,
    U32,
    S32,
    U64,
    S64,
    F32,
    F64,
    Char,
    String,
    List(Box<Ty>),
    /// Records and tuples: fields with their offsets, and the padding gaps between them.
    Record {
        fields: Vec<(u32, Ty)>,
        padding: Vec<(u32, u32)>,
    },
    /// Variants, enums, options and results.
    Variant(Box<VariantTy>),
    /// `flags` with this many labels.
    Flags(u32),
}

#[derive(Clone, Debug)]
pub(crate) struct VariantTy {
    pub(crate) cases: Vec<Option<Ty>>,
    /// 1, 2 or 4 bytes.
    pub(crate) disc_size: u32,
    pub(crate) payload_offset: u32,
    /// The joined flat types of all payloads (after the discriminant's `i32`).
    pub(crate) payload_flat: Vec<Core>,
}

fn align_to(n: u32, align: u32) -> u32 {
    n.div_ceil(align) * align
}

impl Ty {
    fn scalar(kind: Kind, size: u32, core: Core) -> Ty {
        let plain = !matches!(kind, Kind::Bool);
        let checked = matches!(kind, Kind::Char);
        Ty {
            kind,
            size,
            align: size,
            flat: vec![core],
            plain,
            has_pointers: false,
            checked,
        }
    }

    pub(crate) fn bool() -> Ty {
        Ty::scalar(Kind::Bool, 1, Core::I32)
    }
    pub(crate) fn u8() -> Ty {
        Ty::scalar(Kind::U8, 1, Core::I32)
    }
    pub(crate) fn s8() -> Ty {
        Ty::scalar(Kind::S8, 1, Core::I32)
    }
    pub(crate) fn u16() -> Ty {
        Ty::scalar(Kind::U16, 2, Core::I32)
    }
    pub(crate) fn s16() -> Ty {
        Ty::scalar(Kind::S16, 2, Core::I32)
    }
    pub(crate) fn u32() -> Ty {
        Ty::scalar(Kind::U32, 4, Core::I32)
    }
    pub(crate) fn s32() -> Ty {
        Ty::scalar(Kind::S32, 4, Core::I32)
    }
    pub(crate) fn u64() -> Ty {
        Ty::scalar(Kind::U64, 8, Core::I64)
    }
    pub(crate) fn s64() -> Ty {
        Ty::scalar(Kind::S64, 8, Core::I64)
    }
    pub(crate) fn f32() -> Ty {
        Ty::scalar(Kind::F32, 4, Core::F32)
    }
    pub(crate) fn f64() -> Ty {
        Ty::scalar(Kind::F64, 8, Core::F64)
    }
    pub(crate) fn char() -> Ty {
        Ty::scalar(Kind::Char, 4, Core::I32)
    }

    pub(crate) fn string() -> Ty {
        Ty {
            kind: Kind::String,
            size: 8,
            align: 4,
            flat: vec![Core::I32, Core::I32],
            plain: false,
            has_pointers: true,
            checked: true,
        }
    }

    pub(crate) fn list(elem: Ty) -> Ty {
        Ty {
            kind: Kind::List(Box::new(elem)),
            size: 8,
            align: 4,
            flat: vec![Core::I32, Core::I32],
            plain: false,
            has_pointers: true,
            checked: true,
        }
    }

    /// A record or tuple of these field types, in order.
    pub(crate) fn record(types: Vec<Ty>) -> Ty {
        let mut offset = 0;
        let mut align = 1;
        let mut fields = Vec::with_capacity(types.len());
        let mut padding = Vec::new();
        let mut flat = Vec::new();
        let mut plain = true;
        let mut has_pointers = false;
        let mut checked = false;
        for t in types {
            let at = align_to(offset, t.align);
            if at > offset {
                padding.push((offset, at));
            }
            align = align.max(t.align);
            offset = at + t.size;
            flat.extend_from_slice(&t.flat);
            plain &= t.plain;
            has_pointers |= t.has_pointers;
            checked |= t.checked;
            fields.push((at, t));
        }
        let size = align_to(offset, align);
        if size > offset {
            padding.push((offset, size));
        }
        plain &= padding.is_empty();
        Ty {
            kind: Kind::Record { fields, padding },
            size,
            align,
            flat,
            plain,
            has_pointers,
            checked,
        }
    }

    /// A variant with these case payloads (enums: all `None`).
    pub(crate) fn variant(cases: Vec<Option<Ty>>) -> Ty {
        let n = cases.len();
        let disc_size: u32 = if n <= 1 << 8 {
            1
        } else if n <= 1 << 16 {
            2
        } else {
            4
        };
        let case_align = cases.iter().flatten().map(|t| t.align).max().unwrap_or(1);
        let payload_offset = align_to(disc_size, case_align);
        let payload_size = cases.iter().flatten().map(|t| t.size).max().unwrap_or(0);
        let align = disc_size.max(case_align);
        let size = align_to(payload_offset + payload_size, align);
        let mut payload_flat: Vec<Core> = Vec::new();
        for t in cases.iter().flatten() {
            for (i, &c) in t.flat.iter().enumerate() {
                match payload_flat.get_mut(i) {
                    Some(slot) => *slot = Core::join(*slot, c),
                    None => payload_flat.push(c),
                }
            }
        }
        let mut flat = vec![Core::I32];
        flat.extend_from_slice(&payload_flat);
        // Only payload-less variants (enums) have no bytes that depend on the case.
        let plain = cases.iter().all(Option::is_none) && size == disc_size;
        let has_pointers = cases.iter().flatten().any(|t| t.has_pointers);
        Ty {
            kind: Kind::Variant(Box::new(VariantTy {
                cases,
                disc_size,
                payload_offset,
                payload_flat,
            })),
            size,
            align,
            flat,
            plain,
            has_pointers,
            checked: true,
        }
    }

    pub(crate) fn flags(n: u32) -> Ty {
        let (size, align, words) = match n {
            0 => (0, 1, 0),
            1..=8 => (1, 1, 1),
            9..=16 => (2, 2, 1),
            _ => (4 * n.div_ceil(32), 4, n.div_ceil(32)),
        };
        Ty {
            kind: Kind::Flags(n),
            size,
            align,
            flat: vec![Core::I32; words as usize],
            // Unused high bits must be cleared unless the labels fill every byte.
            plain: n.is_multiple_of(8) && (n <= 16 || n.is_multiple_of(32)),
            has_pointers: false,
            checked: false,
        }
    }

    /// The WIT spelling of the type (for messages).
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            Kind::Bool => "bool".into(),
            Kind::U8 => "u8".into(),
            Kind::S8 => "s8".into(),
            Kind::U16 => "u16".into(),
            Kind::S16 => "s16".into(),
            Kind::U32 => "u32".into(),
            Kind::S32 => "s32".into(),
            Kind::U64 => "u64".into(),
            Kind::S64 => "s64".into(),
            Kind::F32 => "f32".into(),
            Kind::F64 => "f64".into(),
            Kind::Char => "char".into(),
            Kind::String => "string".into(),
            Kind::List(e) => format!("list<{}>", e.describe()),
            Kind::Record { fields, .. } => {
                let f: Vec<String> = fields.iter().map(|(_, t)| t.describe()).collect();
                format!("record({})", f.join(", "))
            }
            Kind::Variant(v) => format!("variant({} cases)", v.cases.len()),
            Kind::Flags(n) => format!("flags({n})"),
        }
    }
}

/// Compiles a WIT type (aliases followed) into a [`Ty`]; resources, futures, streams,
/// error contexts, maps and fixed-length lists are not supported yet.
pub(crate) fn from_wit(resolve: &Resolve, ty: &Type) -> Result<Ty, String> {
    Ok(match ty {
        Type::Bool => Ty::bool(),
        Type::U8 => Ty::u8(),
        Type::S8 => Ty::s8(),
        Type::U16 => Ty::u16(),
        Type::S16 => Ty::s16(),
        Type::U32 => Ty::u32(),
        Type::S32 => Ty::s32(),
        Type::U64 => Ty::u64(),
        Type::S64 => Ty::s64(),
        Type::F32 => Ty::f32(),
        Type::F64 => Ty::f64(),
        Type::Char => Ty::char(),
        Type::String => Ty::string(),
        Type::ErrorContext => return Err("`error-context` is not supported yet".into()),
        Type::Id(id) => {
            let def = &resolve.types[*id];
            match &def.kind {
                TypeDefKind::Type(t) => from_wit(resolve, t)?,
                TypeDefKind::Record(r) => Ty::record(
                    r.fields
                        .iter()
                        .map(|f| from_wit(resolve, &f.ty))
                        .collect::<Result<_, _>>()?,
                ),
                TypeDefKind::Tuple(t) => Ty::record(
                    t.types
                        .iter()
                        .map(|t| from_wit(resolve, t))
                        .collect::<Result<_, _>>()?,
                ),
                TypeDefKind::Flags(f) => Ty::flags(f.flags.len() as u32),
                TypeDefKind::Enum(e) => Ty::variant(vec![None; e.cases.len()]),
                TypeDefKind::Variant(v) => Ty::variant(
                    v.cases
                        .iter()
                        .map(|c| c.ty.as_ref().map(|t| from_wit(resolve, t)).transpose())
                        .collect::<Result<_, _>>()?,
                ),
                TypeDefKind::Option(t) => Ty::variant(vec![None, Some(from_wit(resolve, t)?)]),
                TypeDefKind::Result(r) => Ty::variant(vec![
                    r.ok.as_ref().map(|t| from_wit(resolve, t)).transpose()?,
                    r.err.as_ref().map(|t| from_wit(resolve, t)).transpose()?,
                ]),
                TypeDefKind::List(t) => Ty::list(from_wit(resolve, t)?),
                other => {
                    return Err(format!(
                        "`{}` types are not supported in cross-nanoprocess calls yet",
                        other.as_str()
                    ))
                }
            }
        }
    })
}

/// A function's canonical-ABI signatures.
#[derive(Clone, Debug)]
pub(crate) struct Sig {
    /// All parameters as one tuple (how they are laid out when passed through memory).
    pub(crate) params: Ty,
    pub(crate) result: Option<Ty>,
    /// More than [`MAX_FLAT_PARAMS`] flat parameters: one pointer to the tuple instead.
    pub(crate) params_in_memory: bool,
    /// More than [`MAX_FLAT_RESULTS`] flat results: returned through memory (the importer
    /// passes a return pointer as its last parameter; the provider returns a pointer).
    pub(crate) result_in_memory: bool,
    /// What the importer imports (`canon lower`).
    pub(crate) lowered: FuncType,
    /// What the provider exports (`canon lift`).
    pub(crate) lifted: FuncType,
    /// The provider's optional `cabi_post_*` export: the lifted results, nothing back.
    pub(crate) post: FuncType,
}

impl Ty {
    /// Lifting and lowering it leave its core values as they are: 32/64-bit integers and
    /// floats, and records of them (nothing to validate, normalize or copy).
    pub(crate) fn is_identity_flat(&self) -> bool {
        match &self.kind {
            Kind::U32 | Kind::S32 | Kind::U64 | Kind::S64 | Kind::F32 | Kind::F64 => true,
            Kind::Record { fields, .. } => fields.iter().all(|(_, t)| t.is_identity_flat()),
            _ => false,
        }
    }
}

impl Sig {
    /// The call needs nothing from the runtime between the two sides: every value is passed
    /// as it is, in core values (see [`crate::call::DirectLink`]).
    pub(crate) fn is_direct(&self) -> bool {
        !self.params_in_memory
            && !self.result_in_memory
            && self.params.is_identity_flat()
            && self.result.as_ref().is_none_or(Ty::is_identity_flat)
    }

    pub(crate) fn new(params: Vec<Ty>, result: Option<Ty>) -> Sig {
        let params = Ty::record(params);
        let params_in_memory = params.flat.len() > MAX_FLAT_PARAMS;
        let result_flat = result.as_ref().map_or(0, |r| r.flat.len());
        let result_in_memory = result_flat > MAX_FLAT_RESULTS;
        let mut flat_params: Vec<ValType> = if params_in_memory {
            vec![ValType::I32]
        } else {
            params.flat.iter().map(|c| c.val_type()).collect()
        };
        let flat_results: Vec<ValType> = if result_in_memory {
            vec![ValType::I32]
        } else {
            result
                .iter()
                .flat_map(|r| r.flat.iter().map(|c| c.val_type()))
                .collect()
        };
        let lifted = FuncType::new(flat_params.clone(), flat_results.clone());
        let post = FuncType::new(flat_results.clone(), []);
        let lowered = if result_in_memory {
            flat_params.push(ValType::I32);
            FuncType::new(flat_params, [])
        } else {
            FuncType::new(flat_params, flat_results)
        };
        Sig {
            params,
            result,
            params_in_memory,
            result_in_memory,
            lowered,
            lifted,
            post,
        }
    }

    /// The provider must allocate (through its `cabi_realloc`) to receive the arguments.
    pub(crate) fn provider_allocates(&self) -> bool {
        self.params_in_memory || self.params.has_pointers
    }

    /// The importer must allocate (through its `cabi_realloc`) to receive the result.
    pub(crate) fn importer_allocates(&self) -> bool {
        self.result.as_ref().is_some_and(|r| r.has_pointers)
    }

    /// The provider's memory is used at all.
    pub(crate) fn provider_memory(&self) -> bool {
        self.provider_allocates() || self.result_in_memory
    }

    /// The importer's memory is used at all.
    pub(crate) fn importer_memory(&self) -> bool {
        self.params_in_memory || self.params.has_pointers || self.result_in_memory
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_follow_the_canonical_abi() {
        // record { a: u8, b: u32, c: u16 } → 0, 4, 8; size 12, align 4.
        let r = Ty::record(vec![Ty::u8(), Ty::u32(), Ty::u16()]);
        assert_eq!((r.size, r.align), (12, 4));
        let Kind::Record { fields, padding } = &r.kind else {
            unreachable!()
        };
        assert_eq!(
            fields.iter().map(|f| f.0).collect::<Vec<_>>(),
            vec![0, 4, 8]
        );
        assert_eq!(padding, &vec![(1, 4), (10, 12)]);
        assert!(!r.plain);
        // option<u64>: disc u8, payload at 8, size 16.
        let o = Ty::variant(vec![None, Some(Ty::u64())]);
        assert_eq!((o.size, o.align), (16, 8));
        assert_eq!(o.flat, vec![Core::I32, Core::I64]);
        // result<u32, f32> flattens to [i32, i32]; result<f32, u64> to [i32, i64].
        assert_eq!(
            Ty::variant(vec![Some(Ty::u32()), Some(Ty::f32())]).flat,
            vec![Core::I32, Core::I32]
        );
        assert_eq!(
            Ty::variant(vec![Some(Ty::f32()), Some(Ty::u64())]).flat,
            vec![Core::I32, Core::I64]
        );
        // 300 cases → u16 discriminant.
        let big = Ty::variant(vec![None; 300]);
        assert_eq!((big.size, big.align), (2, 2));
        // Flags.
        assert_eq!((Ty::flags(3).size, Ty::flags(3).plain), (1, false));
        assert_eq!((Ty::flags(16).size, Ty::flags(16).plain), (2, true));
        assert_eq!(Ty::flags(40).size, 8);
        assert_eq!(Ty::flags(40).flat.len(), 2);
        // Strings and lists.
        assert_eq!((Ty::string().size, Ty::string().align), (8, 4));
        let rec = Ty::record(vec![Ty::u32(), Ty::f32()]);
        assert!(rec.plain);
    }

    #[test]
    fn signatures_spill_to_memory() {
        let s = Sig::new(vec![Ty::string(), Ty::u32()], Some(Ty::string()));
        assert!(!s.params_in_memory && s.result_in_memory);
        assert_eq!(
            s.lowered,
            FuncType::new([ValType::I32; 4], []),
            "ptr, len, u32, retptr"
        );
        assert_eq!(s.lifted, FuncType::new([ValType::I32; 3], [ValType::I32]));
        let many = Sig::new(vec![Ty::u64(); 17], Some(Ty::u32()));
        assert!(many.params_in_memory && !many.result_in_memory);
        assert_eq!(many.lowered, FuncType::new([ValType::I32], [ValType::I32]));
        let none = Sig::new(vec![], None);
        assert_eq!(none.lowered, FuncType::new([], []));
    }
}
