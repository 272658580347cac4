use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Cents, FieldReader, NaturalKey, Record, serde_out};
use crate::wire::{FieldSpec, Kind::*};

/// A tire sale, with or without a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sale {
    #[serde(rename = "OrgID")]
    pub org_id: String,
    #[serde(rename = "ShopID")]
    pub shop_id: String,
    #[serde(rename = "InvoiceNumber")]
    pub invoice_number: String,
    #[serde(rename = "SaleDate", serialize_with = "serde_out::date")]
    pub sale_date: DateTime<Utc>,
    #[serde(rename = "TireCount")]
    pub tire_count: i64,
    #[serde(rename = "TireBrand")]
    pub tire_brand: String,
    #[serde(rename = "TireModel")]
    pub tire_model: String,
    #[serde(rename = "TireSize")]
    pub tire_size: String,
    #[serde(rename = "TirePrice", serialize_with = "serde_out::money")]
    pub tire_price: Cents,
    #[serde(rename = "TireCost", serialize_with = "serde_out::money")]
    pub tire_cost: Cents,
}

impl Record for Sale {
    const NAME: &'static str = "Sales";
    const FIELDS: &'static [FieldSpec] = &[
        FieldSpec::new("OrgID", Text(50), false),
        FieldSpec::new("ShopID", Text(25), true),
        FieldSpec::new("InvoiceNumber", Text(25), true),
        FieldSpec::new("SaleDate", Date, true),
        FieldSpec::new("TireCount", Int { min: 1 }, true),
        FieldSpec::new("TireBrand", Text(25), true),
        FieldSpec::new("TireModel", Text(50), false),
        FieldSpec::new("TireSize", Text(25), true),
        FieldSpec::new("TirePrice", Money, true),
        FieldSpec::new("TireCost", Money, true),
    ];

    fn read(r: &mut FieldReader<'_, '_>) -> Self {
        Sale {
            org_id: r.text("OrgID"),
            shop_id: r.text("ShopID"),
            invoice_number: r.text("InvoiceNumber"),
            sale_date: r.date("SaleDate").unwrap_or_default(),
            tire_count: r.int("TireCount").unwrap_or_default(),
            tire_brand: r.text("TireBrand"),
            tire_model: r.text("TireModel"),
            tire_size: r.text("TireSize"),
            tire_price: r.money("TirePrice").unwrap_or_default(),
            tire_cost: r.money("TireCost").unwrap_or_default(),
        }
    }

    fn key(&self) -> NaturalKey {
        NaturalKey(vec![
            ("OrgID", self.org_id.clone()),
            ("ShopID", self.shop_id.clone()),
            ("InvoiceNumber", self.invoice_number.clone()),
            ("TireBrand", self.tire_brand.clone()),
            ("TireModel", self.tire_model.clone()),
            ("TireSize", self.tire_size.clone()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::test_support::{decode, errors};

    #[test]
    fn the_guides_example_decodes() {
        let s = decode::<Sale>(
            r#"{"ShopID": "005054568", "InvoiceNumber": "354365667", "SaleDate": "2020-01-27",
                "TireCount": 4, "TireBrand": "SUM", "TireModel": "235/60R18/XL 107V HTR A/S P02 BLK",
                "TireSize": "2356018", "TirePrice": 225.09, "TireCost": 195.09}"#,
        )
        .record
        .unwrap();
        assert_eq!((s.tire_count, s.tire_price, s.tire_cost), (4, 22509, 19509));
    }

    #[test]
    fn rules_apply() {
        let errs = errors::<Sale>(
            r#"{"ShopID": 5054568, "InvoiceNumber": "1", "SaleDate": "27/01/2020", "TireCount": -4,
                "TireBrand": "SUM", "TireSize": "2356018", "TirePrice": "225.091", "TireCost": true}"#,
        );
        assert_eq!(
            errs,
            vec![
                ("SaleDate", "invalid_date"),
                ("TireCount", "negative"),
                ("TirePrice", "too_many_decimals"),
                ("TireCost", "invalid_type")
            ]
        );
    }
}
