//! Operations: what clawshim tells its operator. Prometheus series (`metrics`; each
//! request's in `request_metrics`), the access line of each request (`access_log`), log
//! set-up (`telemetry`), OTLP traces (`traces`) and the gateway connection's state in words (`gateway_status`).

pub mod access_log;
pub mod gateway_status;
pub mod metrics;
pub mod request_metrics;
pub mod telemetry;
pub mod traces;
