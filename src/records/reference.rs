//! The field reference of docs/v2-api.md ("Records and their fields"), written from the same
//! declarations the decoder reads: a test keeps the page equal to them.

use super::RecordKind;
use crate::wire::Kind;

/// The markers around the generated part of the page.
const BEGIN: &str = "<!-- fields:begin -->\n";
const END: &str = "<!-- fields:end -->";

fn value(kind: Kind) -> String {
    match kind {
        Kind::Text(max) => format!("text, up to {max}"),
        Kind::Int { min } => format!("whole number, {min} or more"),
        Kind::Money => "money".to_owned(),
        Kind::Date => "date".to_owned(),
        Kind::Flag => "flag (false when absent)".to_owned(),
    }
}

/// Each record type in processing order: its natural key, then a row per field.
fn render() -> String {
    let mut out = String::new();
    for kind in RecordKind::ALL {
        out += &format!("### {}\n\nNatural key: {}.\n\n", kind.name(), kind.key().join(", "));
        out += "| field | value | required |\n|---|---|---|\n";
        for field in kind.fields() {
            let also: String = field.aliases.iter().map(|a| format!(" (also `{a}`)")).collect();
            let required = if field.required { "yes" } else { "no" };
            out += &format!("| {}{also} | {} | {required} |\n", field.name, value(field.kind));
        }
        out += "\n";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `UPDATE_DOCS=1 cargo test --lib reference` writes the page's part anew.
    #[test]
    fn the_pages_field_reference_is_the_declarations() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/v2-api.md");
        let page = std::fs::read_to_string(path).unwrap();
        let start = page.find(BEGIN).expect("the begin marker") + BEGIN.len();
        let end = page.find(END).expect("the end marker");
        let written = render();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, format!("{}{written}{}", &page[..start], &page[end..])).unwrap();
            return;
        }
        assert!(
            page[start..end] == written,
            "docs/v2-api.md's field reference differs from the record declarations; \
             run UPDATE_DOCS=1 cargo test --lib reference to write it anew"
        );
    }
}
