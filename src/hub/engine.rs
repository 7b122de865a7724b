//! The hub's engine seam: where a published message goes before anyone sees it.
//!
//! The sans-IO [`Hub`] splits a publish in two ([`Hub::prepare`], then [`Hub::commit`]
//! or [`Hub::abort`]); an engine decides what happens in between. [`Engine::Memory`]
//! commits at once. [`Engine::Disk`] hands the message to the durable log's writer thread
//! and commits — answers `201`, delivers to subscribers — only when the log reports it
//! stored, in the order published; if the log fails, the messages waiting for it are
//! aborted and their publishers told `503` (or close `1011`). A further engine (Redis,
//! whose script assigns ids across nodes) fits the same shape: a message is prepared,
//! goes out, and is committed when its store answers.
//!
//! Completions reach the event loop as a [`Handle::notify`] with [`LOG_TOKEN`], sent by
//! the writer thread at most once until the loop has looked (a flag the loop clears), so
//! a burst of batches costs one wake-up and the loop's command queue never fills with
//! them.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::hub::core::{Hub, Prepared};
use crate::hub::data::Data;
use crate::hub::epoch::Epoch;
use crate::hub::{HubConfig, Storage};
use crate::server::{ConnId, Handle, HandleErrorKind, RequestId};
use crate::storage::disk::{Append, AppendData, DiskLog, LogOptions, StorageError};
use crate::storage::recovery::RecoveryLimits;

pub mod redis;

pub use redis::{RedisEngine, RedisOptions, RedisStats};

/// The [`Handle::notify`] token the log's writer wakes the loop with. A handler that
/// wraps [`HubServer`](crate::hub::HubServer) and uses `on_notify` itself must pass this
/// token on.
pub const LOG_TOKEN: u64 = u64::MAX - 0x6c6f67; // "log"

/// The [`Handle::notify`] token that starts the Redis engine's connections once the loop
/// runs. Like [`LOG_TOKEN`], a wrapping handler must pass it on.
pub const REDIS_TOKEN: u64 = u64::MAX - 0x726564; // "red"

/// Who published a message that waits for its engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A `POST`, answered `201` (or the error) when the message is committed.
    Http(RequestId),
    /// A WebSocket publisher, closed with the error's code if it fails.
    WebSocket(ConnId),
    /// A `publish` command over a `pushwire.v1` connection, answered with an `ack` (or an
    /// `error` frame): the connection, and the key under which the server keeps the
    /// command's `ref`, if it had one.
    Command(ConnId, Option<u64>),
    /// The application ([`HubServer::publish`](crate::hub::HubServer::publish)).
    Local,
}

/// A message the engine has and the hub does not show yet.
#[derive(Debug)]
pub struct Waiting {
    /// The log's ticket for it.
    ticket: u64,
    /// Its channel.
    pub name: String,
    /// The prepared message.
    pub prepared: Prepared,
    /// Who to answer.
    pub origin: Origin,
}

/// What happened to waiting messages, in the order they were published.
#[derive(Debug)]
pub enum Outcome {
    /// Stored: commit it.
    Stored(Waiting),
    /// Not stored: abort it, and tell its publisher.
    Failed(Waiting),
}

/// Where published messages go before they are shown.
#[derive(Debug, Default)]
pub enum Engine {
    /// Nowhere: committed at once.
    #[default]
    Memory,
    /// The durable log.
    Disk(Box<DiskEngine>),
    /// Redis, shared with other nodes: the hub's channels are mirrors of its streams
    /// ([`redis`]).
    Redis(Box<RedisEngine>),
}

/// The durable log as the hub's engine.
#[derive(Debug)]
pub struct DiskEngine {
    log: DiskLog,
    /// Messages handed to the log and not yet stored, oldest first (tickets ascending).
    waiting: VecDeque<Waiting>,
    /// The writer has sent a wake-up the loop has not taken yet.
    armed: Arc<AtomicBool>,
    /// Why the log failed; publishes are refused from then on.
    failed: Option<String>,
    segment_bytes: u64,
}

