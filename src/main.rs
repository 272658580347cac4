use std::process::ExitCode;

use clap::Parser;
use warranty_gateway::cli::{self, Cli};

/// Rust's allocations go to mimalloc; SQLite keeps glibc's heap to itself. A batch makes and
/// drops hundreds of thousands of small values, and glibc spent a tenth of a 10k batch's
/// instructions sorting and merging their free chunks (callgrind: 100k instructions a record
/// became 92k).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match cli::run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
