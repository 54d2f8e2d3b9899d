//! clawshim-core: everything clawshim does that has nothing to do with HTTP serving.
//!
//! - [`error`]: [`error::RequestError`], what every reader of request input returns (400).
//! - [`openai`]: the OpenAI wire types: chat completions (request, response, chunk, error,
//!   SSE) and the Responses API (`openai::responses`).
//! - [`prompt`]: turns an OpenAI `messages` array or Responses `input` into the gateway's
//!   `agent` run input, with the same rules as the gateway's own built-in endpoints.
//! - [`media`]: images and files of a request as run attachments and prompt text.
//! - [`thinking`], [`model_override`]: the run's thinking level and backend model.
//! - [`response_id`]: signed response ids that carry their gateway session.
//! - [`routing`]: which agent and which session a request goes to.
//! - [`gateway`]: the gateway WebSocket protocol (typed frames) and the shared client that
//!   multiplexes every HTTP request's run over one connection.
//! - [`private_fs`]: private key files and directories (mode checks, `O_EXCL|O_NOFOLLOW`).
//! - [`run_format`]: what every wire format does with a run's events (one trait, the shared
//!   reply text rules); [`translate`] implements it for chat completions (chunks or a full
//!   response), [`responses_translate`] for the Responses API; both show the agent's work
//!   (tool steps, thinking, approval waits) as reasoning text from [`progress_text`].

pub mod client_tools;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
pub mod http_source;
pub mod media;
pub mod model_override;
pub mod openai;
pub mod private_fs;
pub mod progress_text;
pub mod prompt;
pub mod response_id;
pub mod responses_translate;
pub mod routing;
pub mod run_format;
pub mod thinking;
pub mod translate;
