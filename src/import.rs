//! `warranty-gateway import`: a file handed over by a partner, written through the very code a
//! POST goes through (`ingest::ingest_body`: the same decoding, rules, upserts and history).
//! A CSV file becomes the POST body format first: one array, one object per row, keys from the
//! header row, cells as strings (the lenient decoders take numbers and dates in strings).

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use crate::config::Partner;
use crate::ingest::{Outcome, Received, Status, ingest_body};
use crate::records::RecordKind;
use crate::scope::Scope;
use crate::store::Store;
use crate::wire::{GZIP_MAGIC, field_index};

/// The record type a CSV file's `--type` names (any case): `registrations`, `sales`...
pub fn record_kind(name: &str) -> Result<RecordKind, String> {
    RecordKind::ALL
        .into_iter()
        .find(|k| k.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let names: Vec<String> = RecordKind::ALL.iter().map(|k| k.name().to_lowercase()).collect();
            format!("expected one of {}", names.join(", "))
        })
}

/// What a file holds, by its name (or, for other names, its first character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Json,
    Csv,
}

impl FileKind {
    pub fn of(path: &Path, content: &[u8]) -> FileKind {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("json") => FileKind::Json,
            Some("csv") => FileKind::Csv,
            _ if content.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') => FileKind::Json,
            _ => FileKind::Csv,
        }
    }
}

/// A file made ready for `ingest_body`: the body, for a CSV file the line of each row, and
/// what the report should say first (the record type a CSV file was read as, when its header
/// named it; each header column that names no field).
#[derive(Debug)]
pub struct Prepared {
    pub body: Vec<u8>,
    pub csv_lines: Option<Vec<u64>>,
    pub notes: Vec<String>,
}

/// Each record type's own date's name (PlanEnrollDate, SaleDate, ClaimDate, CancelDate).
fn own_date(kind: RecordKind) -> Option<&'static str> {
    Some(kind.fields()[kind.own_date()?].name)
}

