//! `serve` on a config file (picked by --config or by WARRANTY_GATEWAY_CONFIG), and `token`
//! printing a token that server accepts.

use std::process::Command;

use serde_json::json;

use crate::binary::*;

fn token_from_the_binary(config: &std::path::Path) -> String {
    let out = Command::new(BIN)
        .args(["token", "--company", "tirecompany", "--config"])
        .arg(config)
        .env(SECRET_ENV, SECRET)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn serve_and_token_work_together_and_secrets_stay_out_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").env("WARRANTY_GATEWAY_CONFIG", &config);
    let server = Server::start(cmd);
    // The database path is taken relative to the config file's folder.
    assert!(db_path(dir.path()).exists());

    let client = reqwest::Client::new();
    assert_eq!(client.get(server.url("/healthz")).send().await.unwrap().status(), 200);

    let token = token_from_the_binary(&config);
    let body = json!({"Registrations": [registration("1044273")]});
    let res = client
        .post(server.url("/v2/partners/tirecompany"))
        .bearer_auth(&token)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = client
        .get(server.url("/v2/partners/tirecompany?rec=registrationstatus&shopid=S1&invoicenumber=1044273"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Refused tokens are logged with their reason, never with the token.
    let dot = token.rfind('.').unwrap() + 1;
    let flipped = if &token[dot..=dot] == "A" { "B" } else { "A" };
    let forged = format!("{}{flipped}{}", &token[..dot], &token[dot + 1..]);
    let res = client
        .post(server.url("/v2/partners/tirecompany"))
        .bearer_auth(&forged)
        .body("{}")
        .send()
        .await;
    assert_eq!(res.unwrap().status(), 401);

    let log = server.drain_log();
    assert!(log.contains("batch posted"), "one line per POST: {log}");
    assert!(
        log.contains("partner=tirecompany") && log.contains("tenant=live"),
        "{log}"
    );
    assert!(log.contains("signature does not match"), "{log}");
    assert!(!log.contains(SECRET), "the secret leaked into the log");
    assert!(
        !log.contains(&token[20..]) && !log.contains(&forged[20..]),
        "a token leaked into the log"
    );
}

#[test]
fn token_names_an_unknown_company_and_a_missing_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let out = Command::new(BIN)
        .args(["token", "--company", "nobody", "--config"])
        .arg(&config)
        .env(SECRET_ENV, SECRET)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no partner \"nobody\""));

    let out = Command::new(BIN)
        .args(["serve", "--config", "/nonexistent/gateway.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file"));
}

#[test]
fn partners_lists_without_secrets_and_warns_of_short_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("partners.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\npath = \"db.sqlite3\"\n\n\
             [[partners]]\ncompany = \"tirecompany\"\npartner_id = 1001\nsecret_env = \"{SECRET_ENV}\"\nplan_term_months = 36\n\n\
             [[partners]]\ncompany = \"shortco\"\npartner_id = 2002\nsecret = \"tooshort\"\nplan_term_months = 12\ntimezone = \"America/Denver\"\nexpected_upload_by = \"06:00\"\n"
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["partners", "--config"])
        .arg(&config)
        .env(SECRET_ENV, SECRET)
        .output()
        .unwrap();
    assert!(out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains("tirecompany") && stdout.contains("1001") && stdout.contains(&format!("from ${SECRET_ENV}"))
    );
    assert!(stdout.contains("shortco") && stdout.contains("America/Denver") && stdout.contains("inline"));
    assert!(stdout.contains("America/Denver       06:00"), "{stdout}");
    assert!(!stdout.contains(SECRET) && !stdout.contains("tooshort") && !stderr.contains("tooshort"));
    assert!(
        stderr.contains("secret of shortco is shorter than 32 bytes"),
        "{stderr}"
    );
    assert!(!stderr.contains("tirecompany"), "{stderr}");
}

