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

/// Whether `name` is one of [`write_atomic`]'s temporary names
/// (`.<file>.tmp-<pid>-<n>`), and the process that made it.
fn temporary_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(".tmp-")?;
    let (pid, n) = tail.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes the temporary files a killed server left under `root` (ours
/// only, by their naming, and only those whose process is gone); returns
/// how many. Symbolic links are not followed.
pub fn remove_stale_temporaries(root: &Path) -> usize {
    const MAX_DEPTH: usize = 6;
    let mut removed = 0;
    let mut dirs = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() && depth < MAX_DEPTH {
                dirs.push((path, depth + 1));
            } else if kind.is_file() {
                let name = entry.file_name();
                let stale = temporary_owner(&name.to_string_lossy())
                    .is_some_and(|pid| pid != std::process::id() && !process_alive(pid));
                if stale && fs::remove_file(&path).is_ok() {
                    removed += 1;
                }
            }
        }
    }
    removed
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

    /// A kill between writing and renaming leaves `.K0.yaml.tmp-<pid>-<n>`:
    /// the next start removes it, and nothing else.
    #[test]
    fn stale_temporaries_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let chars = dir.path().join("characters");
        let logs = dir.path().join("logs/chat/Ann");
        fs::create_dir_all(&chars).unwrap();
        fs::create_dir_all(&logs).unwrap();
        // No process has this id (beyond Linux's pid_max).
        let stale = [
            chars.join(".K0.yaml.tmp-99999999-3"),
            logs.join(".20261204-10-00-00.json.tmp-99999999-0"),
        ];
        let kept = [
            chars.join("K0.yaml"),
            chars.join(".hidden"),
            chars.join(format!(".Live.yaml.tmp-{}-1", std::process::id())),
            chars.join(".x.tmp-notapid-1"),
        ];
        for p in stale.iter().chain(&kept) {
            fs::write(p, b"x").unwrap();
        }
        assert_eq!(remove_stale_temporaries(dir.path()), 2);
        assert!(stale.iter().all(|p| !p.exists()));
        assert!(kept.iter().all(|p| p.exists()));
    }

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
