//! What the v3 API reads and writes beyond the v2 records, on either engine: a registration's
//! v3 face, and the motor-club registrations. A registration's v3 id is its column's default
//! (migrations V4); a motor-club registration's is made here.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use super::batches::stored_tenant;
use super::sql::{Arg, Row};
use super::{Stamp, StoreError, Tx, V3Id, columns, unmatchable};
use crate::model::motor_club::{Address, Customer, MotorClub, StoredMotorClub};
use crate::model::v3_registration::{V3Extras, V3Filter, V3Registration};
use crate::records::{FiledUnder, RecordKind};
use crate::scope::Scope;

/// Where v3 lists a tenant's rows: what it reads, the tenant's rows of its table (taking the
/// partner and tenant as $1 and $2), and a page's filter ($3 invoiceNumber and $4
/// storeNumber, each when given).
pub struct Listing<T: 'static> {
    select: LazyLock<String>,
    from: &'static str,
    filter: &'static str,
    /// The column of a row's store (storeNumber).
    store_number: &'static str,
    /// A row as what it is.
    read: fn(&Row) -> Result<T, StoreError>,
}

/// A registration's v3 face: the v2 fields (first, for `Row::record`), what only v3 has, and
/// the CancelDate of its first cancellation.
pub static V3_REGISTRATIONS: Listing<V3Registration> = Listing {
    select: LazyLock::new(|| {
        let fields: Vec<String> = columns(RecordKind::Registrations)
            .iter()
            .map(|c| format!("r.{c}"))
            .collect();
        format!(
            "SELECT {}, r.v3_id, r.product_id, r.customer_email, r.v3_tires, \
               (SELECT cancel_date FROM cancellations c WHERE c.registration_id = r.id ORDER BY c.id LIMIT 1) \
                 AS first_cancel_date",
            fields.join(", ")
        )
    }),
    from: "FROM registrations r WHERE r.partner_id = $1 AND r.tenant = $2",
    filter: "(CAST($3 AS TEXT) IS NULL OR r.invoice_number = $3) AND (CAST($4 AS TEXT) IS NULL OR r.shop_id = $4)",
    store_number: "r.shop_id",
    read: v3_registration_of,
};

impl<T> Listing<T> {
    /// The tenant's row with this v3 id.
    pub fn by_id(&self, tx: &Tx, scope: Scope, v3_id: &str) -> Result<Option<T>, StoreError> {
        if unmatchable([v3_id]) {
            return Ok(None);
        }
        tx.row(
            &format!("{} {} AND v3_id = $3", *self.select, self.from),
            &[
                Arg::Int(scope.partner_id),
                Arg::Text(scope.tenant.into_str()),
                Arg::Text(v3_id),
            ],
            self.read,
        )
    }

    /// One page (from 1) of the tenant's rows the filter names, oldest first, and how many it
    /// names in all.
    pub fn page(
        &self,
        tx: &Tx,
        scope: Scope,
        filter: &V3Filter,
        page: u32,
        page_size: u32,
    ) -> Result<(u64, Vec<T>), StoreError> {
        self.select_page(tx, scope, filter, &self.select, (page, page_size), self.read)
    }

    /// The stores of the tenant's first `most` rows the filter names, and how many it names in
    /// all.
    pub fn stores(
        &self,
        tx: &Tx,
        scope: Scope,
        filter: &V3Filter,
        most: u32,
    ) -> Result<(u64, Vec<String>), StoreError> {
        let select = format!("SELECT {} AS store_number", self.store_number);
        self.select_page(tx, scope, filter, &select, (1, most), |row| row.text("store_number"))
    }

    fn select_page<R>(
        &self,
        tx: &Tx,
        scope: Scope,
        filter: &V3Filter,
        select: &str,
        page: (u32, u32),
        read: fn(&Row) -> Result<R, StoreError>,
    ) -> Result<(u64, Vec<R>), StoreError> {
        let (invoice, store) = (filter.invoice_number.as_deref(), filter.store_number.as_deref());
        if unmatchable(invoice.into_iter().chain(store)) {
            return Ok((0, Vec::new()));
        }
        let args = [
            Arg::Int(scope.partner_id),
            Arg::Text(scope.tenant.into_str()),
            Arg::OptText(invoice),
            Arg::OptText(store),
        ];
        let (from, filter) = (self.from, self.filter);
        tx.page(select, &format!("{from} AND {filter}"), "id", &args, page, read)
    }
}

