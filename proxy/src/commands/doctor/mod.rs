//! `clawshim doctor`: check a clawshim set-up from end to end and say, in plain words, what
//! is wrong and how to fix it. The checks run in order, one group per file: the
//! configuration ([`config`]), the gateway connection ([`gateway`]: reachable, protocol,
//! credentials, device pairing), what the gateway grants ([`hello`]: scopes, frame limit),
//! clawshim's listeners ([`listeners`]), shared state in Redis ([`state`]), the gateway's
//! own OpenAI endpoints ([`endpoints`]),
//! then one real chat completion through clawshim ([`trial`]). The exit status is 0 only
//! when every check passes (a check that does not apply is skipped, not failed). Then
//! [`clients`] prints the settings to paste into common clients for this instance.
//!
//! The real run starts clawshim in-process, with this configuration, on an ephemeral
//! loopback port and a one-time client token, rather than dialling a running instance: it
//! needs no client key from the user, works before the service is started, and cannot be
//! confused by another process on the configured port. The listeners themselves are checked
//! from the configuration.

pub mod check;
pub mod client_tools;
pub mod clients;
pub mod config;
pub mod endpoints;
pub mod gateway;
pub mod hello;
pub mod listeners;
pub mod state;
pub mod trial;

use std::io::Write;

use crate::config::discover::Environment;
use crate::config::Settings;
use check::{Check, Outcome};

/// Collects checks as they are printed.
struct Report<'a> {
    out: &'a mut dyn Write,
    failed: usize,
}

impl Report<'_> {
    fn add(&mut self, check: Check) {
        if check.outcome == Outcome::Fail {
            self.failed += 1;
        }
        // A closed stdout must not hide the exit status.
        let _ = check.write(self.out);
    }

    fn extend(&mut self, checks: Vec<Check>) {
        for c in checks {
            self.add(c);
        }
    }
}

/// Run every check for `settings` (the local gateway's config looked up in `env`), print
/// the findings and the client settings to `out`, and return the exit status: 0 when every
/// check passed, 1 otherwise.
pub async fn diagnose(settings: &Settings, env: &dyn Environment, out: &mut dyn Write) -> i32 {
    let _ = writeln!(out, "clawshim doctor");
    let mut report = Report { out, failed: 0 };
    let (check, config) = config::check(settings, env);
    report.add(check);
    let Some(config) = config else {
        let _ = writeln!(report.out, "\n1 check failed: fix the configuration first.");
        return 1;
    };

    let connection = gateway::check(&config).await;
    let connected = connection.hello.is_some();
    report.extend(connection.checks);
    if let Some(hello) = &connection.hello {
        report.extend(hello::check(&config, hello));
    } else {
        report.add(Check::skip(
            "scopes",
            "not checked: no connection to the gateway",
        ));
        report.add(Check::skip(
            "frame limit",
            "not checked: no connection to the gateway",
        ));
    }
    report.extend(listeners::check(&config));
    report.add(state::check(&config).await);
    report.add(state::usage_file(&config).await);
    report.add(endpoints::check(&config, env));
    report.add(client_tools::check(&config, connection.hello.as_deref(), env).await);
    if connected {
        report.add(trial::check(&config).await);
    } else {
        report.add(Check::skip(
            "real run",
            "not tried: no connection to the gateway",
        ));
    }

    let failed = report.failed;
    let out = report.out;
    let _ = writeln!(out);
    if failed == 0 {
        let _ = writeln!(out, "All checks passed.");
    } else {
        let _ = writeln!(
            out,
            "{failed} check{} failed: see the fix lines above.",
            if failed == 1 { "" } else { "s" }
        );
    }
    let _ = clients::write(&config, out);
    i32::from(failed > 0)
}
