//! The front door: everything between a client's connection and a route. Listeners and
//! connection limits (`connections`, `tls`, `upgrade_socket`), who the client is
//! (`client_ip`, `auth`, `keys`, `failed_auth`), and what goes to the gateway unchanged
//! (`passthrough`, and `ws_login`, the gateway logins inside its WebSocket).

pub mod auth;
pub mod client_ip;
pub mod connections;
pub mod failed_auth;
pub mod header_guard;
pub mod keys;
pub mod passthrough;
pub mod tls;
pub mod upgrade_socket;
pub mod ws_login;
