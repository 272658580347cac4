//! A v3 motor-club registration: its own record, with no tires and no v2 face. How it is kept
//! and how v3 answers it (the v3 module decodes it).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::wire::out::{v3_date, v3_opt_date};

/// A motor-club registration as the partner registers it (and reads it back).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MotorClub {
    #[serde(rename = "product_id")]
    pub product_id: String,
    pub invoice_number: String,
    /// "" when not sent.
    pub store_number: String,
    #[serde(serialize_with = "v3_date")]
    pub enroll_date: DateTime<Utc>,
    pub customer: Customer,
}

/// The member: a name, and whatever contact details were sent.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Customer {
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Address::is_empty")]
    pub address: Address,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
}

impl Address {
    pub fn is_empty(&self) -> bool {
        *self == Address::default()
    }

    /// The address of its parts, each as it was read (or why it could not be): line1, line2,
    /// city, state, zip and country.
    pub fn from_parts<E>(parts: [Result<Option<String>, E>; 6]) -> Result<Address, E> {
        let [line1, line2, city, state, zip, country] = parts;
        Ok(Address {
            line1: line1?,
            line2: line2?,
            city: city?,
            state: state?,
            zip: zip?,
            country: country?,
        })
    }
}

/// A stored motor-club registration, as v3 answers it.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMotorClub {
    #[serde(rename = "_id")]
    pub id: String,
    /// The partner's program (config), set as it is answered.
    #[serde(rename = "program_id")]
    pub program_id: Option<String>,
    #[serde(flatten)]
    pub registration: MotorClub,
    #[serde(serialize_with = "v3_opt_date")]
    pub cancelled_on: Option<DateTime<Utc>>,
}
