//! The v3 resource API's services, over the same store as v2 (docs/v3-api.md): one
//! registration per call, found by its 24-hex id. Nothing here knows HTTP; the handlers
//! (`api::v3`) authenticate, read the request and call these.

pub mod decode;
pub mod motor_club;
pub mod tire_protection;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::config::{Partner, V3Partner};
use crate::model::motor_club::StoredMotorClub;
use crate::model::v3_registration::V3Filter;
use crate::records::{Cancellation, Claim, rules};
use crate::scope::{Scope, Tenant};
use crate::status::registration_status;
use crate::store::{self, Listing, Lookup, Stamp, Store, StoreError, StoreFailure, Tx};
use crate::wire::Code;
use crate::wire::out::format_v3_date;
use decode::{Errors, FieldError, Fields, Read};
use tire_protection::{ClaimView, Metadata, TireProtection};

/// What the v3 service refuses (besides authentication): each a 4xx of its own.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Fields that break their rules: every one.
    #[error("the {what} has {} invalid field{}", .errors.len(), if .errors.len() == 1 { "" } else { "s" })]
    Invalid {
        what: &'static str,
        errors: Vec<FieldError>,
    },
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    /// Nothing of this partner's tenant has the id (or invoiceNumber) asked for; `elsewhere`
    /// says where the partner has it instead, when it does.
    #[error("no {what} with this {key} (for this partner and tenant){}", .elsewhere.as_deref().map(|e| format!("; {e}")).unwrap_or_default())]
    NotFound {
        what: &'static str,
        key: &'static str,
        elsewhere: Option<String>,
    },
    /// What the request asks cannot be done to the registration as it is.
    #[error("{0}")]
    Conflict(String),
    /// A business rule refuses it (a 409 naming the rule, as v2 names it).
    #[error("{message}")]
    Rule { code: Code, message: String },
}

/// Why a v3 call did not do what it asked: a refusal, or a storage fault (answered as v2
/// answers one).
#[derive(Debug, thiserror::Error)]
pub enum V3Error {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl V3Error {
    fn not_found(what: &'static str) -> V3Error {
        V3Error::Refused(Refusal::NotFound {
            what,
            key: "id",
            elsewhere: None,
        })
    }

    /// What turns a decoder's field errors into the 400 of the `what` they belong to.
    fn invalid(what: &'static str) -> impl FnOnce(Vec<FieldError>) -> V3Error {
        move |errors| V3Error::Refused(Refusal::Invalid { what, errors })
    }
}

impl StoreFailure for V3Error {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            V3Error::Store(e) => Some(e),
            _ => None,
        }
    }
}

/// Whom one v3 call serves: the store, the partner its token names (and the v3 keys and
/// products that proved it), and the tenant.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub store: &'a Store,
    pub partner: &'a Partner,
    pub keys: &'a V3Partner,
    pub scope: Scope,
}

/// A body read by `decode` as the `what` it is: a body that is not JSON is a 400 naming the line
/// and column; one with field errors a 400 naming every one, each key sent twice with
/// different values first.
fn read_body<T>(
    body: &[u8],
    what: &'static str,
    decode: impl FnOnce(&Value) -> Result<T, Vec<FieldError>>,
) -> Result<T, V3Error> {
    let (json, mut errors) = decode::parse(body).map_err(|e| V3Error::Refused(Refusal::NotJson(e.to_string())))?;
    match decode(&json) {
        Ok(read) if errors.is_empty() => Ok(read),
        Ok(_) => Err(V3Error::invalid(what)(errors)),
        Err(more) => {
            errors.extend(more);
            Err(V3Error::invalid(what)(errors))
        }
    }
}

/// `product_id`: required, and one of the partner's `v3_products` when it has a list.
fn product_id(f: &Fields, keys: &V3Partner, errors: &mut Errors) -> Read<String> {
    let product = f.text("product_id", 100, errors)?;
    match &keys.products {
        Some(allowed) if !allowed.contains(&product) => Err(errors.push(
            "product_id",
            Code::NotAllowed,
            format!(
                "must be one of your products ({}), got {}",
                allowed.join(", "),
                crate::wire::echo(&product)
            ),
        )),
        _ => Ok(product),
    }
}

/// What every v3 registration is posted with: its product, invoice, store and enrollment date.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub product_id: String,
    pub invoice_number: String,
    /// "" when not sent.
    pub store_number: String,
    pub enroll_date: DateTime<Utc>,
}

