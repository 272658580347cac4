use chrono::{DateTime, Utc};

use super::Cents;
use super::declare::record;
use crate::wire::Kind::*;

record! {
    /// A repair or replacement paid under a registration (same ShopID and InvoiceNumber).
    ///
    /// InvoiceNumber is 25 here (50 on Registrations), as the guide's table says. ServiceType and
    /// TirePrice are in the guide's examples but not its table: optional; ServiceType gets 50.
    pub struct Claim as Claims {
        org_id: String = "OrgID", Text(50), optional;
        shop_id: String = "ShopID", Text(25), required;
        invoice_number: String = "InvoiceNumber", Text(25), required;
        claim_date: DateTime<Utc> = "ClaimDate", Date, required;
        repair_shop_id: String = "RepairShopID", Text(25), required;
        repair_invoice_number: String = "RepairInvoiceNumber", Text(50), required,
            aliases &["RepairlnvoiceNumber"];
        vin: String = "VIN", Text(50), optional;
        vehicle_mileage: Option<i64> = "VehicleMileage", Int { min: 0 }, optional;
        tire_claim_count: i64 = "TireClaimCount", Int { min: 1 }, required;
        credit_amount: Cents = "CreditAmount", Money, required;
        cost_per_unit: Cents = "CostPerUnit", Money, required;
        service_type: String = "ServiceType", Text(50), optional;
        service_description: String = "ServiceDescription", Text(200), optional;
        tire_location1: String = "TireLocation1", Text(200), optional;
        tire_location2: String = "TireLocation2", Text(200), optional;
        tire_location3: String = "TireLocation3", Text(200), optional;
        tire_location4: String = "TireLocation4", Text(200), optional;
        tire_location5: String = "TireLocation5", Text(200), optional;
        tire_location6: String = "TireLocation6", Text(200), optional;
        tire_brand: String = "TireBrand", Text(25), required;
        tire_model: String = "TireModel", Text(50), optional;
        tire_size: String = "TireSize", Text(25), required;
        tire_price: Option<Cents> = "TirePrice", Money, optional;
        tire_cost: Cents = "TireCost", Money, required;
    }
    key: [org_id, shop_id, invoice_number, repair_shop_id, repair_invoice_number]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::test_support::{decode, errors, messages};
    use crate::wire::Code;

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
            vec![
                ("RepairShopID", Code::Required),
                ("RepairInvoiceNumber", Code::Required)
            ]
        );
    }

    #[test]
    fn a_field_sent_again_with_another_value_is_named_with_what_was_sent() {
        // The guide's example, given the repair fields: taken with the last ShopID and
        // InvoiceNumber, and its result says so.
        let d = decode::<Claim>(
            r#"{"ShopID": "0056678", "InvoiceNumber": "35554367", "ClaimDate": "2020-01-27",
                "ShopID": "0056698", "InvoiceNumber": "9994498", "RepairShopID": "1",
                "RepairInvoiceNumber": "2", "TireClaimCount": 4, "CreditAmount": 64.04,
                "CostPerUnit": 60.00, "TireBrand": "SUM", "TireSize": "2356018", "TireCost" : 58.00,
                "tiresize": "2356018", "TireBrand": "A", "TIREBRAND": "B", "tirebrand": 4,
                "ServiceDescription": "A FLAT REPAIR ON THE PASSENGER SIDE REAR TIRE",
                "servicedescription": ""}"#,
        );
        let claim = d.record.unwrap();
        assert_eq!(
            (claim.shop_id.as_str(), claim.invoice_number.as_str()),
            ("0056698", "9994498")
        );
        assert_eq!(
            messages(&d.warnings),
            [
                r#"ShopID was sent twice with different values ("0056678", then "0056698"): the last was kept"#,
                r#"InvoiceNumber was sent twice with different values ("35554367", then "9994498"): the last was kept"#,
                r#"TireBrand was sent 4 times with different values ("SUM", "A", "B", then 4): the last was kept"#,
                r#"ServiceDescription was sent twice with different values ("A FLAT REPAIR ON THE PASSENGER SIDE REA..., then ""): the last was kept"#,
            ]
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
                ("InvoiceNumber", Code::TooLong),
                ("TireClaimCount", Code::OutOfRange),
                ("TireLocation1", Code::TooLong)
            ]
        );
    }
}
