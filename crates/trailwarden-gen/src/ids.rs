//! Identifier spellings: UUIDs, AWS unique ids (`AIDA…`, `AROA…`, `ASIA…`), hex and
//! alphanumeric strings, all drawn from the generator's seeded RNG or derived from a
//! stable 64-bit key (for values that must be the same every time a session is seen).

use rand::Rng;

const HEX: &[u8; 16] = b"0123456789abcdef";
const ALNUM: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// The alphabet of AWS unique ids and access key ids (upper-case base32).
const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Appends a random version-4 UUID (`8-4-4-4-12` lower-case hex), no quotes.
pub(crate) fn push_uuid<R: Rng>(rng: &mut R, out: &mut Vec<u8>) {
    let a: u64 = rng.random();
    let b: u64 = rng.random();
    push_uuid_from(out, a, b);
}

fn push_uuid_from(out: &mut Vec<u8>, a: u64, b: u64) {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[usize::from(byte >> 4)]);
        out.push(HEX[usize::from(byte & 0xf)]);
    }
}

fn into_string(b: Vec<u8>) -> String {
    // Only ASCII from the fixed alphabets above is ever pushed.
    String::from_utf8(b).unwrap_or_default()
}

pub(crate) fn uuid<R: Rng>(rng: &mut R) -> String {
    let mut b = Vec::with_capacity(36);
    push_uuid(rng, &mut b);
    into_string(b)
}

/// A UUID derived from a stable key (same key → same UUID).
pub(crate) fn uuid_from_key(key: u64) -> String {
    let mut b = Vec::with_capacity(36);
    push_uuid_from(&mut b, mix(key), mix(key ^ 0x9e37_79b9_7f4a_7c15));
    into_string(b)
}

pub(crate) fn alnum<R: Rng>(rng: &mut R, n: usize) -> String {
    let b = (0..n)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())])
        .collect();
    into_string(b)
}

pub(crate) fn hex<R: Rng>(rng: &mut R, n: usize) -> String {
    let b = (0..n).map(|_| HEX[rng.random_range(0..16usize)]).collect();
    into_string(b)
}

pub(crate) fn upper_alnum<R: Rng>(rng: &mut R, n: usize) -> String {
    const UPPER: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let b = (0..n)
        .map(|_| UPPER[rng.random_range(0..UPPER.len())])
        .collect();
    into_string(b)
}

/// An AWS unique id such as `AIDA…` or `AROA…`: the prefix plus 17 base32 characters.
pub(crate) fn aws_id<R: Rng>(rng: &mut R, prefix: &str) -> String {
    let mut b = prefix.as_bytes().to_vec();
    b.extend((0..17).map(|_| B32[rng.random_range(0..B32.len())]));
    into_string(b)
}

/// An access key id (`AKIA…`/`ASIA…`, 20 characters) derived from a stable key.
pub(crate) fn access_key_from_key(prefix: &str, key: u64) -> String {
    let mut b = prefix.as_bytes().to_vec();
    let mut x = mix(key);
    for i in 0..16 {
        if i == 12 {
            x = mix(x);
        }
        b.push(B32[(x & 31) as usize]);
        x >>= 5;
    }
    into_string(b)
}

/// SplitMix64 finaliser: a cheap, well-mixed hash of a 64-bit key.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Lower-case hex of a byte slice.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    let mut b = Vec::with_capacity(bytes.len() * 2);
    for byte in bytes {
        b.push(HEX[usize::from(byte >> 4)]);
        b.push(HEX[usize::from(byte & 0xf)]);
    }
    into_string(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let u = uuid(&mut rng);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(aws_id(&mut rng, "AIDA").len(), 21);
        let k = access_key_from_key("ASIA", 7);
        assert_eq!(k.len(), 20);
        assert_eq!(k, access_key_from_key("ASIA", 7));
        assert_ne!(k, access_key_from_key("ASIA", 8));
        assert_eq!(uuid_from_key(3), uuid_from_key(3));
        assert_eq!(alnum(&mut rng, 16).len(), 16);
        assert_eq!(to_hex(&[0xab, 0x01]), "ab01");
    }
}
