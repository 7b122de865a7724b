//! The durable log's IO half: a directory of segment files, recovered when it is
//! opened, and a writer thread that appends, syncs and deletes them — so the event loop
//! never waits on the disk.
//!
//! ```text
//! DIR/lock                          held (File::try_lock) while a process uses DIR
//! DIR/state                         "boot <id>\nstate running|clean\n"
//! DIR/00000000000000000001.log      segments, oldest first: a header, then records
//! DIR/00000000000000000002.log      the one being appended to is the last
//! ```
//!
//! **Open** ([`DiskLog::open`]) reads every segment in order into the sans-IO
//! [`Recovery`] fold, truncates a torn tail off the last one (a write a crash cut short:
//! at most that last record is lost), and reports what it found. Opening takes the
//! directory's lock, so two processes never append to one log.
//!
//! **Appending** ([`DiskLog::append`]) hands a record to the writer thread with a
//! *ticket* (1, 2, 3 … in the order given). The writer takes every record queued by then
//! as one batch, writes it with one `write`, and — by [`Fsync`] policy — syncs it with
//! one `fdatasync` (group commit: a burst of publishes costs one sync, not one each).
//! Then it publishes its [`Progress`] (the highest ticket done) and calls the wake-up
//! the log was started with, which wakes the event loop (the hub passes a
//! [`Handle::notify`](crate::Handle::notify)). A slow disk delays acknowledgements, never
//! the loop.
//!
//! **Retention** is by checkpoint ([`DiskLog::checkpoint`]): the hub hands over copies of
//! every message it still retains; the writer starts a new segment, writes them there,
//! syncs, and then deletes every older segment. The hub checkpoints when the log has
//! grown past twice what it retains (plus two segments), so the disk holds at most about
//! twice the retained history, and each byte is rewritten at most about once per
//! checkpoint it survives. Records of one message may so appear twice (a crash between
//! the copy and the deletion); recovery keeps one.
//!
//! **Clean shutdown** ([`DiskLog::close`]) writes and syncs everything queued, then marks
//! the state `clean`. A log that was not closed cleanly *and* whose machine rebooted since
//! (the kernel's boot id changed: a power loss or a crash of the machine, not just of the
//! process) may have lost writes that were acknowledged without a sync (`batch`, `never`);
//! [`Opened::lost_unsynced`] says so, and the hub then starts every stream with a new
//! epoch, so that no reader trusts an id that may have been given twice.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::hub::data::{Data, DataRef, parse_frame};
use crate::storage::record::{self, Record, SEGMENT_HEADER};
use crate::storage::recovery::{Damage, Recovered, Recovery, RecoveryLimits};

// ===== options =====

/// When a record is on disk enough for its publish to be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// After `fdatasync`: an acknowledged message survives the process being killed and
    /// the machine losing power. One sync per batch (group commit).
    Always,
    /// After `write`: survives the process being killed; the batch is synced within
    /// [`LogOptions::batch_interval`], so a power loss loses at most that much.
    Batch,
    /// After `write`, never synced (the kernel writes it back in its own time, typically
    /// within 30 s): survives the process being killed, not a power loss.
    Never,
}

impl Fsync {
    /// `always`, `batch` or `never`.
    pub fn parse(text: &str) -> Option<Fsync> {
        match text {
            "always" => Some(Fsync::Always),
            "batch" => Some(Fsync::Batch),
            "never" => Some(Fsync::Never),
            _ => None,
        }
    }

    /// The name [`parse`](Self::parse) reads.
    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::Batch => "batch",
            Fsync::Never => "never",
        }
    }
}

/// Where the log lives and how it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogOptions {
    /// The log's directory (created if missing).
    pub dir: PathBuf,
    /// When a record counts as written.
    pub fsync: Fsync,
    /// A segment is closed and a new one begun once it holds this many bytes. Default
    /// 16 MiB.
    pub segment_bytes: u64,
    /// With [`Fsync::Batch`], how long written records may wait for their sync. Default
    /// 100 ms.
    pub batch_interval: Duration,
}

impl LogOptions {
    /// A log in `dir` with the default segment size and batch interval.
    pub fn new(dir: impl Into<PathBuf>, fsync: Fsync) -> Self {
        LogOptions {
            dir: dir.into(),
            fsync,
            segment_bytes: 16 << 20,
            batch_interval: Duration::from_millis(100),
        }
    }
}

