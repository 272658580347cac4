//! Every cause of a 401, each with a JSON reason; a refused request writes and reads nothing.

use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn body() -> String {
    json!({"Registrations": [registration("S1", "I1")]}).to_string()
}

/// POSTs with a raw Authorization header (or none) and expects a 401 whose reason contains `needle`.
async fn refused(app: &TestApp, company: &str, authorization: Option<&str>, needle: &str) {
    let mut req = app.client.post(app.url(company)).body(body());
    if let Some(h) = authorization {
        req = req.header("Authorization", h);
    }
    let (status, res) = json_of(req.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}: {res}");
    let reason = res["Error"].as_str().unwrap_or_else(|| panic!("no Error in {res}"));
    assert!(reason.contains(needle), "{reason:?} should contain {needle:?}");
}

/// A JWT segment: base64url of the JSON, unpadded.
fn b64(v: Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn nothing_stored(app: &TestApp) {
    let (status, body) = app.get(COMPANY, "rec=registrations&ShopID=S1&InvoiceNumber=I1").await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
}

#[tokio::test]
async fn a_missing_or_garbled_header_is_refused() {
    let app = spawn_app().await;
    refused(&app, COMPANY, None, "missing Authorization header").await;
    refused(
        &app,
        COMPANY,
        Some("Basic dXNlcjpwYXNz"),
        "must be 'Bearer <JWT>': it has Basic credentials",
    )
    .await;
    // The token alone, as some HTTP clients' "API key" settings send it.
    refused(
        &app,
        COMPANY,
        Some(&token()),
        "must be 'Bearer <JWT>': it has the token alone, without 'Bearer ' before it",
    )
    .await;
    refused(&app, COMPANY, Some("Bearer"), "Bearer").await;
    refused(&app, COMPANY, Some("Bearer not-a-jwt"), "not a well-formed JWT").await;
    refused(&app, COMPANY, Some("Bearer a.b.c"), "not a well-formed JWT").await;
    let truncated = token();
    // A signature with one character changed.
    let dot = truncated.rfind('.').unwrap() + 1;
    let flipped = if &truncated[dot..=dot] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &truncated[..dot], &truncated[dot + 1..]);
    refused(&app, COMPANY, Some(&bearer(&tampered)), "signature does not match").await;
    // Pasted wrong: wrapped by a terminal, or in quotes. Said so, not blamed on the secret.
    let token = token();
    let wrapped = format!("{} {}", &token[..40], &token[40..]);
    refused(
        &app,
        COMPANY,
        Some(&bearer(&wrapped)),
        "space or line break at character 41",
    )
    .await;
    refused(
        &app,
        COMPANY,
        Some(&bearer(&format!("\"{token}\""))),
        "it is in quotes: send the token without them",
    )
    .await;
    refused(
        &app,
        COMPANY,
        Some(&bearer(&truncated[..truncated.len() - 10])),
        "not a well-formed JWT",
    )
    .await;
    nothing_stored(&app).await;
}

#[tokio::test]
async fn a_bad_signature_is_refused() {
    let app = spawn_app().await;
    let forged = sign("not-the-secret", json!({"partnerid": PARTNER_ID}));
    refused(&app, COMPANY, Some(&bearer(&forged)), "signature does not match").await;
    // Another partner's valid token on this company.
    refused(&app, COMPANY, Some(&bearer(&other_token())), "signature does not match").await;
    nothing_stored(&app).await;
}

#[tokio::test]
async fn only_hs256_is_accepted() {
    let app = spawn_app().await;
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let t = sign_with(alg, SECRET, json!({"partnerid": PARTNER_ID}));
        refused(&app, COMPANY, Some(&bearer(&t)), "only HS256").await;
    }
    // alg "none": a header and claims with no signature.
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(json!({"partnerid": PARTNER_ID}))
    );
    refused(&app, COMPANY, Some(&bearer(&none)), "").await;
    let rs256 = format!(
        "{}.{}.c2ln",
        b64(json!({"alg": "RS256", "typ": "JWT"})),
        b64(json!({"partnerid": PARTNER_ID}))
    );
    refused(&app, COMPANY, Some(&bearer(&rs256)), "only HS256").await;
    nothing_stored(&app).await;
}

