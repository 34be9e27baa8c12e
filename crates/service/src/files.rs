//! Files grantflow writes that hold secrets or everyone's data (the
//! database, credential files, audit exports): created readable by their
//! owner only, in one step (never created open and narrowed afterwards),
//! and never through a symbolic link someone placed there.

use std::io::Write;
use std::path::Path;

/// Creates `dir` (and its parents) so that only its owner may enter the
/// folders grantflow makes.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Creates an empty owner-only file at `path` unless something is there.
pub fn private_file_if_missing(path: &Path) -> std::io::Result<()> {
    match new_private(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// Writes `contents` to `path` as an owner-only file, replacing what was
/// there: written to a new file beside it first, then renamed over it, so a
/// reader never sees half a file and a symbolic link at `path` is replaced,
/// not followed.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    private_dir(dir)?;
    // tempfile creates with O_EXCL and mode 0600.
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A new owner-only file; fails when anything (a file, a link) is at `path`.
pub fn new_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn private_files_and_folders_are_owner_only_and_links_are_replaced_not_followed() {
        let dir = tempfile::tempdir().expect("dir");
        let folder = dir.path().join("a/b");
        private_dir(&folder).expect("dir");
        assert_eq!(mode(&folder), 0o700);
        let target = dir.path().join("victim");
        std::fs::write(&target, "keep").expect("victim");
        let link = folder.join("secret");
        std::os::unix::fs::symlink(&target, &link).expect("link");
        write_private(&link, b"token").expect("write");
        assert_eq!(std::fs::read_to_string(&target).expect("victim"), "keep");
        assert_eq!(std::fs::read_to_string(&link).expect("file"), "token");
        assert_eq!(mode(&link), 0o600);
        let db = folder.join("db");
        private_file_if_missing(&db).expect("create");
        assert_eq!(mode(&db), 0o600);
    }
}
