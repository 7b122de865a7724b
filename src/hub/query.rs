//! What the hub reads from a request target: the channel name in the path, and `since`,
//! `epoch`, `limit` and `timeout` in the query.

use std::borrow::Cow;
use std::time::Duration;

use crate::http::body::parse_decimal;
use crate::http::token::hex_value;
use crate::hub::HubError;
use crate::hub::core::Cursor;
use crate::hub::epoch::Epoch;

/// Where channels live: `/channels/{name}`.
pub const CHANNEL_PREFIX: &str = "/channels/";

/// Longest channel name, in characters (bytes: names are ASCII).
pub const MAX_CHANNEL_NAME: usize = 128;

/// The channel named by a request path `/channels/{name}`.
///
/// Names are 1 to [`MAX_CHANNEL_NAME`] characters of `A-Z a-z 0-9 _ . -`. Those are all
/// RFC 3986 §2.3 *unreserved* characters, which never need percent-encoding, so the name
/// is taken from the path as is: a `%` (or a `/`) in it makes it invalid rather than
/// being decoded. One name has one spelling, so two spellings can never reach two
/// different channels, or one channel under two names. (`.` and `..` are valid names:
/// they are keys in a map, never file paths.)
///
/// A path outside `/channels/` is [`HubError::NotChannelPath`] (404); a bad name is
/// [`HubError::BadChannelName`] (400).
///
/// ```
/// use pushwire::hub::query::channel_name;
/// assert_eq!(channel_name("/channels/news.en-GB_2"), Ok("news.en-GB_2"));
/// assert!(channel_name("/channels/a/b").is_err());
/// ```
pub fn channel_name(path: &str) -> Result<&str, HubError> {
    let name = path
        .strip_prefix(CHANNEL_PREFIX)
        .ok_or(HubError::NotChannelPath)?;
    if is_valid_channel_name(name) {
        Ok(name)
    } else {
        Err(HubError::BadChannelName)
    }
}

/// Is `name` 1 to 128 characters of `A-Z a-z 0-9 _ . -`?
pub fn is_valid_channel_name(name: &str) -> bool {
    (1..=MAX_CHANNEL_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The parameters of a long-poll (and, for `since` and `epoch`, of a WebSocket
/// subscription).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollParams {
    /// `since=N`: answer with messages whose id is greater than `N`. `None` when absent:
    /// only messages published after the request arrived.
    pub since: Option<u64>,
    /// `epoch=E`: the stream `since` is from (see [`crate::hub::epoch`]). `None` when
    /// absent: the current one.
    pub epoch: Option<Epoch>,
    /// `limit=K`: answer at most K messages. `None` when absent (the hub's default).
    pub limit: Option<usize>,
    /// `timeout=S`: how long to hold the request when nothing is there yet. Zero is plain
    /// polling (answer at once).
    pub timeout: Duration,
}

impl PollParams {
    /// The cursor the request claims.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            since: self.since,
            epoch: self.epoch,
        }
    }
}

impl PollParams {
    /// Reads `since`, `epoch`, `limit` and `timeout` from a query string (the target
    /// after `?`).
    ///
    /// - `since`: `1*DIGIT`, fitting in 64 bits; else [`HubError::BadSince`].
    /// - `epoch`: an epoch's 11 characters ([`Epoch::parse`]); else
    ///   [`HubError::BadEpoch`].
    /// - `limit`: `1*DIGIT`, at least 1; else [`HubError::BadLimit`]. Values past
    ///   `usize` read as the largest (the hub clamps to its maximum anyway).
    /// - `timeout`: seconds as `1*DIGIT [ "." 1*DIGIT ]` (`30`, `0.5`; no sign, exponent or
    ///   bare `.5`), else [`HubError::BadTimeout`]. Digits past nanoseconds are dropped. A
    ///   value above `max_timeout` is clamped to it rather than refused: the client asked
    ///   to wait "up to" S, and waiting less is within what it asked for (a long-poll
    ///   client simply polls again). Absent: `default_timeout`, also clamped.
    /// - Either given twice: [`HubError::DuplicateParameter`].
    /// - Anything else is ignored (cache-busters like `_=1700000000` are common), including
    ///   pairs whose name is not valid percent-encoding: such a name is not one of ours.
    ///
    /// Names and values are percent-decoded (`%XX`, RFC 3986 §2.1); `+` is not a space
    /// here (that is HTML form encoding) and would make a number invalid either way.
    /// Empty pairs (`a&&b`, a trailing `&`) are skipped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pushwire::hub::query::PollParams;
    ///
    /// let p = PollParams::parse(Some("since=41&timeout=0.5"), Duration::from_secs(30),
    ///                           Duration::from_secs(120)).unwrap();
    /// assert_eq!(p.since, Some(41));
    /// assert_eq!(p.timeout, Duration::from_millis(500));
    /// ```
    pub fn parse(
        query: Option<&str>,
        default_timeout: Duration,
        max_timeout: Duration,
    ) -> Result<PollParams, HubError> {
        let mut cursor = CursorFields::default();
        let mut timeout = TimeoutField::default();
        for (name, value) in pairs(query) {
            if !cursor.read(&name, value)? {
                timeout.read(&name, value)?;
            }
        }
        Ok(PollParams {
            since: cursor.since,
            epoch: cursor.epoch,
            limit: cursor.limit,
            timeout: timeout.or(default_timeout, max_timeout),
        })
    }
}

