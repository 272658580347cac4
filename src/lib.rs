pub mod config;
pub mod records;
pub mod status;
pub mod wire;
