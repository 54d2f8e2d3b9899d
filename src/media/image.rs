//! Image parts: chat `image_url` and Responses `input_image`, inline or remote.
//!
//! Accepted shapes (param paths are relative to the part):
//!
//! - chat: `{"type":"image_url","image_url":{"url":...,"detail":...}}`, or `image_url` as a
//!   bare string (sent by some clients) -> `image_url.url` / `image_url`;
//! - Responses (OpenAI): `{"type":"input_image","image_url":...,"detail":...}` -> `image_url`;
//!   `file_id` is refused (there is no files API behind clawshim);
//! - Responses (Open Responses, what openclaw's built-in takes):
//!   `{"type":"input_image","source":{"type":"base64","media_type":...,"data":...}}` or
//!   `{"source":{"type":"url","url":...}}` -> `source.data` / `source.url`.
//!
//! An inline image is only accepted when its bytes are a PNG, JPEG, GIF or WebP image; the
//! type sent to the gateway is the one the bytes show, whatever the client declared (as
//! openclaw's `normalizeInputImageBuffer` prefers the detected type).

use serde_json::{Map, Value};

use super::attachment::{Attachment, AttachmentKind};
use super::data_url::{decode_base64, DataUrl};
use super::error::MediaError;

/// The image types a run accepts.
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// An image part: inline bytes ready for the run, or a URL still to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// Inline data, checked.
    Inline(Attachment),
    /// An `http(s)` URL; fetched by the proxy when enabled, refused otherwise.
    Remote(RemoteImage),
}

/// An `http(s)` image URL from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteImage {
    /// The URL as sent.
    pub url: String,
    /// Where it was in the request, for errors about it.
    pub param: String,
}

impl RemoteImage {
    /// The 400 for a remote image when fetching is off.
    pub fn refused(&self) -> MediaError {
        MediaError::invalid(
            "Image URLs are not enabled on this server; send the image inline as a \
             'data:image/...;base64,' URL.",
            &self.param,
        )
    }

    /// Turns the fetched bytes into an attachment, with the same checks as inline data.
    pub fn into_attachment(
        self,
        bytes: &[u8],
        content_type: Option<&str>,
    ) -> Result<Attachment, MediaError> {
        let declared = content_type.map(mime_essence);
        check_declared(declared.as_deref(), &self.param)?;
        let mime_type = sniff_checked(bytes, &self.param)?;
        let file_name = self
            .url
            .rsplit('/')
            .next()
            .map(|s| s.split(['?', '#']).next().unwrap_or(""))
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        Ok(Attachment {
            kind: AttachmentKind::Image,
            mime_type: mime_type.to_owned(),
            file_name,
            content_base64: base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                bytes,
            ),
            decoded_len: bytes.len(),
            param: self.param,
        })
    }
}

/// The image type the bytes show, if it is one of [`IMAGE_TYPES`].
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// `image/png; x=y` -> `image/png`.
fn mime_essence(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn supported_list() -> String {
    IMAGE_TYPES.join(", ")
}

/// A declared type must at least be an image type we take (none declared is fine).
fn check_declared(declared: Option<&str>, param: &str) -> Result<(), MediaError> {
    match declared {
        Some(mime) if !mime.is_empty() && !IMAGE_TYPES.contains(&mime) => Err(MediaError::invalid(
            format!(
                "Unsupported image type '{mime}'. Supported types: {}.",
                supported_list()
            ),
            param,
        )),
        _ => Ok(()),
    }
}

fn sniff_checked(bytes: &[u8], param: &str) -> Result<&'static str, MediaError> {
    sniff(bytes).ok_or_else(|| {
        MediaError::invalid(
            format!(
                "The image data is not a supported image. Supported types: {}.",
                supported_list()
            ),
            param,
        )
    })
}

/// Inline base64 image data with an optional declared type.
pub fn from_base64(
    data: &str,
    declared: Option<&str>,
    param: &str,
) -> Result<Attachment, MediaError> {
    let declared = declared.map(mime_essence);
    check_declared(declared.as_deref(), param)?;
    let decoded = decode_base64(data, param)?;
    let mime_type = sniff_checked(&decoded.bytes, param)?;
    Ok(Attachment {
        kind: AttachmentKind::Image,
        mime_type: mime_type.to_owned(),
        file_name: None,
        decoded_len: decoded.bytes.len(),
        content_base64: decoded.canonical,
        param: param.to_owned(),
    })
}

