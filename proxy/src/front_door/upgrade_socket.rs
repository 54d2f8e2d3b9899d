//! Where the graceful-upgrade socket lives. On `--upgrade` the new process listens on it and
//! the old one connects and hands over its listening sockets, so whoever can bind that path
//! first receives them. The default is therefore a directory only clawshim's user may write
//! to: `/run/clawshim/` as root, else `$XDG_RUNTIME_DIR/clawshim/`, else
//! `<temp dir>/clawshim-<uid>/`. [`prepare`] creates it (mode 0700) at start-up and refuses
//! any socket directory, default or configured, that is not ours or that group or others may
//! write to. Choosing the default reads only the environment; validation stays free of I/O.

use std::path::{Path, PathBuf};

use clawshim_core::private_fs;

/// File name of the socket in its directory.
pub const SOCKET_NAME: &str = "upgrade.sock";

/// The default socket path for this process.
pub fn default_path() -> PathBuf {
    default_path_for(
        private_fs::effective_uid(),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        std::env::temp_dir(),
    )
}

/// The default socket path for a process running as `uid` with `XDG_RUNTIME_DIR` set to
/// `runtime_dir` (ignored unless absolute) and the given temp dir.
pub fn default_path_for(uid: u32, runtime_dir: Option<PathBuf>, temp_dir: PathBuf) -> PathBuf {
    let dir = if uid == 0 {
        // Root's XDG_RUNTIME_DIR may still be the invoking user's after `sudo`.
        PathBuf::from("/run/clawshim")
    } else if let Some(runtime) = runtime_dir.filter(|d| d.is_absolute()) {
        runtime.join("clawshim")
    } else {
        temp_dir.join(format!("clawshim-{uid}"))
    };
    dir.join(SOCKET_NAME)
}

/// Create the socket's directory (0700) if missing and check that it is private; the error
/// names the directory and what to do.
pub fn prepare(sock: &Path) -> Result<(), String> {
    let dir = match sock.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    private_fs::ensure_private_dir(dir).map_err(|e| format!("upgrade socket directory {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_a_private_runtime_directory() {
        let tmp = PathBuf::from("/tmp");
        let table = [
            (0, Some("/run/user/1000"), "/run/clawshim/upgrade.sock"),
            (
                1000,
                Some("/run/user/1000"),
                "/run/user/1000/clawshim/upgrade.sock",
            ),
            (1000, None, "/tmp/clawshim-1000/upgrade.sock"),
            (1000, Some("relative"), "/tmp/clawshim-1000/upgrade.sock"),
        ];
        for (uid, runtime, want) in table {
            assert_eq!(
                default_path_for(uid, runtime.map(PathBuf::from), tmp.clone()),
                PathBuf::from(want),
                "uid {uid}, XDG_RUNTIME_DIR {runtime:?}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_shared_directory_is_refused_and_a_missing_one_created_private() {
        use std::os::unix::fs::PermissionsExt;
        // The old default: a socket straight in the shared temp dir.
        let err = prepare(Path::new("/tmp/clawshim_upgrade.sock")).unwrap_err();
        assert!(err.contains("/tmp"), "{err}");
        let dir = std::env::temp_dir().join(format!(
            "clawshim-upgrade-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        prepare(&dir.join("upgrade.sock")).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = prepare(&dir.join("upgrade.sock")).unwrap_err();
        assert!(err.contains("chmod 700"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
