//! The routes clawshim serves itself: `table` says which one a request takes; one module per
//! route (`chat`, `responses`, `models`, `embeddings`, `health`).

pub mod chat;
pub mod embeddings;
pub mod health;
pub mod models;
pub mod responses;
pub mod table;
