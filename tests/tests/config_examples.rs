//! The shipped example configs load, so they cannot go stale (the only test of `conf/`).

use clawshim_proxy::config::{Config, Settings};

fn conf(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conf")
        .join(name)
}

#[test]
fn lan_example_loads_with_real_certificate_files() {
    // The example points at /etc/clawshim/*.pem; give it a generated pair instead.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["clawshim.lan".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let dir = std::env::temp_dir().join(format!("clawshim-lan-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    // clawshim refuses a key other users can read.
    #[cfg(unix)]
    std::fs::set_permissions(
        &key_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();

    let mut settings = Settings {
        config: Some(conf("lan.toml")),
        ..Settings::default()
    };
    settings.listeners.tls_cert = Some(cert_path);
    settings.listeners.tls_key = Some(key_path);
    let config = Config::load(&settings).expect("conf/lan.toml is valid");
    assert!(config.tls.is_some());
    assert_eq!(config.keys.len(), 2);
    assert!(config.api_tokens.is_empty(), "only the keys are accepted");
    assert_eq!(
        config.delete_ephemeral_sessions,
        clawshim_core::gateway::SessionCleanup::Always
    );
    let traces = config.traces.expect("[traces] on");
    assert_eq!(traces.endpoint, "http://127.0.0.1:4318/v1/traces");
    assert_eq!(
        traces.sampling,
        clawshim_proxy::ops::traces::Sampling::ParentBasedRatio(0.25)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn default_example_loads() {
    let settings = Settings {
        config: Some(conf("clawshim.toml")),
        ..Settings::default()
    };
    let config = Config::load(&settings).expect("conf/clawshim.toml is valid");
    assert_eq!(config.listen.unwrap().port(), 8790);
    assert_eq!(config.api_tokens.len(), 1);
    assert_eq!(config.traces, None, "trace export is off unless asked for");
}
