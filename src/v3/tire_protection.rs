//! A v3 tire-protection registration, and its two faces: what a v3 POST body becomes (a v2
//! Registration plus what only v3 has), and how any stored registration, whichever API wrote
//! it, reads in v3 (docs/v3-api.md, "One registration, two faces").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Head;
use super::decode::{Errors, FieldError, Fields, NAME_MAX, Read};
use crate::config::V3Partner;
use crate::model::v3_registration::{V3Extras, V3Registration};
use crate::records::{Cents, Claim, Registration};
use crate::status::{RegistrationStatus, WarrantyStatus};
use crate::wire::out;
use crate::wire::out::{v3_date, v3_opt_date};

/// What a v3 POST sends: checked, in v3's words.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTireProtection {
    pub head: Head,
    pub customer_name: String,
    pub customer_email: Option<String>,
    pub vehicle: Vehicle,
    pub tires: Vec<Tire>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Vehicle {
    pub year: Option<i32>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub make: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub model: String,
}

impl Vehicle {
    fn is_empty(&self) -> bool {
        self.year.is_none() && self.make.is_empty() && self.model.is_empty()
    }
}

/// One tire, as v3 shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tire {
    pub make: String,
    pub model: String,
    pub size: String,
    #[serde(serialize_with = "out::money")]
    pub retail_price: Cents,
}

/// A tire as it is kept in `v3_tires` (JSON), its price in cents: the one place that format
/// is written down, both ways.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredTire {
    make: String,
    model: String,
    size: String,
    retail_price_cents: Cents,
}

impl From<&Tire> for StoredTire {
    fn from(t: &Tire) -> Self {
        StoredTire {
            make: t.make.clone(),
            model: t.model.clone(),
            size: t.size.clone(),
            retail_price_cents: t.retail_price,
        }
    }
}

impl From<StoredTire> for Tire {
    fn from(t: StoredTire) -> Self {
        Tire {
            make: t.make,
            model: t.model,
            size: t.size,
            retail_price: t.retail_price_cents,
        }
    }
}

/// How many tires a v3 registration lists.
pub const TIRES: std::ops::RangeInclusive<usize> = 1..=6;
/// Longest texts v3 accepts (docs/decisions.md, "Lengths are wire rules, not column widths").
const TIRE_TEXT_MAX: usize = 50;
const VEHICLE_TEXT_MAX: usize = 50;

/// Checks a POST body; every error at once.
pub fn decode(body: &Value, keys: &V3Partner) -> Result<NewTireProtection, Vec<FieldError>> {
    let mut errors = Errors::default();
    let f = Fields::top(body, &mut errors);
    let head = super::head(&f, keys, &mut errors);
    let customer = f.object("customer", &mut errors).and_then(|c| {
        let name = c.text("name", NAME_MAX, &mut errors);
        let email = c.email("email", &mut errors);
        Ok((name?, email?))
    });
    let vehicle = f.opt_object("vehicle", &mut errors, |v, errors| {
        let year = v.year("year", errors);
        let make = v.opt_text("make", VEHICLE_TEXT_MAX, errors);
        let model = v.opt_text("model", VEHICLE_TEXT_MAX, errors);
        Ok(Vehicle {
            year: year?,
            make: make?.unwrap_or_default(),
            model: model?.unwrap_or_default(),
        })
    });
    // Every tire read (each error pushed) before any is found wanting.
    let tires = f
        .objects("tires", *TIRES.start(), *TIRES.end(), &mut errors)
        .map(|items| items.into_iter().map(|t| tire(t?, &mut errors)).collect::<Vec<_>>());
    errors.into_result(|| {
        let (customer_name, customer_email) = customer?;
        Ok(NewTireProtection {
            head: head?,
            customer_name,
            customer_email,
            vehicle: vehicle?,
            tires: tires?.into_iter().collect::<Read<_>>()?,
        })
    })
}

/// One of `tires`: its make, model, size and retail price, all required.
fn tire(t: Fields, errors: &mut Errors) -> Read<Tire> {
    let make = t.text("make", TIRE_TEXT_MAX, errors);
    let model = t.text("model", TIRE_TEXT_MAX, errors);
    let size = t.text("size", TIRE_TEXT_MAX, errors);
    let retail_price = t.money("retailPrice", errors);
    Ok(Tire {
        make: make?,
        model: model?,
        size: size?,
        retail_price: retail_price?,
    })
}

