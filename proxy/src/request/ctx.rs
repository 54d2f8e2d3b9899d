//! Per-request state shared by the proxy phases.

use std::time::{Duration, Instant};

use clawshim_core::gateway::RunId;

use crate::routes::table::Route;
use pingora::proxy::Session;

/// What one request did; filled as it goes, read by `logging`.
#[derive(Debug)]
pub struct RequestCtx {
    /// `x-request-id`: the client's when it sent a sane one, else a new UUID. Set in `request_filter`.
    pub request_id: String,
    /// Which route the request took. Set in `request_filter`.
    pub route: Route,
    /// When the request arrived.
    pub started: Instant,
    /// Status sent (0 until a response header is written).
    pub status: u16,
    /// Gateway run id, once a run was accepted.
    pub run_id: Option<RunId>,
    /// Agent the run went to.
    pub agent_id: Option<String>,
    /// Name of the API key the client authenticated with (never the key itself).
    pub key_name: Option<String>,
    /// Tokens the gateway reported for the run (its final answer); counted in `logging`
    /// ([`crate::usage`]).
    pub usage: Option<clawshim_core::gateway::Usage>,
    /// Why the request failed, when it did (bounded label).
    pub error_kind: Option<&'static str>,
    /// What went wrong on our side (`Internal`, `BadGateway`): for the access line only.
    pub error_detail: Option<String>,
    /// Body bytes we wrote ourselves (passthrough bytes are counted by pingora).
    pub bytes_out: usize,
    /// When the first body byte of a served response went out.
    pub first_byte: Option<Instant>,
    /// The client went away before the response was complete.
    pub client_gone: bool,
    /// The client ([`crate::front_door::client_ip`]). Set in `request_filter`.
    pub client_ip: Option<crate::front_door::client_ip::Client>,
    /// Limit for each write of the response to the client. Set in `request_filter`.
    pub write_timeout: Duration,
    /// The run's admission slot, held until the run is over (`run_loop`).
    pub admission: Option<std::sync::Arc<crate::run::admission::Permit>>,
    /// What became of the request's client tools ([`crate::request::respond::TOOLS_HEADER`]).
    pub tools_header: Option<String>,
    /// A passthrough WebSocket's gateway login, until the gateway answered it
    /// ([`crate::front_door::ws_login`]). Set when the gateway answers the upgrade with 101.
    pub ws_login: Option<crate::front_door::ws_login::LoginWatch>,
    /// The request's exported spans (empty while trace export is off).
    pub trace: crate::ops::traces::spans::RequestTrace,
}

impl RequestCtx {
    /// A fresh context.
    pub fn new() -> Self {
        RequestCtx {
            request_id: String::new(),
            route: Route::Passthrough,
            started: Instant::now(),
            status: 0,
            run_id: None,
            agent_id: None,
            key_name: None,
            usage: None,
            error_kind: None,
            error_detail: None,
            bytes_out: 0,
            first_byte: None,
            client_gone: false,
            tools_header: None,
            client_ip: None,
            write_timeout: Duration::from_secs(crate::config::defaults::WRITE_TIMEOUT_SECS),
            admission: None,
            ws_login: None,
            trace: Default::default(),
        }
    }
}

impl RequestCtx {
    /// The status the client got: ours, or the gateway's for passthrough (0 if none).
    pub fn final_status(&self, session: &Session) -> u16 {
        if self.status != 0 {
            return self.status;
        }
        session.response_written().map_or(0, |r| r.status.as_u16())
    }

    /// Response body bytes sent: counted by us, or by pingora for passthrough.
    pub fn final_bytes_out(&self, session: &Session) -> usize {
        if self.route == Route::Passthrough {
            session.as_downstream().body_bytes_sent()
        } else {
            self.bytes_out
        }
    }
}

/// A header of the request, by lower-case name.
pub fn header_str(session: &Session, name: &str) -> Option<String> {
    session
        .req_header()
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `x-request-id`: keep a client's sane one (for tracing across hops), else make one.
pub fn request_id(session: &Session) -> String {
    session
        .req_header()
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}