/// Reads a POST's [`Head`], every field of it checked (each error pushed).
fn head(f: &Fields, keys: &V3Partner, errors: &mut Errors) -> Read<Head> {
    let product_id = product_id(f, keys, errors);
    let invoice_number = f.text("invoiceNumber", decode::INVOICE_MAX, errors);
    let store_number = f.opt_text("storeNumber", decode::STORE_MAX, errors);
    let enroll_date = f.date("enrollDate", errors);
    Ok(Head {
        product_id: product_id?,
        invoice_number: invoice_number?,
        store_number: store_number?.unwrap_or_default(),
        enroll_date: enroll_date?,
    })
}

/// A POST's body read by its decoder for the partner: a 400 naming every field error.
fn decoded<T>(keys: &V3Partner, body: &[u8], decode: Decoder<T>) -> Result<T, V3Error> {
    read_body(body, "registration", |json| decode(json, keys))
}

type Decoder<T> = fn(&Value, &V3Partner) -> Result<T, Vec<FieldError>>;

/// POST creates only: a (storeNumber, invoiceNumber) the tenant already has is a 409 saying what
/// to do instead (`then` it with PATCH).
fn already_exists(what: &str, store_number: &str, invoice_number: &str, then: &str) -> V3Error {
    V3Error::Refused(Refusal::Conflict(format!(
        "a {what} with storeNumber {store_number:?} and invoiceNumber {invoice_number:?} already exists; \
         POST creates only (read it with GET, {then} it with PATCH)"
    )))
}

/// POST /tire-protection/registrations: stores a new registration (a v2 Registration with
/// what only v3 has) and answers its id. A (storeNumber, invoiceNumber) the tenant already has
/// is a conflict: POST never updates.
#[tracing::instrument(name = "v3_create_tire_protection", skip_all, fields(partner = %call.partner.company))]
pub fn create_tire_protection(call: &Call, body: &[u8], now: DateTime<Utc>) -> Result<String, V3Error> {
    let Call { store, keys, scope, .. } = *call;
    let new = decoded(keys, body, tire_protection::decode)?;
    let registration = new.registration();
    let extras = new.extras();
    let stamp = Stamp::of(&now);
    store.write(|tx| {
        let written = store::upsert_all(tx, scope, &[(None, &registration)], &stamp)?;
        match written.first() {
            Some(&store::Written::Inserted(id)) => Ok(store::set_v3_extras(tx, id, &extras)?),
            // Rolled back: the stored registration is left as it was.
            _ => Err(already_exists(
                "registration",
                &new.head.store_number,
                &new.head.invoice_number,
                "cancel",
            )),
        }
    })
}

/// GET /tire-protection/registrations/{id}: the registration with the claims filed against it.
pub fn tire_protection(call: &Call, id: &str) -> Result<TireProtection, V3Error> {
    let Call { store, keys, scope, .. } = *call;
    let program_id = keys.program_id.as_deref();
    let found = store.read(|tx| {
        let Some(stored) = store::V3_REGISTRATIONS.by_id(tx, scope, id)? else {
            return Ok(None);
        };
        let key = Lookup {
            shop_id: stored.registration.shop_id.clone(),
            invoice_number: stored.registration.invoice_number.clone(),
            org_id: None,
        };
        let claims: Vec<Claim> = store::find(tx, scope, &key)?;
        let mut view = tire_protection::view(stored, program_id);
        view.claims = Some(claims.iter().map(ClaimView::from).collect());
        Ok(Some(view))
    })?;
    found.ok_or_else(|| missing_id(call, id, &store::V3_REGISTRATIONS))
}

/// GET /tire-protection/registrations/{id}/metadata: registrationstatus in v3's words.
pub fn tire_protection_metadata(call: &Call, id: &str, now: DateTime<Utc>) -> Result<Metadata, V3Error> {
    let Call {
        store, partner, scope, ..
    } = *call;
    let usage = store.read(|tx| {
        let Some(stored) = store::V3_REGISTRATIONS.by_id(tx, scope, id)? else {
            return Ok(None);
        };
        let r = &stored.registration;
        store::registration_usage(tx, scope, &r.shop_id, &r.invoice_number, None)
    })?;
    let usage = usage.ok_or_else(|| missing_id(call, id, &store::V3_REGISTRATIONS))?;
    let status = registration_status(&usage, partner.partner_id, partner.plan(), now);
    Ok(Metadata::from(&status))
}

