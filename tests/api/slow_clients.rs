//! Slow and idle clients hold a connection, never a worker: other partners are served while
//! they dawdle, and the configured timeouts close them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warranty_gateway::config::ServerSettings;

use crate::helpers::*;

/// Headers within 1 s, bodies within 2 s, keep-alive 1 s.
fn short_timeouts() -> ServerSettings {
    ServerSettings {
        header_timeout_secs: 1,
        body_timeout_secs: 2,
        keep_alive_secs: 1,
        ..server_settings()
    }
}

/// Reads what the server sends until it closes the connection (or 10 s pass, a failure).
async fn read_until_closed(mut stream: TcpStream) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open: {}",
        String::from_utf8_lossy(&got)
    );
    String::from_utf8_lossy(&got).into_owned()
}

/// Writes `bytes` one at a time, `pause` apart, stopping quietly once the server hangs up.
async fn dribble(stream: &mut TcpStream, bytes: &[u8], pause: Duration) {
    for b in bytes {
        if stream.write_all(&[*b]).await.is_err() {
            return;
        }
        tokio::time::sleep(pause).await;
    }
}

#[tokio::test]
async fn slow_and_idle_clients_do_not_block_other_partners_and_are_cut_off() {
    let app = spawn_app_with(short_timeouts()).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let auth = token();

    // 50 connections that never send a byte.
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(TcpStream::connect(&address).await.unwrap());
    }
    // 10 that send their headers a byte every 200 ms.
    let mut slow_headers = Vec::new();
    for _ in 0..10 {
        let mut s = TcpStream::connect(&address).await.unwrap();
        slow_headers.push(tokio::spawn(async move {
            let head = "POST /v2/partners/tirecompany HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
            dribble(&mut s, head.as_bytes(), Duration::from_millis(200)).await;
            read_until_closed(s).await
        }));
    }
    // 10 that send whole headers, then their body a byte every 100 ms.
    let mut slow_bodies = Vec::new();
    for _ in 0..10 {
        let mut s = TcpStream::connect(&address).await.unwrap();
        let body = json!({"Registrations": [registration("SLOW", "1")]}).to_string();
        let head = format!(
            "POST /v2/partners/tirecompany HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {auth}\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        slow_bodies.push(tokio::spawn(async move {
            dribble(&mut s, body.as_bytes(), Duration::from_millis(100)).await;
            read_until_closed(s).await
        }));
    }

    // Meanwhile both partners are served as usual.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for i in 0..5 {
        let body = json!({"Registrations": [registration("S1", &format!("F{i}"))]}).to_string();
        let res = client
            .post(app.url(OTHER))
            .bearer_auth(other_token())
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let q = format!("rec=registrationstatus&ShopID=S1&InvoiceNumber=F{i}");
        let res = client
            .get(format!("{}?{q}", app.url(OTHER)))
            .bearer_auth(other_token())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            app.get(COMPANY, "rec=sales&ShopID=S1&InvoiceNumber=I1").await.0,
            StatusCode::NO_CONTENT
        );
    }

    // And the dawdlers are cut off by the timeouts.
    for stream in idle {
        read_until_closed(stream).await;
    }
    for task in slow_headers {
        let reply = task.await.unwrap();
        assert!(reply.is_empty() || reply.starts_with("HTTP/1.1 408"), "{reply}");
    }
    for task in slow_bodies {
        let reply = task.await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
        assert!(reply.contains("did not arrive within 2 seconds"), "{reply}");
    }
    // Nothing of the slow bodies was written.
    assert_eq!(
        app.get(COMPANY, "rec=registrations&ShopID=SLOW&InvoiceNumber=1")
            .await
            .0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(short_timeouts()).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&address).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    // The answer comes, then the connection is closed once it has been idle for keep_alive_secs.
    let reply = read_until_closed(s).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}
