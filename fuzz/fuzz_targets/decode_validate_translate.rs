#![no_main]
//! Fuzz target: see `nanoproc_fuzzing::decode_validate_translate` for the property checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(failure) = nanoproc_fuzzing::decode_validate_translate(data) {
        panic!("{failure}");
    }
});
