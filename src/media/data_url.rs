//! `data:` URLs (RFC 2397) and the base64 inside them.
//!
//! Clients send inline images and files as `data:<type>[;charset=...];base64,<data>`. Only
//! base64 data URLs are accepted: that is what OpenAI documents and every SDK example sends.

use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use super::error::MediaError;

/// Standard alphabet, padding optional on input (some encoders drop it), always on output.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The parts of a base64 `data:` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataUrl<'a> {
    /// The media type, lower-cased without parameters; `None` when the URL gives none.
    pub mime_type: Option<String>,
    /// The `charset` parameter, lower-cased, when given.
    pub charset: Option<String>,
    /// The base64 payload.
    pub data: &'a str,
}

impl<'a> DataUrl<'a> {
    /// Parses `url` if it is a `data:` URL; `Ok(None)` for any other URL. A `data:` URL that
    /// is malformed or not base64 is an error naming `param`.
    pub fn parse(url: &'a str, param: &str) -> Result<Option<Self>, MediaError> {
        let Some(rest) = strip_prefix_ignore_case(url.trim_start(), "data:") else {
            return Ok(None);
        };
        let (header, data) = rest.split_once(',').ok_or_else(|| {
            MediaError::invalid(
                "Invalid data URL: expected 'data:<type>;base64,<data>'.",
                param,
            )
        })?;
        let mut fields = header.split(';').map(str::trim);
        let mime_type = fields
            .next()
            .filter(|m| !m.is_empty())
            .map(str::to_ascii_lowercase);
        let mut charset = None;
        let mut base64 = false;
        for field in fields {
            if field.eq_ignore_ascii_case("base64") {
                base64 = true;
            } else if let Some((key, value)) = field.split_once('=') {
                if key.trim().eq_ignore_ascii_case("charset") {
                    charset = Some(value.trim().trim_matches('"').to_ascii_lowercase());
                }
            }
        }
        if !base64 {
            return Err(MediaError::invalid(
                "Invalid data URL: only base64-encoded data URLs are supported \
                 ('data:<type>;base64,<data>').",
                param,
            ));
        }
        Ok(Some(DataUrl {
            mime_type,
            charset,
            data,
        }))
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Decoded base64: the bytes, and the canonical standard-base64 text to forward (the input
/// itself when it already was canonical, so the common case copies nothing twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The decoded bytes.
    pub bytes: Vec<u8>,
    /// Padded standard base64 of `bytes`, without white space.
    pub canonical: String,
}

/// Decodes base64 (standard alphabet, padding optional, white space such as MIME line breaks
/// ignored); an error names `param`.
pub fn decode_base64(data: &str, param: &str) -> Result<Decoded, MediaError> {
    let invalid = || MediaError::invalid("Invalid base64 data.", param);
    let compact: std::borrow::Cow<'_, str> = if data.bytes().any(|b| b.is_ascii_whitespace()) {
        data.chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect::<String>()
            .into()
    } else {
        data.into()
    };
    if compact.is_empty() {
        return Err(MediaError::invalid("Invalid base64 data: empty.", param));
    }
    let bytes = LENIENT.decode(compact.as_bytes()).map_err(|_| invalid())?;
    let canonical = if compact.len().is_multiple_of(4) {
        compact.into_owned()
    } else {
        LENIENT.encode(&bytes)
    };
    Ok(Decoded { bytes, canonical })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_type_charset_and_data() {
        let url = DataUrl::parse("data:Text/Plain;charset=UTF-8;base64,aGk=", "p")
            .unwrap()
            .unwrap();
        assert_eq!(url.mime_type.as_deref(), Some("text/plain"));
        assert_eq!(url.charset.as_deref(), Some("utf-8"));
        assert_eq!(url.data, "aGk=");
        let url = DataUrl::parse("DATA:;base64,aGk=", "p").unwrap().unwrap();
        assert_eq!(url.mime_type, None);
    }

    #[test]
    fn other_urls_are_not_data_urls() {
        assert_eq!(DataUrl::parse("https://x/y.png", "p"), Ok(None));
        assert_eq!(DataUrl::parse("dat", "p"), Ok(None));
    }

    #[test]
    fn malformed_or_non_base64_data_urls_are_rejected_with_param() {
        let err = DataUrl::parse("data:image/png;base64", "a.b").unwrap_err();
        assert_eq!(err.param(), Some("a.b"));
        let err = DataUrl::parse("data:text/plain,hello", "a.c").unwrap_err();
        assert_eq!(err.param(), Some("a.c"));
        assert!(err.to_string().contains("only base64"), "{err}");
    }

    #[test]
    fn base64_is_decoded_leniently_and_canonicalized() {
        assert_eq!(
            decode_base64("aGVsbG8=", "p").unwrap(),
            Decoded {
                bytes: b"hello".to_vec(),
                canonical: "aGVsbG8=".into()
            }
        );
        let d = decode_base64("aGVs\r\nbG8", "p").unwrap();
        assert_eq!(d.bytes, b"hello");
        assert_eq!(d.canonical, "aGVsbG8=");
        // Always padded: clawdbot 2026.1.24 refuses base64 whose length is not a multiple of 4.
        for data in ["YQ", "YWI", "YWJj", "YQ==", "Y W I"] {
            let d = decode_base64(data, "p").unwrap();
            assert!(
                d.canonical.len().is_multiple_of(4),
                "{data:?} -> {}",
                d.canonical
            );
        }
    }

    #[test]
    fn bad_base64_names_the_param() {
        for bad in ["***", "", "aGVsbG8=x"] {
            let err = decode_base64(bad, "messages[0].content[0].image_url.url").unwrap_err();
            assert_eq!(
                err.param(),
                Some("messages[0].content[0].image_url.url"),
                "{bad:?}"
            );
        }
    }
}
