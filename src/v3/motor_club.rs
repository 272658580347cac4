//! A v3 motor-club registration: its own record, with no tires and no v2 face (docs/v3-api.md,
//! "Motor club"). What a POST or PATCH body becomes, and how it reads.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::decode::{Errors, FieldError, Fields, NAME_MAX, Read};
use crate::config::V3Partner;
use crate::model::motor_club::{Address, Customer, MotorClub};
use crate::wire::Code;

/// What a PATCH asks: a new customer, or the cancellation.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Customer(Box<Customer>),
    Cancel(DateTime<Utc>),
}

/// Address lines, city, state and zip: the longest v3 accepts.
const ADDRESS_MAX: usize = 100;

/// Checks a POST body; every error at once.
pub fn decode(body: &Value, keys: &V3Partner) -> Result<MotorClub, Vec<FieldError>> {
    let mut errors = Errors::default();
    let f = Fields::top(body, &mut errors);
    let head = super::head(&f, keys, &mut errors);
    let customer = customer(&f, &mut errors);
    errors.into_result(|| {
        let head = head?;
        Ok(MotorClub {
            product_id: head.product_id,
            invoice_number: head.invoice_number,
            store_number: head.store_number,
            enroll_date: head.enroll_date,
            customer: customer?,
        })
    })
}

/// Checks a PATCH body: `{"customer": {...}}` (the whole customer, replacing the one stored)
/// or `{"cancelledOn": ...}`; one of them, not both.
pub fn decode_change(body: &Value) -> Result<Change, Vec<FieldError>> {
    let mut errors = Errors::default();
    let f = Fields::top(body, &mut errors);
    let change = match (f.has("customer"), f.has("cancelledOn")) {
        (true, true) => Err(errors.push(
            "body",
            Code::Ambiguous,
            "has both customer and cancelledOn; send one PATCH for each",
        )),
        (true, false) => customer(&f, &mut errors).map(|c| Change::Customer(Box::new(c))),
        (false, true) => f.date("cancelledOn", &mut errors).map(Change::Cancel),
        (false, false) => Err(f.lacks(
            "body",
            "needs customer (to replace the customer) or cancelledOn (to cancel)",
            &mut errors,
        )),
    };
    errors.into_result(|| change)
}

/// `customer`: required, with its name; phone, email and address when sent.
fn customer(f: &Fields, errors: &mut Errors) -> Read<Customer> {
    let c = f.object("customer", errors)?;
    let name = c.text("name", NAME_MAX, errors);
    let phone = c.phone("phone", errors);
    let email = c.email("email", errors);
    let address = c.opt_object("address", errors, address);
    Ok(Customer {
        name: name?,
        phone: phone?,
        email: email?,
        address: address?,
    })
}

/// `customer.address`: each part when sent.
fn address(a: &Fields, errors: &mut Errors) -> Read<Address> {
    let [line1, line2, city, state, zip] =
        ["line1", "line2", "city", "state", "zip"].map(|name| a.opt_text(name, ADDRESS_MAX, errors));
    Address::from_parts([line1, line2, city, state, zip, a.country("country", errors)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys() -> V3Partner {
        V3Partner {
            issuer: "i".into(),
            keys: Vec::new(),
            products: Some(vec!["YOUR-PRODUCT-ID".into()]),
            program_id: None,
        }
    }

    /// The docs' own Registration object.
    fn docs_example() -> Value {
        json!({
            "product_id": "YOUR-PRODUCT-ID",
            "invoiceNumber": "001-20345",
            "enrollDate": "2024-09-15T13:08:00.000Z",
            "customer": {
                "name": "John Doe",
                "phone": "+13034579876",
                "email": "john.doe@example.com",
                "address": {
                    "line1": "10170 Church Ranch Way", "line2": "Suite 320", "city": "Westminster",
                    "state": "CO", "zip": "80021", "country": "US"
                }
            }
        })
    }

    #[test]
    fn the_docs_example_decodes_and_reads_back_as_sent() {
        let r = decode(&docs_example(), &keys()).unwrap();
        assert_eq!(r.store_number, "");
        assert_eq!(r.customer.address.country.as_deref(), Some("US"));
        let mut out = serde_json::to_value(&r).unwrap();
        out.as_object_mut().unwrap().remove("storeNumber");
        assert_eq!(out, docs_example());
    }

    #[test]
    fn every_error_is_listed() {
        let body = json!({
            "product_id": "OTHER", "enrollDate": "2024-09-15",
            "customer": {"phone": "303-457-9876", "email": "john", "address": {"country": "USA", "zip": "9".repeat(101)}}
        });
        let errors: Vec<String> = decode(&body, &keys())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            errors,
            [
                "product_id",
                "invoiceNumber",
                "enrollDate",
                "customer.name",
                "customer.phone",
                "customer.email",
                "customer.address.zip",
                "customer.address.country"
            ]
        );
    }

    #[test]
    fn a_change_is_a_customer_or_a_cancellation() {
        let customer = json!({"customer": {"name": "Jane Smith", "address": {"line2": ""}}});
        let Ok(Change::Customer(c)) = decode_change(&customer) else {
            panic!("a customer")
        };
        assert_eq!(c.name, "Jane Smith");
        assert!(c.address.is_empty(), "an empty line2 is not sent");
        assert!(matches!(
            decode_change(&json!({"cancelledOn": "2024-09-17T10:10:00.000Z"})),
            Ok(Change::Cancel(_))
        ));
        let code = |body: Value| decode_change(&body).unwrap_err()[0].code;
        assert_eq!(code(json!({})), Code::Required);
        assert_eq!(
            code(json!({"customer": {"name": "J"}, "cancelledOn": "2024-09-17T10:10:00Z"})),
            Code::Ambiguous
        );
        assert_eq!(code(json!({"customer": {}})), Code::Required);
        assert_eq!(code(json!([])), Code::InvalidType);
    }
}