/// A v3 query string's parameters: names exact (v3 is camelCase), a repeated name's last value
/// wins, values trimmed; `get` takes an empty one as not sent.
struct Query(Vec<(String, String)>);

impl Query {
    fn of(query: &str) -> Query {
        Query(form_urlencoded::parse(query.as_bytes()).into_owned().collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.sent(name).filter(|v| !v.is_empty())
    }

    /// The value of `name` when it is in the query at all, empty or not.
    fn sent(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| crate::wire::trim_padding(v))
    }
}

/// Which registration a PATCH names: its id, or its invoiceNumber (and storeNumber, where one
/// invoice is in several stores).
#[derive(Debug, Clone)]
pub enum Target {
    Id(String),
    Invoice {
        invoice_number: String,
        store_number: Option<String>,
    },
}

impl Target {
    /// The target of `PATCH <collection>?invoiceNumber=...[&storeNumber=...]`.
    pub fn from_query(collection: &str, query: &str) -> Result<Target, V3Error> {
        let query = Query::of(query);
        let mut errors = Errors::default();
        let invoice_number = query.get("invoiceNumber").ok_or_else(|| {
            errors.push(
                "invoiceNumber",
                Code::Required,
                format!("is required (or PATCH {collection}/{{id}})"),
            )
        });
        errors
            .into_result(|| {
                Ok(Target::Invoice {
                    invoice_number: invoice_number?.to_owned(),
                    store_number: query.get("storeNumber").map(str::to_owned),
                })
            })
            .map_err(V3Error::invalid("request"))
    }
}

/// The registrations with this invoiceNumber (at this storeNumber, when one is given).
fn invoice_filter(invoice_number: &str, store_number: Option<&str>) -> V3Filter {
    V3Filter {
        invoice_number: Some(invoice_number.to_owned()),
        store_number: store_number.map(str::to_owned),
    }
}

/// How many stores a refusal names before "and others".
const STORES_NAMED: u32 = 5;

/// The 404 of a `target` that `listing` has not in the caller's tenant, saying where the
/// partner has it instead: at other stores (a storeNumber sent without its leading zeros, say),
/// or in its other tenant (a sandbox id asked for with a live token). Only the partner's own
/// registrations are looked at.
fn not_here<T>(tx: &Tx, scope: Scope, target: &Target, listing: &Listing<T>) -> Result<V3Error, StoreError> {
    let mut elsewhere = Vec::new();
    let key = match target {
        Target::Id(id) => {
            if listing.by_id(tx, scope.other_tenant(), id)?.is_some() {
                elsewhere.push(other_tenant_has(scope, "this id"));
            }
            "id"
        }
        Target::Invoice {
            invoice_number,
            store_number,
        } => {
            if store_number.is_some()
                && let Some(stores) = stores_of(tx, scope, listing, invoice_number)?
            {
                elsewhere.push(format!("invoiceNumber {invoice_number:?} is registered at {stores}"));
            }
            let filter = invoice_filter(invoice_number, store_number.as_deref());
            if listing.page(tx, scope.other_tenant(), &filter, 1, 1)?.0 > 0 {
                elsewhere.push(other_tenant_has(scope, "this registration"));
            }
            if store_number.is_some() {
                "invoiceNumber and storeNumber"
            } else {
                "invoiceNumber"
            }
        }
    };
    Ok(V3Error::Refused(Refusal::NotFound {
        what: "registration",
        key,
        elsewhere: (!elsewhere.is_empty()).then(|| elsewhere.join("; ")),
    }))
}

/// The 404 of an id a GET did not find in the caller's tenant, saying where the partner has it
/// (read after the GET's own read: it is only words for a refusal).
fn missing_id<T>(call: &Call, id: &str, listing: &Listing<T>) -> V3Error {
    let target = Target::Id(id.to_owned());
    match call.store.read(|tx| not_here(tx, call.scope, &target, listing)) {
        Ok(not_found) => not_found,
        Err(e) => V3Error::Store(e),
    }
}

