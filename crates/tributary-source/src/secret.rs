use serde::{Deserialize, Serialize};

/// A credential. Its `Debug` and `Display` print a placeholder so it cannot leak through a log
/// line or an error message (invariant I8); only [`Secret::expose`] reads it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)] // read only through Debug
    struct Credentials {
        client_id: String,
        client_secret: Secret,
    }

    #[test]
    fn neither_debug_nor_display_shows_the_value() {
        let creds = Credentials {
            client_id: "id-1".into(),
            client_secret: Secret::new("papi-very-secret"),
        };
        let printed = [
            format!("{creds:?}"),
            format!("{creds:#?}"),
            format!("{}", creds.client_secret),
            format!("{:?}", Some(&creds.client_secret)),
        ];
        for p in &printed {
            assert!(!p.contains("very-secret"), "{p}");
        }
        assert!(printed[0].contains("id-1") && printed[0].contains("Secret(***)"));
        assert_eq!(creds.client_secret.expose(), "papi-very-secret");
    }
}
