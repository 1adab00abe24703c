//! Eval: accuracy against ground truth, measured the same way everywhere (CER and syllable WER
//! over NFC text with whitespace runs collapsed, see [`crate::text::ErrorCounts`]).
//!
//! A scan set is either a folder with one document and its `page-NNN.txt` files (as in
//! shared/scans-dev), or a document `X` beside `X.gt.txt` (one page) or `X.pN.gt.txt` (page N).

use crate::error::Result;
use crate::text::ErrorCounts;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct EvalSet {
    pub name: String,
    pub file: PathBuf,
    /// Truth text per page (1-based page n at index n-1); `None` where no truth exists.
    pub truth: Vec<Option<String>>,
}

fn is_document(p: &Path) -> bool {
    crate::input::Kind::by_extension(p).is_some()
}

/// Find every evaluable set under `root` (recursively), sorted by name.
pub fn find_sets(root: &Path) -> Result<Vec<EvalSet>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| crate::Error::Read {
                path: dir.clone(),
                source: e,
            })?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        let docs: Vec<&PathBuf> = entries
            .iter()
            .filter(|p| p.is_file() && is_document(p))
            .collect();
        let pages: Vec<&PathBuf> = entries
            .iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("page-") && n.ends_with(".txt"))
            })
            .collect();
        if docs.len() == 1 && !pages.is_empty() {
            let mut truth = Vec::new();
            for p in &pages {
                let n: usize = p
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.strip_prefix("page-"))
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if n == 0 {
                    continue;
                }
                if truth.len() < n {
                    truth.resize(n, None);
                }
                truth[n - 1] = std::fs::read_to_string(p).ok();
            }
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push(EvalSet {
                name,
                file: docs[0].clone(),
                truth,
            });
        } else {
            for d in &docs {
                let fname = d.file_name().unwrap().to_string_lossy().into_owned();
                let stem = d.file_stem().unwrap().to_string_lossy().into_owned();
                let mut truth = Vec::new();
                if let Ok(t) = std::fs::read_to_string(dir.join(format!("{fname}.gt.txt"))) {
                    truth.push(Some(t));
                } else {
                    for n in 1..=999 {
                        let cands = [
                            dir.join(format!("{fname}.p{n}.gt.txt")),
                            dir.join(format!("{stem}.p{n}.gt.txt")),
                        ];
                        match cands.iter().find_map(|c| std::fs::read_to_string(c).ok()) {
                            Some(t) => truth.push(Some(t)),
                            None => break,
                        }
                    }
                }
                if truth.is_empty() {
                    if let Ok(t) = std::fs::read_to_string(dir.join(format!("{stem}.gt.txt"))) {
                        truth.push(Some(t));
                    }
                }
                if !truth.is_empty() {
                    out.push(EvalSet {
                        name: fname,
                        file: (*d).clone(),
                        truth,
                    });
                }
            }
        }
        for e in &entries {
            if e.is_dir() {
                stack.push(e.clone());
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Score page texts (index = page) against a set's truth; pages without truth are skipped.
pub fn score(set: &EvalSet, pages: &[String]) -> ErrorCounts {
    let mut total = ErrorCounts::default();
    for (i, t) in set.truth.iter().enumerate() {
        if let Some(t) = t {
            let hyp = pages.get(i).map(String::as_str).unwrap_or("");
            total.add(ErrorCounts::of(hyp, t));
        }
    }
    total
}

/// Pairs `NAME.eng.txt` / `NAME.truth.txt` (shared/garbled-dev) for scoring `restore`.
pub fn find_restore_pairs(dir: &Path) -> Result<Vec<(String, PathBuf, PathBuf)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)
        .map_err(|e| crate::Error::Read {
            path: dir.to_path_buf(),
            source: e,
        })?
        .flatten()
    {
        let p = e.path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".eng.txt") {
            let truth = dir.join(format!("{stem}.truth.txt"));
            if truth.exists() {
                out.push((stem.to_string(), p.clone(), truth));
            }
        }
    }
    out.sort();
    Ok(out)
}
