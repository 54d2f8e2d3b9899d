//! An agent header and a model id, split at the first line break. Invariants: `clawshim_core::fuzzing::routing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clawshim_core::fuzzing::routing(data));
