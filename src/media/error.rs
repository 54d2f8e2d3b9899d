//! Why an image or file of a request cannot be used: malformed (400) or too large (413).

use crate::error::RequestError;

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
