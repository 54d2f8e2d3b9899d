//! The agent's work as text a person reads ([`ProgressText`]): one short line per tool step
//! or approval wait, and the model's thinking as it comes. Both wire formats show this text
//! as reasoning (chat's `reasoning_content`, the Responses API's reasoning summary), so a
//! client renders it apart from the answer.
//!
//! A step's start opens a line ("Running: Read file `notes.md`") that its end completes
//! (" … done in 0.4 s"); an end whose start is not the open line gets a line of its own
//! ("Agents: blocked in 0.0 s: Tool agents_list not found"). Durations come from the
//! gateway's times: v4 sends both on the end, v3 only the events' times, so starts are
//! remembered by call id (a bounded number of them).

use std::collections::HashMap;

use crate::gateway::progress::{
    ApprovalPhase, ApprovalWait, CommandOutput, Progress, StepPhase, StepStatus, ToolStep,
};

/// Most starts remembered for their durations (older ones are forgotten: their end shows
/// no duration).
const STARTS_REMEMBERED: usize = 256;

/// Most text kept for a whole (non-stream) answer, in bytes; past it the rest is left out
/// with one note.
pub const WHOLE_MAX_BYTES: usize = 64 * 1024;

/// What was left out of a whole answer's reasoning once it reached [`WHOLE_MAX_BYTES`].
const WHOLE_CUT_NOTE: &str = "\n[more progress not shown]\n";

/// Progress rendered as reasoning text, for a stream (each piece as it comes) and a whole
/// answer (all of it, bounded).
#[derive(Debug, Default)]
pub struct ProgressText {
    /// The line the last text left open, if any.
    open: OpenLine,
    /// Start times (Unix ms) by call id.
    starts: HashMap<String, u64>,
    /// Everything rendered so far, up to [`WHOLE_MAX_BYTES`].
    whole: String,
    /// Some text was left out of `whole`.
    cut: bool,
}

/// What the last text left unfinished.
#[derive(Debug, Default, PartialEq, Eq)]
enum OpenLine {
    /// Nothing: the next text starts a line.
    #[default]
    None,
    /// A step's "Running:" line, by its call id; its end completes it.
    Step(Option<String>),
    /// Thinking text; more thinking continues it.
    Thinking,
}

impl ProgressText {
    /// The text `progress` adds, `None` when it adds nothing.
    pub fn render(&mut self, progress: &Progress) -> Option<String> {
        let text = match progress {
            Progress::Tool(step) => self.step(step),
            Progress::Thinking(text) => {
                let mut out = if self.open == OpenLine::Thinking {
                    String::new()
                } else {
                    self.close_line()
                };
                out.push_str(text);
                self.open = if text.ends_with('\n') {
                    OpenLine::None
                } else {
                    OpenLine::Thinking
                };
                out
            }
            Progress::Approval(wait) => {
                let mut out = self.close_line();
                out.push_str(&approval_line(wait));
                out.push('\n');
                out
            }
            Progress::Output(output) => {
                let mut out = self.close_line();
                out.push_str(&output_line(output));
                out.push('\n');
                out
            }
        };
        if text.is_empty() {
            return None;
        }
        self.keep(&text);
        Some(text)
    }

    /// All the text rendered (bounded), `None` when there was none.
    pub fn whole(&self) -> Option<String> {
        if self.whole.is_empty() {
            return None;
        }
        let mut whole = self.whole.clone();
        if self.cut {
            whole.push_str(WHOLE_CUT_NOTE);
        }
        Some(whole)
    }

    fn keep(&mut self, text: &str) {
        if self.cut {
            return;
        }
        if self.whole.len() + text.len() > WHOLE_MAX_BYTES {
            self.cut = true;
            return;
        }
        self.whole.push_str(text);
    }

    /// A newline when the last text left a line open.
    fn close_line(&mut self) -> String {
        if std::mem::take(&mut self.open) != OpenLine::None {
            "\n".to_owned()
        } else {
            String::new()
        }
    }

