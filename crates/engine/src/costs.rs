//! Fuel costs, in one table. One unit of fuel is one internal instruction (see `ir`), so
//! the same program with the same input consumes the same fuel on every run and machine.
//!
//! Fuel is charged per region: the translator starts a region at every function entry and
//! every loop header, and the region's `ConsumeFuel` carries the number of instructions up
//! to the next region start (in code order). Entering a function or starting a loop
//! iteration pays for the whole region, whatever branches are taken inside it: that keeps
//! the count deterministic (it depends only on the code and the path) and the check off
//! the hot path (a taken backward branch pays the loop's region without dispatching it).
//! Every unbounded execution goes through function entries or loop iterations, so fuel
//! bounds the work a guest can do.

/// Bytes a bulk memory operation (`memory.fill`, `memory.copy`, `memory.init`) may touch
/// per unit of fuel, on top of the instruction itself.
pub const BULK_BYTES_PER_FUEL: u64 = 64;
/// Elements a bulk table operation (`table.fill`, `table.copy`, `table.init`, `table.grow`)
/// may touch per unit of fuel.
pub const BULK_ELEMENTS_PER_FUEL: u64 = 8;
/// Bulk operations are split into chunks of this many bytes (or elements) so an
/// interruption stops even a gigabyte-sized `memory.fill` within milliseconds.
pub const BULK_CHUNK: usize = 1 << 20;