/// The stores of the tenant's registrations in `listing` with `invoice_number`, in words
/// (`storeNumber "0056", "0057"`, the first [`STORES_NAMED`] and "and others"); `None` when it has
/// none.
fn stores_of<T>(
    tx: &Tx,
    scope: Scope,
    listing: &Listing<T>,
    invoice_number: &str,
) -> Result<Option<String>, StoreError> {
    let (total, found) = listing.stores(tx, scope, &invoice_filter(invoice_number, None), STORES_NAMED)?;
    let named: Vec<String> = found.iter().map(|s| format!("{s:?}")).collect();
    let more = if total > named.len() as u64 { " and others" } else { "" };
    Ok((total > 0).then(|| format!("storeNumber {}{more}", named.join(", "))))
}

/// "your sandbox has `what`", in the words of the audience that reaches it.
fn other_tenant_has(scope: Scope, what: &str) -> String {
    match scope.other_tenant().tenant {
        Tenant::Test => format!("your sandbox has {what} (a token for the sandbox audience reads it)"),
        Tenant::Live => format!("your live data has {what} (a token for the live audience reads it)"),
    }
}

/// The one registration of `listing` that `target` names: by its id, or as the only one with its invoiceNumber (and
/// storeNumber); an invoiceNumber that several have is a conflict.
fn find_one<T>(tx: &Tx, scope: Scope, target: &Target, listing: &Listing<T>) -> Result<T, V3Error> {
    let what = "registration";
    match target {
        Target::Id(id) => match listing.by_id(tx, scope, id)? {
            Some(found) => Ok(found),
            None => Err(not_here(tx, scope, target, listing)?),
        },
        Target::Invoice {
            invoice_number,
            store_number,
        } => {
            // Two rows are enough to know the invoice is not unique.
            let filter = invoice_filter(invoice_number, store_number.as_deref());
            let (total, mut found) = listing.page(tx, scope, &filter, 1, 2)?;
            match total {
                0 => Err(not_here(tx, scope, target, listing)?),
                1 => Ok(found.remove(0)),
                n => {
                    let stores = stores_of(tx, scope, listing, invoice_number)?.unwrap_or_default();
                    Err(V3Error::Refused(Refusal::Conflict(format!(
                        "invoiceNumber {invoice_number:?} is not unique; use the id or storeNumber \
                         ({n} {what}s have it, at {stores})"
                    ))))
                }
            }
        }
    }
}

/// PATCH /tire-protection/registrations/{id} (or ?invoiceNumber=) with `{"cancelledOn": ...}`:
/// a v2 Cancellation of every tire left, CancelShopID = storeNumber, CancelInvoiceNumber =
/// invoiceNumber, CancelDate = cancelledOn. A registration is cancelled once (409 after, under
/// whatever key); one expired at cancelledOn, or with no tires left, is 409 with the rule.
#[tracing::instrument(name = "v3_cancel_tire_protection", skip_all, fields(partner = %call.partner.company))]
pub fn cancel_tire_protection(call: &Call, target: &Target, body: &[u8], now: DateTime<Utc>) -> Result<(), V3Error> {
    let Call {
        store, partner, scope, ..
    } = *call;
    let cancelled_on = read_body(body, "cancellation", |json| {
        let mut errors = Errors::default();
        let cancelled_on = Fields::top(json, &mut errors).date("cancelledOn", &mut errors);
        errors.into_result(|| cancelled_on)
    })?;
    let plan = partner.plan();
    let stamp = Stamp::of(&now);
    store.write(|tx| {
        let stored = find_one(tx, scope, target, &store::V3_REGISTRATIONS)?;
        let r = &stored.registration;
        let usage = store::registration_usage(tx, scope, &r.shop_id, &r.invoice_number, None)?
            .ok_or(V3Error::not_found("registration"))?;
        if let Some(c) = &usage.cancellation {
            return Err(V3Error::Refused(Refusal::Rule {
                code: Code::AlreadyCancelled,
                message: format!(
                    "the registration was already cancelled on {} (CancelShopID {:?}, CancelInvoiceNumber {:?}); \
                     a registration is cancelled once",
                    format_v3_date(&c.cancel_date),
                    c.cancel_shop_id,
                    c.cancel_invoice_number
                ),
            }));
        }
        let tires_left = usage.tires_left();
        if tires_left <= 0 {
            return Err(V3Error::Refused(Refusal::Rule {
                code: Code::NoTiresLeft,
                message: "the registration has no tires left to cancel (every tire was claimed)".into(),
            }));
        }
        let cancellation = Cancellation {
            org_id: r.org_id.clone(),
            shop_id: r.shop_id.clone(),
            invoice_number: r.invoice_number.clone(),
            cancel_shop_id: r.shop_id.clone(),
            cancel_invoice_number: r.invoice_number.clone(),
            tire_cancel_count: tires_left,
            cancel_date: cancelled_on,
        };
        rules::check_cancellation_dated(&cancellation, Some(&usage), plan, "cancelledOn").map_err(|rule| {
            V3Error::Refused(Refusal::Rule {
                code: rule.code,
                message: rule.message.into_owned(),
            })
        })?;
        store::upsert_all(tx, scope, &[(Some(usage.registration_id), &cancellation)], &stamp)?;
        Ok(())
    })
}

