//! PDF/A-2b for the searchable PDF: the document's metadata (XMP with Dublin Core, the sohoa
//! namespace and the `pdfaid` claim, and the matching Info dictionary), the sRGB output intent,
//! and a structural conformance check.
//!
//! The check is what the writer runs before it claims PDF/A: a copied source page can bring
//! what PDF/A forbids and sohoa cannot repair without changing the page (a font that is not
//! embedded, CMYK colour under an sRGB output intent, an annotation without an appearance), and
//! such a file is written as plain PDF, with a warning, rather than one that claims PDF/A and
//! fails validation. The tests run the same check, plus the checks on the file's bytes, on
//! every PDF they write. docs/pdfa.md says what only a full validator (veraPDF) can confirm.

use crate::doc::Document;
use crate::emit::xml_escape;
use lopdf::{dictionary, Dictionary, Object, ObjectId, Stream, StringFormat};

/// sRGB IEC61966-2.1 (ICC v2, 6,922 bytes), from Debian's icc-profiles-free, zlib licence
/// (assets/icc/README.md).
pub const SRGB_ICC: &[u8] = include_bytes!("../../assets/icc/sRGB.icc");
/// A grey display profile (ICC v2, 420 bytes), same source and licence.
pub const GRAY_ICC: &[u8] = include_bytes!("../../assets/icc/Gray.icc");

/// The output intent: sRGB when the document draws in RGB, else grey. Most archive scans are
/// black and white or grey, and the grey profile costs 0.3 kB where sRGB costs 2.4 kB: on a small
/// fax page that is the difference between meeting the size budget or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Gray,
    Srgb,
}

impl Intent {
    /// The intent `doc` needs: sRGB when anything in it names DeviceRGB or paints with rg/RG.
    pub fn for_document(doc: &lopdf::Document) -> Intent {
        let rgb_object = doc.objects.values().any(|o| {
            let d = match o {
                Object::Dictionary(d) => d,
                Object::Stream(s) => &s.dict,
                _ => return false,
            };
            d.iter()
                .any(|(_, v)| uses_space(doc, v, b"DeviceRGB", b"RGB", 0))
        });
        let rgb_ops = doc.get_pages().values().any(|&p| {
            page_ops(doc, p).iter().any(|o| {
                o.operator == "rg"
                    || o.operator == "RG"
                    || ((o.operator == "cs" || o.operator == "CS")
                        && o.operands.first().and_then(|x| x.as_name().ok()) == Some(b"DeviceRGB"))
            })
        });
        if rgb_object || rgb_ops {
            Intent::Srgb
        } else {
            Intent::Gray
        }
    }
}

fn page_ops(doc: &lopdf::Document, page: ObjectId) -> Vec<lopdf::content::Operation> {
    lopdf::content::Content::decode(&doc.get_page_content(page))
        .map(|c| c.operations)
        .unwrap_or_default()
}

/// The namespace of sohoa's own XMP properties (the administrative fields).
pub const SOHOA_NS: &str = "urn:sohoa:ns:document:1.0/";

/// sohoa's XMP properties: name, and what it holds (the PDF/A extension schema describes each).
const SOHOA_PROPS: [(&str, &str); 10] = [
    ("type", "Document type"),
    ("summary", "Summary"),
    ("issuer", "Issuing body"),
    ("number", "Document number"),
    ("date", "Date of issue"),
    ("place", "Place of issue"),
    ("signer", "Signer"),
    ("signerTitle", "Signer's position"),
    ("signerAuthority", "Signing on behalf of"),
    ("sourceSha256", "SHA-256 of the source"),
];

/// The metadata written into the XMP packet and the Info dictionary.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// Type and summary ("Kế hoạch tổ chức …"), else the source file's name.
    pub title: String,
    /// The issuing body.
    pub creator: Option<String>,
    pub description: Option<String>,
    pub identifier: Option<String>,
    /// ISO 8601 date of the document.
    pub date: Option<String>,
    /// sohoa namespace properties, in [`SOHOA_PROPS`] order where present.
    pub fields: Vec<(&'static str, String)>,
    pub producer: String,
    /// Seconds since the Unix epoch at which the file is written.
    pub written: u64,
}

