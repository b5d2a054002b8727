#![no_main]
//! Fuzz target: vanishing::fuzzing::env (see that function for the input format and properties).
libfuzzer_sys::fuzz_target!(|data: &[u8]| vanishing::fuzzing::env(data));
