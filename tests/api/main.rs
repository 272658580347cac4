//! Black-box tests over HTTP: one test binary, one module per area.

#[path = "../common/answers.rs"]
mod answers;
mod auth;
mod bad_input;
mod big_batches;
mod business_rules;
mod careless_clients;
mod client_traps;
#[path = "../common/postgres.rs"]
mod common_postgres;
#[path = "../common/skip.rs"]
mod common_skip;
#[path = "../common/small_disk.rs"]
mod common_small_disk;
mod full_disk;
mod guide_examples;
mod helpers;
mod history;
mod hostile;
mod https;
mod isolation;
mod openapi;
mod ops;
mod refused;
mod repository;
mod samples;
mod slow_clients;
mod trail;
mod upgrade;
mod v3;
mod v3_motor_club;
mod validation;
