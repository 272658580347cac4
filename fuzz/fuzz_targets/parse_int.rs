//! The number parser (counts and mileages): any JSON value. An accepted number is whole and
//! within 0..=2147483647 and the minimum asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use warranty_gateway::wire::parse_int;

fuzz_target!(|input: &str| {
    let Ok(raw) = serde_json::from_str::<&RawValue>(input) else { return };
    for min in [0, 1] {
        if let Ok(Some(n)) = parse_int(raw, min) {
            assert!((min..=i32::MAX as i64).contains(&n), "{input:?} -> {n}");
        }
    }
});