fn v3_registration_of(row: &Row) -> Result<V3Registration, StoreError> {
    Ok(V3Registration {
        registration: row.record(0)?,
        v3_id: row.text("v3_id")?,
        extras: V3Extras {
            product_id: row.opt_text("product_id")?,
            customer_email: row.opt_text("customer_email")?,
            tires: row.opt_text("v3_tires")?,
        },
        cancelled_on: row.opt_date("first_cancel_date")?,
    })
}

/// Stores what only v3 has on the registration with this row id (just inserted); answers its
/// v3 id.
pub fn set_v3_extras(tx: &Tx, registration_id: i64, extras: &V3Extras) -> Result<String, StoreError> {
    tx.row(
        "UPDATE registrations SET product_id = $2, customer_email = $3, v3_tires = $4 WHERE id = $1 RETURNING v3_id",
        &[
            Arg::Int(registration_id),
            Arg::OptText(extras.product_id.as_deref()),
            Arg::OptText(extras.customer_email.as_deref()),
            Arg::OptText(extras.tires.as_deref()),
        ],
        |row| row.text("v3_id"),
    )?
    .ok_or_else(|| StoreError::Database(format!("no registration has the row id {registration_id}").into()))
}

/// The columns a motor-club customer is kept in.
const CUSTOMER_COLUMNS: [&str; 9] = [
    "customer_name",
    "customer_phone",
    "customer_email",
    "address_line1",
    "address_line2",
    "address_city",
    "address_state",
    "address_zip",
    "address_country",
];

/// A customer as its columns' values, in [`CUSTOMER_COLUMNS`]' order (NULL for what was not
/// sent).
fn customer_args(c: &Customer) -> [Arg<'_>; 9] {
    let a = &c.address;
    [
        Some(c.name.as_str()),
        c.phone.as_deref(),
        c.email.as_deref(),
        a.line1.as_deref(),
        a.line2.as_deref(),
        a.city.as_deref(),
        a.state.as_deref(),
        a.zip.as_deref(),
        a.country.as_deref(),
    ]
    .map(Arg::OptText)
}

/// A customer from its columns.
fn customer_of(row: &Row) -> Result<Customer, StoreError> {
    let [name, phone, email, address @ ..] = CUSTOMER_COLUMNS.map(|c| row.opt_text(c));
    Ok(Customer {
        name: name?.unwrap_or_default(),
        phone: phone?,
        email: email?,
        address: Address::from_parts(address)?,
    })
}

/// A motor-club registration.
pub static MOTOR_CLUBS: Listing<StoredMotorClub> = Listing {
    select: LazyLock::new(|| {
        format!(
            "SELECT v3_id, product_id, invoice_number, store_number, enroll_date, {}, cancelled_on",
            CUSTOMER_COLUMNS.join(", ")
        )
    }),
    from: "FROM motor_club_registrations WHERE partner_id = $1 AND tenant = $2",
    filter: "(CAST($3 AS TEXT) IS NULL OR invoice_number = $3) AND (CAST($4 AS TEXT) IS NULL OR store_number = $4)",
    store_number: "store_number",
    read: motor_club_of,
};

fn motor_club_of(row: &Row) -> Result<StoredMotorClub, StoreError> {
    Ok(StoredMotorClub {
        id: row.text("v3_id")?,
        program_id: None,
        registration: MotorClub {
            product_id: row.text("product_id")?,
            invoice_number: row.text("invoice_number")?,
            store_number: row.text("store_number")?,
            enroll_date: row.date("enroll_date")?,
            customer: customer_of(row)?,
        },
        cancelled_on: row.opt_date("cancelled_on")?,
    })
}

