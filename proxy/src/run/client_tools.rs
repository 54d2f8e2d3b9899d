//! Which source runs a request that carries client tools, and what the client is told.
//!
//! The setting `client_tools` (`auto` by default, `off`; per key too, the stricter of the
//! two wins) decides:
//!
//! - `auto`: a request with function tools runs through the gateway's own
//!   `/v1/chat/completions` (`clawshim_core::http_source`) when the gateway can run client
//!   tools there: openclaw (protocol 4) with `gateway.http.endpoints.chatCompletions`
//!   enabled. clawdbot 2026.1.24 (protocol 3) has no client tools at all.
//! - `off`, or a gateway that cannot: the tools are ignored as before (the agent answers
//!   with its own tools) and the response says so in [`HEADER`].
//!
//! A gateway whose endpoint answered "not here" (404, 405, a page that is not a stream) is
//! remembered for [`ENDPOINT_OFF_FOR`] ([`EndpointMemory`]) so the next requests go straight
//! to the WebSocket; after that the endpoint is tried again, so turning it on needs no
//! clawshim restart.
//!
//! Where tools are ignored, `tool_choice` `required` or a forced function is a 400 naming
//! the value (`clawshim_core::client_tools::ToolChoice::check_ignored`): plain text would
//! silently change what the caller asked for.

use std::sync::Arc;

use clawshim_core::client_tools::{self, ClientTools, ToolChoice, ToolList};
use clawshim_core::error::RequestError;
use clawshim_core::gateway::{GatewayClient, Run, RunRequest};
use clawshim_core::http_source::StartError;
use clawshim_core::prompt::{AgentPrompt, InputError};
use pingora::proxy::Session;
use tokio::time::Instant;

use crate::request::ctx::RequestCtx;
use crate::request::errors::HttpError;
use crate::run::admission::{Admission, SessionStore};

pub mod mode;
pub mod source;

pub use mode::ClientToolsMode;
pub use source::{route, EndpointMemory, Ignored, Route, ToolRuns, ENDPOINT_OFF_FOR};

/// The value of the response header `x-clawshim-tools` (written by
/// [`crate::request::respond`] from [`RequestCtx::tools_header`]) says what became of the
/// request's tools: `run` (offered to the agent's model through the gateway's endpoint),
/// `none` (nothing to offer: no function tools, or `tool_choice: "none"`; an ordinary run),
/// either with `; dropped=<types>` for the tool types that are never offered, or `ignored;
/// reason=<reason>` (see [`Ignored::reason`]). Absent when the request had no tools.
pub use crate::request::respond::TOOLS_HEADER as HEADER;

/// The header value for tools that were run, naming the dropped types.
pub fn run_header_value(dropped: &[String]) -> String {
    if dropped.is_empty() {
        return "run".to_owned();
    }
    let mut types: Vec<&str> = dropped.iter().map(String::as_str).collect();
    types.sort_unstable();
    types.dedup();
    // Header-safe: tool types are caller text, keep only token characters.
    let list: Vec<String> = types
        .iter()
        .map(|t| {
            t.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect()
        })
        .collect();
    format!("run; dropped={}", list.join(","))
}

/// Which wire format a request's `tools` are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"type":"function","function":{...}}`.
    Chat,
    /// `{"type":"function","name",...}`.
    Responses,
}

/// What becomes of one request's tools.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The tools to run through the gateway's endpoint; `None`: an ordinary run.
    pub plan: Option<ClientTools>,
    /// The value of [`HEADER`], when the request had tools.
    pub header: Option<String>,
}

impl Decision {
    /// No tools: an ordinary run, no header.
    pub fn none() -> Decision {
        Decision {
            plan: None,
            header: None,
        }
    }

    /// The tools are ignored for `why` (a `tool_choice` that needs them is a 400).
    pub fn ignored(why: Ignored, choice: &ToolChoice) -> Result<Decision, RequestError> {
        choice.check_ignored(why.explanation())?;
        Ok(Decision {
            plan: None,
            header: Some(why.header_value()),
        })
    }
}

