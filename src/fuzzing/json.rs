//! `json`: the strict JSON reader ([`crate::hub::json::strict`]) against a reference
//! (serde_json); `mux_command`: the `pushwire.v1` command parser ([`crate::hub::mux`]).

use crate::hub::json::strict::{Members, ValueKind, validate};
use crate::hub::mux::{Command, CommandLimits, CommandProblem, MAX_REF_LEN, Ref};
use crate::hub::query::is_valid_channel_name;

use super::Reader;

/// A reference JSON reader.
#[derive(Debug, Clone, Copy)]
pub struct JsonReference {
    /// Is the text JSON, nested at most [`REFERENCE_DEPTH`] deep? `None` where the
    /// reference differs from RFC 8259 on purpose (serde_json refuses a number out of
    /// `f64`'s range, like `1e309`).
    pub verdict: fn(&[u8]) -> Option<bool>,
    /// A JSON string literal's text, unescaped (`None` if it is not one).
    pub string: fn(&str) -> Option<String>,
}

/// The depth serde_json's `Value` accepts: its recursion limit of 128 refuses the 128th
/// level.
pub const REFERENCE_DEPTH: usize = 127;

/// serde_json, for `cargo test` (the fuzz target passes its own copy of it).
#[cfg(test)]
const REFERENCE: Option<JsonReference> = Some(JsonReference {
    verdict: |text| match serde_json::from_slice::<serde_json::Value>(text) {
        Ok(_) => Some(true),
        Err(e) if e.to_string().starts_with("number out of range") => None,
        Err(_) => Some(false),
    },
    string: |literal| serde_json::from_str(literal).ok(),
});
#[cfg(not(test))]
const REFERENCE: Option<JsonReference> = None;

/// The target with the reference the build has (serde_json under `cargo test`).
pub fn json(data: &[u8]) {
    json_against(data, REFERENCE);
}

