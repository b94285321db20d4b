//! Credentials at rest (invariant I8).
//!
//! A tool's credentials JSON is sealed with XChaCha20-Poly1305
//! (<https://docs.rs/chacha20poly1305/0.10.1/chacha20poly1305/>): its 24-byte nonce is large
//! enough to draw at random for every value without fear of reuse, which is what makes a fresh
//! random nonce per write safe (libsodium's notes on the XChaCha20-Poly1305 construction say
//! the same: <https://php.net/sodium_crypto_aead_xchacha20poly1305_ietf_encrypt>). The
//! integration id is bound in as associated data, so a ciphertext copied onto another
//! integration's row fails to open instead of lending it foreign credentials.
//!
//! Stored layout: `version (1 byte) || nonce (24 bytes) || ciphertext+tag`.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde_json::Value;

use crate::StoreError;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// Why a credential key could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("credential key is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("credential key must be 32 bytes, got {0}")]
    Length(usize),
    #[error("credential key file {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
}

/// The 32-byte key that seals integration credentials.
#[derive(Clone)]
pub struct CredentialKey([u8; 32]);

impl fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialKey(<redacted>)")
    }
}

impl CredentialKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self(rand::random())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses standard base64 (surrounding whitespace ignored), as kept in an env variable or
    /// a Kubernetes secret.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = BASE64.decode(text.trim())?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::Length(bytes.len()))?;
        Ok(Self(key))
    }

    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// The embedded mode's key: read from `path`, or created there (readable by the owner only)
    /// on first start. Losing this file makes stored credentials unreadable, so it is never
    /// overwritten.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let file_error = |source| KeyError::File {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => return Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_error(e)),
        }
        let key = Self::generate();
        let mut options = std::fs::OpenOptions::new();
        // create_new: if another process created the file meanwhile, we must use its key.
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(key.to_base64().as_bytes()).map_err(file_error)?;
                file.sync_all().map_err(file_error)?;
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::from_base64(&std::fs::read_to_string(path).map_err(file_error)?)
            }
            Err(e) => Err(file_error(e)),
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.0))
    }

    /// Seals `credentials` for the integration `integration_id`.
    pub(crate) fn seal(&self, integration_id: &str, credentials: &Value) -> Result<Vec<u8>, StoreError> {
        let plain = serde_json::to_vec(credentials)?;
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: integration_id.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Crypto("encryption failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`Self::seal`] produced for the same integration.
    pub(crate) fn open(&self, integration_id: &str, stored: &[u8]) -> Result<Value, StoreError> {
        let (version, rest) = stored
            .split_first()
            .ok_or_else(|| StoreError::Crypto("empty ciphertext".into()))?;
        if *version != VERSION {
            return Err(StoreError::Crypto(format!("unknown ciphertext version {version}")));
        }
        if rest.len() < NONCE_LEN {
            return Err(StoreError::Crypto("ciphertext too short".into()));
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let plain = self
            .cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: integration_id.as_bytes(),
                },
            )
            // Wrong key or tampered row; the AEAD does not say which.
            .map_err(|_| StoreError::Crypto("authentication failed (wrong key?)".into()))?;
        Ok(serde_json::from_slice(&plain)?)
    }
}

impl CredentialKey {
    /// Seals a secret string (a webhook signing secret) under the associated data `ad`.
    pub(crate) fn seal_secret(&self, ad: &str, secret: &str) -> Result<Vec<u8>, StoreError> {
        self.seal(ad, &Value::String(secret.to_owned()))
    }

    /// Opens what [`Self::seal_secret`] produced for the same `ad`.
    pub(crate) fn open_secret(&self, ad: &str, stored: &[u8]) -> Result<String, StoreError> {
        match self.open(ad, stored)? {
            Value::String(secret) => Ok(secret),
            _ => Err(StoreError::Crypto("sealed value is not a secret string".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seal_round_trips_and_binds_the_integration() {
        let key = CredentialKey::generate();
        let creds = json!({"client_id": "abc", "client_secret": "s3cret"});
        let sealed = key.seal("personio:a", &creds).expect("seals");
        assert!(!String::from_utf8_lossy(&sealed).contains("s3cret"));
        assert_eq!(key.open("personio:a", &sealed).expect("opens"), creds);
        assert!(key.open("personio:b", &sealed).is_err());
        assert!(CredentialKey::generate().open("personio:a", &sealed).is_err());
        // A fresh nonce per value: sealing twice never yields the same bytes.
        assert_ne!(sealed, key.seal("personio:a", &creds).expect("seals"));
    }

    #[test]
    fn base64_round_trip_and_length_check() {
        let key = CredentialKey::generate();
        let again = CredentialKey::from_base64(&format!(" {}\n", key.to_base64())).expect("parses");
        assert_eq!(again.0, key.0);
        assert!(matches!(CredentialKey::from_base64("AAAA"), Err(KeyError::Length(3))));
    }

    #[test]
    fn load_or_create_persists_an_owner_only_file() {
        let path = std::env::temp_dir().join(format!("tributary-key-{}", crate::ids::random_id()));
        let first = CredentialKey::load_or_create(&path).expect("creates");
        let second = CredentialKey::load_or_create(&path).expect("loads");
        assert_eq!(first.0, second.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_file(&path);
    }
}
