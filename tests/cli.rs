//! The binary as an operator runs it: `serve` on a config file (picked by --config or by
//! WARRANTY_GATEWAY_CONFIG), and `token` printing a token that server accepts.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_warranty-gateway");
const SECRET: &str = "cli-test-secret-0123456789abcdef0123456789";

fn write_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("gateway.toml");
    std::fs::write(
        &path,
        r#"
[server]
bind = "127.0.0.1:0"
max_body_bytes = 1048576

[database]
path = "db/gateway.sqlite3"

[[partners]]
company = "tirecompany"
partner_id = 1001
secret_env = "CLI_TEST_SECRET"
plan_term_months = 36
"#,
    )
    .unwrap();
    path
}

/// A running server process, killed on drop; its log lines keep arriving on `log`.
struct Server {
    child: Child,
    address: String,
    log: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(mut cmd: Command) -> Server {
        let mut child = cmd
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        let address = loop {
            let line = log
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("the server did not say where it listens: {seen:#?}"));
            if let Some(rest) = line.split("address=").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
            seen.push(line);
        };
        Server { child, address, log }
    }

    fn drain_log(&self) -> String {
        std::thread::sleep(Duration::from_millis(200));
        self.log.try_iter().collect::<Vec<_>>().join("\n")
    }
}

fn token(config: &Path) -> String {
    let out = Command::new(BIN)
        .args(["token", "--company", "tirecompany", "--config"])
        .arg(config)
        .env("CLI_TEST_SECRET", SECRET)
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
    cmd.arg("serve")
        .env("WARRANTY_GATEWAY_CONFIG", &config)
        .env("CLI_TEST_SECRET", SECRET);
    let server = Server::start(cmd);
    // The database path is taken relative to the config file's folder.
    assert!(dir.path().join("db/gateway.sqlite3").exists());

    let client = reqwest::Client::new();
    let base = format!("http://{}", server.address);
    assert_eq!(
        client.get(format!("{base}/healthz")).send().await.unwrap().status(),
        200
    );

    let token = token(&config);
    let body = json!({"Registrations": [{
        "ShopID": "005308", "InvoiceNumber": "1044273", "PlanEnrollDate": "2018-12-04",
        "EmployeeID": "JP0078", "CustomerID": "5108-460340", "TiresCovered": 4, "TPPPrice": 995.68,
        "TireBrand": "NIT", "TireSize": "2656518", "TirePrice": 188.99, "TireCost": 105.98
    }]});
    let res = client
        .post(format!("{base}/v2/partners/tirecompany"))
        .bearer_auth(&token)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = client
        .get(format!(
            "{base}/v2/partners/tirecompany?rec=registrationstatus&shopid=005308&invoicenumber=1044273"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let log = server.drain_log();
    assert!(log.contains("batch posted"), "one line per POST: {log}");
    assert!(
        log.contains("partner=tirecompany") && log.contains("tenant=live"),
        "{log}"
    );
    assert!(!log.contains(SECRET), "the secret leaked into the log");
    assert!(!log.contains(&token), "the token leaked into the log");
}

#[test]
fn token_names_an_unknown_company_and_a_missing_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let out = Command::new(BIN)
        .args(["token", "--company", "nobody", "--config"])
        .arg(&config)
        .env("CLI_TEST_SECRET", SECRET)
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