    fn step(&mut self, step: &ToolStep) -> String {
        match step.phase {
            StepPhase::Started => {
                if let (Some(id), Some(at)) = (&step.call_id, step.started_at_ms) {
                    if self.starts.len() >= STARTS_REMEMBERED {
                        self.starts.clear();
                    }
                    self.starts.insert(id.clone(), at);
                }
                let mut out = self.close_line();
                out.push_str("Running: ");
                out.push_str(&label(step));
                if let Some(args) = &step.args {
                    out.push_str(" with `");
                    out.push_str(args);
                    out.push('`');
                }
                self.open = OpenLine::Step(step.call_id.clone());
                out
            }
            StepPhase::Ended => {
                let started = step
                    .started_at_ms
                    .or_else(|| step.call_id.as_ref().and_then(|id| self.starts.remove(id)));
                let continues = self.open == OpenLine::Step(step.call_id.clone());
                let mut out = if continues {
                    self.open = OpenLine::None;
                    " … ".to_owned()
                } else {
                    let mut out = self.close_line();
                    out.push_str(&label(step));
                    out.push_str(": ");
                    out
                };
                out.push_str(&ending(step, started));
                out.push('\n');
                out
            }
        }
    }
}

/// What a step is called: its title, else its name.
fn label(step: &ToolStep) -> String {
    match (&step.title, &step.name) {
        (Some(title), _) => title.clone(),
        (None, Some(name)) => format!("`{name}`"),
        (None, None) => "a tool".to_owned(),
    }
}

/// "done in 0.4 s", "blocked in 0.0 s: Tool agents_list not found", with the result excerpt
/// when there is one.
fn ending(step: &ToolStep, started_at_ms: Option<u64>) -> String {
    let word = match &step.status {
        StepStatus::Completed | StepStatus::Running => "done",
        StepStatus::Failed => "failed",
        StepStatus::Blocked => "blocked",
        StepStatus::Other(word) => word.as_str(),
    };
    let mut out = word.to_owned();
    if let (Some(start), Some(end)) = (started_at_ms, step.ended_at_ms) {
        let ms = end.saturating_sub(start);
        out.push_str(&format!(" in {}.{} s", ms / 1000, (ms % 1000) / 100));
    }
    if let Some(error) = &step.error {
        out.push_str(": ");
        out.push_str(error);
    }
    if let Some(result) = &step.result {
        out.push_str(": `");
        out.push_str(result);
        out.push('`');
    }
    out
}

/// "Output of Run `ls`: `a.txt b.txt`".
fn output_line(output: &CommandOutput) -> String {
    let of = output.title.as_deref().unwrap_or("a command");
    format!("Output of {of}: `{}`", output.excerpt)
}

