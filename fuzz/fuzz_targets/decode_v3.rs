//! v3's decoders: any bytes as a POST or PATCH body of either collection, and any text as the
//! query of a list or of a PATCH by invoice. Each must answer (the record, or its field errors:
//! at least one, each message naming its field), never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warranty_gateway::config::V3Partner;
use warranty_gateway::v3::decode::FieldError;
use warranty_gateway::v3::{PageRequest, Target, motor_club, tire_protection};

fuzz_target!(|data: &[u8]| {
    if let Ok(query) = std::str::from_utf8(data) {
        let _ = Target::from_query("/tire-protection/registrations", query);
        let _ = PageRequest::parse(query, &["storeNumber"]);
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    // A partner that names its products, and one that takes any.
    for products in [None, Some(vec!["TPP-36".to_owned()])] {
        let partner = V3Partner {
            issuer: "fuzz".to_owned(),
            keys: Vec::new(),
            products,
            program_id: None,
        };
        let tire_protection = tire_protection::decode(&body, &partner);
        if let Ok(registration) = &tire_protection {
            // What is stored of it: its v2 registration and its v3 extras.
            let _ = (registration.registration(), registration.extras());
        }
        answered(tire_protection);
        let motor_club = motor_club::decode(&body, &partner);
        if let Ok(registration) = &motor_club {
            serde_json::to_string(registration).expect("a motor-club registration serializes");
        }
        answered(motor_club);
    }
    answered(motor_club::decode_change(&body));
});

/// A refusal lists at least one error, and each message starts with its field's path.
fn answered<T>(decoded: Result<T, Vec<FieldError>>) {
    if let Err(errors) = decoded {
        assert!(!errors.is_empty());
        for e in &errors {
            assert!(!e.field.is_empty() && e.message.starts_with(&e.field), "{e:?}");
        }
    }
}
