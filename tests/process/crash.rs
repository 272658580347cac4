//! Crash safety, on the engine under test: batches are posted in a loop while the server is
//! SIGKILLed at random moments and restarted. Every batch answered 200 is wholly present, no
//! batch is half written, and an SQLite database passes `PRAGMA integrity_check`.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::binary::*;

const KILLS: usize = 24;

/// xorshift64*: enough randomness for timings and sizes, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

struct Sent {
    registrations: usize,
    claims: usize,
    answered: bool,
}

fn batch(id: usize, registrations: usize, claims: usize) -> String {
    let regs: Vec<_> = (0..registrations)
        .map(|i| registration(&format!("K{id}-{i}")))
        .collect();
    let claims: Vec<_> = (0..claims)
        .map(|i| claim(&format!("K{id}-{i}"), &format!("R{i}")))
        .collect();
    json!({"Registrations": regs, "Claims": claims}).to_string()
}

/// Rows per batch id, from the invoice numbers "K<id>-<i>".
fn rows_per_batch(engine: &Engine, table: &str) -> HashMap<usize, usize> {
    let mut rows = HashMap::new();
    for invoice in engine.texts(&format!("SELECT invoice_number FROM {table}")) {
        let id = invoice[1..].split('-').next().unwrap().parse().unwrap();
        *rows.entry(id).or_insert(0) += 1;
    }
    rows
}

#[tokio::test]
async fn sigkill_at_random_moments_loses_no_answered_batch_and_half_writes_none() {
    let dir = tempfile::tempdir().unwrap();
    let (config, engine) = Engine::write_config(dir.path());
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let client = reqwest::Client::new();
    let token = token();
    let mut sent: Vec<Sent> = Vec::new();
    let mut killed_in_flight = 0;

    for _ in 0..KILLS {
        let server = Server::serve(&config);
        // One batch answered in each life, however slow the machine: then batches until a
        // random moment, when the kill comes.
        let mut first = true;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(5 + rng.below(300));
        loop {
            let registrations = 1 + rng.below(600) as usize;
            let claims = (rng.below(150) as usize).min(registrations);
            let id = sent.len();
            sent.push(Sent {
                registrations,
                claims,
                answered: false,
            });
            let request = client
                .post(server.url("/v2/partners/tirecompany"))
                .bearer_auth(&token)
                .body(batch(id, registrations, claims))
                .send();
            tokio::select! {
                res = request => {
                    let res = res.expect("a running server answers");
                    assert_eq!(res.status(), 200, "seed {seed}: batch {id}: {}", res.text().await.unwrap());
                    sent[id].answered = true;
                    first = false;
                }
                _ = tokio::time::sleep_until(deadline), if !first => {
                    killed_in_flight += 1;
                    break;
                }
            }
        }
        // SIGKILL: no shutdown code runs.
        drop(server);
    }

    // Restart once more: the server opens what the kills left, and reads it.
    let server = Server::serve(&config);
    let last_answered = sent.iter().rposition(|s| s.answered).expect("some batch was answered");
    let res = client
        .get(server.url(&format!(
            "/v2/partners/tirecompany?rec=registrationstatus&ShopID=S1&InvoiceNumber=K{last_answered}-0"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "seed {seed}");
    drop(server);

    engine.check_integrity();
    let registrations = rows_per_batch(&engine, "registrations");
    let claims = rows_per_batch(&engine, "claims");
    let (mut whole, mut absent) = (0, 0);
    for (id, s) in sent.iter().enumerate() {
        let got = (
            registrations.get(&id).copied().unwrap_or(0),
            claims.get(&id).copied().unwrap_or(0),
        );
        if s.answered || got != (0, 0) {
            assert_eq!(
                got,
                (s.registrations, s.claims),
                "seed {seed}: batch {id} (answered: {})",
                s.answered
            );
            whole += 1;
        } else {
            absent += 1;
        }
    }
    println!(
        "seed {seed}: {KILLS} kills ({killed_in_flight} with a batch in flight), {} batches: {whole} whole, {absent} absent",
        sent.len()
    );
    assert!(
        sent.iter().filter(|s| s.answered).count() >= KILLS,
        "too few batches were answered to judge"
    );
}