impl NewTireProtection {
    /// The v2 Registration it is: the first tire's fields, TiresCovered the tires' number,
    /// what only v2 has empty (docs/v3-api.md, "One registration, two faces").
    pub fn registration(&self) -> Registration {
        let first = &self.tires[0];
        Registration {
            org_id: String::new(),
            shop_id: self.head.store_number.clone(),
            invoice_number: self.head.invoice_number.clone(),
            plan_enroll_date: self.head.enroll_date,
            employee_id: String::new(),
            customer_id: self.customer_name.clone(),
            vehicle_year: self.vehicle.year.map(|y| y.to_string()).unwrap_or_default(),
            vehicle_make: self.vehicle.make.clone(),
            vehicle_model: self.vehicle.model.clone(),
            vin: String::new(),
            current_mileage: None,
            tires_covered: self.tires.len() as i64,
            tpp_price: 0,
            tire_brand: first.make.clone(),
            tire_model: first.model.clone(),
            tire_size: first.size.clone(),
            tire_price: first.retail_price,
            tire_cost: 0,
            tire_dot1: String::new(),
            tire_dot2: String::new(),
            tire_dot3: String::new(),
            tire_dot4: String::new(),
            tire_dot5: String::new(),
            tire_dot6: String::new(),
            commercial_vehicle: false,
        }
    }

    /// What is kept beside the v2 columns.
    pub fn extras(&self) -> V3Extras {
        let tires: Vec<StoredTire> = self.tires.iter().map(StoredTire::from).collect();
        V3Extras {
            product_id: Some(self.head.product_id.clone()),
            customer_email: self.customer_email.clone(),
            tires: Some(serde_json::to_string(&tires).expect("tires serialize")),
        }
    }
}

/// A registration as v3 shows it.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TireProtection {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "product_id")]
    pub product_id: Option<String>,
    #[serde(rename = "program_id")]
    pub program_id: Option<String>,
    pub invoice_number: String,
    pub store_number: String,
    #[serde(serialize_with = "v3_date")]
    pub enroll_date: DateTime<Utc>,
    pub customer: Customer,
    pub vehicle: Option<Vehicle>,
    pub tires: Vec<Tire>,
    #[serde(serialize_with = "v3_opt_date")]
    pub cancelled_on: Option<DateTime<Utc>>,
    /// The claims filed against it (GET by id only).
    pub claims: Option<Vec<ClaimView>>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub name: String,
    pub email: Option<String>,
}

/// A v2 Claim as v3 shows it under `claims`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimView {
    #[serde(serialize_with = "v3_date")]
    pub claim_date: DateTime<Utc>,
    pub tire_claim_count: i64,
    pub repair_store_number: String,
    pub repair_invoice_number: String,
    #[serde(serialize_with = "out::money")]
    pub credit_amount: Cents,
    #[serde(serialize_with = "out::money")]
    pub cost_per_unit: Cents,
    pub service_type: String,
    pub service_description: String,
}

impl From<&Claim> for ClaimView {
    fn from(c: &Claim) -> Self {
        ClaimView {
            claim_date: c.claim_date,
            tire_claim_count: c.tire_claim_count,
            repair_store_number: c.repair_shop_id.clone(),
            repair_invoice_number: c.repair_invoice_number.clone(),
            credit_amount: c.credit_amount,
            cost_per_unit: c.cost_per_unit,
            service_type: c.service_type.clone(),
            service_description: c.service_description.clone(),
        }
    }
}

/// A stored registration in v3's words, whichever API wrote it.
pub fn view(stored: V3Registration, program_id: Option<&str>) -> TireProtection {
    let r = &stored.registration;
    let year = r
        .vehicle_year
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|y| super::decode::YEARS.contains(y));
    let vehicle = Vehicle {
        year,
        make: r.vehicle_make.clone(),
        model: r.vehicle_model.clone(),
    };
    TireProtection {
        tires: tires(r, stored.extras.tires.as_deref()),
        id: stored.v3_id,
        product_id: stored.extras.product_id,
        program_id: program_id.map(str::to_owned),
        invoice_number: r.invoice_number.clone(),
        store_number: r.shop_id.clone(),
        enroll_date: r.plan_enroll_date,
        customer: Customer {
            name: r.customer_id.clone(),
            email: stored.extras.customer_email,
        },
        vehicle: (!vehicle.is_empty()).then_some(vehicle),
        cancelled_on: stored.cancelled_on,
        claims: None,
    }
}

/// The tires v3 listed, while they still say what the v2 fields say (v2 may have resent the
/// registration since); else TiresCovered tires, each the v2 fields' one.
fn tires(r: &Registration, kept: Option<&str>) -> Vec<Tire> {
    let v2_tire = Tire {
        make: r.tire_brand.clone(),
        model: r.tire_model.clone(),
        size: r.tire_size.clone(),
        retail_price: r.tire_price,
    };
    let kept: Option<Vec<Tire>> = kept
        .and_then(|json| serde_json::from_str::<Vec<StoredTire>>(json).ok())
        .map(|tires| tires.into_iter().map(Tire::from).collect());
    match kept {
        Some(kept) if kept.len() as i64 == r.tires_covered && kept.first() == Some(&v2_tire) => kept,
        // v2 sets no upper bound on TiresCovered: a bound here keeps a typo'd 10^9 from
        // becoming a billion objects in one answer.
        _ => vec![v2_tire; r.tires_covered.clamp(0, 1_000) as usize],
    }
}

