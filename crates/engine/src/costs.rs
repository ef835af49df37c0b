//! Fuel costs, in one table. One unit of fuel is one internal instruction (see `ir`), so
//! the same program with the same input consumes the same fuel on every run and machine.
//!
//! Fuel is charged per straight-line region: the translator puts a `ConsumeFuel` at the
//! start of the function and at every jump target, carrying the number of instructions up
//! to the next jump target. A region is paid in full on entry, even when a branch leaves it
//! early, which keeps the count deterministic and the check off the hot path.

/// Bytes a bulk memory operation (`memory.fill`, `memory.copy`, `memory.init`) may touch
/// per unit of fuel, on top of the instruction itself.
pub const BULK_BYTES_PER_FUEL: u64 = 64;
/// Elements a bulk table operation (`table.fill`, `table.copy`, `table.init`, `table.grow`)
/// may touch per unit of fuel.
pub const BULK_ELEMENTS_PER_FUEL: u64 = 8;
/// Bulk operations are split into chunks of this many bytes (or elements) so an
/// interruption stops even a gigabyte-sized `memory.fill` within milliseconds.
pub const BULK_CHUNK: usize = 1 << 20;
