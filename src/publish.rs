//! Publishing a finished [`Document`]: its outputs named, rendered and written, all of them or
//! none, and the report entry that records them. One path for every front-end that writes a
//! tree of results (`batch`, `watch`, the scale-out worker); they differ only in where the
//! bytes go, a [`Sink`]: a local folder ([`Dir`]) or the worker's shared storage.
//!
//! Each output is one atomic put (a temporary file and a rename, or one object PUT), text before
//! JSON: a JSON output that records the input's hash ([`recorded`]) means the others are there,
//! which is how a rerun tells an input that is done.

use crate::doc::Document;
use crate::emit::{self, Format};
use crate::error::{Error, Result};
use crate::report::{Entry, Status};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a document's outputs go, addressed by paths relative to an output root (`/`
/// separators).
pub trait Sink {
    /// Write one output atomically: readers see the old content or the whole new one.
    fn put(&self, rel: &str, bytes: &[u8]) -> Result<()>;
    /// How an output is shown in reports and logs.
    fn display(&self, rel: &str) -> String;
    /// Take back an output written for a document whose next output could not be written
    /// (best effort). By default it stays: a front-end that retries writes it again over itself.
    fn discard(&self, _rel: &str) {}
}

/// A folder on the local file system.
pub struct Dir<'a>(pub &'a Path);

impl Sink for Dir<'_> {
    fn put(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        emit::write_atomic(&self.0.join(rel), bytes)
    }

    fn display(&self, rel: &str) -> String {
        self.0.join(rel).display().to_string()
    }

    fn discard(&self, rel: &str) {
        let _ = std::fs::remove_file(self.0.join(rel));
    }
}

/// The error of an I/O operation that writes `path` (an output, a journal, a move).
pub fn write_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Write {
        path: path.to_path_buf(),
        source: e,
    }
}

/// The formats to write: without repeats, `json,txt` when none asked for, text before JSON.
pub fn formats(requested: &[Format]) -> Vec<Format> {
    let mut v: Vec<Format> = Vec::new();
    for f in requested {
        if !v.contains(f) {
            v.push(*f);
        }
    }
    if v.is_empty() {
        v = vec![Format::Json, Format::Text];
    }
    v.sort_by_key(|f| matches!(f, Format::Json));
    v
}

/// The outputs of an input whose output base (see [`crate::naming`]) is `base`: one name per
/// format, relative to the output root.
pub fn names(base: &str, formats: &[Format]) -> Vec<(Format, String)> {
    formats
        .iter()
        .map(|f| (*f, format!("{base}.{}", f.extension())))
        .collect()
}

/// Render `doc` in each format and put it under its name, in order. All or none: when one
/// output cannot be rendered or written, those already written for it are discarded. `written`
/// hears of each output once it is in place. Returns the outputs as reports show them.
pub fn publish(
    sink: &dyn Sink,
    doc: &Document,
    outputs: &[(Format, String)],
    written: &mut dyn FnMut(Format),
) -> Result<Vec<String>> {
    for (k, (f, rel)) in outputs.iter().enumerate() {
        // A writer that panics on one odd document fails that input, not the whole run.
        let put = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| emit::render(doc, *f)))
            .map_err(|_| Error::Write {
                path: PathBuf::from(sink.display(rel)),
                source: std::io::Error::other("the writer crashed on this document"),
            })
            .and_then(|bytes| sink.put(rel, &bytes));
        if let Err(e) = put {
            for (_, done) in &outputs[..k] {
                sink.discard(done);
            }
            return Err(e);
        }
        written(*f);
    }
    Ok(outputs.iter().map(|(_, rel)| sink.display(rel)).collect())
}

/// The report entry of an input that came out as `doc`, before its outputs are written: status
/// ok, its pages (by where their text came from) and content hash; no outputs, no time yet.
pub fn entry(input: String, doc: &Document) -> Entry {
    let mut pages_by_source: BTreeMap<String, usize> = BTreeMap::new();
    for p in &doc.pages {
        *pages_by_source.entry(p.source.clone()).or_default() += 1;
    }
    Entry {
        input,
        status: Status::Ok,
        error: None,
        reason: None,
        pages: doc.pages.len(),
        seconds: 0.0,
        outputs: vec![],
        sha256: Some(doc.source.sha256.clone()),
        pages_by_source,
    }
}

/// What a JSON output says of the input it was made from.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Recorded {
    pub sha256: String,
    pub pages: usize,
    /// The Tesseract language and restoration model it was read with ("" and none when the
    /// output does not say).
    pub lang: String,
    pub restore_model: Option<String>,
}

/// The [`Recorded`] head of a JSON output; `None` when it is not one of ours.
pub fn recorded(json: &[u8]) -> Option<Recorded> {
    #[derive(Deserialize)]
    struct Src {
        sha256: String,
        pages: usize,
    }
    #[derive(Deserialize, Default)]
    struct Eng {
        #[serde(default)]
        lang: String,
        #[serde(default)]
        restore_model: Option<String>,
    }
    #[derive(Deserialize)]
    struct Head {
        source: Src,
        #[serde(default)]
        engine: Eng,
    }
    let h: Head = serde_json::from_slice(json).ok()?;
    Some(Recorded {
        sha256: h.source.sha256,
        pages: h.source.pages,
        lang: h.engine.lang,
        restore_model: h.engine.restore_model,
    })
}

/// [`recorded`] of a JSON output on the local file system.
pub fn recorded_in(path: &Path) -> Option<Recorded> {
    recorded(&std::fs::read(path).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_goes_before_json_and_json_txt_is_the_default() {
        assert_eq!(formats(&[]), vec![Format::Text, Format::Json]);
        assert_eq!(
            formats(&[Format::Json, Format::Hocr, Format::Json, Format::Text]),
            vec![Format::Hocr, Format::Text, Format::Json]
        );
        assert_eq!(
            names("a/x", &[Format::Text, Format::Alto]),
            vec![
                (Format::Text, "a/x.txt".to_string()),
                (Format::Alto, "a/x.xml".to_string())
            ]
        );
    }

    #[test]
    fn a_json_head_says_what_it_was_made_from() {
        let r =
            recorded(br#"{"source":{"sha256":"ab","pages":3},"engine":{"lang":"vie"}}"#).unwrap();
        assert_eq!((r.sha256.as_str(), r.pages), ("ab", 3));
        assert_eq!((r.lang.as_str(), r.restore_model), ("vie", None));
        assert!(recorded(b"{}").is_none());
        assert!(recorded(b"not json").is_none());
    }
}
