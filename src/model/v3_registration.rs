//! A registration's v3 face: what v3 keeps beyond the v2 fields, and how v3 reads and lists
//! registrations.

use chrono::{DateTime, Utc};

use crate::records::Registration;

/// What v3 keeps of a registration beyond its v2 fields; none on a registration v2 wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct V3Extras {
    pub product_id: Option<String>,
    pub customer_email: Option<String>,
    /// Every tire v3 listed, as the v3 module wrote it (JSON).
    pub tires: Option<String>,
}

/// A registration as the v3 API reads it.
#[derive(Debug, Clone)]
pub struct V3Registration {
    /// Its 24-hex id.
    pub v3_id: String,
    pub registration: Registration,
    pub extras: V3Extras,
    /// The CancelDate of its first cancellation.
    pub cancelled_on: Option<DateTime<Utc>>,
}

/// Which registrations a v3 page lists: each filter when given (exact).
#[derive(Debug, Clone, Default)]
pub struct V3Filter {
    pub invoice_number: Option<String>,
    pub store_number: Option<String>,
}
