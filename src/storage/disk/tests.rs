use std::sync::mpsc;

use super::*;
use crate::storage::recovery::RecoveredChannel;

/// A fresh directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("pushwire-disk-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn limits() -> RecoveryLimits {
    RecoveryLimits {
        history: 1000,
        history_bytes: 1 << 20,
        max_body: 1 << 20,
    }
}

fn options(dir: &TempDir, fsync: Fsync) -> LogOptions {
    LogOptions::new(&dir.0, fsync)
}

/// Opens and starts a log whose wake-ups arrive on the returned receiver.
fn started(options: LogOptions) -> (Opened, mpsc::Receiver<()>) {
    let mut opened = DiskLog::open(options, limits()).expect("opens");
    let (tx, rx) = mpsc::channel();
    opened
        .log
        .start(Box::new(move || {
            let _ = tx.send(());
        }))
        .expect("starts");
    (opened, rx)
}

/// Waits (at most 10 s) until the log has done `ticket`.
fn wait_done(log: &DiskLog, wakes: &mpsc::Receiver<()>, ticket: u64) -> Progress {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let progress = log.progress();
        if progress.done >= ticket || progress.failed.is_some() {
            return progress;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "ticket {ticket} not done: {progress:?}");
        let _ = wakes.recv_timeout(left);
    }
}

fn text(name: &str, epoch: u64, id: u64, data: &str) -> Append {
    Append {
        name: name.into(),
        epoch,
        id,
        data: AppendData::Published(Data::Text(data.into())),
    }
}

fn channel<'r>(recovered: &'r Recovered, name: &str) -> &'r RecoveredChannel {
    recovered
        .channels
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} recovered"))
}

fn datas(channel: &RecoveredChannel) -> Vec<(u64, String)> {
    channel
        .messages
        .iter()
        .map(|m| (m.id, m.data.as_str().to_string()))
        .collect()
}

#[test]
fn an_empty_directory_opens_to_nothing_and_is_created() {
    let dir = TempDir::new("empty");
    let opened = DiskLog::open(options(&dir, Fsync::Always), limits()).unwrap();
    assert!(opened.recovered.channels.is_empty());
    assert_eq!((opened.segments, opened.truncated), (0, 0));
    assert!(!opened.clean, "never closed");
    assert!(opened.fresh, "a new log, not a damaged one");
    assert!(!opened.lost_unsynced, "nothing to lose");
    assert!(dir.0.join("lock").exists() && dir.0.join("state").exists());
}

#[test]
fn appended_messages_are_done_in_order_and_recovered_after_a_clean_close() {
    let dir = TempDir::new("roundtrip");
    for fsync in [Fsync::Always, Fsync::Batch, Fsync::Never] {
        let _ = fs::remove_dir_all(&dir.0);
        let (mut opened, wakes) = started(options(&dir, fsync));
        let mut last = 0;
        for id in 1..=50 {
            last = opened.log.append(text("room", 7, id, &format!("m{id}")));
        }
        assert_eq!(last, 50, "tickets count the appends");
        let progress = wait_done(&opened.log, &wakes, last);
        assert_eq!((progress.done, progress.failed), (50, None));
        opened.log.close().unwrap();
        drop(opened);

        let reopened = DiskLog::open(options(&dir, fsync), limits()).unwrap();
        assert!(reopened.clean, "{fsync:?}: closed cleanly");
        assert!(!reopened.fresh);
        let room = channel(&reopened.recovered, "room");
        assert_eq!((room.epoch, room.last_id), (7, 50));
        assert_eq!(datas(room)[0], (1, "m1".to_string()));
        assert_eq!(room.messages.len(), 50);
    }
}

