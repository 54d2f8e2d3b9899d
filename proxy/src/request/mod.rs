//! One HTTP exchange, as every route sees it: its state (`ctx`), reading its body (`body`),
//! what can go wrong (`errors`) and writing the answer (`respond`).

pub mod body;
pub mod body_slots;
pub mod ctx;
pub mod errors;
pub mod respond;
