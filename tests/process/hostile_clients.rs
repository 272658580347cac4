//! What a hostile or careless client can do to the process as a whole: its text log, its
//! metrics, its memory. Each runs the real binary and reads what an operator would read.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::binary::*;

/// The config of `write_config`, with `line` added under `[server]`.
fn config_with_server_line(dir: &Path, line: &str) -> std::path::PathBuf {
    let config = write_config(dir);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replacen("[server]\n", &format!("[server]\n{line}\n"), 1)).unwrap();
    config
}

/// Sends `request` as is on a new connection and answers the response's status line.
async fn raw_request(address: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn made_up_methods_are_counted_as_other_and_add_no_series() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::serve(&write_config(dir.path()));
    for i in 0..20 {
        let request = format!("XMETH{i:03} /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let status = raw_request(&server.address, request.as_bytes()).await;
        assert!(status.contains("405"), "{status}");
    }
    let request = b"BREW /no/such/thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert!(raw_request(&server.address, request).await.contains("404"));

    let text = server.metrics().await;
    assert!(!text.contains("XMETH") && !text.contains("BREW"), "{text}");
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("warranty_gateway_http_requests_total{"))
        .collect();
    assert!(
        series
            .iter()
            .any(|l| l.contains("route=\"/healthz\"") && l.contains("method=\"other\"") && l.ends_with(" 20")),
        "{series:#?}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains("route=\"unmatched\"") && l.contains("method=\"other\"")),
        "{series:#?}"
    );
}

#[tokio::test]
async fn what_a_client_sends_is_quoted_in_the_text_log_and_forges_no_line_or_field() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::serve(&write_config(dir.path()));
    server.drain_log();
    let forged = "1%0a2026-01-01T00:00:00.000000Z%20ERROR%20FORGED%1b[2J";
    let res = reqwest::Client::new()
        .get(server.url(&format!("/v2/partners/tirecompany/batches/{forged}")))
        .bearer_auth(token())
        .header("user-agent", "curl request_id=0000 partner=othercompany")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // A refused token's reason, and an unknown company named in the path.
    let res = reqwest::Client::new()
        .post(server.url("/v2/partners/no%0aSUCH%1bcompany"))
        .bearer_auth("a.b.c")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let log = server.drain_log();
    assert!(log.contains("FORGED"), "the request was logged: {log}");
    assert!(!log.contains('\u{1b}'), "a raw control character: {log}");
    for line in log.lines() {
        // Every line starts as the log starts its lines: a timestamp of this year and a level.
        assert!(
            line.starts_with("20") && !line.starts_with("2026-01-01T00:00:00.000000Z"),
            "{line}"
        );
    }
    assert!(
        log.contains(r#"http.user_agent="curl request_id=0000 partner=othercompany""#),
        "{log}"
    );
    assert!(!log.contains("http.user_agent=curl"), "{log}");
}

#[tokio::test]
async fn the_client_is_the_tcp_peer_unless_a_trusted_proxy_says_otherwise() {
    let body = json!({"Registrations": [registration("P1")]});
    let post_from = |server: &Server, forwarded_for: &'static str| {
        reqwest::Client::new()
            .post(server.url("/v2/partners/tirecompany_test"))
            .bearer_auth(token())
            .header("x-forwarded-for", forwarded_for)
            .body(body.to_string())
            .send()
    };

    let dir = tempfile::tempdir().unwrap();
    let server = Server::serve(&write_config(dir.path()));
    assert_eq!(post_from(&server, "6.6.6.6").await.unwrap().status(), 200);
    let log = server.drain_log();
    assert!(log.contains(r#"http.client_ip="127.0.0.1""#), "{log}");
    assert!(!log.contains("6.6.6.6\""), "{log}");
    drop(server);

    // Behind a proxy on loopback: the hop just before it, not what the client wrote.
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_server_line(dir.path(), "trusted_proxies = [\"127.0.0.0/8\"]");
    let server = Server::serve(&config);
    assert_eq!(post_from(&server, "6.6.6.6, 203.0.113.9").await.unwrap().status(), 200);
    let log = server.drain_log();
    assert!(log.contains(r#"http.client_ip="203.0.113.9""#), "{log}");

    // A bad entry stops start-up, naming it.
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_server_line(dir.path(), "trusted_proxies = [\"proxy.internal\"]");
    let (code, _, err) = run_cli(&["serve"], &config);
    assert_ne!(code, 0);
    assert!(
        err.contains("trusted_proxies") && err.contains("proxy.internal"),
        "{err}"
    );
}

/// The process's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_declared_length_reserves_no_memory_before_the_bytes_arrive() {
    const CONNECTIONS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::serve(&write_config(dir.path()));
    let before = rss_kib(server.child.id());
    let head = format!(
        "POST /v2/partners/tirecompany_test HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 67108864\r\n\r\n{{",
        token()
    );
    let mut streams = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut stream = TcpStream::connect(&server.address).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        streams.push(stream);
    }
    // A trickle: one more byte each, so every handler is reading its body.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for stream in &mut streams {
        stream.write_all(b" ").await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let grown = rss_kib(server.child.id()).saturating_sub(before);
    // 64 MiB reserved for each would be gigabytes of address space and, touched, hundreds of
    // MiB; bytes received are a few KiB in all, plus each connection's own buffers.
    assert!(
        grown < 64 * 1024,
        "{CONNECTIONS} slow 64 MiB uploads grew the server by {grown} KiB"
    );
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
}