#[tokio::test]
async fn log_lines_can_be_json_for_log_shippers() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--log-format", "json", "--config"]).arg(&config);
    let server = Server::start(cmd);
    let res = server
        .post("tirecompany_test", &json!({"Registrations": [registration("J1")]}))
        .await;
    assert_eq!(res.status(), 200);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let log = server.drain_log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let posted = lines
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("batch posted"))
        })
        .unwrap_or_else(|| panic!("no batch line in {log}"));
    assert_eq!(
        (&posted["fields"]["tenant"], &posted["fields"]["status"]),
        (&json!("test"), &json!(200))
    );
    // The response's X-Request-Id is the id its log lines carry.
    assert_eq!(request_id.len(), 36, "{request_id}");
    assert!(
        posted["spans"]
            .to_string()
            .contains(&format!(r#""request_id":"{request_id}""#)),
        "{request_id}: {posted}"
    );
}

/// `keygen` on a full disk fails saying so and leaves no half-written key behind, which would
/// refuse the next run (an existing key is never overwritten); with room again, it works. Nor
/// does a public.pem already there leave a new private.pem without its public key.
#[test]
fn keygen_leaves_no_half_pair_behind() {
    let Some(disk) = crate::common_small_disk::SmallDisk::mount("64k") else {
        return;
    };
    let keys = disk.path.join("keys");
    std::fs::create_dir(&keys).unwrap();
    let filler = disk.fill();
    let out = Command::new(BIN).args(["keygen", "--out"]).arg(&keys).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("cannot write") && err.contains("private.pem"), "{err}");
    assert_eq!(std::fs::read_dir(&keys).unwrap().count(), 0, "{err}");

    std::fs::remove_file(filler).unwrap();
    let out = Command::new(BIN).args(["keygen", "--out"]).arg(&keys).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let private = std::fs::read_to_string(keys.join("private.pem")).unwrap();
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"), "{private}");

    std::fs::remove_file(keys.join("private.pem")).unwrap();
    let out = Command::new(BIN).args(["keygen", "--out"]).arg(&keys).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("public.pem"), "{err}");
    assert!(!keys.join("private.pem").exists(), "{err}");
}

/// `keygen` makes a partner's key pair; `token --v3` signs with its private key a token the
/// server, configured with its public key, accepts for live data or (`--sandbox`) the test
/// tenant.
#[tokio::test]
async fn keygen_and_token_v3_make_a_partner_ready_for_v3() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let key = enable_v3(dir.path(), &config);
    let keys = dir.path().join("keys");
    let private = std::fs::read_to_string(&key).unwrap();
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the private key is its owner's only");
    }
    // An existing key is never overwritten.
    let again = Command::new(BIN).args(["keygen", "--out"]).arg(&keys).output().unwrap();
    assert!(!again.status.success());
    assert_eq!(std::fs::read_to_string(&key).unwrap(), private);

    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(&config);
    let server = Server::start(cmd);
    let token = |extra: &[&str]| v3_token_cli(&config, &key, extra);
    let client = reqwest::Client::new();
    let body = json!({
        "product_id": "TPP-36", "invoiceNumber": "001-20345", "enrollDate": "2021-08-01T13:08:00.000Z",
        "customer": {"name": "John Doe"},
        "tires": [{"make": "BRIDGESTONE", "model": "TURANZA ER33", "size": "235/45R18", "retailPrice": 334.31}]
    });
    let url = server.url("/api/v3/tire-protection/registrations");
    let res = client
        .post(&url)
        .bearer_auth(token(&[]))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let sandbox = token(&["--sandbox", "--expires-in-minutes", "5"]);
    let page: serde_json::Value = client
        .get(&url)
        .bearer_auth(&sandbox)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["totalRecordCount"], 0, "the sandbox is the test tenant");
    let page: serde_json::Value = client
        .get(&url)
        .bearer_auth(token(&[]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["totalRecordCount"], 1);
    // More than 24 hours is refused before any token is made.
    let (code, _, err) = run_cli(
        &[
            "token",
            "--v3",
            "--company",
            "tirecompany",
            "--key",
            "k.pem",
            "--expires-in-minutes",
            "1441",
        ],
        &config,
    );
    assert_ne!(code, 0);
    assert!(err.contains("1441"), "{err}");
}

