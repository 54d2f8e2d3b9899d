//! A credential and a `previous_response_id`, split at the first line break. Invariants: `clawshim_core::fuzzing::response_id`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clawshim_core::fuzzing::response_id(data));
