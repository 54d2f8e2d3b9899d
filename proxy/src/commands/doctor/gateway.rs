//! The gateway connection, with clawshim's own client ([`GatewayClient`], device identity
//! included): is anything listening at the gateway's address, does the handshake agree on a
//! protocol, are the credentials accepted, and is this device paired when it needs to be.
//! A failed handshake is classified from the client's typed [`ConnectFailure`].

use std::sync::Arc;
use std::time::Duration;

use clawshim_core::gateway::device::DeviceIdentity;
use clawshim_core::gateway::{ConnectFailure, GatewayClient, GatewayStatus, Hello};
use tokio::net::TcpStream;

use super::check::Check;
use crate::config::Config;
use crate::ops::gateway_status;

/// The findings, and whether the handshake succeeded (later checks need it).
pub struct Connection {
    /// Reachable, protocol, credentials, device pairing.
    pub checks: Vec<Check>,
    /// What the gateway said in `hello-ok`, when the handshake completed (later checks
    /// need it).
    pub hello: Option<Arc<Hello>>,
}

/// Extra time beyond the connect timeout for the first verdict.
const SLACK: Duration = Duration::from_secs(2);

/// Run the connection checks.
pub async fn check(config: &Config) -> Connection {
    let address = &config.gateway_http.0;
    let timeout = config.gateway.connect_timeout;
    match tokio::time::timeout(timeout, TcpStream::connect(address.as_str())).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return unreachable(config, format!("nothing answers at {address} ({e})")),
        Err(_) => {
            return unreachable(
                config,
                format!("no answer from {address} within {}s", timeout.as_secs()),
            )
        }
    }
    let mut checks = vec![Check::pass(
        "gateway reachable",
        format!("{address} accepts connections"),
    )];

    let mut gateway = config.gateway.clone();
    let mut device_id = None;
    if let Some(path) = &config.device_identity {
        match DeviceIdentity::load(path) {
            Ok(Some(identity)) => {
                device_id = Some(identity.device_id().to_string());
                gateway.device = Some(Arc::new(identity));
            }
            Ok(None) => {
                checks.push(Check::fail(
                    "device pairing",
                    format!("the device identity {} does not exist yet", path.display()),
                    "start clawshim once (it creates the identity and asks the gateway to pair), \
                     then approve it on the gateway host: `openclaw devices list`, \
                     `openclaw devices approve <requestId>`",
                ));
                return Connection {
                    checks,
                    hello: None,
                };
            }
            Err(e) => {
                checks.push(Check::fail(
                    "device pairing",
                    e.to_string(),
                    "fix or remove the identity file (a new one needs a new approval)",
                ));
                return Connection {
                    checks,
                    hello: None,
                };
            }
        }
    }

    let (client, conn) = GatewayClient::new(gateway);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(conn.run(async move {
        let _ = stop_rx.await;
    }));
    let verdict = tokio::time::timeout(timeout + SLACK, first_verdict(&client)).await;
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(SLACK, task).await;

    match verdict {
        Ok(Ok(hello)) => {
            let product = if hello.protocol >= 4 {
                "openclaw"
            } else {
                "clawdbot"
            };
            checks.push(Check::pass(
                "protocol",
                format!(
                    "protocol {} ({product} {})",
                    hello.protocol, hello.server_version
                ),
            ));
            checks.push(Check::pass(
                "credentials",
                format!("the gateway accepted the {}", auth_name(config)),
            ));
            checks.push(match device_id {
                Some(id) => Check::pass("device pairing", format!("device {id} is paired")),
                None => Check::pass(
                    "device pairing",
                    "not needed: shared-secret connection (a gateway on another host needs \
                     CLAWSHIM_DEVICE_IDENTITY and an approval)",
                ),
            });
            Connection {
                checks,
                hello: Some(hello),
            }
        }
        Ok(Err(Verdict::Failed(failure))) => {
            checks.extend(classify(config, &failure, device_id.as_deref()));
            Connection {
                checks,
                hello: None,
            }
        }
        Ok(Err(Verdict::Stopped)) => {
            checks.push(Check::fail(
                "protocol",
                "the connection task stopped before a verdict",
                "run the doctor again; if it persists, report it with the log",
            ));
            Connection {
                checks,
                hello: None,
            }
        }
        Err(_) => {
            checks.push(Check::fail(
                "protocol",
                format!(
                    "{address} accepts TCP connections but no gateway handshake finished within {}s",
                    (timeout + SLACK).as_secs()
                ),
                "check that gateway.url points at the gateway's WebSocket port (not clawshim's, \
                 not another service) and that ws:// vs wss:// matches gateway.tls",
            ));
            Connection {
                checks,
                hello: None,
            }
        }
    }
}

/// Why no `hello-ok` came.
enum Verdict {
    Failed(ConnectFailure),
    Stopped,
}

