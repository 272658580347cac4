//! Requests refused before they reached a partner's data (a bad or missing token, an unknown
//! company): what support reads when a partner's night failed at the door.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::wire::out;

crate::wire::spelled! {
    /// Why a request was refused at the door: what `/ops/refused` keeps it under and
    /// `warranty_gateway_refused_requests_total` counts it by. Never the token itself.
    pub enum RefusalReason {
        MissingToken = "missing_token",
        MalformedToken = "malformed_token",
        WrongAlgorithm = "wrong_algorithm",
        BadSignature = "bad_signature",
        Expired = "expired",
        ExpiredCredential = "expired_credential",
        NotYetValid = "not_yet_valid",
        WrongPartner = "wrong_partner",
        UnknownCompany = "unknown_company",
        UnknownOperator = "unknown_operator",
        OperatorTokenLifetime = "operator_token_lifetime",
        // v3's tokens.
        UnknownIssuer = "unknown_issuer",
        UnknownKid = "unknown_kid",
        WrongAudience = "wrong_audience",
        V3TokenLifetime = "v3_token_lifetime",
        V3NotConfigured = "v3_not_configured",
    }
}

/// One refused request, as `/ops/refused` shows it. Never the token: only why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    #[serde(serialize_with = "out::timestamp")]
    pub at: DateTime<Utc>,
    /// The company the path named (as sent), when it named one.
    pub company: Option<String>,
    /// The configured partner and tenant it names, when it names one.
    #[serde(skip)]
    pub partner_id: Option<i64>,
    pub tenant: Option<String>,
    /// Why: a [`RefusalReason`] as spelled (text: the history keeps what older builds wrote).
    pub reason: String,
    /// The client's address, as the trusted proxies say.
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub method: String,
    /// The path, without its query.
    pub path: String,
}

/// Which refused requests an operator lists: each filter only when given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefusalFilter {
    pub partner_id: Option<i64>,
    pub since: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_spelled_once_in_snake_case() {
        crate::wire::spelled_once_in_snake_case(RefusalReason::ALL.iter().map(|r| r.as_str()));
    }

    /// Support can look every reason `/ops/refused` answers up: in the operators' guide and in
    /// the API's description of the field.
    #[test]
    fn every_reason_is_documented() {
        let root = env!("CARGO_MANIFEST_DIR");
        let guide = std::fs::read_to_string(format!("{root}/docs/operators.md")).unwrap();
        let openapi = std::fs::read_to_string(format!("{root}/openapi.yaml")).unwrap();
        for reason in RefusalReason::ALL {
            assert!(
                guide.contains(&format!("`{reason}`")),
                "{reason} is not in docs/operators.md"
            );
            assert!(
                openapi
                    .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .any(|word| word == reason.as_str()),
                "{reason} is not in openapi.yaml"
            );
        }
    }
}
