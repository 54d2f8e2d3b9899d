//! Frames the connection ignores because they break the protocol (not JSON, wrong types, an
//! unknown frame type, a `res` nobody waits for, a second `accepted`), logged without letting
//! a misbehaving gateway flood the log: the first of each kind at once, then at most one line
//! per kind and [`QUIET`], with the number seen meanwhile.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

/// At most one line per kind this often.
pub(crate) const QUIET: Duration = Duration::from_secs(60);

/// Why a frame was ignored; the log line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Oddity {
    /// Not JSON, or JSON without the frame shape (`type`, `id`, `ok` of the wrong types).
    Unparsable,
    /// A `type` other than `res` and `event`.
    UnknownType,
    /// A `res` whose id we never sent or already answered.
    UnknownResponse,
    /// A second `accepted` for one run.
    DuplicateAccepted,
    /// An `agent` event whose payload does not have the documented shape.
    MalformedEvent,
}

impl Oddity {
    fn describe(self) -> &'static str {
        match self {
            Oddity::Unparsable => "unparsable gateway frame",
            Oddity::UnknownType => "gateway frame of an unknown type",
            Oddity::UnknownResponse => "gateway answer to no pending request",
            Oddity::DuplicateAccepted => "second `accepted` for one run",
            Oddity::MalformedEvent => "malformed `agent` event",
        }
    }
}

/// Per-kind counters for one connection task.
#[derive(Default)]
pub(crate) struct Oddities {
    /// Kind -> (when it was last logged, how many since).
    seen: HashMap<Oddity, (Instant, u64)>,
}

impl Oddities {
    /// Count one ignored frame; log it when its kind was not logged within [`QUIET`].
    /// Returns whether a line was written.
    pub(crate) fn note(&mut self, kind: Oddity, detail: &dyn std::fmt::Display) -> bool {
        self.note_at(kind, detail, Instant::now())
    }

    /// Whether a frame of `kind` was ignored on this connection.
    #[cfg(test)]
    pub(crate) fn saw(&self, kind: Oddity) -> bool {
        self.seen.contains_key(&kind)
    }

    fn note_at(&mut self, kind: Oddity, detail: &dyn std::fmt::Display, now: Instant) -> bool {
        match self.seen.get_mut(&kind) {
            Some((last, since)) if now.duration_since(*last) < QUIET => {
                *since += 1;
                false
            }
            Some((last, since)) => {
                warn!(ignored_since_last_line = *since, %detail, "ignoring {}", kind.describe());
                *last = now;
                *since = 0;
                true
            }
            None => {
                warn!(%detail, "ignoring {} (further ones logged at most once a minute)", kind.describe());
                self.seen.insert(kind, (now, 0));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_one_kind_is_one_line_a_minute() {
        let mut odd = Oddities::default();
        let start = Instant::now();
        let logged = (0..10_000)
            .filter(|i| odd.note_at(Oddity::Unparsable, i, start))
            .count();
        assert_eq!(logged, 1);
        // Another kind has its own budget.
        assert!(odd.note_at(Oddity::UnknownResponse, &"x", start));
        let later = start + QUIET;
        assert!(odd.note_at(Oddity::Unparsable, &"again", later));
        assert!(!odd.note_at(Oddity::Unparsable, &"again", later));
    }
}
