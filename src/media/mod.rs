//! Images and files in a request, turned into what a run can take.
//!
//! The gateway's `agent` method takes images as `attachments` (base64 `content` plus
//! `mimeType`, clawdbot 2026.1.24 and openclaw 2026.9.6 alike) and has no file input, so:
//!
//! - Images ([`image`]): chat `image_url` parts and Responses `input_image` parts. A `data:`
//!   URL (or an Open Responses `source` of type `base64`) becomes an [`Attachment`] after its
//!   base64 and its bytes are checked (PNG, JPEG, GIF or WebP only); an `http(s)` URL becomes a
//!   [`RemoteImage`], which the proxy fetches or refuses (off by default).
//! - Files ([`mod@file`]): chat `file` parts and Responses `input_file` parts with text-like types
//!   are decoded and rendered into the run's extra system prompt the way openclaw's built-in
//!   `/v1/responses` does (`<file name="...">` around the content wrapped in untrusted-content
//!   markers); other types are a 400 that lists the supported ones.
//! - Sizes ([`limits`]): one function checks a run's attachments against the gateway's limits.
//!
//! Everything here is pure: no fetching, no configuration; errors name the precise `param`.

mod attachment;
pub mod data_url;
mod error;
pub mod file;
pub mod image;
pub mod limits;

pub use attachment::{Attachment, AttachmentKind};
pub use error::MediaError;
pub use file::FileText;
pub use image::{ImageRef, RemoteImage};
pub use limits::{check_sizes, AttachmentLimits};
