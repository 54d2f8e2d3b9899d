//! A `POST /v1/responses` body. Invariants: `clawshim_core::fuzzing::responses_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clawshim_core::fuzzing::responses_request(data));
