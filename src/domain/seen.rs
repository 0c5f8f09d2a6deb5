//! [`ShaDigest`]: which commits a stack's record has seen start at one instant, in a
//! fixed size, however many there are.
//!
//! Rule 7 says a read of an attempt already replaced is stale, and attempts are told apart
//! by their start *and* their commit: several attempts can share one `StartedAt`. To tell
//! an attempt already seen from a new one sharing its start, the record must remember
//! every commit seen at that start, and only at that start (a read of an earlier start is
//! stale by its start alone). A list would grow without bound; this digest is a Bloom
//! filter of [`BITS`] bits, so the record stays the same size whatever the number.
//!
//! What it may get wrong, it gets wrong on the safe side for "never twice": `contains`
//! never answers no for a commit that was inserted, and answers yes for one that was not
//! with a probability of `(1 - e^(-k·n/m))^k` for `n` commits in `m` bits with `k` hashes:
//! under 1 in 10⁸ for 20 commits sharing one start, 2.4 in 10⁶ for 50. Such a false yes
//! would leave a new attempt untold, as a stale read is.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The digest's size in bits (256 bytes, 344 characters of base64 in a stored record).
pub const BITS: usize = 2048;
/// How many bits each commit sets.
const HASHES: usize = 7;

#[derive(Clone, PartialEq, Eq)]
pub struct ShaDigest {
    bits: [u8; BITS / 8],
}

impl std::fmt::Debug for ShaDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set: u32 = self.bits.iter().map(|byte| byte.count_ones()).sum();
        write!(f, "ShaDigest({set} of {BITS} bits set)")
    }
}

/// A stored digest that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a commit digest must be {expected} bytes of base64; found {found}")]
pub struct MalformedDigest {
    expected: usize,
    found: String,
}

impl ShaDigest {
    pub fn new() -> ShaDigest {
        ShaDigest {
            bits: [0; BITS / 8],
        }
    }

    /// A digest of `shas`.
    pub fn of<'a>(shas: impl IntoIterator<Item = &'a str>) -> ShaDigest {
        let mut digest = ShaDigest::new();
        for sha in shas {
            digest.insert(sha);
        }
        digest
    }

    fn positions(sha: &str) -> impl Iterator<Item = usize> {
        let hash = Sha256::digest(sha.as_bytes());
        (0..HASHES).map(move |index| {
            let word = u32::from_be_bytes([
                hash[index * 4],
                hash[index * 4 + 1],
                hash[index * 4 + 2],
                hash[index * 4 + 3],
            ]);
            word as usize % BITS
        })
    }

    pub fn insert(&mut self, sha: &str) {
        for position in Self::positions(sha) {
            self.bits[position / 8] |= 1 << (position % 8);
        }
    }

    /// Whether `sha` was inserted (see the module's note on false yeses).
    pub fn contains(&self, sha: &str) -> bool {
        Self::positions(sha).all(|position| self.bits[position / 8] & (1 << (position % 8)) != 0)
    }

    /// The digest as stored: base64.
    pub fn encode(&self) -> String {
        STANDARD.encode(self.bits)
    }

    pub fn decode(text: &str) -> Result<ShaDigest, MalformedDigest> {
        let malformed = || MalformedDigest {
            expected: BITS / 8,
            found: crate::text::preview(text, 20),
        };
        let bytes = STANDARD.decode(text).map_err(|_| malformed())?;
        let bits: [u8; BITS / 8] = bytes.try_into().map_err(|_| malformed())?;
        Ok(ShaDigest { bits })
    }
}

impl Default for ShaDigest {
    fn default() -> Self {
        ShaDigest::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_digest_round_trips_through_its_stored_form_and_refuses_anything_else() {
        let digest = ShaDigest::of(["a", "b", "9f1c2e7"]);
        let stored = digest.encode();
        assert_eq!(ShaDigest::decode(&stored).unwrap(), digest);
        for bad in ["", "not base64!", &STANDARD.encode([0u8; 12])] {
            let error = ShaDigest::decode(bad).unwrap_err().to_string();
            assert!(error.contains("256 bytes of base64"), "{error}");
        }
    }

    #[test]
    fn a_new_commit_among_many_sharing_a_start_is_told_apart_from_them() {
        // Far more than rule 7's old memory of 16 attempts.
        let seen: Vec<String> = (0..200).map(|n| format!("s{n:02}")).collect();
        let digest = ShaDigest::of(seen.iter().map(String::as_str));
        let false_yes = (200..10_200)
            .filter(|n| digest.contains(&format!("s{n:02}")))
            .count();
        // (1 - e^(-7·200/2048))^7 ≈ 0.0053: about 53 of 10,000.
        assert!(false_yes < 150, "{false_yes} false yeses in 10,000");
        let small = ShaDigest::of(seen.iter().take(20).map(String::as_str));
        let false_yes = (200..10_200)
            .filter(|n| small.contains(&format!("s{n:02}")))
            .count();
        assert_eq!(false_yes, 0);
    }

    proptest! {
        #[test]
        fn every_commit_inserted_is_contained(shas in prop::collection::vec("[0-9a-f]{1,40}", 0..300)) {
            let digest = ShaDigest::of(shas.iter().map(String::as_str));
            for sha in &shas {
                prop_assert!(digest.contains(sha));
            }
            prop_assert_eq!(ShaDigest::decode(&digest.encode()).unwrap(), digest);
        }
    }
}
