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
