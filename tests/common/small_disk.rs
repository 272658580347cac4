//! A full disk, for real: a small tmpfs (root may mount one), for the tests of what the gateway
//! does when a write finds no room.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

use crate::common_skip::skip;

/// A tmpfs of `size` mounted on a folder of its own; unmounted when dropped.
pub struct SmallDisk {
    pub path: PathBuf,
    _mountpoint: TempDir,
}

impl SmallDisk {
    /// `None` where this process may not mount one (the test is skipped: tests/common/skip.rs).
    pub fn mount(size: &str) -> Option<SmallDisk> {
        let mountpoint = tempfile::tempdir().unwrap();
        let path = mountpoint.path().to_owned();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output();
        match out {
            Ok(out) if out.status.success() => Some(SmallDisk {
                path,
                _mountpoint: mountpoint,
            }),
            Ok(out) => {
                skip(&format!(
                    "cannot mount a tmpfs here (run as root): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
                None
            }
            Err(e) => {
                skip(&format!("cannot run mount: {e}"));
                None
            }
        }
    }

    /// Writes a file until the disk has no byte left; answers its path.
    pub fn fill(&self) -> PathBuf {
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0x5a_u8; 64 * 1024];
        loop {
            if let Err(e) = file.write_all(&chunk) {
                assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC, got {e}");
                break;
            }
        }
        // What a 64 KiB write could not place, one byte at a time.
        while file.write_all(&[0x5a]).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
