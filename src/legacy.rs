//! Pre-Unicode Vietnamese encodings: TCVN3 (TCVN 5712:1993, the "ABC" `.VnTime` fonts) and VNI
//! (the `VNI-Times` fonts), detected and converted to Unicode NFC.
//!
//! Documents typed before about 2005 used 8-bit fonts whose glyphs sit at the code points of
//! Latin-1 letters, so their text, extracted from a PDF or saved as a plain file, reads as
//! mojibake: "Céng hoµ x· héi chñ nghÜa" (TCVN3), "Coäng hoøa xaõ hoäi chuû nghóa" (VNI). The
//! text is converted byte for byte: each extracted character is taken back to the byte that the
//! font drew (Latin-1, or Windows-1252 for 0x80-0x9F, which is what PDF's WinAnsiEncoding and
//! Word's files give), and that byte through the published table.
//!
//! TCVN3's 8-bit font ("VN3") has only seven capitals with marks (Ă Â Ê Ô Ơ Ư Đ); a capital Ấ
//! was typed in the matching capitals font (`.VnTimeH`), which draws the code of ấ as Ấ. So a PDF
//! run in an `…H` font is upper-cased after conversion ([`font_encoding`] says which). The full
//! TCVN 5712 table ("VN1") also gives the other capitals codes in 0x01-0x17 and 0x80-0xFF; it is
//! decoded here too, as a superset.
//!
//! VNI writes a letter as its base and one trailing mark character (ấ = "a" + "á"), with single
//! codes for the i's, ỵ and đ.

use std::collections::HashSet;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

/// A legacy Vietnamese encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// TCVN 5712:1993 (TCVN3, "ABC"; `.VnTime`, `.VnArial`, …).
    Tcvn3,
    /// VNI-Windows (`VNI-Times`, `VNI-Helve`, …).
    Vni,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Tcvn3 => "tcvn3",
            Encoding::Vni => "vni",
        }
    }
}

/// TCVN 5712:1993 bytes 0xA0-0xFF (the same in VN1 and VN3; VN3 leaves the capitals' codes
/// unused). 0xB0-0xB4 are the combining tone marks.
const TCVN_A0: [u16; 96] = [
    0x00a0, 0x0102, 0x00c2, 0x00ca, 0x00d4, 0x01a0, 0x01af, 0x0110, // A0
    0x0103, 0x00e2, 0x00ea, 0x00f4, 0x01a1, 0x01b0, 0x0111, 0x1eb0, // A8
    0x0300, 0x0309, 0x0303, 0x0301, 0x0323, 0x00e0, 0x1ea3, 0x00e3, // B0
    0x00e1, 0x1ea1, 0x1eb2, 0x1eb1, 0x1eb3, 0x1eb5, 0x1eaf, 0x1eb4, // B8
    0x1eae, 0x1ea6, 0x1ea8, 0x1eaa, 0x1ea4, 0x1ec0, 0x1eb7, 0x1ea7, // C0
    0x1ea9, 0x1eab, 0x1ea5, 0x1ead, 0x00e8, 0x1ec2, 0x1ebb, 0x1ebd, // C8
    0x00e9, 0x1eb9, 0x1ec1, 0x1ec3, 0x1ec5, 0x1ebf, 0x1ec7, 0x00ec, // D0
    0x1ec9, 0x1ec4, 0x1ebe, 0x1ed2, 0x0129, 0x00ed, 0x1ecb, 0x00f2, // D8
    0x1ed4, 0x1ecf, 0x00f5, 0x00f3, 0x1ecd, 0x1ed3, 0x1ed5, 0x1ed7, // E0
    0x1ed1, 0x1ed9, 0x1edd, 0x1edf, 0x1ee1, 0x1edb, 0x1ee3, 0x00f9, // E8
    0x1ed6, 0x1ee7, 0x0169, 0x00fa, 0x1ee5, 0x1eeb, 0x1eed, 0x1eef, // F0
    0x1ee9, 0x1ef1, 0x1ef3, 0x1ef7, 0x1ef9, 0x00fd, 0x1ef5, 0x1ed0, // F8
];

