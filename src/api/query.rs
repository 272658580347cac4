use std::borrow::Cow;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use chrono::Utc;

use super::answer::written_answer;
use super::{ApiError, PartnerRequest};
use crate::auth::{AuthError, partner_id_value};
use crate::query::{Rec, lookup, lookup_elsewhere, status_answer};
use crate::records::FiledUnder;
use crate::store::Lookup;

/// The GET parameters, names matched case-insensitively; a repeated name's last value wins.
/// Borrowed from the query string: only a percent-encoded name or value is copied.
pub(super) struct Params<'q>(Vec<(Cow<'q, str>, Cow<'q, str>)>);

impl<'q> Params<'q> {
    pub(super) fn of(req: &'q HttpRequest) -> Params<'q> {
        Params::parse(req.query_string())
    }

    fn parse(query: &'q str) -> Params<'q> {
        // Split as form_urlencoded splits (on '&', empty pieces skipped, then at the first '='),
        // in one pass over the bytes; a piece is the query's own slices unless it holds a '%'
        // or a '+', which form_urlencoded decodes. Decoding every query was a tenth of a
        // lookup's own work, and splitting with `str::split` a twentieth.
        let mut pairs = Vec::with_capacity(8);
        let bytes = query.as_bytes();
        let (mut start, mut equals, mut encoded) = (0, None, false);
        for i in 0..=bytes.len() {
            match bytes.get(i) {
                Some(b'=') if equals.is_none() => equals = Some(i),
                Some(b'%' | b'+') => encoded = true,
                Some(b'&') | None => {
                    if i > start {
                        pairs.push(Self::pair(&query[start..i], equals.map(|e| e - start), encoded));
                    }
                    (start, equals, encoded) = (i + 1, None, false);
                }
                Some(_) => {}
            }
        }
        Params(pairs)
    }

    /// One non-empty piece of the query (no '&' in it) as a name and a value.
    fn pair(piece: &'q str, equals: Option<usize>, encoded: bool) -> (Cow<'q, str>, Cow<'q, str>) {
        if encoded {
            return form_urlencoded::parse(piece.as_bytes())
                .next()
                .expect("a non-empty piece is one pair");
        }
        match equals {
            Some(e) => (Cow::Borrowed(&piece[..e]), Cow::Borrowed(&piece[e + 1..])),
            None => (Cow::Borrowed(piece), Cow::Borrowed("")),
        }
    }

    /// The one value sent for `name`, as sent; `None` when absent; a 400 when sent twice (the
    /// gateway's own parameters are strict).
    pub(super) fn once<'p>(&'p self, name: &'p str) -> Result<Option<&'p str>, ApiError> {
        let mut values = self.all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::BadParameter(format!("{name} must be given at most once")));
        }
        Ok(first)
    }

    /// A 400 for the first parameter sent that is none of `read` (in any case), saying what the
    /// route reads and the one it nearly names: the gateway's own routes are strict, so that a
    /// misspelt filter (`compnay`, `staus`) is not answered as though nothing was asked.
    pub(super) fn only(&self, read: &[&str]) -> Result<(), ApiError> {
        let Some(unread) = self
            .names()
            .find(|name| !read.iter().any(|r| r.eq_ignore_ascii_case(name)))
        else {
            return Ok(());
        };
        let reads = match read {
            [] => "it reads none".to_owned(),
            _ => format!("it reads {}", read.join(", ")),
        };
        Err(ApiError::BadParameter(match meant(unread, read) {
            Some(meant) => format!(
                "{} is not a parameter of this route: is it {meant}? ({reads})",
                crate::wire::echo(unread)
            ),
            None => format!(
                "{} is not a parameter of this route ({reads})",
                crate::wire::echo(unread)
            ),
        }))
    }

    /// The names sent, as sent, in order (a repeated one each time).
    pub(super) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_ref())
    }

    /// Every value sent for `name`, as sent (untrimmed, empty ones too).
    pub(super) fn all<'p>(&'p self, name: &'p str) -> impl Iterator<Item = &'p str> + 'p {
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// The value of each of `names`, in one pass: each name's last value, trimmed, `None` when
    /// that value is blank: nothing but whitespace, a control one too (a lone vertical tab is as
    /// blank as a space, as openapi.yaml's pattern says; schemathesis found one answered 204).
    /// (One pass instead of a scan per name: the scans were a twentieth of a lookup's work.)
    pub(super) fn last_values<const N: usize>(&self, names: [&str; N]) -> [Option<&str>; N] {
        let mut last = [None; N];
        for (k, v) in &self.0 {
            if let Some(i) = names.iter().position(|name| k.eq_ignore_ascii_case(name)) {
                last[i] = Some(v.as_ref());
            }
        }
        last.map(|v| {
            v.map(crate::wire::trim_padding)
                .filter(|v| !v.chars().all(char::is_whitespace))
        })
    }
}

