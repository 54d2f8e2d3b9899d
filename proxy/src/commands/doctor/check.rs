//! One finding of `clawshim doctor` and how it is printed.

use std::io::Write;

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Fine.
    Pass,
    /// Broken or unsafe: the line says why and how to fix it.
    Fail,
    /// Does not apply here, or cannot be checked after an earlier failure.
    Skip,
}

/// One check's finding.
#[derive(Debug, Clone)]
pub struct Check {
    /// Short, fixed name (`gateway reachable`, `credentials`, ...).
    pub name: &'static str,
    /// Pass, fail or skip.
    pub outcome: Outcome,
    /// What was found, in plain words.
    pub detail: String,
    /// What to do about a failure.
    pub fix: Option<String>,
}

impl Check {
    /// A passed check.
    pub fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A failed check with its fix.
    pub fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A check that does not apply or could not run.
    pub fn skip(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Skip,
            detail: detail.into(),
            fix: None,
        }
    }

    /// `[ok]   name: detail` (and `fix:` on the next line).
    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let tag = match self.outcome {
            Outcome::Pass => "[ok]  ",
            Outcome::Fail => "[FAIL]",
            Outcome::Skip => "[skip]",
        };
        writeln!(out, "{tag} {}: {}", self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            writeln!(out, "       fix: {fix}")?;
        }
        Ok(())
    }
}