/// One channel of a multi-channel request (`GET /poll`, `GET /events`): its name and
/// where the client stands in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelCursor {
    /// A valid channel name ([`is_valid_channel_name`]).
    pub name: String,
    /// `since` and `epoch` after this `channel=`.
    pub cursor: Cursor,
    /// `limit` after this `channel=` (long-poll only).
    pub limit: Option<usize>,
}

/// The query of a request on several channels at once:
/// `channel=a&since=5&epoch=E&channel=b&since=9&timeout=30`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiParams {
    /// The channels, in the order the query names them.
    pub channels: Vec<ChannelCursor>,
    /// `timeout` (anywhere in the query), clamped as [`PollParams::parse`] does.
    pub timeout: Duration,
}

impl MultiParams {
    /// Reads a multi-channel query. Each `channel=NAME` starts a group, and the `since`,
    /// `epoch` and `limit` after it (before the next `channel=`) belong to it, read as
    /// [`PollParams::parse`] reads them; `timeout` is the request's and may stand
    /// anywhere.
    ///
    /// - A name is taken as written, as in a path ([`channel_name`]): not
    ///   percent-decoded, so one channel has one spelling; a bad one is
    ///   [`HubError::BadChannelName`].
    /// - No `channel=` at all: [`HubError::NoChannel`]; more than `max_channels`:
    ///   [`HubError::TooManySubscriptions`] (checked as each group is read, so a query of
    ///   ten thousand names is refused at the one past the limit).
    /// - A channel named twice, or a group's parameter given twice:
    ///   [`HubError::DuplicateParameter`]; a `since`, `epoch` or `limit` before the first
    ///   `channel=`: [`HubError::UngroupedParameter`] (it belongs to no channel, and
    ///   guessing which one was meant could skip messages).
    ///
    /// ```
    /// use std::time::Duration;
    /// use pushwire::hub::query::MultiParams;
    ///
    /// let q = "channel=a&since=5&channel=b&timeout=10";
    /// let p = MultiParams::parse(Some(q), Duration::from_secs(30), Duration::from_secs(120), 64)
    ///     .unwrap();
    /// assert_eq!(p.channels.len(), 2);
    /// assert_eq!((p.channels[0].name.as_str(), p.channels[0].cursor.since), ("a", Some(5)));
    /// assert_eq!((p.channels[1].name.as_str(), p.channels[1].cursor.since), ("b", None));
    /// assert_eq!(p.timeout, Duration::from_secs(10));
    /// ```
    pub fn parse(
        query: Option<&str>,
        default_timeout: Duration,
        max_timeout: Duration,
        max_channels: usize,
    ) -> Result<MultiParams, HubError> {
        let mut channels: Vec<ChannelCursor> = Vec::new();
        let mut group: Option<(String, CursorFields)> = None;
        let mut timeout = TimeoutField::default();
        for (name, value) in pairs(query) {
            if &*name == b"channel" {
                if !is_valid_channel_name(value) {
                    return Err(HubError::BadChannelName);
                }
                let known = |n: &str| {
                    channels.iter().any(|c| c.name == n)
                        || group.as_ref().is_some_and(|(g, _)| g == n)
                };
                if known(value) {
                    return Err(HubError::DuplicateParameter("channel"));
                }
                if channels.len() + usize::from(group.is_some()) >= max_channels {
                    return Err(HubError::TooManySubscriptions);
                }
                if let Some((name, fields)) = group.take() {
                    channels.push(fields.into_group(name));
                }
                group = Some((value.to_string(), CursorFields::default()));
                continue;
            }
            if timeout.read(&name, value)? {
                continue;
            }
            match &mut group {
                Some((_, fields)) => {
                    fields.read(&name, value)?;
                }
                None => {
                    // Parse it anyway for its own error, then refuse it for where it is.
                    if CursorFields::default().read(&name, value)? {
                        return Err(HubError::UngroupedParameter(CursorFields::label(&name)));
                    }
                }
            }
        }
        if let Some((name, fields)) = group.take() {
            channels.push(fields.into_group(name));
        }
        if channels.is_empty() {
            return Err(HubError::NoChannel);
        }
        Ok(MultiParams {
            channels,
            timeout: timeout.or(default_timeout, max_timeout),
        })
    }
}