/// One page of a list, as v3 answers it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub results: Vec<T>,
    pub total_record_count: u64,
    pub page: u32,
    pub page_size: u32,
    pub total_pages: u64,
}

/// What a list asks for: a page (from 1) of a size, and the filter.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
    pub filter: V3Filter,
}

/// Page sizes a list takes.
pub const PAGE_SIZES: std::ops::RangeInclusive<u32> = 1..=1000;
pub const DEFAULT_PAGE_SIZE: u32 = 100;

impl PageRequest {
    /// The page this request asked for, of `total` records.
    fn page<T>(&self, total: u64, results: Vec<T>) -> Page<T> {
        Page {
            results,
            total_record_count: total,
            page: self.page,
            page_size: self.page_size,
            total_pages: total.div_ceil(u64::from(self.page_size)),
        }
    }

    /// From a query string: `page` (1), `pageSize` (100; 1 to 1000), `invoiceNumber` and, where
    /// `filters` names it, `storeNumber`. Other parameters are ignored.
    pub fn parse(query: &str, filters: &[&str]) -> Result<PageRequest, V3Error> {
        let query = Query::of(query);
        let get = |name: &str| query.get(name);
        let mut errors = Errors::default();
        // A number sent empty (`page=`) is an error, not the default: it is not a number.
        let mut number = |name: &str, default: u32, range: std::ops::RangeInclusive<u32>| match query.sent(name) {
            None => default,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if range.contains(&n) => n,
                _ => {
                    let rule = match range.end() {
                        &u32::MAX => format!("must be a whole number from {}", range.start()),
                        end => format!("must be a whole number from {} to {end}", range.start()),
                    };
                    errors.push(
                        name,
                        Code::InvalidNumber,
                        format!("{rule}, got {}", crate::wire::echo(v)),
                    );
                    default
                }
            },
        };
        let page = number("page", 1, 1..=u32::MAX);
        let page_size = number("pageSize", DEFAULT_PAGE_SIZE, PAGE_SIZES);
        let filter = V3Filter {
            invoice_number: filters
                .contains(&"invoiceNumber")
                .then(|| get("invoiceNumber").map(str::to_owned))
                .flatten(),
            store_number: filters
                .contains(&"storeNumber")
                .then(|| get("storeNumber").map(str::to_owned))
                .flatten(),
        };
        errors
            .into_result(|| {
                Ok(PageRequest {
                    page,
                    page_size,
                    filter,
                })
            })
            .map_err(V3Error::invalid("request"))
    }
}

/// GET /tire-protection/registrations: a page of the tenant's registrations, oldest first.
pub fn tire_protection_page(call: &Call, request: &PageRequest) -> Result<Page<TireProtection>, V3Error> {
    let Call { store, keys, scope, .. } = *call;
    let program_id = keys.program_id.as_deref();
    let (total, found) =
        store.read(|tx| store::V3_REGISTRATIONS.page(tx, scope, &request.filter, request.page, request.page_size))?;
    Ok(request.page(
        total,
        found
            .into_iter()
            .map(|r| tire_protection::view(r, program_id))
            .collect(),
    ))
}

/// POST /motor-club/registrations: stores a new motor-club registration and answers its id. A
/// (storeNumber, invoiceNumber) the tenant already has is a conflict: POST never updates.
#[tracing::instrument(name = "v3_create_motor_club", skip_all, fields(partner = %call.partner.company))]
pub fn create_motor_club(call: &Call, body: &[u8], now: DateTime<Utc>) -> Result<String, V3Error> {
    let Call { store, keys, scope, .. } = *call;
    let new = decoded(keys, body, motor_club::decode)?;
    let stamp = Stamp::of(&now);
    store.write(|tx| {
        store::insert_motor_club(tx, scope, &new, &stamp)?.ok_or_else(|| {
            already_exists(
                "motor-club registration",
                &new.store_number,
                &new.invoice_number,
                "change",
            )
        })
    })
}