/// Stores a new motor-club registration and answers its v3 id; `None` when the tenant already
/// has its (storeNumber, invoiceNumber).
pub fn insert_motor_club(tx: &Tx, scope: Scope, r: &MotorClub, stamp: &Stamp) -> Result<Option<String>, StoreError> {
    static INSERT: LazyLock<String> = LazyLock::new(|| {
        let customer: Vec<String> = (0..CUSTOMER_COLUMNS.len()).map(|i| format!("${}", 7 + i)).collect();
        format!(
            "INSERT INTO motor_club_registrations (partner_id, tenant, product_id, invoice_number, \
               store_number, enroll_date, {}, created_at, updated_at, revision, v3_id) \
             VALUES ($1, $2, $3, $4, $5, $6, {}, ${at}, ${at}, 1, ${id}) \
             ON CONFLICT (partner_id, tenant, invoice_number, store_number) DO NOTHING RETURNING v3_id",
            CUSTOMER_COLUMNS.join(", "),
            customer.join(", "),
            at = 7 + CUSTOMER_COLUMNS.len(),
            id = 8 + CUSTOMER_COLUMNS.len(),
        )
    });
    let id = V3Id::new();
    let mut args = vec![
        Arg::Int(scope.partner_id),
        Arg::Text(scope.tenant.into_str()),
        Arg::Text(&r.product_id),
        Arg::Text(&r.invoice_number),
        Arg::Text(&r.store_number),
        Arg::Date(r.enroll_date),
    ];
    args.extend(customer_args(&r.customer));
    args.push(Arg::Date(stamp.at));
    args.push(Arg::Text(id.as_str()));
    tx.row(&*INSERT, &args, |row| row.text("v3_id"))
}

/// Replaces the customer of the tenant's motor-club registration with this v3 id.
pub fn replace_motor_club_customer(
    tx: &Tx,
    scope: Scope,
    v3_id: &str,
    customer: &Customer,
    stamp: &Stamp,
) -> Result<(), StoreError> {
    static UPDATE: LazyLock<String> = LazyLock::new(|| {
        let set: Vec<String> = CUSTOMER_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", 5 + i))
            .collect();
        format!(
            "UPDATE motor_club_registrations SET {}, updated_at = $4, revision = revision + 1 \
             WHERE partner_id = $1 AND tenant = $2 AND v3_id = $3",
            set.join(", ")
        )
    });
    let mut args = vec![
        Arg::Int(scope.partner_id),
        Arg::Text(scope.tenant.into_str()),
        Arg::Text(v3_id),
        Arg::Date(stamp.at),
    ];
    args.extend(customer_args(customer));
    tx.execute(&*UPDATE, &args)?;
    Ok(())
}

/// Cancels the tenant's motor-club registration with this v3 id, unless it already is
/// cancelled: whether this call cancelled it.
pub fn cancel_motor_club(
    tx: &Tx,
    scope: Scope,
    v3_id: &str,
    cancelled_on: DateTime<Utc>,
    stamp: &Stamp,
) -> Result<bool, StoreError> {
    let changed = tx.execute(
        "UPDATE motor_club_registrations SET cancelled_on = $4, updated_at = $5, revision = revision + 1 \
         WHERE partner_id = $1 AND tenant = $2 AND v3_id = $3 AND cancelled_on IS NULL",
        &[
            Arg::Int(scope.partner_id),
            Arg::Text(scope.tenant.into_str()),
            Arg::Text(v3_id),
            Arg::Date(cancelled_on),
            Arg::Date(stamp.at),
        ],
    )?;
    Ok(changed == 1)
}

/// What a v3 id is, of any partner and tenant (the operators' search by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V3IdOwner {
    /// A tire-protection registration: whose, and the ShopID and InvoiceNumber it is filed under.
    Registration(Scope, FiledUnder),
    /// A motor-club membership: whose (not a v2 record).
    MotorClub(Scope),
}

/// Whose record has the v3 id `v3_id`, in any partner's tenant (both tables keep it unique).
pub fn v3_id_owner(tx: &Tx, v3_id: &str) -> Result<Option<V3IdOwner>, StoreError> {
    if unmatchable([v3_id]) {
        return Ok(None);
    }
    let scope = |row: &Row| -> Result<Scope, StoreError> {
        Ok(Scope {
            partner_id: row.int("partner_id")?,
            tenant: stored_tenant(row)?,
        })
    };
    let registration = tx.row(
        "SELECT partner_id, tenant, shop_id, invoice_number FROM registrations WHERE v3_id = $1",
        &[Arg::Text(v3_id)],
        |row| {
            let filed = FiledUnder {
                shop_id: row.text("shop_id")?,
                invoice_number: row.text("invoice_number")?,
            };
            Ok(V3IdOwner::Registration(scope(row)?, filed))
        },
    )?;
    if registration.is_some() {
        return Ok(registration);
    }
    tx.row(
        "SELECT partner_id, tenant FROM motor_club_registrations WHERE v3_id = $1",
        &[Arg::Text(v3_id)],
        |row| Ok(V3IdOwner::MotorClub(scope(row)?)),
    )
}
