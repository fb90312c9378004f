//! Object bytes → JSON text: gzip (every member) or plain, with a decompressed-size cap.

use std::io::Read;

use flate2::read::MultiGzDecoder;

/// Why an object's bytes could not be fully decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeProblem {
    /// The gzip stream is damaged; the text decoded before the damage is kept.
    CorruptGzip(String),
    /// The gzip stream ends early; the text decoded so far is kept.
    TruncatedGzip,
    /// Decompressing would exceed the cap; nothing is kept (a gzip bomb is not expanded).
    TooLarge { limit: u64 },
}

/// Whether `bytes` start with the gzip magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decodes an object into JSON text. Gzip is recognised by its magic bytes, so a `.json.gz`
/// object stored uncompressed (or a `.json` one that is compressed) still reads.
///
/// Returns the text and, if decoding stopped early, why; the text then holds everything
/// decoded before the problem (empty for [`DecodeProblem::TooLarge`]).
pub fn decode(bytes: &[u8], max_decompressed: u64) -> (Vec<u8>, Option<DecodeProblem>) {
    let mut out = Vec::new();
    let problem = decode_into(bytes, max_decompressed, &mut out);
    (out, problem)
}

/// [`decode`] into a caller-kept buffer (cleared first), so a worker reuses one allocation for
/// every object instead of faulting in fresh pages each time.
pub fn decode_into(
    bytes: &[u8],
    max_decompressed: u64,
    out: &mut Vec<u8>,
) -> Option<DecodeProblem> {
    out.clear();
    let too_large = Some(DecodeProblem::TooLarge {
        limit: max_decompressed,
    });
    if !is_gzip(bytes) {
        if bytes.len() as u64 > max_decompressed {
            return too_large;
        }
        out.extend_from_slice(bytes);
        return None;
    }
    if whole_single_member(bytes, max_decompressed, out) {
        return None;
    }
    out.clear();
    // CloudTrail objects compress ~8-10x; start near that to avoid regrowth.
    let guess = (bytes.len().saturating_mul(9)).min(max_decompressed as usize) + 64;
    out.reserve(guess);
    // read one byte past the cap to tell "exactly at the cap" from "over it"
    let mut reader = MultiGzDecoder::new(bytes).take(max_decompressed.saturating_add(1));
    match reader.read_to_end(out) {
        Ok(_) if out.len() as u64 > max_decompressed => {
            out.clear();
            too_large
        }
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Some(DecodeProblem::TruncatedGzip)
        }
        Err(e) => Some(DecodeProblem::CorruptGzip(e.to_string())),
    }
}

thread_local! {
    static INFLATER: std::cell::RefCell<libdeflater::Decompressor> =
        std::cell::RefCell::new(libdeflater::Decompressor::new());
}

/// The fast path: a whole-buffer libdeflate decompression of a single-member gzip object (what
/// CloudTrail writes), about twice as fast as streaming inflate. The gzip trailer gives the
/// size, so the output is allocated once at its final length.
///
/// libdeflate decodes only the first member and cannot say where it ended, so the result is
/// kept only when the object's final trailer describes exactly that output (size and CRC-32):
/// then the first member is the whole object. Anything else — several members, a damaged or
/// truncated stream, a size over the cap — returns `false` and the caller takes the streaming
/// path, which reads every member and reports problems precisely.
fn whole_single_member(bytes: &[u8], max_decompressed: u64, out: &mut Vec<u8>) -> bool {
    let n = bytes.len();
    let (Some(crc), Some(size)) = (
        bytes.get(n.wrapping_sub(8)..n.wrapping_sub(4)),
        bytes.get(n.wrapping_sub(4)..),
    ) else {
        return false;
    };
    // 18 bytes: the smallest possible gzip member (10 header + 2 empty deflate + 8 trailer
    // rounded down); shorter input is not worth the fast path.
    if n < 18 {
        return false;
    }
    let want_crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let want_len = u32::from_le_bytes([size[0], size[1], size[2], size[3]]) as usize;
    if want_len == 0 || want_len as u64 > max_decompressed {
        return false;
    }
    out.clear();
    out.resize(want_len, 0);
    let got = INFLATER.with(|d| d.borrow_mut().gzip_decompress(bytes, out));
    matches!(got, Ok(len) if len == want_len) && libdeflater::crc32(out) == want_crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plain_and_gzip() {
        assert_eq!(decode(b"{}", 10), (b"{}".to_vec(), None));
        assert_eq!(
            decode(&gz(b"{\"a\":1}"), 100),
            (b"{\"a\":1}".to_vec(), None)
        );
    }

    #[test]
    fn every_gzip_member_is_read() {
        let mut two = gz(b"hello ");
        two.extend(gz(b"world"));
        assert_eq!(decode(&two, 100).0, b"hello world");
    }

    #[test]
    fn truncated_gzip_keeps_prefix() {
        let data: Vec<u8> = (0..20000u32).flat_map(|i| i.to_le_bytes()).collect();
        let z = gz(&data);
        let (out, p) = decode(&z[..z.len() / 2], 1 << 20);
        assert_eq!(p, Some(DecodeProblem::TruncatedGzip));
        assert!(!out.is_empty() && data.starts_with(&out));
    }

    #[test]
    fn corrupt_gzip_is_reported() {
        let mut z = gz(&vec![b'x'; 10000]);
        let n = z.len();
        for b in &mut z[12..n - 8] {
            *b ^= 0x5a;
        }
        let (_, p) = decode(&z, 1 << 20);
        assert!(
            matches!(
                p,
                Some(DecodeProblem::CorruptGzip(_)) | Some(DecodeProblem::TruncatedGzip)
            ),
            "{p:?}"
        );
    }

    #[test]
    fn fast_path_agrees_with_streaming() {
        let data: Vec<u8> = (0..50_000u32)
            .flat_map(|i| i.to_string().into_bytes())
            .collect();
        let z = gz(&data);
        let mut out = Vec::new();
        assert!(whole_single_member(&z, 1 << 30, &mut out));
        assert_eq!(out, data);
        // Two members: the fast path declines, the streaming path reads both.
        let mut two = gz(b"first ");
        two.extend(gz(b"second"));
        assert!(!whole_single_member(&two, 1 << 30, &mut out));
        assert_eq!(decode(&two, 100).0, b"first second");
        // Two identical-size members with different content: declined on the CRC.
        let mut same = gz(b"aaaa");
        same.extend(gz(b"bbbb"));
        assert!(!whole_single_member(&same, 1 << 30, &mut out));
        assert_eq!(decode(&same, 100).0, b"aaaabbbb");
        // Over the cap by the trailer: declined, and the streaming path refuses it.
        assert!(!whole_single_member(&z, 10, &mut out));
    }

    #[test]
    fn bomb_is_not_expanded() {
        let z = gz(&vec![0u8; 1 << 20]);
        let (out, p) = decode(&z, 1000);
        assert!(out.is_empty());
        assert_eq!(p, Some(DecodeProblem::TooLarge { limit: 1000 }));
        // exactly at the cap is fine
        let (out, p) = decode(&gz(&[7u8; 1000]), 1000);
        assert_eq!((out.len(), p), (1000, None));
    }
}