/// `token --operator NAME`: an HS256 token with sub, role, iat and exp (8 hours by default, at
/// most 12), signed with the operator's secret; an unknown operator is named; a partner's route
/// refuses it.
#[tokio::test]
async fn token_for_an_operator_names_them_and_expires_within_twelve_hours() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[[operators]]\nname = \"anna\"\nrole = \"support\"\nsecret_env = \"GW_OPERATOR_ANNA\"\n");
    std::fs::write(&config, text).unwrap();
    let token = |args: &[&str]| {
        Command::new(BIN)
            .arg("token")
            .args(args)
            .arg("--config")
            .arg(&config)
            .env(SECRET_ENV, SECRET)
            .env("GW_OPERATOR_ANNA", "anna-secret-0123456789abcdef012345")
            .output()
            .unwrap()
    };
    let out = token(&["--operator", "anna"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let minted = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims = ["exp", "sub"].map(String::from).into();
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        &minted,
        &jsonwebtoken::DecodingKey::from_secret(b"anna-secret-0123456789abcdef012345"),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(
        (claims["sub"].as_str(), claims["role"].as_str()),
        (Some("anna"), Some("support"))
    );
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 8 * 3600);
    let out = token(&["--operator", "anna", "--expires-in-hours", "13"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("13 is not in 1..=12"));
    let out = token(&["--operator", "bob"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no operator \"bob\""));

    // A partner's route does not take it.
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--config"])
        .arg(&config)
        .env("GW_OPERATOR_ANNA", "anna-secret-0123456789abcdef012345");
    let server = Server::start(cmd);
    let res = reqwest::Client::new()
        .get(server.url("/v2/partners/tirecompany/batches"))
        .bearer_auth(&minted)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

/// `partners` lists each secret of a rotation by position (never its value) with its end, and
/// warns about one ending within 14 days or already ended.
#[test]
fn partners_lists_each_secret_of_a_rotation_and_warns_before_one_ends() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rotation.toml");
    let soon = (chrono::Utc::now() + chrono::Duration::days(3)).format("%Y-%m-%d");
    std::fs::write(
        &config,
        format!(
            "[database]\npath = \"db.sqlite3\"\n\n\
             [[partners]]\ncompany = \"tirecompany\"\npartner_id = 1001\nplan_term_months = 36\n\
             secrets = [ {{ secret_env = \"{SECRET_ENV}\" }},\n\
                         {{ secret = \"old-secret-0123456789abcdef0123456789\", not_after = \"{soon}\" }},\n\
                         {{ secret = \"gone-secret-0123456789abcdef012345678\", not_after = \"2020-01-01\" }} ]\n"
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run_cli(&["partners"], &config);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("from ${SECRET_ENV} (+2 more, below)")),
        "{stdout}"
    );
    // No database yet: no credential has verified a token.
    assert!(
        stdout.contains(&format!(
            "secret 1: from ${SECRET_ENV}, no end, no token verified with it on record, signs `token`'s tokens"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "secret 2: inline, until {soon}T23:59:59Z, no token verified with it on record"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("secret 3: inline, until 2020-01-01T23:59:59Z"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!(
            "secret 2 of tirecompany stops verifying tokens at {soon}T23:59:59Z, within 14 days \
             (no token signed with it is on record)"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("secret 3 of tirecompany stopped verifying tokens at 2020-01-01T23:59:59Z"),
        "{stderr}"
    );
    // `check` warns the same.
    let (_, checked, _) = run_cli(&["check"], &config);
    assert!(
        checked.contains(&format!(
            "secret 2 of tirecompany stops verifying tokens at {soon}T23:59:59Z, within 14 days \
             (no token signed with it is on record)"
        )),
        "{checked}"
    );
    for text in [&stdout, &stderr] {
        assert!(!text.contains("old-secret") && !text.contains(SECRET), "{text}");
    }
}

/// `token` signs with secret 1: one past its end is refused before a token is made (every
/// request would refuse it), and one that ends is said to end the token with it.
#[test]
fn token_refuses_an_ended_secret_and_says_when_the_token_ends_with_its_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rotation.toml");
    let write = |first_end: &str| {
        std::fs::write(
            &config,
            format!(
                "[database]\npath = \"db.sqlite3\"\n\n\
                 [[partners]]\ncompany = \"tirecompany\"\npartner_id = 1001\nplan_term_months = 36\n\
                 secrets = [ {{ secret_env = \"{SECRET_ENV}\", not_after = \"{first_end}\" }},\n\
                             {{ secret = \"new-secret-0123456789abcdef0123456789\" }} ]\n"
            ),
        )
        .unwrap()
    };
    write("2020-01-01");
    let (code, token, err) = run_cli(&["token", "--company", "tirecompany"], &config);
    assert_ne!(code, 0, "{token}");
    assert!(token.trim().is_empty(), "{token}");
    assert!(
        err.contains("secret 1 of tirecompany stopped verifying tokens at 2020-01-01T23:59:59Z")
            && err.contains("Put a live secret first"),
        "{err}"
    );

    let soon = (chrono::Utc::now() + chrono::Duration::days(3)).format("%Y-%m-%d");
    write(&soon.to_string());
    let (code, token, err) = run_cli(&["token", "--company", "tirecompany"], &config);
    assert_eq!(code, 0, "{err}");
    assert_eq!(token.trim().split('.').count(), 3, "{token}");
    assert!(
        err.contains(&format!(
            "secret 1 of tirecompany, which signs this token, stops verifying tokens at {soon}T23:59:59Z"
        )),
        "{err}"
    );
    // A token that expires before its secret ends needs no word.
    let (code, _, err) = run_cli(
        &["token", "--company", "tirecompany", "--expires-in-days", "1"],
        &config,
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("stops verifying"), "{err}");
}

/// A v3 key rotation from the command line: `token --v3 --kid` puts the kid in the header and
/// the server takes it; `partners` lists the keys by kid with their ends; a kid the partner
/// does not have is refused before any token is made.
#[tokio::test]
async fn token_names_the_v3_key_by_kid_and_partners_lists_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    for kid in ["a", "b"] {
        let out = Command::new(BIN)
            .args(["keygen", "--out"])
            .arg(dir.path().join(format!("keys/{kid}")))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let config = write_config(dir.path());
    let soon = (chrono::Utc::now() + chrono::Duration::days(3)).format("%Y-%m-%d");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "v3_issuer = \"tc-issuer\"\n\
         v3_public_keys = [ {{ kid = \"b\", file = \"keys/b/public.pem\" }},\n\
                            {{ kid = \"a\", file = \"keys/a/public.pem\", not_after = \"{soon}\" }} ]\n\
         \n[v3]\naudience = \"https://gw.example/api/v3\"\nsandbox_audience = \"https://sandbox.gw.example/api/v3\"\n"
    ));
    std::fs::write(&config, text).unwrap();

    let (code, stdout, stderr) = run_cli(&["partners"], &config);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("v3 key \"b\": public key, no end"), "{stdout}");
    assert!(
        stdout.contains(&format!("v3 key \"a\": public key, until {soon}T23:59:59Z")),
        "{stdout}"
    );
    assert!(
        stderr.contains("v3 key \"a\" of tirecompany stops verifying tokens"),
        "{stderr}"
    );

    let server = Server::serve(&config);
    // `token --v3` for tirecompany with the kid, signed with the private key of `keys/{key}`.
    let token_v3 = |kid: &str, key: &str| {
        let key = dir.path().join(format!("keys/{key}/private.pem"));
        let args = [
            "token",
            "--v3",
            "--company",
            "tirecompany",
            "--kid",
            kid,
            "--key",
            key.to_str().unwrap(),
        ];
        run_cli(&args, &config)
    };
    for kid in ["a", "b"] {
        let (code, token, err) = token_v3(kid, kid);
        assert_eq!(code, 0, "{err}");
        let header = jsonwebtoken::decode_header(token.trim()).unwrap();
        assert_eq!(header.kid.as_deref(), Some(kid));
        let res = reqwest::Client::new()
            .get(server.url("/api/v3/tire-protection/registrations"))
            .bearer_auth(token.trim())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "kid {kid}");
    }
    // Each key's last use, from the database.
    let used = |kid: &str| format!("v3 key \"{kid}\": public key, no end, last verified a token at ");
    let (listed, _) = partners_until(&config, |listed| listed.matches("last verified").count() == 2);
    assert!(listed.contains(&used("b")), "{listed}");
    assert!(
        listed.contains(&format!(
            "v3 key \"a\": public key, until {soon}T23:59:59Z, last verified a token at "
        )),
        "{listed}"
    );
    let (code, _, err) = token_v3("c", "a");
    assert_ne!(code, 0);
    assert!(err.contains("no v3 key with kid \"c\""), "{err}");

    // A kid whose key has ended: refused before any token is made, as the server would.
    let text = std::fs::read_to_string(&config).unwrap();
    let ended = text.replace(&format!("not_after = \"{soon}\""), "not_after = \"2020-01-01\"");
    assert_ne!(ended, text);
    std::fs::write(&config, ended).unwrap();
    let (code, token, err) = token_v3("a", "a");
    assert_ne!(code, 0, "{token}");
    assert!(
        err.contains("v3 key \"a\" of tirecompany stopped verifying tokens at 2020-01-01T23:59:59Z"),
        "{err}"
    );
}

