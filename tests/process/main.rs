//! The built binary as an operator runs it: real processes, signals, restarts.

#[path = "../common/answers.rs"]
mod answers;
mod backup;
mod binary;
mod browser;
mod check;
mod cli;
#[path = "../common/cluster.rs"]
mod common_cluster;
#[path = "../common/postgres.rs"]
mod common_postgres;
#[path = "../common/skip.rs"]
mod common_skip;
#[path = "../common/small_disk.rs"]
mod common_small_disk;
mod copy_data;
mod crash;
mod export;
mod hostile_clients;
mod import;
mod instances;
mod metrics;
mod migrate;
mod outage;
mod pooler;
mod postgres_tls;
mod private_files;
mod readme;
mod reload;
mod shutdown;
mod upgrade;