/// "KẾ HOẠCH" → "Kế hoạch": the type as it starts a title.
fn sentence_case(s: &str) -> String {
    let lower = s.to_lowercase();
    let mut c = lower.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl Metadata {
    pub fn of(doc: &Document) -> Metadata {
        let f = doc.document.clone().unwrap_or_default();
        let v = |x: &Option<crate::structure::Field<String>>| {
            x.as_ref()
                .map(|x| crate::text::nfc(x.value.trim()))
                .filter(|s| !s.is_empty())
        };
        let doc_type = v(&f.doc_type);
        let summary = v(&f.summary);
        let issuer = f
            .issuer
            .as_ref()
            .map(|i| crate::text::nfc(&i.value.join(" / ")))
            .filter(|s| !s.trim().is_empty());
        let signer = f.signer.clone().unwrap_or_default();
        let file_name = std::path::Path::new(&doc.source.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let title = match (&doc_type, &summary) {
            (Some(t), Some(s)) => format!("{} {s}", sentence_case(t)),
            (Some(t), None) => sentence_case(t),
            (None, Some(s)) => s.clone(),
            (None, None) => file_name,
        };
        let date = v(&f.date).filter(|d| is_iso_date(d));
        let mut fields: Vec<(&'static str, String)> = Vec::new();
        for (name, value) in [
            ("type", doc_type),
            ("summary", summary.clone()),
            ("issuer", issuer.clone()),
            ("number", v(&f.number)),
            ("date", date.clone()),
            ("place", v(&f.place)),
            ("signer", v(&signer.name)),
            ("signerTitle", v(&signer.title)),
            ("signerAuthority", v(&signer.authority)),
            (
                "sourceSha256",
                Some(doc.source.sha256.clone()).filter(|s| !s.is_empty()),
            ),
        ] {
            if let Some(value) = value {
                fields.push((name, value));
            }
        }
        let written = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            });
        Metadata {
            title,
            creator: issuer,
            description: summary,
            identifier: v(&f.number),
            date,
            fields,
            producer: format!("sohoa {}", env!("CARGO_PKG_VERSION")),
            written,
        }
    }
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// (year, month, day, hour, minute, second) in UTC of a Unix time.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
    )
}

fn xmp_date(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+00:00")
}

fn pdf_date(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("D:{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}+00'00'")
}

/// A PDF text string: PDFDocEncoding when ASCII, else UTF-16BE with its byte order mark.
fn text_string(s: &str) -> Object {
    if s.is_ascii() {
        Object::String(s.as_bytes().to_vec(), StringFormat::Literal)
    } else {
        let mut b = vec![0xFE, 0xFF];
        b.extend(s.encode_utf16().flat_map(|u| u.to_be_bytes()));
        Object::String(b, StringFormat::Hexadecimal)
    }
}

/// The text of a PDF text string (UTF-16BE with a BOM, else PDFDocEncoding read as Latin-1).
pub fn decode_text(b: &[u8]) -> String {
    if let Some(rest) = b.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        b.iter().map(|&c| c as char).collect()
    }
}

