//! Files the gateway writes: the database and what sits beside it, a backup, an export. Each is
//! private to its owner whatever the umask (every partner's customers and VINs are in them),
//! written whole under a name of its own before it takes its real one, and durable once named:
//! a rename is a change to the folder, which is synced too, so a machine that loses power
//! after a command said "done" does not come back without the file, or with the old one.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `path` with `suffix` after its name: a database's WAL (`x.sqlite3-wal`), a copy being made
/// (`x.sqlite3.partial`).
pub fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The folder `path` is named in (`.` for a bare name).
pub fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Makes `dir` if need be (with its parents), its owner's and its group's only.
pub fn make_private_folder(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o750).create(dir)
}

/// A new, empty file only its owner can read and write, whatever the umask; one that exists
/// is an error.
pub fn create_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Gives `from` the name `to` (replacing a file of that name), and syncs the folders, so that
/// the new name outlives a power cut from the moment this returns.
pub fn rename_durably(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(from, to)?;
    sync_folder(folder_of(to))?;
    if folder_of(from) != folder_of(to) {
        sync_folder(folder_of(from))?;
    }
    Ok(())
}

/// Syncs what a folder lists (names made, renamed, removed) to the disk.
pub fn sync_folder(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes a file at `path` whole or not at all: `write` fills a private `path.partial`, which is
/// synced and only then renamed into place (durably). When anything fails, the partial file is
/// removed and `path` is as it was.
pub fn write_whole<T, E>(path: &Path, write: impl FnOnce(File) -> Result<(T, File), E>) -> Result<T, E>
where
    E: From<io::Error>,
{
    let partial = path.with_added_extension("partial");
    // What a killed run left is no file of ours to keep.
    let _ = std::fs::remove_file(&partial);
    let done = (|| {
        let (out, file) = write(create_private(&partial)?)?;
        file.sync_all()?;
        rename_durably(&partial, path)?;
        Ok(out)
    })();
    if done.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    done
}

/// Gives `path` to the owner of the folder it is in (the service's state folder), so that what
/// root made there (a restore at 2 a.m.) is the service's to open. Another user cannot give a
/// file away: what they made stays theirs (the attempt fails, and nothing is lost by it).
pub fn give_to_folder_owner(path: &Path) {
    if let (Ok(file), Ok(folder)) = (std::fs::metadata(path), std::fs::metadata(folder_of(path)))
        && (file.uid(), file.gid()) != (folder.uid(), folder.gid())
    {
        let _ = std::os::unix::fs::chown(path, Some(folder.uid()), Some(folder.gid()));
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn names_beside_and_folders() {
        assert_eq!(
            beside(Path::new("data/x.sqlite3"), "-wal"),
            Path::new("data/x.sqlite3-wal")
        );
        assert_eq!(folder_of(Path::new("x.sqlite3")), Path::new("."));
        assert_eq!(folder_of(Path::new("data/x.sqlite3")), Path::new("data"));
    }

    #[test]
    fn a_file_written_whole_replaces_the_old_one_only_when_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "old").unwrap();

        let failed: Result<(), io::Error> = write_whole(&path, |mut file| {
            file.write_all(b"half")?;
            Err(io::Error::other("the disk is full"))
        });
        assert_eq!(failed.unwrap_err().to_string(), "the disk is full");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert!(
            !path.with_added_extension("partial").exists(),
            "no partial file is left"
        );

        let written: Result<usize, io::Error> = write_whole(&path, |mut file| {
            file.write_all(b"new")?;
            Ok((3, file))
        });
        assert_eq!(written.unwrap(), 3);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_private_file_is_never_made_over_another() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        create_private(&path).unwrap();
        assert_eq!(create_private(&path).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
    }
}
