//! The date parser: any text, in zones with and without daylight saving and with odd offsets.
//! A parsed date reads back as itself from its RFC 3339 form. Its year is judged as sent, in the
//! partner's zone, so in UTC it is within the accepted years or, for a date sent at the very
//! start of the first year or the very end of the last, one year beyond them.
#![no_main]

use chrono::{DateTime, Datelike};
use libfuzzer_sys::fuzz_target;
use warranty_gateway::wire::{MAX_YEAR, MIN_YEAR, format_date, parse_date_str};

fuzz_target!(|input: &str| {
    for zone in [chrono_tz::UTC, chrono_tz::America::Denver, chrono_tz::Asia::Kolkata, chrono_tz::Pacific::Chatham] {
        if let Ok(date) = parse_date_str(input, zone) {
            let text = format_date(&date);
            if (MIN_YEAR..=MAX_YEAR).contains(&date.year()) {
                assert_eq!(parse_date_str(&text, chrono_tz::UTC), Ok(date), "{input:?} -> {text}");
            } else {
                assert!(
                    [MIN_YEAR - 1, MAX_YEAR + 1].contains(&date.year()),
                    "{input:?} -> {text}"
                );
                let back = DateTime::parse_from_rfc3339(&text).map(|d| d.to_utc());
                assert_eq!(back, Ok(date), "{input:?} -> {text}");
            }
        }
    }
});