#[test]
fn token_keygen_and_partners_need_no_database_url() {
    let dir = tempfile::tempdir().unwrap();
    // A PostgreSQL deployment's config, run where its DATABASE_URL is not set (an operator's
    // laptop, a shell without the service's environment).
    let var = "WARRANTY_GATEWAY_TEST_UNSET_DATABASE_URL";
    let config = write_config_with(dir.path(), &format!("url_env = \"{var}\""));
    let (code, token, stderr) = run_cli(&["token", "--company", "tirecompany"], &config);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(token.trim().split('.').count(), 3, "{token}");
    let (code, listed, stderr) = run_cli(&["partners"], &config);
    assert_eq!(code, 0, "{stderr}");
    assert!(listed.contains("tirecompany"), "{listed}");
    // Without the database, what only it knows is left out, saying why.
    assert!(
        stderr.contains(&format!(
            "warning: when each credential last verified a token is not shown: \
             database.url_env: the environment variable {var} is not set"
        )),
        "{stderr}"
    );
    let keys = dir.path().join("keys");
    let (code, _, stderr) = run_cli(&["keygen", "--out", keys.to_str().unwrap()], &config);
    assert_eq!(code, 0, "{stderr}");
    // The commands that open the database say what is missing.
    for command in [&["migrate"][..], &["serve"], &["backup", "--to", "copy.sqlite3"]] {
        let (code, _, stderr) = run_cli(command, &config);
        assert_eq!(code, 2, "{command:?}: {stderr}");
        assert!(stderr.contains(&format!("{var} is not set")), "{command:?}: {stderr}");
    }
}

