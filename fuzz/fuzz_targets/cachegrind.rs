#![no_main]
//! Fuzz target: vanishing::fuzzing::cachegrind (see that function for the input format and properties).
libfuzzer_sys::fuzz_target!(|data: &[u8]| vanishing::fuzzing::cachegrind(data));
