//! OCR: Tesseract through libtesseract, one engine per worker thread, created once and reused.

use crate::doc::{Line, Word};
use crate::error::{Error, Result};
use crate::raster::PageImage;
use std::os::raw::{c_int, c_void};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tesseract_rs::{TessPageIteratorLevel as Level, TessPageSegMode, TesseractAPI};

/// The model sohoa uses unless told otherwise: Debian's `tesseract-ocr-script-viet`
/// ("Vietnamese" script model). It was the most accurate of the three candidates on scans-dev at
/// the same speed (see README, "Choosing the Tesseract model").
pub const DEFAULT_LANG: &str = "Vietnamese";

#[derive(Debug, Clone)]
pub struct OcrOptions {
    pub tessdata: PathBuf,
    pub lang: String,
    /// Tesseract page segmentation mode (3 = automatic, the right default for letters and plans).
    pub psm: i32,
    /// Tesseract variables set on every engine after sohoa's own (`tesseract -c KEY=VALUE`).
    pub vars: Vec<(String, String)>,
}

impl OcrOptions {
    /// `--tess-var` settings as `KEY=VALUE`, in the order they are set.
    pub fn var_strings(&self) -> impl Iterator<Item = String> + '_ {
        self.vars.iter().map(|(k, v)| format!("{k}={v}"))
    }
}

/// Tesseract variables sohoa sets on every engine, for speed. Each was checked to leave the text
/// of every scans-dev page, the Vietnamese peer scans and the typewriter peer files unchanged
/// (docs/performance.md).
///
/// `textord_disable_pitch_test`: the dynamic-programming fixed-pitch test (`FPCUTPT::assign`,
/// `check_pitch_sync2`) took ~2.5 % of all CPU. It only decides how the legacy classifier chops
/// typewritten rows; the LSTM recogniser reads the whole line either way.
pub const SPEED_VARS: [(&str, &str); 1] = [("textord_disable_pitch_test", "1")];

impl Default for OcrOptions {
    fn default() -> Self {
        OcrOptions {
            tessdata: default_tessdata(),
            lang: DEFAULT_LANG.into(),
            psm: 3,
            vars: Vec::new(),
        }
    }
}

/// `SOHOA_TESSDATA`, then `TESSDATA_PREFIX`, then the Debian location.
pub fn default_tessdata() -> PathBuf {
    for var in ["SOHOA_TESSDATA", "TESSDATA_PREFIX"] {
        if let Some(p) = std::env::var_os(var) {
            let p = PathBuf::from(p);
            if p.join("tessdata").is_dir() {
                return p.join("tessdata");
            }
            return p;
        }
    }
    for cand in [
        "/usr/share/tesseract-ocr/5/tessdata",
        "/usr/share/tesseract-ocr/4.00/tessdata",
        "/usr/share/tessdata",
    ] {
        if Path::new(cand).is_dir() {
            return PathBuf::from(cand);
        }
    }
    PathBuf::from("/usr/share/tesseract-ocr/5/tessdata")
}

/// Languages (traineddata files) present in a tessdata directory.
pub fn available_languages(tessdata: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(tessdata)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".traineddata")
                .map(str::to_owned)
        })
        .collect();
    out.sort();
    out
}

pub fn tesseract_version() -> String {
    TesseractAPI::version()
}

/// The libtesseract file this process loaded: the machine-tuned build in
/// `third_party/tesseract` when `scripts/setup` made one, else the system's. Same version either
/// way, so users can only tell them apart by this path (and the speed).
pub fn tesseract_library() -> Option<std::path::PathBuf> {
    extern "C" {
        fn TessVersion() -> *const std::os::raw::c_char;
    }
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let found = unsafe { libc::dladdr(TessVersion as *const c_void, &mut info) } != 0;
    if !found || info.dli_fname.is_null() {
        return None;
    }
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = std::path::PathBuf::from(name.to_string_lossy().into_owned());
    Some(std::fs::canonicalize(&path).unwrap_or(path))
}

extern "C" {
    fn TessResultIteratorGetPageIterator(ri: *mut c_void) -> *mut c_void;
    fn TessPageIteratorIsAtBeginningOf(pi: *const c_void, level: c_int) -> c_int;
    fn TessResultIteratorGetUTF8Text(ri: *mut c_void, level: c_int) -> *mut std::os::raw::c_char;
    fn TessDeleteText(text: *mut std::os::raw::c_char);
    fn TessBaseAPIRecognize(api: *mut c_void, monitor: *mut c_void) -> c_int;
    fn TessMonitorCreate() -> *mut c_void;
    fn TessMonitorDelete(monitor: *mut c_void);
    fn TessMonitorSetDeadlineMSecs(monitor: *mut c_void, deadline: c_int);
}

