//! Byte tests eight bytes at a time, for the text every event carries (ids, sources, strings
//! in the payload), where a loop over single bytes showed in B2's profile (BENCHMARKS.md,
//! "Thirteenth round").
//!
//! A word is eight bytes of text read little-endian, so its lowest byte comes first in the
//! text. Each test returns a mask with the high bit set in the bytes it flags. The flags are
//! the usual ones on a word (`x - 0x01…` borrows through a zero byte, `& !x` keeps bytes whose
//! high bit was clear): a byte above a flagged one may be flagged wrongly by the borrow, but
//! the lowest flagged byte is always a true one, and a mask is non-zero exactly when some byte
//! truly matches. So a mask answers "is there one?" and "where is the first?" exactly.

/// Bytes in one word.
pub(crate) const WORD: usize = 8;

const ONES: u64 = u64::from_le_bytes([0x01; WORD]);
const HIGH_BITS: u64 = u64::from_le_bytes([0x80; WORD]);

/// The eight bytes of `bytes` from `at`, as a word; `None` when fewer than eight are left.
pub(crate) fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    bytes
        .get(at..at.checked_add(WORD)?)
        .and_then(|chunk| <[u8; WORD]>::try_from(chunk).ok())
        .map(u64::from_le_bytes)
}

/// Flags the bytes of `word` equal to `byte`.
pub(crate) const fn equal_to(word: u64, byte: u8) -> u64 {
    let differs = word ^ u64::from_le_bytes([byte; WORD]);
    differs.wrapping_sub(ONES) & !differs & HIGH_BITS
}

/// Flags the bytes of `word` below `bound`, which must be at most 0x80 (a byte with its high
/// bit set is never flagged).
pub(crate) const fn below(word: u64, bound: u8) -> u64 {
    word.wrapping_sub(u64::from_le_bytes([bound; WORD])) & !word & HIGH_BITS
}

/// The place in its word of the first flagged byte of a non-zero `mask`.
pub(crate) const fn first_flagged(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every place, beside every other byte value: the first flagged
    /// place is the first true match, and a mask is non-zero exactly when there is one.
    #[test]
    fn masks_find_exactly_the_first_match() {
        /// A test's name, its mask, and which bytes it must flag.
        type Test = (&'static str, fn(u64) -> u64, fn(u8) -> bool);
        let tests: [Test; 4] = [
            ("quote", |w| equal_to(w, b'"'), |b| b == b'"'),
            ("zero", |w| equal_to(w, 0), |b| b == 0),
            ("control", |w| below(w, 0x20), |b| b < 0x20),
            ("below 0x80", |w| below(w, 0x80), |b| b < 0x80),
        ];
        for (name, mask_of, matches) in tests {
            for filler in 0..=u8::MAX {
                for other in [0x00, 0x01, 0x1f, 0x20, b'"', 0x7f, 0x80, 0xff] {
                    for place in 0..WORD {
                        let mut bytes = [filler; WORD];
                        bytes[place] = other;
                        let word = word_at(&bytes, 0).expect("eight bytes");
                        let mask = mask_of(word);
                        let first = bytes.iter().position(|&b| matches(b));
                        assert_eq!(mask != 0, first.is_some(), "{name} {bytes:?}");
                        if let Some(first) = first {
                            assert_eq!(first_flagged(mask), first, "{name} {bytes:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_word_needs_eight_bytes() {
        let bytes = *b"abcdefghi";
        assert_eq!(word_at(&bytes, 0), Some(u64::from_le_bytes(*b"abcdefgh")));
        assert_eq!(word_at(&bytes, 1), Some(u64::from_le_bytes(*b"bcdefghi")));
        assert_eq!(word_at(&bytes, 2), None);
        assert_eq!(word_at(&bytes, usize::MAX), None);
    }
}
