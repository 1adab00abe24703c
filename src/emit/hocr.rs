//! hOCR 1.2 (<http://kba.github.io/hocr-spec/1.2/>): XHTML with the page, block, line and word
//! boxes in `title` properties, the restored text as content and Tesseract's word confidence as
//! `x_wconf`. Blocks are Tesseract's text blocks (consecutive lines of one block).

use super::xml_escape;
use crate::doc::{Document, Line, Page};
use std::fmt::Write;

fn bbox(b: [i32; 4]) -> String {
    format!(
        "bbox {} {} {} {}",
        b[0].max(0),
        b[1].max(0),
        b[2].max(0),
        b[3].max(0)
    )
}

fn union(lines: &[&Line]) -> [i32; 4] {
    crate::doc::union_bbox(lines.iter().map(|l| l.bbox))
}

/// Consecutive lines of one Tesseract block, skipping lines without words.
pub(crate) fn blocks(p: &Page) -> Vec<Vec<&Line>> {
    let mut out: Vec<Vec<&Line>> = Vec::new();
    let mut last: Option<u32> = None;
    for l in p
        .lines
        .iter()
        .filter(|l| l.words.iter().any(|w| !w.text.trim().is_empty()))
    {
        if last != Some(l.block) || out.is_empty() {
            out.push(Vec::new());
        }
        last = Some(l.block);
        out.last_mut().expect("pushed").push(l);
    }
    out
}

pub fn render(doc: &Document) -> String {
    let mut s = String::new();
    let e = &doc.engine;
    let system = match &e.restore_model {
        Some(m) => format!(
            "sohoa {} (tesseract {}, {}; restoration {})",
            e.sohoa, e.tesseract, e.lang, m
        ),
        None => format!("sohoa {} (tesseract {}, {})", e.sohoa, e.tesseract, e.lang),
    };
    let title = std::path::Path::new(&doc.source.path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str("<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n");
    s.push_str("    \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n");
    s.push_str(
        "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"vi\" lang=\"vi\">\n <head>\n",
    );
    let _ = writeln!(s, "  <title>{}</title>", xml_escape(&title));
    s.push_str("  <meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\"/>\n");
    let _ = writeln!(
        s,
        "  <meta name=\"ocr-system\" content=\"{}\"/>",
        xml_escape(&system)
    );
    s.push_str("  <meta name=\"ocr-capabilities\" content=\"ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf\"/>\n");
    let _ = writeln!(
        s,
        "  <meta name=\"ocr-number-of-pages\" content=\"{}\"/>",
        doc.pages.len()
    );
    s.push_str(" </head>\n <body>\n");
    for p in &doc.pages {
        let n = p.index;
        let image = xml_escape(&doc.source.path.replace('"', "'"));
        let dpi = p.dpi.round() as i32;
        let _ = writeln!(
            s,
            "  <div class=\"ocr_page\" id=\"page_{n}\" title=\"image &quot;{image}&quot;; {}; ppageno {}; scan_res {dpi} {dpi}\">",
            bbox([0, 0, p.width as i32, p.height as i32]),
            n - 1
        );
        for (bi, block) in blocks(p).iter().enumerate() {
            let b = bbox(union(block));
            let id = format!("{n}_{}", bi + 1);
            let _ = writeln!(
                s,
                "   <div class=\"ocr_carea\" id=\"block_{id}\" title=\"{b}\">"
            );
            let _ = writeln!(
                s,
                "    <p class=\"ocr_par\" id=\"par_{id}\" lang=\"vie\" title=\"{b}\">"
            );
            for (li, l) in block.iter().enumerate() {
                let lid = format!("{id}_{}", li + 1);
                let _ = writeln!(
                    s,
                    "     <span class=\"ocr_line\" id=\"line_{lid}\" title=\"{}; x_size {}\">",
                    bbox(l.bbox),
                    (l.bbox[3] - l.bbox[1]).max(0)
                );
                for (wi, w) in l
                    .words
                    .iter()
                    .filter(|w| !w.text.trim().is_empty())
                    .enumerate()
                {
                    let _ = writeln!(
                        s,
                        "      <span class=\"ocrx_word\" id=\"word_{lid}_{}\" title=\"{}; x_wconf {}\">{}</span>",
                        wi + 1,
                        bbox(w.bbox),
                        w.conf.clamp(0.0, 100.0).round() as i32,
                        xml_escape(w.text.trim())
                    );
                }
                s.push_str("     </span>\n");
            }
            s.push_str("    </p>\n   </div>\n");
        }
        s.push_str("  </div>\n");
    }
    s.push_str(" </body>\n</html>\n");
    s
}
