use chrono::{DateTime, Utc};

use super::declare::record;
use crate::wire::Kind::*;

record! {
    /// Tires taken off a registration (same ShopID and InvoiceNumber); a registration is
    /// cancelled once.
    pub struct Cancellation as Cancellations {
        org_id: String = "OrgID", Text(50), optional;
        shop_id: String = "ShopID", Text(25), required;
        invoice_number: String = "InvoiceNumber", Text(25), required;
        cancel_shop_id: String = "CancelShopID", Text(25), required;
        cancel_invoice_number: String = "CancelInvoiceNumber", Text(25), required;
        tire_cancel_count: i64 = "TireCancelCount", Int { min: 1 }, required;
        cancel_date: DateTime<Utc> = "CancelDate", Date, required;
    }
    key: [org_id, shop_id, invoice_number, cancel_shop_id, cancel_invoice_number]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::test_support::{decode, errors};
    use crate::wire::Code;

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
                ("CancelShopID", Code::Required),
                ("CancelInvoiceNumber", Code::Required),
                ("TireCancelCount", Code::NotWholeNumber),
                ("CancelDate", Code::InvalidDate)
            ]
        );
    }
}