/// The query's `name=value` pairs, names percent-decoded; empty pairs and names that are
/// not valid percent-encoding (not ours) skipped.
fn pairs(query: Option<&str>) -> impl Iterator<Item = (Cow<'_, [u8]>, &str)> {
    query.unwrap_or("").split('&').filter_map(|pair| {
        if pair.is_empty() {
            return None;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        Some((percent_decode(name)?, value))
    })
}

/// `since`, `epoch` and `limit`, each at most once.
#[derive(Debug, Default)]
struct CursorFields {
    since: Option<u64>,
    epoch: Option<Epoch>,
    limit: Option<usize>,
}

impl CursorFields {
    /// The group of channel `name`.
    fn into_group(self, name: String) -> ChannelCursor {
        ChannelCursor {
            name,
            cursor: Cursor {
                since: self.since,
                epoch: self.epoch,
            },
            limit: self.limit,
        }
    }

    /// The parameter's name as an error names it.
    fn label(name: &[u8]) -> &'static str {
        match name {
            b"since" => "since",
            b"epoch" => "epoch",
            _ => "limit",
        }
    }

    /// Reads the pair if it is one of ours: `Ok(true)`; `Ok(false)` for any other name.
    fn read(&mut self, name: &[u8], value: &str) -> Result<bool, HubError> {
        match name {
            b"since" => {
                if self.since.is_some() {
                    return Err(HubError::DuplicateParameter("since"));
                }
                let value = percent_decode(value).ok_or(HubError::BadSince)?;
                self.since = Some(parse_decimal(&value).ok_or(HubError::BadSince)?);
            }
            b"epoch" => {
                if self.epoch.is_some() {
                    return Err(HubError::DuplicateParameter("epoch"));
                }
                let value = percent_decode(value).ok_or(HubError::BadEpoch)?;
                let text = std::str::from_utf8(&value).map_err(|_| HubError::BadEpoch)?;
                self.epoch = Some(Epoch::parse(text).ok_or(HubError::BadEpoch)?);
            }
            b"limit" => {
                if self.limit.is_some() {
                    return Err(HubError::DuplicateParameter("limit"));
                }
                let value = percent_decode(value).ok_or(HubError::BadLimit)?;
                let digits_only = !value.is_empty() && value.iter().all(u8::is_ascii_digit);
                let k = match parse_decimal(&value) {
                    Some(k) => usize::try_from(k).unwrap_or(usize::MAX),
                    None if digits_only => usize::MAX, // past u64: "as many as allowed"
                    None => return Err(HubError::BadLimit),
                };
                if k == 0 {
                    return Err(HubError::BadLimit);
                }
                self.limit = Some(k);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// `timeout`, at most once.
#[derive(Debug, Default)]
struct TimeoutField(Option<Duration>);

impl TimeoutField {
    /// Reads the pair if it is `timeout`: `Ok(true)`; `Ok(false)` for any other name.
    fn read(&mut self, name: &[u8], value: &str) -> Result<bool, HubError> {
        if name != b"timeout" {
            return Ok(false);
        }
        if self.0.is_some() {
            return Err(HubError::DuplicateParameter("timeout"));
        }
        let value = percent_decode(value).ok_or(HubError::BadTimeout)?;
        self.0 = Some(parse_seconds(&value).ok_or(HubError::BadTimeout)?);
        Ok(true)
    }

    /// The timeout given, or `default`, at most `max`.
    fn or(&self, default: Duration, max: Duration) -> Duration {
        self.0.unwrap_or(default).min(max)
    }
}

/// Seconds as `1*DIGIT [ "." 1*DIGIT ]`. The whole part saturates (it is clamped to the
/// maximum timeout anyway); fraction digits past the ninth are dropped.
fn parse_seconds(text: &[u8]) -> Option<Duration> {
    let (whole, fraction) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], Some(&text[dot + 1..])),
        None => (text, None),
    };
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return None;
    }
    let secs = whole.iter().fold(0u64, |n, &b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    });
    let mut nanos = 0u32;
    let fraction = fraction.unwrap_or(b"");
    for i in 0..9 {
        let digit = fraction.get(i).map_or(0, |&b| u32::from(b - b'0'));
        nanos = nanos * 10 + digit;
    }
    // `nanos` < 1e9, so this cannot carry into (and overflow) the seconds.
    Some(Duration::new(secs, nanos))
}

