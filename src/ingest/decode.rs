//! A POST body's records decoded, on as many threads as the body is worth, and handed to ingest
//! as they arrive (`Arrivals`): the registrations first, so they are being written while the
//! rest is still decoded. Each record is decoded by its declaration (`records::decode_record`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::Scope;

use chrono_tz::Tz;

use crate::records::{Cancellation, Claim, Decoded, Record, RecordKind, Registration, Sale, decode_record};
use crate::wire::{self, BodyError, RawChunk};

/// Bodies smaller than this (about 500 registrations) are decoded on the request's thread
/// alone: a thread costs more than they do.
const PARALLEL_DECODE_MIN_BYTES: usize = 256 * 1024;

/// Threads a big body is decoded on: the cores, at most four (asked once: the answer reads
/// cgroup files).
static DECODE_THREADS: std::sync::LazyLock<usize> =
    std::sync::LazyLock::new(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)));

/// Every record of one POST body, decoded, by type.
#[derive(Debug, Default)]
pub struct Batch {
    pub registrations: Vec<Decoded<Registration>>,
    pub sales: Vec<Decoded<Sale>>,
    pub claims: Vec<Decoded<Claim>>,
    pub cancellations: Vec<Decoded<Cancellation>>,
}

/// A chunk of one record array, decoded, with where it goes.
struct Piece {
    kind: RecordKind,
    occurrence: usize,
    first: usize,
    records: Records,
}

/// Decoded records of one type.
enum Records {
    Registrations(Vec<Decoded<Registration>>),
    Sales(Vec<Decoded<Sale>>),
    Claims(Vec<Decoded<Claim>>),
    Cancellations(Vec<Decoded<Cancellation>>),
}

impl Piece {
    fn decode(chunk: RawChunk<'_>, zone: Tz) -> Piece {
        fn all<T: Record>(chunk: RawChunk<'_>, zone: Tz) -> Vec<Decoded<T>> {
            let first = chunk.first;
            chunk
                .items
                .into_iter()
                .enumerate()
                .map(|(i, item)| decode_record(first + i, item, zone))
                .collect()
        }
        let kind = RecordKind::ALL[chunk.kind];
        let (occurrence, first) = (chunk.occurrence, chunk.first);
        let records = match kind {
            RecordKind::Registrations => Records::Registrations(all(chunk, zone)),
            RecordKind::Sales => Records::Sales(all(chunk, zone)),
            RecordKind::Claims => Records::Claims(all(chunk, zone)),
            RecordKind::Cancellations => Records::Cancellations(all(chunk, zone)),
        };
        Piece {
            kind,
            occurrence,
            first,
            records,
        }
    }
}

impl Batch {
    /// Decodes a POST body; dates without a zone are in `zone`.
    pub fn decode(body: &[u8], zone: Tz) -> Result<Batch, BodyError> {
        std::thread::scope(|scope| Arrivals::start(scope, body, zone).take_batch())
    }

    /// The batch from its decoded pieces, in any order; `occurrences` says how many arrays of
    /// each type the body held: a repeated key keeps its last array, as JSON readers do.
    fn assemble(mut pieces: Vec<Piece>, occurrences: &[usize]) -> Batch {
        pieces.retain(|p| p.occurrence + 1 == occurrences[p.kind.index()]);
        pieces.sort_by_key(|p| p.first);
        let mut batch = Batch::default();
        for piece in pieces {
            match piece.records {
                Records::Registrations(r) => batch.registrations.extend(r),
                Records::Sales(r) => batch.sales.extend(r),
                Records::Claims(r) => batch.claims.extend(r),
                Records::Cancellations(r) => batch.cancellations.extend(r),
            }
        }
        batch
    }

