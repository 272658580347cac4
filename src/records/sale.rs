use chrono::{DateTime, Utc};

use super::Cents;
use super::declare::record;
use crate::wire::Kind::*;

record! {
    /// A tire sale, with or without a plan.
    pub struct Sale as Sales {
        org_id: String = "OrgID", Text(50), optional;
        shop_id: String = "ShopID", Text(25), required;
        invoice_number: String = "InvoiceNumber", Text(25), required;
        sale_date: DateTime<Utc> = "SaleDate", Date, required;
        tire_count: i64 = "TireCount", Int { min: 1 }, required;
        tire_brand: String = "TireBrand", Text(25), required;
        tire_model: String = "TireModel", Text(50), optional;
        tire_size: String = "TireSize", Text(25), required;
        tire_price: Cents = "TirePrice", Money, required;
        tire_cost: Cents = "TireCost", Money, required;
    }
    key: [org_id, shop_id, invoice_number, tire_brand, tire_model, tire_size]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::test_support::{decode, errors};
    use crate::wire::Code;

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
                ("SaleDate", Code::InvalidDate),
                ("TireCount", Code::Negative),
                ("TirePrice", Code::TooManyDecimals),
                ("TireCost", Code::InvalidType)
            ]
        );
    }
}