/// Tesseract's progress monitor (`ETEXT_DESC`) with a deadline: the recogniser checks it before
/// every word and gives up on the page once it has passed. Page layout analysis, which comes
/// first, does not check it; see [`crate::pipeline::Options::page_timeout`].
struct Monitor(*mut c_void);

impl Monitor {
    fn until(deadline: Instant) -> Monitor {
        let ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis()
            .clamp(1, i32::MAX as u128) as c_int;
        let m = unsafe { TessMonitorCreate() };
        if !m.is_null() {
            unsafe { TessMonitorSetDeadlineMSecs(m, ms) };
        }
        Monitor(m)
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if !self.0.is_null() {
            unsafe { TessMonitorDelete(self.0) };
        }
    }
}

/// The error for a page whose deadline passed.
pub fn timeout(page: usize) -> Error {
    Error::Timeout(format!("page {page}: over the per-page time limit"))
}

/// A word's text as Tesseract gives it: UTF-8 in principle, but a damaged model or a bug can
/// hand back anything, and one bad word must not lose the page (tesseract-rs's own getter drops
/// the word). Invalid bytes become U+FFFD; control characters are dropped.
fn word_text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

pub struct Engine {
    api: TesseractAPI,
    opts: OcrOptions,
    /// Orientation detection (Tesseract OSD), made on first need.
    osd: Option<TesseractAPI>,
}

