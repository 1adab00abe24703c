//! ALTO v4 (schema 4.2, <https://www.loc.gov/standards/alto/>): pages, text blocks, lines and
//! strings with their boxes in pixels, the restored text as CONTENT and Tesseract's word
//! confidence as WC (0-1). Validates against the official XSD (tests/data/formats/alto-4-2.xsd).

use super::hocr::blocks;
use super::xml_escape;
use crate::doc::{Document, Line};
use std::fmt::Write;

pub const NAMESPACE: &str = "http://www.loc.gov/standards/alto/ns-v4#";
pub const SCHEMA_LOCATION: &str = "http://www.loc.gov/standards/alto/v4/alto-4-2.xsd";

fn pos(b: [i32; 4]) -> String {
    let (x0, y0) = (b[0].max(0), b[1].max(0));
    format!(
        "HPOS=\"{x0}\" VPOS=\"{y0}\" WIDTH=\"{}\" HEIGHT=\"{}\"",
        (b[2] - x0).max(0),
        (b[3] - y0).max(0)
    )
}

fn union(lines: &[&Line]) -> [i32; 4] {
    crate::doc::union_bbox(lines.iter().map(|l| l.bbox))
}

fn conf(c: f32) -> String {
    format!("{:.3}", (c / 100.0).clamp(0.0, 1.0))
}

pub fn render(doc: &Document) -> String {
    let e = &doc.engine;
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<alto xmlns=\"{NAMESPACE}\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"{NAMESPACE} {SCHEMA_LOCATION}\" SCHEMAVERSION=\"4.2\">"
    );
    s.push_str("  <Description>\n    <MeasurementUnit>pixel</MeasurementUnit>\n");
    s.push_str("    <sourceImageInformation>\n");
    let _ = writeln!(
        s,
        "      <fileName>{}</fileName>",
        xml_escape(&doc.source.path)
    );
    let _ = writeln!(
        s,
        "      <fileIdentifier fileIdentifierLocation=\"sha256\">{}</fileIdentifier>",
        xml_escape(&doc.source.sha256)
    );
    s.push_str("    </sourceImageInformation>\n");
    s.push_str("    <Processing ID=\"sohoa\">\n      <processingCategory>contentGeneration</processingCategory>\n");
    let mut steps = format!("OCR: Tesseract {} ({})", e.tesseract, e.lang);
    if let Some(m) = &e.restore_model {
        let _ = write!(steps, "; Vietnamese diacritic restoration: {m}");
    }
    let _ = writeln!(
        s,
        "      <processingStepDescription>{}</processingStepDescription>",
        xml_escape(&steps)
    );
    s.push_str("      <processingSoftware>\n        <softwareName>sohoa</softwareName>\n");
    let _ = writeln!(
        s,
        "        <softwareVersion>{}</softwareVersion>",
        xml_escape(&e.sohoa)
    );
    s.push_str("      </processingSoftware>\n    </Processing>\n  </Description>\n  <Layout>\n");
    for p in &doc.pages {
        let n = p.index;
        let words: Vec<f32> = p
            .lines
            .iter()
            .flat_map(|l| l.words.iter().map(|w| w.conf))
            .collect();
        let pc = if words.is_empty() {
            String::new()
        } else {
            format!(
                " PC=\"{}\"",
                conf(words.iter().sum::<f32>() / words.len() as f32)
            )
        };
        let _ = writeln!(
            s,
            "    <Page ID=\"p{n}\" PHYSICAL_IMG_NR=\"{n}\" WIDTH=\"{}\" HEIGHT=\"{}\" PROCESSING=\"sohoa\"{pc}>",
            p.width, p.height
        );
        let _ = writeln!(
            s,
            "      <PrintSpace {}>",
            pos([0, 0, p.width as i32, p.height as i32])
        );
        for (bi, block) in blocks(p).iter().enumerate() {
            let bid = format!("p{n}_b{}", bi + 1);
            let _ = writeln!(
                s,
                "        <TextBlock ID=\"{bid}\" {} LANG=\"vi\">",
                pos(union(block))
            );
            for (li, l) in block.iter().enumerate() {
                let lid = format!("{bid}_l{}", li + 1);
                let _ = writeln!(s, "          <TextLine ID=\"{lid}\" {}>", pos(l.bbox));
                let ws: Vec<_> = l
                    .words
                    .iter()
                    .filter(|w| !w.text.trim().is_empty())
                    .collect();
                for (wi, w) in ws.iter().enumerate() {
                    let _ = writeln!(
                        s,
                        "            <String ID=\"{lid}_w{}\" {} CONTENT=\"{}\" WC=\"{}\"/>",
                        wi + 1,
                        pos(w.bbox),
                        xml_escape(w.text.trim()),
                        conf(w.conf)
                    );
                    if let Some(next) = ws.get(wi + 1) {
                        let x = w.bbox[2].max(0);
                        let _ = writeln!(
                            s,
                            "            <SP WIDTH=\"{}\" HPOS=\"{x}\" VPOS=\"{}\"/>",
                            (next.bbox[0] - x).max(0),
                            w.bbox[1].max(0)
                        );
                    }
                }
                s.push_str("          </TextLine>\n");
            }
            s.push_str("        </TextBlock>\n");
        }
        s.push_str("      </PrintSpace>\n    </Page>\n");
    }
    s.push_str("  </Layout>\n</alto>\n");
    s
}
