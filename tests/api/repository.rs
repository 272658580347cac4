//! The repository stands alone: what a clone holds never sends its reader to a document outside
//! it.

use std::path::Path;

/// Every file of the repository a clone gets (not what builds or tools put beside it).
fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !["target", ".git", "node_modules", "corpus", "artifacts"].contains(&name.as_str()) {
                files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

#[test]
fn no_file_points_at_a_document_outside_the_repository() {
    // Spelt in pieces, so that this file does not name them itself.
    let outside = [["DESIGN", ".md"].concat(), ["..", "/shared"].concat()];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    files(root, &mut all);
    assert!(all.len() > 100, "{} files", all.len());
    let mut naming = Vec::new();
    for path in all {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for name in &outside {
            if text.contains(name.as_str()) {
                naming.push(format!("{} names {name}", path.strip_prefix(root).unwrap().display()));
            }
        }
    }
    assert!(naming.is_empty(), "{naming:#?}");
}

/// The text after a reference, its comment markers and line breaks folded into spaces.
fn folded(after: &str) -> String {
    let mut out = String::new();
    for line in after.lines().take(3) {
        let line = line.trim_start();
        let line = line.trim_start_matches(['/', '!', '#']).trim_start();
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(line);
    }
    out
}

/// The section a reference names right after the file (`docs/<page>.md, "Section"` or
/// `docs/<page>.md ("Section")`), if it names one.
fn section(after: &str) -> Option<String> {
    let text = folded(after.strip_prefix(')').unwrap_or(after));
    let rest = text.strip_prefix(", \"").or_else(|| text.strip_prefix(" (\""))?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// A page's headings, in order (a line of a code block that starts with '#' is a comment).
fn headings(page: &str) -> Vec<String> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in page.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.push(line.trim_start_matches('#').trim().to_owned());
        }
    }
    out
}

#[test]
fn every_reference_to_docs_names_a_page_and_a_section_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    files(root, &mut all);
    let mut checked = 0;
    let mut broken = Vec::new();
    for path in all {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let in_docs = path.parent() == Some(&root.join("docs"));
        // `docs/<page>.md` anywhere; inside docs/, also a link to a page beside it: `](<page>.md)`.
        let mut references = Vec::new();
        for (at, _) in text.match_indices("docs/") {
            references.push((at + "docs/".len(), root.join("docs")));
        }
        if in_docs {
            for (at, _) in text.match_indices("](") {
                references.push((at + 2, root.join("docs")));
            }
        }
        for (start, folder) in references {
            let name: String = text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.')
                .collect();
            let Some(name) = name.strip_suffix(".md").map(|n| format!("{n}.md")) else {
                continue;
            };
            if name.contains('/') || name.starts_with("..") {
                continue;
            }
            checked += 1;
            let whose = path.strip_prefix(root).unwrap().display().to_string();
            let Ok(page) = std::fs::read_to_string(folder.join(&name)) else {
                broken.push(format!("{whose}: docs/{name} does not exist"));
                continue;
            };
            if let Some(section) = section(&text[start + name.len()..])
                && !headings(&page).contains(&section)
            {
                broken.push(format!("{whose}: docs/{name} has no section {section:?}"));
            }
        }
    }
    assert!(checked > 30, "only {checked} references found");
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn the_readme_maps_every_page_of_docs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut pages = 0;
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            pages += 1;
            assert!(
                readme.contains(&format!("](docs/{name})")),
                "README.md does not link docs/{name}"
            );
        }
    }
    assert!(pages >= 5, "{pages} pages in docs/");
}

#[test]
fn no_page_repeats_a_heading() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        pages.push(entry.unwrap().path());
    }
    for path in pages {
        let page = std::fs::read_to_string(&path).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for heading in headings(&page) {
            assert!(seen.insert(heading.clone()), "{} repeats {heading:?}", path.display());
        }
    }
}

/// RELIABILITY.md proves each promise by a test it names (`tests/api/x.rs::its_name`, or a
/// unit test's module path): every name it gives is a test function in that file, so a
/// renamed test cannot leave a promise pointing at nothing.
#[test]
fn every_test_reliability_md_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join("RELIABILITY.md")).unwrap();
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut named = 0;
    for (at, _) in page.match_indices(".rs::") {
        let start = page[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "_/.-".contains(c)))
            .map_or(0, |i| i + 1);
        let file = format!("{}.rs", &page[start..at]);
        let rest = &page[at + ".rs::".len()..];
        let path: String = rest.chars().take_while(|&c| is_name(c)).collect();
        let test = path.rsplit("::").next().unwrap();
        let source = std::fs::read_to_string(root.join(&file))
            .unwrap_or_else(|e| panic!("RELIABILITY.md names {file}, which cannot be read: {e}"));
        // A name cut short with "..." names the test it begins.
        let whole = !rest[path.len()..].starts_with("...");
        let found = source.match_indices(&format!("fn {test}")).any(|(i, _)| {
            let after = source[i + 3 + test.len()..].chars().next();
            !whole || matches!(after, Some('(') | Some('<'))
        });
        assert!(found, "RELIABILITY.md names {file}::{path}, which is no test there");
        named += 1;
    }
    assert!(named >= 20, "only {named} test names read from RELIABILITY.md");
}
