//! Errors and traps.

use std::fmt;

/// Why execution stopped abnormally.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrapKind {
    Unreachable,
    IntegerOverflow,
    IntegerDivideByZero,
    InvalidConversionToInteger,
    MemoryOutOfBounds,
    TableOutOfBounds,
    /// `call_indirect` with an index past the end of the table.
    UndefinedElement,
    /// `call_indirect` through a null table entry.
    IndirectCallToNull,
    /// `call_indirect` to a function of another type.
    BadSignature,
    /// The configured call depth or value-stack size was exceeded.
    CallStackExhausted,
    /// A null reference was used where a non-null one is required.
    NullReference,
    /// The store's fuel ran out.
    OutOfFuel,
    /// The execution was interrupted (deadline or another thread).
    Interrupted,
    /// A resource limit was hit; the message names it.
    LimitExceeded(String),
    /// A host function reported a failure.
    Host(String),
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The texts contain the phrases the official spec testsuite expects.
        match self {
            TrapKind::Unreachable => f.write_str("unreachable executed"),
            TrapKind::IntegerOverflow => f.write_str("integer overflow"),
            TrapKind::IntegerDivideByZero => f.write_str("integer divide by zero"),
            TrapKind::InvalidConversionToInteger => f.write_str("invalid conversion to integer"),
            TrapKind::MemoryOutOfBounds => f.write_str("out of bounds memory access"),
            TrapKind::TableOutOfBounds => f.write_str("out of bounds table access"),
            TrapKind::UndefinedElement => f.write_str("undefined element"),
            TrapKind::IndirectCallToNull => {
                f.write_str("uninitialized element (indirect call to null)")
            }
            TrapKind::BadSignature => f.write_str("indirect call type mismatch"),
            TrapKind::CallStackExhausted => f.write_str("call stack exhausted"),
            TrapKind::NullReference => f.write_str("null reference"),
            TrapKind::OutOfFuel => f.write_str("out of fuel"),
            TrapKind::Interrupted => f.write_str("interrupted"),
            TrapKind::LimitExceeded(what) => write!(f, "limit exceeded: {what}"),
            TrapKind::Host(msg) => write!(f, "host error: {msg}"),
        }
    }
}

/// One frame of a wasm backtrace, innermost first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// Function index in its module's index space (imports included).
    pub func_index: u32,
    /// The function's name from the `name` section, if any.
    pub func_name: Option<String>,
    /// The module's name from the `name` section, if any.
    pub module_name: Option<String>,
    /// Byte offset of the trapping (or calling) instruction in the module binary.
    pub offset: Option<u32>,
    /// The instance the frame ran in (`None` for the "frames omitted" marker), so an
    /// embedder can tell which instance trapped and which called it.
    pub instance: Option<crate::Instance>,
}

impl fmt::Display for FrameInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = &self.module_name {
            write!(f, "{m}!")?;
        }
        match &self.func_name {
            Some(name) => write!(f, "{name}")?,
            None => write!(f, "<wasm function {}>", self.func_index)?,
        }
        if let Some(off) = self.offset {
            write!(f, " @ 0x{off:x}")?;
        }
        Ok(())
    }
}

/// A trap with the wasm backtrace at the point it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    pub kind: TrapKind,
    pub backtrace: Vec<FrameInfo>,
}

impl Trap {
    pub fn new(kind: TrapKind) -> Trap {
        Trap {
            kind,
            backtrace: Vec::new(),
        }
    }

    /// The backtrace, one frame per line, innermost first.
    pub fn backtrace_string(&self) -> String {
        let mut s = String::new();
        for (i, frame) in self.backtrace.iter().enumerate() {
            s.push_str(&format!("  {i}: {frame}\n"));
        }
        s
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for Trap {}

impl From<TrapKind> for Trap {
    fn from(kind: TrapKind) -> Trap {
        Trap::new(kind)
    }
}

/// A module that failed to decode or validate, with the byte offset where it failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at offset 0x{offset:x})")]
pub struct CompileError {
    pub message: String,
    pub offset: u64,
}

impl From<wasmparser::BinaryReaderError> for CompileError {
    fn from(e: wasmparser::BinaryReaderError) -> CompileError {
        CompileError {
            message: e.message().to_string(),
            offset: e.offset(),
        }
    }
}

/// Everything that can go wrong in the embedding API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The module could not be parsed, decoded or validated.
    #[error("invalid module: {0}")]
    Compile(#[from] CompileError),
    /// The `.wat` text could not be parsed.
    #[error("invalid text module: {0}")]
    Wat(String),
    /// An import could not be satisfied.
    #[error("unknown import: `{module}::{name}` has not been defined")]
    UnknownImport { module: String, name: String },
    /// An import was given an entity of the wrong kind or type.
    #[error("incompatible import type for `{module}::{name}`: expected {expected}, found {found}")]
    IncompatibleImport {
        module: String,
        name: String,
        expected: String,
        found: String,
    },
    /// The linker already has a definition under this name.
    #[error("`{module}::{name}` is already defined")]
    DuplicateDefinition { module: String, name: String },
    /// No export with this name (or of this kind).
    #[error("unknown export `{0}`")]
    UnknownExport(String),
    /// A call had the wrong number or types of arguments or results.
    #[error("type mismatch: {0}")]
    TypeMismatch(String),
    /// A handle was used with a store that did not create it.
    #[error("object used with the wrong store")]
    WrongStore,
    /// A resource limit was exceeded outside of execution (e.g. at instantiation).
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// Execution trapped.
    #[error("trap: {0}")]
    Trap(#[from] Trap),
    /// An I/O error reading a module file.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A host function failed with an embedder-defined error.
    #[error("{0}")]
    Host(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    /// The trap, if this error is one.
    pub fn as_trap(&self) -> Option<&Trap> {
        match self {
            Error::Trap(t) => Some(t),
            _ => None,
        }
    }

    /// Wraps an embedder-defined error (e.g. a WASI exit status) so it passes through wasm.
    pub fn host(e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Host(Box::new(e))
    }

    /// The embedder-defined error inside, if it has type `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Error::Host(e) => e.downcast_ref::<E>(),
            _ => None,
        }
    }
}

impl From<TrapKind> for Error {
    fn from(kind: TrapKind) -> Error {
        Error::Trap(Trap::new(kind))
    }
}
