//! Big answers travel gzip-compressed to clients that accept it. A batch of 100,000 broken
//! records still gets one result entry each (90 MB of JSON), but they repeat themselves: gzip
//! makes them a few MB, and they are compressed as they are written, never held whole.

use std::io::{self, Write};

use actix_web::ResponseError;
use actix_web::http::StatusCode;
use actix_web::http::header::{AcceptEncoding, CONTENT_ENCODING, Encoding, Header, HeaderValue, VARY};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

/// Answers up to this size go as they are: compressing them saves less than it costs.
pub const COMPRESS_ABOVE_BYTES: usize = 1024;

/// Whether the request's Accept-Encoding takes gzip (with a quality above zero).
pub fn accepts_gzip(req: &HttpRequest) -> bool {
    AcceptEncoding::parse(req)
        .ok()
        .and_then(|accepted| accepted.negotiate([Encoding::gzip()].iter()))
        .is_some_and(|chosen| chosen == Encoding::gzip())
}

/// A body written as JSON: plain, or gzip once it has grown past [`COMPRESS_ABOVE_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Plain(Vec<u8>),
    Gzip(Vec<u8>),
}

impl Body {
    pub fn bytes(self) -> Vec<u8> {
        match self {
            Body::Plain(b) | Body::Gzip(b) => b,
        }
    }

    pub fn is_gzip(&self) -> bool {
        matches!(self, Body::Gzip(_))
    }
}

/// A JSON answer: `body` with its Content-Encoding, and `Vary: Accept-Encoding` (a cache must
/// not hand one client's gzip to another).
pub fn respond(mut builder: HttpResponseBuilder, body: Body) -> HttpResponse {
    builder
        .content_type(super::application_json())
        .insert_header((VARY, HeaderValue::from_static("accept-encoding")));
    if body.is_gzip() {
        builder.insert_header((CONTENT_ENCODING, HeaderValue::from_static("gzip")));
    }
    builder.body(body.bytes())
}

/// `value` as a JSON answer with `status`, compressed when big and the client takes gzip.
pub fn json_answer(req: &HttpRequest, status: StatusCode, value: &impl Serialize) -> HttpResponse {
    match to_json(value, accepts_gzip(req)) {
        Ok(body) => respond(HttpResponse::build(status), body),
        Err(e) => super::ApiError::Internal(anyhow::Error::new(e).context("writing an answer")).error_response(),
    }
}

/// `value` as JSON; compressed as it is written when `gzip` and it outgrows the threshold.
pub fn to_json(value: &impl Serialize, gzip: bool) -> Result<Body, serde_json::Error> {
    let mut writer = Writer {
        state: State::Plain(Vec::new()),
        gzip,
    };
    serde_json::to_writer(&mut writer, value)?;
    writer.finish().map_err(serde_json::Error::io)
}

enum State {
    Plain(Vec<u8>),
    Gzip(GzEncoder<Vec<u8>>),
}

/// Buffers plainly up to the threshold, then (when allowed) switches to a gzip stream.
struct Writer {
    state: State,
    gzip: bool,
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.state {
            State::Plain(plain) if self.gzip && plain.len() + buf.len() > COMPRESS_ABOVE_BYTES => {
                // Level 1: most of the saving for repetitive JSON at a fraction of the time.
                let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
                encoder.write_all(plain)?;
                encoder.write_all(buf)?;
                self.state = State::Gzip(encoder);
                Ok(buf.len())
            }
            State::Plain(plain) => plain.write(buf),
            State::Gzip(encoder) => encoder.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Writer {
    fn finish(self) -> io::Result<Body> {
        Ok(match self.state {
            State::Plain(plain) => Body::Plain(plain),
            State::Gzip(encoder) => Body::Gzip(encoder.finish()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use serde_json::json;

    use super::*;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn small_answers_stay_plain_and_big_ones_are_compressed_when_allowed() {
        let small = json!({"Status": "ok"});
        assert_eq!(
            to_json(&small, true).unwrap(),
            Body::Plain(small.to_string().into_bytes())
        );
        let big = json!(vec!["Registrations are rejected when ShopID is missing"; 1_000]);
        let plain = to_json(&big, false).unwrap();
        assert_eq!(plain, Body::Plain(big.to_string().into_bytes()));
        let zipped = to_json(&big, true).unwrap();
        assert!(zipped.is_gzip());
        let zipped = zipped.bytes();
        assert!(zipped.len() < big.to_string().len() / 10, "{} bytes", zipped.len());
        assert_eq!(gunzip(&zipped), big.to_string().into_bytes());
        // Exactly at the threshold: plain.
        let edge = json!("x".repeat(COMPRESS_ABOVE_BYTES - 2));
        assert!(!to_json(&edge, true).unwrap().is_gzip());
    }

    #[test]
    fn accept_encoding_is_negotiated_with_its_qualities() {
        let accepts = |value: Option<&str>| {
            let mut req = actix_web::test::TestRequest::default();
            if let Some(v) = value {
                req = req.insert_header(("accept-encoding", v));
            }
            accepts_gzip(&req.to_http_request())
        };
        assert!(accepts(Some("gzip")));
        assert!(accepts(Some("br, gzip;q=0.8, deflate")));
        assert!(accepts(Some("GZIP")));
        assert!(!accepts(None));
        assert!(!accepts(Some("identity")));
        assert!(!accepts(Some("gzip;q=0")));
        assert!(!accepts(Some("br")));
    }
}
