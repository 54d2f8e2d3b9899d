//! The path of an agent run, shared by the routes that start one: what is checked and
//! prepared first (`run_setup`, `idempotency`, `image_fetch`, `run_bytes`, `progress`), the admission of runs to the
//! gateway (`admission`), the loop that serves a run to the client (`run_loop`) and its two
//! outputs, for every wire format (`run_output`).

pub mod admission;
pub mod client_tools;
pub mod idempotency;
pub mod image_fetch;
pub mod progress;
pub mod run_bytes;
pub mod run_loop;
pub mod run_output;
pub mod run_setup;