    pub fn len(&self) -> usize {
        self.registrations.len() + self.sales.len() + self.claims.len() + self.cancellations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Decodes the chunks `chunks` hands out until the body is read and every chunk taken: the
/// Registrations go on to `registrations` at once, the other pieces are answered.
fn decode_chunks(
    chunks: &Mutex<mpsc::Receiver<RawChunk<'_>>>,
    registrations: &mpsc::Sender<RegistrationPiece>,
    zone: Tz,
) -> Vec<Piece> {
    let mut pieces = Vec::new();
    loop {
        let next = chunks.lock().expect("no decoding thread panics").recv();
        let Ok(chunk) = next else {
            return pieces;
        };
        match Piece::decode(chunk, zone) {
            Piece {
                occurrence,
                first,
                records: Records::Registrations(records),
                ..
            } => {
                // Nobody is waiting for them any more when the caller gave up early.
                let _ = registrations.send(RegistrationPiece {
                    occurrence,
                    first,
                    records,
                });
            }
            other => pieces.push(other),
        }
    }
}

/// Decoded Registrations of one chunk, with where they go.
struct RegistrationPiece {
    occurrence: usize,
    first: usize,
    records: Vec<Decoded<Registration>>,
}

/// A body once read: its records other than the Registrations, and how many Registrations
/// arrays it held (the last one counts, as JSON readers do).
struct Read {
    others: Batch,
    registration_arrays: usize,
}

/// A body as it arrives (see [`Arrivals::start`]): its Registrations in array order, then
/// the rest once the body is read. What was handed on is kept, so the work on it can start
/// again from the first Registration (`Arrivals::rewind`).
pub struct Arrivals {
    /// Decoded Registrations, until every decoding thread is done.
    arrived: Option<mpsc::Receiver<RegistrationPiece>>,
    /// The Registrations received, by array (a repeated key's) and first index.
    kept: BTreeMap<(usize, usize), Vec<Decoded<Registration>>>,
    /// Whether a Registration that decoded (and so may be written) has arrived.
    writable: bool,
    /// The array being handed on, and the index of its next Registration.
    occurrence: usize,
    next: usize,
    /// The rest of the body, until it is read; then what it was.
    coming: Option<mpsc::Receiver<Result<Read, BodyError>>>,
    rest: Option<Result<Read, BodyError>>,
}

/// The rest of a body whose reading thread ended without sending it: that thread panicked,
/// and the panic is the answer (this error is never seen).
fn reading_stopped() -> BodyError {
    BodyError::from(<serde_json::Error as serde::de::Error>::custom(
        "the body's reading stopped",
    ))
}

impl Arrivals {
    /// Starts decoding a POST body (dates without a zone in `zone`) and answers what arrives of
    /// it: its Registrations in array order while the rest of a big body is still being read
    /// and decoded on threads of `scope`, the other records once the body is read. So the
    /// caller judges and writes a batch's registrations while its later records are decoded.
    /// A small body is decoded here, at once.
    pub fn start<'scope>(scope: &'scope Scope<'scope, '_>, body: &'scope [u8], zone: Tz) -> Arrivals {
        let types = RecordKind::ALL.map(|kind| (kind.name(), kind.fields()));
        let threads = *DECODE_THREADS;
        if body.len() < PARALLEL_DECODE_MIN_BYTES || threads < 2 {
            let decoded = wire::decode_batch(body, &types).map(|arrays| {
                let pieces = arrays.into_iter().enumerate().map(|(kind, items)| {
                    let chunk = RawChunk {
                        kind,
                        occurrence: 0,
                        first: 0,
                        items,
                    };
                    Piece::decode(chunk, zone)
                });
                Batch::assemble(pieces.collect(), &[1; RecordKind::ALL.len()])
            });
            return Arrivals::decoded(decoded);
        }
        // One thread reads the body and hands its records on in chunks as it goes; the others
        // decode them meanwhile (and the reader joins them once the body is read), handing the
        // Registrations on as they are decoded and keeping the rest until the body is read.
        let (send, receive) = mpsc::channel::<RawChunk<'scope>>();
        let receive = Arc::new(Mutex::new(receive));
        let (send_registrations, arrived) = mpsc::channel::<RegistrationPiece>();
        let (send_rest, rest) = mpsc::channel::<Result<Read, BodyError>>();
        scope.spawn(move || {
            let decoders: Vec<_> = (1..threads)
                .map(|_| {
                    let (receive, registrations) = (Arc::clone(&receive), send_registrations.clone());
                    scope.spawn(move || decode_chunks(&receive, &registrations, zone))
                })
                .collect();
            let read = wire::decode_batch_streaming(body, &types, &|chunk| {
                // Cannot fail: the decoders hold the receiver until it is drained.
                let _ = send.send(chunk);
            });
            drop(send);
            let mut pieces = decode_chunks(&receive, &send_registrations, zone);
            drop(send_registrations);
            for decoder in decoders {
                pieces.extend(decoder.join().expect("decoding records does not panic"));
            }
            let rest = read.map(|occurrences| Read {
                registration_arrays: occurrences[RecordKind::Registrations.index()],
                others: Batch::assemble(pieces, &occurrences),
            });
            // Nobody is waiting for it any more when the caller gave up early.
            let _ = send_rest.send(rest);
        });
        Arrivals::streaming(arrived, rest)
    }

    fn decoded(decoded: Result<Batch, BodyError>) -> Arrivals {
        let mut kept = BTreeMap::new();
        let rest = decoded.map(|mut others| {
            let registrations = std::mem::take(&mut others.registrations);
            if !registrations.is_empty() {
                kept.insert((0, 0), registrations);
            }
            Read {
                others,
                registration_arrays: 1,
            }
        });
        Arrivals {
            arrived: None,
            kept,
            // Nothing more arrives: the body is read.
            writable: true,
            occurrence: 0,
            next: 0,
            coming: None,
            rest: Some(rest),
        }
    }

    fn streaming(
        arrived: mpsc::Receiver<RegistrationPiece>,
        rest: mpsc::Receiver<Result<Read, BodyError>>,
    ) -> Arrivals {
        Arrivals {
            arrived: Some(arrived),
            kept: BTreeMap::new(),
            writable: false,
            occurrence: 0,
            next: 0,
            coming: Some(rest),
            rest: None,
        }
    }

    /// Waits for the next decoded Registrations; false once every decoding thread is done.
    fn receive(&mut self) -> bool {
        let Some(arrived) = &self.arrived else {
            return false;
        };
        match arrived.recv() {
            Ok(piece) => {
                if !piece.records.is_empty() {
                    self.writable |= piece.records.iter().any(|d| d.record.is_ok());
                    self.kept.insert((piece.occurrence, piece.first), piece.records);
                }
                true
            }
            Err(_) => {
                self.arrived = None;
                false
            }
        }
    }

    /// Waits until there is a Registration to write, or the body is read: answers the
    /// body-level error if it is already known (so an unusable body opens no transaction). A
    /// body whose Registrations are all refused takes the write lock only once it is read:
    /// 100,000 broken records, decoded while the lock is held, kept every other partner's
    /// batch waiting.
    pub fn wait(&mut self) -> Result<(), BodyError> {
        while !self.writable && self.receive() {}
        if self.kept.is_empty()
            && let Err(e) = self.read_rest()
        {
            return Err(e.clone());
        }
        Ok(())
    }

    /// The next Registrations of the body, in array order, as they are decoded (waiting for
    /// them); None after the last, or once a later Registrations array has been seen (the
    /// body repeats the key, and the last array counts: see [`Arrivals::rest`]).
    fn next_registrations(&mut self) -> Option<&[Decoded<Registration>]> {
        loop {
            let at = (self.occurrence, self.next);
            if let Some(len) = self.kept.get(&at).map(Vec::len) {
                self.next += len;
                return self.kept.get(&at).map(Vec::as_slice);
            }
            let later = self.kept.keys().next_back().is_some_and(|(o, _)| *o > self.occurrence);
            if later || !self.receive() {
                return None;
            }
        }
    }

    /// The rest of the body, waiting for it to be read.
    fn read_rest(&mut self) -> &Result<Read, BodyError> {
        let coming = &self.coming;
        self.rest.get_or_insert_with(|| {
            coming
                .as_ref()
                .and_then(|rest| rest.recv().ok())
                .unwrap_or_else(|| Err(reading_stopped()))
        })
    }

    /// Once the body is read (waiting for it): its other records (Sales, Claims,
    /// Cancellations), or the body-level error that refuses it all; None when the
    /// Registrations handed on were not of its last Registrations array (the body repeats
    /// the key): then a new [`Arrivals::pass`] starts again.
    fn rest(&mut self) -> Result<Option<&Batch>, BodyError> {
        let occurrence = self.occurrence;
        match self.read_rest() {
            Ok(read) if occurrence + 1 >= read.registration_arrays => Ok(Some(&read.others)),
            Ok(_) => Ok(None),
            Err(e) => Err(e.clone()),
        }
    }

    /// A pass over the body from its first Registration: of its last Registrations array once
    /// the body is read. Each attempt at writing a batch (a write runs again when another
    /// transaction was in the way) reads one.
    pub fn pass(&mut self) -> Pass<'_> {
        self.rewind();
        Pass(self)
    }

