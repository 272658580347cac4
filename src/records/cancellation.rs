use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{FieldReader, NaturalKey, Record, serde_out};
use crate::wire::{FieldSpec, Kind::*};

/// Tires taken off a registration (same ShopID and InvoiceNumber); a registration is cancelled
/// once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cancellation {
    #[serde(rename = "OrgID")]
    pub org_id: String,
    #[serde(rename = "ShopID")]
    pub shop_id: String,
    #[serde(rename = "InvoiceNumber")]
    pub invoice_number: String,
    #[serde(rename = "CancelShopID")]
    pub cancel_shop_id: String,
    #[serde(rename = "CancelInvoiceNumber")]
    pub cancel_invoice_number: String,
    #[serde(rename = "TireCancelCount")]
    pub tire_cancel_count: i64,
    #[serde(rename = "CancelDate", serialize_with = "serde_out::date")]
    pub cancel_date: DateTime<Utc>,
}

impl Record for Cancellation {
    const NAME: &'static str = "Cancellations";
    const FIELDS: &'static [FieldSpec] = &[
        FieldSpec::new("OrgID", Text(50), false),
        FieldSpec::new("ShopID", Text(25), true),
        FieldSpec::new("InvoiceNumber", Text(25), true),
        FieldSpec::new("CancelShopID", Text(25), true),
        FieldSpec::new("CancelInvoiceNumber", Text(25), true),
        FieldSpec::new("TireCancelCount", Int { min: 1 }, true),
        FieldSpec::new("CancelDate", Date, true),
    ];

    fn read(r: &mut FieldReader<'_, '_>) -> Self {
        Cancellation {
            org_id: r.text("OrgID"),
            shop_id: r.text("ShopID"),
            invoice_number: r.text("InvoiceNumber"),
            cancel_shop_id: r.text("CancelShopID"),
            cancel_invoice_number: r.text("CancelInvoiceNumber"),
            tire_cancel_count: r.int("TireCancelCount").unwrap_or_default(),
            cancel_date: r.date("CancelDate").unwrap_or_default(),
        }
    }

    fn key(&self) -> NaturalKey {
        NaturalKey(vec![
            ("OrgID", self.org_id.clone()),
            ("ShopID", self.shop_id.clone()),
            ("InvoiceNumber", self.invoice_number.clone()),
            ("CancelShopID", self.cancel_shop_id.clone()),
            ("CancelInvoiceNumber", self.cancel_invoice_number.clone()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::test_support::{decode, errors};

    #[test]
    fn the_guides_example_decodes() {
        let c = decode::<Cancellation>(
            r#"{"ShopID": "005054568", "InvoiceNumber": "354365667", "CancelShopID": "005054568",
                "CancelInvoiceNumber": "365365167", "TireCancelCount": "1", "CancelDate": "2020-01-27"}"#,
        )
        .record
        .unwrap();
        assert_eq!(c.tire_cancel_count, 1);
    }

    #[test]
    fn rules_apply() {
        let errs = errors::<Cancellation>(
            r#"{"shopid": "1", "invoicenumber": "2", "CancelShopID": null, "CancelInvoiceNumber": "  ",
                "TireCancelCount": "1.5", "CancelDate": "2020-02-30"}"#,
        );
        assert_eq!(
            errs,
            vec![
                ("CancelShopID", "required"),
                ("CancelInvoiceNumber", "required"),
                ("TireCancelCount", "not_whole_number"),
                ("CancelDate", "invalid_date")
            ]
        );
    }
}
