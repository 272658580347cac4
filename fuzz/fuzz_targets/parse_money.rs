//! The money parser: any JSON value. An accepted amount is whole cents within the bounds, and
//! the way the API prints it parses back to the same cents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use warranty_gateway::wire::{MAX_MONEY_CENTS, parse_money};

/// An amount as the API prints it.
#[derive(serde::Serialize)]
struct Printed(#[serde(serialize_with = "warranty_gateway::wire::out::money")] i64);

fuzz_target!(|input: &str| {
    let Ok(raw) = serde_json::from_str::<&RawValue>(input) else { return };
    if let Ok(Some(money)) = parse_money(raw) {
        let cents = money.cents;
        assert!((0..=MAX_MONEY_CENTS).contains(&cents), "{input:?} -> {cents}");
        let printed = serde_json::to_string(&Printed(cents)).unwrap();
        let back = serde_json::from_str::<&RawValue>(&printed).unwrap();
        let again = parse_money(back).unwrap().unwrap();
        assert_eq!((again.cents, again.float_noise), (cents, None), "{input:?} -> {printed}");
    }
});