    /// Hands the Registrations on again from the first, of the body's last Registrations
    /// array once the body is read.
    fn rewind(&mut self) {
        if let Some(Ok(read)) = &self.rest {
            self.occurrence = read.registration_arrays.saturating_sub(1);
            self.kept.retain(|(o, _), _| *o >= self.occurrence);
        }
        self.next = 0;
    }

    /// The whole batch, once the body is read.
    fn take_batch(mut self) -> Result<Batch, BodyError> {
        while self.receive() {}
        self.read_rest();
        let read = self.rest.take().unwrap_or_else(|| Err(reading_stopped()))?;
        let last = read.registration_arrays.saturating_sub(1);
        let mut batch = read.others;
        batch.registrations = std::mem::take(&mut self.kept)
            .into_iter()
            .filter(|((occurrence, _), _)| *occurrence == last)
            .flat_map(|(_, records)| records)
            .collect();
        Ok(batch)
    }
}

/// One pass over a body as it arrives ([`Arrivals::pass`]).
pub struct Pass<'a>(&'a mut Arrivals);

impl Pass<'_> {
    /// The next Registrations of the body, in array order, as they are decoded (waiting for
    /// them); None after the last, or once a later Registrations array has been seen.
    pub fn next_registrations(&mut self) -> Option<&[Decoded<Registration>]> {
        self.0.next_registrations()
    }

    /// Once the body is read (waiting for it): its other records, or the body-level error that
    /// refuses it all; None when this pass's Registrations were not of the body's last
    /// Registrations array (the body repeats the key): the work must start again, on a new pass.
    pub fn rest(&mut self) -> Result<Option<&Batch>, BodyError> {
        self.0.rest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` sales; every 1000th is refused (its TireCount is "many"), its neighbours are not.
    fn sales(n: usize) -> Vec<serde_json::Value> {
        (0..n)
            .map(|i| {
                serde_json::json!({
                    "ShopID": "S1", "InvoiceNumber": format!("I{i}"), "SaleDate": "2026-01-27",
                    "TireCount": if i % 1000 == 999 { serde_json::json!("many") } else { serde_json::json!(4) },
                    "TireBrand": "SUM", "TireModel": "M", "TireSize": "2356018",
                    "TirePrice": 225.09, "TireCost": 195.09
                })
            })
            .collect()
    }

    /// Decoded on several threads while it is read, a big array keeps its order, its indexes
    /// and each record's own errors.
    #[test]
    fn a_big_array_decodes_in_order_with_its_indexes() {
        let n = wire::CHUNK_ITEMS * 8 + 7;
        let body = serde_json::to_vec(&serde_json::json!({ "Sales": sales(n) })).unwrap();
        assert!(
            body.len() >= PARALLEL_DECODE_MIN_BYTES,
            "the body is decoded on one thread"
        );
        let batch = Batch::decode(&body, chrono_tz::UTC).unwrap();
        assert_eq!(batch.sales.len(), n);
        for (i, d) in batch.sales.iter().enumerate() {
            assert_eq!(d.index, i);
            match &d.record {
                Ok(sale) => {
                    assert_ne!(i % 1000, 999);
                    assert_eq!(sale.invoice_number, format!("I{i}"));
                }
                Err(errors) => {
                    assert_eq!(i % 1000, 999);
                    assert_eq!(errors[0].field, "TireCount");
                }
            }
        }
    }

    /// A big body read in chunks keeps a repeated array key's last array, as a small one does,
    /// even when the last is null or short; and a body-level error still refuses it all.
    #[test]
    fn a_big_body_keeps_the_last_of_a_repeated_array() {
        let big = serde_json::to_string(&sales(wire::CHUNK_ITEMS * 8)).unwrap();
        let short = serde_json::to_string(&sales(3)).unwrap();
        let decode = |body: String| {
            assert!(body.len() >= PARALLEL_DECODE_MIN_BYTES);
            Batch::decode(body.as_bytes(), chrono_tz::UTC)
        };
        let batch = decode(format!(r#"{{"Sales": {big}, "Registrations": [], "SALES": null}}"#)).unwrap();
        assert!(batch.is_empty());
        let batch = decode(format!(r#"{{"Sales": {big}, "sales": {short}}}"#)).unwrap();
        assert_eq!(batch.sales.iter().map(|d| d.index).collect::<Vec<_>>(), [0, 1, 2]);
        let batch = decode(format!(r#"{{"Sales": {short}, "Sales": {big}}}"#)).unwrap();
        assert_eq!(batch.sales.len(), wire::CHUNK_ITEMS * 8);
        assert!(matches!(
            decode(format!(r#"{{"Sales": {big}, "Claims": 7}}"#)),
            Err(BodyError::Json(_))
        ));
    }
}