/// A token whose header says `alg` but whose signature is a real HMAC-SHA256 with the partner's
/// secret: the key-confusion attack, where a verifier picks its algorithm from the header.
fn confused(alg: &str) -> String {
    let signed = format!(
        "{}.{}",
        b64(json!({"alg": alg, "typ": "JWT"})),
        b64(json!({"partnerid": PARTNER_ID}))
    );
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let signature = jsonwebtoken::crypto::sign(signed.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{signed}.{signature}")
}

#[tokio::test]
async fn algorithm_confusion_and_none_variants_are_refused() {
    let app = spawn_app().await;
    // An RS256, ES256 or PS256 header over an HMAC made with the shared secret (as if it were a
    // public key).
    for alg in ["RS256", "ES256", "PS256"] {
        refused(&app, COMPANY, Some(&bearer(&confused(alg))), "only HS256").await;
    }
    // Spellings a lenient parser might take for HS256 or for "none".
    for alg in ["hs256", "HS256 ", "none", "None", "NONE", ""] {
        refused(&app, COMPANY, Some(&bearer(&confused(alg))), "not a well-formed JWT").await;
    }
    nothing_stored(&app).await;
    // The same bytes with the honest header pass: the refusals above are the header's doing.
    assert_eq!(
        app.post_raw(COMPANY, &confused("HS256"), body()).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_refused_request_reads_nothing_and_no_answer_carries_the_secret() {
    let app = spawn_app().await;
    assert_eq!(
        app.post(COMPANY, &json!({"Registrations": [registration("S1", "I1")]}))
            .await
            .0,
        StatusCode::OK
    );
    let q = "rec=registrations&ShopID=S1&InvoiceNumber=I1";
    for bad in [
        sign("wrong", json!({"partnerid": PARTNER_ID})),
        other_token(),
        confused("RS256"),
    ] {
        let text = app.get_raw(COMPANY, &bad, q).await.text().await.unwrap();
        let res: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(res.as_object().map(|o| o.len()), Some(1), "only an Error: {text}");
        assert!(!text.contains("S1") && !text.contains(SECRET), "{text}");
    }
    let posted = app
        .post(COMPANY, &json!({"Registrations": [registration("S1", "I2")]}))
        .await
        .1;
    let read = app.get(COMPANY, q).await.1;
    assert!(!posted.to_string().contains(SECRET) && !read.to_string().contains(SECRET));
}

#[tokio::test]
async fn exp_and_nbf_are_honoured() {
    let app = spawn_app().await;
    let now = chrono::Utc::now().timestamp();
    let expired = sign(SECRET, json!({"partnerid": PARTNER_ID, "exp": now - 3600}));
    refused(&app, COMPANY, Some(&bearer(&expired)), "expired").await;
    refused(
        &app,
        COMPANY,
        Some(&bearer(&expired)),
        "60 minutes before this server's clock",
    )
    .await;
    let early = sign(SECRET, json!({"partnerid": PARTNER_ID, "nbf": now + 3600}));
    refused(&app, COMPANY, Some(&bearer(&early)), "not valid yet").await;
    // Milliseconds for seconds, as some JWT libraries' callers send them: named as such.
    let millis = sign(SECRET, json!({"partnerid": PARTNER_ID, "iat": now * 1000}));
    refused(
        &app,
        COMPANY,
        Some(&bearer(&millis)),
        &format!("its iat is {}, which as milliseconds is", now * 1000),
    )
    .await;
    nothing_stored(&app).await;

    let fresh = sign(
        SECRET,
        json!({"partnerid": PARTNER_ID, "exp": now + 3600, "nbf": now - 10}),
    );
    assert_eq!(app.post_raw(COMPANY, &fresh, body()).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn time_claims_count_in_any_spelling_and_a_token_from_the_future_is_refused() {
    let app = spawn_app().await;
    let now = chrono::Utc::now().timestamp();
    let ten_years = 315_360_000;
    let cases = [
        (
            json!({"partnerid": PARTNER_ID, "iat": now + ten_years}),
            "issued in the future",
        ),
        (
            json!({"partnerid": PARTNER_ID, "iat": now + ten_years, "exp": now + ten_years}),
            "issued in the future",
        ),
        (json!({"partnerid": PARTNER_ID, "EXP": now - 3600}), "expired"),
        (json!({"partnerid": PARTNER_ID, "Nbf": now + 3600}), "not valid yet"),
        (
            json!({"partnerid": PARTNER_ID, "exp": now + 600, "EXP": now + 600}),
            "twice",
        ),
        (json!({"partnerid": PARTNER_ID, "PartnerID": OTHER_ID}), "twice"),
        (json!({"partnerid": PARTNER_ID, "exp": "tomorrow"}), "NumericDate"),
    ];
    for (claims, reason) in cases {
        refused(&app, COMPANY, Some(&bearer(&sign(SECRET, claims))), reason).await;
    }
    nothing_stored(&app).await;
    // Within the leeway, a clock a little ahead is fine.
    let ahead = sign(
        SECRET,
        json!({"partnerid": PARTNER_ID, "iat": now + 30, "EXP": now + 600}),
    );
    assert_eq!(app.post_raw(COMPANY, &ahead, body()).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_header_with_critical_extensions_is_refused() {
    let app = spawn_app().await;
    let header = jsonwebtoken::Header {
        crit: Some(vec!["b64".into()]),
        ..jsonwebtoken::Header::new(Algorithm::HS256)
    };
    let claims = json!({"partnerid": PARTNER_ID});
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    refused(&app, COMPANY, Some(&bearer(&token)), "critical").await;
    nothing_stored(&app).await;
}

#[tokio::test]
async fn partnerid_must_be_the_companys() {
    let app = spawn_app().await;
    refused(
        &app,
        COMPANY,
        Some(&bearer(&sign(SECRET, json!({"claimdate": "2020-01-27"})))),
        "no partnerid",
    )
    .await;
    // Signed with this company's secret: the sender holds it, and is told both ids.
    for (claims, said) in [
        (
            json!({"partnerid": OTHER_ID}),
            format!("the token's partnerid is {OTHER_ID}, where this company's partner id is {PARTNER_ID}"),
        ),
        (
            json!({"partnerid": "abc"}),
            format!("the token's partnerid is \"abc\", where this company's partner id is {PARTNER_ID}"),
        ),
        (
            json!({"partnerid": PARTNER_ID, "claimdate": "soon"}),
            "the token's claimdate claim is not a date, got \"soon\"".to_owned(),
        ),
    ] {
        refused(&app, COMPANY, Some(&bearer(&sign(SECRET, claims))), &said).await;
    }
    nothing_stored(&app).await;

    // A numeric string, a differently cased claim name, no claimdate: all fine.
    for claims in [
        json!({"partnerid": "1001"}),
        json!({"PartnerID": 1001, "ClaimDate": "20200127T10:00:00"}),
        json!({"partnerid": 1001, "claimdate": 1580119200}),
    ] {
        let t = sign(SECRET, claims.clone());
        assert_eq!(
            app.post_raw(COMPANY, &t, body()).await.status(),
            StatusCode::OK,
            "{claims}"
        );
    }
}

#[tokio::test]
async fn an_unknown_company_is_refused() {
    let app = spawn_app().await;
    refused(&app, "nosuchcompany", Some(&bearer(&token())), "unknown company").await;
    refused(&app, "nosuchcompany_test", Some(&bearer(&token())), "unknown company").await;
}

#[tokio::test]
async fn a_get_is_authenticated_too_and_its_partnerid_must_match() {
    let app = spawn_app().await;
    assert_eq!(
        app.post(COMPANY, &json!({"Registrations": [registration("S1", "I1")]}))
            .await
            .0,
        StatusCode::OK
    );
    let q = "rec=registrations&ShopID=S1&InvoiceNumber=I1";
    let res = app
        .client
        .get(format!("{}?{q}", app.url(COMPANY)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let forged = sign("nope", json!({"partnerid": PARTNER_ID}));
    let (status, body) = json_of(app.get_raw(COMPANY, &forged, q).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["Error"].as_str().unwrap().contains("signature"));
    let (status, body) = app.get(COMPANY, &format!("{q}&partnerid={OTHER_ID}")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["Error"],
        format!("the partnerid parameter is \"{OTHER_ID}\", where this token's partner id is {PARTNER_ID}")
    );
    assert_eq!(
        app.get(COMPANY, &format!("{q}&PARTNERID={PARTNER_ID}")).await.0,
        StatusCode::OK
    );
}

/// Whether each of rotatingco's secrets, by position, has verified a token, as /ops/partners
/// says (a time within the last minute, or null).
async fn secrets_used(app: &TestApp) -> Vec<bool> {
    let now = chrono::Utc::now();
    app.ops_credentials(ROTATING, "secret")
        .await
        .iter()
        .map(|c| match c["last_used_at"].as_str() {
            None => false,
            Some(at) => {
                let at = chrono::DateTime::parse_from_rfc3339(at).unwrap();
                let ago = now.signed_duration_since(at).num_seconds();
                assert!((0..60).contains(&ago), "{c}");
                true
            }
        })
        .collect()
}

/// A partner rotating its secret: the new and the old one both verify until the old one's
/// not_after; a token signed with a secret past its not_after is refused, saying so.
#[tokio::test]
async fn during_a_rotation_every_live_secret_verifies_and_a_retired_one_is_refused_by_name() {
    let app = spawn_app().await;
    let claims = json!({"partnerid": ROTATING_ID, "claimdate": "2026-12-06"});
    let body = json!({"Sales": [sale("S1", "R1")]}).to_string();
    // Which secrets have verified a token: none yet; then the old one, the partner's POS not
    // moved yet, and the new one not.
    assert_eq!(secrets_used(&app).await, [false, false, false]);
    let res = app
        .post_raw(ROTATING, &sign(ROTATING_OLD, claims.clone()), body.clone())
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(secrets_used(&app).await, [false, true, false]);
    for secret in [ROTATING_NEW, ROTATING_OLD] {
        let res = app
            .post_raw(ROTATING, &sign(secret, claims.clone()), body.clone())
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{secret}");
        let res = app
            .get_raw(
                &format!("{ROTATING}_test"),
                &sign(secret, claims.clone()),
                "rec=sales&ShopID=S1&InvoiceNumber=R1",
            )
            .await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{secret}");
    }
    let res = app
        .post_raw(ROTATING, &sign(ROTATING_RETIRED, claims.clone()), body.clone())
        .await;
    let (status, refused) = json_of(res).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let said = refused["Error"].as_str().unwrap();
    assert!(said.contains("stopped verifying at 2020-01-01T00:00:00Z"), "{said}");
    // A secret it never had is a bad signature, as before. Refused tokens used nothing.
    assert_eq!(secrets_used(&app).await, [true, true, false]);
    let res = app.post_raw(ROTATING, &sign(SECRET, claims.clone()), body).await;
    let (_, refused) = json_of(res).await;
    assert!(
        refused["Error"].as_str().unwrap().contains("does not match"),
        "{refused}"
    );
    // Kept for support under their reasons.
    let support = support();
    for _ in 0..100 {
        let (_, page) = app.ops_get(&format!("/refused?company={ROTATING}"), &support).await;
        if page["total"] == 2 {
            let reasons: Vec<&str> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["reason"].as_str().unwrap())
                .collect();
            assert_eq!(reasons, ["bad_signature", "expired_credential"]);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the refused requests were not kept");
}

/// When each secret was last used is kept in the database: a restarted server (or another
/// instance on the same database) says it, where its own memory knows nothing yet. The
/// database names the secret by a fingerprint, never by its value.
#[tokio::test]
async fn a_secrets_last_use_outlasts_a_restart() {
    let app = spawn_app().await;
    let claims = json!({"partnerid": ROTATING_ID, "claimdate": "2026-12-06"});
    let res = app
        .get_raw(
            ROTATING,
            &sign(ROTATING_OLD, claims),
            "rec=sales&ShopID=S1&InvoiceNumber=R1",
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Kept off the request's way: soon after its answer.
    let kept = "SELECT count(*) FROM credential_uses WHERE kind = 'secret' AND length(fingerprint) = 32";
    for _ in 0..100 {
        if app.query_i64(kept) == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.query_i64(kept), 1);
    let value = format!("SELECT count(*) FROM credential_uses WHERE fingerprint LIKE '%{ROTATING_OLD}%'");
    assert_eq!(app.query_i64(&value), 0);

    let app = app.restart().await;
    assert_eq!(secrets_used(&app).await, [false, true, false]);
}
