//! How much of the agent's work a request sees: the caller's ceiling (its key's `progress`,
//! else `[server] progress`), lowered by the request's `x-clawshim-progress` header, never
//! raised past it, so a key holder sees no more through progress than the owner allowed.

use clawshim_core::gateway::ProgressLevel;

use crate::request::errors::HttpError;

/// The request header that may lower the level.
pub const HEADER: &str = "x-clawshim-progress";

/// The request's level: `ceiling`, or the header's lower one; an unknown word is a 400.
pub fn level(ceiling: ProgressLevel, header: Option<&str>) -> Result<ProgressLevel, HttpError> {
    let Some(asked) = header else {
        return Ok(ceiling);
    };
    let asked = asked
        .parse::<ProgressLevel>()
        .map_err(|message| HttpError::BadRequest {
            message: format!("{HEADER}: {message}"),
            param: None,
        })?;
    Ok(asked.min(ceiling))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProgressLevel::*;

    #[test]
    fn the_header_lowers_but_never_raises() {
        assert_eq!(level(Steps, None).unwrap(), Steps);
        assert_eq!(level(Steps, Some("off")).unwrap(), Off);
        assert_eq!(level(Steps, Some("detailed")).unwrap(), Steps);
        assert_eq!(level(Off, Some("detailed")).unwrap(), Off);
        assert_eq!(level(Detailed, Some(" Detailed ")).unwrap(), Detailed);
        let err = level(Steps, Some("everything")).unwrap_err();
        assert!(
            matches!(err, HttpError::BadRequest { ref message, .. } if message.contains("off, steps or detailed"))
        );
    }
}
