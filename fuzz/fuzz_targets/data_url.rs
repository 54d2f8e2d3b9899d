//! A `data:` or image URL, with the image and file readers. Invariants: `clawshim_core::fuzzing::data_url`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clawshim_core::fuzzing::data_url(data));