/// An image URL: a base64 `data:` URL becomes an attachment, an `http(s)` URL a
/// [`RemoteImage`]; any other scheme is refused.
pub fn from_url(url: &str, param: &str) -> Result<ImageRef, MediaError> {
    if let Some(data) = DataUrl::parse(url, param)? {
        return from_base64(data.data, data.mime_type.as_deref(), param).map(ImageRef::Inline);
    }
    let trimmed = url.trim();
    let scheme = trimmed
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("http" | "https") => Ok(ImageRef::Remote(RemoteImage {
            url: trimmed.to_owned(),
            param: param.to_owned(),
        })),
        _ => Err(MediaError::invalid(
            "Invalid image URL: expected a 'data:image/...;base64,' URL or an http(s) URL.",
            param,
        )),
    }
}

/// A chat `image_url` part's `image_url` value; `base` is the part's param path.
pub fn from_chat_part(image_url: &Value, base: &str) -> Result<ImageRef, MediaError> {
    match image_url {
        Value::String(url) => from_url(url, &format!("{base}.image_url")),
        Value::Object(obj) => match obj.get("url") {
            Some(Value::String(url)) => from_url(url, &format!("{base}.image_url.url")),
            _ => Err(MediaError::invalid(
                "Missing required parameter: 'image_url.url'.",
                &format!("{base}.image_url.url"),
            )),
        },
        _ => Err(MediaError::invalid(
            "Invalid type for 'image_url': expected an object.",
            &format!("{base}.image_url"),
        )),
    }
}

/// A Responses `input_image` part (the whole part object); `base` is its param path.
pub fn from_responses_part(part: &Map<String, Value>, base: &str) -> Result<ImageRef, MediaError> {
    if let Some(Value::String(url)) = part.get("image_url") {
        return from_url(url, &format!("{base}.image_url"));
    }
    if let Some(Value::Object(source)) = part.get("source") {
        return from_source(source, &format!("{base}.source"));
    }
    if part.get("file_id").is_some_and(|v| !v.is_null()) {
        return Err(MediaError::invalid(
            "Image 'file_id' references are not supported; send 'image_url' with a \
             'data:image/...;base64,' URL.",
            &format!("{base}.file_id"),
        ));
    }
    Err(MediaError::invalid(
        "Missing required parameter: 'image_url'.",
        &format!("{base}.image_url"),
    ))
}

