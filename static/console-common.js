// What both pages (console.html, console-ops.html) share: the server puts it into each page's
// script where a comment naming this file marks its place, so that each page stays one file to
// the browser, with nothing loaded from elsewhere (src/api/mod.rs).
// Everything shown comes from the JSON API and is written as text (textContent), never as HTML.
const $ = (id) => document.getElementById(id);

// The statuses a batch is recorded with, for the pages' status filters: every record written,
// some rejected, and the body refused whole (not usable, too slow, too large, an encoding not read).
const BATCH_STATUSES = ["200", "206", "400", "408", "413", "415"];

function addStatusOptions(select) {
  for (const status of BATCH_STATUSES) select.add(new Option(status));
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text == null ? "" : String(text);
  if (className) td.className = className;
  return td;
}

// A result entry's Key as a line: "OrgID (none), ShopID S1, InvoiceNumber I2".
function keyText(key) {
  return key ? Object.entries(key).map(([k, v]) => k + " " + (v === "" ? "(none)" : v)).join(", ") : "";
}

// A batch's rejected records into a table body: a row per error, then a row per warning (a field
// sent twice, an unknown field...), which often says why the record went wrong.
function rejectedRows(body, entries) {
  for (const entry of entries) {
    const rows = (entry.Errors || []).map((e) => [e.Field, e.Code, e.Message, ""])
      .concat((entry.Warnings || []).map((w) => ["", "warning", w, "muted"]));
    for (const [field, code, message, className] of rows) {
      const r = body.insertRow();
      cell(r, entry.Record); cell(r, entry.Index); cell(r, keyText(entry.Key));
      cell(r, field); cell(r, code, className); cell(r, message, className);
    }
  }
  if (entries.length === 0) cell(body.insertRow(), "Every record was written.", "muted").colSpan = 6;
}

// A batch's warnings, counted (each kind on each field of each record type, with its first
// record), into the detail's "warned" table; hidden when the batch had none.
function warningRows(total, counts) {
  $("warned-part").hidden = total === 0;
  const listed = counts.reduce((n, w) => n + w.count, 0);
  $("warned-title").textContent = "Warnings: " + total +
    (listed < total ? " (" + (total - listed) + " of other kinds not listed: only the first 100 kinds are)" : "");
  const body = $("warned");
  body.replaceChildren();
  for (const w of counts) {
    const r = body.insertRow();
    for (const v of [w.record, w.field, w.code, w.count, w.first_index, w.message]) cell(r, v);
  }
}

// A fetched answer handed to the browser as a file: the CSV needs the token, which a plain link
// cannot send.
async function saveAs(res, filename) {
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function fields(object, names) {
  const dl = document.createElement("dl");
  for (const name of names) {
    const dt = document.createElement("dt"); dt.textContent = name;
    const dd = document.createElement("dd"); dd.textContent = String(object[name]);
    dl.append(dt, dd);
  }
  return dl;
}

// A stored record, folded: its fields with a value, then the names of the empty ones in one line.
function storedRecord(title, record) {
  const details = document.createElement("details");
  details.className = "stored";
  const summary = document.createElement("summary");
  summary.textContent = title;
  const empty = Object.keys(record).filter((k) => record[k] === "" || record[k] == null);
  details.append(summary, fields(record, Object.keys(record).filter((k) => !empty.includes(k))));
  if (empty.length) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = "Empty: " + empty.join(", ");
    details.append(p);
  }
  return details;
}

// An invoice's stored records, folded: its registrations, then each claim, sale and cancellation
// by its date.
function storedRecords({ registrations, claims, sales, cancellations }) {
  const shown = registrations.map((r) => storedRecord("Registration", r));
  for (const [name, records, date] of [["Claim", claims, "ClaimDate"], ["Sale", sales, "SaleDate"],
                                       ["Cancellation", cancellations, "CancelDate"]]) {
    for (const r of records) shown.push(storedRecord(name + " of " + r[date].replace("T", " ").replace(/Z$/, ""), r));
  }
  return shown;
}