#[test]
fn bind_comes_from_the_command_line_or_the_environment_before_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    // The config's own bind cannot be listened on: only the override can make it serve.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("bind = \"127.0.0.1:0\"", "bind = \"no-such-host.invalid:1\""),
    )
    .unwrap();
    let (code, _, stderr) = run_cli(&["serve"], &config);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no-such-host.invalid:1"), "{stderr}");
    // A start that cannot listen leaves no database behind.
    assert!(!dir.path().join("db").exists());

    let mut by_flag = Command::new(BIN);
    by_flag
        .args(["serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(&config);
    let server = Server::start(by_flag);
    assert!(server.address.starts_with("127.0.0.1:"), "{}", server.address);
    // A reload keeps the override: it is no change that needs a restart.
    server.signal(Signal::HUP);
    let log = server.log_until("config reloaded");
    assert!(!log.contains("server.bind"), "{log}");
    drop(server);

    let mut by_env = Command::new(BIN);
    by_env
        .arg("--config")
        .arg(&config)
        .env("WARRANTY_GATEWAY_BIND", "127.0.0.1:0");
    let server = Server::start(by_env);
    assert!(server.address.starts_with("127.0.0.1:"), "{}", server.address);
    drop(server);

    // `serve` reads the environment too; a --bind before the subcommand wins over it.
    let with_env = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&config)
            .env("WARRANTY_GATEWAY_BIND", "env-host.invalid:2")
            .env(SECRET_ENV, SECRET)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, stderr) = with_env(&["serve"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("env-host.invalid:2"), "{stderr}");
    let (code, stderr) = with_env(&["--bind", "flag-host.invalid:3", "serve"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("flag-host.invalid:3"), "{stderr}");
    // Only serving listens: another command has no --bind (nor shows one in its help).
    let (code, stderr) = with_env(&["token", "--company", "tirecompany", "--bind", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("unexpected argument '--bind'"), "{stderr}");
    let (code, stdout, _) = run_cli(&["token", "--help"], &config);
    assert_eq!(code, 0);
    assert!(!stdout.contains("--bind"), "{stdout}");
}

/// A second start on a taken port (a new build started before the old one stopped) fails
/// before it touches its database: it neither creates nor migrates one under a running server.
#[tokio::test]
async fn a_start_on_a_taken_port_leaves_the_database_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let running = Server::serve(&config);
    let other = tempfile::tempdir().unwrap();
    let second = write_config(other.path());
    let (code, _, stderr) = run_cli(&["serve", "--bind", &running.address], &second);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {}", running.address)),
        "{stderr}"
    );
    assert!(!stderr.contains("migrated"), "{stderr}");
    assert!(!other.path().join("db").exists());
    // The first one serves on.
    let res = running
        .get("/v2/partners/tirecompany?rec=registrationstatus&ShopID=1&InvoiceNumber=2")
        .await;
    assert_eq!(res.status(), 204);
}

