use chrono::{DateTime, Utc};

use super::Cents;
use super::declare::record;
use crate::wire::Kind::*;

record! {
    /// A tire protection plan sold on one invoice. Keyed by ShopID and InvoiceNumber.
    ///
    /// TireModel: the guide's table says 25, its examples carry up to 42 characters (docs/decisions.md, "Where the guide contradicts itself": the examples win).
    /// TireDOT1: "required if available", and the guide returns it empty: optional.
    pub struct Registration as Registrations {
        org_id: String = "OrgID", Text(50), optional;
        shop_id: String = "ShopID", Text(25), required;
        invoice_number: String = "InvoiceNumber", Text(50), required;
        plan_enroll_date: DateTime<Utc> = "PlanEnrollDate", Date, required;
        employee_id: String = "EmployeeID", Text(50), required;
        customer_id: String = "CustomerID", Text(50), required;
        vehicle_year: String = "VehicleYear", Text(25), optional;
        vehicle_make: String = "VehicleMake", Text(25), optional;
        vehicle_model: String = "VehicleModel", Text(25), optional;
        vin: String = "VIN", Text(50), optional;
        current_mileage: Option<i64> = "CurrentMileage", Int { min: 0 }, optional;
        tires_covered: i64 = "TiresCovered", Int { min: 1 }, required;
        tpp_price: Cents = "TPPPrice", Money, required;
        tire_brand: String = "TireBrand", Text(25), required;
        tire_model: String = "TireModel", Text(50), optional;
        tire_size: String = "TireSize", Text(25), required;
        tire_price: Cents = "TirePrice", Money, required;
        tire_cost: Cents = "TireCost", Money, required;
        tire_dot1: String = "TireDOT1", Text(25), optional;
        tire_dot2: String = "TireDOT2", Text(25), optional;
        tire_dot3: String = "TireDOT3", Text(25), optional;
        tire_dot4: String = "TireDOT4", Text(25), optional;
        tire_dot5: String = "TireDOT5", Text(25), optional;
        tire_dot6: String = "TireDOT6", Text(25), optional;
        commercial_vehicle: bool = "CommercialVehicle", Flag, optional;
    }
    key: [shop_id, invoice_number]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::test_support::{decode, errors, messages};
    use crate::wire::{Code, Warning, WarningKind};

    const GUIDE: &str = r#"{
        "ShopID": "005308", "InvoiceNumber": "1044273", "PlanEnrollDate": "2018-12-04",
        "EmployeeID": "JP0078", "CustomerID": "5108-460340", "VehicleYear": "08",
        "VehicleMake": "GMC TRUCK", "VehicleModel": "SIERRA 1500 PICKUP", "VIN": "2GTEC19C481101249",
        "CurrentMileage": "187437", "TiresCovered": 4, "TPPPrice": 995.68, "TireBrand": "NIT",
        "TireModel": "P265/65R18 112T NITTO CROSSTEK 2", "TireSize": "2656518", "TirePrice": 188.99,
        "TireCost": 105.98, "TireDOT1": "DOT 73C2 KLH0913", "CommercialVehicle": "false"}"#;

    #[test]
    fn the_guides_example_decodes() {
        let r = decode::<Registration>(GUIDE).record.unwrap();
        assert_eq!(r.current_mileage, Some(187437));
        assert_eq!(r.tpp_price, 99568);
        assert_eq!(r.tire_model.len(), 32);
        assert!(!r.commercial_vehicle);
        assert_eq!(crate::wire::format_date(&r.plan_enroll_date), "2018-12-04T00:00:00Z");
    }

    #[test]
    fn every_field_error_is_reported_at_once() {
        let errs = errors::<Registration>(
            r#"{"ShopID": "12345678901234567890123456", "PlanEnrollDate": "2018-02-30",
                "CustomerID": "", "TiresCovered": "four", "TPPPrice": 1.005, "TirePrice": -1,
                "TireCost": "x", "CommercialVehicle": "maybe", "CurrentMileage": 1.5}"#,
        );
        assert_eq!(
            errs,
            vec![
                ("ShopID", Code::TooLong),
                ("InvoiceNumber", Code::Required),
                ("PlanEnrollDate", Code::InvalidDate),
                ("EmployeeID", Code::Required),
                ("CustomerID", Code::Required),
                ("CurrentMileage", Code::NotWholeNumber),
                ("TiresCovered", Code::InvalidNumber),
                ("TPPPrice", Code::TooManyDecimals),
                ("TireBrand", Code::Required),
                ("TireSize", Code::Required),
                ("TirePrice", Code::Negative),
                ("TireCost", Code::InvalidNumber),
                ("CommercialVehicle", Code::InvalidBoolean),
            ]
        );
    }

    #[test]
    fn unknown_fields_are_warnings() {
        let d = decode::<Registration>(&GUIDE.replace("\"VIN\"", "\"Vin\": \"x\", \"Color\": \"red\", \"VIN\""));
        assert_eq!(
            d.warnings,
            vec![
                Warning {
                    field: "Color".into(),
                    kind: WarningKind::UnknownField,
                    message: "unknown field \"Color\" was ignored".to_owned(),
                },
                Warning {
                    field: "VIN".into(),
                    kind: WarningKind::RepeatedField,
                    message: "VIN was sent twice with different values (\"x\", then \"2GTEC19C481101249\"): the last was kept"
                        .to_owned()
                },
            ]
        );
        assert_eq!(d.record.unwrap().vin, "2GTEC19C481101249");
    }

    #[test]
    fn an_unknown_field_near_a_missing_one_is_named_as_what_it_may_be() {
        let warnings = |from: &str, to: &str| messages(&decode::<Registration>(&GUIDE.replace(from, to)).warnings);
        // TiresCovered misspelt: refused for TiresCovered, and the warning says why.
        let d = decode::<Registration>(&GUIDE.replace("\"TiresCovered\"", "\"TiresCoverd\""));
        assert!(d.record.is_err());
        assert_eq!(
            messages(&d.warnings),
            ["unknown field \"TiresCoverd\" was ignored: is it TiresCovered?"]
        );
        assert_eq!(
            warnings("\"EmployeeID\"", "\"EmplyeeId\""),
            ["unknown field \"EmplyeeId\" was ignored: is it EmployeeID?"]
        );
        // A field that was sent is not suggested; two as near are no answer; nor is a far one.
        assert_eq!(
            warnings("\"VIN\"", "\"VINs\": \"x\", \"VIN\""),
            ["unknown field \"VINs\" was ignored"]
        );
        assert_eq!(
            warnings("\"TireDOT1\"", "\"TireDOT7\": \"x\", \"TireDOT1\""),
            ["unknown field \"TireDOT7\" was ignored"]
        );
        assert_eq!(
            warnings("\"VIN\"", "\"Colour\": \"x\", \"VIN\""),
            ["unknown field \"Colour\" was ignored"]
        );
    }
}