/// What opening the log found, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Channels recovered.
    pub channels: usize,
    /// Messages recovered (retained).
    pub messages: usize,
    /// Segments read.
    pub segments: usize,
    /// Bytes cut off a torn last record.
    pub truncated: u64,
    /// Segments with damage other than a torn tail (skipped from the damage on).
    pub damaged: usize,
    /// The last run ended cleanly.
    pub clean: bool,
    /// There was no log yet: this run began it (and `clean` is false).
    pub fresh: bool,
    /// Every stream was given a new epoch (an unclean end and a reboot with a policy
    /// that acknowledges before syncing).
    pub new_epochs: bool,
}

impl Engine {
    /// The engine `config.storage` asks for, with the hub loaded from it. For a disk log
    /// this recovers the directory (reading it: before the loop runs) and starts the
    /// writer thread, which wakes the loop through `handle`.
    pub(crate) fn open(
        config: &HubConfig,
        hub: &mut Hub<RequestId, ConnId>,
        handle: Handle,
    ) -> Result<(Engine, Option<OpenReport>), StorageError> {
        let options = match &config.storage {
            Storage::Memory => return Ok((Engine::Memory, None)),
            Storage::Disk(options) => options.clone(),
            Storage::Redis(options) => {
                let addr =
                    crate::redis::resolve(&options.url).map_err(|error| StorageError::Io {
                        action: format!("resolving the Redis host {}", options.url.host()),
                        error,
                    })?;
                let engine = RedisEngine::new(options.clone(), addr, config);
                hub.set_mirroring(true);
                // The connections are made by the loop, once it runs.
                let _ = handle.notify(REDIS_TOKEN);
                return Ok((Engine::Redis(Box::new(engine)), None));
            }
        };
        let segment_bytes = options.segment_bytes;
        let limits = RecoveryLimits {
            history: config.history,
            history_bytes: config.history_bytes,
            // Zero-copy over the file's bytes: the bound only has to refuse lengths no
            // writer made (a record is at most a message and a name), whatever the
            // message limit was when it was written.
            max_body: (2 * config.max_message).max(64 << 20),
        };
        let opened = crate::storage::disk::DiskLog::open(options, limits)?;
        let now = opened.opened_at;
        let new_epochs = opened.lost_unsynced;
        let mut messages = 0;
        for channel in &opened.recovered.channels {
            let epoch = if new_epochs {
                // Acknowledged ids may be gone and could be given again: a new stream
                // makes every reader reset rather than trust them.
                hub.fresh_epoch()
            } else {
                match Epoch::from_bits(channel.epoch) {
                    Some(epoch) => epoch,
                    None => continue, // no writer makes epoch 0
                }
            };
            messages += channel.messages.len();
            let loaded = channel.messages.iter().map(|m| (m.id, m.data.borrowed()));
            hub.restore(&channel.name, epoch, loaded, now);
        }
        let report = OpenReport {
            channels: opened.recovered.channels.len(),
            messages,
            segments: opened.segments,
            truncated: opened.truncated,
            damaged: opened
                .recovered
                .damaged
                .iter()
                .filter(|(_, d)| matches!(d, crate::storage::recovery::Damage::Corrupt { .. }))
                .count(),
            clean: opened.clean,
            fresh: opened.fresh,
            new_epochs,
        };
        let mut log = opened.log;
        let armed = Arc::new(AtomicBool::new(false));
        log.start(wake_loop(handle, Arc::clone(&armed)))?;
        let mut engine = DiskEngine {
            log,
            waiting: VecDeque::new(),
            armed,
            failed: None,
            segment_bytes,
        };
        if new_epochs {
            // The log must carry the new epochs before anything is appended to them.
            engine.checkpoint(hub);
        }
        Ok((Engine::Disk(Box::new(engine)), Some(report)))
    }

