//! The pingora server's parts besides the HTTP service: the gateway connection as a
//! background service (`gateway_service`).

pub mod gateway_service;
