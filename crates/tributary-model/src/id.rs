use sha2::{Digest, Sha256};

use crate::Model;

/// Base58 (Bitcoin alphabet): no `0`, `O`, `I`, `l`, so ids survive being read aloud or retyped.
const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// The 24-character Kombo-style id of a record.
///
/// Derived from (integration, model, remote id) alone, so a reference such as `manager_id` or
/// `job_id` can be written before the referenced record has been synced, and re-syncing or
/// re-creating the mirror yields the same ids.
pub fn record_id(integration_id: &str, model: Model, remote_id: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [
        integration_id.as_bytes(),
        model.as_str().as_bytes(),
        remote_id.as_bytes(),
    ] {
        // Length-prefix every part so ("a", "bc") and ("ab", "c") cannot collide.
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    digest[..24]
        .iter()
        .map(|b| ALPHABET[(*b as usize) % 58] as char)
        .collect()
}

/// Hands connectors the ids of one integration.
#[derive(Debug, Clone)]
pub struct IdGen {
    integration_id: String,
}

impl IdGen {
    pub fn new(integration_id: impl Into<String>) -> Self {
        Self {
            integration_id: integration_id.into(),
        }
    }

    pub fn integration_id(&self) -> &str {
        &self.integration_id
    }

    pub fn id(&self, model: Model, remote_id: &str) -> String {
        record_id(&self.integration_id, model, remote_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_base58_chars_and_stable() {
        let a = record_id("personio:demo", Model::Employees, "42");
        assert_eq!(a.len(), 24);
        assert!(a.bytes().all(|b| ALPHABET.contains(&b)));
        assert_eq!(a, record_id("personio:demo", Model::Employees, "42"));
        assert_ne!(a, record_id("personio:demo", Model::Employments, "42"));
        assert_ne!(a, record_id("personio:other", Model::Employees, "42"));
        assert_ne!(
            record_id("a", Model::Employees, "bc"),
            record_id("ab", Model::Employees, "c")
        );
    }
}
