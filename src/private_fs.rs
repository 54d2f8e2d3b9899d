//! Files and directories that must stay private to the user clawshim runs as: private keys
//! (the device identity, the HTTPS key) and the directory of the graceful-upgrade socket.
//!
//! Another local user must not read a key, and must not be able to plant a file or socket
//! where clawshim will write or connect: a symlink where a key is written would send the
//! key elsewhere, and a socket bound first in a shared directory would receive the
//! listening sockets on an upgrade. So a key file readable by group or others is refused
//! (as `ssh` refuses such a key), files are created with `O_CREAT|O_EXCL|O_NOFOLLOW` and
//! mode 0600, and a directory is used only if it is ours and nobody else may write in it.
//! On other platforms than Unix the checks are skipped.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Why a private file or directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PrivateFsError {
    /// Reading its metadata (or creating the directory) failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// A secret file that group or others may read.
    #[error("{path}: mode {mode:o} lets other users read the private key; run `chmod 600 {path}`")]
    Readable {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A directory that group or others may write to.
    #[error("{path}: mode {mode:o} lets other users create files in it; run `chmod 700 {path}` or choose another directory")]
    Writable {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A directory owned by another user.
    #[error("{path}: owned by uid {owner}, not by this process (uid {uid}); choose a directory of your own")]
    NotOwned {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The effective uid of this process.
        uid: u32,
    },
    /// Not a directory.
    #[error("{path}: not a directory")]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
}

/// Refuse a secret file that group or others may read (any of the `0o077` bits).
pub fn check_owner_only(path: &Path) -> Result<(), PrivateFsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(|source| PrivateFsError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(PrivateFsError::Readable {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Create `path` as a new file with mode 0600 and write `bytes` (synced). Never follows a
/// symlink and never opens an existing file (`O_CREAT|O_EXCL|O_NOFOLLOW`): a name planted
/// by someone else fails with `AlreadyExists` instead of being written through.
pub fn create_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Create `dir` (and missing parents) with mode 0700 when it does not exist.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Create `dir` with mode 0700 if missing, then make sure it is a directory owned by this
/// process's effective user that neither group nor others may write to. An existing
/// directory is never changed, only checked.
pub fn ensure_private_dir(dir: &Path) -> Result<(), PrivateFsError> {
    let io = |source| PrivateFsError::Io {
        path: dir.to_path_buf(),
        source,
    };
    create_private_dir(dir).map_err(io)?;
    let meta = fs::metadata(dir).map_err(io)?;
    if !meta.is_dir() {
        return Err(PrivateFsError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        if meta.uid() != uid {
            return Err(PrivateFsError::NotOwned {
                path: dir.to_path_buf(),
                owner: meta.uid(),
                uid,
            });
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(PrivateFsError::Writable {
                path: dir.to_path_buf(),
                mode: mode & 0o777,
            });
        }
    }
    Ok(())
}

/// The effective uid of this process (0 on other platforms than Unix).
pub fn effective_uid() -> u32 {
    #[cfg(unix)]
    // SAFETY: geteuid has no preconditions and cannot fail.
    return unsafe { libc::geteuid() };
    #[cfg(not(unix))]
    0
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            let dir = std::env::temp_dir().join(format!(
                "clawshim-private-{}-{}",
                std::process::id(),
                rand::random::<u64>()
            ));
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_readable_by_group_or_others_are_refused() {
        let s = Scratch::new();
        let path = s.0.join("key");
        create_private_file(&path, b"k").unwrap();
        assert_eq!(mode(&path), 0o600);
        check_owner_only(&path).unwrap();
        for bad in [0o640, 0o604, 0o660, 0o644] {
            fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
            let err = check_owner_only(&path).unwrap_err();
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        check_owner_only(&path).unwrap();
    }

    #[test]
    fn a_new_file_is_never_written_through_a_symlink_or_over_a_file() {
        let s = Scratch::new();
        let victim = s.0.join("victim");
        fs::write(&victim, "untouched").unwrap();
        let link = s.0.join("planted");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = create_private_file(&link, b"secret").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        let err = create_private_file(&victim, b"secret").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
    }

    #[test]
    fn a_missing_directory_is_created_private() {
        let s = Scratch::new();
        let dir = s.0.join("run/clawshim");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        // An existing private directory passes again, and so does a group-readable one.
        ensure_private_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o750)).unwrap();
        ensure_private_dir(&dir).unwrap();
    }

    #[test]
    fn a_directory_others_may_write_to_is_refused() {
        let s = Scratch::new();
        for bad in [0o777, 0o1777, 0o770, 0o702] {
            fs::set_permissions(&s.0, fs::Permissions::from_mode(bad)).unwrap();
            let err = ensure_private_dir(&s.0).unwrap_err();
            assert!(
                matches!(err, PrivateFsError::Writable { .. }),
                "{bad:o}: {err}"
            );
        }
        fs::set_permissions(&s.0, fs::Permissions::from_mode(0o700)).unwrap();
        let file = s.0.join("plain");
        fs::write(&file, "x").unwrap();
        assert!(matches!(
            ensure_private_dir(&file),
            Err(PrivateFsError::Io { .. } | PrivateFsError::NotADirectory { .. })
        ));
    }

    #[test]
    fn a_directory_of_another_user_is_refused() {
        let s = Scratch::new();
        let dir = s.0.join("theirs");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let other = effective_uid().wrapping_add(1);
        // Only root can give a directory away; as another user the refusal is tested with a
        // directory that root owns.
        let dir = if effective_uid() == 0 {
            std::os::unix::fs::chown(&dir, Some(other), None).unwrap();
            dir
        } else {
            PathBuf::from("/")
        };
        let err = ensure_private_dir(&dir).unwrap_err();
        assert!(matches!(err, PrivateFsError::NotOwned { .. }), "{err}");
    }
}
