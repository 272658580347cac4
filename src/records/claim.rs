use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Cents, FieldReader, NaturalKey, Record, serde_out};
use crate::wire::{FieldSpec, Kind::*};

/// A repair or replacement paid under a registration (same ShopID and InvoiceNumber).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    #[serde(rename = "OrgID")]
    pub org_id: String,
    #[serde(rename = "ShopID")]
    pub shop_id: String,
    #[serde(rename = "InvoiceNumber")]
    pub invoice_number: String,
    #[serde(rename = "ClaimDate", serialize_with = "serde_out::date")]
    pub claim_date: DateTime<Utc>,
    #[serde(rename = "RepairShopID")]
    pub repair_shop_id: String,
    #[serde(rename = "RepairInvoiceNumber")]
    pub repair_invoice_number: String,
    #[serde(rename = "VIN")]
    pub vin: String,
    #[serde(rename = "VehicleMileage", serialize_with = "serde_out::opt_int")]
    pub vehicle_mileage: Option<i64>,
    #[serde(rename = "TireClaimCount")]
    pub tire_claim_count: i64,
    #[serde(rename = "CreditAmount", serialize_with = "serde_out::money")]
    pub credit_amount: Cents,
    #[serde(rename = "CostPerUnit", serialize_with = "serde_out::money")]
    pub cost_per_unit: Cents,
    #[serde(rename = "ServiceType")]
    pub service_type: String,
    #[serde(rename = "ServiceDescription")]
    pub service_description: String,
    #[serde(rename = "TireLocation1")]
    pub tire_location1: String,
    #[serde(rename = "TireLocation2")]
    pub tire_location2: String,
    #[serde(rename = "TireLocation3")]
    pub tire_location3: String,
    #[serde(rename = "TireLocation4")]
    pub tire_location4: String,
    #[serde(rename = "TireLocation5")]
    pub tire_location5: String,
    #[serde(rename = "TireLocation6")]
    pub tire_location6: String,
    #[serde(rename = "TireBrand")]
    pub tire_brand: String,
    #[serde(rename = "TireModel")]
    pub tire_model: String,
    #[serde(rename = "TireSize")]
    pub tire_size: String,
    #[serde(rename = "TirePrice", serialize_with = "serde_out::opt_money")]
    pub tire_price: Option<Cents>,
    #[serde(rename = "TireCost", serialize_with = "serde_out::money")]
    pub tire_cost: Cents,
}