/// Percent-decodes `s` (RFC 3986 §2.1: `%` followed by two hex digits). Borrows when there
/// is nothing to decode; `None` for a `%` not followed by two hex digits.
pub(crate) fn percent_decode(s: &str) -> Option<Cow<'_, [u8]>> {
    let bytes = s.as_bytes();
    if !bytes.contains(&b'%') {
        return Some(Cow::Borrowed(bytes));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Duration = Duration::from_secs(30);
    const MAX: Duration = Duration::from_secs(120);

    fn params(query: &str) -> Result<PollParams, HubError> {
        PollParams::parse(Some(query), DEFAULT, MAX)
    }

    #[test]
    fn channel_names_of_the_allowed_characters_are_accepted() {
        assert_eq!(channel_name("/channels/a"), Ok("a"));
        assert_eq!(channel_name("/channels/Az09_.-"), Ok("Az09_.-"));
        assert_eq!(channel_name("/channels/.."), Ok(".."));
        let longest = format!("/channels/{}", "x".repeat(128));
        assert_eq!(channel_name(&longest), Ok(&longest[10..]));
    }

    #[test]
    fn bad_channel_names_are_400() {
        let too_long = format!("/channels/{}", "x".repeat(129));
        for path in [
            "/channels/",
            too_long.as_str(),
            "/channels/a/b",
            "/channels/a%2Db",
            "/channels/a b",
            "/channels/a+b",
            "/channels/caf\u{e9}",
            "/channels/a:b",
            "/channels/a~b",
        ] {
            assert_eq!(
                channel_name(path),
                Err(HubError::BadChannelName),
                "{path:?}"
            );
        }
    }

    #[test]
    fn paths_outside_channels_are_404() {
        for path in [
            "/",
            "/channels",
            "/channel/a",
            "/Channels/a",
            "//channels/a",
            "channels/a",
        ] {
            assert_eq!(
                channel_name(path),
                Err(HubError::NotChannelPath),
                "{path:?}"
            );
        }
    }

    #[test]
    fn no_query_gives_the_defaults() {
        let expected = PollParams {
            since: None,
            epoch: None,
            limit: None,
            timeout: DEFAULT,
        };
        assert_eq!(PollParams::parse(None, DEFAULT, MAX), Ok(expected));
        assert_eq!(params(""), Ok(expected));
        assert_eq!(params("&&"), Ok(expected));
    }

    #[test]
    fn since_and_timeout_are_read() {
        let p = params("since=0&timeout=0").unwrap();
        assert_eq!((p.since, p.timeout), (Some(0), Duration::ZERO));
        let p = params("timeout=1.25&since=18446744073709551615").unwrap();
        assert_eq!(
            (p.since, p.timeout),
            (Some(u64::MAX), Duration::from_millis(1250))
        );
        assert_eq!(params("since=007").unwrap().since, Some(7));
    }

    #[test]
    fn fractional_timeouts_keep_nanoseconds_and_drop_the_rest() {
        assert_eq!(
            params("timeout=0.5").unwrap().timeout,
            Duration::from_millis(500)
        );
        assert_eq!(
            params("timeout=0.000000001").unwrap().timeout,
            Duration::from_nanos(1)
        );
        assert_eq!(
            params("timeout=0.0000000019").unwrap().timeout,
            Duration::from_nanos(1)
        );
        assert_eq!(
            params("timeout=2.0").unwrap().timeout,
            Duration::from_secs(2)
        );
    }

    #[test]
    fn timeouts_above_the_cap_are_clamped_to_it() {
        assert_eq!(params("timeout=121").unwrap().timeout, MAX);
        assert_eq!(params("timeout=120").unwrap().timeout, MAX);
        assert_eq!(
            params("timeout=99999999999999999999999.9").unwrap().timeout,
            MAX
        );
        // A default above a smaller cap is clamped too.
        let p = PollParams::parse(None, DEFAULT, Duration::from_secs(10)).unwrap();
        assert_eq!(p.timeout, Duration::from_secs(10));
    }

    #[test]
    fn malformed_since_is_400() {
        for query in [
            "since=",
            "since",
            "since=-1",
            "since=+1",
            "since=1.5",
            "since=0x10",
            "since=abc",
            "since=%",
            "since=1%2",
            "since=18446744073709551616",
            "since= 1",
        ] {
            assert_eq!(params(query), Err(HubError::BadSince), "{query:?}");
        }
    }

    #[test]
    fn malformed_timeout_is_400() {
        for query in [
            "timeout=",
            "timeout",
            "timeout=-1",
            "timeout=+1",
            "timeout=.5",
            "timeout=5.",
            "timeout=1e3",
            "timeout=1.2.3",
            "timeout=inf",
            "timeout=%zz",
            "timeout=1,5",
        ] {
            assert_eq!(params(query), Err(HubError::BadTimeout), "{query:?}");
        }
    }

    #[test]
    fn epoch_and_limit_are_read() {
        let epoch = Epoch::from_bits(0x0123_4567_89AB_CDEF).unwrap();
        let p = params("since=4&epoch=ASNFZ4mrze8&limit=10").unwrap();
        assert_eq!(
            (p.since, p.epoch, p.limit),
            (Some(4), Some(epoch), Some(10))
        );
        assert_eq!(
            p.cursor(),
            Cursor {
                since: Some(4),
                epoch: Some(epoch)
            }
        );
        assert_eq!(params("epoch=ASNFZ4mr%7Ae8").unwrap().epoch, Some(epoch));
        let huge = params("limit=99999999999999999999999").unwrap();
        assert_eq!(
            huge.limit,
            Some(usize::MAX),
            "clamped by the hub, not refused"
        );
    }

    #[test]
    fn malformed_epoch_and_limit_are_400() {
        for query in [
            "epoch=",
            "epoch",
            "epoch=abc",
            "epoch=AAAAAAAAAAA",
            "epoch=%zz",
            "epoch=ASNFZ4mrze8=",
        ] {
            assert_eq!(params(query), Err(HubError::BadEpoch), "{query:?}");
        }
        for query in [
            "limit=",
            "limit",
            "limit=0",
            "limit=-1",
            "limit=1.5",
            "limit=%zz",
            "limit=00",
        ] {
            assert_eq!(params(query), Err(HubError::BadLimit), "{query:?}");
        }
    }

    #[test]
    fn duplicate_parameters_are_400() {
        assert_eq!(
            params("epoch=ASNFZ4mrze8&epoch=ASNFZ4mrze8"),
            Err(HubError::DuplicateParameter("epoch"))
        );
        assert_eq!(
            params("limit=1&limit=2"),
            Err(HubError::DuplicateParameter("limit"))
        );
        assert_eq!(
            params("since=1&since=1"),
            Err(HubError::DuplicateParameter("since"))
        );
        assert_eq!(
            params("timeout=1&x=2&timeout=3"),
            Err(HubError::DuplicateParameter("timeout"))
        );
        // Encoded and plain spellings of one name are the same parameter.
        assert_eq!(
            params("since=1&si%6Ece=2"),
            Err(HubError::DuplicateParameter("since"))
        );
    }

    #[test]
    fn unknown_parameters_are_ignored_even_if_oddly_encoded() {
        let p = params("_=1700000000&since=3&x=%zz&%zz=1&since2=x&Since=9").unwrap();
        assert_eq!(p.since, Some(3));
    }

    #[test]
    fn names_and_values_are_percent_decoded() {
        let p = params("%73ince=%34%32&time%6Fut=%31.%35").unwrap();
        assert_eq!(
            (p.since, p.timeout),
            (Some(42), Duration::from_millis(1500))
        );
        assert_eq!(percent_decode("a%2fb%2F").as_deref(), Some(&b"a/b/"[..]));
        assert_eq!(percent_decode("%").as_deref(), None);
        assert_eq!(percent_decode("%4").as_deref(), None);
        assert_eq!(percent_decode("%g0").as_deref(), None);
        assert!(matches!(percent_decode("plain"), Some(Cow::Borrowed(_))));
    }

    fn multi(query: &str) -> Result<MultiParams, HubError> {
        MultiParams::parse(Some(query), DEFAULT, MAX, 3)
    }

    #[test]
    fn each_channel_owns_the_cursor_that_follows_it() {
        let epoch = "ASNFZ4mrze8";
        let q = format!("channel=a&since=5&epoch={epoch}&limit=2&channel=b&timeout=0.5");
        let p = multi(&q).unwrap();
        assert_eq!(p.timeout, Duration::from_millis(500));
        assert_eq!(p.channels.len(), 2);
        let (a, b) = (&p.channels[0], &p.channels[1]);
        assert_eq!(a.name, "a");
        assert_eq!(a.cursor.since, Some(5));
        assert_eq!(
            a.cursor.epoch.map(|e| e.text().as_str().to_string()),
            Some(epoch.into())
        );
        assert_eq!(a.limit, Some(2));
        assert_eq!(
            (b.name.as_str(), b.cursor, b.limit),
            ("b", Cursor::default(), None)
        );
        // `timeout` may stand anywhere, also first; the default applies without it.
        let p = multi("timeout=7&channel=x&since=1").unwrap();
        assert_eq!(p.timeout, Duration::from_secs(7));
        assert_eq!(multi("channel=x").unwrap().timeout, DEFAULT);
    }

    #[test]
    fn a_multi_channel_query_without_channels_or_with_too_many_is_refused() {
        assert_eq!(multi(""), Err(HubError::NoChannel));
        assert_eq!(multi("timeout=3"), Err(HubError::NoChannel));
        assert!(multi("channel=a&channel=b&channel=c").is_ok());
        assert_eq!(
            multi("channel=a&channel=b&channel=c&channel=d"),
            Err(HubError::TooManySubscriptions)
        );
    }

    #[test]
    fn multi_channel_names_are_taken_as_written_and_once() {
        assert_eq!(multi("channel=a%2Eb"), Err(HubError::BadChannelName));
        assert_eq!(multi("channel="), Err(HubError::BadChannelName));
        assert_eq!(multi("channel=a/b"), Err(HubError::BadChannelName));
        assert_eq!(
            multi("channel=a&since=1&channel=a"),
            Err(HubError::DuplicateParameter("channel"))
        );
        assert_eq!(
            multi("channel=a&since=1&since=2"),
            Err(HubError::DuplicateParameter("since"))
        );
        // A repeated parameter in different groups is no repetition.
        assert!(multi("channel=a&since=1&channel=b&since=2").is_ok());
    }

    #[test]
    fn a_cursor_before_the_first_channel_belongs_to_none_and_is_refused() {
        assert_eq!(
            multi("since=4&channel=a"),
            Err(HubError::UngroupedParameter("since"))
        );
        assert_eq!(
            multi("limit=4&channel=a"),
            Err(HubError::UngroupedParameter("limit"))
        );
        // Malformed, it is refused for what it is.
        assert_eq!(multi("since=x&channel=a"), Err(HubError::BadSince));
        assert_eq!(multi("channel=a&since=-1"), Err(HubError::BadSince));
        // Unknown parameters are ignored wherever they are.
        assert!(multi("_=1&channel=a&x=2").is_ok());
    }
}
