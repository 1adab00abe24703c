//! Output names for inputs, shared by every front-end that writes a tree of results (`batch`,
//! `submit`/`worker`): one rule, so a file's results have the same name whichever way it ran.
//!
//! `a/x.pdf` → `a/x` (the format adds its extension); two inputs sharing a stem in one folder keep
//! their extensions (`a/x.pdf`, `a/x.tif`); a name still taken gets `~2`, `~3`… after it.

use std::collections::{HashMap, HashSet};
use std::path::Path;

/// A relative path as text with `/` separators (journal keys, report entries, queue jobs).
pub fn rel_string(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Output bases (relative, without the format's extension) of inputs given as relative paths
/// with `/` separators.
pub fn plan_outputs(inputs: &[String]) -> HashMap<String, String> {
    let stem_of = |r: &str| {
        let p = Path::new(r);
        let parent = p.parent().map(rel_string).unwrap_or_default();
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if parent.is_empty() {
            stem
        } else {
            format!("{parent}/{stem}")
        }
    };
    let mut count: HashMap<String, usize> = HashMap::new();
    for r in inputs {
        *count.entry(stem_of(r)).or_default() += 1;
    }
    let mut used: HashSet<String> = HashSet::new();
    let mut out = HashMap::new();
    for r in inputs {
        let s = stem_of(r);
        let base = if count[&s] > 1 { r.clone() } else { s };
        let mut cand = base.clone();
        let mut n = 1;
        while !used.insert(cand.clone()) {
            n += 1;
            cand = format!("{base}~{n}");
        }
        out.insert(r.clone(), cand);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(ins: &[&str]) -> HashMap<String, String> {
        plan_outputs(&ins.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn same_stem_keeps_extensions() {
        let p = plan(&["a/x.pdf", "a/x.tif", "a/y.pdf", "b/x.pdf", "x.pdf.pdf"]);
        assert_eq!(p["a/x.pdf"], "a/x.pdf");
        assert_eq!(p["a/x.tif"], "a/x.tif");
        assert_eq!(p["a/y.pdf"], "a/y");
        assert_eq!(p["b/x.pdf"], "b/x");
        assert_eq!(p["x.pdf.pdf"], "x.pdf");
    }

    #[test]
    fn collision_after_disambiguation_gets_a_number() {
        let p = plan(&["x.pdf", "x.tif", "x.pdf.pdf"]);
        let mut v: Vec<&String> = p.values().collect();
        v.sort();
        v.dedup();
        assert_eq!(v.len(), 3, "{p:?}");
    }

    #[test]
    fn relative_paths_are_written_with_slashes() {
        assert_eq!(rel_string(Path::new("a/b/c.pdf")), "a/b/c.pdf");
    }
}