// ===== errors =====

/// Why the log could not be opened or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum StorageError {
    /// Another process holds the directory's lock.
    Locked(PathBuf),
    /// A file or directory operation failed.
    Io {
        /// What was being done, e.g. "reading segment 00000000000000000003.log".
        action: String,
        /// The error.
        error: io::Error,
    },
}

impl StorageError {
    fn io(action: impl Into<String>) -> impl FnOnce(io::Error) -> StorageError {
        let action = action.into();
        move |error| StorageError::Io { action, error }
    }
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageError::Locked(dir) => write!(
                f,
                "{} is in use by another process (its lock is held)",
                dir.display()
            ),
            StorageError::Io { action, error } => write!(f, "{action}: {error}"),
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StorageError::Io { error, .. } => Some(error),
            StorageError::Locked(_) => None,
        }
    }
}

// ===== what goes to the writer =====

/// A message to append: what its record holds.
#[derive(Debug, Clone)]
pub struct Append {
    /// The channel.
    pub name: String,
    /// Its stream.
    pub epoch: u64,
    /// The message id.
    pub id: u64,
    /// The data, or for a copy the frame it is retained as (the writer decodes it).
    pub data: AppendData,
}

/// A message's data as the writer gets it.
#[derive(Debug, Clone)]
pub enum AppendData {
    /// The data itself, text or JSON (a new publish: its body, moved, not copied).
    Published(Data),
    /// The hub's frame `{"id":N,"data":...}` (a checkpoint copy: shared with the
    /// history; decoded on the writer thread, off the loop, into the data that makes that
    /// frame again: [`parse_frame`]).
    Frame(Arc<str>),
}

enum Command {
    Append(u64, Append),
    Dropped(String, u64),
    Checkpoint(u64, Vec<Append>),
    Close,
}

// ===== progress =====

/// What the writer has done, for the loop to read after a wake-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Every ticket up to this one is written (and synced, as the policy wants).
    pub done: u64,
    /// The writer failed: tickets from this one on will never be done. With why.
    pub failed: Option<(u64, String)>,
    /// Bytes in all segments.
    pub log_bytes: u64,
    /// A checkpoint is queued or being written.
    pub checkpointing: bool,
}

// ===== the log =====

/// What [`DiskLog::open`] found.
#[derive(Debug)]
pub struct Opened {
    /// The log, ready to [`start`](DiskLog::start).
    pub log: DiskLog,
    /// Every channel's stream and retained messages.
    pub recovered: Recovered,
    /// Segments read.
    pub segments: usize,
    /// Bytes cut off the last segment's torn tail.
    pub truncated: u64,
    /// The log was closed cleanly last time.
    pub clean: bool,
    /// The directory held no log yet (no state and no segment): this run begins it, so
    /// `clean` is false without anything having gone wrong.
    pub fresh: bool,
    /// The last run ended uncleanly and the machine rebooted since, with a policy that
    /// acknowledges before syncing: acknowledged records may be gone, so every stream
    /// should begin a new epoch (the hub does, and checkpoints at once).
    pub lost_unsynced: bool,
    /// When the log was opened: the recovered channels' age begins here.
    pub opened_at: Instant,
}

/// An open log: the writer thread's handle, and how to reach it.
#[derive(Debug)]
pub struct DiskLog {
    options: LogOptions,
    /// The directory's lock, held for the log's life.
    _lock: File,
    /// The segment to append to first, and its length.
    head: Option<(u64, File, u64)>,
    /// Every segment's number and length, oldest first (for the writer).
    segments: Vec<(u64, u64)>,
    next_ticket: u64,
    sender: Option<Sender<Command>>,
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
    boot_id: String,
}

#[derive(Debug, Default)]
struct Shared {
    progress: Mutex<Progress>,
    /// Bumped by the writer after every progress update (lets a test wait without the
    /// loop).
    updates: AtomicU64,
}

/// A wake-up the writer calls when it has made progress.
pub type Wake = Box<dyn Fn() + Send + 'static>;

fn segment_name(number: u64) -> String {
    format!("{number:020}.log")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The kernel's boot id: it changes when the machine restarts, not when a process does.
fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_string())
        .unwrap_or_default()
}