    /// Takes a prepared message and the data it was prepared from (moved to the log's
    /// writer, not copied). `Ok(Some(..))`: commit it now (memory). `Ok(None)`: it
    /// waits for the log (see [`Engine::take_outcomes`]). `Err`: the log has failed; the
    /// message is handed back to be aborted.
    pub(crate) fn submit(
        &mut self,
        name: &str,
        prepared: Prepared,
        data: Data,
        origin: Origin,
    ) -> Result<Option<Prepared>, Prepared> {
        match self {
            Engine::Memory => Ok(Some(prepared)),
            // Not reached: the server sends a publish to Redis itself, unprepared (the ids
            // are Redis's to give).
            Engine::Redis(_) => Err(prepared),
            Engine::Disk(disk) => {
                if disk.failed.is_some() {
                    return Err(prepared);
                }
                let ticket = disk.log.append(Append {
                    name: name.to_string(),
                    epoch: prepared.epoch.bits(),
                    id: prepared.id,
                    data: AppendData::Published(data),
                });
                disk.waiting.push_back(Waiting {
                    ticket,
                    name: name.to_string(),
                    prepared,
                    origin,
                });
                Ok(None)
            }
        }
    }

    /// After a [`LOG_TOKEN`] wake-up: the waiting messages the log has stored or failed,
    /// in publish order, and why it failed if it did (once).
    pub(crate) fn take_outcomes(&mut self) -> (Vec<Outcome>, Option<String>) {
        let Engine::Disk(disk) = self else {
            return (Vec::new(), None);
        };
        disk.armed.store(false, Ordering::Release);
        let progress = disk.log.progress();
        let mut outcomes = Vec::new();
        while disk
            .waiting
            .front()
            .is_some_and(|w| w.ticket <= progress.done)
        {
            let stored = disk.waiting.pop_front().expect("checked");
            outcomes.push(Outcome::Stored(stored));
        }
        let mut newly_failed = None;
        if let Some((from, why)) = progress.failed
            && disk.failed.is_none()
        {
            disk.failed = Some(why.clone());
            newly_failed = Some(why);
            let _ = from; // every ticket not done has failed: the writer stopped there
        }
        if disk.failed.is_some() {
            outcomes.extend(disk.waiting.drain(..).map(Outcome::Failed));
        }
        (outcomes, newly_failed)
    }

    /// A channel expired: its tombstone goes in the log.
    pub(crate) fn dropped(&mut self, name: &str, epoch: Epoch) {
        if let Engine::Disk(disk) = self {
            disk.log.dropped(name, epoch.bits());
        }
    }

    /// Checkpoints the log if it has grown past twice what the hub retains plus two
    /// segments (and no checkpoint is on its way).
    pub(crate) fn maybe_checkpoint(&mut self, hub: &Hub<RequestId, ConnId>) {
        let Engine::Disk(disk) = self else {
            return;
        };
        let progress = disk.log.progress();
        let bound = 2 * hub.retained_bytes() as u64 + 2 * disk.segment_bytes;
        if disk.failed.is_none() && !progress.checkpointing && progress.log_bytes > bound {
            disk.checkpoint(hub);
        }
    }

    /// The log's options, if it has one.
    pub fn log_options(&self) -> Option<&LogOptions> {
        match self {
            Engine::Memory | Engine::Redis(_) => None,
            Engine::Disk(disk) => Some(disk.log.options()),
        }
    }

    /// Writes and syncs what is queued and marks the log closed cleanly.
    pub(crate) fn close(&mut self) -> Result<(), StorageError> {
        match self {
            Engine::Memory | Engine::Redis(_) => Ok(()),
            Engine::Disk(disk) => disk.log.close(),
        }
    }
}

impl DiskEngine {
    /// Hands the log a copy of every retained message (shared frames, decoded by the
    /// writer into the data that makes them: JSON stays JSON), and of every message
    /// still waiting for the log: once written, every
    /// older segment goes — including the ones the waiting messages' own records went to,
    /// ahead of the checkpoint.
    fn checkpoint(&mut self, hub: &Hub<RequestId, ConnId>) {
        let mut copies = Vec::new();
        for (name, channel) in hub.streams() {
            let epoch = channel.epoch().bits();
            for message in channel.read_all(crate::hub::Position::After(0)).iter() {
                copies.push(Append {
                    name: name.to_string(),
                    epoch,
                    id: message.id(),
                    data: AppendData::Frame(Arc::clone(message.frame())),
                });
            }
        }
        for waiting in &self.waiting {
            copies.push(Append {
                name: waiting.name.clone(),
                epoch: waiting.prepared.epoch.bits(),
                id: waiting.prepared.id,
                data: AppendData::Frame(Arc::clone(&waiting.prepared.frame)),
            });
        }
        self.log.checkpoint(copies);
    }
}

