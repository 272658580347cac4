//! A PostgreSQL URL as libpq reads it. The driver understands `sslmode` only up to `require`
//! and knows no `sslrootcert`, while managed PostgreSQL services are reached with
//! `?sslmode=verify-full&sslrootcert=/path/ca.pem`. So the URL's parameters are read here first:
//! the TLS ones are taken out, the rest is left for the driver, and one this gateway does not
//! know is refused by name (a typo never silently turns TLS off). Plain data: the config checks
//! a URL with it, the store connects with it.

use std::path::PathBuf;

/// The URL parameters this gateway reads (libpq's names); any other stops start-up.
pub const PARAMETERS: [&str; 9] = [
    "sslmode",
    "sslrootcert",
    "connect_timeout",
    "application_name",
    "host",
    "port",
    "user",
    "password",
    "dbname",
];

/// libpq's `sslmode`s, named in a URL as libpq names them (`verify-full`). Prefer is libpq's
/// default: TLS when the server offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case", const_into_str)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, String> {
        use strum::VariantNames;
        value
            .parse()
            .map_err(|_| format!("sslmode {value:?} is not one of {}", SslMode::VARIANTS.join(", ")))
    }
}

/// A database URL, its TLS parameters read out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    /// The URL without `sslmode` and `sslrootcert`: what the driver reads.
    pub driver_url: String,
    pub ssl_mode: SslMode,
    /// The CA certificate (PEM) the server's must chain to, when one is named.
    pub root_cert: Option<PathBuf>,
}

impl DatabaseUrl {
    /// Reads `url`; an error names the parameter at fault.
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        let mut parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(format!("the scheme is {:?}; use postgres://", parsed.scheme()));
        }
        let mut ssl_mode = SslMode::Prefer;
        let mut root_cert = None;
        let mut kept = Vec::new();
        for (name, value) in parsed.query_pairs() {
            match name.as_ref() {
                "sslmode" => ssl_mode = SslMode::parse(&value)?,
                "sslrootcert" => root_cert = Some(PathBuf::from(value.as_ref())),
                known if PARAMETERS.contains(&known) => kept.push((name.into_owned(), value.into_owned())),
                unknown => {
                    return Err(format!(
                        "unknown parameter {unknown:?} (this gateway reads {})",
                        PARAMETERS.join(", ")
                    ));
                }
            }
        }
        if root_cert.is_none() && matches!(ssl_mode, SslMode::VerifyCa | SslMode::VerifyFull) {
            return Err("sslmode verify-ca and verify-full need sslrootcert (the CA's certificate, PEM)".into());
        }
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(&kept);
        }
        Ok(DatabaseUrl {
            driver_url: parsed.into(),
            ssl_mode,
            root_cert,
        })
    }

    /// For logs and messages: the server and database, never the user, password or parameters.
    pub fn describe(url: &str) -> String {
        match url::Url::parse(url) {
            Ok(u) => {
                let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
                format!("postgres://{}{port}{}", u.host_str().unwrap_or_default(), u.path())
            }
            Err(_) => "postgres://(unreadable url)".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(url: &str) -> String {
        DatabaseUrl::parse(url).expect_err(url)
    }

    #[test]
    fn tls_parameters_are_read_out_and_an_unknown_one_is_named() {
        let u = DatabaseUrl::parse("postgres://gw:secret@db.internal:6432/warranty").unwrap();
        assert_eq!(u.ssl_mode, SslMode::Prefer, "libpq's default");
        let u =
            DatabaseUrl::parse("postgresql://gw@db/w?sslmode=verify-full&connect_timeout=7&sslrootcert=/etc/ca.pem")
                .unwrap();
        assert_eq!(
            u,
            DatabaseUrl {
                driver_url: "postgresql://gw@db/w?connect_timeout=7".into(),
                ssl_mode: SslMode::VerifyFull,
                root_cert: Some("/etc/ca.pem".into()),
            }
        );
        assert!(error("postgres://gw@db/w?sslmode=verify-full&sslrotcert=/ca.pem").contains("\"sslrotcert\""));
        assert!(error("postgres://gw@db/w?options=-c%20statement_timeout%3D5").contains("\"options\""));
        assert!(error("postgres://gw@db/w?sslmode=verify").contains("\"verify\""));
        assert!(error("postgres://gw@db/w?sslmode=verify-full").contains("need sslrootcert"));
        assert!(error("mysql://gw@db/w").contains("postgres://"));
    }

    #[test]
    fn a_url_is_described_without_its_user_password_or_parameters() {
        assert_eq!(
            DatabaseUrl::describe("postgres://gw:hunter2@db.internal:5432/warranty?sslmode=require"),
            "postgres://db.internal:5432/warranty"
        );
    }
}
