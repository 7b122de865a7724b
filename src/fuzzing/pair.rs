//! `pair_roundtrip`: messages from a client to a server and back through an in-memory
//! `Pair`, whatever the cut points.

use std::borrow::Cow;

use crate::config::WsLimits;
use crate::message::Message;
use crate::pair::{OwnedEvent, Pair};

use super::{Reader, Rng, fnv1a, seed_from};

/// One thing the client does in a [`pair_roundtrip`] run.
#[derive(Debug, Clone)]
enum PairOp {
    /// Send this message, in fragments of this size (`None`: one frame).
    Send(Message<'static>, Option<usize>),
    /// Ping with this payload (at most 125 bytes).
    Ping(Vec<u8>),
}

/// Decodes the client's operations: `[kind][len][fragment][bytes ...]` each. `kind % 8`:
/// 0–2 text, 3–5 binary, 6 ping, 7 one large message (text if bit 6, fragmented if bit 7)
/// if `allow_large` (they are slow: only inputs that ask for one pay for it).
fn pair_ops(r: &mut Reader<'_>, allow_large: bool) -> Vec<PairOp> {
    let mut ops = Vec::new();
    let mut large = !allow_large;
    while !r.data.is_empty() && ops.len() < 64 {
        let kind = r.u8();
        let len = usize::from(r.u8());
        let frag = usize::from(r.u8());
        let op = match kind % 8 {
            0..=5 => {
                let bytes = r.take(len);
                let fragment = (frag != 0).then_some(frag);
                if kind % 8 < 3 {
                    let text = String::from_utf8_lossy(bytes).into_owned();
                    PairOp::Send(Message::Text(Cow::Owned(text)), fragment)
                } else {
                    PairOp::Send(Message::Binary(Cow::Owned(bytes.to_vec())), fragment)
                }
            }
            6 => PairOp::Ping(r.take(len.min(125)).to_vec()),
            // A large message (≥ 64 KiB, so a 64-bit length), at most one per run; its
            // bytes repeat a pattern from the input rather than coming from it.
            _ if !large => {
                large = true;
                let size = 65_536 + len * 32 + frag;
                let pattern = r.take(8).to_vec();
                let bytes: Vec<u8> = (0..size)
                    .map(|i| {
                        pattern
                            .get(i % pattern.len().max(1))
                            .copied()
                            .unwrap_or(i as u8)
                            ^ (i >> 8) as u8
                    })
                    .collect();
                let fragment = (kind & 0x80 != 0).then_some(1 + frag * 257);
                if kind & 0x40 != 0 {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    PairOp::Send(Message::Text(Cow::Owned(text)), fragment)
                } else {
                    PairOp::Send(Message::Binary(Cow::Owned(bytes)), fragment)
                }
            }
            _ => continue,
        };
        ops.push(op);
    }
    ops
}

/// A fragment size of at least `size` that splits a `len`-byte message into at most
/// the default `max_fragments` (4096) frames, which the receiver accepts.
fn fragment_size(len: usize, size: usize) -> usize {
    let max = WsLimits::default().max_fragments as usize;
    size.max(len.div_ceil(max)).max(1)
}

/// The outcome of one [`pair_roundtrip`] run: what each end saw and every byte sent.
type PairRun = (Vec<OwnedEvent>, Vec<OwnedEvent>, Vec<u8>, Vec<u8>);

/// One run: the client performs `ops` (all before delivering anything, or each followed
/// by a delivery, per `batch`), the server echoes every message it receives (fragmented
/// if `echo_fragment` says so), and the byte streams are cut by `cuts`.
fn pair_run(
    seed: [u8; 32],
    ops: &[PairOp],
    batch: bool,
    echo_fragment: Option<usize>,
    cuts: &mut dyn FnMut() -> usize,
) -> PairRun {
    let mut pair = Pair::connect(WsLimits::default(), seed);
    let mut server_seen = Vec::new();
    let mut client_seen = Vec::new();
    let mut round = |pair: &mut Pair| {
        // Deliver, let the server echo what arrived, deliver the echoes.
        loop {
            pair.drive_with_cuts(&mut *cuts);
            let events = pair.take_server_events();
            client_seen.extend(pair.take_client_events());
            if events.is_empty() {
                break;
            }
            for event in &events {
                if let OwnedEvent::Message(m) = event {
                    match echo_fragment {
                        Some(size) => pair.server_send_fragmented(m, fragment_size(m.len(), size)),
                        None => pair.server_send(m),
                    }
                }
            }
            server_seen.extend(events);
        }
    };
    for op in ops {
        match op {
            PairOp::Send(m, None) => pair.client_send(m),
            PairOp::Send(m, Some(size)) => {
                pair.client_send_fragmented(m, fragment_size(m.len(), *size))
            }
            PairOp::Ping(p) => pair.client_ping(p),
        }
        if !batch {
            round(&mut pair);
        }
    }
    round(&mut pair);
    assert!(
        pair.client.is_open() && pair.server.is_open(),
        "both ends open"
    );
    let (client_bytes, server_bytes) = (pair.client_bytes().to_vec(), pair.server_bytes().to_vec());
    (server_seen, client_seen, client_bytes, server_bytes)
}

/// **pair_roundtrip** — arbitrary messages through a client and a server wired together
/// in memory ([`Pair`]), the server echoing each one, with the byte streams cut anywhere.
///
/// Input: `[config][ops...]`, each op `[kind][len][fragment][bytes]`: text (the bytes
/// made UTF-8 by `from_utf8_lossy`), binary, a ping, or one large (≥ 64 KiB) text or
/// binary (see `pair_ops`); `fragment` non-zero sends it in fragments of that size.
/// Config bit 0 delivers after every op instead of once at the end, bits 1–3 pick a
/// fragment size for the server's echo, bit 4 allows the large message. The masking
/// seed and the cut points are derived from the input.
///
/// Invariants: the server receives exactly the messages sent, in order, and a `Ping` for
/// each ping; the client receives exactly the same messages back, in order, and a `Pong`
/// with each ping's payload, in order; nobody closes; and whatever the cuts (pseudo-
/// random, one byte at a time for small runs, none), the events and the bytes on both
/// wires are the same.
pub fn pair_roundtrip(data: &[u8]) {
    let mut r = Reader { data };
    let config = r.u8();
    let ops = pair_ops(&mut r, config & 0x10 != 0);
    let batch = config & 1 == 0;
    let echo_fragment = match (config >> 1) & 7 {
        0..=2 => None,
        n => Some([1, 2, 3, 125, 4096][usize::from(n - 3)]),
    };
    let seed = seed_from(data, 21);

    let whole = pair_run(seed, &ops, batch, echo_fragment, &mut || usize::MAX);
    let (server_seen, client_seen, _, _) = &whole;

    let sent: Vec<OwnedEvent> = ops
        .iter()
        .map(|op| match op {
            PairOp::Send(m, _) => OwnedEvent::Message(m.clone()),
            PairOp::Ping(p) => OwnedEvent::Ping(p.clone()),
        })
        .collect();
    assert_eq!(
        server_seen, &sent,
        "the server receives what the client sent"
    );
    let messages: Vec<&OwnedEvent> = sent
        .iter()
        .filter(|e| matches!(e, OwnedEvent::Message(_)))
        .collect();
    let echoed: Vec<&OwnedEvent> = client_seen
        .iter()
        .filter(|e| matches!(e, OwnedEvent::Message(_)))
        .collect();
    assert_eq!(
        echoed, messages,
        "the client receives every message back, in order"
    );
    let pings: Vec<&Vec<u8>> = ops
        .iter()
        .filter_map(|op| match op {
            PairOp::Ping(p) => Some(p),
            PairOp::Send(..) => None,
        })
        .collect();
    let pongs: Vec<&Vec<u8>> = client_seen
        .iter()
        .filter_map(|e| match e {
            OwnedEvent::Pong(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(pongs, pings, "a pong for each ping, in order");
    assert_eq!(
        client_seen.len(),
        echoed.len() + pongs.len(),
        "nothing else reaches the client: {client_seen:?}"
    );

    // The same whatever the cuts.
    let total: usize = ops
        .iter()
        .map(|op| match op {
            PairOp::Send(m, _) => m.len() + 14,
            PairOp::Ping(p) => p.len() + 6,
        })
        .sum();
    let mut rng = Rng(fnv1a(data, 22));
    let random = pair_run(seed, &ops, batch, echo_fragment, &mut || {
        rng.small(total.max(1))
    });
    assert_eq!(random, whole, "random cuts vs none");
    if total <= 4096 {
        let bytewise = pair_run(seed, &ops, batch, echo_fragment, &mut || 1);
        assert_eq!(bytewise, whole, "one byte at a time vs none");
    }
}
