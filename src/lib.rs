//! warranty-gateway: a server for the ABS Partner Integration API v2.
//!
//! Data flows one way: HTTP body -> `wire` (lenient decoding) -> `records` (typed records and
//! their rules) -> `ingest` (one transaction in `store`) -> per-record results -> response.

pub mod api;
pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod database_url;
pub mod export;
pub mod files;
pub mod history;
pub mod https;
pub mod import;
pub mod ingest;
pub mod ledger;
pub mod live;
pub mod model;
pub mod monitoring;
pub mod ops;
pub mod query;
pub mod records;
pub mod refused;
pub mod scope;
pub mod startup;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod v3;
pub mod wire;
