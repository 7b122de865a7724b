//! A channel's stream as Redis keeps it: the keys, the two scripts, the commands that run
//! them and the readings of their replies (docs/redis-design.md).
//!
//! Per channel `name`, under the key prefix `P` (`pushwire:` by default), with the name in
//! a hash tag so that one channel's keys share a Redis Cluster slot:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P{name}:meta` | hash | `epoch`, `last` (the last id given), `bytes` (data retained) |
//! | `P{name}:log` | stream | entry `0-N` for message `N`, fields `k` (`t`/`j`) and `d` |
//! | `P{name}` | pub/sub channel | `<epoch><kind><id> <data>` for each message |
//!
//! - [`PUBLISH_SCRIPT`] (`publish.lua`) takes the next id, appends, trims by count and
//!   bytes and publishes, atomically.
//! - [`READ_SCRIPT`] (`read.lua`) reads the epoch, the last id and the newest entries
//!   after a cursor, atomically, and begins a stream nobody has published to yet (so that
//!   every node agrees on its epoch), letting it expire while it stays empty.
//!
//! Both go as `EVALSHA` ([`Send::Cached`]) after a `SCRIPT LOAD` ([`write_script_loads`]);
//! a server that answers `NOSCRIPT` ([`is_noscript`]: restarted, or `SCRIPT FLUSH`) gets
//! the script itself once with `EVAL` ([`Send::Source`]), which caches it again.
//!
//! Nothing here touches a socket: commands are appended to a buffer, replies read from a
//! [`Reply`]. A reply that is not of the expected shape is a [`StreamError`], never a
//! panic: Redis is trusted to run the scripts, not to hold only what they wrote.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use sha1::{Digest, Sha1};

use super::resp::{Command, Reply};
use crate::hub::data::{Data, DataRef};
use crate::hub::epoch::{EPOCH_LEN, Epoch};
use crate::hub::json::{MAX_PAYLOAD_DEPTH, validate};

/// The publish script's source.
pub const PUBLISH_SCRIPT: &str = include_str!("publish.lua");

/// The read script's source.
pub const READ_SCRIPT: &str = include_str!("read.lua");

/// One of the two scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// [`PUBLISH_SCRIPT`].
    Publish,
    /// [`READ_SCRIPT`].
    Read,
}

impl Script {
    /// Both, in the order [`write_script_loads`] loads them.
    pub const ALL: [Script; 2] = [Script::Publish, Script::Read];

    /// The Lua source.
    pub fn source(self) -> &'static str {
        match self {
            Script::Publish => PUBLISH_SCRIPT,
            Script::Read => READ_SCRIPT,
        }
    }

    /// The SHA-1 of the source in lowercase hex: what `SCRIPT LOAD` answers and
    /// `EVALSHA` names. Computed once.
    pub fn sha1(self) -> &'static str {
        static PUBLISH: OnceLock<String> = OnceLock::new();
        static READ: OnceLock<String> = OnceLock::new();
        let cell = match self {
            Script::Publish => &PUBLISH,
            Script::Read => &READ,
        };
        cell.get_or_init(|| {
            Sha1::digest(self.source().as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
    }
}

/// How a script is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Send {
    /// `EVALSHA`: by its SHA-1, as Redis has it cached.
    Cached,
    /// `EVAL`: the source itself, after a `NOSCRIPT`.
    Source,
}

/// A channel's keys and pub/sub channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// `P{name}`: the pub/sub channel, and the stem of the two keys.
    pubsub: String,
    meta: String,
    log: String,
}

impl Keys {
    /// The keys of `name` under `prefix`.
    pub fn new(prefix: &str, name: &str) -> Keys {
        let pubsub = format!("{prefix}{{{name}}}");
        Keys {
            meta: format!("{pubsub}:meta"),
            log: format!("{pubsub}:log"),
            pubsub,
        }
    }

    /// `P{name}`: where its messages are published.
    pub fn pubsub(&self) -> &str {
        &self.pubsub
    }

    /// `P{name}:meta`.
    pub fn meta(&self) -> &str {
        &self.meta
    }

