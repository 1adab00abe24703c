//! The engine's arguments, shared by every subcommand that OCRs.

use crate::pipeline::Options;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Clone)]
pub struct EngineArgs {
    /// Worker threads, one Tesseract engine each [default: number of cores].
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Resolution at which PDF pages are rendered.
    #[arg(long, default_value_t = 300.0)]
    pub dpi: f32,
    /// Resolution of images whose own is missing or implausible [default: estimated from the
    /// page size and letter height, else 300].
    #[arg(long)]
    pub image_dpi: Option<f32>,
    /// Skip diacritic restoration / OCR post-correction.
    #[arg(long)]
    pub no_restore: bool,
    /// Skip image clean-up before OCR.
    #[arg(long)]
    pub no_clean: bool,
    /// PDF pages that already have text: auto (take good text, OCR the rest, redo a poor earlier
    /// OCR layer), skip (never touch pages with text), redo (OCR again pages under an invisible
    /// layer), force (OCR every page).
    #[arg(long, value_enum, default_value_t = crate::textlayer::Mode::Auto)]
    pub mode: crate::textlayer::Mode,
    /// Tesseract language/model name.
    #[arg(long, default_value = crate::ocr::DEFAULT_LANG)]
    pub lang: String,
    /// Tesseract tessdata directory [default: $SOHOA_TESSDATA, $TESSDATA_PREFIX, Debian's].
    #[arg(long)]
    pub tessdata: Option<PathBuf>,
    /// Set a Tesseract variable, like `tesseract -c KEY=VALUE` (repeatable), e.g.
    /// `--tess-var preserve_interword_spaces=1`. An unknown name is an error.
    #[arg(long = "tess-var", value_name = "KEY=VALUE", value_parser = parse_tess_var)]
    pub tess_vars: Vec<(String, String)>,
    /// Path of libpdfium.so [default: $SOHOA_PDFIUM, third_party/pdfium, system].
    #[arg(long, env = "SOHOA_PDFIUM")]
    pub pdfium: Option<PathBuf>,
    /// Restoration model directory (restore.onnx, vocab.json, vi_syllables.txt) instead of the
    /// built-in one.
    #[arg(long, env = "SOHOA_MODEL")]
    pub model: Option<PathBuf>,
    /// Seconds a page may take once a worker has it; a page over it fails (reason "timeout")
    /// and the run goes on. 0: no limit.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::pipeline::DEFAULT_PAGE_TIMEOUT.as_secs_f64())]
    pub page_timeout: f64,
    /// Refuse images (PNG, JPEG, TIFF pages) with more pixels than this many million, as
    /// decompression bombs (OCRmyPDF's default). PDF pages are rendered smaller instead.
    #[arg(long, value_name = "MPIXELS", default_value_t = 250.0)]
    pub max_image_mpixels: f64,
    /// Memory the pages in flight may take together, in MiB; a page waits for its share, and
    /// one page larger than it is rendered smaller (PDF) or refused (image).
    #[arg(long, value_name = "MIB", default_value_t = crate::budget::DEFAULT_BUDGET >> 20)]
    pub memory_budget: u64,
}

fn parse_tess_var(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

impl EngineArgs {
    /// The pipeline options these arguments ask for.
    pub fn options(&self) -> Options {
        let mut o = Options::default();
        if let Some(j) = self.jobs {
            o.jobs = j.max(1);
        }
        o.raster.dpi = self.dpi.clamp(50.0, 1200.0);
        if let Some(d) = self.image_dpi {
            o.raster.image_dpi = d.clamp(50.0, 2400.0);
            o.raster.estimate_dpi = false;
        }
        o.raster.pdfium = self.pdfium.clone();
        o.restore = !self.no_restore;
        o.clean.enabled = !self.no_clean;
        o.mode = self.mode;
        o.ocr.lang = self.lang.clone();
        if let Some(t) = &self.tessdata {
            o.ocr.tessdata = t.clone();
        }
        o.ocr.vars = self.tess_vars.clone();
        o.model_dir = self.model.clone();
        if self.max_image_mpixels.is_finite() && self.max_image_mpixels > 0.0 {
            o.raster.max_image_pixels = (self.max_image_mpixels * 1e6).min(1e15) as u64;
        }
        o.memory_budget = self.memory_budget.clamp(64, 1 << 30) << 20;
        o.page_timeout = (self.page_timeout.is_finite() && self.page_timeout > 0.0)
            .then(|| std::time::Duration::from_secs_f64(self.page_timeout.min(1e9)));
        o
    }
}
