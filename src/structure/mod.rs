//! Structure: administrative fields of Vietnamese State and Party documents, read from the
//! restored text. A field that is not found is `None` (JSON null), never guessed.
//!
//! The layouts are those of Decree 30/2020/NĐ-CP (State) and Guidance 36-HD/VPTW (Party): a
//! two-column header (issuing body and number on the left; national header, place and date on
//! the right), the document type centred below it with the summary (trích yếu) under it, the body
//! with its numbered headings, and a closing block with the recipients ("Nơi nhận") on the left
//! and the signature on the right. Tesseract may read the two columns in either order or merge
//! them into one line, so the header and the closing block are cut into column segments by the
//! gaps between word boxes, and placed by x position, before anything is read from them.
//! Keywords are matched on text folded to unaccented capitals with a small edit distance, so OCR
//! noise and wrong diacritics do not hide them; values are taken from the restored text.
//! docs/structure.md describes the fields and the rules.
//!
//! One file per concern, each using only the ones listed before it: `text` (folding, fuzzy
//! matching), `number_date` (number, place and date), `segments` (words, column segments, page
//! geometry), `markers` (heading numbers), `doctype` (type and summary), `header`, `closing`
//! (signer and recipients) and `sections`; `extract` below puts them together. The field types
//! are in `crate::fields`, below this module and `doc`, and are re-exported here.

mod closing;
mod doctype;
mod header;
mod markers;
mod number_date;
mod sections;
mod segments;
mod text;

pub use crate::fields::{Field, Fields, LineSpan, Section, Signer};
pub use number_date::{number, place_date};
pub use text::fold;

use crate::doc::Document;
use closing::closing;
use header::header;
use sections::sections;
use segments::PageCtx;

/// The administrative fields of `doc`: the header from page 1, the closing block from the last
/// pages, and the sections between the two.
pub fn extract(doc: &Document) -> Fields {
    let pages: Vec<PageCtx> = doc.pages.iter().map(PageCtx::new).collect();
    let Some(first) = pages.first() else {
        return Fields::default();
    };
    let head = header(first);
    let mut f = head.fields;
    let closing = closing(&pages);
    f.signer = closing.signer;
    f.recipients = closing.recipients;
    f.sections = sections(&pages, (0, head.body_start_y), closing.start);
    f
}
