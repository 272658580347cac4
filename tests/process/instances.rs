//! Several instances on one PostgreSQL database (only when `WARRANTY_GATEWAY_TEST_POSTGRES` is
//! set): three gateway processes take concurrent claims and cancellations against the same
//! registrations, and new registrations that several of them register at once. No registration
//! is ever over-claimed or cancelled twice, every record answered "Successfully Posted" is
//! stored (and no refused one is), and registrationstatus through every instance agrees with
//! the stored claims.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use crate::binary::*;

const INSTANCES: usize = 3;
const CLIENTS_PER_INSTANCE: usize = 4;
const BATCHES_PER_CLIENT: usize = 12;
/// Registrations every batch claims and cancels against.
const SHARED: usize = 6;

fn cancellation(invoice: &str, cancel_invoice: &str) -> Value {
    json!({
        "ShopID": "S1", "InvoiceNumber": invoice, "CancelShopID": "S1",
        "CancelInvoiceNumber": cancel_invoice, "TireCancelCount": 1, "CancelDate": "2024-03-02"
    })
}

/// What a client sent in one batch and what came back for each record.
struct Answer {
    status: u16,
    /// (record type, RepairInvoiceNumber or CancelInvoiceNumber, posted?)
    entries: Vec<(String, String, bool)>,
}

#[tokio::test]
async fn three_instances_keep_every_rule_on_shared_registrations() {
    if PgDatabase::server().is_none() {
        eprintln!("skipped: WARRANTY_GATEWAY_TEST_POSTGRES is not set (a PostgreSQL server URL)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (config, engine) = Engine::write_config(dir.path());
    let servers: Vec<Server> = (0..INSTANCES).map(|_| Server::serve(&config)).collect();
    let client = reqwest::Client::new();
    let regs: Vec<Value> = (0..SHARED).map(|i| registration(&format!("M{i}"))).collect();
    let res = client
        .post(servers[0].url("/v2/partners/tirecompany"))
        .bearer_auth(token())
        .body(json!({ "Registrations": regs }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let mut tasks = Vec::new();
    for (s, server) in servers.iter().enumerate() {
        for c in 0..CLIENTS_PER_INSTANCE {
            let url = server.url("/v2/partners/tirecompany");
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let mut answers = Vec::new();
                for b in 0..BATCHES_PER_CLIENT {
                    let tag = format!("{s}-{c}-{b}");
                    // Two claims and a cancellation on shared registrations, and a registration
                    // that clients of every instance register (and claim on) at about the same time.
                    let shared = |k: usize| format!("M{}", (s + c + b + k) % SHARED);
                    let new = format!("N{b}");
                    let body = json!({
                        "Registrations": [registration(&new)],
                        "Claims": [
                            claim(&shared(0), &format!("R{tag}-a")),
                            claim(&shared(1), &format!("R{tag}-b")),
                            claim(&new, &format!("R{tag}-n")),
                        ],
                        "Cancellations": [cancellation(&shared(2), &format!("C{tag}"))],
                    });
                    let res = client
                        .post(&url)
                        .bearer_auth(token())
                        .body(body.to_string())
                        .send()
                        .await
                        .unwrap();
                    let status = res.status().as_u16();
                    let body: Value = res.json().await.unwrap();
                    let entries = match body.as_array() {
                        Some(results) => results
                            .iter()
                            .filter(|r| r["Record"] != "Registrations")
                            .map(|r| {
                                let key = r["Key"]["RepairInvoiceNumber"]
                                    .as_str()
                                    .or(r["Key"]["CancelInvoiceNumber"].as_str())
                                    .unwrap_or_else(|| panic!("a result entry has its key: {r}"))
                                    .to_owned();
                                (
                                    r["Record"].as_str().unwrap().to_owned(),
                                    key,
                                    r["Status"] == "Successfully Posted",
                                )
                            })
                            .collect(),
                        None => Vec::new(),
                    };
                    answers.push(Answer { status, entries });
                }
                answers
            }));
        }
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.extend(t.await.unwrap());
    }
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    if !statuses.iter().all(|s| *s == 200 || *s == 206) {
        // What the instances said of the batches they did not judge, for whoever reads the failure.
        let warnings: Vec<String> = servers
            .iter()
            .flat_map(|s| s.drain_log().lines().map(str::to_owned).collect::<Vec<_>>())
            .filter(|line| line.contains("WARN") || line.contains("ERROR"))
            .collect();
        panic!(
            "every batch is judged, 200 or 206 (conflicts are retried inside): {statuses:?}\n{}",
            warnings.join("\n")
        );
    }
    let posted: HashSet<String> = answers
        .iter()
        .flat_map(|a| &a.entries)
        .filter(|(_, _, ok)| *ok)
        .map(|(_, key, _)| key.clone())
        .collect();
    let refused = answers
        .iter()
        .flat_map(|a| &a.entries)
        .filter(|(_, _, ok)| !*ok)
        .count();
    assert!(
        refused > 0,
        "the load never ran a registration out of tires: make it heavier"
    );

    // What is stored: exactly what was answered "Successfully Posted".
    let stored_claims = engine.texts("SELECT repair_invoice_number FROM claims");
    let stored_cancels = engine.texts("SELECT cancel_invoice_number FROM cancellations");
    let stored: HashSet<String> = stored_claims.iter().chain(&stored_cancels).cloned().collect();
    assert_eq!(stored.len(), stored_claims.len() + stored_cancels.len());
    assert_eq!(stored, posted);

    // No registration over-claimed or cancelled twice.
    let per_registration = engine.texts(
        "SELECT r.invoice_number || ' ' || r.tires_covered || ' ' || \
           (SELECT COALESCE(SUM(tire_claim_count), 0) FROM claims c WHERE c.registration_id = r.id) || ' ' || \
           (SELECT COALESCE(SUM(tire_cancel_count), 0) FROM cancellations x WHERE x.registration_id = r.id) || ' ' || \
           (SELECT count(*) FROM cancellations x WHERE x.registration_id = r.id) \
         FROM registrations r",
    );
    let mut usage: HashMap<String, (i64, i64)> = HashMap::new();
    for line in &per_registration {
        let v: Vec<&str> = line.split(' ').collect();
        let n = |i: usize| v[i].parse::<i64>().unwrap();
        assert!(n(2) + n(3) <= n(1), "over-claimed: {line}");
        assert!(n(4) <= 1, "cancelled more than once: {line}");
        usage.insert(v[0].to_owned(), (n(2), n(3)));
    }
    assert_eq!(usage.len(), SHARED + BATCHES_PER_CLIENT, "{per_registration:?}");

    // Every instance answers the same status, from the stored claims.
    for (invoice, (claimed, cancelled)) in &usage {
        for server in &servers {
            let res = server
                .get(&format!(
                    "/v2/partners/tirecompany?rec=registrationstatus&ShopID=S1&InvoiceNumber={invoice}"
                ))
                .await;
            let status: Value = res.json().await.unwrap();
            assert_eq!(status["TireClaimCount"], *claimed, "{invoice}: {status}");
            assert_eq!(status["TireCancelCount"], *cancelled, "{invoice}: {status}");
            assert_eq!(status["TiresLeft"], 4 - claimed - cancelled, "{invoice}: {status}");
        }
    }
}