/// The XMP packet; `claim` adds the PDF/A-2b identification.
pub fn xmp(m: &Metadata, claim: bool) -> String {
    let e = xml_escape;
    let mut x = String::new();
    x.push_str("<?xpacket begin=\"\u{FEFF}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n");
    x.push_str("<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n");
    x.push_str("<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n");
    x.push_str("<rdf:Description rdf:about=\"\"\n");
    x.push_str("  xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n");
    x.push_str("  xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n");
    x.push_str("  xmlns:pdf=\"http://ns.adobe.com/pdf/1.3/\"\n");
    x.push_str(&format!("  xmlns:sohoa=\"{SOHOA_NS}\"\n"));
    if claim {
        x.push_str("  xmlns:pdfaid=\"http://www.aiim.org/pdfa/ns/id/\"\n");
        x.push_str("  xmlns:pdfaExtension=\"http://www.aiim.org/pdfa/ns/extension/\"\n");
        x.push_str("  xmlns:pdfaSchema=\"http://www.aiim.org/pdfa/ns/schema#\"\n");
        x.push_str("  xmlns:pdfaProperty=\"http://www.aiim.org/pdfa/ns/property#\"");
    }
    x.push_str(">\n");
    if claim {
        x.push_str("<pdfaid:part>2</pdfaid:part>\n<pdfaid:conformance>B</pdfaid:conformance>\n");
    }
    x.push_str("<dc:format>application/pdf</dc:format>\n");
    x.push_str(&format!(
        "<dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></dc:title>\n",
        e(&m.title)
    ));
    if let Some(c) = &m.creator {
        x.push_str(&format!(
            "<dc:creator><rdf:Seq><rdf:li>{}</rdf:li></rdf:Seq></dc:creator>\n",
            e(c)
        ));
    }
    if let Some(d) = &m.description {
        x.push_str(&format!(
            "<dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></dc:description>\n",
            e(d)
        ));
    }
    if let Some(i) = &m.identifier {
        x.push_str(&format!("<dc:identifier>{}</dc:identifier>\n", e(i)));
    }
    if let Some(d) = &m.date {
        x.push_str(&format!(
            "<dc:date><rdf:Seq><rdf:li>{}</rdf:li></rdf:Seq></dc:date>\n",
            e(d)
        ));
    }
    x.push_str("<dc:language><rdf:Bag><rdf:li>vi</rdf:li></rdf:Bag></dc:language>\n");
    let when = xmp_date(m.written);
    x.push_str(&format!(
        "<xmp:CreateDate>{when}</xmp:CreateDate>\n<xmp:ModifyDate>{when}</xmp:ModifyDate>\n\
         <xmp:MetadataDate>{when}</xmp:MetadataDate>\n<xmp:CreatorTool>{p}</xmp:CreatorTool>\n\
         <pdf:Producer>{p}</pdf:Producer>\n",
        p = e(&m.producer)
    ));
    for (name, value) in &m.fields {
        x.push_str(&format!("<sohoa:{name}>{}</sohoa:{name}>\n", e(value)));
    }
    if claim && !m.fields.is_empty() {
        // PDF/A-2 accepts only predefined XMP properties, or ones an extension schema describes.
        x.push_str("<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType=\"Resource\">\n");
        x.push_str("<pdfaSchema:schema>sohoa administrative document fields</pdfaSchema:schema>\n");
        x.push_str(&format!(
            "<pdfaSchema:namespaceURI>{SOHOA_NS}</pdfaSchema:namespaceURI>\n"
        ));
        x.push_str(
            "<pdfaSchema:prefix>sohoa</pdfaSchema:prefix>\n<pdfaSchema:property><rdf:Seq>\n",
        );
        // Only the properties the packet holds: on a one-page scan every byte counts.
        for (name, what) in SOHOA_PROPS
            .iter()
            .filter(|p| m.fields.iter().any(|f| f.0 == p.0))
        {
            x.push_str(&format!(
                "<rdf:li rdf:parseType=\"Resource\"><pdfaProperty:name>{name}</pdfaProperty:name>\
                 <pdfaProperty:valueType>Text</pdfaProperty:valueType>\
                 <pdfaProperty:category>external</pdfaProperty:category>\
                 <pdfaProperty:description>{}</pdfaProperty:description></rdf:li>\n",
                e(what)
            ));
        }
        x.push_str(
            "</rdf:Seq></pdfaSchema:property>\n</rdf:li></rdf:Bag></pdfaExtension:schemas>\n",
        );
    }
    x.push_str("</rdf:Description>\n</rdf:RDF>\n</x:xmpmeta>\n");
    // No padding for in-place edits: an archive rewrites the file anyway, and on a one-page scan
    // every kB counts against the size budget.
    x.push_str("<?xpacket end=\"w\"?>");
    x
}

