//! Resource limits: every limit a guest can push against is a named field with a documented
//! default that is safe for untrusted code, checked in one place per resource.

/// Limits of one store's resources. Defaults are safe for untrusted code; raise them
/// deliberately with [`crate::Store::set_limits`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Maximum size of one linear memory, in bytes (default 1 GiB). `memory.grow` past it
    /// returns -1; a module declaring a larger initial size fails to instantiate.
    pub memory_size: usize,
    /// Maximum bytes of all linear memories of the store together (default 2 GiB).
    pub total_memory: usize,
    /// Maximum elements of one table (default 1 000 000).
    pub table_elements: u32,
    /// Maximum elements of all tables of the store together (default 10 000 000).
    pub total_table_elements: u64,
    /// Maximum number of instances in the store (default 10 000).
    pub instances: usize,
    /// Maximum number of linear memories in the store (default 10 000).
    pub memories: usize,
    /// Maximum number of tables in the store (default 10 000).
    pub tables: usize,
}

impl Default for StoreLimits {
    fn default() -> StoreLimits {
        StoreLimits {
            memory_size: 1 << 30,
            total_memory: 2 << 30,
            table_elements: 1_000_000,
            total_table_elements: 10_000_000,
            instances: 10_000,
            memories: 10_000,
            tables: 10_000,
        }
    }
}

impl StoreLimits {
    /// Limits that only enforce the WebAssembly spec's own maxima.
    pub fn unlimited() -> StoreLimits {
        StoreLimits {
            memory_size: 1 << 32,
            total_memory: usize::MAX,
            table_elements: u32::MAX,
            total_table_elements: u64::MAX,
            instances: usize::MAX,
            memories: usize::MAX,
            tables: usize::MAX,
        }
    }
}

/// Limits checked while decoding a module, before anything proportional to a declared size
/// is allocated (an engine-wide setting: `Config::module_limits`). Defaults accept every
/// real-world program we know of, with room to spare, and reject decompression-bomb-style
/// modules early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleLimits {
    /// Size of the module binary in bytes (default 256 MiB).
    pub module_size: usize,
    /// Functions, imported and defined (default 200 000).
    pub functions: u32,
    /// Size of one function body in bytes (default 8 MiB).
    pub function_body_size: usize,
    /// Locals of one function, parameters included (default 50 000).
    pub locals_per_function: u32,
    /// Targets of one `br_table` (default 100 000).
    pub br_table_targets: u32,
    /// Types, imports, exports, globals: each (default 100 000).
    pub types: u32,
    pub imports: u32,
    pub exports: u32,
    pub globals: u32,
    /// Data segments (default 100 000) and their total size in bytes (default 256 MiB).
    pub data_segments: u32,
    pub data_bytes: usize,
    /// Element segments (default 100 000) and their total items (default 10 000 000).
    pub element_segments: u32,
    pub element_items: u64,
}

impl Default for ModuleLimits {
    fn default() -> ModuleLimits {
        ModuleLimits {
            module_size: 256 << 20,
            functions: 200_000,
            function_body_size: 8 << 20,
            locals_per_function: 50_000,
            br_table_targets: 100_000,
            types: 100_000,
            imports: 100_000,
            exports: 100_000,
            globals: 100_000,
            data_segments: 100_000,
            data_bytes: 256 << 20,
            element_segments: 100_000,
            element_items: 10_000_000,
        }
    }
}

/// The error for a module over one of its limits.
pub(crate) fn module_limit(
    name: &str,
    limit: impl std::fmt::Display,
    found: impl std::fmt::Display,
    offset: u64,
) -> crate::Error {
    crate::Error::LimitExceeded(format!(
        "module limit `{name}` is {limit}, the module has {found} (at offset 0x{offset:x})"
    ))
}
