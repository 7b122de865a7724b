//! `redis://` URLs: where the Redis engine connects, and as whom.
//!
//! ```text
//! redis://[[user]:password@]host[:port][/db]
//! ```
//!
//! The form of the IANA's provisional `redis` scheme, as `redis-cli -u` and the common
//! clients read it:
//!
//! - `host` is a name, an IPv4 address, or an IPv6 address in brackets (`[::1]`).
//! - `port` defaults to 6379, Redis's own, when it is left out: the issue writes
//!   `host:port`, but every other client accepts `redis://localhost`, and refusing it
//!   would only surprise.
//! - `user` and `password` are percent-decoded (`%40` for `@`; a `/`, `?` or `#` in a
//!   password must be written `%2F`, `%3F`, `%23`, or it would end the host part). A
//!   password alone (`redis://:secret@host`) authenticates as the default user
//!   (`AUTH secret`); with a user, as that ACL user (`AUTH user secret`). A user without
//!   a password is refused rather than guessed at.
//! - `db` is the database number for `SELECT`, 0 when left out.
//!
//! Refused, each with its own [`UrlError`]: other schemes (`rediss://` because TLS is not
//! supported), an empty or malformed host, a bad port or database, query strings
//! (`?…`, which some clients read as options), and anything after the database.
//!
//! Neither [`Display`](fmt::Display) nor [`Debug`](fmt::Debug) ever shows the password:
//! both write `***` in its place, so a URL can go into logs and error messages. No
//! [`UrlError`] repeats any part of the text it refused, for the same reason.

// `core::net`: addresses only, no sockets (`std::net` is the drivers', tests/layout.rs).
use core::net::Ipv6Addr;
use std::fmt;
use std::str::FromStr;

/// A parsed `redis://` URL.
///
/// ```
/// use pushwire::redis::RedisUrl;
///
/// let url = RedisUrl::parse("redis://app:s3cr%40t@10.0.0.7/2")?;
/// assert_eq!((url.host(), url.port(), url.db()), ("10.0.0.7", 6379, 2));
/// assert_eq!(url.user(), Some("app"));
/// assert_eq!(url.password(), Some(&b"s3cr@t"[..]));
/// assert_eq!(url.to_string(), "redis://app:***@10.0.0.7:6379/2");
/// # Ok::<(), pushwire::redis::UrlError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// A host name or IP address; an IPv6 address without its brackets.
    host: String,
    port: u16,
    /// `None` for the default user.
    user: Option<String>,
    /// Bytes, not text: a password may percent-decode to anything.
    password: Option<Vec<u8>>,
    db: u32,
}

impl RedisUrl {
    /// Redis's port, used when the URL names none.
    pub const DEFAULT_PORT: u16 = 6379;

    /// Reads `redis://[[user]:password@]host[:port][/db]`.
    pub fn parse(text: &str) -> Result<RedisUrl, UrlError> {
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UrlError::BadCharacter);
        }
        let (scheme, rest) = text.split_once("://").ok_or(UrlError::UnsupportedScheme)?;
        if scheme.eq_ignore_ascii_case("rediss") {
            return Err(UrlError::TlsNotSupported);
        }
        if !scheme.eq_ignore_ascii_case("redis") {
            return Err(UrlError::UnsupportedScheme);
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        if path.contains('@') {
            return Err(UrlError::DelimiterInUserInfo);
        }
        let db = database(path)?;
        let (user, password, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => {
                let (user, password) = userinfo
                    .split_once(':')
                    .ok_or(UrlError::UserWithoutPassword)?;
                let user = percent_decode(user)?;
                let user = String::from_utf8(user).map_err(|_| UrlError::BadPercentEncoding)?;
                let password = percent_decode(password)?;
                if password.is_empty() {
                    return Err(UrlError::EmptyPassword);
                }
                (
                    (!user.is_empty()).then_some(user),
                    Some(password),
                    host_port,
                )
            }
            None => (None, None, authority),
        };
        let (host, port) = host_and_port(host_port)?;
        Ok(RedisUrl {
            host: host.to_string(),
            port,
            user,
            password,
            db,
        })
    }

    /// The host name or IP address (an IPv6 address without brackets), as written.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port: as written, or [`DEFAULT_PORT`](Self::DEFAULT_PORT).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The ACL user to authenticate as, percent-decoded; `None` for the default user.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The password, percent-decoded; `None` when the URL has none (no `AUTH` is sent).
    pub fn password(&self) -> Option<&[u8]> {
        self.password.as_deref()
    }

    /// The database to `SELECT` (0, Redis's default, when the URL names none).
    pub fn db(&self) -> u32 {
        self.db
    }
}

