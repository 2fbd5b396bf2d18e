//! Hostile input: decode must return an error or a value, never panic, hang or balloon; and
//! whatever it accepts must re-encode and decode to the same JSON.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Pb, body, data_dir, load};
use krust_proto::{ProtoError, decode, encode, supported_kinds};

/// xorshift64*: deterministic, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Decodes; if accepted, checks that decode ∘ encode is the identity on the result.
/// Returns whether the input was accepted.
fn check(input: &[u8]) -> bool {
    let Ok(value) = decode(input) else { return false };
    let again = encode(&value).unwrap_or_else(|e| panic!("decoded {value} but cannot re-encode: {e}"));
    let back = decode(&again).unwrap_or_else(|e| panic!("re-encoded {value} does not decode: {e}"));
    assert_eq!(back, value, "decode/encode not stable for input {input:?}");
    true
}

/// A random message shaped like protobuf: small tags, all wire types, nested messages.
fn random_message(rng: &mut Rng, depth: usize) -> Pb {
    let mut m = Pb::new();
    for _ in 0..rng.below(8) {
        let tag = 1 + rng.below(20) as u32;
        m = match rng.below(7) {
            0 => m.varint(tag, rng.next() >> rng.below(64)),
            1 => m.varint(tag, rng.below(3) as u64),
            2 | 3 if depth < 10 => m.msg(tag, random_message(rng, depth + 1)),
            4 => m.str(
                tag,
                ["", "a", "web", "2024-01-02T03:04:05Z", "{}", "50%", "\u{fffd}"][rng.below(7)],
            ),
            5 => m.fixed64(tag, rng.next()),
            6 => m.fixed32(tag, rng.next() as u32),
            _ => {
                let n = rng.below(12);
                m.bytes(tag, &rng.bytes(n))
            }
        };
    }
    m
}

#[test]
fn random_structured_bodies() {
    let kinds: Vec<_> = supported_kinds().collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let (av, kind) = kinds[rng.below(kinds.len())];
        accepted += usize::from(check(&body(av, kind, random_message(&mut rng, 0))));
    }
    // Enough inputs must get deep into the schema for the round-trip check to mean something.
    assert!(accepted > 2_000, "only {accepted} random bodies decoded");
}

#[test]
fn random_bytes() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let n = rng.below(64);
        let mut input = b"k8s\0".to_vec();
        input.extend(rng.bytes(n));
        check(&input);
        assert!(!check(&rng.bytes(n)));
    }
}

#[test]
fn truncated_and_mutated_real_bodies() {
    let mut bodies = Vec::new();
    for dir in ["kubectl", "objects"] {
        for entry in std::fs::read_dir(data_dir().join(dir)).unwrap() {
            match load(&entry.unwrap().path()) {
                serde_json::Value::Array(items) => bodies.extend(items.iter().map(|o| encode(o).unwrap())),
                one => bodies.push(encode(&one).unwrap()),
            }
        }
    }
    let mut rng = Rng(7);
    for b in &bodies {
        for cut in 0..b.len() {
            check(&b[..cut]);
        }
        assert!(check(b));
        for _ in 0..200 {
            let mut m = b.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(m.len());
                match rng.below(3) {
                    0 => m[at] = rng.next() as u8,
                    1 => m[at] ^= 1 << rng.below(8),
                    _ => {
                        m.remove(at);
                    }
                }
            }
            check(&m);
        }
    }
}

#[test]
fn huge_declared_lengths_do_not_allocate() {
    // raw claims 2^62 bytes.
    let mut input = b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12".to_vec();
    input.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
    assert_eq!(decode(&input), Err(ProtoError::Truncated));
}

#[test]
fn floods_of_empty_elements_are_refused() {
    // Each 2-byte empty container would become {"name":"","resources":{}}.
    let mut spec = Pb::new();
    for _ in 0..100_000 {
        spec = spec.msg(2, Pb::new());
    }
    let flood = body("v1", "Pod", Pb::new().msg(2, spec));
    assert_eq!(decode(&flood), Err(ProtoError::TooLarge));

    // A few hundred are fine.
    let mut spec = Pb::new();
    for _ in 0..300 {
        spec = spec.msg(2, Pb::new());
    }
    assert!(decode(&body("v1", "Pod", Pb::new().msg(2, spec))).is_ok());
}
