//! sohoa ("số hóa", to digitise): scanned Vietnamese administrative documents to clean,
//! structured text.
//!
//! Stages, each a module: [`input`] (triage) → [`raster`] → [`clean`] → [`ocr`] → [`restore`] →
//! [`structure`] → [`emit`]. [`pipeline`] drives them in parallel; [`batch`] and [`watch`] are
//! the archive front-ends, [`scale`] the many-machine one, all writing results through
//! [`publish`]. Everything the CLI does is callable from here.

pub mod batch;
pub mod budget;
pub mod cells;
pub mod clean;
pub mod cli;
pub mod deskew;
pub mod doc;
pub mod dpi;
pub mod emit;
pub mod error;
pub mod eval;
pub mod fault;
pub mod fields;
pub mod fillin;
pub mod inks;
pub mod input;
pub mod layout;
pub mod legacy;
pub mod naming;
pub mod ocr;
pub mod pipeline;
pub mod publish;
pub mod queue;
pub mod raster;
pub mod report;
pub mod reread;
pub mod restore;
pub mod scale;
pub mod signblock;
pub mod structure;
pub mod tess_shim;
pub mod text;
pub mod textlayer;
pub mod tree;
pub mod watch;

pub use doc::{Document, Line, Page, Word};
pub use error::{Error, Result};
pub use pipeline::{Options, Pipeline};