/// TCVN 5712 VN1 capitals at 0x80-0x9F.
const TCVN_80: [u16; 32] = [
    0x00c0, 0x1ea2, 0x00c3, 0x00c1, 0x1ea0, 0x1eb6, 0x1eac, 0x00c8, // 80
    0x1eba, 0x1ebc, 0x00c9, 0x1eb8, 0x1ec6, 0x00cc, 0x1ec8, 0x0128, // 88
    0x00cd, 0x1eca, 0x00d2, 0x1ece, 0x00d5, 0x00d3, 0x1ecc, 0x1ed8, // 90
    0x1edc, 0x1ede, 0x1ee0, 0x1eda, 0x1ee2, 0x00d9, 0x1ee6, 0x0168, // 98
];

/// TCVN 5712 VN1 capitals in the C0 range (the codes of tab, newline and CR stay controls).
const TCVN_C0: [(u8, u16); 12] = [
    (0x01, 0x00da),
    (0x02, 0x1ee4),
    (0x04, 0x1eea),
    (0x05, 0x1eec),
    (0x06, 0x1eee),
    (0x11, 0x1ee8),
    (0x12, 0x1ef0),
    (0x13, 0x1ef2),
    (0x14, 0x1ef6),
    (0x15, 0x1ef8),
    (0x16, 0x00dd),
    (0x17, 0x1ef4),
];

/// Windows-1252's 0x80-0x9F (0 where undefined): what PDFium and text editors show for those bytes.
const CP1252_80: [u16; 32] = [
    0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039,
    0x0152, 0, 0x017d, 0, 0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc,
    0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
];

/// The byte a legacy font drew for an extracted character, if it has one.
fn byte_of(c: char) -> Option<u8> {
    let u = c as u32;
    if u <= 0xff {
        return Some(u as u8);
    }
    CP1252_80
        .iter()
        .position(|&x| x as u32 == u)
        .map(|i| 0x80 + i as u8)
}

fn tcvn3_byte(b: u8) -> char {
    let u = match b {
        0xa0..=0xff => TCVN_A0[(b - 0xa0) as usize] as u32,
        0x80..=0x9f => TCVN_80[(b - 0x80) as usize] as u32,
        _ => TCVN_C0
            .iter()
            .find(|(k, _)| *k == b)
            .map_or(b as u32, |(_, v)| *v as u32),
    };
    char::from_u32(u).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// TCVN3 bytes (a plain-text file) to Unicode NFC.
pub fn decode_tcvn3_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| tcvn3_byte(b))
        .collect::<String>()
        .nfc()
        .collect()
}

/// VNI bytes (a plain-text file, Windows-1252 underneath) to Unicode NFC.
pub fn decode_vni_bytes(bytes: &[u8]) -> String {
    let chars: String = bytes.iter().map(|&b| cp1252_char(b)).collect();
    vni_to_unicode(&chars)
}

fn cp1252_char(b: u8) -> char {
    match b {
        0x80..=0x9f => char::from_u32(CP1252_80[(b - 0x80) as usize] as u32)
            .filter(|_| CP1252_80[(b - 0x80) as usize] != 0)
            .unwrap_or(b as char),
        _ => b as char,
    }
}

/// Text extracted through a TCVN3 font to Unicode NFC. `capitals`: the run was set in a capitals
/// font (`.VnTimeH`), which draws every letter as its capital.
pub fn tcvn3_to_unicode(text: &str, capitals: bool) -> String {
    let convert = |t: &str| -> String {
        t.chars()
            .map(|c| byte_of(c).map_or(c, tcvn3_byte))
            .collect::<String>()
            .nfc()
            .collect()
    };
    let mut s = String::with_capacity(text.len() + 8);
    for (k, tok) in text.split(' ').enumerate() {
        if k > 0 {
            s.push(' ');
        }
        s.push_str(&convert(&soft_hyphens_back(tok, &convert)));
    }
    if capitals {
        s.to_uppercase()
    } else {
        s
    }
}

/// TCVN3 puts ư at 0xAD, the soft hyphen, which PDFium extracts as a plain '-': "ng-êi" is
/// "người". A '-' inside a word is taken back to ư when that makes the word a Vietnamese
/// syllable ("57-KL/TW" and a lone dash stay as they are).
fn soft_hyphens_back(tok: &str, convert: &dyn Fn(&str) -> String) -> String {
    if !tok.contains('-') || tok.chars().filter(|c| c.is_alphanumeric()).count() == 0 {
        return tok.to_string();
    }
    let alt = tok.replace('-', "\u{ad}");
    let word: String = convert(&alt)
        .trim_matches(|c: char| !c.is_alphanumeric())
        .chars()
        .flat_map(char::to_lowercase)
        .collect();
    if lexicon().contains(word.as_str()) {
        alt
    } else {
        tok.to_string()
    }
}