/// The parameters a GET reads, as the guide spells them (matched in any case).
const READ: [&str; 5] = ["rec", "ShopID", "InvoiceNumber", "OrgID", "partnerid"];

/// What a refusal for `missing` parameters adds about the parameters sent that no GET reads
/// (the first three), each with the missing one it may be: `; "Invoice" was sent, which is not
/// read: is it InvoiceNumber?`.
fn unread_parameters(params: &Params, missing: &[&str]) -> String {
    let mut unread: Vec<&str> = Vec::new();
    for name in params.names() {
        let known = READ.iter().any(|r| r.eq_ignore_ascii_case(name));
        if !known && !unread.iter().any(|u| u.eq_ignore_ascii_case(name)) {
            unread.push(name);
        }
    }
    let said: Vec<String> = (unread.iter().take(3))
        .map(|name| match meant(name, missing) {
            Some(meant) => format!(
                "{} was sent, which is not read: is it {meant}?",
                crate::wire::echo(name)
            ),
            None => format!("{} was sent, which is not read", crate::wire::echo(name)),
        })
        .collect();
    said.iter().map(|s| format!("; {s}")).collect()
}

/// The one of `names` that `sent` most likely meant, in any case: within two letters of it, or
/// else sharing its first four letters or more (`Invoice`, `InvoiceNo` for InvoiceNumber);
/// none when two are as near.
pub(super) fn meant<'n>(sent: &str, names: &[&'n str]) -> Option<&'n str> {
    let sent = sent.to_ascii_lowercase();
    let near: Vec<((usize, usize), &'n str)> = (names.iter())
        .filter_map(|&name| {
            let lower = name.to_ascii_lowercase();
            let edits = strsim::damerau_levenshtein(&sent, &lower);
            let shared = sent.bytes().zip(lower.bytes()).take_while(|(a, b)| a == b).count();
            match (edits <= 2, shared >= 4) {
                (true, _) => Some(((0, edits), name)),
                (false, true) => Some(((1, usize::MAX - shared), name)),
                _ => None,
            }
        })
        .collect();
    crate::wire::nearest(near)
}

/// GET /v2/partners/{company}?rec=...&ShopID=...&InvoiceNumber=...[&OrgID=...][&partnerid=...]
#[tracing::instrument(name = "get_records", skip_all, fields(partner = %request.caller.partner.company, tenant = %request.caller.tenant))]
pub async fn get_records(request: PartnerRequest) -> Result<HttpResponse, ApiError> {
    let (caller, state) = (&request.caller, &request.state);
    let params = request.params();
    let [rec, shop_id, invoice_number, org_id, partner_id] = params.last_values(READ);
    if let Some(sent) = partner_id
        && partner_id_value(&serde_json::Value::String(sent.to_owned())) != Some(caller.partner.partner_id)
    {
        return Err(AuthError::WrongPartnerIdParameter {
            sent: crate::wire::echo(sent),
            expected: caller.partner.partner_id,
        }
        .into());
    }
    let missing: Vec<&'static str> = [(rec, "rec"), (shop_id, "ShopID"), (invoice_number, "InvoiceNumber")]
        .into_iter()
        .filter(|(value, _)| value.is_none())
        .map(|(_, name)| name)
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::BadQuery {
            message: format!(
                "missing required parameter(s): {}{}",
                missing.join(", "),
                unread_parameters(&params, &missing)
            ),
            missing,
        });
    }
    let rec_value = rec.unwrap_or_default();
    let rec = Rec::parse(rec_value).ok_or_else(|| ApiError::BadQuery {
        message: format!(
            "rec {rec_value:?} is not one of {}{}",
            Rec::NAMES.join(", "),
            meant(rec_value, Rec::NAMES).map_or(String::new(), |name| format!(": is it {name}?"))
        ),
        missing: Vec::new(),
    })?;
    let key = Lookup {
        shop_id: shop_id.unwrap_or_default().to_owned(),
        invoice_number: invoice_number.unwrap_or_default().to_owned(),
        org_id: org_id.map(str::to_owned),
    };

    let partner = Arc::clone(&caller.partner);
    let scope = caller.scope();
    // A registration's status on PostgreSQL reached directly: awaited on this worker's own
    // connection, without a thread hand-off.
    let now_usage = match rec {
        Rec::RegistrationStatus => {
            let (shop, invoice, org) = (&key.shop_id, &key.invoice_number, key.org_id.as_deref());
            state.store.registration_usage_now(scope, shop, invoice, org).await
        }
        _ => None,
    };
    let found = match now_usage {
        Some(usage) => status_answer(usage.map_err(ApiError::from)?, &partner, Utc::now())
            .map_err(|e| ApiError::from(e).context("looking records up"))?,
        None => {
            request
                .point_read("looking records up", move |store| {
                    lookup(store, &partner, scope, rec, &key, Utc::now())
                })
                .await?
        }
    };
    let Some(body) = found else {
        if !rec.says_where_instead() {
            return Ok(HttpResponse::NoContent().finish());
        }
        let filed = FiledUnder {
            shop_id: shop_id.unwrap_or_default().to_owned(),
            invoice_number: invoice_number.unwrap_or_default().to_owned(),
        };
        let elsewhere = request
            .point_read("looking the registration up elsewhere", move |store| {
                lookup_elsewhere(store, scope, &filed)
            })
            .await;
        return Ok(no_content(elsewhere));
    };
    Ok(written_answer(&request.req, StatusCode::OK, body))
}

