//! How big JSON answers travel. A batch of 100,000 broken records still gets one result entry
//! each: 90 MB of JSON. To a client that accepts gzip it goes compressed (they repeat
//! themselves: a few MB), compressed as it is written; to one that does not, an answer too big
//! to hold is written as it is sent, a chunk at a time, with its length counted first (so it
//! still has a Content-Length). Either way it is never held whole: a refused batch costs no
//! more memory than an accepted one of its size.

use std::io::{self, Write};

use actix_web::ResponseError;
use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::{AcceptEncoding, CONTENT_ENCODING, Encoding, Header, HeaderValue, VARY};
use actix_web::web::Bytes;
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

/// A JSON body already written (a lookup's): compressed when it is over the threshold and the
/// client takes gzip. Accept-Encoding is read only for a big body: nearly every lookup answers
/// a few hundred bytes, and goes as it is, as it always did.
pub fn written_answer(req: &HttpRequest, status: StatusCode, body: Vec<u8>) -> HttpResponse {
    if body.len() <= COMPRESS_ABOVE_BYTES {
        let mut builder = HttpResponse::build(status);
        builder.content_type(super::application_json());
        return builder.body(body);
    }
    // The same writer as a serialized answer's: past the threshold it compresses at once.
    let zipped = accepts_gzip(req).then(|| {
        let mut writer = Writer {
            state: State::Plain(Vec::new()),
            gzip: true,
        };
        writer.write_all(&body).and_then(|()| writer.finish())
    });
    let body = match zipped {
        Some(Ok(zipped)) => zipped,
        _ => Body::Plain(body),
    };
    respond(HttpResponse::build(status), body)
}

/// Plain answers up to this size are held and sent as one; bigger ones are streamed.
pub const HELD_MAX_BYTES: usize = 16 * 1024 * 1024;

/// A JSON answer, ready to send.
pub enum Json<T> {
    Ready(Body),
    /// Plain and over [`HELD_MAX_BYTES`]: its exact length, and the value it is written from
    /// again as it is sent.
    Streamed {
        length: u64,
        value: T,
    },
}

/// Prepares `value` as an answer: compressed when `gzip` and it outgrows the threshold, held
/// when it is plain and small enough, else measured for streaming. Blocking work (a big
/// answer takes a few hundred ms): run it off the executor.
pub fn prepare<T: Serialize>(value: T, gzip: bool) -> Result<Json<T>, serde_json::Error> {
    if gzip {
        return to_json(&value, true).map(Json::Ready);
    }
    let mut held = Capped(Vec::new());
    match serde_json::to_writer(&mut held, &value) {
        Ok(()) => return Ok(Json::Ready(Body::Plain(held.0))),
        Err(e) if e.is_io() => {}
        Err(e) => return Err(e),
    }
    drop(held);
    let mut counted = Counted(0);
    serde_json::to_writer(&mut counted, &value)?;
    Ok(Json::Streamed {
        length: counted.0,
        value,
    })
}

/// A buffer that refuses to grow past [`HELD_MAX_BYTES`].
struct Capped(Vec<u8>);

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.len() + buf.len() > HELD_MAX_BYTES {
            return Err(io::Error::other("too big to hold"));
        }
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts what is written.
struct Counted(u64);

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What a streamed answer is sent in: chunks of this size, at most a few in flight.
const CHUNK_BYTES: usize = 256 * 1024;
const CHUNKS_IN_FLIGHT: usize = 4;

/// Sends chunks of the JSON to the response as they fill, waiting while the client is slow.
struct Chunks {
    buffer: Vec<u8>,
    to: tokio::sync::mpsc::Sender<Bytes>,
}

impl Write for Chunks {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES)));
        // The client went away: stop writing.
        self.to
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// The answer `json` with this builder's status and headers.
pub fn send<T: Serialize + Send + 'static>(builder: HttpResponseBuilder, json: Json<T>) -> HttpResponse {
    match json {
        Json::Ready(body) => respond(builder, body),
        Json::Streamed { length, value } => stream(builder, length, value),
    }
}

fn stream<T: Serialize + Send + 'static>(mut builder: HttpResponseBuilder, length: u64, value: T) -> HttpResponse {
    let (to, mut from) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
    // Written on a blocking thread, as the rest of the batch's work: serializing is CPU work. It
    // starts at once and runs while the body streams out; nothing waits for it but the body, so
    // its handle is let go.
    drop(super::off_executor(move || {
        let mut chunks = Chunks {
            buffer: Vec::with_capacity(CHUNK_BYTES),
            to,
        };
        let written =
            serde_json::to_writer(&mut chunks, &value).and_then(|()| chunks.flush().map_err(serde_json::Error::io));
        if let Err(e) = written {
            tracing::warn!(error = ?crate::telemetry::escaped(&e), "a streamed answer was cut short");
        }
    }));
    let body = futures_util::stream::poll_fn(move |cx| from.poll_recv(cx).map(|chunk| chunk.map(Ok::<_, io::Error>)));
    builder
        .content_type(super::application_json())
        .insert_header((VARY, HeaderValue::from_static("accept-encoding")))
        .body(SizedStream::new(length, body))
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
    /// Buffered: serde writes a token at a time, and deflating each one alone was five times
    /// slower than writing the JSON plain.
    Gzip(io::BufWriter<GzEncoder<Vec<u8>>>),
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
                let encoder = GzEncoder::new(Vec::new(), Compression::fast());
                let mut encoder = io::BufWriter::with_capacity(64 * 1024, encoder);
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
            State::Gzip(encoder) => Body::Gzip(encoder.into_inner().map_err(|e| e.into_error())?.finish()?),
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
    fn a_plain_answer_too_big_to_hold_is_measured_for_streaming() {
        let small = vec!["entry"; 10];
        assert!(
            matches!(prepare(small.clone(), false).unwrap(), Json::Ready(Body::Plain(b)) if b == serde_json::to_vec(&small).unwrap())
        );
        let big = vec!["x".repeat(1_000); HELD_MAX_BYTES / 1_000 + 1];
        match prepare(big.clone(), false).unwrap() {
            Json::Streamed { length, value } => {
                assert_eq!(length, serde_json::to_vec(&big).unwrap().len() as u64);
                assert_eq!(value, big);
            }
            Json::Ready(_) => panic!("held whole"),
        }
        // Compressed, the same value is small enough to hold.
        assert!(matches!(prepare(big, true).unwrap(), Json::Ready(Body::Gzip(_))));
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