/// The document-level parts: version and binary header mark, Info and XMP (with the claim when
/// `claim`), the sRGB output intent, a file identifier. Replaces any earlier ones.
pub fn finish(out: &mut lopdf::Document, m: &Metadata, claim: bool, intent: Intent, id: [u8; 16]) {
    out.version = "1.7".into();
    out.binary_mark = vec![0xE2, 0xE3, 0xCF, 0xD3];
    let when = pdf_date(m.written);
    let mut info = dictionary! {
        "Title" => text_string(&m.title),
        "Creator" => text_string(&m.producer),
        "Producer" => text_string(&m.producer),
        "CreationDate" => Object::string_literal(when.clone()),
        "ModDate" => Object::string_literal(when),
    };
    if let Some(c) = &m.creator {
        info.set("Author", text_string(c));
    }
    if let Some(d) = &m.description {
        info.set("Subject", text_string(d));
    }
    let info_id = out.add_object(info);
    let xmp_dict = dictionary! { "Type" => "Metadata", "Subtype" => "XML" };
    // Uncompressed: PDF/A wants the packet readable by tools that do not parse PDF.
    let meta_id =
        out.add_object(Stream::new(xmp_dict, xmp(m, claim).into_bytes()).with_compression(false));
    let (n, profile, name) = match intent {
        Intent::Srgb => (3, SRGB_ICC, "sRGB IEC61966-2.1"),
        Intent::Gray => (1, GRAY_ICC, "Gray"),
    };
    let mut icc = Stream::new(dictionary! { "N" => n }, profile.to_vec());
    let _ = icc.compress();
    let icc_id = out.add_object(icc);
    let intent = dictionary! {
        "Type" => "OutputIntent",
        "S" => "GTS_PDFA1",
        "OutputConditionIdentifier" => Object::string_literal(name),
        "Info" => Object::string_literal(name),
        "RegistryName" => Object::string_literal("http://www.color.org"),
        "DestOutputProfile" => Object::Reference(icc_id),
    };
    if let Ok(cat) = out.catalog_mut() {
        cat.set("Metadata", Object::Reference(meta_id));
        cat.set(
            "OutputIntents",
            Object::Array(vec![Object::Dictionary(intent)]),
        );
    }
    out.trailer.set("Info", Object::Reference(info_id));
    out.trailer.remove(b"Encrypt");
    let id = Object::String(id.to_vec(), StringFormat::Hexadecimal);
    out.trailer.set("ID", Object::Array(vec![id.clone(), id]));
}

/// What stands between a document and PDF/A-2b, as far as its structure shows.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Violations: a file with any must not claim PDF/A-2b.
    pub problems: Vec<String>,
    /// Allowed, but worth knowing (a copied font without a ToUnicode map: its text may not copy).
    pub notes: Vec<String>,
}

impl Report {
    fn problem(&mut self, s: String) {
        if !self.problems.contains(&s) {
            self.problems.push(s);
        }
    }
    fn note(&mut self, s: String) {
        if !self.notes.contains(&s) {
            self.notes.push(s);
        }
    }
}

fn name_of<'a>(d: &'a Dictionary, key: &[u8]) -> Option<&'a [u8]> {
    d.get(key).ok().and_then(|o| o.as_name().ok())
}

fn resolve<'a>(doc: &'a lopdf::Document, o: &'a Object) -> &'a Object {
    doc.dereference(o).map(|(_, o)| o).unwrap_or(o)
}