/// Where a 204 says the registration is instead, when the partner has it elsewhere.
const X_REGISTERED_ELSEWHERE: HeaderName = HeaderName::from_static("x-registered-elsewhere");

/// A lookup's 204, with where the registration is instead. That is only a hint: a read of it
/// that failed is logged, and the 204 answered without it.
fn no_content(elsewhere: Result<Option<String>, ApiError>) -> HttpResponse {
    let mut answer = HttpResponse::NoContent();
    match elsewhere {
        Ok(Some(hint)) => {
            if let Ok(value) = HeaderValue::from_str(&hint) {
                answer.insert_header((X_REGISTERED_ELSEWHERE, value));
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "a lookup's 204 goes without where the registration is instead"),
    }
    answer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_or_rec_value_is_matched_to_what_it_may_mean() {
        let missing = ["ShopID", "InvoiceNumber"];
        for (sent, expected) in [
            ("Invoice", Some("InvoiceNumber")),
            ("InvoiceNo", Some("InvoiceNumber")),
            ("invoice_number", Some("InvoiceNumber")),
            ("Shop_ID", Some("ShopID")),
            ("store", None),
            ("Inv", None),
        ] {
            assert_eq!(meant(sent, &missing), expected, "{sent}");
        }
        assert_eq!(meant("registration", Rec::NAMES), Some("registrations"));
        assert_eq!(meant("Claim", Rec::NAMES), Some("claims"));
        assert_eq!(meant("warranties", Rec::NAMES), None);
        // Two as near: no answer.
        assert_eq!(meant("Shopping", &["ShopID", "ShopNumber"]), None);
    }

    #[test]
    fn a_refusal_for_missing_parameters_names_those_sent_that_are_not_read() {
        let params = Params::parse("rec=sales&ShopId=1&Invoice=2&foo=3&FOO=4&a=1&b=2");
        assert_eq!(
            unread_parameters(&params, &["InvoiceNumber"]),
            "; \"Invoice\" was sent, which is not read: is it InvoiceNumber?; \"foo\" was sent, which is not read; \
             \"a\" was sent, which is not read"
        );
        assert_eq!(unread_parameters(&Params::parse("rec=sales"), &["ShopID"]), "");
    }

    /// The borrowed pairs are the ones form_urlencoded makes, encoded or not.
    #[test]
    fn params_split_as_form_urlencoded_does() {
        for query in [
            "",
            "&",
            "&&a=1&&",
            "rec=registrationstatus&ShopID=005001&InvoiceNumber=B0-0000001",
            "a=1&a=2&A=3",
            "a",
            "a=",
            "=b",
            "a==b=c",
            "a=b&c&d=",
            "ShopID=S%201&InvoiceNumber=I+2",
            "ShopID=%E2%82%AC&x=%zz&y=%",
            "ShopID=Mañana&rec=claims",
            "k=v;w=x",
            "+",
            "%",
            "=&=",
            "==",
            "&a%3Db=c&",
            "a=%&&b+=c+d&e",
        ] {
            let ours: Vec<(String, String)> = Params::parse(query)
                .0
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let theirs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
            assert_eq!(ours, theirs, "{query:?}");
        }
    }

    /// A value of nothing but whitespace, control whitespace too, is no value; padding around a
    /// value is trimmed.
    #[test]
    fn a_blank_value_is_none_and_padding_is_trimmed() {
        let params = Params::parse("ShopID=%0B&InvoiceNumber=%20I1%20&OrgID=%09%E3%80%80&rec=claims");
        assert_eq!(
            params.last_values(["shopid", "invoicenumber", "orgid", "rec"]),
            [None, Some("I1"), None, Some("claims")]
        );
    }
}