/// The five tones as combining marks (sắc, huyền, hỏi, ngã, nặng), in the order of the VNI tone
/// characters below.
const TONE_MARKS: [char; 5] = ['\u{301}', '\u{300}', '\u{309}', '\u{303}', '\u{323}'];
/// VNI's tone characters: after a plain vowel, and with a circumflex or a breve/horn folded in.
const TONES: [char; 5] = ['ù', 'ø', 'û', 'õ', 'ï'];
const CIRC_TONES: [char; 5] = ['á', 'à', 'å', 'ã', 'ä'];
const BREVE_TONES: [char; 5] = ['é', 'è', 'ú', 'ü', 'ë'];

/// The tone mark a VNI tone character of `row` stands for.
fn tone_mark(row: &[char; 5], c: char) -> Option<char> {
    row.iter().position(|k| *k == c).map(|i| TONE_MARKS[i])
}

/// The VNI tone character of `row` for a tone mark.
fn tone_char(row: &[char; 5], mark: char) -> Option<char> {
    TONE_MARKS.iter().position(|m| *m == mark).map(|i| row[i])
}
/// VNI's single-code letters (lower case; capitals are their Latin-1 capitals).
const VNI_SINGLE: [(char, char); 9] = [
    ('í', 'í'),
    ('ì', 'ì'),
    ('æ', 'ỉ'),
    ('ó', 'ĩ'),
    ('ò', 'ị'),
    ('î', 'ỵ'),
    ('ñ', 'đ'),
    ('ô', 'ơ'),
    ('ö', 'ư'),
];

/// The mark a VNI trailing character adds: (vowel modifier, tone), both combining characters.
fn vni_mark(c: char) -> Option<(Option<char>, Option<char>)> {
    let l = c.to_lowercase().next()?;
    if let Some(t) = tone_mark(&TONES, l) {
        return Some((None, Some(t)));
    }
    if l == 'â' {
        return Some((Some('\u{302}'), None));
    }
    if l == 'ê' {
        return Some((Some('\u{306}'), None));
    }
    if let Some(t) = tone_mark(&CIRC_TONES, l) {
        return Some((Some('\u{302}'), Some(t)));
    }
    if let Some(t) = tone_mark(&BREVE_TONES, l) {
        return Some((Some('\u{306}'), Some(t)));
    }
    None
}

fn vni_single(c: char) -> Option<char> {
    let l = c.to_lowercase().next()?;
    let (_, u) = VNI_SINGLE.iter().find(|(k, _)| *k == l)?;
    Some(if c.is_uppercase() {
        u.to_uppercase().next().unwrap_or(*u)
    } else {
        *u
    })
}

/// Text extracted through a VNI font (or VNI bytes read as Windows-1252) to Unicode NFC.
pub fn vni_to_unicode(text: &str) -> String {
    let chars: Vec<char> = text
        .chars()
        .map(|c| byte_of(c).map_or(c, cp1252_char))
        .collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // A base vowel (ơ and ư are single codes themselves) followed by a mark character.
        let base = match c.to_lowercase().next().unwrap_or(c) {
            'a' | 'e' | 'o' | 'u' | 'y' => Some(c),
            'ô' | 'ö' => vni_single(c),
            _ => None,
        };
        if let (Some(b), Some(&next)) = (base, chars.get(i + 1)) {
            if let Some((modifier, tone)) = vni_mark(next) {
                let bl = b.to_lowercase().next().unwrap_or(b);
                let ok = match modifier {
                    Some('\u{302}') => matches!(bl, 'a' | 'e' | 'o'),
                    Some(_) => bl == 'a',
                    None => true,
                };
                if ok {
                    out.push(b);
                    out.extend(modifier);
                    out.extend(tone);
                    i += 2;
                    continue;
                }
            }
        }
        out.push(vni_single(c).unwrap_or(c));
        i += 1;
    }
    out.nfc().collect()
}

/// Unicode to TCVN 5712 bytes (VN1: every capital has a code). `None` when a character has no
/// code. For fixtures and tests; sohoa itself only reads these encodings.
pub fn encode_tcvn3(text: &str) -> Option<Vec<u8>> {
    text.nfc()
        .map(|c| {
            if (c as u32) < 0x80 && !TCVN_C0.iter().any(|(b, _)| *b as u32 == c as u32) {
                return Some(c as u8);
            }
            (0x01..=0xffu8).find(|&b| tcvn3_byte(b) == c && !(0x20..0x80).contains(&b))
        })
        .collect()
}