impl Engine {
    pub fn new(opts: &OcrOptions) -> Result<Engine> {
        let file = opts.tessdata.join(format!(
            "{}.traineddata",
            opts.lang.split('+').next().unwrap_or("")
        ));
        if !file.exists() {
            return Err(Error::Missing {
                what: format!(
                    "Tesseract model {} (looked for {})",
                    opts.lang,
                    file.display()
                ),
            });
        }
        let api = TesseractAPI::new();
        // Tesseract prints warnings (e.g. "Invalid resolution") on stderr for every page.
        let _ = api.set_variable("debug_file", "/dev/null");
        api.init(&opts.tessdata, &opts.lang)
            .map_err(|e| Error::Missing {
                what: format!(
                    "Tesseract could not load {} from {} ({e})",
                    opts.lang,
                    opts.tessdata.display()
                ),
            })?;
        api.set_page_seg_mode(TessPageSegMode::from_int(opts.psm))
            .map_err(ocr_err)?;
        let _ = api.set_variable("debug_file", "/dev/null");
        for (k, v) in SPEED_VARS
            .iter()
            .map(|&(k, v)| (k, v))
            .chain(opts.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        {
            api.set_variable(k, v).map_err(|_| {
                Error::Config(format!(
                    "Tesseract has no variable {k:?} (or refused {v:?})"
                ))
            })?;
        }
        Ok(Engine {
            api,
            opts: opts.clone(),
            osd: None,
        })
    }

    /// Clockwise rotation (0, 90, 180, 270) that puts the page's text upright, by Tesseract's
    /// orientation detection; `None` when OSD is unavailable or not confident.
    pub fn detect_rotation(&mut self, page: &PageImage) -> Option<i32> {
        if self.osd.is_none() {
            if !self.opts.tessdata.join("osd.traineddata").exists() {
                return None;
            }
            let api = TesseractAPI::new();
            let _ = api.set_variable("debug_file", "/dev/null");
            api.init(&self.opts.tessdata, "osd").ok()?;
            api.set_page_seg_mode(TessPageSegMode::from_int(0)).ok()?;
            self.osd = Some(api);
        }
        let api = self.osd.as_ref()?;
        let (w, h) = (page.width as i32, page.height as i32);
        api.set_image(&page.gray, w, h, 1, w).ok()?;
        api.set_source_resolution(page.dpi.round().clamp(70.0, 2400.0) as i32)
            .ok()?;
        let (deg, conf, _script, _sconf) = api.detect_os().ok()?;
        let _ = api.clear();
        log::debug!("OSD: orientation {deg} (confidence {conf:.2})");
        // Tesseract reports the page's orientation; undoing it is the opposite rotation.
        (conf >= 1.5 && deg.rem_euclid(360) != 0).then(|| (360 - deg.rem_euclid(360)) % 360)
    }

    pub fn options(&self) -> &OcrOptions {
        &self.opts
    }

    /// Recognise one page: lines in Tesseract's reading order, each with its words. Past
    /// `deadline` the recogniser stops and the page fails with [`Error::Timeout`].
    pub fn recognize(&mut self, page: &PageImage, deadline: Option<Instant>) -> Result<Vec<Line>> {
        use crate::fault::{strikes, Fault};
        let (w, h) = (page.width as i32, page.height as i32);
        if w < 3 || h < 3 {
            return Ok(Vec::new());
        }
        let page_no = page.index + 1;
        if strikes(Fault::OcrPanic, page_no) {
            panic!("injected fault: Tesseract crashed on page {page_no}");
        }
        if strikes(Fault::OcrHang, page_no) {
            // An engine stuck in a loop that still looks at its monitor, as Tesseract's
            // recogniser does between words.
            while deadline.is_none_or(|d| Instant::now() < d) {
                std::thread::sleep(Duration::from_millis(10));
            }
            return Err(timeout(page_no));
        }
        self.api
            .set_image(&page.gray, w, h, 1, w)
            .map_err(ocr_err)?;
        self.api
            .set_source_resolution(page.dpi.round().clamp(70.0, 2400.0) as i32)
            .map_err(ocr_err)?;
        {
            let _scope = crate::tess_shim::RecognizeScope::enter();
            let monitor = deadline.map(Monitor::until);
            let handle = self
                .api
                .handle
                .lock()
                .map_err(|_| Error::Ocr("engine lock poisoned".into()))?;
            let rc = unsafe {
                TessBaseAPIRecognize(
                    *handle,
                    monitor.as_ref().map_or(std::ptr::null_mut(), |m| m.0),
                )
            };
            drop(handle);
            if rc != 0 {
                let _ = self.api.clear();
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(timeout(page_no));
                }
                return Err(Error::Ocr(format!("page {page_no}: recognition failed")));
            }
        }
        let it = match self.api.get_iterator() {
            Ok(it) => it,
            Err(_) => return Ok(Vec::new()), // blank page: no result iterator
        };
        let raw = *it
            .handle
            .lock()
            .map_err(|_| Error::Ocr("iterator lock poisoned".into()))?;
        let pi = unsafe { TessResultIteratorGetPageIterator(raw) };
        let mut lines: Vec<Line> = Vec::new();
        let mut block = 0u32;
        let mut first = true;
        loop {
            let at = |lvl: Level| unsafe { TessPageIteratorIsAtBeginningOf(pi, lvl as c_int) != 0 };
            if at(Level::RIL_BLOCK) && !first {
                block += 1;
            }
            if at(Level::RIL_TEXTLINE) || lines.is_empty() {
                let bbox = it
                    .get_bounding_box(Level::RIL_TEXTLINE)
                    .map(|(l, t, r, b)| [l, t, r, b])
                    .unwrap_or([0; 4]);
                let conf = it.confidence(Level::RIL_TEXTLINE).unwrap_or(0.0);
                lines.push(Line::new(bbox, conf, block));
            }
            first = false;
            let ptr = unsafe { TessResultIteratorGetUTF8Text(raw, Level::RIL_WORD as c_int) };
            if !ptr.is_null() {
                let mut bytes = unsafe { std::ffi::CStr::from_ptr(ptr) }.to_bytes().to_vec();
                unsafe { TessDeleteText(ptr) };
                if strikes(Fault::OcrGarbage, page_no) {
                    bytes.splice(0..0, *b"\xff\xfe\xc3\x28\x00\x1b[31m\xed\xa0\x80");
                }
                let text = crate::text::nfc(word_text(&bytes).trim());
                if !text.is_empty() && !is_scan_noise(&text) {
                    let bbox = it
                        .get_bounding_box(Level::RIL_WORD)
                        .map(|(l, t, r, b)| [l, t, r, b])
                        .unwrap_or([0; 4]);
                    let conf = it.confidence(Level::RIL_WORD).unwrap_or(0.0);
                    lines
                        .last_mut()
                        .expect("a line was pushed")
                        .words
                        .push(Word::new(text, bbox, conf));
                }
            }
            if !it.next(Level::RIL_WORD).unwrap_or(false) {
                break;
            }
        }
        drop(it);
        let _ = self.api.clear();
        lines.retain(|l| !l.words.is_empty());
        for l in &mut lines {
            l.refresh_text();
        }
        Ok(lines)
    }
}