/// The record type of a CSV file: `--type`, or else the one whose own date the header names,
/// said in the note. A header that names another type's date and not `--type`'s is refused:
/// every row of it would be, for that date.
fn record_type_of(
    headers: &csv::StringRecord,
    given: Option<RecordKind>,
) -> anyhow::Result<(RecordKind, Option<String>)> {
    let named: Vec<(RecordKind, &str)> = RecordKind::ALL
        .into_iter()
        .filter_map(|kind| Some((kind, own_date(kind)?)))
        .filter(|(_, date)| headers.iter().any(|h| h.trim().eq_ignore_ascii_case(date)))
        .collect();
    let dates = || named.iter().map(|(_, date)| *date).collect::<Vec<_>>().join(", ");
    match (given, named.as_slice()) {
        (Some(kind), _) if named.is_empty() || named.iter().any(|(k, _)| *k == kind) => Ok((kind, None)),
        (Some(kind), _) => bail!(
            "--type {}, but the header has no {} and names {}: is the file {}?",
            kind.name().to_lowercase(),
            own_date(kind).unwrap_or("date"),
            dates(),
            named
                .iter()
                .map(|(k, _)| k.name().to_lowercase())
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        (None, [(kind, date)]) => Ok((*kind, Some(format!("read as {}: its header names {date}", kind.name())))),
        (None, []) => bail!(
            "say which records the CSV file holds with --type registrations|claims|sales|cancellations \
             (its header names none of {})",
            RecordKind::ALL
                .into_iter()
                .filter_map(own_date)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (None, _) => bail!(
            "the header names {}: say which records the CSV file holds with --type",
            dates()
        ),
    }
}

/// Turns a CSV file into the POST body format. Empty cells are left out (not sent), as a
/// POS leaves out what it does not have. A malformed file is refused whole, naming the line.
pub fn csv_to_body(content: &[u8], record_type: Option<RecordKind>) -> anyhow::Result<Prepared> {
    let content = content.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(content);
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::None).from_reader(content);
    let headers = reader.headers().context("the header row cannot be read")?.clone();
    if headers.iter().all(|h| h.trim().is_empty()) {
        bail!("the file has no header row naming the guide's fields");
    }
    // A spreadsheet saved with another separator reads as one column named "ShopID;Invoice...":
    // every row would then be refused for every field. Said once, for the whole file.
    if let (1, Some(only)) = (headers.len(), headers.get(0)) {
        for (separator, name) in [(';', "semicolons"), ('\t', "tabs")] {
            if only.contains(separator) {
                bail!(
                    "the header row is one column, {}: the file is separated by {name}; save it as comma-separated CSV",
                    crate::wire::echo(only)
                );
            }
        }
    }
    let (record_type, note) = record_type_of(&headers, record_type)?;
    // The field each column names, if any.
    let columns: Vec<Option<usize>> = (headers.iter())
        .map(|name| field_index(record_type.fields(), name.trim(), 0))
        .collect();
    one_column_a_field(&columns, record_type)?;
    let notes = note
        .into_iter()
        .chain(unknown_columns(&headers, &columns, record_type))
        .collect();
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    let mut counter = LineCounter::new(content);
    let mut record = csv::ByteRecord::new();
    loop {
        let before = reader.position().byte();
        let read = reader.read_byte_record(&mut record);
        let start = match &read {
            Ok(_) => record.position(),
            Err(e) => e.position(),
        };
        let line = counter.line_at(start.map_or(before, |p| p.byte()));
        match read {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => match e.kind() {
                csv::ErrorKind::UnequalLengths { len, .. } => bail!(
                    "line {line} has {len} field(s) where the header row has {}{}",
                    headers.len(),
                    if *len > headers.len() as u64 {
                        ": is a value with a comma in it not in quotes?"
                    } else {
                        ""
                    }
                ),
                _ => return Err(e).with_context(|| format!("line {line} is not well-formed CSV")),
            },
        }
        let mut row = Map::new();
        for ((name, cell), field) in headers.iter().zip(record.iter()).zip(&columns) {
            // A column that names no field was said once, above the report: not on every row.
            if field.is_none() {
                continue;
            }
            let cell = std::str::from_utf8(cell).map_err(|e| not_utf8(line, name, cell, e))?;
            if !cell.is_empty() {
                row.insert(name.trim().to_owned(), Value::String(cell.to_owned()));
            }
        }
        rows.push(Value::Object(row));
        lines.push(line);
    }
    let mut body = Map::new();
    body.insert(record_type.name().to_owned(), Value::Array(rows));
    Ok(Prepared {
        body: serde_json::to_vec(&Value::Object(body))?,
        csv_lines: Some(lines),
        notes,
    })
}

/// Refuses a header that names one field in two columns (in two spellings, say): every row
/// would be taken with the right-hand column's value, and a POST's result would say so of each.
fn one_column_a_field(columns: &[Option<usize>], record_type: RecordKind) -> anyhow::Result<()> {
    let fields = record_type.fields();
    let mut seen: Vec<(usize, usize)> = Vec::new();
    for (column, field) in columns.iter().enumerate() {
        let Some(field) = *field else {
            continue;
        };
        if let Some(&(_, first)) = seen.iter().find(|(f, _)| *f == field) {
            bail!(
                "the header names {} twice, in columns {} and {} ({} and {} in a spreadsheet): keep one",
                fields[field].name,
                first + 1,
                column + 1,
                column_letters(first),
                column_letters(column)
            );
        }
        seen.push((field, column));
    }
    Ok(())
}

/// A line for each header column that names no field of the record type: its cells are
/// ignored, said once for the file rather than as a warning on every row; with the field it may
/// be, when the header lacks that one.
fn unknown_columns(headers: &csv::StringRecord, columns: &[Option<usize>], record_type: RecordKind) -> Vec<String> {
    let fields = record_type.fields();
    let mut notes = Vec::new();
    for ((column, name), field) in headers.iter().enumerate().zip(columns) {
        let name = name.trim();
        if name.is_empty() || field.is_some() {
            continue;
        }
        let mut note = format!(
            "column {} ({}), {}, is not a field of {}: its cells are ignored",
            column + 1,
            column_letters(column),
            crate::wire::echo(name),
            record_type.name()
        );
        if let Some(meant) = crate::records::nearest_field(fields, name).filter(|f| !columns.contains(&Some(*f))) {
            note.push_str(&format!("; is it {}?", fields[meant].name));
        }
        notes.push(note);
    }
    notes
}

/// A column's letters as a spreadsheet names it: A to Z, then AA, AB...
fn column_letters(column: usize) -> String {
    let mut letters = Vec::new();
    let mut n = column + 1;
    while n > 0 {
        let digit = (n - 1) % 26;
        letters.push(char::from(b'A' + digit as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// The line a record starts on, as an editor or a spreadsheet numbers them (LF, CRLF or a lone
/// CR ends a line). The csv crate's own count is one short on CRLF files (rust-csv#395), which
/// are what spreadsheets on Windows save.
struct LineCounter<'c> {
    content: &'c [u8],
    counted_to: usize,
    line: u64,
}

impl<'c> LineCounter<'c> {
    fn new(content: &'c [u8]) -> Self {
        LineCounter {
            content,
            counted_to: 0,
            line: 1,
        }
    }

    /// The line of the record the reader placed at `byte` (never behind the last one asked).
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte).unwrap_or(usize::MAX).min(self.content.len());
        // The reader places a record on the line breaks before it: the LF of a CRLF it stopped
        // short of, and the blank lines it skips. The record starts at its first other byte.
        while matches!(self.content.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let passed = &self.content[self.counted_to.min(start)..start];
        let breaks = passed
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && passed.get(i + 1) != Some(&b'\n')))
            .count();
        self.line += breaks as u64;
        self.counted_to = start;
        self.line
    }
}

/// A cell that is not UTF-8: most often a spreadsheet's "CSV (Comma delimited)", which saves in
/// the Windows code page. Refused, never guessed at.
fn not_utf8(line: u64, column: &str, cell: &[u8], e: std::str::Utf8Error) -> anyhow::Error {
    let valid = String::from_utf8_lossy(&cell[..e.valid_up_to()]);
    anyhow::anyhow!(
        "line {line}, {}: not UTF-8 text (byte 0x{:02X} after {}): save the file as \"CSV UTF-8\"",
        column.trim(),
        cell[e.valid_up_to()],
        crate::wire::echo(&valid)
    )
}

/// Reads and prepares a file: JSON as it is, CSV through [`csv_to_body`].
pub fn prepare(path: &Path, content: Vec<u8>, record_type: Option<RecordKind>) -> anyhow::Result<Prepared> {
    // A file handed over compressed (night.json.gz) is read as the file inside it.
    let (path, content) = if content.starts_with(GZIP_MAGIC) {
        let mut inflated = Vec::new();
        flate2::read::MultiGzDecoder::new(&content[..])
            .read_to_end(&mut inflated)
            .with_context(|| format!("{} is gzip-compressed, and cannot be inflated", path.display()))?;
        let inner = match path.extension().and_then(|e| e.to_str()) {
            Some(gz) if gz.eq_ignore_ascii_case("gz") => path.with_extension(""),
            _ => path.to_owned(),
        };
        (inner, inflated)
    } else {
        (path.to_owned(), content)
    };
    match (FileKind::of(&path, &content), record_type) {
        (FileKind::Json, None) => Ok(Prepared {
            body: content,
            csv_lines: None,
            notes: Vec::new(),
        }),
        (FileKind::Json, Some(_)) => {
            bail!("--type is for CSV files; a JSON file names its record types itself ({{\"Registrations\": [...]}})")
        }
        (FileKind::Csv, given) => csv_to_body(&content, given),
    }
}

/// Reads a whole file, through `progress` (a reader wrapper, for a progress bar).
pub fn read_file(path: &Path, progress: impl FnOnce(std::fs::File) -> Box<dyn Read>) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut content = Vec::new();
    progress(file)
        .read_to_end(&mut content)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(content)
}