impl DiskLog {
    /// Opens (or creates) the log in `options.dir`: takes its lock, recovers every
    /// segment into the fold (`limits`), truncates a torn tail, and notes that this run
    /// has begun. Reads the disk: call it before the event loop runs.
    pub fn open(options: LogOptions, limits: RecoveryLimits) -> Result<Opened, StorageError> {
        let dir = options.dir.clone();
        fs::create_dir_all(&dir)
            .map_err(StorageError::io(format!("creating {}", dir.display())))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .map_err(StorageError::io("opening the lock file"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(StorageError::Locked(dir)),
            Err(fs::TryLockError::Error(error)) => {
                return Err(StorageError::Io {
                    action: "locking the log directory".into(),
                    error,
                });
            }
        }

        let (was_clean, last_boot) = read_state(&dir);
        let boot_id = boot_id();
        let rebooted = last_boot
            .as_ref()
            .is_none_or(|last| last != &boot_id || boot_id.is_empty());
        let mut numbers: Vec<u64> = fs::read_dir(&dir)
            .map_err(StorageError::io("listing the log directory"))?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| entry.file_name().to_str().and_then(parse_segment_name))
            .collect();
        numbers.sort_unstable();
        let lost_unsynced =
            !was_clean && rebooted && options.fsync != Fsync::Always && !numbers.is_empty();
        let fresh = last_boot.is_none() && numbers.is_empty();

        let mut recovery = Recovery::new(limits);
        let mut segments = Vec::with_capacity(numbers.len());
        let mut truncated = 0;
        let mut head = None;
        for (i, &number) in numbers.iter().enumerate() {
            let path = dir.join(segment_name(number));
            let action = || format!("reading segment {}", segment_name(number));
            let bytes = fs::read(&path).map_err(StorageError::io(action()))?;
            let is_last = i + 1 == numbers.len();
            let report = recovery.segment(number, &bytes, is_last);
            let mut len = bytes.len() as u64;
            if is_last {
                // Appends go to the end whatever the cursor (and after a truncation).
                let file = OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .map_err(StorageError::io(action()))?;
                if let Some(Damage::TornTail { at, bytes: cut }) = report.damage {
                    // The write a crash interrupted: cut it off, and make the cut stick.
                    file.set_len(at as u64)
                        .and_then(|()| file.sync_all())
                        .map_err(StorageError::io(format!(
                            "truncating {}",
                            segment_name(number)
                        )))?;
                    truncated += cut as u64;
                    len = at as u64;
                }
                if len < SEGMENT_HEADER.len() as u64 {
                    // Not even a whole header survived: begin the segment again.
                    file.set_len(0)
                        .and_then(|()| (&file).write_all(&SEGMENT_HEADER))
                        .and_then(|()| file.sync_all())
                        .map_err(StorageError::io(format!(
                            "rewriting {}",
                            segment_name(number)
                        )))?;
                    len = SEGMENT_HEADER.len() as u64;
                }
                head = Some((number, file, len));
            }
            segments.push((number, len));
        }
        write_state(&dir, &boot_id, false)?;
        let log = DiskLog {
            options,
            _lock: lock,
            head,
            segments,
            next_ticket: 1,
            sender: None,
            shared: Arc::new(Shared::default()),
            writer: None,
            boot_id,
        };
        Ok(Opened {
            log,
            recovered: recovery.finish(),
            segments: numbers.len(),
            truncated,
            clean: was_clean,
            fresh,
            lost_unsynced,
            opened_at: Instant::now(),
        })
    }

    /// Starts the writer thread; it calls `wake` after each batch it completes.
    pub fn start(&mut self, wake: Wake) -> Result<(), StorageError> {
        if self.sender.is_some() {
            return Ok(());
        }
        let (sender, receiver) = mpsc::channel();
        let mut writer = Writer {
            options: self.options.clone(),
            segments: std::mem::take(&mut self.segments),
            head: self.head.take(),
            receiver,
            shared: Arc::clone(&self.shared),
            wake,
            done: 0,
            failed: None,
            unsynced: false,
            last_sync: Instant::now(),
            checkpoints: 0,
        };
        let log_bytes = writer.segments.iter().map(|&(_, len)| len).sum();
        self.shared.progress.lock().expect("not poisoned").log_bytes = log_bytes;
        let thread = std::thread::Builder::new()
            .name("pushwire-log".into())
            .spawn(move || writer.run())
            .map_err(StorageError::io("starting the log writer thread"))?;
        self.sender = Some(sender);
        self.writer = Some(thread);
        Ok(())
    }

