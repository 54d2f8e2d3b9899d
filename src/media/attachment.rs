//! An image as a run takes it: the `agent` method's `attachments` entry.

use serde::Serialize;

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
}
