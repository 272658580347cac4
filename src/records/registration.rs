use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Cents, FieldReader, NaturalKey, Record, serde_out};
use crate::wire::{FieldSpec, Kind::*};

/// A tire protection plan sold on one invoice. Keyed by ShopID and InvoiceNumber.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Registration {
    #[serde(rename = "OrgID")]
    pub org_id: String,
    #[serde(rename = "ShopID")]
    pub shop_id: String,
    #[serde(rename = "InvoiceNumber")]
    pub invoice_number: String,
    #[serde(rename = "PlanEnrollDate", serialize_with = "serde_out::date")]
    pub plan_enroll_date: DateTime<Utc>,
    #[serde(rename = "EmployeeID")]
    pub employee_id: String,
    #[serde(rename = "CustomerID")]
    pub customer_id: String,
    #[serde(rename = "VehicleYear")]
    pub vehicle_year: String,
    #[serde(rename = "VehicleMake")]
    pub vehicle_make: String,
    #[serde(rename = "VehicleModel")]
    pub vehicle_model: String,
    #[serde(rename = "VIN")]
    pub vin: String,
    #[serde(rename = "CurrentMileage", serialize_with = "serde_out::opt_int")]
    pub current_mileage: Option<i64>,
    #[serde(rename = "TiresCovered")]
    pub tires_covered: i64,
    #[serde(rename = "TPPPrice", serialize_with = "serde_out::money")]
    pub tpp_price: Cents,
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
    #[serde(rename = "TireDOT1")]
    pub tire_dot1: String,
    #[serde(rename = "TireDOT2")]
    pub tire_dot2: String,
    #[serde(rename = "TireDOT3")]
    pub tire_dot3: String,
    #[serde(rename = "TireDOT4")]
    pub tire_dot4: String,
    #[serde(rename = "TireDOT5")]
    pub tire_dot5: String,
    #[serde(rename = "TireDOT6")]
    pub tire_dot6: String,
    #[serde(rename = "CommercialVehicle", serialize_with = "serde_out::flag")]
    pub commercial_vehicle: bool,
}

impl Record for Registration {
    const NAME: &'static str = "Registrations";
    // TireModel: the guide's table says 25, its examples carry up to 42 characters (DESIGN.md).
    // TireDOT1: "required if available", and the guide returns it empty: optional.
    const FIELDS: &'static [FieldSpec] = &[
        FieldSpec::new("OrgID", Text(50), false),
        FieldSpec::new("ShopID", Text(25), true),
        FieldSpec::new("InvoiceNumber", Text(50), true),
        FieldSpec::new("PlanEnrollDate", Date, true),
        FieldSpec::new("EmployeeID", Text(50), true),
        FieldSpec::new("CustomerID", Text(50), true),
        FieldSpec::new("VehicleYear", Text(25), false),
        FieldSpec::new("VehicleMake", Text(25), false),
        FieldSpec::new("VehicleModel", Text(25), false),
        FieldSpec::new("VIN", Text(50), false),
        FieldSpec::new("CurrentMileage", Int { min: 0 }, false),
        FieldSpec::new("TiresCovered", Int { min: 1 }, true),
        FieldSpec::new("TPPPrice", Money, true),
        FieldSpec::new("TireBrand", Text(25), true),
        FieldSpec::new("TireModel", Text(50), false),
        FieldSpec::new("TireSize", Text(25), true),
        FieldSpec::new("TirePrice", Money, true),
        FieldSpec::new("TireCost", Money, true),
        FieldSpec::new("TireDOT1", Text(25), false),
        FieldSpec::new("TireDOT2", Text(25), false),
        FieldSpec::new("TireDOT3", Text(25), false),
        FieldSpec::new("TireDOT4", Text(25), false),
        FieldSpec::new("TireDOT5", Text(25), false),
        FieldSpec::new("TireDOT6", Text(25), false),
        FieldSpec::new("CommercialVehicle", Flag, false),
    ];

    fn read(r: &mut FieldReader<'_, '_>) -> Self {
        Registration {
            org_id: r.text("OrgID"),
            shop_id: r.text("ShopID"),
            invoice_number: r.text("InvoiceNumber"),
            plan_enroll_date: r.date("PlanEnrollDate").unwrap_or_default(),
            employee_id: r.text("EmployeeID"),
            customer_id: r.text("CustomerID"),
            vehicle_year: r.text("VehicleYear"),
            vehicle_make: r.text("VehicleMake"),
            vehicle_model: r.text("VehicleModel"),
            vin: r.text("VIN"),
            current_mileage: r.int("CurrentMileage"),
            tires_covered: r.int("TiresCovered").unwrap_or_default(),
            tpp_price: r.money("TPPPrice").unwrap_or_default(),
            tire_brand: r.text("TireBrand"),
            tire_model: r.text("TireModel"),
            tire_size: r.text("TireSize"),
            tire_price: r.money("TirePrice").unwrap_or_default(),
            tire_cost: r.money("TireCost").unwrap_or_default(),
            tire_dot1: r.text("TireDOT1"),
            tire_dot2: r.text("TireDOT2"),
            tire_dot3: r.text("TireDOT3"),
            tire_dot4: r.text("TireDOT4"),
            tire_dot5: r.text("TireDOT5"),
            tire_dot6: r.text("TireDOT6"),
            commercial_vehicle: r.flag("CommercialVehicle"),
        }
    }

    fn key(&self) -> NaturalKey {
        NaturalKey(vec![
            ("ShopID", self.shop_id.clone()),
            ("InvoiceNumber", self.invoice_number.clone()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::test_support::{decode, errors};

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
                ("ShopID", "too_long"),
                ("InvoiceNumber", "required"),
                ("PlanEnrollDate", "invalid_date"),
                ("EmployeeID", "required"),
                ("CustomerID", "required"),
                ("CurrentMileage", "not_whole_number"),
                ("TiresCovered", "invalid_number"),
                ("TPPPrice", "too_many_decimals"),
                ("TireBrand", "required"),
                ("TireSize", "required"),
                ("TirePrice", "negative"),
                ("TireCost", "invalid_number"),
                ("CommercialVehicle", "invalid_boolean"),
            ]
        );
    }

    #[test]
    fn unknown_fields_are_warnings() {
        let d = decode::<Registration>(&GUIDE.replace("\"VIN\"", "\"Vin\": \"x\", \"Color\": \"red\", \"VIN\""));
        assert!(d.record.is_ok());
        assert_eq!(d.warnings, vec!["unknown field \"Color\" was ignored".to_owned()]);
    }
}
