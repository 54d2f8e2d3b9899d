//! clawshim-core: everything clawshim does that has nothing to do with HTTP serving.
//!
//! - [`openai`]: the OpenAI chat-completions wire types (request, response, chunk, error, SSE).
//! - [`prompt`]: turns an OpenAI `messages` array into the gateway's `agent` run input,
//!   with the same rules as the gateway's own built-in endpoint.
//! - [`routing`]: which agent and which session a request goes to.
//! - [`gateway`]: the gateway WebSocket protocol (typed frames) and the shared client that
//!   multiplexes every HTTP request's run over one connection.
//! - [`translate`]: turns a run's events into OpenAI chunks or a full response.

pub mod gateway;
pub mod openai;
pub mod prompt;
pub mod routing;
pub mod translate;