/// Reads a request's `tools` and `tool_choice` (their JSON text, as the parsers keep them)
/// and decides: run them (`route` says the gateway can), or ignore them. Every malformed
/// value is a 400 naming it, whatever the route: a request is valid or not on its own.
pub fn decide(
    format: Format,
    tools: Option<&str>,
    tool_choice: Option<&str>,
    route: Route,
) -> Result<Decision, RequestError> {
    if tools.is_none() && tool_choice.is_none() {
        return Ok(Decision::none());
    }
    let choice = match tool_choice {
        Some(text) => ToolChoice::parse(&client_tools::read_field(text, "tool_choice")?)?,
        None => ToolChoice::Auto,
    };
    let list_value = match tools {
        Some(text) => client_tools::read_field(text, "tools")?,
        None => serde_json::Value::Null,
    };
    let list = match format {
        Format::Chat => ToolList::from_chat(&list_value)?,
        Format::Responses => ToolList::from_responses(&list_value)?,
    };
    choice.check_against(&list)?;
    let why = match route {
        Route::Ignore(why) => why,
        Route::Http => {
            let dropped = list.dropped.clone();
            let plan = ClientTools::plan(list, choice)?;
            let header = plan.as_ref().map_or_else(
                || run_header_value(&dropped).replacen("run", "none", 1),
                |p| run_header_value(&p.dropped),
            );
            return Ok(Decision {
                plan,
                header: Some(header),
            });
        }
    };
    Decision::ignored(why, &choice)
}

/// How an HTTP run started.
pub enum Started {
    /// Running; the caller serves it like any run.
    Run(Box<Run>),
    /// The client left before the gateway answered (nothing to serve).
    ClientGone,
    /// The endpoint is off: the caller runs the request through the WebSocket, tools ignored.
    EndpointOff,
}

/// Starts `req` with `plan` through the gateway's endpoint while watching the client.
/// The run's admission slot is taken first, as for a WebSocket run; refusals are the
/// gateway's answers mapped to clawshim's errors (`HttpError::Gateway`).
pub async fn start_http(
    tool_runs: &ToolRuns,
    session: &mut Session,
    ctx: &mut RequestCtx,
    admission: &Admission,
    gateway: &GatewayClient,
    req: &RunRequest,
    plan: &ClientTools,
) -> Result<Started, HttpError> {
    let Some(source) = tool_runs.source() else {
        return Ok(Started::EndpointOff);
    };
    crate::run::run_loop::trace_run(ctx, gateway, req);
    let waiting = ctx.trace.admission_wait();
    let mut permit = tokio::select! {
        permit = admission.acquire() => permit.map_err(|refusal| crate::run::run_loop::overloaded(admission, refusal))?,
        _ = crate::run::run_loop::client_gone(session) => {
            ctx.client_gone = true;
            return Ok(Started::ClientGone);
        }
    };
    drop(waiting);
    let sent = Instant::now();
    let started = tokio::select! {
        run = source.start(req, plan) => run,
        _ = crate::run::run_loop::client_gone(session) => {
            ctx.client_gone = true;
            return Ok(Started::ClientGone);
        }
    };
    match started {
        Ok(run) => {
            ctx.trace.accepted(run.id().as_str(), 0);
            tool_runs.endpoint.set_on();
            permit.accepted(SessionStore::of(gateway), sent.elapsed());
            ctx.admission = Some(Arc::new(permit));
            let run = gateway.adopt_run(run.id().clone(), Box::new(run), req);
            ctx.run_id = Some(run.id().clone());
            Ok(Started::Run(Box::new(run)))
        }
        Err(StartError::EndpointOff) => {
            tool_runs.endpoint.set_off();
            Ok(Started::EndpointOff)
        }
        Err(StartError::Failed(e)) => Err(e.into()),
    }
}

/// How a request with a tool plan starts.
pub enum ToolStart {
    /// Through the gateway's endpoint.
    Run(Box<Run>),
    /// The client left first: nothing to serve.
    ClientGone,
    /// Through the WebSocket with the tools ignored (the endpoint is off); the request's
    /// prompt was rebuilt for it and [`HEADER`] says so.
    UseSocket,
}