impl Engine {
    /// Recognise one rectangle of a page ([left, top, right, bottom] in its pixels) with page
    /// segmentation mode `psm`; boxes come back in page pixels.
    /// Read `rect` of the page as one line of only the characters in `allowed` (a handwritten
    /// number in a form's blank, a table's row number): the text and the least word
    /// confidence, or `None` when nothing was read.
    pub fn read_only(
        &mut self,
        page: &PageImage,
        rect: [i32; 4],
        allowed: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<(String, f32)>> {
        let var = "tessedit_char_whitelist";
        self.api.set_variable(var, allowed).map_err(ocr_err)?;
        let read = self.recognize_crop(page, rect, 7, deadline);
        self.api.set_variable(var, "").map_err(ocr_err)?;
        let words: Vec<Word> = read?.into_iter().flat_map(|l| l.words).collect();
        let text: String = words.iter().flat_map(|w| w.text.chars()).collect();
        let conf = words.iter().map(|w| w.conf).fold(f32::INFINITY, f32::min);
        Ok((!text.is_empty() && text.chars().all(|c| allowed.contains(c))).then_some((text, conf)))
    }

    pub fn recognize_crop(
        &mut self,
        page: &PageImage,
        rect: [i32; 4],
        psm: i32,
        deadline: Option<Instant>,
    ) -> Result<Vec<Line>> {
        let w = page.width as i32;
        let [l, t, r, b] = [
            rect[0].clamp(0, w),
            rect[1].clamp(0, page.height as i32),
            rect[2].clamp(0, w),
            rect[3].clamp(0, page.height as i32),
        ];
        if r - l < 3 || b - t < 3 {
            return Ok(Vec::new());
        }
        let mut gray = Vec::with_capacity(((r - l) * (b - t)) as usize);
        for y in t..b {
            gray.extend_from_slice(&page.gray[(y * w + l) as usize..(y * w + r) as usize]);
        }
        let crop = PageImage {
            width: (r - l) as u32,
            height: (b - t) as u32,
            gray,
            inks: None,
            ..*page
        };
        self.api
            .set_page_seg_mode(TessPageSegMode::from_int(psm))
            .map_err(ocr_err)?;
        let read = self.recognize(&crop, deadline);
        self.api
            .set_page_seg_mode(TessPageSegMode::from_int(self.opts.psm))
            .map_err(ocr_err)?;
        let mut lines = read?;
        let shift = |bb: &mut [i32; 4]| {
            bb[0] += l;
            bb[2] += l;
            bb[1] += t;
            bb[3] += t;
        };
        for line in &mut lines {
            shift(&mut line.bbox);
            line.words.iter_mut().for_each(|w| shift(&mut w.bbox));
        }
        Ok(lines)
    }
}

/// A "word" made only of marks that scan streaks and specks produce ("|", "-=_===", "`") and
/// that Vietnamese documents do not use on their own. Dashes, asterisks and ordinary
/// punctuation alone are real (list items, the "*" under a Party header) and stay.
pub fn is_scan_noise(word: &str) -> bool {
    // ˆ and ˜ are spacing marks: a circumflex or tilde Tesseract found without its letter.
    const NOISE: &str = "|`~_^¦=‚„›‹ˆ˜";
    word.chars().any(|c| NOISE.contains(c))
        && word
            .chars()
            .all(|c| NOISE.contains(c) || matches!(c, '-' | '.' | ',' | '\'' | '‘' | '’'))
}

fn ocr_err(e: tesseract_rs::TesseractError) -> Error {
    Error::Ocr(e.to_string())
}

#[link(name = "lept")]
extern "C" {
    fn getLeptonicaVersion() -> *mut std::os::raw::c_char;
    fn lept_free(ptr: *mut c_void);
}

pub fn leptonica_version() -> String {
    unsafe {
        let p = getLeptonicaVersion();
        if p.is_null() {
            return String::new();
        }
        let s = std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned();
        lept_free(p as *mut c_void);
        s
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn streaks_are_noise_but_dashes_and_stars_are_text() {
        for w in ["|", "-=_===", "`", "„"] {
            assert!(super::is_scan_noise(w), "{w}");
        }
        for w in ["-", "*", ".", "“xây”", "a|b", "I"] {
            assert!(!super::is_scan_noise(w), "{w}");
        }
    }
}
