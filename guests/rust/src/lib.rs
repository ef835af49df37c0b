//! Raw WASI preview1 imports the guests need beyond what `std` offers.

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    #[link_name = "clock_time_get"]
    fn wasi_clock_time_get(id: u32, precision: u64, time: *mut u64) -> u16;
    #[link_name = "random_get"]
    fn wasi_random_get(buf: *mut u8, len: usize) -> u16;
    #[link_name = "path_symlink"]
    fn wasi_path_symlink(
        old: *const u8,
        old_len: usize,
        fd: u32,
        new: *const u8,
        new_len: usize,
    ) -> u16;
}

/// `clock_time_get(MONOTONIC)` in nanoseconds, or the WASI errno.
pub fn monotonic() -> Result<u64, u16> {
    let mut time = 0u64;
    // SAFETY: `time` is a valid, writable u64 for the duration of the call.
    match unsafe { wasi_clock_time_get(1, 1, &mut time) } {
        0 => Ok(time),
        e => Err(e),
    }
}

/// `random_get` into `buf`, or the WASI errno.
pub fn random(buf: &mut [u8]) -> Result<(), u16> {
    // SAFETY: the pointer and length describe `buf`, writable for the call.
    match unsafe { wasi_random_get(buf.as_mut_ptr(), buf.len()) } {
        0 => Ok(()),
        e => Err(e),
    }
}

/// `path_symlink(target, dir, name)`: creates `name` (relative to the directory `dir`)
/// pointing at `target`, or returns the WASI errno.
pub fn symlink_at(target: &str, dir: u32, name: &str) -> Result<(), u16> {
    // SAFETY: both pointer/length pairs describe live `str`s.
    match unsafe {
        wasi_path_symlink(
            target.as_ptr(),
            target.len(),
            dir,
            name.as_ptr(),
            name.len(),
        )
    } {
        0 => Ok(()),
        e => Err(e),
    }
}

/// The WASI errno of an I/O error (`-1` for errors not from the system).
pub fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(-1)
}