/// A stored motor-club registration as the partner reads it: with its program.
fn motor_club_view(keys: &V3Partner, mut found: StoredMotorClub) -> StoredMotorClub {
    found.program_id.clone_from(&keys.program_id);
    found
}

/// GET /motor-club/registrations/{id}
pub fn motor_club(call: &Call, id: &str) -> Result<StoredMotorClub, V3Error> {
    let Call { store, keys, scope, .. } = *call;
    let found = store.read(|tx| store::MOTOR_CLUBS.by_id(tx, scope, id))?;
    let found = found.ok_or_else(|| missing_id(call, id, &store::MOTOR_CLUBS))?;
    Ok(motor_club_view(keys, found))
}

/// GET /motor-club/registrations: a page of the tenant's motor-club registrations, oldest first.
pub fn motor_club_page(call: &Call, request: &PageRequest) -> Result<Page<StoredMotorClub>, V3Error> {
    let Call { store, keys, scope, .. } = *call;
    let (total, found) =
        store.read(|tx| store::MOTOR_CLUBS.page(tx, scope, &request.filter, request.page, request.page_size))?;
    Ok(request.page(total, found.into_iter().map(|r| motor_club_view(keys, r)).collect()))
}

/// PATCH /motor-club/registrations/{id} (or ?invoiceNumber=): `{"customer": ...}` replaces the
/// customer; `{"cancelledOn": ...}` cancels it, once (409 after).
#[tracing::instrument(name = "v3_change_motor_club", skip_all, fields(partner = %call.partner.company))]
pub fn change_motor_club(call: &Call, target: &Target, body: &[u8], now: DateTime<Utc>) -> Result<(), V3Error> {
    let Call { store, scope, .. } = *call;
    let change = read_body(body, "change", motor_club::decode_change)?;
    let stamp = Stamp::of(&now);
    store.write(|tx| {
        let found = find_one(tx, scope, target, &store::MOTOR_CLUBS)?;
        let already_cancelled = |on: Option<DateTime<Utc>>| {
            V3Error::Refused(Refusal::Rule {
                code: Code::AlreadyCancelled,
                message: match on {
                    Some(on) => format!(
                        "the registration was already cancelled on {}; a registration is cancelled once",
                        format_v3_date(&on)
                    ),
                    None => "the registration was already cancelled; a registration is cancelled once".into(),
                },
            })
        };
        match &change {
            motor_club::Change::Customer(customer) => {
                store::replace_motor_club_customer(tx, scope, &found.id, customer, &stamp)?;
            }
            motor_club::Change::Cancel(_) if found.cancelled_on.is_some() => {
                return Err(already_cancelled(found.cancelled_on));
            }
            motor_club::Change::Cancel(on) => {
                // Guarded in the statement too: another instance may have cancelled it since.
                if !store::cancel_motor_club(tx, scope, &found.id, *on, &stamp)? {
                    return Err(already_cancelled(None));
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_request_has_defaults_and_bounds() {
        let r = PageRequest::parse("", &["invoiceNumber", "storeNumber"]).unwrap();
        assert_eq!((r.page, r.page_size), (1, DEFAULT_PAGE_SIZE));
        let r = PageRequest::parse(
            "page=3&pageSize=1000&invoiceNumber=A1&storeNumber=S",
            &["invoiceNumber"],
        )
        .unwrap();
        assert_eq!((r.page, r.page_size), (3, 1000));
        assert_eq!(r.filter.invoice_number.as_deref(), Some("A1"));
        assert_eq!(r.filter.store_number, None, "not a filter of this list");
        let Err(V3Error::Refused(Refusal::Invalid { errors, .. })) = PageRequest::parse("page=0&pageSize=1001", &[])
        else {
            panic!("refused")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["page", "pageSize"]);
        assert!(PageRequest::parse("pageSize=x", &[]).is_err());
        assert!(PageRequest::parse("page=", &[]).is_err(), "empty is not a number");
        assert!(PageRequest::parse("page=4294967295", &[]).is_ok());
    }

    #[test]
    fn dates_have_milliseconds_and_z() {
        let d: DateTime<Utc> = "2021-08-01T13:08:00Z".parse().unwrap();
        assert_eq!(format_v3_date(&d), "2021-08-01T13:08:00.000Z");
    }
}
