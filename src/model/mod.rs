//! What the gateway keeps beyond the guide's four records (those are `records`): the batch
//! history, a registration's v3 face, v3's motor-club registrations, the audit log, the
//! backups made and when each credential was last used. Below the store and the APIs alike: the store reads and writes these, the API
//! surfaces answer them; nothing here knows HTTP or SQL.

pub mod audit;
pub mod backup;
pub mod batch;
pub mod credential;
pub mod motor_club;
pub mod refused;
pub mod v3_registration;

/// The most characters of a text the history keeps (a refused request's path, user agent or
/// company, an unknown key a warning names); past them, the rest is said to
/// be missing ("... (N more characters)"), never cut silently.
pub const KEPT_CHARACTERS: usize = 512;

/// `text` as it is kept: at most [`KEPT_CHARACTERS`], and says so when it was longer.
pub fn kept_text(text: &str) -> String {
    let count = text.chars().count();
    if count <= KEPT_CHARACTERS {
        return text.to_owned();
    }
    let head: String = text.chars().take(KEPT_CHARACTERS).collect();
    format!("{head}... ({} more characters)", count - KEPT_CHARACTERS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_say_how_much_is_not_kept() {
        assert_eq!(kept_text("/v2/partners/x"), "/v2/partners/x");
        let long = "é".repeat(KEPT_CHARACTERS + 5);
        let kept = kept_text(&long);
        assert!(kept.starts_with(&"é".repeat(KEPT_CHARACTERS)));
        assert!(kept.ends_with("... (5 more characters)"), "{kept}");
    }
}