    /// Queues a message for the log; returns its ticket. Done when
    /// [`progress`](Self::progress) reaches it.
    pub fn append(&mut self, append: Append) -> u64 {
        let ticket = self.take_ticket();
        self.send(Command::Append(ticket, append));
        ticket
    }

    /// Queues a tombstone: channel `name`'s stream `epoch` ended. (Its ticket is not
    /// waited for: a tombstone lost in a crash brings the channel's old history back,
    /// which loses nothing.)
    pub fn dropped(&mut self, name: &str, epoch: u64) {
        self.send(Command::Dropped(name.to_string(), epoch));
    }

    /// Queues a checkpoint: `copies` (every message still retained) go into a new
    /// segment, and once they are synced every older segment is deleted. Returns its
    /// ticket.
    pub fn checkpoint(&mut self, copies: Vec<Append>) -> u64 {
        let ticket = self.take_ticket();
        self.shared
            .progress
            .lock()
            .expect("not poisoned")
            .checkpointing = true;
        self.send(Command::Checkpoint(ticket, copies));
        ticket
    }

    fn take_ticket(&mut self) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        ticket
    }

    fn send(&mut self, command: Command) {
        if let Some(sender) = &self.sender {
            // A send fails only if the writer is gone, which it reports in `failed`.
            let _ = sender.send(command);
        } else {
            let mut progress = self.shared.progress.lock().expect("not poisoned");
            if progress.failed.is_none() {
                progress.failed = Some((1, "the log writer was not started".into()));
            }
        }
    }

    /// What the writer has done so far.
    pub fn progress(&self) -> Progress {
        self.shared.progress.lock().expect("not poisoned").clone()
    }

    /// How many times the writer has reported progress (for tests that wait for it).
    pub fn updates(&self) -> u64 {
        self.shared.updates.load(Ordering::Acquire)
    }

    /// The options the log was opened with.
    pub fn options(&self) -> &LogOptions {
        &self.options
    }

    /// Writes and syncs everything queued, marks the log closed cleanly, and stops the
    /// writer. Called by `Drop` too; call it to see its error.
    pub fn close(&mut self) -> Result<(), StorageError> {
        let Some(sender) = self.sender.take() else {
            return Ok(());
        };
        let _ = sender.send(Command::Close);
        if let Some(thread) = self.writer.take() {
            let _ = thread.join();
        }
        let progress = self.progress();
        if let Some((_, why)) = progress.failed {
            return Err(StorageError::Io {
                action: "writing the log".into(),
                error: io::Error::other(why),
            });
        }
        write_state(&self.options.dir, &self.boot_id, true)
    }
}

impl Drop for DiskLog {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// `(closed cleanly, boot id)` from `DIR/state`; `(false, None)` if there is none.
fn read_state(dir: &Path) -> (bool, Option<String>) {
    let mut text = String::new();
    let read = File::open(dir.join("state")).and_then(|mut f| f.read_to_string(&mut text));
    if read.is_err() {
        return (false, None);
    }
    let mut clean = false;
    let mut boot = None;
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("boot", id)) => boot = Some(id.to_string()),
            Some(("state", state)) => clean = state == "clean",
            _ => {}
        }
    }
    (clean, boot)
}