/// An Open Responses `source` object (`base64` or `url`).
fn from_source(source: &Map<String, Value>, base: &str) -> Result<ImageRef, MediaError> {
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let data = source.get("data").and_then(Value::as_str).ok_or_else(|| {
                MediaError::invalid(
                    "Missing required parameter: 'source.data'.",
                    &format!("{base}.data"),
                )
            })?;
            let declared = source.get("media_type").and_then(Value::as_str);
            from_base64(data, declared, &format!("{base}.data")).map(ImageRef::Inline)
        }
        Some("url") => match source.get("url") {
            Some(Value::String(url)) => from_url(url, &format!("{base}.url")),
            _ => Err(MediaError::invalid(
                "Missing required parameter: 'source.url'.",
                &format!("{base}.url"),
            )),
        },
        _ => Err(MediaError::invalid(
            "Invalid 'source.type': expected 'base64' or 'url'.",
            &format!("{base}.type"),
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde_json::json;

    /// A real 1x1 PNG.
    pub(crate) const PNG_1X1: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x60,
        0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01, 0xE9, 0xFA, 0xDC, 0xD8, 0x00, 0x00, 0x00, 0x00,
        0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];

    pub(crate) fn png_data_url() -> String {
        format!("data:image/png;base64,{}", STANDARD.encode(PNG_1X1))
    }

    fn inline(r: ImageRef) -> Attachment {
        match r {
            ImageRef::Inline(a) => a,
            other => panic!("expected inline, got {other:?}"),
        }
    }

    #[test]
    fn sniffs_the_four_types() {
        assert_eq!(sniff(PNG_1X1), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a...."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"%PDF-1.7"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn chat_data_url_becomes_an_attachment() {
        let a = inline(
            from_chat_part(
                &json!({"url": png_data_url(), "detail":"low"}),
                "messages[0].content[1]",
            )
            .unwrap(),
        );
        assert_eq!(a.mime_type, "image/png");
        assert_eq!(a.content_base64, STANDARD.encode(PNG_1X1));
        assert_eq!(a.decoded_len, PNG_1X1.len());
        assert_eq!(a.param, "messages[0].content[1].image_url.url");
        // A bare string image_url works too.
        let a = inline(from_chat_part(&json!(png_data_url()), "m").unwrap());
        assert_eq!(a.param, "m.image_url");
    }

    #[test]
    fn the_bytes_decide_the_type() {
        let url = format!("data:image/jpeg;base64,{}", STANDARD.encode(PNG_1X1));
        assert_eq!(inline(from_url(&url, "p").unwrap()).mime_type, "image/png");
        let url = format!("data:;base64,{}", STANDARD.encode(PNG_1X1));
        assert_eq!(inline(from_url(&url, "p").unwrap()).mime_type, "image/png");
    }

    #[test]
    fn wrong_types_and_bad_data_are_400_with_param() {
        let pdf = format!(
            "data:application/pdf;base64,{}",
            STANDARD.encode(b"%PDF-1.7")
        );
        let err = from_url(&pdf, "messages[0].content[0].image_url.url").unwrap_err();
        assert_eq!(err.param(), Some("messages[0].content[0].image_url.url"));
        assert!(
            err.to_string()
                .contains("Unsupported image type 'application/pdf'"),
            "{err}"
        );
        let fake = format!("data:image/png;base64,{}", STANDARD.encode(b"not an image"));
        let err = from_url(&fake, "p1").unwrap_err();
        assert_eq!(err.param(), Some("p1"));
        assert!(err
            .to_string()
            .contains("image/png, image/jpeg, image/gif, image/webp"));
        let err = from_url("data:image/png;base64,@@@", "p2").unwrap_err();
        assert_eq!(err.param(), Some("p2"));
        let err = from_url("file:///etc/passwd", "p3").unwrap_err();
        assert_eq!(err.param(), Some("p3"));
        let err = from_chat_part(&json!({"detail":"auto"}), "m").unwrap_err();
        assert_eq!(err.param(), Some("m.image_url.url"));
        let err = from_chat_part(&json!(5), "m").unwrap_err();
        assert_eq!(err.param(), Some("m.image_url"));
    }

    #[test]
    fn http_urls_are_remote() {
        let r = from_url(" HTTPS://example.com/cat.png?x=1 ", "p").unwrap();
        assert_eq!(
            r,
            ImageRef::Remote(RemoteImage {
                url: "HTTPS://example.com/cat.png?x=1".into(),
                param: "p".into()
            })
        );
        let ImageRef::Remote(remote) = r else {
            unreachable!()
        };
        assert_eq!(remote.refused().param(), Some("p"));
        let a = remote
            .clone()
            .into_attachment(PNG_1X1, Some("image/png"))
            .unwrap();
        assert_eq!(a.file_name.as_deref(), Some("cat.png"));
        assert_eq!(a.mime_type, "image/png");
        assert!(remote
            .clone()
            .into_attachment(b"<html>", Some("text/html"))
            .is_err());
        assert!(remote.into_attachment(b"<html>", None).is_err());
    }

    #[test]
    fn responses_shapes() {
        let part = json!({"type":"input_image","image_url": png_data_url(),"detail":"auto"});
        let a =
            inline(from_responses_part(part.as_object().unwrap(), "input[0].content[1]").unwrap());
        assert_eq!(a.param, "input[0].content[1].image_url");

        let part = json!({"type":"input_image","source":{"type":"base64","media_type":"image/png",
                          "data": STANDARD.encode(PNG_1X1)}});
        let a =
            inline(from_responses_part(part.as_object().unwrap(), "input[2].content[0]").unwrap());
        assert_eq!(a.param, "input[2].content[0].source.data");

        let part = json!({"type":"input_image","source":{"type":"url","url":"http://h/i.gif"}});
        assert!(matches!(
            from_responses_part(part.as_object().unwrap(), "b").unwrap(),
            ImageRef::Remote(_)
        ));

        let cases = [
            (
                json!({"type":"input_image","file_id":"file-1"}),
                "b.file_id",
            ),
            (json!({"type":"input_image"}), "b.image_url"),
            (
                json!({"type":"input_image","source":{"type":"ftp"}}),
                "b.source.type",
            ),
            (
                json!({"type":"input_image","source":{"type":"base64"}}),
                "b.source.data",
            ),
            (
                json!({"type":"input_image","source":{"type":"url"}}),
                "b.source.url",
            ),
        ];
        for (part, param) in cases {
            let err = from_responses_part(part.as_object().unwrap(), "b").unwrap_err();
            assert_eq!(err.param(), Some(param), "{part}");
        }
    }
}
