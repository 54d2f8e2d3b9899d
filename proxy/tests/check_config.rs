//! `clawshim --check-config` validates and exits without touching the disk: a configured
//! device identity that does not exist yet is not created (start-up creates it).

use std::path::PathBuf;
use std::process::{Command, Output};

/// Run the binary with `args` and only the given `CLAWSHIM_*` variables (none inherited).
fn clawshim(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawshim"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CLAWSHIM_") {
            cmd.env_remove(name);
        }
    }
    cmd.args(args).output().expect("clawshim runs")
}

fn temp_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "clawshim-check-{tag}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ))
}

#[test]
fn check_config_creates_no_device_identity_file() {
    let dir = temp_dir("device");
    let identity = dir.join("device.json");
    let out = clawshim(&[
        "--check-config",
        "--gateway-token",
        "t",
        "--device-identity",
        identity.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK"));
    assert!(
        !identity.exists(),
        "--check-config created {}",
        identity.display()
    );
    assert!(!dir.exists(), "--check-config created {}", dir.display());
}

#[test]
fn check_config_reports_every_problem_and_exits_2() {
    let out = clawshim(&[
        "--check-config",
        "--listen",
        "nope",
        "--gateway-url",
        "http://x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listen: `nope`"), "{err}");
    assert!(err.contains("gateway url"), "{err}");
    assert!(err.contains("no accepted client token"), "{err}");
}

#[test]
fn a_lan_listener_with_only_the_gateway_token_is_warned_about() {
    // Valid (exit 0), but clients on the LAN would hold the gateway's own token.
    let out = clawshim(&[
        "--check-config",
        "--gateway-token",
        "t",
        "--listen",
        "0.0.0.0:8790",
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning"), "{err}");
    assert!(err.contains("admin token"), "{err}");
    assert!(err.contains("clawshim gen-key"), "{err}");
    assert!(err.contains("0.0.0.0:8790"), "{err}");

    // Loopback only, or clients with tokens of their own: no warning.
    for args in [
        &["--listen", "127.0.0.1:8790"][..],
        &["--listen", "0.0.0.0:8790", "--api-tokens", "client-token"][..],
    ] {
        let mut all = vec!["--check-config", "--gateway-token", "t"];
        all.extend_from_slice(args);
        let out = clawshim(&all);
        assert!(out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("warning"), "{args:?}: {err}");
    }
}

#[test]
fn a_bad_trusted_proxy_is_a_configuration_error() {
    let out = clawshim(&[
        "--check-config",
        "--gateway-token",
        "t",
        "--trusted-proxies",
        "127.0.0.1/32,not-a-cidr",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("trusted_proxies"), "{err}");
    assert!(err.contains("not-a-cidr"), "{err}");
}

#[test]
fn an_unknown_log_format_is_refused_by_the_flag_parser() {
    let out = clawshim(&[
        "--check-config",
        "--gateway-token",
        "t",
        "--log-format",
        "xml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("text") && err.contains("json"), "{err}");
}