/// Replaces `DIR/state` atomically (write a temporary file, sync, rename, sync the
/// directory).
fn write_state(dir: &Path, boot_id: &str, clean: bool) -> Result<(), StorageError> {
    let state = if clean { "clean" } else { "running" };
    let tmp = dir.join("state.tmp");
    let text = format!("boot {boot_id}\nstate {state}\n");
    let write = || -> io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, dir.join("state"))?;
        sync_dir(dir)
    };
    write().map_err(StorageError::io("writing the log's state file"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

// ===== the writer thread =====

struct Writer {
    options: LogOptions,
    /// Every segment's number and length, oldest first.
    segments: Vec<(u64, u64)>,
    /// The segment being appended to.
    head: Option<(u64, File, u64)>,
    receiver: Receiver<Command>,
    shared: Arc<Shared>,
    wake: Wake,
    done: u64,
    failed: Option<(u64, String)>,
    /// Written since the last sync.
    unsynced: bool,
    last_sync: Instant,
    checkpoints: u64,
}

/// The most bytes one batch gathers before it is written (more commands wait for the
/// next batch).
const MAX_BATCH_BYTES: usize = 8 << 20;

impl Writer {
    fn run(&mut self) {
        let mut buf = Vec::new();
        loop {
            let first = match self.next_command() {
                Some(command) => command,
                None => return self.finish(),
            };
            let mut batch = vec![first];
            let mut closing = matches!(batch[0], Command::Close);
            while !closing && batch.len() < 100_000 {
                match self.receiver.try_recv() {
                    Ok(command) => {
                        closing = matches!(command, Command::Close);
                        batch.push(command);
                    }
                    Err(_) => break,
                }
            }
            self.write_batch(batch, &mut buf);
            if closing {
                return self.finish();
            }
        }
    }

    /// The next command, syncing a `batch` log that has waited its interval meanwhile.
    /// `None` when the log was dropped without `close`.
    fn next_command(&mut self) -> Option<Command> {
        loop {
            if !(self.unsynced && self.options.fsync == Fsync::Batch) {
                return self.receiver.recv().ok();
            }
            let due = self.last_sync + self.options.batch_interval;
            let wait = due.saturating_duration_since(Instant::now());
            match self.receiver.recv_timeout(wait) {
                Ok(command) => return Some(command),
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = self.sync() {
                        self.fail(self.done + 1, format!("syncing the log: {e}"));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    fn write_batch(&mut self, batch: Vec<Command>, buf: &mut Vec<u8>) {
        let mut last_ticket = self.done;
        for command in batch {
            if self.failed.is_some() {
                break;
            }
            match command {
                Command::Append(ticket, append) => {
                    self.encode(&append, buf);
                    last_ticket = ticket;
                }
                Command::Dropped(name, epoch) => {
                    let record = Record::Dropped { epoch, name: &name };
                    if record::encode(&record, buf).is_err() {
                        continue; // a name the hub would never have: nothing to record
                    }
                }
                Command::Checkpoint(ticket, copies) => {
                    // Everything before goes to the old segments; the copies begin a new
                    // one, so the old ones can be deleted whole.
                    if let Err(e) = self.flush(buf).and_then(|()| self.roll()) {
                        self.fail(ticket, format!("starting a checkpoint segment: {e}"));
                        break;
                    }
                    let first_kept = self.head.as_ref().map_or(0, |(n, _, _)| *n);
                    for copy in &copies {
                        self.encode(copy, buf);
                        if buf.len() >= MAX_BATCH_BYTES
                            && let Err(e) = self.flush(buf)
                        {
                            self.fail(ticket, format!("writing a checkpoint: {e}"));
                            break;
                        }
                    }
                    // The copies must be on disk before their originals are deleted, in
                    // every mode: a checkpoint must never lose what it copies.
                    if let Err(e) = self.flush(buf).and_then(|()| self.sync()) {
                        self.fail(ticket, format!("writing a checkpoint: {e}"));
                        break;
                    }
                    self.delete_before(first_kept);
                    self.checkpoints += 1;
                    last_ticket = ticket;
                    self.shared
                        .progress
                        .lock()
                        .expect("not poisoned")
                        .checkpointing = false;
                }
                Command::Close => {}
            }
            if buf.len() >= MAX_BATCH_BYTES
                && let Err(e) = self.flush(buf)
            {
                self.fail(last_ticket, format!("writing the log: {e}"));
            }
        }
        if self.failed.is_none() {
            let result = self.flush(buf).and_then(|()| match self.options.fsync {
                Fsync::Always => self.sync(),
                Fsync::Batch if self.last_sync.elapsed() >= self.options.batch_interval => {
                    self.sync()
                }
                _ => Ok(()),
            });
            if let Err(e) = result {
                self.fail(self.done + 1, format!("writing the log: {e}"));
            } else {
                self.done = last_ticket;
            }
        }
        self.report();
    }

    /// Appends `append`'s record to `buf`, rolling to a new segment first when the
    /// head is full.
    fn encode(&mut self, append: &Append, buf: &mut Vec<u8>) {
        let decoded;
        let data = match &append.data {
            AppendData::Published(data) => data.borrowed(),
            AppendData::Frame(frame) => {
                // The hub made every frame, so it reads back; were one not to, the copy
                // keeps its id with empty text rather than leave a hole in the stream.
                decoded = parse_frame(frame).map(|(_, data)| data);
                debug_assert!(decoded.is_ok(), "a frame the hub made: {frame}");
                match &decoded {
                    Ok(data) => data.borrowed(),
                    Err(_) => DataRef::Text(""),
                }
            }
        };
        let record = Record::Message {
            epoch: append.epoch,
            id: append.id,
            name: &append.name,
            data,
        };
        // A new segment when there is none, or when this record would take a segment
        // that holds records past its size (a record larger than a segment gets one of
        // its own).
        let roll = match &self.head {
            None => true,
            Some((_, _, len)) => {
                let after = *len + (buf.len() + record::encoded_len(&record)) as u64;
                let holds_records = *len + buf.len() as u64 > SEGMENT_HEADER.len() as u64;
                after > self.options.segment_bytes && holds_records
            }
        };
        if roll && let Err(e) = self.flush(buf).and_then(|()| self.roll()) {
            self.fail(self.done + 1, format!("starting a segment: {e}"));
            return;
        }
        // A name or an id of 0 never comes from the hub; such a record is skipped.
        let _ = record::encode(&record, buf);
    }

    /// Writes `buf` to the head segment and empties it. On failure, cuts the segment back
    /// to its last whole record.
    fn flush(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let (number, file, len) = self
            .head
            .as_mut()
            .ok_or_else(|| io::Error::other("no segment"))?;
        match file.write_all(buf) {
            Ok(()) => {
                *len += buf.len() as u64;
                if let Some(entry) = self.segments.iter_mut().find(|(n, _)| n == number) {
                    entry.1 = *len;
                }
                buf.clear();
                self.unsynced = true;
                Ok(())
            }
            Err(e) => {
                let _ = file.set_len(*len);
                buf.clear();
                Err(e)
            }
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        if let Some((_, file, _)) = &self.head
            && self.unsynced
        {
            file.sync_data()?;
        }
        self.unsynced = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Closes the head segment (synced) and begins the next one.
    fn roll(&mut self) -> io::Result<()> {
        self.sync()?;
        let number = self.segments.last().map_or(1, |&(n, _)| n + 1);
        let path = self.options.dir.join(segment_name(number));
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        file.write_all(&SEGMENT_HEADER)?;
        file.sync_all()?;
        sync_dir(&self.options.dir)?;
        let len = SEGMENT_HEADER.len() as u64;
        self.segments.push((number, len));
        self.head = Some((number, file, len));
        Ok(())
    }

    /// Deletes every segment numbered below `first_kept` (a checkpoint holds what they
    /// held that is still wanted).
    fn delete_before(&mut self, first_kept: u64) {
        let dir = &self.options.dir;
        self.segments.retain(|&(number, _)| {
            if number >= first_kept {
                return true;
            }
            // A segment that cannot be deleted is kept and tried at the next checkpoint;
            // recovery reads it harmlessly (its records are older copies).
            fs::remove_file(dir.join(segment_name(number))).is_err()
        });
        let _ = sync_dir(dir);
    }

    fn fail(&mut self, from: u64, why: String) {
        if self.failed.is_none() {
            self.failed = Some((from.max(self.done + 1), why));
        }
    }

    fn report(&mut self) {
        {
            let mut progress = self.shared.progress.lock().expect("not poisoned");
            progress.done = self.done;
            progress.failed.clone_from(&self.failed);
            progress.log_bytes = self.segments.iter().map(|&(_, len)| len).sum();
        }
        self.shared.updates.fetch_add(1, Ordering::Release);
        (self.wake)();
    }

    fn finish(&mut self) {
        if let Err(e) = self.sync() {
            self.fail(self.done + 1, format!("syncing the log: {e}"));
        }
        self.report();
    }
}

#[cfg(test)]
mod tests;