/// **json** — `validate` and `Members` on arbitrary bytes.
///
/// Input: the bytes themselves, as a JSON text.
///
/// Invariants: no panic; an error is at a byte of the input (or its end); the verdict at
/// depth [`REFERENCE_DEPTH`] is the reference's, where it has one; a text valid at depth
/// 64 is valid at any greater depth, and an error other than the depth is the same at
/// every depth; a valid text is valid inside an array and as an object's member, one
/// level deeper; a valid object's members are all read, each value
/// valid alone with the kind its first byte says, strings unescaped as the reference
/// does and plain integers read as the reference's digits; an invalid text starting with
/// `{` ends its members with an error.
pub fn json_against(data: &[u8], reference: Option<JsonReference>) {
    let at_64 = validate(data, 64);
    let at_reference = validate(data, REFERENCE_DEPTH);
    let unbounded = validate(data, usize::MAX);
    for result in [&at_64, &at_reference, &unbounded] {
        if let Err(e) = result {
            assert!(e.at <= data.len(), "{e:?} past the end");
        }
    }
    match &at_64 {
        Ok(()) => assert!(at_reference.is_ok() && unbounded.is_ok()),
        Err(e) if e.expected != "no deeper nesting" => {
            assert_eq!(at_reference.as_ref(), Err(e));
            assert_eq!(unbounded.as_ref(), Err(e));
        }
        Err(_) => {}
    }
    if let Some(reference) = reference
        && let Some(theirs) = (reference.verdict)(data)
    {
        assert_eq!(at_reference.is_ok(), theirs, "{at_reference:?}");
    }

    // The same text one level down: as an array's element and as a member's value.
    let mut in_array = b"[".to_vec();
    in_array.extend_from_slice(data);
    in_array.push(b']');
    let mut in_object = b"{\"k\":".to_vec();
    in_object.extend_from_slice(data);
    in_object.push(b'}');
    // (Only one way: `1,2` is not JSON, `[1,2]` is.)
    if at_64.is_ok() {
        for wrapped in [&in_array, &in_object] {
            assert!(validate(wrapped, 65).is_ok());
            assert!(validate(wrapped, 64).is_ok() == validate(data, 63).is_ok());
        }
    }

    let Ok(text) = std::str::from_utf8(data) else {
        assert!(at_64.is_err(), "JSON is UTF-8");
        return;
    };
    let starts_an_object = text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{');
    let Ok(members) = Members::new(text, 63) else {
        assert!(!starts_an_object);
        return;
    };
    assert!(starts_an_object);
    let mut ended_in_error = false;
    for member in members {
        let (_key, value) = match member {
            Ok(member) => member,
            Err(e) => {
                assert!(e.at <= data.len());
                ended_in_error = true;
                continue;
            }
        };
        let raw = value.raw();
        assert!(validate(raw.as_bytes(), 63).is_ok(), "{raw}");
        let first = raw.as_bytes()[0];
        let kind = match first {
            b'{' => ValueKind::Object,
            b'[' => ValueKind::Array,
            b'"' => ValueKind::String,
            b't' => ValueKind::True,
            b'f' => ValueKind::False,
            b'n' => ValueKind::Null,
            _ => ValueKind::Number,
        };
        assert_eq!(value.kind(), kind, "{raw}");
        assert_eq!(value.as_str().is_some(), kind == ValueKind::String);
        if let (Some(ours), Some(reference)) = (value.as_str(), reference) {
            assert_eq!(Some(&*ours), (reference.string)(raw).as_deref(), "{raw}");
        }
        if let Some(n) = value.as_u64() {
            assert_eq!(n.to_string(), raw);
        }
    }
    assert_eq!(ended_in_error, at_64.is_err(), "{at_64:?}");
}

/// **mux_command** — `Command::parse` on arbitrary bytes.
///
/// Input: `[config: u8] [command text ...]`. `config`: bits 0–2 the depth limit (0, 1,
/// 2, 3, 4, 8, 16 or 64), bit 3 a max message of 16 bytes (else 1 MiB), bit 4 a max
/// command of 64 bytes (else 1 MiB).
///
/// Invariants: no panic. A command accepted is within the limits (its text, its data),
/// is JSON and an object, names a valid channel, and written back ([`Command::write`])
/// is a text that parses to the same command and writes the same again. A command
/// refused is 413 exactly for what is too large, else 400; "malformed" exactly when the
/// text is not a JSON object within the depth (unless something else was found first);
/// its echoed channel is valid and its ref within [`MAX_REF_LEN`]; its `error` frame is
/// a JSON object of type `error`.
pub fn mux_command(data: &[u8]) {
    let mut r = Reader { data };
    let config = r.u8();
    let text = r.rest();
    let limits = CommandLimits {
        max_command: if config & 0x10 != 0 { 64 } else { 1 << 20 },
        max_message: if config & 0x08 != 0 { 16 } else { 1 << 20 },
        max_depth: [0, 1, 2, 3, 4, 8, 16, 64][usize::from(config & 7)],
    };
    let fits = text.len() <= limits.max_command;
    let is_object = std::str::from_utf8(text).is_ok_and(|t| {
        t.trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{')
            && validate(text, limits.max_depth + 1).is_ok()
    });

    match Command::parse(text, &limits) {
        Ok(command) => {
            assert!(fits && is_object);
            assert!(is_valid_channel_name(command.channel()));
            if let Command::Publish { data, .. } = &command {
                assert!(data.len() <= limits.max_message);
            }
            if let Some(Ref::Text(reference)) = command.reference() {
                assert!(reference.len() <= MAX_REF_LEN);
            }
            // Written back (escapes may make it longer than the limit: lift it).
            let written = command.to_text();
            let lifted = CommandLimits {
                max_command: usize::MAX,
                ..limits
            };
            let reread = Command::parse(written.as_bytes(), &lifted);
            assert_eq!(reread.as_ref(), Ok(&command), "{written}");
            assert_eq!(reread.map(|c| c.to_text()).as_deref(), Ok(&*written));
        }
        Err(err) => {
            let too_large = matches!(
                err.problem,
                CommandProblem::TooLarge
                    | CommandProblem::Hub(crate::hub::HubError::MessageTooLarge)
            );
            assert_eq!(err.status().as_u16(), if too_large { 413 } else { 400 });
            assert_eq!(matches!(err.problem, CommandProblem::TooLarge), !fits);
            if matches!(err.problem, CommandProblem::Malformed(_)) {
                assert!(!is_object, "{err:?}");
            } else if fits && !matches!(err.problem, CommandProblem::DuplicateField(_)) {
                assert!(is_object, "{err:?}");
            }
            if let Some(channel) = &err.channel {
                assert!(is_valid_channel_name(channel));
            }
            if let Some(Ref::Text(reference)) = &err.reference {
                assert!(reference.len() <= MAX_REF_LEN);
            }
            let frame = err.frame();
            let mut members = Members::new(&frame, 0).expect("an object");
            let (key, value) = members.next().expect("a member").expect("JSON");
            assert_eq!((&*key, value.raw()), ("type", "\"error\""));
            assert!(members.all(|m| m.is_ok()), "{frame}");
        }
    }
}