    /// `P{name}:log`.
    pub fn log(&self) -> &str {
        &self.log
    }
}

/// The channel name in a pub/sub channel `P{name}`; `None` for one that is not ours
/// (another prefix, not UTF-8, no braces).
pub fn channel_of<'a>(prefix: &str, pubsub: &'a [u8]) -> Option<&'a str> {
    let rest = pubsub.strip_prefix(prefix.as_bytes())?;
    let name = rest.strip_prefix(b"{")?.strip_suffix(b"}")?;
    std::str::from_utf8(name).ok()
}

/// `SCRIPT LOAD` of both scripts, in [`Script::ALL`]'s order: two commands, two replies.
pub fn write_script_loads(out: &mut Vec<u8>) {
    for script in Script::ALL {
        Command::new(out, "SCRIPT").arg("LOAD").arg(script.source());
    }
}

/// One publish: its keys, its data, the limits of the log, and the epoch to begin the
/// stream with if this publish begins it.
#[derive(Debug, Clone, Copy)]
pub struct Publish<'a> {
    /// The channel's keys.
    pub keys: &'a Keys,
    /// The message.
    pub data: DataRef<'a>,
    /// Messages the log keeps (at least 1).
    pub max_count: u64,
    /// Data bytes the log keeps (the newest message whatever its size).
    pub max_bytes: u64,
    /// A fresh epoch, used only if the stream begins with this publish.
    pub candidate: Epoch,
}

/// Appends the publish script's command for `publish`.
pub fn write_publish(out: &mut Vec<u8>, publish: &Publish<'_>, send: Send) {
    let mut command = script_command(out, Script::Publish, send);
    command
        .arg_int(2)
        .arg(publish.keys.meta())
        .arg(publish.keys.log())
        .arg(publish.data.as_str())
        .arg(if publish.data.is_json() { "j" } else { "t" })
        .arg_int(clamp(publish.max_count.max(1)))
        .arg_int(clamp(publish.max_bytes))
        .arg(publish.candidate.text().as_str())
        .arg(publish.keys.pubsub());
    command.finish();
}

/// One history read: the newest `count` messages after `after`.
#[derive(Debug, Clone, Copy)]
pub struct Read<'a> {
    /// The channel's keys.
    pub keys: &'a Keys,
    /// The cursor: messages with ids above it.
    pub after: u64,
    /// At most this many, the newest.
    pub count: u64,
    /// A fresh epoch, used only if the read begins the stream.
    pub candidate: Epoch,
    /// How long a stream begun by a read is kept while nobody publishes to it.
    pub empty_ttl: Duration,
}

/// Appends the read script's command for `read`.
pub fn write_read(out: &mut Vec<u8>, read: &Read<'_>, send: Send) {
    let ttl_ms = read.empty_ttl.as_millis().clamp(1, i64::MAX as u128) as i64;
    let mut command = script_command(out, Script::Read, send);
    command
        .arg_int(2)
        .arg(read.keys.meta())
        .arg(read.keys.log())
        .arg_int(clamp(read.after))
        .arg_int(clamp(read.count.max(1)))
        .arg(read.candidate.text().as_str())
        .arg_int(ttl_ms);
    command.finish();
}

fn script_command(out: &mut Vec<u8>, script: Script, send: Send) -> Command<'_> {
    match send {
        Send::Cached => {
            let mut command = Command::new(out, "EVALSHA");
            command.arg(script.sha1());
            command
        }
        Send::Source => {
            let mut command = Command::new(out, "EVAL");
            command.arg(script.source());
            command
        }
    }
}

/// Lua's numbers are doubles: past 2^53 an integer argument would not read back exactly.
/// No count, byte limit or id of the hub comes near; this keeps one from passing it.
fn clamp(n: u64) -> i64 {
    n.min(1 << 53) as i64
}

/// Is `reply` Redis's "no script by that SHA-1" (`-NOSCRIPT …`)?
pub fn is_noscript(reply: &Reply<'_>) -> bool {
    reply.error_kind() == Some(b"NOSCRIPT")
}

