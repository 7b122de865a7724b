//! A small, slow, strict DEFLATE decoder for the tests and the `deflate_roundtrip` fuzz
//! target: it proves what a general decoder cannot, that no match reaches farther back
//! than the window ([`CheckingInflater::max_distance`]), and that a message is exactly
//! whole blocks ending in the sync flush. Independent of the crate's own decoder (and
//! of the encoder: it shares only RFC 1951's tables).
//!
//! Huffman codes are decoded a bit at a time from counts per length (as RFC 1951 §3.2.2
//! builds them), clarity over speed.

use crate::deflate::tables::{
    CODE_LENGTH_ORDER, DIST_BASE, DIST_EXTRA, LENGTH_BASE, LENGTH_EXTRA, fixed_litlen_length,
};

/// Decodes permessage-deflate messages one after another, keeping the history (context
/// takeover); make a new one per message for streams without it.
#[derive(Default)]
pub(crate) struct CheckingInflater {
    history: Vec<u8>,
    max_distance: usize,
}

struct Bits<'a> {
    data: &'a [u8],
    /// Position in bits.
    at: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, String> {
        let byte = self
            .data
            .get(self.at / 8)
            .ok_or("input ends inside a block")?;
        let bit = (byte >> (self.at % 8)) & 1;
        self.at += 1;
        Ok(u32::from(bit))
    }

    fn bits(&mut self, n: u32) -> Result<u32, String> {
        let mut v = 0;
        for i in 0..n {
            v |= self.bit()? << i;
        }
        Ok(v)
    }
}

/// A canonical code as counts per length and symbols in code order.
struct Decoding {
    count: [u16; 16],
    symbols: Vec<u16>,
}