/// What the gateway said once connected, or the first failed attempt.
async fn first_verdict(client: &GatewayClient) -> Result<Arc<Hello>, Verdict> {
    let mut status = client.watch_status();
    loop {
        match &*status.borrow_and_update() {
            GatewayStatus::Connected { .. } => {
                if let Some(hello) = client.hello() {
                    return Ok(hello);
                }
            }
            GatewayStatus::Connecting {
                last_failure: Some(failure),
                ..
            } => return Err(Verdict::Failed(failure.clone())),
            GatewayStatus::Stopped => return Err(Verdict::Stopped),
            GatewayStatus::Connecting { .. } => {}
        }
        if status.changed().await.is_err() {
            return Err(Verdict::Stopped);
        }
    }
}

fn unreachable(config: &Config, detail: String) -> Connection {
    let local = config.gateway_http.0.starts_with("127.0.0.1:")
        || config.gateway_http.0.starts_with("localhost:");
    let fix = if local {
        "start the gateway on this host (`openclaw gateway`, or its service), or point \
         CLAWSHIM_GATEWAY_URL / gateway.url at the port it listens on (gateway.port)"
    } else {
        "check that the gateway runs and that its bind (gateway.bind) and firewall let this \
         host in, or correct CLAWSHIM_GATEWAY_URL / gateway.url"
    };
    Connection {
        checks: vec![Check::fail("gateway reachable", detail, fix)],
        hello: None,
    }
}

fn auth_name(config: &Config) -> &'static str {
    use clawshim_core::gateway::GatewayAuth;
    match config.gateway.auth {
        GatewayAuth::Token(_) => "token",
        GatewayAuth::Password(_) => "password",
        GatewayAuth::None => "connection without a shared secret",
    }
}

/// Which check a handshake failure belongs to.
fn classify(config: &Config, failure: &ConnectFailure, device_id: Option<&str>) -> Vec<Check> {
    let reason = gateway_status::describe(failure);
    let protocol_ok = || Check::pass("protocol", "the gateway answered the handshake");
    match failure {
        ConnectFailure::ProtocolMismatch { .. } => vec![Check::fail(
            "protocol",
            reason,
            "clawshim speaks protocol 3 (clawdbot 2026.1.x) and 4 (openclaw 2026.x): update the \
             gateway or clawshim",
        )],
        ConnectFailure::Refused { code, .. } if code == "NOT_PAIRED" => {
            pairing(reason, device_id, protocol_ok())
        }
        ConnectFailure::PairingRequired { .. } => pairing(reason, device_id, protocol_ok()),
        ConnectFailure::MissingScopes { .. } => vec![
            protocol_ok(),
            Check::pass(
                "credentials",
                "accepted, but with too few scopes (see below)",
            ),
            Check::fail(
                "device pairing",
                reason,
                "connect from the gateway's host, or set CLAWSHIM_DEVICE_IDENTITY and approve \
                 the device with operator.read and operator.write",
            ),
        ],
        ConnectFailure::Refused { .. } => {
            let fix = match config.gateway.auth {
                clawshim_core::gateway::GatewayAuth::Password(_) => {
                    "set CLAWSHIM_GATEWAY_PASSWORD to the gateway's gateway.auth.password"
                }
                _ => {
                    "set CLAWSHIM_GATEWAY_TOKEN to the gateway's gateway.auth.token (or remove \
                     it to read the local gateway's own config)"
                }
            };
            vec![protocol_ok(), Check::fail("credentials", reason, fix)]
        }
        ConnectFailure::Unreachable { .. }
        | ConnectFailure::HandshakeTimeout { .. }
        | ConnectFailure::Lost { .. } => vec![Check::fail(
            "protocol",
            format!("the WebSocket handshake failed: {reason}"),
            "check that gateway.url is the gateway's WebSocket (ws:// vs wss:// as gateway.tls \
             says, and CLAWSHIM_GATEWAY_CA_FILE for a private CA)",
        )],
    }
}

/// The device waits for approval on the gateway host.
fn pairing(reason: String, device_id: Option<&str>, protocol_ok: Check) -> Vec<Check> {
    let approve = match device_id {
        Some(id) => format!(
            "on the gateway host: `openclaw devices list`, then `openclaw devices approve \
             <requestId>` for device {id} (clawdbot 2026.1: `clawdbot devices approve`)"
        ),
        None => "set CLAWSHIM_DEVICE_IDENTITY (a file path; created at first start), start \
                 clawshim, then approve it on the gateway host: `openclaw devices approve \
                 <requestId>`"
            .to_string(),
    };
    vec![
        protocol_ok,
        Check::pass("credentials", "the shared secret was not refused"),
        Check::fail("device pairing", reason, approve),
    ]
}
