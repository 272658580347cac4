//! A throwaway PostgreSQL cluster of its own (tests/postgres/cluster.sh: Debian's postgresql,
//! run as the postgres user, so root), stopped and removed on drop: for a test that stops its
//! database, and for the benchmark.

// Each test binary and the benchmark use their part of this file.
#![allow(dead_code)]

use std::process::Command;

const CLUSTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/postgres/cluster.sh");

pub struct Cluster {
    dir: String,
    /// The server's URL (its `postgres` database), where databases may be created.
    pub url: String,
}

impl Cluster {
    /// Starts one; why not, when it cannot (no server binaries, not root).
    pub fn start() -> Result<Cluster, String> {
        Cluster::start_with(&[])
    }

    /// Starts one that takes TLS connections only (`cluster.sh start --tls`): its URL says
    /// `sslmode=verify-full` with the CA that signed its certificate; `other_ca()` signed nothing.
    pub fn start_tls() -> Result<Cluster, String> {
        Cluster::start_with(&["--tls"])
    }

    /// Starts one reached through PgBouncer (`cluster.sh start --pgbouncer MODE`): its URL is
    /// the pooler's, in `transaction` or `session` mode, with PgBouncer's default settings.
    pub fn start_pgbouncer(mode: &str) -> Result<Cluster, String> {
        Cluster::start_with(&["--pgbouncer", mode])
    }

    /// A CA certificate that signed nothing of this cluster's (a TLS one's).
    pub fn other_ca(&self) -> String {
        format!("{}/tls/other-ca.pem", self.dir)
    }

    fn start_with(options: &[&str]) -> Result<Cluster, String> {
        let out = Command::new("bash")
            .args([CLUSTER, "start"])
            .args(options)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .map(|v| v.trim_matches('"').to_owned())
                .ok_or_else(|| format!("cluster.sh printed no {name}"))
        };
        Ok(Cluster {
            url: value("WARRANTY_GATEWAY_TEST_POSTGRES")?,
            dir: value("PG_TEST_CLUSTER")?,
        })
    }

    /// `pause` (the server stops: an outage) or `resume` (it starts again on the same port).
    pub fn run(&self, what: &str) {
        let status = Command::new("bash").args([CLUSTER, what, &self.dir]).status().unwrap();
        assert!(status.success(), "cluster.sh {what}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash").args([CLUSTER, "stop", &self.dir]).status();
    }
}