impl FromStr for RedisUrl {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<RedisUrl, UrlError> {
        RedisUrl::parse(text)
    }
}

/// `host` and the port of `host[:port]`.
fn host_and_port(text: &str) -> Result<(&str, u16), UrlError> {
    let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
        let (address, after) = bracketed.split_once(']').ok_or(UrlError::BadHost)?;
        if address.parse::<Ipv6Addr>().is_err() {
            return Err(UrlError::BadHost);
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(UrlError::BadHost)?),
        };
        (address, port)
    } else {
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        let name_byte = |b: u8| b.is_ascii_alphanumeric() || b"-._".contains(&b);
        if text.matches(':').count() > 1 {
            // An IPv6 address without its brackets.
            return Err(UrlError::BadHost);
        }
        if host.is_empty() {
            return Err(UrlError::EmptyHost);
        }
        if !host.bytes().all(name_byte) {
            return Err(UrlError::BadHost);
        }
        (host, port)
    };
    let port = match port {
        None => RedisUrl::DEFAULT_PORT,
        Some(digits) => decimal(digits)
            .and_then(|n| u16::try_from(n).ok())
            .filter(|&port| port != 0)
            .ok_or(UrlError::BadPort)?,
    };
    Ok((host, port))
}

/// The database of `[/db]`, and nothing after it.
fn database(path: &str) -> Result<u32, UrlError> {
    if path.starts_with('?') {
        return Err(UrlError::QueryNotSupported);
    }
    let Some(path) = path.strip_prefix('/') else {
        // Empty, or a fragment.
        return match path {
            "" => Ok(0),
            _ => Err(UrlError::TrailingJunk),
        };
    };
    let end = path.find(['/', '?', '#']).unwrap_or(path.len());
    let (digits, rest) = path.split_at(end);
    let db = match digits {
        "" => 0,
        _ => decimal(digits)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(UrlError::BadDatabase)?,
    };
    match rest.as_bytes().first() {
        None => Ok(db),
        Some(b'?') => Err(UrlError::QueryNotSupported),
        Some(_) => Err(UrlError::TrailingJunk),
    }
}

/// A run of ASCII digits as a number; `None` if empty, not digits, or past `u64`.
fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `%XX` escapes decoded; every other byte as it is.
fn percent_decode(text: &str) -> Result<Vec<u8>, UrlError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
            let (Some(high), Some(low)) = (hex(bytes.get(at + 1)), hex(bytes.get(at + 2))) else {
                return Err(UrlError::BadPercentEncoding);
            };
            out.push((high * 16 + low) as u8);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    Ok(out)
}

/// The normalized URL, port and database always written, the password as `***`:
/// `redis://app:***@10.0.0.7:6379/2`. The user is percent-encoded again where needed.
impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redis://")?;
        if self.password.is_some() {
            if let Some(user) = &self.user {
                for b in user.bytes() {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        write!(f, "{}", b as char)?;
                    } else {
                        write!(f, "%{b:02X}")?;
                    }
                }
            }
            f.write_str(":***@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        write!(f, ":{}/{}", self.port, self.db)
    }
}

/// `Debug` shows every field but the password, which is `***` when present.
impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Hidden;
        impl fmt::Debug for Hidden {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("***")
            }
        }
        f.debug_struct("RedisUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| Hidden))
            .field("db", &self.db)
            .finish()
    }
}

// ===== UrlError =====

/// Why a Redis URL was refused. The message says what is wrong and what a correct URL
/// looks like, and never repeats the refused text (it may hold a password).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// A space, a control character or a non-ASCII character: such bytes must be
    /// percent-encoded in a URL.
    BadCharacter,
    /// Not `redis://…`: another scheme, or no `://` at all.
    UnsupportedScheme,
    /// `rediss://`: Redis over TLS, which the engine does not speak.
    TlsNotSupported,
    /// An `@` after the host: the user or password holds a `/`, `?` or `#` that was not
    /// percent-encoded, and it ended the host part early.
    DelimiterInUserInfo,
    /// `user@host`: a user needs a password (`user:password@host`).
    UserWithoutPassword,
    /// `user:@host` or `:@host`: the password is empty.
    EmptyPassword,
    /// A `%` not followed by two hex digits, or a user that does not decode to UTF-8.
    BadPercentEncoding,
    /// Nothing where the host should be.
    EmptyHost,
    /// A host that is not a name (letters, digits, `-`, `.`, `_`), an IPv4 address, or an
    /// IPv6 address in brackets.
    BadHost,
    /// A port that is not a number from 1 to 65535.
    BadPort,
    /// A database that is not a number (up to 4,294,967,295).
    BadDatabase,
    /// `?…` after the host or database: options in the query are not supported.
    QueryNotSupported,
    /// Something after the database (`/0/x`), or a fragment (`#…`).
    TrailingJunk,
}

