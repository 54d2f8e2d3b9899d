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

pub mod data_url;
pub mod file;
pub mod image;
pub mod limits;

use serde::Serialize;

use crate::openai::RequestError;

pub use file::FileText;
pub use image::{ImageRef, RemoteImage};
pub use limits::{check_sizes, AttachmentLimits};

/// An inline image for the run's `attachments`, serialized as the gateway reads it
/// (`{type, mimeType, fileName?, content}`, content = base64 without a `data:` prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    /// Always `image`: only images are attachments.
    #[serde(rename = "type")]
    pub kind: AttachmentKind,
    /// The image type, from the bytes themselves (`image/png`, ...).
    #[serde(rename = "mimeType")]
    pub mime_type: String,
    /// A file name when the client gave one.
    #[serde(rename = "fileName", skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// The bytes, standard base64.
    #[serde(rename = "content")]
    pub content_base64: String,
    /// Decoded size in bytes, for [`check_sizes`]; not sent.
    #[serde(skip)]
    pub decoded_len: usize,
    /// Where in the request it came from, for errors about it; not sent.
    #[serde(skip)]
    pub param: String,
}

/// The kind of an [`Attachment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentKind {
    /// An image.
    Image,
}

/// Why an image or file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// Malformed or unsupported (400), with the offending `param`.
    #[error(transparent)]
    Invalid(#[from] RequestError),
    /// Over a size limit (413).
    #[error("{message}")]
    TooLarge {
        /// What was too large, and the limit.
        message: String,
        /// The offending part, when one part alone is over the limit.
        param: Option<String>,
    },
}

impl MediaError {
    /// The offending request parameter, when there is one.
    pub fn param(&self) -> Option<&str> {
        match self {
            MediaError::Invalid(e) => e.param.as_deref(),
            MediaError::TooLarge { param, .. } => param.as_deref(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>, param: &str) -> Self {
        MediaError::Invalid(RequestError::new(message, Some(param.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attachment_serializes_as_the_gateway_reads_it() {
        let a = Attachment {
            kind: AttachmentKind::Image,
            mime_type: "image/png".into(),
            file_name: None,
            content_base64: "iVBORw0KGgo=".into(),
            decoded_len: 8,
            param: "messages[0].content[1].image_url.url".into(),
        };
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            json!({"type":"image","mimeType":"image/png","content":"iVBORw0KGgo="})
        );
        let named = Attachment {
            file_name: Some("cat.png".into()),
            ..a
        };
        assert_eq!(serde_json::to_value(&named).unwrap()["fileName"], "cat.png");
    }

    #[test]
    fn errors_expose_their_param() {
        let e = MediaError::invalid("bad", "input[0].content[1]");
        assert_eq!(e.param(), Some("input[0].content[1]"));
        assert_eq!(e.to_string(), "bad");
        let e = MediaError::TooLarge {
            message: "too big".into(),
            param: None,
        };
        assert_eq!(e.param(), None);
    }
}
