#![no_main]
//! Fuzz target: see `nanoproc_fuzzing::wasi_paths` for the property checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(failure) = nanoproc_fuzzing::wasi_paths(data) {
        panic!("{failure}");
    }
});