#[test]
fn a_torn_last_record_is_cut_off_and_the_log_continues_after_it() {
    let dir = TempDir::new("torn");
    let (mut opened, wakes) = started(options(&dir, Fsync::Always));
    for id in 1..=3 {
        opened.log.append(text("a", 1, id, "abcdef"));
    }
    wait_done(&opened.log, &wakes, 3);
    drop(opened);
    // A crash mid-write: half of a fourth record.
    let segment = dir.0.join(segment_name(1));
    let mut record = Vec::new();
    record::encode(
        &Record::Message {
            epoch: 1,
            id: 4,
            name: "a",
            data: DataRef::Text("torn"),
        },
        &mut record,
    )
    .unwrap();
    let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
    file.write_all(&record[..record.len() / 2]).unwrap();
    drop(file);
    let before = fs::metadata(&segment).unwrap().len();

    let (mut opened, wakes) = started(options(&dir, Fsync::Always));
    assert_eq!(opened.truncated, (record.len() / 2) as u64);
    assert_eq!(
        fs::metadata(&segment).unwrap().len(),
        before - opened.truncated
    );
    assert_eq!(channel(&opened.recovered, "a").last_id, 3);
    let ticket = opened.log.append(text("a", 1, 4, "after"));
    wait_done(&opened.log, &wakes, ticket);
    drop(opened);
    let reopened = DiskLog::open(options(&dir, Fsync::Always), limits()).unwrap();
    let a = channel(&reopened.recovered, "a");
    assert_eq!(datas(a).last(), Some(&(4, "after".to_string())));
    assert_eq!(reopened.truncated, 0);
}

#[test]
fn a_second_process_cannot_open_a_log_in_use() {
    let dir = TempDir::new("lock");
    let first = DiskLog::open(options(&dir, Fsync::Always), limits()).unwrap();
    let second = DiskLog::open(options(&dir, Fsync::Always), limits());
    assert!(matches!(second, Err(StorageError::Locked(_))), "{second:?}");
    drop(first);
    assert!(DiskLog::open(options(&dir, Fsync::Always), limits()).is_ok());
}

#[test]
fn segments_roll_at_their_size_and_a_checkpoint_deletes_the_old_ones() {
    let dir = TempDir::new("checkpoint");
    let mut opts = options(&dir, Fsync::Batch);
    opts.segment_bytes = 4096;
    let (mut opened, wakes) = started(opts.clone());
    let data = "x".repeat(500);
    let mut ticket = 0;
    for id in 1..=40 {
        ticket = opened.log.append(text("big", 3, id, &data));
    }
    let progress = wait_done(&opened.log, &wakes, ticket);
    let segments = |dir: &Path| {
        fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                parse_segment_name(name.to_str().unwrap()).is_some()
            })
            .count()
    };
    assert!(segments(&dir.0) >= 5, "40 × ~530 bytes over 4 KiB segments");
    assert!(progress.log_bytes > 40 * 500);
    // Keep only the last three.
    let copies = (38..=40).map(|id| text("big", 3, id, &data)).collect();
    let ticket = opened.log.checkpoint(copies);
    let progress = wait_done(&opened.log, &wakes, ticket);
    assert!(!progress.checkpointing);
    assert_eq!(segments(&dir.0), 1, "the old segments are gone");
    assert!(progress.log_bytes < 2000, "{progress:?}");
    let next = opened.log.append(text("big", 3, 41, "after"));
    wait_done(&opened.log, &wakes, next);
    drop(opened);
    let reopened = DiskLog::open(opts, limits()).unwrap();
    let big = channel(&reopened.recovered, "big");
    let ids: Vec<u64> = big.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, [38, 39, 40, 41]);
}

#[test]
fn a_checkpoint_copy_given_as_a_frame_is_stored_as_its_text() {
    let dir = TempDir::new("frame");
    let (mut opened, wakes) = started(options(&dir, Fsync::Always));
    let frame: Arc<str> = Arc::from(crate::hub::json::message_frame(5, "say \"hi\"\n"));
    let copy = Append {
        name: "f".into(),
        epoch: 9,
        id: 5,
        data: AppendData::Frame(frame),
    };
    let ticket = opened.log.checkpoint(vec![copy]);
    wait_done(&opened.log, &wakes, ticket);
    drop(opened);
    let reopened = DiskLog::open(options(&dir, Fsync::Always), limits()).unwrap();
    assert_eq!(
        datas(channel(&reopened.recovered, "f")),
        [(5, "say \"hi\"\n".to_string())]
    );
}