/// Unicode to VNI-Windows bytes. `None` when a character has no code. For fixtures and tests.
pub fn encode_vni(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for c in text.nfc() {
        if c.is_ascii() {
            out.push(c as u8);
            continue;
        }
        let upper = c.is_uppercase();
        let cased = |ch: char| -> Option<u8> {
            let ch = if upper { ch.to_uppercase().next()? } else { ch };
            u8::try_from(ch as u32).ok()
        };
        let lower = c.to_lowercase().next()?;
        if let Some((k, _)) = VNI_SINGLE.iter().find(|(_, u)| *u == lower) {
            out.push(cased(*k)?);
            continue;
        }
        let d: Vec<char> = lower.nfd().collect();
        let (mut modifier, mut tone, mut horn) = (None, None, false);
        for m in &d[1..] {
            match m {
                '\u{302}' | '\u{306}' => modifier = Some(*m),
                '\u{31b}' => horn = true,
                _ => tone = Some(*m),
            }
        }
        let base = match (d[0], horn) {
            ('o', true) => 'ô',
            ('u', true) => 'ö',
            (b @ ('a' | 'e' | 'o' | 'u' | 'y'), false) => b,
            _ => return None,
        };
        let mark = match (modifier, tone) {
            (Some('\u{302}'), Some(t)) => Some(tone_char(&CIRC_TONES, t)?),
            (Some('\u{302}'), None) => Some('â'),
            (Some(_), Some(t)) => Some(tone_char(&BREVE_TONES, t)?),
            (Some(_), None) => Some('ê'),
            (None, Some(t)) => Some(tone_char(&TONES, t)?),
            (None, None) => None,
        };
        out.push(cased(base)?);
        if let Some(m) = mark {
            out.push(cased(m)?);
        }
    }
    Some(out)
}

/// The legacy encoding a PDF font name stands for, and whether it is a capitals font (TCVN3's
/// `…H` fonts). Names come as PDF gives them: with a subset prefix ("ABCDEF+"), a style suffix
/// (",Bold", "-Bold"), and `_` or `#2E` for the leading dot in some producers' output.
pub fn font_encoding(name: &str) -> Option<(Encoding, bool)> {
    let mut n = name.trim();
    if let Some((pre, rest)) = n.split_once('+') {
        if pre.len() == 6 && pre.chars().all(|c| c.is_ascii_uppercase()) {
            n = rest;
        }
    }
    let n = n
        .strip_prefix("#2E")
        .or_else(|| n.strip_prefix('.'))
        .or_else(|| n.strip_prefix('_'))
        .map(|r| (r, true))
        .unwrap_or((n, false));
    let (body, dotted) = n;
    let lower = body.to_ascii_lowercase();
    if lower.starts_with("vni-") || lower.starts_with("vni ") || lower.starts_with("vni_") {
        return Some((Encoding::Vni, false));
    }
    if dotted && lower.starts_with("vn") {
        let family = body.split([',', '-']).next().unwrap_or(body).trim_end();
        let family = ["Bold", "Italic", "BoldItalic"]
            .iter()
            .fold(family, |f, s| f.strip_suffix(s).unwrap_or(f));
        return Some((Encoding::Tcvn3, family.ends_with('H')));
    }
    None
}

/// Convert text extracted through a legacy font.
pub fn to_unicode(text: &str, enc: Encoding, capitals: bool) -> String {
    match enc {
        Encoding::Tcvn3 => tcvn3_to_unicode(text, capitals),
        Encoding::Vni => vni_to_unicode(text),
    }
}