/// Is `reply` Redis's refusal of a write under `maxmemory` (`-OOM …`)?
pub fn is_oom(reply: &Reply<'_>) -> bool {
    reply.error_kind() == Some(b"OOM")
}

/// Is `reply` an error Redis gives while it cannot serve for now — `LOADING` (a restarted
/// server reading its data), `BUSY` (a script running too long), `MASTERDOWN`,
/// `TRYAGAIN` — after which the same command may succeed later?
pub fn is_transient(reply: &Reply<'_>) -> bool {
    matches!(
        reply.error_kind(),
        Some(b"LOADING" | b"BUSY" | b"MASTERDOWN" | b"TRYAGAIN")
    )
}

/// Why a reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamError {
    /// Redis answered with an error; its text.
    Refused(String),
    /// The reply is not what the command answers; what was wrong.
    Malformed(&'static str),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Refused(text) => write!(f, "redis answered: {text}"),
            StreamError::Malformed(what) => write!(f, "redis reply not understood: {what}"),
        }
    }
}

impl std::error::Error for StreamError {}

fn refused(reply: &Reply<'_>) -> Option<StreamError> {
    match reply {
        Reply::Error(text) => Some(StreamError::Refused(
            String::from_utf8_lossy(text).into_owned(),
        )),
        _ => None,
    }
}

/// Reads `SCRIPT LOAD`'s answer for `script`: its SHA-1, which must be the one
/// [`Script::sha1`] computed (else every `EVALSHA` would name another script).
pub fn parse_script_loaded(reply: &Reply<'_>, script: Script) -> Result<(), StreamError> {
    if let Some(e) = refused(reply) {
        return Err(e);
    }
    match reply.as_bulk() {
        Some(sha) if sha == script.sha1().as_bytes() => Ok(()),
        Some(_) => Err(StreamError::Malformed("SCRIPT LOAD answered another SHA-1")),
        None => Err(StreamError::Malformed("SCRIPT LOAD answered no SHA-1")),
    }
}

/// A publish stored by Redis: its id and its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The id Redis gave it.
    pub id: u64,
    /// The stream it belongs to.
    pub epoch: Epoch,
}

/// Reads the publish script's answer, `{id, epoch}`.
pub fn parse_published(reply: &Reply<'_>) -> Result<Published, StreamError> {
    if let Some(e) = refused(reply) {
        return Err(e);
    }
    match reply.as_array() {
        Some([id, epoch]) => Ok(Published {
            id: read_id(id)?,
            epoch: read_epoch(epoch.as_bulk())?,
        }),
        _ => Err(StreamError::Malformed(
            "a publish answered other than {id, epoch}",
        )),
    }
}

fn read_id(reply: &Reply<'_>) -> Result<u64, StreamError> {
    match reply.as_integer() {
        Some(id) if id > 0 => Ok(id as u64),
        _ => Err(StreamError::Malformed(
            "an id that is not a positive integer",
        )),
    }
}

fn read_epoch(text: Option<&[u8]>) -> Result<Epoch, StreamError> {
    text.and_then(|t| std::str::from_utf8(t).ok())
        .and_then(Epoch::parse)
        .ok_or(StreamError::Malformed(
            "an epoch that is not 11 base64url characters",
        ))
}

/// Reads stored data of `kind` (`t` or `j`) without copying: text must be UTF-8, a JSON
/// payload valid JSON (a node checked it when it was published; this keeps anything else
/// written under the keys out of the frames).
fn read_data<'a>(kind: &[u8], bytes: &'a [u8]) -> Result<DataRef<'a>, StreamError> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| StreamError::Malformed("data that is not UTF-8"))?;
    match kind {
        b"t" => Ok(DataRef::Text(text)),
        b"j" => {
            validate(bytes, MAX_PAYLOAD_DEPTH)
                .map_err(|_| StreamError::Malformed("a JSON payload that is not JSON"))?;
            Ok(DataRef::Json(text))
        }
        _ => Err(StreamError::Malformed("a kind that is neither 't' nor 'j'")),
    }
}