/// registrationstatus in v3's words.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(serialize_with = "v3_date")]
    pub enroll_date: DateTime<Utc>,
    #[serde(serialize_with = "v3_date")]
    pub expiration_date: DateTime<Utc>,
    pub claimed_tires_count: i64,
    pub available_tires_count: i64,
    pub has_tires_to_claim: bool,
    pub has_tires_to_replace: bool,
    pub is_active: bool,
}

impl From<&RegistrationStatus<'_>> for Metadata {
    fn from(s: &RegistrationStatus<'_>) -> Self {
        let is_active = s.warranty_status == WarrantyStatus::Active;
        Metadata {
            enroll_date: s.plan_enroll_date,
            expiration_date: s.expire_date,
            claimed_tires_count: s.tire_claim_count,
            available_tires_count: s.tires_left,
            has_tires_to_claim: s.tires_left > 0,
            has_tires_to_replace: is_active && s.tires_left > 0,
            is_active,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Code;
    use serde_json::json;

    fn keys(products: Option<Vec<&str>>) -> V3Partner {
        let pem = include_str!("../../fixtures/v3/tirecompany.pub.pem");
        V3Partner {
            issuer: "iss".into(),
            keys: crate::config::V3Key::single(pem, jsonwebtoken::DecodingKey::from_ec_pem(pem.as_bytes()).unwrap()),
            products: products.map(|p| p.into_iter().map(String::from).collect()),
            program_id: None,
        }
    }

    fn tire(size: &str, price: f64) -> Value {
        json!({"make": "BRIDGESTONE", "model": "TURANZA ER33", "size": size, "retailPrice": price})
    }

    #[test]
    fn a_registration_is_its_v2_face_and_reads_back_the_same() {
        let body = json!({
            "product_id": "TPP-36", "invoiceNumber": "001-20345", "storeNumber": "0056",
            "enrollDate": "2021-08-01T13:08:00.000Z",
            "customer": {"name": "John Doe", "email": "john.doe@example.com"},
            "vehicle": {"year": 2021, "make": "Tesla", "model": "Model 3"},
            "tires": [tire("235/45R18", 334.31), tire("245/45R18", 350.5)]
        });
        let new = decode(&body, &keys(Some(vec!["TPP-36"]))).unwrap();
        let r = new.registration();
        assert_eq!((r.shop_id.as_str(), r.customer_id.as_str()), ("0056", "John Doe"));
        assert_eq!(
            (r.tires_covered, r.tire_price, r.vehicle_year.as_str()),
            (2, 33431, "2021")
        );
        let stored = V3Registration {
            v3_id: "6109bf5e5494a80b344f5daf".into(),
            registration: r,
            extras: new.extras(),
            cancelled_on: None,
        };
        let shown = serde_json::to_value(view(stored, Some("p1"))).unwrap();
        for field in ["invoiceNumber", "product_id", "customer", "vehicle", "tires"] {
            assert_eq!(shown[field], body[field], "{field}");
        }
        assert_eq!(shown["enrollDate"], "2021-08-01T13:08:00.000Z");
        assert_eq!(shown["program_id"], "p1");
    }

    #[test]
    fn a_v2_registration_reads_with_tires_covered_tires() {
        let mut r = decode(
            &json!({"product_id": "x", "invoiceNumber": "1", "enrollDate": "2021-08-01T00:00:00Z",
                    "customer": {"name": "C"}, "tires": [tire("1", 1.0)]}),
            &keys(None),
        )
        .unwrap()
        .registration();
        r.tires_covered = 3;
        r.vehicle_year = "08".into();
        let stored = V3Registration {
            v3_id: "a".repeat(24),
            registration: r,
            extras: V3Extras::default(),
            cancelled_on: None,
        };
        let shown = view(stored, None);
        assert_eq!(shown.tires.len(), 3);
        assert!(shown.vehicle.is_none(), "a two-digit year is not shown as a number");
        assert!(shown.product_id.is_none());
    }

    #[test]
    fn every_error_is_listed_with_its_path() {
        let body = json!({
            "product_id": "OTHER", "invoiceNumber": "x".repeat(51),
            "enrollDate": "2021-08-01", "customer": {"email": "not-an-address"},
            "vehicle": {"year": 1800},
            "tires": [tire("1", 1.0), {"make": "M", "model": "N", "retailPrice": 1.005}, tire("", 2.0)]
        });
        let errors: Vec<(String, Code)> = decode(&body, &keys(Some(vec!["TPP-36"])))
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        assert_eq!(
            errors,
            vec![
                ("product_id".into(), Code::NotAllowed),
                ("invoiceNumber".into(), Code::TooLong),
                ("enrollDate".into(), Code::InvalidDate),
                ("customer.name".into(), Code::Required),
                ("customer.email".into(), Code::InvalidEmail),
                ("vehicle.year".into(), Code::OutOfRange),
                ("tires[1].size".into(), Code::Required),
                ("tires[1].retailPrice".into(), Code::TooManyDecimals),
                ("tires[2].size".into(), Code::Required),
            ]
        );
    }
}
