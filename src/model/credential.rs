//! When each partner credential last verified a token, as the database keeps it for every
//! instance: a credential is named there by a fingerprint of its value, never by the value, and
//! never by its place in the config (a rotation moves the old secret from first to second).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// A partner's credentials come in two kinds, labelled `secret` and `v3_key` in the metrics
/// and the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case", const_into_str)]
pub enum CredentialKind {
    /// An HS256 secret (v2), named by its position from 1.
    Secret,
    /// A v3 public key, named by its kid.
    V3Key,
}

/// One use of a credential, as kept: by the partner's id, the credential's kind and fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialUse {
    pub partner_id: i64,
    pub kind: CredentialKind,
    pub fingerprint: String,
    pub at: DateTime<Utc>,
}

/// How often an instance keeps a credential's use in the database: at its first use there, then
/// at most once a minute (the database's time is to the minute, each instance's own to the
/// second), so a busy partner's lookups do not each write.
pub const KEEP_EVERY_SECS: i64 = 60;

/// How long a use is kept after it: a credential unused for that long is long retired.
pub const KEPT_FOR: chrono::TimeDelta = chrono::TimeDelta::days(400);

/// What the database names a credential by: the first 16 bytes, in hex, of a SHA-256 of its
/// value (a secret's bytes, a v3 key's PEM). The same value gives the same fingerprint wherever
/// it stands in the config; nothing can be signed with it.
pub fn fingerprint(value: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(b"warranty-gateway credential\0")
        .chain_update(value)
        .finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_names_the_value_and_shows_none_of_it() {
        let secret = b"tirecompany-secret-0123456789abcdef0123";
        let print = fingerprint(secret);
        assert_eq!(print.len(), 32);
        assert!(print.bytes().all(|b| b.is_ascii_hexdigit()), "{print}");
        assert_eq!(print, fingerprint(secret));
        assert_ne!(print, fingerprint(b"tirecompany-secret-0123456789abcdef0124"));
        // Not the plain SHA-256 of the value, which a table of common secrets would find.
        let plain: String = Sha256::digest(secret)[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_ne!(print, plain);
    }

    #[test]
    fn a_kind_is_stored_as_the_metrics_label_it() {
        for kind in [CredentialKind::Secret, CredentialKind::V3Key] {
            let label: &str = kind.into();
            assert_eq!(label.parse::<CredentialKind>(), Ok(kind));
        }
        assert_eq!(CredentialKind::V3Key.into_str(), "v3_key");
    }
}
