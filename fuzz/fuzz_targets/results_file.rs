#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitot_fuzz::results_file(data));