fn lexicon() -> &'static HashSet<&'static str> {
    static LEX: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LEX.get_or_init(|| {
        include_str!("../models/vi_syllables.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// How Vietnamese a text looks: its word tokens (letters only, digits and punctuation ignored),
/// how many are valid syllables, and how many carry a Vietnamese mark (a tone, â ă ê ô ơ ư, đ).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SyllableStats {
    pub tokens: usize,
    pub valid: usize,
    pub marked: usize,
}

impl SyllableStats {
    pub fn valid_ratio(&self) -> f32 {
        self.valid as f32 / self.tokens.max(1) as f32
    }
    pub fn marked_ratio(&self) -> f32 {
        self.marked as f32 / self.tokens.max(1) as f32
    }
}

pub fn syllable_stats(text: &str) -> SyllableStats {
    let lex = lexicon();
    let mut s = SyllableStats::default();
    for tok in text.split(|c: char| c.is_whitespace() || c == '/' || c == '-') {
        let t = tok.trim_matches(|c: char| !c.is_alphanumeric());
        if t.is_empty() || t.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        s.tokens += 1;
        let lower: String = t.nfc().flat_map(char::to_lowercase).collect();
        if lex.contains(lower.as_str()) {
            s.valid += 1;
        }
        if lower.nfd().any(|c| ('\u{300}'..='\u{323}').contains(&c)) || lower.contains('đ') {
            s.marked += 1;
        }
    }
    s
}

/// The legacy encoding a text is in, judged by the text alone: the conversion that makes clearly
/// more of its words valid Vietnamese syllables. Unicode Vietnamese (any character a legacy font
/// could not have produced) is never converted.
pub fn detect(text: &str) -> Option<Encoding> {
    if text.chars().any(|c| byte_of(c).is_none()) {
        return None;
    }
    // Plain ASCII is the same in every encoding.
    if text.is_ascii() {
        return None;
    }
    let base = syllable_stats(text);
    let mut best: Option<(Encoding, SyllableStats)> = None;
    for enc in [Encoding::Tcvn3, Encoding::Vni] {
        let s = syllable_stats(&to_unicode(text, enc, false));
        if best.is_none_or(|(_, b)| s.valid > b.valid) {
            best = Some((enc, s));
        }
    }
    let (enc, s) = best?;
    // Clearly better: at least a fifth more of the words become syllables, and most of them are.
    (s.tokens > 0 && s.valid_ratio() >= base.valid_ratio() + 0.2 && s.valid_ratio() >= 0.5)
        .then_some(enc)
}

/// A plain-text file's content as Unicode: UTF-8 as it is (converted when it holds TCVN3 or VNI
/// mojibake), other bytes as TCVN3 or VNI, whichever reads as Vietnamese (else Windows-1252).
/// Returns the text and the encoding converted from.
pub fn decode_text_file(bytes: &[u8]) -> (String, Option<Encoding>) {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return match detect(s) {
            Some(enc) => (to_unicode(s, enc, false), Some(enc)),
            None => (s.nfc().collect(), None),
        };
    }
    let as_chars: String = bytes.iter().map(|&b| cp1252_char(b)).collect();
    // TCVN3 capitals sit at control codes that Windows-1252 leaves alone: decode from bytes.
    let tcvn = decode_tcvn3_bytes(bytes);
    let vni = decode_vni_bytes(bytes);
    let (st, sv) = (syllable_stats(&tcvn), syllable_stats(&vni));
    if st.valid >= sv.valid && st.valid > 0 {
        (tcvn, Some(Encoding::Tcvn3))
    } else if sv.valid > 0 {
        (vni, Some(Encoding::Vni))
    } else {
        (as_chars.nfc().collect(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Vietnamese letter, lower case then capitals.
    const LOWER: &str = "a à á ả ã ạ ă ằ ắ ẳ ẵ ặ â ầ ấ ẩ ẫ ậ b c d đ e è é ẻ ẽ ẹ ê ề ế ể ễ ệ g h \
        i ì í ỉ ĩ ị k l m n o ò ó ỏ õ ọ ô ồ ố ổ ỗ ộ ơ ờ ớ ở ỡ ợ p q r s t u ù ú ủ ũ ụ ư ừ ứ ử ữ ự \
        v x y ỳ ý ỷ ỹ ỵ";

    fn upper() -> String {
        LOWER.to_uppercase()
    }

    #[test]
    fn tcvn3_mojibake_from_the_issue_is_converted() {
        assert_eq!(
            tcvn3_to_unicode("Céng hoµ x· héi chñ nghÜa ViÖt Nam", false),
            "Cộng hoà xã hội chủ nghĩa Việt Nam"
        );
    }

    #[test]
    fn tcvn3_u_horn_extracted_as_a_hyphen_is_taken_back() {
        // 0xAD (ư) is the soft hyphen: PDFium gives '-'.
        assert_eq!(tcvn3_to_unicode("ng-êi l-u tr÷", false), "người lưu trữ");
        assert_eq!(
            tcvn3_to_unicode("§éc lËp - Tù do", false),
            "Độc lập - Tự do"
        );
        assert_eq!(tcvn3_to_unicode("Sè 90-KH/TU", false), "Số 90-KH/TU");
        assert_eq!(tcvn3_to_unicode("tr-êng", true), "TRƯỜNG");
    }

    #[test]
    fn vni_mojibake_from_the_issue_is_converted() {
        assert_eq!(
            vni_to_unicode("Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam"),
            "Cộng hòa xã hội chủ nghĩa Việt Nam"
        );
        assert_eq!(vni_to_unicode("NGÖÔØI KYÙ"), "NGƯỜI KÝ");
    }

    #[test]
    fn tcvn3_round_trips_every_letter_in_both_cases() {
        for text in [LOWER.to_string(), upper()] {
            let bytes = encode_tcvn3(&text).expect("every letter has a TCVN 5712 code");
            assert_eq!(decode_tcvn3_bytes(&bytes), text);
        }
    }

    #[test]
    fn tcvn3_capitals_font_upper_cases_the_lower_case_codes() {
        let bytes = encode_tcvn3(LOWER).unwrap();
        let extracted: String = bytes.iter().map(|&b| b as char).collect();
        assert_eq!(tcvn3_to_unicode(&extracted, true), upper());
        assert_eq!(tcvn3_to_unicode(&extracted, false), LOWER);
    }

    #[test]
    fn vni_round_trips_every_letter_in_both_cases() {
        for text in [LOWER.to_string(), upper()] {
            let bytes = encode_vni(&text).expect("every letter has a VNI code");
            assert_eq!(decode_vni_bytes(&bytes), text, "{bytes:?}");
        }
    }

    #[test]
    fn font_names_tell_the_encoding() {
        assert_eq!(font_encoding(".VnTime"), Some((Encoding::Tcvn3, false)));
        assert_eq!(
            font_encoding("ABCDEF+.VnTimeH"),
            Some((Encoding::Tcvn3, true))
        );
        assert_eq!(
            font_encoding(".VnArialH,Bold"),
            Some((Encoding::Tcvn3, true))
        );
        assert_eq!(
            font_encoding("_VnTime-Bold"),
            Some((Encoding::Tcvn3, false))
        );
        assert_eq!(font_encoding("VNI-Times"), Some((Encoding::Vni, false)));
        assert_eq!(font_encoding("TimesNewRomanPSMT"), None);
        assert_eq!(font_encoding("Vnexpress"), None);
    }

    #[test]
    fn detection_by_text_alone() {
        assert_eq!(
            detect("Céng hoµ x· héi chñ nghÜa ViÖt Nam §éc lËp - Tù do - H¹nh phóc"),
            Some(Encoding::Tcvn3)
        );
        assert_eq!(
            detect("Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam Ñoäc laäp - Töï do - Haïnh phuùc"),
            Some(Encoding::Vni)
        );
        assert_eq!(detect("Cộng hòa xã hội chủ nghĩa Việt Nam"), None);
        assert_eq!(detect("Ke hoach so 90 cua Tinh uy"), None);
        assert_eq!(detect("Café, résumé, naïve"), None);
    }

    #[test]
    fn text_files_in_either_encoding_or_utf8_are_read() {
        let s = "Độc lập - Tự do - Hạnh phúc\nQUYẾT ĐỊNH về việc ban hành kế hoạch\n";
        let (t, e) = decode_text_file(&encode_tcvn3(s).unwrap());
        assert_eq!((t.as_str(), e), (s, Some(Encoding::Tcvn3)));
        let (t, e) = decode_text_file(&encode_vni(s).unwrap());
        assert_eq!((t.as_str(), e), (s, Some(Encoding::Vni)));
        let (t, e) = decode_text_file(s.as_bytes());
        assert_eq!((t.as_str(), e), (s, None));
    }

    #[test]
    fn syllable_stats_tell_vietnamese_from_english_model_output() {
        let good = syllable_stats("Kế hoạch thực hiện Nghị quyết của Tỉnh ủy");
        assert_eq!(good.valid, good.tokens);
        assert!(good.marked_ratio() > 0.5);
        let bad = syllable_stats("Ke hoach thuc hien Nghi quyet cua Tinh uy");
        assert!(bad.marked_ratio() == 0.0);
        assert!(bad.valid_ratio() < 0.8);
    }
}
