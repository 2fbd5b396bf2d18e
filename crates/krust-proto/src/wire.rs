//! Protobuf wire format: reading and writing keys, varints, fixed-size values and
//! length-delimited payloads.
//!
//! The reader borrows from the input and checks every length against the bytes that remain
//! before slicing, so hostile input can neither panic nor make it allocate.

use crate::error::{ProtoError, Result};

/// Wire type 0: varint.
pub(crate) const VARINT: u8 = 0;
/// Wire type 1: 8 little-endian bytes.
pub(crate) const I64: u8 = 1;
/// Wire type 2: length-delimited.
pub(crate) const LEN: u8 = 2;
/// Wire type 5: 4 little-endian bytes.
pub(crate) const I32: u8 = 5;

/// The largest valid field number (2^29 - 1).
const MAX_FIELD: u64 = (1 << 29) - 1;

/// One field value as found on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WireValue<'a> {
    Varint(u64),
    I64(u64),
    Len(&'a [u8]),
    I32(u32),
}

impl WireValue<'_> {
    pub(crate) fn wire_type(&self) -> u8 {
        match self {
            WireValue::Varint(_) => VARINT,
            WireValue::I64(_) => I64,
            WireValue::Len(_) => LEN,
            WireValue::I32(_) => I32,
        }
    }
}

/// A cursor over one message's bytes.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { rest: buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Reads a base-128 varint of at most 10 bytes.
    pub(crate) fn varint(&mut self) -> Result<u64> {
        let mut value: u64 = 0;
        for (i, &byte) in self.rest.iter().enumerate().take(10) {
            let bits = u64::from(byte & 0x7f);
            if i == 9 && byte > 1 {
                return Err(ProtoError::BadVarint);
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                self.rest = self.rest.get(i + 1..).unwrap_or_default();
                return Ok(value);
            }
        }
        if self.rest.len() >= 10 {
            Err(ProtoError::BadVarint)
        } else {
            Err(ProtoError::Truncated)
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.rest.len() {
            return Err(ProtoError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Reads the next field as (field number, value); `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, WireValue<'a>)>> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = key >> 3;
        let wire_type = (key & 7) as u8;
        if field == 0 || field > MAX_FIELD {
            return Err(ProtoError::BadKey { field, wire_type });
        }
        let value = match wire_type {
            VARINT => WireValue::Varint(self.varint()?),
            I64 => WireValue::I64(u64::from_le_bytes(self.fixed::<8>()?)),
            LEN => {
                let len = usize::try_from(self.varint()?).map_err(|_| ProtoError::Truncated)?;
                WireValue::Len(self.take(len)?)
            }
            I32 => WireValue::I32(u32::from_le_bytes(self.fixed::<4>()?)),
            // 3 and 4 are proto2 groups, which Kubernetes never uses; 6 and 7 do not exist.
            _ => return Err(ProtoError::BadKey { field, wire_type }),
        };
        let field = u32::try_from(field).map_err(|_| ProtoError::BadKey { field, wire_type })?;
        Ok(Some((field, value)))
    }

    /// Reads one little-endian 64-bit value (an element of a packed `double` list).
    pub(crate) fn fixed64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.fixed::<8>()?))
    }
}

/// Appends a varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a field key.
pub(crate) fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

/// Appends a length-delimited field.
pub(crate) fn put_len(out: &mut Vec<u8>, field: u32, payload: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Appends a varint field.
pub(crate) fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    put_key(out, field, VARINT);
    put_varint(out, v);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip() {
        for v in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX, (-1i64) as u64] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut r = Reader::new(&buf);
            assert_eq!(r.varint(), Ok(v));
            assert!(r.is_empty());
        }
    }

    #[test]
    fn varint_errors() {
        assert_eq!(Reader::new(&[0x80, 0x80]).varint(), Err(ProtoError::Truncated));
        assert_eq!(Reader::new(&[0xff; 11]).varint(), Err(ProtoError::BadVarint));
        // The 10th byte may only carry the top bit of a 64-bit value.
        let mut ten = vec![0xff; 9];
        ten.push(0x02);
        assert_eq!(Reader::new(&ten).varint(), Err(ProtoError::BadVarint));
    }

    #[test]
    fn fields_and_bounds() {
        let mut buf = Vec::new();
        put_varint_field(&mut buf, 1, 150);
        put_len(&mut buf, 2, b"abc");
        buf.extend_from_slice(&[0x19, 1, 0, 0, 0, 0, 0, 0, 0]); // field 3, I64
        buf.extend_from_slice(&[0x25, 2, 0, 0, 0]); // field 4, I32
        let mut r = Reader::new(&buf);
        assert_eq!(r.next_field(), Ok(Some((1, WireValue::Varint(150)))));
        assert_eq!(r.next_field(), Ok(Some((2, WireValue::Len(b"abc")))));
        assert_eq!(r.next_field(), Ok(Some((3, WireValue::I64(1)))));
        assert_eq!(r.next_field(), Ok(Some((4, WireValue::I32(2)))));
        assert_eq!(r.next_field(), Ok(None));

        // A length larger than what remains.
        assert_eq!(
            Reader::new(&[0x12, 0x05, b'a']).next_field(),
            Err(ProtoError::Truncated)
        );
        // A huge length must not allocate or overflow.
        let huge = [0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Reader::new(&huge).next_field(), Err(ProtoError::Truncated));
        // Field 0 and group wire types are rejected.
        assert!(matches!(
            Reader::new(&[0x00, 0x00]).next_field(),
            Err(ProtoError::BadKey { .. })
        ));
        assert!(matches!(
            Reader::new(&[0x0b]).next_field(),
            Err(ProtoError::BadKey { .. })
        ));
    }
}
