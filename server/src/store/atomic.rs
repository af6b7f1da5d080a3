//! Crash-safe writes: a temporary file beside the target, flushed to disk,
//! then renamed over it. A reader (or a crash) sees the old file or the new
//! one, never half of either.
//!
//! Each write has a temporary name of its own (two writers sharing one
//! would interleave their bytes), and [`file_lock`] lets a caller hold a
//! file for a whole read-change-write so two saves of one character cannot
//! lose each other's changes.

use std::{
    collections::HashMap,
    fs::{self, File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, OnceLock, Weak,
    },
};

/// Makes every temporary name in this process different.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        // `create_new`: never write into someone else's temporary file.
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

type LockMap = Mutex<HashMap<PathBuf, Weak<FileLock>>>;

/// One file's lock: hold [`FileLock::hold`]'s guard while reading,
/// changing and writing the file.
#[derive(Default)]
pub struct FileLock(Mutex<()>);

impl FileLock {
    pub fn hold(&self) -> MutexGuard<'_, ()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The lock of `path`, shared by every caller in this process.
pub fn file_lock(path: &Path) -> Arc<FileLock> {
    static LOCKS: OnceLock<LockMap> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(LockMap::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(lock) = locks.get(path).and_then(Weak::upgrade) {
        return lock;
    }
    locks.retain(|_, weak| weak.strong_count() > 0);
    let lock = Arc::new(FileLock::default());
    locks.insert(path.to_path_buf(), Arc::downgrade(&lock));
    lock
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("chat.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    /// Many threads writing one file at once: each write is whole, and
    /// none fails (they used to share one temporary name).
    #[test]
    fn concurrent_writes_never_mix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("preset.yaml");
        let texts: Vec<Vec<u8>> = (0..16)
            .map(|i| vec![b'a' + i as u8; 1000 + i * 5000])
            .collect();
        std::thread::scope(|s| {
            for text in &texts {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..10 {
                        write_atomic(path, text).unwrap();
                    }
                });
            }
        });
        let written = fs::read(&path).unwrap();
        assert!(
            texts.contains(&written),
            "a mixed file of {} bytes",
            written.len()
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_locked_file_waits_for_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        let counter = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for i in 0..4 {
                let (path, counter) = (&path, &counter);
                s.spawn(move || {
                    let lock = file_lock(path);
                    let _held = lock.hold();
                    counter.lock().unwrap().push(("start", i));
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    counter.lock().unwrap().push(("end", i));
                });
            }
        });
        let events = counter.into_inner().unwrap();
        // Holders never overlap: every start is followed by its own end.
        for pair in events.chunks(2) {
            assert_eq!(pair[0].1, pair[1].1, "{events:?}");
        }
    }
}
