//! Identifiers the store makes itself: run and API-key ids, and the advisory-lock key of an
//! integration.

use rand::Rng;
use sha2::{Digest, Sha256};

/// Base58 (Bitcoin alphabet), as record ids use, so every id the API shows looks alike.
const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// A random 24-character id (about 140 bits of entropy).
pub(crate) fn random_id() -> String {
    let mut rng = rand::rng();
    (0..24)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The 64-bit key of an integration's Postgres advisory lock.
///
/// Derived with SHA-256 rather than `std`'s hasher because every process of the fleet must
/// compute the same key for the same integration, across Rust versions. The prefix keeps our
/// keys apart from other users of advisory locks in the same database (e.g. job queues).
pub(crate) fn lock_key(integration_id: &str) -> i64 {
    let mut hasher = Sha256::new();
    hasher.update(b"tributary.integration\0");
    hasher.update(integration_id.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_24_base58_chars() {
        let a = random_id();
        assert_eq!(a.len(), 24);
        assert!(a.bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(a, random_id());
    }

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(lock_key("personio:a"), lock_key("personio:a"));
        assert_ne!(lock_key("personio:a"), lock_key("personio:b"));
    }
}