/// What a correct URL looks like, at the end of every message.
const EXPECTED: &str = "expected redis://[[user]:password@]host[:port][/db]";

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problem = match self {
            UrlError::BadCharacter => {
                "the redis url holds a space, control or non-ascii character (percent-encode it)"
            }
            UrlError::UnsupportedScheme => "not a redis:// url",
            UrlError::TlsNotSupported => "rediss:// is Redis over TLS, and TLS is not supported",
            UrlError::DelimiterInUserInfo => {
                "the redis url's user or password holds a / ? or # (write them as %2F %3F %23)"
            }
            UrlError::UserWithoutPassword => "the redis url names a user without a password",
            UrlError::EmptyPassword => "the redis url's password is empty",
            UrlError::BadPercentEncoding => {
                "bad percent-encoding in the redis url's user or password (% takes two hex digits; the user must be UTF-8)"
            }
            UrlError::EmptyHost => "the redis url has no host",
            UrlError::BadHost => {
                "the redis url's host is not a name, an IPv4 address or an [IPv6] address"
            }
            UrlError::BadPort => "the redis url's port is not a number from 1 to 65535",
            UrlError::BadDatabase => "the redis url's database is not a number",
            UrlError::QueryNotSupported => {
                "the redis url has a query string, which is not supported"
            }
            UrlError::TrailingJunk => "the redis url goes on after its host or database",
        };
        write!(f, "{problem}; {EXPECTED}")
    }
}

