//! One gateway WebSocket text frame. Invariants: `clawshim_core::fuzzing::frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clawshim_core::fuzzing::frame(data));
