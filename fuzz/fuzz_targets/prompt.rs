//! A chat `messages` array, typed, then built into a run prompt. Invariants: `clawshim_core::fuzzing::prompt`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clawshim_core::fuzzing::prompt(data));