/// Starts a request that has a tool `plan` through the gateway's endpoint; when the endpoint
/// turns out to be off, prepares it for the WebSocket instead: its `tool_choice` must not
/// need the tools (else the 400 of [`Decision::ignored`]), the header says they were
/// ignored, and the run's prompt is `socket_prompt`'s (the transcript as clawshim writes it
/// for the `agent` method).
#[allow(
    clippy::too_many_arguments,
    reason = "the parts of the shared state a start needs, passed apart so this module imports no state"
)]
pub async fn start(
    session: &mut Session,
    ctx: &mut RequestCtx,
    tool_runs: &ToolRuns,
    admission: &Admission,
    gateway: &GatewayClient,
    req: &mut RunRequest,
    plan: &ClientTools,
    socket_prompt: impl FnOnce() -> Result<AgentPrompt, InputError>,
) -> Result<ToolStart, HttpError> {
    let started = start_http(tool_runs, session, ctx, admission, gateway, req, plan).await?;
    Ok(match started {
        Started::Run(run) => ToolStart::Run(run),
        Started::ClientGone => ToolStart::ClientGone,
        Started::EndpointOff => {
            // The caller's name in the error, not the gateway's.
            let choice = match &plan.choice {
                ToolChoice::Function(n) => ToolChoice::Function(plan.names.to_client(n).to_owned()),
                other => other.clone(),
            };
            let decision = Decision::ignored(Ignored::EndpointOff, &choice)?;
            ctx.tools_header = decision.header;
            let prompt = socket_prompt()?;
            req.message = prompt.message;
            req.extra_system_prompt = prompt.extra_system_prompt;
            ToolStart::UseSocket
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEATHER: &str =
        r#"[{"type":"function","function":{"name":"get_weather"}},{"type":"web_search"}]"#;

    #[test]
    fn tools_run_where_they_can_with_the_dropped_types_named() {
        let d = decide(Format::Chat, Some(WEATHER), Some(r#""auto""#), Route::Http).unwrap();
        let plan = d.plan.unwrap();
        assert_eq!(plan.tools[0].name, "get_weather");
        assert_eq!(d.header.as_deref(), Some("run; dropped=web_search"));
        let responses = r#"[{"type":"function","name":"shell"}]"#;
        let d = decide(Format::Responses, Some(responses), None, Route::Http).unwrap();
        assert_eq!(d.header.as_deref(), Some("run"));
    }

    #[test]
    fn no_tools_no_header_and_only_unrunnable_tools_say_none() {
        assert_eq!(
            decide(Format::Chat, None, None, Route::Http).unwrap(),
            Decision::none()
        );
        let d = decide(
            Format::Chat,
            Some(r#"[{"type":"web_search"}]"#),
            None,
            Route::Http,
        )
        .unwrap();
        assert_eq!(d.plan, None);
        assert_eq!(d.header.as_deref(), Some("none; dropped=web_search"));
        let d = decide(Format::Chat, Some(WEATHER), Some(r#""none""#), Route::Http).unwrap();
        assert_eq!(
            (d.plan, d.header.as_deref()),
            (None, Some("none; dropped=web_search"))
        );
    }

    #[test]
    fn ignored_tools_say_why_and_refuse_a_choice_that_needs_them() {
        let route = Route::Ignore(Ignored::Unsupported);
        let d = decide(Format::Chat, Some(WEATHER), None, route).unwrap();
        assert_eq!(
            (d.plan, d.header.as_deref()),
            (None, Some("ignored; reason=unsupported-gateway"))
        );
        let err = decide(Format::Chat, Some(WEATHER), Some(r#""required""#), route).unwrap_err();
        assert!(
            err.message.contains("clawdbot 2026.1.24"),
            "{}",
            err.message
        );
        let forced = r#"{"type":"function","function":{"name":"get_weather"}}"#;
        let err = decide(
            Format::Chat,
            Some(WEATHER),
            Some(forced),
            Route::Ignore(Ignored::Off),
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("tool_choice"));
    }

    #[test]
    fn malformed_values_are_refused_on_every_route() {
        for route in [Route::Http, Route::Ignore(Ignored::Off)] {
            assert!(decide(Format::Chat, Some("{}"), None, route).is_err());
            assert!(decide(Format::Chat, None, Some(r#""sometimes""#), route).is_err());
            let missing = r#"{"type":"function","function":{"name":"nope"}}"#;
            assert!(decide(Format::Chat, Some(WEATHER), Some(missing), route).is_err());
        }
    }

    #[test]
    fn header_values() {
        assert_eq!(run_header_value(&[]), "run");
        let dropped = ["web_search", "custom", "web_search", "name space\r\n"].map(String::from);
        assert_eq!(
            run_header_value(&dropped),
            "run; dropped=custom,namespace,web_search"
        );
        assert_eq!(
            Ignored::EndpointOff.header_value(),
            "ignored; reason=endpoint-off"
        );
        assert_eq!(
            Ignored::Unsupported.header_value(),
            "ignored; reason=unsupported-gateway"
        );
        assert_eq!(Ignored::Off.header_value(), "ignored; reason=off");
    }

    #[test]
    fn the_setting_reads_lowercase() {
        #[derive(serde::Deserialize)]
        struct File {
            client_tools: ClientToolsMode,
        }
        let f: File = toml::from_str("client_tools = \"off\"").unwrap();
        assert_eq!(f.client_tools, ClientToolsMode::Off);
        assert!(toml::from_str::<File>("client_tools = \"maybe\"").is_err());
    }
}
