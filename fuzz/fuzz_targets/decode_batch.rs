//! The record decoder: any bytes as a POST body. It must answer (records or a body error),
//! never panic, and account for every record it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warranty_gateway::ingest::Batch;

fuzz_target!(|data: &[u8]| {
    for zone in [chrono_tz::UTC, chrono_tz::America::Denver] {
        if let Ok(batch) = Batch::decode(data, zone) {
            assert!(batch.len() <= warranty_gateway::wire::MAX_RECORDS);
            for d in &batch.registrations {
                if let Err(errors) = &d.record {
                    assert!(!errors.is_empty());
                }
            }
        }
    }
});