impl Record for Claim {
    const NAME: &'static str = "Claims";
    // InvoiceNumber is 25 here (50 on Registrations), as the guide's table says. ServiceType and
    // TirePrice are in the guide's examples but not its table: optional; ServiceType gets 50.
    const FIELDS: &'static [FieldSpec] = &[
        FieldSpec::new("OrgID", Text(50), false),
        FieldSpec::new("ShopID", Text(25), true),
        FieldSpec::new("InvoiceNumber", Text(25), true),
        FieldSpec::new("ClaimDate", Date, true),
        FieldSpec::new("RepairShopID", Text(25), true),
        FieldSpec::new("RepairInvoiceNumber", Text(50), true).with_aliases(&["RepairlnvoiceNumber"]),
        FieldSpec::new("VIN", Text(50), false),
        FieldSpec::new("VehicleMileage", Int { min: 0 }, false),
        FieldSpec::new("TireClaimCount", Int { min: 1 }, true),
        FieldSpec::new("CreditAmount", Money, true),
        FieldSpec::new("CostPerUnit", Money, true),
        FieldSpec::new("ServiceType", Text(50), false),
        FieldSpec::new("ServiceDescription", Text(200), false),
        FieldSpec::new("TireLocation1", Text(200), false),
        FieldSpec::new("TireLocation2", Text(200), false),
        FieldSpec::new("TireLocation3", Text(200), false),
        FieldSpec::new("TireLocation4", Text(200), false),
        FieldSpec::new("TireLocation5", Text(200), false),
        FieldSpec::new("TireLocation6", Text(200), false),
        FieldSpec::new("TireBrand", Text(25), true),
        FieldSpec::new("TireModel", Text(50), false),
        FieldSpec::new("TireSize", Text(25), true),
        FieldSpec::new("TirePrice", Money, false),
        FieldSpec::new("TireCost", Money, true),
    ];

    fn read(r: &mut FieldReader<'_, '_>) -> Self {
        Claim {
            org_id: r.text("OrgID"),
            shop_id: r.text("ShopID"),
            invoice_number: r.text("InvoiceNumber"),
            claim_date: r.date("ClaimDate").unwrap_or_default(),
            repair_shop_id: r.text("RepairShopID"),
            repair_invoice_number: r.text("RepairInvoiceNumber"),
            vin: r.text("VIN"),
            vehicle_mileage: r.int("VehicleMileage"),
            tire_claim_count: r.int("TireClaimCount").unwrap_or_default(),
            credit_amount: r.money("CreditAmount").unwrap_or_default(),
            cost_per_unit: r.money("CostPerUnit").unwrap_or_default(),
            service_type: r.text("ServiceType"),
            service_description: r.text("ServiceDescription"),
            tire_location1: r.text("TireLocation1"),
            tire_location2: r.text("TireLocation2"),
            tire_location3: r.text("TireLocation3"),
            tire_location4: r.text("TireLocation4"),
            tire_location5: r.text("TireLocation5"),
            tire_location6: r.text("TireLocation6"),
            tire_brand: r.text("TireBrand"),
            tire_model: r.text("TireModel"),
            tire_size: r.text("TireSize"),
            tire_price: r.money("TirePrice"),
            tire_cost: r.money("TireCost").unwrap_or_default(),
        }
    }

    fn key(&self) -> NaturalKey {
        NaturalKey(vec![
            ("OrgID", self.org_id.clone()),
            ("ShopID", self.shop_id.clone()),
            ("InvoiceNumber", self.invoice_number.clone()),
            ("RepairShopID", self.repair_shop_id.clone()),
            ("RepairInvoiceNumber", self.repair_invoice_number.clone()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::test_support::{decode, errors};

    #[test]
    fn the_guides_example_lacks_the_repair_fields() {
        // The guide repeats ShopID and InvoiceNumber; the last wins, and the repair key is missing.
        let errs = errors::<Claim>(
            r#"{"ShopID": "0056678", "InvoiceNumber": "35554367", "ClaimDate": "2020-01-27",
                "ShopID": "0056698", "InvoiceNumber": "9994498", "VehicleMileage": 96192,
                "TireClaimCount": 4, "CreditAmount": 64.04, "CostPerUnit": 60.00,
                "ServiceType": "REPLACE", "ServiceDescription": "FLAT REPAIR PASSENGER REAR",
                "TireBrand": "SUM", "TireModel": "235/60R18/XL 107V HTR A/S P02 BLK",
                "TireSize": "2356018", "TireCost" : 58.00}"#,
        );
        assert_eq!(
            errs,
            vec![("RepairShopID", "required"), ("RepairInvoiceNumber", "required")]
        );
    }

    #[test]
    fn the_typo_alias_and_optional_extras_are_taken() {
        let c = decode::<Claim>(
            r#"{"ShopID": "1", "InvoiceNumber": "2", "ClaimDate": "2020-01-27T10:00:00Z",
                "RepairShopID": "3", "RepairlnvoiceNumber": "4", "TireClaimCount": "2",
                "CreditAmount": "64.04", "CostPerUnit": 60, "TireBrand": "SUM", "TireSize": "2356018",
                "TireCost": 58, "TirePrice": "99.10", "ServiceType": "REPLACE"}"#,
        )
        .record
        .unwrap();
        assert_eq!(c.repair_invoice_number, "4");
        assert_eq!(c.tire_price, Some(9910));
        assert_eq!(c.service_type, "REPLACE");
        assert_eq!(c.credit_amount, 6404);
    }

    #[test]
    fn invoice_number_is_25_on_claims() {
        let errs = errors::<Claim>(&format!(
            r#"{{"ShopID": "1", "InvoiceNumber": "{}", "ClaimDate": "2020-01-27", "RepairShopID": "3",
                "RepairInvoiceNumber": "4", "TireClaimCount": 0, "CreditAmount": 1, "CostPerUnit": 1,
                "TireBrand": "B", "TireSize": "S", "TireCost": 1, "TireLocation1": "{}"}}"#,
            "9".repeat(26),
            "L".repeat(201)
        ));
        assert_eq!(
            errs,
            vec![
                ("InvoiceNumber", "too_long"),
                ("TireClaimCount", "out_of_range"),
                ("TireLocation1", "too_long")
            ]
        );
    }
}