/// A message as the publish script published it, borrowed from the pub/sub payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedMessage<'a> {
    /// Its stream.
    pub epoch: Epoch,
    /// Its id.
    pub id: u64,
    /// Its data.
    pub data: DataRef<'a>,
}

/// Reads a pub/sub payload `<epoch: 11 bytes><kind: t|j><id: decimal> <data>`.
pub fn parse_message(payload: &[u8]) -> Result<PublishedMessage<'_>, StreamError> {
    const SHORT: StreamError = StreamError::Malformed("a message shorter than its header");
    if payload.len() < EPOCH_LEN + 3 {
        return Err(SHORT);
    }
    let (epoch, rest) = payload.split_at(EPOCH_LEN);
    let epoch = read_epoch(Some(epoch))?;
    let (kind, rest) = rest.split_at(1);
    let space = rest.iter().position(|&b| b == b' ').ok_or(SHORT)?;
    let id = decimal(&rest[..space]).ok_or(StreamError::Malformed(
        "a message id that is not a positive decimal",
    ))?;
    let data = read_data(kind, &rest[space + 1..])?;
    Ok(PublishedMessage { epoch, id, data })
}

/// A positive decimal without sign or leading zeros, up to 2^63 − 1.
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || digits[0] == b'0' {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    (n <= i64::MAX as u64).then_some(n)
}

/// A stream as the read script found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// Its epoch.
    pub epoch: Epoch,
    /// The last id given (0: nothing published yet).
    pub last: u64,
    /// The newest messages after the cursor, oldest first, ids increasing, none past
    /// `last`.
    pub entries: Vec<(u64, Data)>,
}