impl std::error::Error for UrlError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// host, port, user, password, db.
    type Parts<'a> = (&'a str, u16, Option<&'a str>, Option<&'a [u8]>, u32);

    fn parts(url: &RedisUrl) -> Parts<'_> {
        (url.host(), url.port(), url.user(), url.password(), url.db())
    }

    #[test]
    fn each_form_of_the_url_reads_to_its_parts() {
        let cases: &[(&str, Parts<'_>)] = &[
            (
                "redis://127.0.0.1:6379/0",
                ("127.0.0.1", 6379, None, None, 0),
            ),
            ("redis://localhost", ("localhost", 6379, None, None, 0)),
            ("redis://localhost/", ("localhost", 6379, None, None, 0)),
            (
                "REDIS://Cache-1.internal_x:7000/15",
                ("Cache-1.internal_x", 7000, None, None, 15),
            ),
            ("redis://[::1]:6380/3", ("::1", 6380, None, None, 3)),
            ("redis://[fe80::1]", ("fe80::1", 6379, None, None, 0)),
            ("redis://:secret@h", ("h", 6379, None, Some(b"secret"), 0)),
            (
                "redis://app:secret@h:1/4294967295",
                ("h", 1, Some("app"), Some(b"secret"), u32::MAX),
            ),
            // Percent-decoded; the last @ ends the user info; a : in the password is its own.
            (
                "redis://a%20b:p%40ss:w%2f%3F%23@h",
                ("h", 6379, Some("a b"), Some(b"p@ss:w/?#"), 0),
            ),
            ("redis://:p@ss@h", ("h", 6379, None, Some(b"p@ss"), 0)),
            ("redis://:%ff%00@h", ("h", 6379, None, Some(b"\xff\x00"), 0)),
        ];
        for &(text, expected) in cases {
            let url = RedisUrl::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parts(&url), expected, "{text}");
            assert_eq!(text.parse::<RedisUrl>(), Ok(url));
        }
    }

    #[test]
    fn each_malformed_url_is_refused_with_its_error() {
        use UrlError::*;
        let cases: &[(&str, UrlError)] = &[
            ("redis://h /0", BadCharacter),
            ("redis://:pässword@h", BadCharacter),
            ("", UnsupportedScheme),
            ("127.0.0.1:6379", UnsupportedScheme),
            ("http://h:6379", UnsupportedScheme),
            ("unix:///tmp/redis.sock", UnsupportedScheme),
            ("redis:/h", UnsupportedScheme),
            ("rediss://h:6380", TlsNotSupported),
            ("REDISS://h", TlsNotSupported),
            ("redis://user@h", UserWithoutPassword),
            ("redis://user:@h", EmptyPassword),
            ("redis://:@h", EmptyPassword),
            ("redis://:%4@h", BadPercentEncoding),
            ("redis://:%zz@h", BadPercentEncoding),
            ("redis://%ff:x@h", BadPercentEncoding),
            ("redis://", EmptyHost),
            ("redis:///0", EmptyHost),
            ("redis://:6379", EmptyHost),
            ("redis://:pw@", EmptyHost),
            ("redis://h!:6379", BadHost),
            ("redis://::1:6379", BadHost),
            ("redis://[::1", BadHost),
            ("redis://[not-ip]:1", BadHost),
            ("redis://[::1]6379", BadHost),
            ("redis://h:", BadPort),
            ("redis://h:0", BadPort),
            ("redis://h:65536", BadPort),
            ("redis://h:+80", BadPort),
            ("redis://h/x", BadDatabase),
            ("redis://h/-1", BadDatabase),
            ("redis://h/4294967296", BadDatabase),
            ("redis://h/0x", BadDatabase),
            ("redis://h?db=1", QueryNotSupported),
            ("redis://h:1/0?timeout=5", QueryNotSupported),
            ("redis://:a?b@h", DelimiterInUserInfo),
            ("redis://:a/b@h/0", DelimiterInUserInfo),
            ("redis://u:a#b@h", DelimiterInUserInfo),
            ("redis://h/0/1", TrailingJunk),
            ("redis://h/0#x", TrailingJunk),
            ("redis://h#x", TrailingJunk),
        ];
        for &(text, expected) in cases {
            assert_eq!(RedisUrl::parse(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn every_error_says_what_a_correct_url_looks_like() {
        let tls = UrlError::TlsNotSupported.to_string();
        assert!(tls.contains("TLS is not supported"), "{tls}");
        for e in [
            UrlError::BadCharacter,
            UrlError::UnsupportedScheme,
            UrlError::TlsNotSupported,
            UrlError::DelimiterInUserInfo,
            UrlError::UserWithoutPassword,
            UrlError::EmptyPassword,
            UrlError::BadPercentEncoding,
            UrlError::EmptyHost,
            UrlError::BadHost,
            UrlError::BadPort,
            UrlError::BadDatabase,
            UrlError::QueryNotSupported,
            UrlError::TrailingJunk,
        ] {
            let text = e.to_string();
            assert!(
                text.ends_with("; expected redis://[[user]:password@]host[:port][/db]"),
                "{text}"
            );
        }
    }

    #[test]
    fn display_and_debug_never_show_the_password() {
        for (text, shown) in [
            ("redis://:hunter2@h", "redis://:***@h:6379/0"),
            ("redis://app:hunter2@[::1]:7/1", "redis://app:***@[::1]:7/1"),
            ("redis://a%40b:hunter%32@h", "redis://a%40b:***@h:6379/0"),
            ("redis://h", "redis://h:6379/0"),
        ] {
            let url = RedisUrl::parse(text).unwrap();
            assert_eq!(url.to_string(), shown);
            let debug = format!("{url:?}");
            for secret in ["hunter2", "hunter%32"] {
                assert!(!debug.contains(secret), "{debug}");
                assert!(!url.to_string().contains(secret));
            }
            if url.password().is_some() {
                assert!(debug.contains(r#"password: Some(***)"#), "{debug}");
            }
            // The written URL reads back to the same URL, but for the password.
            let again = RedisUrl::parse(&url.to_string().replace("***", "x")).unwrap();
            assert_eq!(
                (again.host(), again.port(), again.user(), again.db()),
                (url.host(), url.port(), url.user(), url.db())
            );
        }
        assert_eq!(
            format!("{:?}", RedisUrl::parse("redis://u:pw@h:1/2").unwrap()),
            r#"RedisUrl { host: "h", port: 1, user: Some("u"), password: Some(***), db: 2 }"#
        );
    }

    #[test]
    fn errors_never_repeat_the_refused_text() {
        for text in [
            "redis://:hunter2@h:99999",
            "rediss://:hunter2@h",
            "redis://u:hunter2@h/x",
        ] {
            let e = RedisUrl::parse(text).unwrap_err();
            assert!(!e.to_string().contains("hunter2"), "{e}");
            assert!(!format!("{e:?}").contains("hunter2"));
        }
    }
}
