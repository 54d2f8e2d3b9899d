//! A `POST /v1/chat/completions` body. Invariants: `clawshim_core::fuzzing::chat_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clawshim_core::fuzzing::chat_request(data));
