//! The Debian package, its systemd unit, the man page and the shell completions, built from
//! the debug binary these tests already have, so packaging cannot rot unnoticed.
//!
//! Needs `cargo-deb`, `dpkg-deb` and `systemd-analyze` (`./test.sh` installs them); a
//! missing tool fails the test with the command that installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_clawshim");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(run(cmd).stdout).expect("utf-8 output")
}

fn require(tool: &str, install: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{tool}` is missing: {install} (./test.sh does this)"
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clawshim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn completions_and_man_page_list_every_subcommand_and_flag() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout(Command::new(BIN).args(["completions", shell]));
        for word in ["gen-key", "demo", "doctor", "gateway-token", "check-config"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let man = stdout(Command::new(BIN).arg("man"));
    assert!(man.contains(".TH clawshim 1"), "not a roff man page");
    for word in [
        "gen\\-key",
        "\\-\\-gateway\\-token",
        "CLAWSHIM_GATEWAY_TOKEN",
    ] {
        assert!(man.contains(word), "man page lacks {word}");
    }
    // With --dir: a page per subcommand too, so the main page's references resolve.
    let dir = scratch("man-pages");
    run(Command::new(BIN).arg("man").arg("--dir").arg(&dir));
    for page in [
        "clawshim.1",
        "clawshim-demo.1",
        "clawshim-doctor.1",
        "clawshim-gen-key.1",
        "clawshim-serve.1",
    ] {
        let text =
            std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.starts_with(".ie"), "{page} is not roff");
    }
    let _ = std::fs::remove_dir_all(&dir);
    let bad = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn debian_package_installs_binary_config_docs_and_a_hardened_unit() {
    require("cargo-deb", "cargo install cargo-deb --locked");
    require("dpkg-deb", "apt-get install dpkg");
    require("systemd-analyze", "apt-get install systemd");

    // BIN is <target>/debug/clawshim: package exactly that binary.
    let target = Path::new(BIN)
        .parent()
        .and_then(Path::parent)
        .expect("target dir");
    let built = stdout(
        Command::new("bash")
            .arg(repo().join("packaging/build-deb.sh"))
            .args(["--profile", "dev", "--no-build"])
            .env("CARGO_TARGET_DIR", target),
    );
    let deb = PathBuf::from(built.lines().last().expect("the package path").trim());
    assert!(deb.is_file(), "no package at {}", deb.display());

    // Control data: dependencies, the conffile, and the maintainer scripts with the unit's
    // enable/restart fragments merged in.
    let info = stdout(Command::new("dpkg-deb").arg("--info").arg(&deb));
    assert!(info.contains("Package: clawshim"), "{info}");
    assert!(info.contains("adduser"), "postinst needs adduser: {info}");
    let control = scratch("deb-control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    let conffiles = std::fs::read_to_string(control.join("conffiles")).expect("conffiles");
    assert_eq!(conffiles.trim(), "/etc/clawshim/clawshim.toml");
    let postinst = std::fs::read_to_string(control.join("postinst")).expect("postinst");
    assert!(postinst.contains("adduser --system --group"), "{postinst}");
    assert!(postinst.contains("deb-systemd-helper enable clawshim.service"));
    assert!(!postinst.contains("#DEBHELPER#"), "unexpanded #DEBHELPER#");
    for script in ["postinst", "postrm", "prerm"] {
        run(Command::new("sh").arg("-n").arg(control.join(script)));
    }

    // Unpack into a scratch root and use what landed there.
    let root = scratch("deb-root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let bin = root.join("usr/bin/clawshim");
    let version = stdout(Command::new(&bin).arg("--version"));
    assert!(version.starts_with("clawshim "), "{version}");
    for file in [
        "usr/share/man/man1/clawshim.1.gz",
        "usr/share/man/man1/clawshim-gen-key.1.gz",
        "usr/share/bash-completion/completions/clawshim",
        "usr/share/zsh/vendor-completions/_clawshim",
        "usr/share/fish/vendor_completions.d/clawshim.fish",
        "usr/share/doc/clawshim/examples/clawshim.toml",
        "usr/share/doc/clawshim/examples/lan.toml",
        "usr/share/doc/clawshim/examples/low-port.conf",
        "usr/share/doc/clawshim/clients.md",
        "usr/share/doc/clawshim/monitoring/grafana-dashboard.json",
        "usr/share/doc/clawshim/monitoring/alerts.yml",
    ] {
        let meta = std::fs::metadata(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(meta.len() > 0, "{file} is empty");
    }
    let man = stdout(Command::new("sh").arg("-c").arg(format!(
        "gzip -dc {}",
        root.join("usr/share/man/man1/clawshim.1.gz").display()
    )));
    assert!(man.contains(".TH clawshim 1"));

    // The packaged config is valid once the gateway token is set, and refused without it,
    // so the service cannot start half-configured.
    let config = root.join("etc/clawshim/clawshim.toml");
    let unset = Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .arg("--check-config")
        .env_remove("CLAWSHIM_GATEWAY_TOKEN")
        .env_remove("CLAWSHIM_API_TOKENS")
        .output()
        .unwrap();
    assert_eq!(unset.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unset.stderr).contains("token"));
    run(Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .arg("--check-config")
        .env("CLAWSHIM_GATEWAY_TOKEN", "from-the-gateway"));

    // The unit: hardened as promised, and accepted by systemd itself.
    let unit_path = root.join("usr/lib/systemd/system/clawshim.service");
    let unit = std::fs::read_to_string(&unit_path).expect("unit installed");
    for line in [
        "User=clawshim",
        "ExecStartPre=/usr/bin/clawshim --check-config",
        "ExecStart=/usr/bin/clawshim serve",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "KillSignal=SIGTERM",
        "Environment=CLAWSHIM_CONFIG=/etc/clawshim/clawshim.toml",
        "Environment=CLAWSHIM_UPGRADE_SOCK=/run/clawshim/upgrade.sock",
        "RuntimeDirectory=clawshim",
        "StateDirectory=clawshim",
        "UMask=0077",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=",
        "AmbientCapabilities=",
    ] {
        assert!(unit.lines().any(|l| l == line), "unit lacks `{line}`");
    }
    let low_port =
        std::fs::read_to_string(root.join("usr/share/doc/clawshim/examples/low-port.conf"))
            .unwrap();
    assert!(low_port.contains("CapabilityBoundingSet=CAP_NET_BIND_SERVICE"));

    // systemd-analyze checks that the commands exist: point them into the scratch root.
    let verify_dir = scratch("deb-verify");
    let verify_unit = verify_dir.join("clawshim.service");
    std::fs::write(
        &verify_unit,
        unit.replace("/usr/bin/clawshim", &bin.display().to_string()),
    )
    .unwrap();
    let mut verify = Command::new("systemd-analyze");
    verify.arg("verify");
    let has_man = Command::new("sh")
        .args(["-c", "command -v man"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_man {
        // Documentation=man:clawshim(1) must resolve to the packaged page.
        verify.env("MANPATH", root.join("usr/share/man"));
    } else {
        verify.arg("--man=no");
    }
    let out = run(verify.arg(&verify_unit));
    let noise = String::from_utf8_lossy(&out.stderr);
    assert!(
        !noise.contains("clawshim.service"),
        "systemd-analyze verify warns: {noise}"
    );

    for dir in [control, root, verify_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The binary `cargo install` and `packaging/build-deb.sh` build (the release profile) carries
/// no debug info: debug info made it 139 MB for 18 MB of code. Line tables for perf live in
/// the `profiling` profile, the release build plus `debug = 1` (BENCHMARKS.md).
#[test]
fn release_builds_are_lean_and_the_profiling_profile_keeps_line_tables() {
    let text = std::fs::read_to_string(repo().join("Cargo.toml")).expect("workspace Cargo.toml");
    let manifest: toml::Table = toml::from_str(&text).expect("Cargo.toml is TOML");
    let profiles = manifest["profile"].as_table().expect("[profile.*] tables");
    let release = profiles.get("release").and_then(toml::Value::as_table);
    let debug = release.and_then(|r| r.get("debug"));
    assert!(
        matches!(
            debug,
            None | Some(toml::Value::Integer(0)) | Some(toml::Value::Boolean(false))
        ) || debug.and_then(toml::Value::as_str) == Some("none"),
        "[profile.release] debug = {debug:?}: the shipped binary would carry debug info"
    );
    let strip = release.and_then(|r| r.get("strip"));
    assert!(
        strip.is_none_or(|s| s.as_str() != Some("none") && s.as_bool() != Some(false)),
        "[profile.release] strip = {strip:?} keeps the standard library's debug info"
    );
    let profiling = profiles["profiling"]
        .as_table()
        .expect("[profile.profiling]");
    assert_eq!(profiling["inherits"].as_str(), Some("release"));
    assert_eq!(profiling["debug"].as_integer(), Some(1));
}