impl Decoding {
    fn new(lengths: &[u8]) -> Result<Decoding, String> {
        let mut count = [0u16; 16];
        for &l in lengths {
            count[l as usize] += 1;
        }
        count[0] = 0;
        // Over-subscribed codes are invalid (RFC 1951 §3.2.2 builds a prefix code).
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left = left * 2 - i32::from(c);
            if left < 0 {
                return Err("over-subscribed code".into());
            }
        }
        let mut symbols = Vec::new();
        for len in 1..16 {
            for (s, &l) in lengths.iter().enumerate() {
                if l as usize == len {
                    symbols.push(s as u16);
                }
            }
        }
        Ok(Decoding { count, symbols })
    }

    fn decode(&self, bits: &mut Bits<'_>) -> Result<u16, String> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.bit()? as i32;
            let count = i32::from(self.count[len]);
            if code - first < count {
                return Ok(self.symbols[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("no such code".into())
    }
}

impl CheckingInflater {
    /// The farthest back any match has reached so far.
    pub(crate) fn max_distance(&self) -> usize {
        self.max_distance
    }

    /// Decodes one message (as sent: without the sync flush's `00 00 ff ff`) and returns
    /// its data. Fails unless the message is whole blocks, none final, ending with an
    /// empty stored block, and every distance lies inside the history.
    pub(crate) fn inflate_message(&mut self, message: &[u8]) -> Result<Vec<u8>, String> {
        let mut data = message.to_vec();
        data.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let start = self.history.len();
        let mut bits = Bits { data: &data, at: 0 };
        loop {
            if bits.bit()? == 1 {
                return Err("a final block (BFINAL = 1) in a message".into());
            }
            match bits.bits(2)? {
                0 => {
                    bits.at = bits.at.div_ceil(8) * 8;
                    let len = bits.bits(16)? as usize;
                    let nlen = bits.bits(16)? as usize;
                    if len != !nlen & 0xffff {
                        return Err("stored block NLEN is not the complement of LEN".into());
                    }
                    let from = bits.at / 8;
                    let raw = data.get(from..from + len).ok_or("stored block cut short")?;
                    self.history.extend_from_slice(raw);
                    bits.at += 8 * len;
                    if len == 0 && bits.at == 8 * data.len() {
                        return Ok(self.history[start..].to_vec());
                    }
                }
                1 => {
                    let litlen: Vec<u8> = (0..288).map(fixed_litlen_length).collect();
                    let lit = Decoding::new(&litlen)?;
                    let dist = Decoding::new(&[5; 30])?;
                    self.codes(&mut bits, &lit, &dist)?;
                }
                2 => {
                    let (lit, dist) = dynamic_codes(&mut bits)?;
                    self.codes(&mut bits, &lit, &dist)?;
                }
                _ => return Err("reserved block type 11".into()),
            }
            if bits.at >= 8 * data.len() {
                return Err("the message does not end with the sync flush".into());
            }
        }
    }

    fn codes(
        &mut self,
        bits: &mut Bits<'_>,
        lit: &Decoding,
        dist: &Decoding,
    ) -> Result<(), String> {
        loop {
            let symbol = lit.decode(bits)? as usize;
            match symbol {
                0..=255 => self.history.push(symbol as u8),
                256 => return Ok(()),
                257..=285 => {
                    let i = symbol - 257;
                    let length =
                        LENGTH_BASE[i] as usize + bits.bits(LENGTH_EXTRA[i].into())? as usize;
                    let d = dist.decode(bits)? as usize;
                    if d >= 30 {
                        return Err("distance symbol 30 or 31".into());
                    }
                    let distance =
                        DIST_BASE[d] as usize + bits.bits(DIST_EXTRA[d].into())? as usize;
                    if distance > self.history.len() {
                        return Err(format!("distance {distance} before the stream's start"));
                    }
                    self.max_distance = self.max_distance.max(distance);
                    for _ in 0..length {
                        let byte = self.history[self.history.len() - distance];
                        self.history.push(byte);
                    }
                }
                _ => return Err("length symbol 286 or 287".into()),
            }
        }
    }
}

/// RFC 1951 §3.2.7: the dynamic block header.
fn dynamic_codes(bits: &mut Bits<'_>) -> Result<(Decoding, Decoding), String> {
    let hlit = bits.bits(5)? as usize + 257;
    let hdist = bits.bits(5)? as usize + 1;
    let hclen = bits.bits(4)? as usize + 4;
    if hlit > 286 || hdist > 30 {
        return Err("too many length or distance codes".into());
    }
    let mut cl_lengths = [0u8; 19];
    for &s in &CODE_LENGTH_ORDER[..hclen] {
        cl_lengths[s as usize] = bits.bits(3)? as u8;
    }
    let cl = Decoding::new(&cl_lengths)?;
    let mut lengths = Vec::with_capacity(hlit + hdist);
    while lengths.len() < hlit + hdist {
        let (value, repeat) = match cl.decode(bits)? {
            s @ 0..=15 => (s as u8, 1),
            16 => {
                let previous = *lengths.last().ok_or("repeat with no previous length")?;
                (previous, 3 + bits.bits(2)?)
            }
            17 => (0, 3 + bits.bits(3)?),
            _ => (0, 11 + bits.bits(7)?),
        };
        for _ in 0..repeat {
            lengths.push(value);
        }
    }
    if lengths.len() != hlit + hdist {
        return Err("code lengths run past HLIT + HDIST".into());
    }
    if lengths[256] == 0 {
        return Err("no end-of-block code".into());
    }
    Ok((
        Decoding::new(&lengths[..hlit])?,
        Decoding::new(&lengths[hlit..])?,
    ))
}

/// The reference: miniz_oxide's raw inflate, fed each message with its `00 00 ff ff`
/// put back, one inflate stream for all of them when the context is kept (so matches
/// may reach into earlier messages), a fresh one per message when not.
#[cfg(test)]
pub(crate) fn miniz_inflate_messages(
    messages: &[Vec<u8>],
    keep_context: bool,
) -> Result<Vec<Vec<u8>>, String> {
    use miniz_oxide::inflate::stream::{InflateState, inflate};
    use miniz_oxide::{DataFormat, MZError, MZFlush};

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