#[test]
fn without_a_config_file_the_error_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("partners")
        .current_dir(dir.path())
        .env_remove("WARRANTY_GATEWAY_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    if std::path::Path::new("/etc/warranty-gateway/config.toml").exists() {
        // This machine has an installed config: it was read instead (the default's second place).
        return;
    }
    for named in [
        "./config.toml",
        "/etc/warranty-gateway/config.toml",
        "--config",
        "WARRANTY_GATEWAY_CONFIG",
    ] {
        assert!(stderr.contains(named), "{named}: {stderr}");
    }
    // From a folder with a config.toml, that one is read.
    write_config(dir.path());
    std::fs::rename(dir.path().join("gateway.toml"), dir.path().join("config.toml")).unwrap();
    let out = Command::new(BIN)
        .arg("partners")
        .current_dir(dir.path())
        .env_remove("WARRANTY_GATEWAY_CONFIG")
        .env(SECRET_ENV, SECRET)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("tirecompany"));
}

#[test]
fn the_shipped_service_config_loads() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/config.example.toml");
    let out = Command::new(BIN)
        .args(["partners", "--config", example])
        .env("TIRECOMPANY_SECRET", "an-example-secret-0123456789abcdef0123456789")
        .env("GW_OPERATOR_ADMIN", "an-operator-secret-0123456789abcdef012345678")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("tirecompany"));
    // The service may write only its state folder: the database must be there.
    let text = std::fs::read_to_string(example).unwrap();
    assert!(text.contains("path = \"/var/lib/warranty-gateway/"), "{text}");
    let unit = include_str!("../../deploy/systemd/warranty-gateway.service");
    assert!(unit.contains("StateDirectory=warranty-gateway"));
    assert!(unit.contains("--config /etc/warranty-gateway/config.toml"));
}

#[tokio::test]
async fn the_bundled_demo_secret_is_served_on_this_machine_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let bundled = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml")).unwrap();
    let placeholder = warranty_gateway::config::PUBLIC_DEMO_SECRET;
    assert!(bundled.contains(placeholder));
    std::fs::write(&config, &bundled).unwrap();
    let serve_on = |bind: &str| {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--bind", bind, "--config"]).arg(&config);
        cmd
    };

    // Reachable from other machines, the shipped config does not serve, and says what to do.
    let mut refused = serve_on("0.0.0.0:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if exit_within(&mut refused, std::time::Duration::from_secs(30)).is_none() {
        refused.kill().unwrap();
        panic!("it served beyond loopback with the public secret");
    }
    let out = refused.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for named in ["partner tirecompany", "demo placeholder", "secret_env", "0.0.0.0:"] {
        assert!(stderr.contains(named), "{named}: {stderr}");
    }
    // `partners`, where an operator reviews the credentials, says so too.
    let (code, _, stderr) = run_cli(&["partners"], &config);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning: tirecompany has the bundled config.toml's demo secret"),
        "{stderr}"
    );
    // On loopback it serves as shipped (the README's quick start).
    drop(Server::start(serve_on("127.0.0.1:0")));

    // With a secret of its own it serves anywhere; a reload back to the placeholder is refused
    // and changes nothing.
    let own = dir.path().join("own.toml");
    std::fs::write(
        &own,
        bundled.replace(placeholder, "this-deployments-own-secret-0123456789abcdef"),
    )
    .unwrap();
    std::fs::copy(&own, &config).unwrap();
    let server = Server::start(serve_on("0.0.0.0:0"));
    assert!(server.address.starts_with("0.0.0.0:"), "{}", server.address);
    std::fs::write(&config, &bundled).unwrap();
    server.signal(Signal::HUP);
    let log = server.log_until("config not reloaded");
    assert!(log.contains("demo placeholder"), "{log}");
    let status = reqwest::Client::new()
        .get(
            server
                .url("/v2/partners/tirecompany?rec=registrationstatus&ShopID=1&InvoiceNumber=2")
                .replace("0.0.0.0", "127.0.0.1"),
        )
        .bearer_auth(token_from_the_binary(&own))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204, "the deployment's own secret still verifies");
}
