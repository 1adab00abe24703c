//! `sohoa info`: versions, paths and models in use, for a bug report.

use crate::error::exit;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct InfoArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[arg(long, env = "SOHOA_PDFIUM")]
    pub pdfium: Option<PathBuf>,
    #[arg(long)]
    pub tessdata: Option<PathBuf>,
    #[arg(long, default_value = crate::ocr::DEFAULT_LANG)]
    pub lang: String,
}

pub fn info(a: InfoArgs) -> anyhow::Result<i32> {
    let tessdata = a
        .tessdata
        .clone()
        .unwrap_or_else(crate::ocr::default_tessdata);
    let langs = crate::ocr::available_languages(&tessdata);
    let pdfium = crate::raster::pdfium(a.pdfium.as_deref()).map(|_| crate::raster::pdfium_path());
    let model = crate::restore::Restorer::embedded();
    let model_file = tessdata.join(format!("{}.traineddata", a.lang));
    let v = serde_json::json!({
        "sohoa": env!("CARGO_PKG_VERSION"),
        "schema": crate::doc::SCHEMA,
        "tesseract": crate::ocr::tesseract_version(),
        "tesseract_library": crate::ocr::tesseract_library().map(|p| p.display().to_string()),
        "leptonica": crate::ocr::leptonica_version(),
        "tessdata": tessdata.display().to_string(),
        "lang": a.lang,
        "languages": langs,
        "tesseract_model": model_file.exists().then(|| model_file.display().to_string()),
        "pdfium": match &pdfium { Ok(p) => serde_json::json!(p.as_ref().map(|p| p.display().to_string())), Err(e) => serde_json::json!({"error": e.to_string()}) },
        "restore_model": match &model { Ok(m) => serde_json::json!(m.model_id), Err(e) => serde_json::json!({"error": e.to_string()}) },
        "tesseract_png_shortcut": crate::tess_shim::active(),
        "omp_thread_limit": std::env::var("OMP_THREAD_LIMIT").ok(),
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if let serde_json::Value::Object(m) = &v {
        for (k, val) in m {
            let s = match val {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("{k:>22}: {s}");
        }
    }
    let missing = !model_file.exists() || pdfium.is_err() || model.is_err();
    Ok(if missing {
        exit::MISSING_DEPENDENCY
    } else {
        exit::OK
    })
}
