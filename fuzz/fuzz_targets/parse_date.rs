//! The date parser: any text, in zones with and without daylight saving and with odd offsets.
//! A parsed date is within the accepted years and reads back as itself from its RFC 3339 form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warranty_gateway::wire::{format_date, parse_date_str};

fuzz_target!(|input: &str| {
    for zone in [chrono_tz::UTC, chrono_tz::America::Denver, chrono_tz::Asia::Kolkata, chrono_tz::Pacific::Chatham] {
        if let Ok(date) = parse_date_str(input, zone) {
            let text = format_date(&date);
            assert_eq!(parse_date_str(&text, chrono_tz::UTC), Ok(date), "{input:?} -> {text}");
        }
    }
});
