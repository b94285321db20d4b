//! The configured admin token, which the operator state holds and the guard in
//! [`super::require_admin`] checks requests against.

use sha2::{Digest, Sha256};

use crate::error::OpsError;

/// The configured token, kept only as its SHA-256 digest.
#[derive(Debug)]
pub(crate) struct AdminToken {
    digest: Option<Vec<u8>>,
}

impl AdminToken {
    pub(crate) fn new(token: Option<&str>) -> Self {
        let digest = token.map(str::trim).filter(|t| !t.is_empty()).map(digest);
        Self { digest }
    }

    /// Compares digests rather than the tokens, and every byte of them, so the time taken says
    /// nothing about how much of a guess was right.
    pub(super) fn check(&self, given: &str) -> Result<(), OpsError> {
        let Some(expected) = &self.digest else {
            return Err(OpsError::NotConfigured);
        };
        let given = digest(given);
        let difference = expected.iter().zip(&given).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if difference == 0 && expected.len() == given.len() {
            Ok(())
        } else {
            Err(OpsError::Unauthenticated("The admin token is wrong.".into()))
        }
    }

    pub(crate) fn configured(&self) -> bool {
        self.digest.is_some()
    }
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_tokens_by_digest() {
        let admin = AdminToken::new(Some("s3cret"));
        assert!(admin.check("s3cret").is_ok());
        assert!(matches!(admin.check("s3cres"), Err(OpsError::Unauthenticated(_))));
        assert!(matches!(admin.check(""), Err(OpsError::Unauthenticated(_))));
    }

    #[test]
    fn no_or_blank_token_disables_the_api() {
        for token in [None, Some(""), Some("  ")] {
            let admin = AdminToken::new(token);
            assert!(!admin.configured());
            assert!(matches!(admin.check(""), Err(OpsError::NotConfigured)));
        }
    }
}