/// Writes a prepared file for `partner` into `scope`, exactly as a POST would be.
pub fn import(
    store: &Store,
    partner: &Partner,
    scope: Scope,
    prepared: &Prepared,
    retention: chrono::Duration,
) -> anyhow::Result<Outcome> {
    let received = Received {
        at: crate::model::batch::server_time(),
        started: Instant::now(),
        body_bytes: prepared.body.len(),
        retention,
    };
    ingest_body(store, partner, scope, &prepared.body, &received).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The report of an import: one line per error of each rejected record (by CSV line, or by
/// array and index), then the counts.
pub fn report(outcome: &Outcome, csv_lines: Option<&[u64]>) -> String {
    let mut out = String::new();
    let place = |record: &str, index: usize| match csv_lines.and_then(|l| l.get(index)) {
        Some(line) => format!("line {line}"),
        None => format!("{record}[{index}]"),
    };
    for entry in outcome.results.iter().filter(|r| r.status == Status::Rejected) {
        let place = place(entry.record, entry.index);
        for e in entry.errors.iter().flat_map(|e| e.iter()) {
            out.push_str(&format!("{place}: {}: {} ({})\n", e.field, e.message, e.code));
        }
    }
    // Warnings once per record type, field and kind (the first record's words), with how many
    // records had it, most first: a POS that sends one unknown field on every record would
    // otherwise fill the report with it.
    let warned = &outcome.warned;
    let mut said = 0;
    for w in warned.counted.iter().take(MAX_WARNINGS_SAID) {
        let place = place(&w.record, w.first_index as usize);
        match w.count {
            1 => out.push_str(&format!("{place}: warning: {}\n", w.message)),
            2 => out.push_str(&format!("{place}: warning: {} (and 1 more record)\n", w.message)),
            n => out.push_str(&format!(
                "{place}: warning: {} (and {} more records)\n",
                w.message,
                n - 1
            )),
        }
        said += w.count;
    }
    if warned.total() > said {
        out.push_str(&format!(
            "and {} more warnings not listed here (only the {MAX_WARNINGS_SAID} most frequent kinds are)\n",
            warned.total() - said
        ));
    }
    let c = &outcome.counts;
    for (kind, counts) in c.iter() {
        let name = kind.name();
        if counts.accepted + counts.rejected > 0 {
            out.push_str(&format!(
                "{name}: {} written, {} rejected\n",
                counts.accepted, counts.rejected
            ));
        }
    }
    // A header row alone, or empty arrays: a quiet file, not a failure (as an empty POST is),
    // but said, since it is most often the wrong file.
    let none = match c.accepted() + c.rejected() {
        0 => "the file holds no records: ",
        _ => "",
    };
    out.push_str(&format!(
        "{none}{} written, {} rejected (batch {} in the history)\n",
        c.accepted(),
        c.rejected(),
        outcome.batch_id
    ));
    out
}

/// How many kinds of warning (record type, field, kind) the report says, each once.
const MAX_WARNINGS_SAID: usize = 20;

/// The exit code: 0 when every record was written, 1 when some were, 2 when none were.
pub fn exit_code(outcome: &Outcome) -> i32 {
    match (outcome.counts.accepted(), outcome.counts.rejected()) {
        (_, 0) => 0,
        (0, _) => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::RecordResult;
    use crate::wire::{Warning, WarningKind};

    #[test]
    fn csv_rows_become_records_with_their_lines() {
        let csv = "ShopID,InvoiceNumber,TiresCovered,Notes\n005308,1044273,4,\n\"00\n5309\",2,\"4\",x\n";
        let p = csv_to_body(csv.as_bytes(), Some(RecordKind::Registrations)).unwrap();
        let body: Value = serde_json::from_slice(&p.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"Registrations": [
                {"ShopID": "005308", "InvoiceNumber": "1044273", "TiresCovered": "4"},
                {"ShopID": "00\n5309", "InvoiceNumber": "2", "TiresCovered": "4"},
            ]})
        );
        // Notes names no field: said once, and its cells are not sent.
        assert_eq!(
            p.notes,
            ["column 4 (D), \"Notes\", is not a field of Registrations: its cells are ignored"]
        );
        assert_eq!(p.csv_lines, Some(vec![2, 3]));
    }

    #[test]
    fn lines_are_numbered_as_an_editor_numbers_them_whatever_ends_them() {
        // LF, CRLF (a spreadsheet on Windows), a lone CR; blank lines skipped; a quoted line break.
        for (csv, lines) in [
            ("ShopID,InvoiceNumber\n1,2\n\n3,4\n", vec![2, 4]),
            ("ShopID,InvoiceNumber\r\n1,2\r\n\r\n\r\n3,4\r\n5,6", vec![2, 5, 6]),
            ("ShopID,InvoiceNumber\r1,2\r3,4\r", vec![2, 3]),
            ("\u{FEFF}ShopID,InvoiceNumber\r\n\"1\r\n1\",2\r\n3,4\r\n", vec![2, 4]),
        ] {
            let p = csv_to_body(csv.as_bytes(), Some(RecordKind::Sales)).unwrap();
            assert_eq!(p.csv_lines, Some(lines), "{csv:?}");
        }
    }

    #[test]
    fn malformed_csv_is_refused_naming_the_line() {
        for (csv, says) in [
            (
                "ShopID,InvoiceNumber\n1,2\n3\n",
                "line 3 has 1 field(s) where the header row has 2",
            ),
            (
                "ShopID,InvoiceNumber\r\n1,2\r\n\r\n3,4,5\r\n",
                "line 4 has 3 field(s) where the header row has 2: is a value with a comma in it not in quotes?",
            ),
        ] {
            let err = csv_to_body(csv.as_bytes(), Some(RecordKind::Sales)).unwrap_err();
            assert_eq!(err.to_string(), says);
        }
        // Saved in the Windows code page ("Citroën" in Windows-1252): refused, never guessed at.
        let err = csv_to_body(
            b"ShopID,VehicleMake\r\n1,Citro\xEBn\r\n",
            Some(RecordKind::Registrations),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2, VehicleMake: not UTF-8 text (byte 0xEB after \"Citro\"): save the file as \"CSV UTF-8\""
        );
        assert!(csv_to_body(b"", Some(RecordKind::Sales)).is_err());
        // Saved with another separator: said for the whole file, not as every field missing.
        for (csv, says) in [
            ("ShopID;InvoiceNumber\n1;2\n", "separated by semicolons"),
            ("ShopID\tInvoiceNumber\n1\t2\n", "separated by tabs"),
        ] {
            let err = csv_to_body(csv.as_bytes(), Some(RecordKind::Sales)).unwrap_err();
            assert!(err.to_string().contains(says), "{err:#}");
            assert!(err.to_string().contains("\"ShopID"), "{err:#}");
        }
        // One column of a comma-separated file is a file like any other.
        assert!(csv_to_body(b"ShopID\n1\n", Some(RecordKind::Sales)).is_ok());
    }

    #[test]
    fn a_csv_files_record_type_is_named_by_its_header_or_by_type() {
        // Without --type: the one record type whose own date the header names.
        let p = csv_to_body(b"shopid,InvoiceNumber,claimdate\n1,2,2024-01-01\n", None).unwrap();
        assert_eq!(p.notes, ["read as Claims: its header names ClaimDate"]);
        assert!(String::from_utf8(p.body).unwrap().starts_with("{\"Claims\":"));
        for (csv, says) in [
            (
                "ShopID,InvoiceNumber\n1,2\n",
                "say which records the CSV file holds with --type",
            ),
            (
                "ShopID,SaleDate,ClaimDate\n1,2,3\n",
                "the header names SaleDate, ClaimDate: say which records the CSV file holds with --type",
            ),
        ] {
            let err = csv_to_body(csv.as_bytes(), None).unwrap_err();
            assert!(err.to_string().contains(says), "{err}");
        }
        // --type wins, unless the header names another type's date and not its own.
        let p = csv_to_body(b"ShopID,ClaimDate\n1,2\n", Some(RecordKind::Claims)).unwrap();
        assert!(p.notes.is_empty());
        assert!(csv_to_body(b"ShopID\n1\n", Some(RecordKind::Sales)).is_ok());
        let err = csv_to_body(b"ShopID,ClaimDate\n1,2\n", Some(RecordKind::Sales)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--type sales, but the header has no SaleDate and names ClaimDate: is the file claims?"
        );
    }

    #[test]
    fn a_header_naming_a_field_twice_is_refused_naming_both_columns() {
        let refused = |csv: &str| csv_to_body(csv.as_bytes(), None).unwrap_err().to_string();
        assert_eq!(
            refused("ShopID,InvoiceNumber,ClaimDate,shopid\n1,2,2020-01-01,3\n"),
            "the header names ShopID twice, in columns 1 and 4 (A and D in a spreadsheet): keep one"
        );
        // The guide's misspelling is the same field.
        let mut header: Vec<String> = (0..27).map(|i| format!("Extra{i}")).collect();
        header.extend(["ClaimDate", "RepairlnvoiceNumber", "RepairInvoiceNumber"].map(String::from));
        assert_eq!(
            refused(&(header.join(",") + "\n")),
            "the header names RepairInvoiceNumber twice, in columns 29 and 30 (AC and AD in a spreadsheet): keep one"
        );
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
        // Unknown columns may repeat: they are ignored either way, and said once each.
        let p = csv_to_body(b"ShopID,ClaimDate,Note,Note\n1,2020-01-01,a,b\n", None).unwrap();
        assert_eq!(p.notes.len(), 3, "{:?}", p.notes);
    }

    #[test]
    fn the_report_says_each_kind_of_warning_once_with_how_many_records_had_it() {
        let warning = |field: &str, kind: WarningKind, message: &str| Warning {
            field: field.to_owned().into(),
            kind,
            message: message.to_owned(),
        };
        let colour = || {
            warning(
                "Colour",
                WarningKind::UnknownField,
                "unknown field \"Colour\" was ignored",
            )
        };
        let vin = |i: usize| {
            let message = format!("VIN was sent twice with different values (\"z\", then \"a{i}\"): the last was kept");
            warning("VIN", WarningKind::RepeatedField, &message)
        };
        let mut results = vec![
            RecordResult::written("Sales", 0, vec![colour()]),
            RecordResult::written("Sales", 1, vec![vin(1), colour()]),
            RecordResult::written("Sales", 2, vec![]),
            RecordResult::written("Sales", 3, vec![vin(3), colour()]),
        ];
        let outcome = |results: Vec<RecordResult>| {
            let mut counts = crate::model::batch::TypeCounts::default();
            let written = crate::model::batch::Counts {
                accepted: results.len(),
                rejected: 0,
            };
            counts.set(RecordKind::Sales, written);
            Outcome {
                warned: crate::ingest::warned(&results),
                results,
                counts,
                batch_id: 7,
            }
        };
        // A field sent twice has other values on every record: one line still, with the first's.
        assert_eq!(
            report(&outcome(results.clone()), Some(&[2, 3, 4, 5])),
            "line 2: warning: unknown field \"Colour\" was ignored (and 2 more records)\n\
             line 3: warning: VIN was sent twice with different values (\"z\", then \"a1\"): the last was kept (and 1 more record)\n\
             Sales: 4 written, 0 rejected\n\
             4 written, 0 rejected (batch 7 in the history)\n"
        );
        assert_eq!(
            report(&outcome(vec![]), Some(&[])),
            "the file holds no records: 0 written, 0 rejected (batch 7 in the history)\n"
        );
        // Past 20 kinds, how many more warnings there are: the most frequent are said.
        results.extend((0..25).map(|i| {
            let key = format!("Note{i}");
            let message = format!("unknown field {key:?} was ignored");
            let warnings = vec![warning(&key, WarningKind::UnknownField, &message)];
            RecordResult::written("Sales", 4 + i, warnings)
        }));
        let said = report(&outcome(results), None);
        assert!(
            said.starts_with("Sales[0]: warning: unknown field \"Colour\""),
            "{said}"
        );
        assert!(
            said.contains("Sales[21]: warning: unknown field \"Note17\" was ignored\n"),
            "{said}"
        );
        assert!(!said.contains("Note18"), "{said}");
        assert!(
            said.contains("\nand 7 more warnings not listed here (only the 20 most frequent kinds are)\n"),
            "{said}"
        );
    }

    #[test]
    fn a_header_column_that_names_no_field_is_said_once_with_what_it_may_be() {
        let p = csv_to_body(
            b"ShopID,InvoiceNumber,PlanEnrollDate,TiresCoverd,Colour,TireDOT7,TireDOT1,VINs,VIN\n1,2,2020-01-01,4,red,,,,\n",
            None,
        )
        .unwrap();
        assert_eq!(
            p.notes,
            [
                "read as Registrations: its header names PlanEnrollDate",
                "column 4 (D), \"TiresCoverd\", is not a field of Registrations: its cells are ignored; is it TiresCovered?",
                "column 5 (E), \"Colour\", is not a field of Registrations: its cells are ignored",
                "column 6 (F), \"TireDOT7\", is not a field of Registrations: its cells are ignored",
                "column 8 (H), \"VINs\", is not a field of Registrations: its cells are ignored",
            ]
        );
    }

    #[test]
    fn a_gzip_compressed_file_is_read_as_the_file_inside() {
        use std::io::Write;
        let gzip = |data: &[u8]| {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(data).unwrap();
            encoder.finish().unwrap()
        };
        let csv = b"ShopID,InvoiceNumber,ClaimDate\n1,2,2020-01-01\n";
        let plain = prepare(Path::new("c.csv"), csv.to_vec(), None).unwrap();
        let compressed = prepare(Path::new("c.csv.gz"), gzip(csv), None).unwrap();
        assert_eq!(compressed.body, plain.body);
        assert_eq!(compressed.csv_lines, plain.csv_lines);
        assert_eq!(compressed.notes, plain.notes);
        // A JSON file by its name inside, or by its first character.
        let json = br#"{"Sales": []}"#;
        for name in ["n.json.gz", "n.gz", "n.json"] {
            let prepared = prepare(Path::new(name), gzip(json), None).unwrap();
            assert_eq!(prepared.body, json, "{name}");
        }
        let err = prepare(Path::new("n.json.gz"), b"\x1F\x8Bcut short".to_vec(), None).unwrap_err();
        assert!(
            format!("{err:#}").starts_with("n.json.gz is gzip-compressed, and cannot be inflated: "),
            "{err:#}"
        );
    }

    #[test]
    fn the_kind_of_file_comes_from_its_name_or_its_first_character() {
        assert_eq!(FileKind::of(Path::new("x.JSON"), b"a,b"), FileKind::Json);
        assert_eq!(FileKind::of(Path::new("x.csv"), b"{"), FileKind::Csv);
        assert_eq!(
            FileKind::of(Path::new("night.txt"), b"  {\"Sales\": []}"),
            FileKind::Json
        );
        assert_eq!(FileKind::of(Path::new("night.txt"), b"ShopID"), FileKind::Csv);
        assert!(prepare(Path::new("x.json"), b"{}".to_vec(), Some(RecordKind::Sales)).is_err());
        assert!(prepare(Path::new("x.csv"), b"a\n".to_vec(), None).is_err());
    }
}
