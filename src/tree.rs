//! Input trees, as batch, watch and the scale-out front-end see them: the files under a folder
//! in a stable order, their content hashes, and the hidden folder where a run keeps its state.
//! Below the modes that use it, so none of them imports another.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// State kept by batch and watch inside OUT (hidden, so `watch` never takes it for an input).
pub const STATE_DIR: &str = ".sohoa";

/// SHA-256 of a file's content, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    Ok(crate::input::sha256_stream(&mut f, |_| {})?.0)
}

/// Files under `root`, as sorted paths relative to it. Symbolic links are followed (directory
/// cycles are not), directories in `exclude` (canonical paths) are not entered, and `skip`
/// decides on names. Directories that cannot be read come back as errors, keyed by their
/// relative path.
pub fn walk(
    root: &Path,
    exclude: &[PathBuf],
    skip: &dyn Fn(&Path) -> bool,
) -> (Vec<PathBuf>, Vec<(PathBuf, std::io::Error)>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        if let Ok(c) = dir.canonicalize() {
            if exclude.contains(&c) || !seen.insert(c) {
                continue;
            }
        }
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                errors.push((rel, e));
                continue;
            }
        };
        let mut names: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        names.sort();
        let mut subdirs = Vec::new();
        for name in names {
            let r = rel.join(&name);
            if skip(&r) {
                continue;
            }
            match std::fs::metadata(root.join(&r)) {
                Ok(m) if m.is_dir() => subdirs.push(r),
                Ok(m) if m.is_file() => files.push(r),
                Ok(_) => {}
                // A dangling link or a file that vanished: list it so it is accounted for.
                Err(_) => files.push(r),
            }
        }
        // Depth first, in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    files.sort();
    (files, errors)
}
