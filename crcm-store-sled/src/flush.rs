//! Group commit: one thread makes committed units of work durable.
//!
//! sled 0.34's `flush_async` can hang when several tasks flush at once (all of
//! sled's IO threads end up waiting on a write queued behind them). So crcm
//! never calls it. A committer instead takes a *ticket* after its transaction
//! applied and waits on a blocking thread until the flusher reports that a
//! `flush()` which started after the ticket was taken has finished. One flush
//! then covers every unit that applied before it started: 8 writers share one
//! flush instead of queueing 8.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

/// What makes the data durable; sled's `flush` in production, a stand-in in tests.
pub(crate) type FlushFn = Box<dyn FnMut() -> Result<(), String> + Send>;

/// Makes what sled's `flush` wrote reach the disk itself. On Linux sled 0.34
/// writes its log with `sync_file_range`, which survives a killed process
/// but neither flushes the disk's write cache nor the file's metadata, so a
/// power loss or kernel crash can lose units already reported durable
/// (upstream sled issue #1452). After each flush this `fdatasync`s the log,
/// `fsync`s the large-value (blob) files sled wrote since the last time
/// (sled never syncs them), and the directories that name new files.
pub(crate) struct DiskSync {
    /// sled's directory.
    dir: std::path::PathBuf,
    /// sled's log file, opened once.
    log: std::fs::File,
    /// Blob files already synced, with the size they had then (pruned to
    /// those still present): sled writes a blob without syncing it, so one
    /// seen half-written is synced again once it grew.
    blobs: std::collections::HashMap<std::ffi::OsString, u64>,
    /// The names in sled's directory when it was last synced (`None`: never):
    /// the directory is synced again only when they changed (a snapshot
    /// written or removed, the blob directory made), since an unchanged
    /// directory has nothing of its own to make durable.
    names: Option<std::collections::BTreeSet<std::ffi::OsString>>,
}

impl DiskSync {
    /// Opens sled's log file in `dir` (sled's own directory, opened already).
    pub(crate) fn open(dir: &std::path::Path) -> std::io::Result<Self> {
        Ok(Self {
            dir: dir.to_path_buf(),
            log: std::fs::File::open(dir.join("db"))?,
            blobs: std::collections::HashMap::new(),
            names: None,
        })
    }

