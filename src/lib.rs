//! clawshim-core: everything clawshim does that has nothing to do with HTTP serving.
//!
//! - [`openai`]: the OpenAI chat-completions wire types (request, response, chunk, error, SSE).
//! - [`prompt`]: turns an OpenAI `messages` array into the gateway's `agent` run input,
//!   with the same rules as the gateway's own built-in endpoint.
//! - [`routing`]: which agent and which session a request goes to.
//! - [`gateway`]: the gateway WebSocket protocol (typed frames) and the shared client that
//!   multiplexes every HTTP request's run over one connection.
//! - [`translate`]: turns a run's events into OpenAI chunks or a full response.
//! - [`mock_gateway`]: an in-process gateway that replays frame sequences recorded from real
//!   gateways; it powers `clawshim demo` and the test suite.

pub mod gateway;
pub mod media;
pub mod mock_gateway;
pub mod model_override;
pub mod openai;
pub mod prompt;
pub mod response_id;
pub mod responses_translate;
pub mod routing;
pub mod thinking;
pub mod translate;