#[test]
fn json_messages_keep_their_kind_appended_and_copied_from_their_frames() {
    let dir = TempDir::new("json");
    let (mut opened, wakes) = started(options(&dir, Fsync::Always));
    let value = "{\"user\": \"ann\",\n \"esc\": \"\\u0041\"}";
    let json = |id: u64, data: AppendData| Append {
        name: "j".into(),
        epoch: 9,
        id,
        data,
    };
    opened
        .log
        .append(json(1, AppendData::Published(Data::Json(value.into()))));
    opened.log.append(text("j", 9, 2, "plain"));
    // A checkpoint copies both from their frames, plus a JSON string that is not spelled
    // as the hub spells text.
    let frames = [
        DataRef::Json(value).frame(1),
        DataRef::Text("plain").frame(2),
        DataRef::Json(r#""\u0041""#).frame(3),
    ];
    let copies = frames
        .into_iter()
        .enumerate()
        .map(|(i, frame)| json(i as u64 + 1, AppendData::Frame(Arc::from(frame))))
        .collect();
    let ticket = opened.log.checkpoint(copies);
    wait_done(&opened.log, &wakes, ticket);
    drop(opened);
    let reopened = DiskLog::open(options(&dir, Fsync::Always), limits()).unwrap();
    let data: Vec<Data> = channel(&reopened.recovered, "j")
        .messages
        .iter()
        .map(|m| m.data.clone())
        .collect();
    assert_eq!(
        data,
        [
            Data::Json(value.into()),
            Data::Text("plain".into()),
            Data::Json(r#""\u0041""#.into())
        ]
    );
}

#[test]
fn a_tombstone_drops_the_channel_on_recovery() {
    let dir = TempDir::new("tombstone");
    let (mut opened, wakes) = started(options(&dir, Fsync::Always));
    opened.log.append(text("gone", 4, 1, "x"));
    opened.log.append(text("kept", 5, 1, "y"));
    opened.log.dropped("gone", 4);
    let ticket = opened.log.append(text("kept", 5, 2, "z"));
    wait_done(&opened.log, &wakes, ticket);
    drop(opened);
    let reopened = DiskLog::open(options(&dir, Fsync::Always), limits()).unwrap();
    let names: Vec<&str> = reopened
        .recovered
        .channels
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["kept"]);
}

#[test]
fn an_unclean_end_before_a_reboot_is_reported_unless_every_write_was_synced() {
    let dir = TempDir::new("reboot");
    let (mut opened, wakes) = started(options(&dir, Fsync::Never));
    let ticket = opened.log.append(text("r", 1, 1, "x"));
    wait_done(&opened.log, &wakes, ticket);
    drop(opened);
    // What a crash of the machine leaves: the state still "running", from another boot.
    let crashed = "boot another-boot\nstate running\n";
    for (fsync, lost) in [
        (Fsync::Never, true),
        (Fsync::Batch, true),
        (Fsync::Always, false),
    ] {
        fs::write(dir.0.join("state"), crashed).unwrap();
        let reopened = DiskLog::open(options(&dir, fsync), limits()).unwrap();
        assert!(!reopened.clean && !reopened.fresh);
        assert_eq!(reopened.lost_unsynced, lost, "{fsync:?}");
    }
    // A crash of the process alone (the same boot): the kernel still had every write.
    if !boot_id().is_empty() {
        let same_boot = format!("boot {}\nstate running\n", boot_id());
        fs::write(dir.0.join("state"), same_boot).unwrap();
        let reopened = DiskLog::open(options(&dir, Fsync::Never), limits()).unwrap();
        assert!(!reopened.clean && !reopened.lost_unsynced);
    }
}

#[test]
fn fsync_policies_have_their_names() {
    for fsync in [Fsync::Always, Fsync::Batch, Fsync::Never] {
        assert_eq!(Fsync::parse(fsync.name()), Some(fsync));
    }
    assert_eq!(Fsync::parse("sometimes"), None);
}