    /// Syncs new blob files and their directory, then the log, then sled's
    /// directory when the names in it changed.
    pub(crate) fn sync(&mut self) -> std::io::Result<()> {
        let blob_dir = self.dir.join("blobs");
        if let Ok(entries) = std::fs::read_dir(&blob_dir) {
            let mut present = std::collections::HashMap::new();
            let mut new = false;
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name();
                // sled removes blobs too (its blob GC): a vanished one has
                // nothing left to keep.
                let size = match entry.metadata() {
                    Ok(m) => m.len(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                if self.blobs.get(&name) != Some(&size) {
                    match std::fs::File::open(entry.path()) {
                        Ok(file) => file.sync_all()?,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(e),
                    }
                    new = true;
                }
                present.insert(name, size);
            }
            self.blobs = present;
            if new {
                std::fs::File::open(&blob_dir)?.sync_all()?;
            }
        }
        self.log.sync_data()?;
        let mut names = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(&self.dir)? {
            names.insert(entry?.file_name());
        }
        if self.names.as_ref() != Some(&names) {
            std::fs::File::open(&self.dir)?.sync_all()?;
            self.names = Some(names);
        }
        Ok(())
    }
}

#[derive(Default)]
struct State {
    /// Tickets handed out so far (the last one's number).
    requested: u64,
    /// Every ticket up to this one is durable, or its flush failed.
    done: u64,
    /// Tickets in `(failed_from, failed_to]` belong to a flush that failed.
    failures: Vec<(u64, u64, String)>,
    /// Set when the store closes; the thread flushes once more and exits.
    closing: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the flusher (new ticket, closing) and the waiters (flush done).
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few counters that are valid after any panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The flusher thread and its shared state. Dropping it (with the last clone
/// of the store) flushes once more and joins the thread.
pub(crate) struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Flusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.shared.lock();
        f.debug_struct("Flusher")
            .field("requested", &s.requested)
            .field("done", &s.done)
            .finish()
    }
}

impl Flusher {
    /// Starts the flusher thread.
    pub(crate) fn start(mut flush: FlushFn) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("crcm-sled-flusher".into())
            .spawn(move || {
                loop {
                    let target = {
                        let mut s = worker.lock();
                        while s.requested == s.done && !s.closing {
                            s = worker.changed.wait(s).unwrap_or_else(PoisonError::into_inner);
                        }
                        if s.requested == s.done {
                            return; // closing, nothing pending
                        }
                        s.requested
                    };
                    // Every ticket up to `target` was taken after its unit
                    // applied, so this one flush covers all of them.
                    let result = flush();
                    let mut s = worker.lock();
                    if let Err(message) = result {
                        tracing::error!(%message, "sled flush failed");
                        let from = s.done;
                        s.failures.push((from, target, message));
                    }
                    s.done = target;
                    worker.changed.notify_all();
                }
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Blocks until everything applied before this call is durable. Call it
    /// from a blocking thread, never from an async worker.
    pub(crate) fn wait_durable(&self) -> Result<(), String> {
        let mut s = self.shared.lock();
        s.requested += 1;
        let ticket = s.requested;
        self.shared.changed.notify_all();
        while s.done < ticket {
            s = self.shared.changed.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        // Failures are kept short: only the last few matter to waiters still asleep.
        let failed = s
            .failures
            .iter()
            .find(|(from, to, _)| *from < ticket && ticket <= *to)
            .map(|(_, _, m)| m.clone());
        let done = s.done;
        s.failures.retain(|(_, to, _)| *to + 1024 > done);
        failed.map_or(Ok(()), Err)
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the sled flusher thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn concurrent_waiters_share_flushes_and_all_return() {
        let flushes = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&flushes);
        let flusher = Arc::new(
            Flusher::start(Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(2));
                Ok(())
            }))
            .expect("thread"),
        );
        let waiters: Vec<_> = (0..16)
            .map(|_| {
                let f = Arc::clone(&flusher);
                std::thread::spawn(move || (0..50).map(|_| f.wait_durable()).filter(Result::is_ok).count())
            })
            .collect();
        let ok: usize = waiters.into_iter().map(|w| w.join().expect("waiter")).sum();
        assert_eq!(ok, 800, "every wait returns once its flush is done");
        let n = flushes.load(Ordering::SeqCst);
        assert!(
            n < 800,
            "waiters share flushes (group commit): {n} flushes for 800 waits"
        );
    }

    #[test]
    fn disk_sync_syncs_new_blobs_once_and_tolerates_removed_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("db"), b"log").expect("db");
        let mut sync = DiskSync::open(dir.path()).expect("open");
        sync.sync().expect("without a blob directory");
        std::fs::create_dir(dir.path().join("blobs")).expect("blobs");
        std::fs::write(dir.path().join("blobs").join("1"), b"blob").expect("blob");
        sync.sync().expect("a new blob");
        assert_eq!(sync.blobs.len(), 1);
        std::fs::remove_file(dir.path().join("blobs").join("1")).expect("gc");
        std::fs::write(dir.path().join("blobs").join("2"), b"blob").expect("blob");
        sync.sync().expect("after a blob was collected");
        assert_eq!(sync.blobs.len(), 1, "only present blobs are remembered");
    }

    #[test]
    fn a_failed_flush_is_reported_to_the_waiters_it_covered() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        let flusher = Flusher::start(Box::new(move || {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                Err("disk full".to_owned())
            } else {
                Ok(())
            }
        }))
        .expect("thread");
        assert_eq!(flusher.wait_durable(), Err("disk full".to_owned()));
        assert_eq!(flusher.wait_durable(), Ok(()), "the next flush succeeds");
    }

    /// The log is synced on every flush; sled's directory on the first one
    /// and whenever its names change (a snapshot written, the blob directory
    /// made), not on every flush: an unchanged directory costs an fsync for
    /// nothing.
    #[test]
    fn the_directory_is_synced_when_its_names_change() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("db"), b"log").unwrap_or_else(|e| panic!("{e}"));
        let mut disk = DiskSync::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(disk.names, None, "never synced");
        disk.sync().unwrap_or_else(|e| panic!("{e}"));
        let first = disk.names.clone().unwrap_or_default();
        assert_eq!(first.len(), 1, "{first:?}");
        disk.sync().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(disk.names.as_ref(), Some(&first), "nothing changed");
        std::fs::write(dir.path().join("snap.00000000001"), b"snapshot").unwrap_or_else(|e| panic!("{e}"));
        disk.sync().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(disk.names.as_ref().map(|n| n.len()), Some(2), "the new name was synced");
    }
}