fn dict_of<'a>(doc: &'a lopdf::Document, o: &'a Object) -> Option<&'a Dictionary> {
    match resolve(doc, o) {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

const FORBIDDEN_ACTIONS: [&[u8]; 11] = [
    b"Launch",
    b"Sound",
    b"Movie",
    b"ResetForm",
    b"ImportData",
    b"JavaScript",
    b"Hide",
    b"SetOCGState",
    b"Rendition",
    b"Trans",
    b"GoTo3DView",
];

const FORBIDDEN_ANNOTS: [&[u8]; 5] = [b"Sound", b"Movie", b"Screen", b"3D", b"FileAttachment"];

/// The document-level and object-level PDF/A-2b requirements that its structure shows (the
/// bytes of the file are [`check_file`]'s).
pub fn check(doc: &lopdf::Document) -> Report {
    let mut r = Report::default();
    if doc.trailer.get(b"Encrypt").is_ok() {
        r.problem("the file is encrypted".into());
    }
    match doc.trailer.get(b"ID").map(|o| resolve(doc, o)) {
        Ok(Object::Array(a)) if a.len() == 2 => {}
        _ => r.problem("no file identifier (trailer /ID)".into()),
    }
    let Ok(cat) = doc.catalog() else {
        r.problem("no document catalog".into());
        return r;
    };
    let n = check_catalog(doc, cat, &mut r);
    for (&id, obj) in &doc.objects {
        check_object(doc, id, obj, n, &mut r);
    }
    for (n_page, page_id) in doc.get_pages() {
        check_page(doc, n_page, page_id, n, &mut r);
    }
    r
}

/// Checks the catalog; returns the number of components of the output intent (0 when none).
fn check_catalog(doc: &lopdf::Document, cat: &Dictionary, r: &mut Report) -> i64 {
    let xmp = match cat.get(b"Metadata").map(|o| resolve(doc, o)) {
        Ok(Object::Stream(s)) => {
            if s.dict.get(b"Filter").is_ok() {
                r.problem("the XMP metadata stream is compressed".into());
            }
            String::from_utf8_lossy(&s.content).into_owned()
        }
        _ => {
            r.problem("no XMP metadata".into());
            String::new()
        }
    };
    if !xmp.is_empty() {
        let part =
            xmp.contains("<pdfaid:part>2</pdfaid:part>") || xmp.contains("pdfaid:part=\"2\"");
        let conf = xmp.contains("<pdfaid:conformance>B</pdfaid:conformance>")
            || xmp.contains("pdfaid:conformance=\"B\"");
        if !(part && conf) {
            r.problem("the XMP does not identify PDF/A-2b (pdfaid part 2, conformance B)".into());
        }
        if xmp.contains("<sohoa:") && !xmp.contains("<pdfaSchema:prefix>sohoa<") {
            r.problem("the sohoa XMP namespace has no PDF/A extension schema".into());
        }
        // The Info dictionary must say what the XMP says.
        if let Ok(info) = doc.trailer.get(b"Info").and_then(|o| doc.dereference(o)) {
            if let Object::Dictionary(info) = info.1 {
                for key in ["Title", "Author", "Subject", "Producer", "Creator"] {
                    if let Ok(Object::String(b, _)) = info.get(key.as_bytes()) {
                        let v = xml_escape(&decode_text(b));
                        if !xmp.contains(&format!(">{v}<")) {
                            r.problem(format!("Info /{key} is not in the XMP metadata"));
                        }
                    }
                }
            }
        }
    }
    let intents = match cat.get(b"OutputIntents").map(|o| resolve(doc, o)) {
        Ok(Object::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    let mut pdfa_intent = false;
    let mut components = 0;
    for i in &intents {
        let Some(d) = dict_of(doc, i) else { continue };
        if name_of(d, b"S") != Some(b"GTS_PDFA1") {
            continue;
        }
        pdfa_intent = true;
        match d.get(b"DestOutputProfile").map(|o| resolve(doc, o)) {
            Ok(Object::Stream(s)) => {
                let icc = s
                    .decompressed_content()
                    .unwrap_or_else(|_| s.content.clone());
                let n = s.dict.get(b"N").and_then(|n| n.as_i64()).unwrap_or(0);
                components = n;
                let space = icc.get(16..20).unwrap_or_default();
                let ok = icc.get(36..40) == Some(b"acsp")
                    && matches!((n, space), (3, b"RGB ") | (1, b"GRAY") | (4, b"CMYK"));
                if !ok {
                    r.problem("the output intent's ICC profile is not valid".into());
                }
            }
            _ => r.problem("the output intent has no ICC profile".into()),
        }
    }
    if !pdfa_intent {
        r.problem("no PDF/A output intent".into());
    }
    if let Ok(form) = cat.get(b"AcroForm").map(|o| resolve(doc, o)) {
        if let Some(f) = dict_of(doc, form) {
            if matches!(f.get(b"NeedAppearances"), Ok(Object::Boolean(true))) {
                r.problem("the form asks readers to draw its fields (NeedAppearances)".into());
            }
            if f.get(b"XFA").is_ok() {
                r.problem("the form is XFA".into());
            }
        }
    }
    if cat.get(b"AA").is_ok() {
        r.problem("the catalog has additional actions".into());
    }
    components
}

/// `n`: the output intent's number of components, which decides the device colour spaces allowed.
fn check_object(doc: &lopdf::Document, id: ObjectId, obj: &Object, n: i64, r: &mut Report) {
    let d = match obj {
        Object::Dictionary(d) => d,
        Object::Stream(s) => {
            if s.dict.get(b"F").is_ok() || s.dict.get(b"FFilter").is_ok() {
                r.problem(format!("object {} 0: a stream with external data", id.0));
            }
            let filters: Vec<&[u8]> = s.filters().unwrap_or_default();
            if filters.iter().any(|f| *f == b"LZWDecode" || *f == b"Crypt") {
                r.problem(format!("object {} 0: LZW or Crypt filter", id.0));
            }
            &s.dict
        }
        _ => return,
    };
    let ty = name_of(d, b"Type");
    let sub = name_of(d, b"Subtype");
    if ty == Some(b"Font") {
        check_font(doc, id, d, r);
    }
    if sub == Some(b"Image") {
        if matches!(d.get(b"Interpolate"), Ok(Object::Boolean(true))) {
            r.problem(format!("object {} 0: image with /Interpolate true", id.0));
        }
        if d.get(b"Alternates").is_ok() || d.get(b"OPI").is_ok() {
            r.problem(format!("object {} 0: image with alternates or OPI", id.0));
        }
    }
    if sub == Some(b"PS") || name_of(d, b"Subtype2") == Some(b"PS") {
        r.problem(format!("object {} 0: PostScript XObject", id.0));
    }
    if sub == Some(b"Form") && d.get(b"OPI").is_ok() {
        r.problem(format!("object {} 0: form with OPI", id.0));
    }
    if ty == Some(b"ExtGState") || d.get(b"TR").is_ok() || d.get(b"HTP").is_ok() {
        if d.get(b"TR").is_ok() || d.get(b"HTP").is_ok() {
            r.problem(format!(
                "object {} 0: transfer function or halftone phase",
                id.0
            ));
        }
        if let Ok(tr2) = d.get(b"TR2") {
            if tr2.as_name().ok() != Some(b"Default") {
                r.problem(format!("object {} 0: transfer function (TR2)", id.0));
            }
        }
    }
    if let Some(s) = name_of(d, b"S") {
        if FORBIDDEN_ACTIONS.contains(&s) {
            r.problem(format!(
                "object {} 0: {} action",
                id.0,
                String::from_utf8_lossy(s)
            ));
        }
    }
    if d.get(b"JS").is_ok() || d.get(b"JavaScript").is_ok() {
        r.problem(format!("object {} 0: JavaScript", id.0));
    }
    if ty == Some(b"EmbeddedFile") || d.get(b"EmbeddedFiles").is_ok() {
        r.problem(format!("object {} 0: embedded file", id.0));
    }
    if ty == Some(b"Annot") || (d.get(b"Rect").is_ok() && sub.is_some() && ty.is_none()) {
        check_annot(id, d, r);
    }
    // Device colour needs an output intent of its kind (sohoa's is grey or sRGB, never CMYK).
    for (space, short, intent_n) in [
        (&b"DeviceCMYK"[..], &b"CMYK"[..], 4),
        (b"DeviceRGB", b"RGB", 3),
    ] {
        if n == intent_n {
            continue;
        }
        let default = [b"Default".as_slice(), short].concat();
        if d.iter()
            .any(|(k, v)| uses_space(doc, v, space, short, 0) && *k != default)
        {
            r.problem(format!(
                "object {} 0: {} colour under a {n}-component output intent",
                id.0,
                String::from_utf8_lossy(space)
            ));
        }
    }
}

/// Whether `v` names the colour space `space` (or its inline-image abbreviation `short`), itself
/// or as the base of an indexed, separation or DeviceN space.
fn uses_space(doc: &lopdf::Document, v: &Object, space: &[u8], short: &[u8], depth: usize) -> bool {
    if depth > 3 {
        return false;
    }
    match v {
        Object::Name(n) => n == space || n == short,
        Object::Array(a) => a
            .iter()
            .any(|o| uses_space(doc, o, space, short, depth + 1)),
        Object::Reference(_) => match resolve(doc, v) {
            Object::Array(a) => a
                .iter()
                .any(|o| uses_space(doc, o, space, short, depth + 1)),
            _ => false,
        },
        _ => false,
    }
}

fn check_annot(id: ObjectId, d: &Dictionary, r: &mut Report) {
    let sub = name_of(d, b"Subtype").unwrap_or_default();
    if FORBIDDEN_ANNOTS.contains(&sub) {
        r.problem(format!(
            "object {} 0: {} annotation",
            id.0,
            String::from_utf8_lossy(sub)
        ));
        return;
    }
    if sub == b"Popup" {
        return;
    }
    let flags = d.get(b"F").and_then(|f| f.as_i64()).unwrap_or(0);
    if flags & 4 == 0 || flags & (1 | 2 | 32) != 0 {
        r.problem(format!(
            "object {} 0: {} annotation not set to print, or hidden",
            id.0,
            String::from_utf8_lossy(sub)
        ));
    }
    if sub != b"Link" {
        let normal = d
            .get(b"AP")
            .ok()
            .and_then(|ap| ap.as_dict().ok())
            .is_some_and(|ap| ap.get(b"N").is_ok());
        if !normal && d.get(b"AP").is_err() {
            r.problem(format!(
                "object {} 0: {} annotation without an appearance",
                id.0,
                String::from_utf8_lossy(sub)
            ));
        }
    }
}

fn check_font(doc: &lopdf::Document, id: ObjectId, d: &Dictionary, r: &mut Report) {
    let sub = name_of(d, b"Subtype").unwrap_or_default();
    let base = String::from_utf8_lossy(name_of(d, b"BaseFont").unwrap_or(b"?")).into_owned();
    if sub == b"CIDFontType0" || sub == b"CIDFontType2" {
        return; // checked through its Type 0 parent
    }
    if d.get(b"ToUnicode").is_err() {
        if base.contains("GlyphLessSohoa") {
            r.problem(format!(
                "object {} 0: sohoa's text font has no ToUnicode",
                id.0
            ));
        } else {
            r.note(format!("font {base}: no ToUnicode map"));
        }
    }
    if sub == b"Type3" {
        return;
    }
    let descriptor_of = |f: &Dictionary| {
        f.get(b"FontDescriptor")
            .ok()
            .and_then(|o| dict_of(doc, o))
            .cloned()
    };
    let (fd, cid) = if sub == b"Type0" {
        let desc = d
            .get(b"DescendantFonts")
            .ok()
            .map(|o| resolve(doc, o))
            .and_then(|o| o.as_array().ok())
            .and_then(|a| a.first())
            .and_then(|o| dict_of(doc, o));
        match desc {
            Some(c) => {
                if name_of(c, b"Subtype") == Some(b"CIDFontType2") && c.get(b"CIDToGIDMap").is_err()
                {
                    r.problem(format!("font {base}: CIDFontType2 without CIDToGIDMap"));
                }
                (descriptor_of(c), true)
            }
            None => {
                r.problem(format!("font {base}: Type 0 without a descendant font"));
                return;
            }
        }
    } else {
        (descriptor_of(d), false)
    };
    let embedded = fd.is_some_and(|fd| {
        fd.get(b"FontFile").is_ok() || fd.get(b"FontFile2").is_ok() || fd.get(b"FontFile3").is_ok()
    });
    if !embedded {
        r.problem(format!(
            "font {base} is not embedded{}",
            if cid { " (CID font)" } else { "" }
        ));
    }
}

fn check_page(doc: &lopdf::Document, n: u32, page_id: ObjectId, intent_n: i64, r: &mut Report) {
    // Inheritable: look up the page tree.
    let mut node = doc.get_dictionary(page_id).ok();
    let mut media = None;
    let mut hops = 0;
    while let Some(d) = node {
        if let Ok(m) = d.get(b"MediaBox") {
            media = Some(resolve(doc, m).clone());
            break;
        }
        hops += 1;
        node = d
            .get(b"Parent")
            .ok()
            .and_then(|p| p.as_reference().ok())
            .and_then(|p| doc.get_dictionary(p).ok())
            .filter(|_| hops < 64);
    }
    let nums = |o: &Object| -> Option<Vec<f32>> {
        let a = resolve(doc, o).as_array().ok()?;
        let v: Vec<f32> = a.iter().filter_map(|x| x.as_float().ok()).collect();
        (v.len() == 4).then_some(v)
    };
    match media.as_ref().and_then(nums) {
        Some(b) => {
            let (w, h) = ((b[2] - b[0]).abs(), (b[3] - b[1]).abs());
            if !(3.0..=14_400.0).contains(&w) || !(3.0..=14_400.0).contains(&h) {
                r.problem(format!("page {n}: page size {w} x {h} outside 3..14400"));
            }
        }
        None => r.problem(format!("page {n}: no valid MediaBox")),
    }
    if let Ok(d) = doc.get_dictionary(page_id) {
        for key in ["CropBox", "BleedBox", "TrimBox", "ArtBox"] {
            if let Ok(b) = d.get(key.as_bytes()) {
                if nums(b).is_none() {
                    r.problem(format!("page {n}: invalid /{key}"));
                }
            }
        }
        if d.get(b"AA").is_ok() {
            r.problem(format!("page {n}: additional actions"));
        }
        // Device colour in the page's own drawing operators.
        let ops = page_ops(doc, page_id);
        for (space, fill, stroke, space_n) in [
            (&b"DeviceCMYK"[..], "k", "K", 4),
            (b"DeviceRGB", "rg", "RG", 3),
        ] {
            if intent_n == space_n {
                continue;
            }
            if ops.iter().any(|o| {
                o.operator == fill
                    || o.operator == stroke
                    || ((o.operator == "cs" || o.operator == "CS")
                        && o.operands.first().and_then(|x| x.as_name().ok()) == Some(space))
            }) {
                r.problem(format!(
                    "page {n}: {} colour under a {intent_n}-component output intent",
                    String::from_utf8_lossy(space)
                ));
            }
        }
    }
}

/// The requirements on the file's bytes: the header and its binary comment, nothing after the
/// last end-of-file marker.
pub fn check_file(bytes: &[u8]) -> Report {
    let mut r = Report::default();
    if !bytes.starts_with(b"%PDF-1.") && !bytes.starts_with(b"%PDF-2.") {
        r.problem("no %PDF- header".into());
    }
    let second = bytes
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|i| {
            let mut j = i;
            while j < bytes.len() && (bytes[j] == b'\n' || bytes[j] == b'\r') {
                j += 1;
            }
            &bytes[j..bytes.len().min(j + 5)]
        })
        .unwrap_or_default();
    if !(second.len() == 5 && second[0] == b'%' && second[1..].iter().all(|&b| b >= 128)) {
        r.problem("no binary comment after the header".into());
    }
    match bytes.windows(5).rposition(|w| w == b"%%EOF") {
        Some(i) => {
            if !bytes[i + 5..].iter().all(|&b| b == b'\n' || b == b'\r') {
                r.problem("data after the last %%EOF".into());
            }
        }
        None => r.problem("no %%EOF".into()),
    }
    r
}

/// [`check_file`] and [`check`] on a PDF's bytes.
pub fn check_bytes(bytes: &[u8]) -> Report {
    let mut r = check_file(bytes);
    match lopdf::Document::load_mem(bytes) {
        Ok(doc) => {
            let s = check(&doc);
            r.problems.extend(s.problems);
            r.notes.extend(s.notes);
        }
        Err(e) => r.problems.push(format!("cannot be parsed: {e}")),
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_become_calendar_dates() {
        assert_eq!(xmp_date(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(pdf_date(1_709_210_096), "D:20240229123456+00'00'");
    }

    #[test]
    fn the_type_starts_the_title_in_sentence_case() {
        assert_eq!(sentence_case("KẾ HOẠCH"), "Kế hoạch");
    }

    #[test]
    fn the_xmp_claims_pdfa_only_when_asked_and_describes_its_namespace() {
        let m = Metadata {
            title: "Kế hoạch <1>".into(),
            fields: vec![("number", "101/KH-UBND".into())],
            producer: "sohoa".into(),
            ..Default::default()
        };
        let with = xmp(&m, true);
        assert!(with.contains("<pdfaid:part>2</pdfaid:part>"));
        assert!(with.contains("<pdfaSchema:prefix>sohoa</pdfaSchema:prefix>"));
        assert!(with.contains("Kế hoạch &lt;1&gt;"));
        assert!(with.contains("<sohoa:number>101/KH-UBND</sohoa:number>"));
        assert!(!xmp(&m, false).contains("pdfaid"));
    }

    #[test]
    fn the_profiles_are_display_profiles_of_their_colour_spaces() {
        for (icc, space) in [(SRGB_ICC, b"RGB "), (GRAY_ICC, b"GRAY")] {
            assert_eq!(&icc[36..40], b"acsp");
            assert_eq!(&icc[12..16], b"mntr");
            assert_eq!(&icc[16..20], space);
        }
    }
}