fn approval_line(wait: &ApprovalWait) -> String {
    let command = wait
        .command
        .as_deref()
        .map_or("a command".to_owned(), |c| format!("`{c}`"));
    let host = wait
        .host
        .as_deref()
        .map(|h| format!(" on {h}"))
        .unwrap_or_default();
    match (wait.phase, wait.status.as_deref()) {
        (ApprovalPhase::Requested, Some("unavailable")) => {
            format!("{command}{host} needs approval, but no approval route is available")
        }
        (ApprovalPhase::Requested, _) => {
            format!("Waiting for approval of {command}{host}: approve it in the Control UI")
        }
        (ApprovalPhase::Resolved, status) => {
            format!(
                "Approval of {command}{host}: {}",
                status.unwrap_or("resolved")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(phase: StepPhase, id: &str, title: Option<&str>, status: StepStatus) -> ToolStep {
        ToolStep {
            phase,
            call_id: Some(id.into()),
            name: Some("read".into()),
            title: title.map(Into::into),
            status,
            error: None,
            started_at_ms: None,
            ended_at_ms: None,
            args: None,
            result: None,
        }
    }

    fn render_all(events: Vec<Progress>) -> (String, ProgressText) {
        let mut t = ProgressText::default();
        let text: String = events.iter().filter_map(|p| t.render(p)).collect();
        (text, t)
    }

    #[test]
    fn a_step_is_one_line_with_its_duration() {
        let mut start = step(
            StepPhase::Started,
            "c1",
            Some("Read file `notes.md`"),
            StepStatus::Running,
        );
        start.started_at_ms = Some(1_000);
        let mut end = step(StepPhase::Ended, "c1", None, StepStatus::Completed);
        end.ended_at_ms = Some(1_420);
        let (text, t) = render_all(vec![Progress::Tool(start), Progress::Tool(end)]);
        assert_eq!(text, "Running: Read file `notes.md` … done in 0.4 s\n");
        assert_eq!(t.whole().as_deref(), Some(text.as_str()));
    }

    #[test]
    fn interleaved_steps_thinking_and_approvals_stay_readable() {
        // openclaw-lab tool_call: a blocked step with its own times and error.
        let mut blocked = step(StepPhase::Ended, "c2", Some("Agents"), StepStatus::Blocked);
        blocked.started_at_ms = Some(1795689841412);
        blocked.ended_at_ms = Some(1795689841418);
        blocked.error = Some("Tool agents_list not found".into());
        let (text, _) = render_all(vec![
            Progress::Thinking("Let me".into()),
            Progress::Thinking(" look".into()),
            Progress::Tool(step(StepPhase::Started, "c1", None, StepStatus::Running)),
            Progress::Tool(step(
                StepPhase::Started,
                "c2",
                Some("Agents"),
                StepStatus::Running,
            )),
            Progress::Tool(blocked),
            Progress::Approval(ApprovalWait {
                phase: ApprovalPhase::Requested,
                status: Some("pending".into()),
                command: Some("rm -rf build".into()),
                host: Some("gateway-host".into()),
            }),
            Progress::Tool(step(StepPhase::Ended, "c1", None, StepStatus::Failed)),
        ]);
        assert_eq!(
            text,
            "Let me look\n\
             Running: `read`\n\
             Running: Agents … blocked in 0.0 s: Tool agents_list not found\n\
             Waiting for approval of `rm -rf build` on gateway-host: approve it in the Control UI\n\
             `read`: failed\n"
        );
    }

    #[test]
    fn command_output_gets_its_own_line() {
        let (text, _) = render_all(vec![
            Progress::Tool(step(
                StepPhase::Started,
                "c1",
                Some("Run `ls`"),
                StepStatus::Running,
            )),
            Progress::Output(CommandOutput {
                call_id: Some("c1".into()),
                title: Some("Run `ls`".into()),
                excerpt: "a.txt b.txt".into(),
            }),
            Progress::Tool(step(
                StepPhase::Ended,
                "c1",
                Some("Run `ls`"),
                StepStatus::Completed,
            )),
        ]);
        assert_eq!(
            text,
            "Running: Run `ls`\nOutput of Run `ls`: `a.txt b.txt`\nRun `ls`: done\n"
        );
    }

    #[test]
    fn a_step_without_anything_still_reads() {
        let bare = ToolStep {
            phase: StepPhase::Started,
            call_id: None,
            name: None,
            title: None,
            status: StepStatus::Running,
            error: None,
            started_at_ms: None,
            ended_at_ms: None,
            args: None,
            result: None,
        };
        let end = ToolStep {
            phase: StepPhase::Ended,
            status: StepStatus::Other("outcome unknown".into()),
            ..bare.clone()
        };
        let (text, _) = render_all(vec![Progress::Tool(bare), Progress::Tool(end)]);
        assert_eq!(text, "Running: a tool … outcome unknown\n");
    }

    #[test]
    fn the_whole_text_is_bounded() {
        let mut t = ProgressText::default();
        let delta = Progress::Thinking("x".repeat(1000));
        for _ in 0..100_000 {
            assert!(t.render(&delta).is_some(), "the stream gets every delta");
        }
        let whole = t.whole().unwrap();
        assert!(whole.len() <= WHOLE_MAX_BYTES + WHOLE_CUT_NOTE.len());
        assert!(whole.ends_with(WHOLE_CUT_NOTE));
        // Remembered starts are bounded too.
        for n in 0..10_000 {
            let mut s = step(
                StepPhase::Started,
                &n.to_string(),
                None,
                StepStatus::Running,
            );
            s.started_at_ms = Some(n);
            t.render(&Progress::Tool(s));
        }
        assert!(t.starts.len() <= STARTS_REMEMBERED);
    }
}
