//! Invariant: DEFLATE encoder round trip. Arbitrary data cut into messages (and parts),
//! compressed at any level, window (2^8..2^15) and takeover setting: every message
//! inflates to exactly its bytes through a strict decoder and through miniz_oxide's
//! (keeping the window across messages with takeover), ends in the sync flush, and no
//! match reaches farther back than 2^w.
#![no_main]

use miniz_oxide::inflate::stream::{InflateState, inflate};
use miniz_oxide::{DataFormat, MZError, MZFlush};

/// miniz_oxide's raw inflate, each message with its `00 00 ff ff` put back.
fn miniz(messages: &[Vec<u8>], keep_context: bool) -> Result<Vec<Vec<u8>>, String> {
    let mut state = InflateState::new_boxed(DataFormat::Raw);
    let mut buf = vec![0u8; 64 * 1024];
    let mut inflated = Vec::with_capacity(messages.len());
    for message in messages {
        if !keep_context {
            state = InflateState::new_boxed(DataFormat::Raw);
        }
        let mut input = message.clone();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut rest = &input[..];
        let mut data = Vec::new();
        loop {
            let r = inflate(&mut state, rest, &mut buf, MZFlush::Sync);
            data.extend_from_slice(&buf[..r.bytes_written]);
            rest = &rest[r.bytes_consumed..];
            match r.status {
                Ok(_) if rest.is_empty() && r.bytes_written < buf.len() => break,
                Ok(_) => {}
                Err(MZError::Buf) if rest.is_empty() => break,
                Err(e) => return Err(format!("miniz_oxide inflate: {e:?}")),
            }
        }
        inflated.push(data);
    }
    Ok(inflated)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pushwire::fuzzing::deflate_roundtrip_against(data, Some(miniz))
});
