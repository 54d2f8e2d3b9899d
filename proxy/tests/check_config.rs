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
