#![no_main]
//! Fuzz target: see `nanoproc_fuzzing::eager_translation` for the property checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(failure) = nanoproc_fuzzing::eager_translation(data) {
        panic!("{failure}");
    }
});