/// Reads the read script's answer `{epoch, last, [[0-N, [k, kind, d, data]], …]}`.
pub fn parse_history(reply: &Reply<'_>) -> Result<History, StreamError> {
    if let Some(e) = refused(reply) {
        return Err(e);
    }
    let Some([epoch, last, entries]) = reply.as_array() else {
        return Err(StreamError::Malformed(
            "a read answered other than {epoch, last, entries}",
        ));
    };
    let epoch = read_epoch(epoch.as_bulk())?;
    let last = match last.as_integer() {
        Some(n) if n >= 0 => n as u64,
        _ => {
            return Err(StreamError::Malformed(
                "a last id that is not a non-negative integer",
            ));
        }
    };
    let entries = entries
        .as_array()
        .ok_or(StreamError::Malformed("entries that are not an array"))?;
    let mut read = Vec::with_capacity(entries.len());
    // Newest first, as XREVRANGE answers.
    for entry in entries.iter().rev() {
        let Some([id, fields]) = entry.as_array() else {
            return Err(StreamError::Malformed("an entry that is not [id, fields]"));
        };
        let id = id
            .as_bulk()
            .and_then(|id| id.strip_prefix(b"0-"))
            .and_then(decimal)
            .ok_or(StreamError::Malformed("an entry id that is not 0-N"))?;
        if id > last || read.last().is_some_and(|&(before, _)| before >= id) {
            return Err(StreamError::Malformed(
                "entry ids out of order or past the last id",
            ));
        }
        let (mut kind, mut data) = (None, None);
        let fields = fields
            .as_array()
            .ok_or(StreamError::Malformed("entry fields that are not an array"))?;
        for pair in fields.chunks(2) {
            match (pair[0].as_bulk(), pair.get(1).and_then(Reply::as_bulk)) {
                (Some(b"k"), Some(value)) => kind = Some(value),
                (Some(b"d"), Some(value)) => data = Some(value),
                _ => {}
            }
        }
        let (Some(kind), Some(data)) = (kind, data) else {
            return Err(StreamError::Malformed(
                "an entry without its k and d fields",
            ));
        };
        read.push((id, read_data(kind, data)?.into_owned()));
    }
    Ok(History {
        epoch,
        last,
        entries: read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::resp::{ReplyLimits, ReplyParser};
    use crate::status::Status;

    fn epoch() -> Epoch {
        Epoch::parse("mG3b0hJ0xq8").unwrap()
    }

    /// Parses one reply from RESP bytes.
    fn with_reply<R>(bytes: &[u8], f: impl FnOnce(&Reply<'_>) -> R) -> R {
        let mut parser = ReplyParser::new();
        match parser.parse(bytes, &ReplyLimits::default()).unwrap() {
            Status::Complete((reply, n)) => {
                assert_eq!(n, bytes.len());
                f(&reply)
            }
            Status::Partial => panic!("incomplete test reply"),
        }
    }

    #[test]
    fn keys_put_the_name_in_a_hash_tag_and_channel_of_reads_it_back() {
        let keys = Keys::new("pushwire:", "news");
        assert_eq!(keys.pubsub(), "pushwire:{news}");
        assert_eq!(keys.meta(), "pushwire:{news}:meta");
        assert_eq!(keys.log(), "pushwire:{news}:log");
        assert_eq!(channel_of("pushwire:", b"pushwire:{news}"), Some("news"));
        assert_eq!(channel_of("pushwire:", b"other:{news}"), None);
        assert_eq!(channel_of("pushwire:", b"pushwire:news"), None);
        assert_eq!(channel_of("pushwire:", b"pushwire:{\xff}"), None);
    }

    #[test]
    fn the_script_sha1s_are_those_of_their_sources() {
        assert_eq!(Script::Publish.sha1().len(), 40);
        assert_ne!(Script::Publish.sha1(), Script::Read.sha1());
        let mut out = Vec::new();
        write_script_loads(&mut out);
        let loads = String::from_utf8(out).unwrap();
        assert!(loads.starts_with("*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n"));
        assert_eq!(
            loads
                .matches("*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n")
                .count(),
            2
        );
        assert!(loads.ends_with(&format!("{READ_SCRIPT}\r\n")));
    }

    #[test]
    fn a_publish_sends_keys_data_kind_limits_candidate_and_channel() {
        let keys = Keys::new("p:", "c");
        let publish = Publish {
            keys: &keys,
            data: DataRef::Json("[1]"),
            max_count: 10,
            max_bytes: 1000,
            candidate: epoch(),
        };
        let mut out = Vec::new();
        write_publish(&mut out, &publish, Send::Cached);
        let expected = format!(
            "*11\r\n$7\r\nEVALSHA\r\n$40\r\n{}\r\n$1\r\n2\r\n$10\r\np:{{c}}:meta\r\n$9\r\np:{{c}}:log\r\n\
             $3\r\n[1]\r\n$1\r\nj\r\n$2\r\n10\r\n$4\r\n1000\r\n$11\r\nmG3b0hJ0xq8\r\n$5\r\np:{{c}}\r\n",
            Script::Publish.sha1()
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        let mut out = Vec::new();
        write_publish(&mut out, &publish, Send::Source);
        assert!(out.starts_with(b"*11\r\n$4\r\nEVAL\r\n"));
    }

    #[test]
    fn published_reads_id_and_epoch_and_refuses_other_shapes() {
        let ok = b"*2\r\n:7\r\n$11\r\nmG3b0hJ0xq8\r\n";
        assert_eq!(
            with_reply(ok, parse_published),
            Ok(Published {
                id: 7,
                epoch: epoch()
            })
        );
        for bad in [
            &b"*2\r\n:0\r\n$11\r\nmG3b0hJ0xq8\r\n"[..],
            b"*2\r\n:1\r\n$3\r\nabc\r\n",
            b":1\r\n",
            b"*1\r\n:1\r\n",
        ] {
            assert!(matches!(
                with_reply(bad, parse_published),
                Err(StreamError::Malformed(_))
            ));
        }
        let e = with_reply(b"-ERR pushwire publish: no\r\n", parse_published);
        assert_eq!(
            e,
            Err(StreamError::Refused("ERR pushwire publish: no".into()))
        );
        assert!(with_reply(b"-NOSCRIPT No matching script\r\n", is_noscript));
        assert!(with_reply(b"-OOM command not allowed\r\n", is_oom));
        assert!(with_reply(
            b"-LOADING Redis is loading the dataset in memory\r\n",
            is_transient
        ));
        assert!(!with_reply(
            b"-WRONGTYPE Operation against a key\r\n",
            is_transient
        ));
        assert!(!with_reply(b"+OK\r\n", is_transient));
    }

    #[test]
    fn a_message_reads_its_epoch_kind_id_and_data_untouched() {
        let m = parse_message(b"mG3b0hJ0xq8t12 hello world").unwrap();
        assert_eq!(
            (m.epoch, m.id, m.data),
            (epoch(), 12, DataRef::Text("hello world"))
        );
        let m = parse_message(b"mG3b0hJ0xq8j1 {\"a\":1}").unwrap();
        assert_eq!(m.data, DataRef::Json("{\"a\":1}"));
        let m = parse_message(b"mG3b0hJ0xq8t3 ").unwrap();
        assert_eq!(m.data, DataRef::Text(""));
        for bad in [
            &b""[..],
            b"mG3b0hJ0xq8t",
            b"mG3b0hJ0xq8t1",
            b"mG3b0hJ0xq8t01 x",
            b"mG3b0hJ0xq8t0 x",
            b"mG3b0hJ0xq8x1 x",
            b"mG3b0hJ0xq8j1 {",
            b"mG3b0hJ0xq8t1 \xff",
            b"!!!!!!!!!!!t1 x",
            b"mG3b0hJ0xq8t99999999999999999999 x",
        ] {
            assert!(
                parse_message(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_history_reads_oldest_first_and_checks_ids() {
        let reply = b"*3\r\n$11\r\nmG3b0hJ0xq8\r\n:5\r\n*2\r\n\
            *2\r\n$3\r\n0-5\r\n*4\r\n$1\r\nk\r\n$1\r\nt\r\n$1\r\nd\r\n$4\r\nfive\r\n\
            *2\r\n$3\r\n0-4\r\n*4\r\n$1\r\nk\r\n$1\r\nj\r\n$1\r\nd\r\n$1\r\n4\r\n";
        let history = with_reply(reply, parse_history).unwrap();
        assert_eq!(history.epoch, epoch());
        assert_eq!(history.last, 5);
        assert_eq!(
            history.entries,
            vec![(4, Data::Json("4".into())), (5, Data::Text("five".into()))]
        );
        let empty = b"*3\r\n$11\r\nmG3b0hJ0xq8\r\n:0\r\n*0\r\n";
        assert_eq!(with_reply(empty, parse_history).unwrap().entries, vec![]);
        // An entry past the last id, ids out of order, a missing field.
        for bad in [
            &b"*3\r\n$11\r\nmG3b0hJ0xq8\r\n:3\r\n*1\r\n*2\r\n$3\r\n0-4\r\n*4\r\n$1\r\nk\r\n$1\r\nt\r\n$1\r\nd\r\n$0\r\n\r\n"[..],
            b"*3\r\n$11\r\nmG3b0hJ0xq8\r\n:9\r\n*2\r\n\
              *2\r\n$3\r\n0-4\r\n*4\r\n$1\r\nk\r\n$1\r\nt\r\n$1\r\nd\r\n$0\r\n\r\n\
              *2\r\n$3\r\n0-5\r\n*4\r\n$1\r\nk\r\n$1\r\nt\r\n$1\r\nd\r\n$0\r\n\r\n",
            b"*3\r\n$11\r\nmG3b0hJ0xq8\r\n:3\r\n*1\r\n*2\r\n$3\r\n0-3\r\n*2\r\n$1\r\nk\r\n$1\r\nt\r\n",
            b"*3\r\n$11\r\nmG3b0hJ0xq8\r\n:-1\r\n*0\r\n",
            b"*2\r\n$11\r\nmG3b0hJ0xq8\r\n:1\r\n",
        ] {
            assert!(matches!(with_reply(bad, parse_history), Err(StreamError::Malformed(_))));
        }
    }
}
