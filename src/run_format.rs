//! What every wire format does with a run, in one place: the [`RunFormat`] trait both
//! formats implement (chat completions in `translate`, the Responses API in
//! `responses_translate`), and [`ReplyText`], the reply text rules they share.
//!
//! One translator per format handles every [`RunEvent`] in one `match`: it returns the
//! stream items of the event and keeps what the whole (non-stream) answer needs, so a new
//! kind of run event is handled in one place per format, for both ways of answering.

use crate::gateway::{GatewayError, RunEvent};

/// How one wire format renders a run: stream items as events come, and the whole answer
/// once the run has ended. Pure: no I/O, every case is unit-tested beside the format.
pub trait RunFormat {
    /// One item of the stream (a chunk, an event, an error, the end marker).
    type Item;
    /// The whole answer of a non-stream request.
    type Answer;

    /// The items a stream opens with, before any run event; empty once sent.
    fn opening(&mut self) -> Vec<Self::Item>;

    /// The items one run event adds; nothing once the run has ended.
    fn on_event(&mut self, event: RunEvent) -> Vec<Self::Item>;

    /// True once the run has ended (its last items were returned).
    fn is_done(&self) -> bool;

    /// The error the stream reported the run ended with, if it did (for the access line).
    fn failure(&self) -> Option<&GatewayError>;

    /// Once the run has ended: the whole answer, or the error it ended with.
    fn answer(&self) -> Option<Result<Self::Answer, GatewayError>>;
}

/// The reply text of one run, by both formats' rules.
///
/// The reply is the streamed assistant deltas, completed by the final result's text: the
/// gateway sometimes puts the reply only in the final result (an LLM error comes back as
/// reply text with no assistant events; traces: gateway-lab llm_http500), and a timed-out run
/// may stream text that is absent from the final result (traces: gateway-lab run_timeout,
/// `payloads: []`). A stream sends what the final text adds to what was streamed (a final
/// text that disagrees cannot be taken back, so it is dropped); a whole answer takes the
/// final text when there is one (it is the complete reply), else the deltas.
#[derive(Debug, Default)]
pub struct ReplyText {
    /// Everything sent as deltas so far, with the final suffix once finished.
    streamed: String,
    /// The final result's text, when it had one.
    final_text: Option<String>,
}

impl ReplyText {
    /// A delta: the text to send now, `None` when it is empty.
    pub fn delta(&mut self, text: String) -> Option<String> {
        if text.is_empty() {
            return None;
        }
        self.streamed.push_str(&text);
        Some(text)
    }

    /// The final result's text: what it adds to what was streamed, to send now, if anything.
    pub fn finish(&mut self, text: String) -> Option<String> {
        let suffix = (text.len() > self.streamed.len() && text.starts_with(&self.streamed))
            .then(|| text[self.streamed.len()..].to_owned());
        if let Some(suffix) = &suffix {
            self.streamed.push_str(suffix);
        }
        self.final_text = Some(text).filter(|t| !t.is_empty());
        suffix
    }

    /// What the stream has sent.
    pub fn streamed(&self) -> &str {
        &self.streamed
    }

    /// The text of a whole answer: the final text when there was one, else the deltas.
    pub fn whole(&self) -> &str {
        self.final_text.as_deref().unwrap_or(&self.streamed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_completes_with_the_suffix_and_whole_prefers_the_final_text() {
        let mut t = ReplyText::default();
        assert_eq!(t.delta(String::new()), None);
        assert_eq!(t.delta("Hel".into()).as_deref(), Some("Hel"));
        assert_eq!(t.finish("Hello".into()).as_deref(), Some("lo"));
        assert_eq!((t.streamed(), t.whole()), ("Hello", "Hello"));

        let mut t = ReplyText::default();
        t.delta("Hello there".into());
        assert_eq!(t.finish("Goodbye".into()), None);
        assert_eq!((t.streamed(), t.whole()), ("Hello there", "Goodbye"));

        let mut t = ReplyText::default();
        t.delta("partial".into());
        assert_eq!(t.finish(String::new()), None);
        assert_eq!((t.streamed(), t.whole()), ("partial", "partial"));
    }
}
