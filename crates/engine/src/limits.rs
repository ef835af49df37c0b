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