/// The writer's wake-up: one [`Handle::notify`] until the loop has taken it. A full
/// command queue is retried every millisecond, a thousand times (the writer thread may
/// wait; the loop never does), then left to the next batch.
fn wake_loop(handle: Handle, armed: Arc<AtomicBool>) -> crate::storage::disk::Wake {
    Box::new(move || {
        if armed.swap(true, Ordering::AcqRel) {
            return;
        }
        for _ in 0..1000 {
            match handle.notify(LOG_TOKEN) {
                Ok(()) => return,
                Err(e) if e.kind == HandleErrorKind::QueueFull => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => break,
            }
        }
        armed.store(false, Ordering::Release);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use crate::hub::Cursor;
    use crate::pair::ServerPair;
    use crate::server::Handler;
    use crate::storage::disk::Fsync;

    struct Nothing;
    impl Handler for Nothing {}

    fn wait_for(engine: &mut Engine, n: usize) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for _ in 0..5000 {
            outcomes.extend(engine.take_outcomes().0);
            if outcomes.len() >= n {
                return outcomes;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("the log did not answer for {n} messages within 5 s");
    }

    #[test]
    fn a_checkpoint_keeps_the_messages_still_waiting_for_the_log() {
        let dir = std::env::temp_dir().join(format!("pushwire-engine-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = HubConfig {
            storage: Storage::Disk(LogOptions::new(&dir, Fsync::Always)),
            ..HubConfig::default()
        };
        let pair = ServerPair::new(Config::default(), Nothing).unwrap();
        let now = std::time::Instant::now();
        let mut hub = Hub::new(&config);
        let (mut engine, _) = Engine::open(&config, &mut hub, pair.handle()).unwrap();

        let first = hub.prepare("c", "one", now).unwrap();
        assert!(matches!(
            engine.submit("c", first, Data::Text("one".into()), Origin::Local),
            Ok(None)
        ));
        for outcome in wait_for(&mut engine, 1) {
            let Outcome::Stored(w) = outcome else {
                panic!("stored")
            };
            hub.commit(&w.name, w.prepared, now);
        }
        // Two more handed to the log, and a checkpoint queued before they are answered:
        // their records go to the segment the checkpoint will delete.
        // The second is a JSON payload: the checkpoint copies it from its frame.
        for data in [Data::Text("two".into()), Data::Json(r#"{"n":[3]}"#.into())] {
            let prepared = hub.prepare("c", &data, now).unwrap();
            assert!(engine.submit("c", prepared, data, Origin::Local).is_ok());
        }
        let Engine::Disk(disk) = &mut engine else {
            panic!("a disk engine")
        };
        disk.checkpoint(&hub);
        for outcome in wait_for(&mut engine, 2) {
            let Outcome::Stored(w) = outcome else {
                panic!("stored")
            };
            hub.commit(&w.name, w.prepared, now);
        }
        engine.close().unwrap();
        drop(engine);

        let mut hub = Hub::new(&config);
        let (_engine, report) = Engine::open(&config, &mut hub, pair.handle()).unwrap();
        assert_eq!(report.unwrap().messages, 3);
        let batch = hub.poll(
            "c",
            Cursor {
                since: Some(0),
                epoch: None,
            },
            10,
            None,
            now,
        );
        let Ok(crate::hub::PollOutcome::Ready(answer)) = batch else {
            panic!("{batch:?}")
        };
        let frames: Vec<&str> = answer.frames.iter().map(|f| &**f).collect();
        assert_eq!(
            frames,
            [
                r#"{"id":1,"data":"one"}"#,
                r#"{"id":2,"data":"two"}"#,
                r#"{"id":3,"data":{"n":[3]}}"#
            ],
            "the waiting messages survived the checkpoint, the JSON one as JSON"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
