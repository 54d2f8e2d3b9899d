//! Size accounting for a run's attachments against the gateway's limits.
//!
//! Two limits apply (hello-ok `policy`): openclaw 2026.9.6 announces per-attachment caps
//! (`policy.attachments.maxBytes` and `maxImageBytes`, decoded bytes), and both versions cap
//! one WebSocket frame (`policy.maxPayload`: 512 KiB on clawdbot 2026.1.24, 25 MiB on
//! openclaw), which the whole `agent` request frame, base64 included, must fit in. A run
//! over either is answered with a 413 before anything is sent, instead of the gateway
//! closing the socket on every run in flight.

use super::attachment::Attachment;
use super::error::MediaError;

/// The per-attachment cap clawdbot 2026.1.24 applies without announcing it (the default
/// `maxBytes` of `parseMessageWithAttachments` in its `chat-attachments`, decoded bytes);
/// use it as [`AttachmentLimits::max_image_bytes`] on v3 gateways. That version also wants
/// padded base64 (length a multiple of 4), which [`super::Attachment`] always carries.
pub const CLAWDBOT_MAX_ATTACHMENT_BYTES: usize = 5_000_000;

/// Bytes of an `agent` frame besides message, system prompt and attachments: the envelope,
/// ids, session key and the JSON keys, rounded up generously.
pub const FRAME_OVERHEAD: usize = 2048;
/// Per attachment besides its base64: `{"type":"image","mimeType":...,"fileName":...}`.
const ATTACHMENT_OVERHEAD: usize = 64;

/// The limits to check against; `None` means the gateway announced none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttachmentLimits {
    /// Largest decoded image (the smaller of openclaw's `maxBytes` and `maxImageBytes`).
    pub max_image_bytes: Option<usize>,
    /// Largest request frame (`policy.maxPayload`).
    pub max_frame_bytes: Option<usize>,
}

/// Estimated size of the `agent` frame for these attachments plus `text_bytes` of message
/// and extra system prompt (an estimate: JSON escaping of the text is not counted).
pub fn estimated_frame_bytes(attachments: &[Attachment], text_bytes: usize) -> usize {
    attachments
        .iter()
        .map(|a| {
            a.content_base64.len()
                + a.mime_type.len()
                + a.file_name.as_ref().map_or(0, String::len)
                + ATTACHMENT_OVERHEAD
        })
        .fold(
            FRAME_OVERHEAD.saturating_add(text_bytes),
            usize::saturating_add,
        )
}

/// Checks every image against the per-image cap (the error names that image), then the
/// whole frame against the frame cap.
pub fn check_sizes(
    attachments: &[Attachment],
    text_bytes: usize,
    limits: &AttachmentLimits,
) -> Result<(), MediaError> {
    if let Some(max) = limits.max_image_bytes {
        if let Some(big) = attachments.iter().find(|a| a.decoded_len > max) {
            return Err(MediaError::TooLarge {
                message: format!(
                    "Image too large: {} bytes (the gateway accepts at most {max} bytes per image).",
                    big.decoded_len
                ),
                param: Some(big.param.clone()),
            });
        }
    }
    if let Some(max) = limits.max_frame_bytes {
        let total = estimated_frame_bytes(attachments, text_bytes);
        if total > max {
            return Err(MediaError::TooLarge {
                message: format!(
                    "Request too large for the gateway: about {total} bytes with images \
                     encoded (the gateway accepts at most {max} bytes per run)."
                ),
                param: None,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::attachment::AttachmentKind;

    fn image(decoded_len: usize, param: &str) -> Attachment {
        Attachment {
            kind: AttachmentKind::Image,
            mime_type: "image/png".into(),
            file_name: None,
            content_base64: "A".repeat(decoded_len.div_ceil(3) * 4),
            decoded_len,
            param: param.into(),
        }
    }

    #[test]
    fn no_limits_accept_anything() {
        assert_eq!(
            check_sizes(&[image(10_000_000, "p")], 5, &AttachmentLimits::default()),
            Ok(())
        );
    }

    #[test]
    fn an_image_over_the_cap_is_named() {
        let limits = AttachmentLimits {
            max_image_bytes: Some(1000),
            max_frame_bytes: None,
        };
        let images = [image(1000, "a"), image(1001, "b")];
        let err = check_sizes(&images, 0, &limits).unwrap_err();
        assert_eq!(err.param(), Some("b"));
        assert!(matches!(err, MediaError::TooLarge { .. }));
        assert!(err.to_string().contains("1001 bytes"), "{err}");
        assert_eq!(check_sizes(&images[..1], 0, &limits), Ok(()));
    }

    #[test]
    fn the_frame_counts_base64_text_and_overhead() {
        let images = [image(3000, "a"), image(3000, "b")];
        let frame = estimated_frame_bytes(&images, 100);
        assert_eq!(
            frame,
            FRAME_OVERHEAD + 100 + 2 * (4000 + "image/png".len() + 64)
        );
        let fits = AttachmentLimits {
            max_image_bytes: None,
            max_frame_bytes: Some(frame),
        };
        assert_eq!(check_sizes(&images, 100, &fits), Ok(()));
        let err = check_sizes(&images, 101, &fits).unwrap_err();
        assert_eq!(err.param(), None);
        assert!(matches!(err, MediaError::TooLarge { .. }));
    }
}
