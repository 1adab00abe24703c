//! Second look at the signature block: the signer's title and name under a round seal.
//!
//! The seal is stamped over the left of the block, so its ring crosses the first letters of the
//! title and of the name. Tesseract then drops those words or reads them as junk: "TƯỚNG" for
//! "PHÓ THỦ TƯỚNG" and "Văn Thắng" for "Nguyễn Văn Thắng" on the real decision. What these
//! lines can say is known beforehand: a title from a short list (the titles of Decree 30/2020's
//! signature blocks), and a name that starts with a family name, of which a few dozen cover
//! nearly all Vietnamese. This stage reads the block's lines again, each cut out as a single
//! line across the block's width, and takes a reading only where it spells a listed title or
//! family name letter for letter, or one letter off in a long word.

use crate::doc::{Line, Word};
use crate::ocr::Engine;
use crate::raster::PageImage;
use crate::text::{fold, levenshtein};
use std::time::Instant;

/// Titles printed above a signature, without the "KT." family of prefixes.
const TITLES: &[&str] = &[
    "THỦ TƯỚNG",
    "PHÓ THỦ TƯỚNG",
    "BỘ TRƯỞNG",
    "THỨ TRƯỞNG",
    "CHỦ TỊCH",
    "PHÓ CHỦ TỊCH",
    "CHỦ NHIỆM",
    "PHÓ CHỦ NHIỆM",
    "TỔNG THƯ KÝ",
    "GIÁM ĐỐC",
    "PHÓ GIÁM ĐỐC",
    "TỔNG GIÁM ĐỐC",
    "PHÓ TỔNG GIÁM ĐỐC",
    "CỤC TRƯỞNG",
    "PHÓ CỤC TRƯỞNG",
    "TỔNG CỤC TRƯỞNG",
    "PHÓ TỔNG CỤC TRƯỞNG",
    "VỤ TRƯỞNG",
    "PHÓ VỤ TRƯỞNG",
    "CHÁNH VĂN PHÒNG",
    "PHÓ CHÁNH VĂN PHÒNG",
    "CHÁNH THANH TRA",
    "PHÓ CHÁNH THANH TRA",
    "TỔNG THANH TRA",
    "PHÓ TỔNG THANH TRA",
    "TRƯỞNG BAN",
    "PHÓ TRƯỞNG BAN",
    "THỐNG ĐỐC",
    "PHÓ THỐNG ĐỐC",
    "TỔNG KIỂM TOÁN",
    "PHÓ TỔNG KIỂM TOÁN",
    "CHÁNH ÁN",
    "PHÓ CHÁNH ÁN",
    "VIỆN TRƯỞNG",
    "PHÓ VIỆN TRƯỞNG",
    "HIỆU TRƯỞNG",
    "PHÓ HIỆU TRƯỞNG",
    "TRƯỞNG PHÒNG",
    "PHÓ TRƯỞNG PHÒNG",
    "BÍ THƯ",
    "PHÓ BÍ THƯ",
];

/// Signing for someone else: "KT." (a deputy for the head), "TL.", "TUQ.", "Q." (acting).
const ON_BEHALF: &[&str] = &["KT.", "TL.", "TUQ.", "Q."];

/// The commonest family names, which together cover about nine Vietnamese in ten.
const FAMILY_NAMES: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Đoàn", "Trịnh", "Trương", "Lương", "Lâm", "Mai", "Hà",
    "Đào", "Cao", "Chu", "Lưu", "Vương", "Thái", "Tạ", "Tô", "Hứa", "Quách", "Triệu", "Kiều",
];

/// Folded letters: capitals without marks, Đ as D, nothing else.
fn letters(s: &str) -> Vec<char> {
    fold(s).chars().filter(|c| c.is_alphabetic()).collect()
}

/// Edits that turn some stretch of `text` into `pattern`: letters of `text` before and after
/// the stretch are free (a seal's ring read as a letter beside the name: "JNgướn").
fn fit(pattern: &[char], text: &[char]) -> usize {
    let mut prev = vec![0usize; text.len() + 1];
    for (i, p) in pattern.iter().enumerate() {
        let mut cur = vec![i + 1; text.len() + 1];
        for (j, t) in text.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(p != t))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev.into_iter().min().unwrap_or(0)
}

/// The one option nearest by `cost`, when it costs at most `allowed(option)`; none on a tie.
fn nearest(
    options: impl Iterator<Item = String>,
    cost: impl Fn(&[char]) -> usize,
    allowed: impl Fn(usize) -> usize,
) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    let mut tied = false;
    for o in options {
        let l = letters(&o);
        let d = cost(&l);
        if d > allowed(l.len()) {
            continue;
        }
        match &best {
            Some((b, _)) if *b < d => {}
            Some((b, _)) if *b == d => tied = true,
            _ => {
                best = Some((d, o));
                tied = false;
            }
        }
    }
    best.filter(|_| !tied).map(|(_, o)| o)
}

/// The title (with its prefix) a line's reading spells, a fifth of its letters off at most;
/// words of junk before it (the seal's ring) are passed over.
fn title_of(words: &[&str]) -> Option<String> {
    (0..words.len()).find_map(|k| {
        let read = letters(&words[k..].join(" "));
        let all = TITLES.iter().flat_map(|t| {
            let prefixed = ON_BEHALF.iter().map(move |p| format!("{p} {t}"));
            std::iter::once(t.to_string()).chain(prefixed)
        });
        let title = nearest(all, |l| levenshtein(&read, l), |n| n / 5);
        title.filter(|_| read.len() >= 4)
    })
}

/// The family name a run of letters spells: letter for letter, or, for names of five letters or
/// more, a third of its letters off with letters around it free ("JNgướn", "Nguyêr"). A short
/// name must be the whole run ("Nhà" is not "Hà").
fn family_name(run: &str) -> Option<String> {
    let read = letters(run);
    let names = FAMILY_NAMES.iter().map(|s| s.to_string());
    let cost = |l: &[char]| {
        if l.len() >= 5 {
            fit(l, &read)
        } else {
            levenshtein(l, &read)
        }
    };
    nearest(names, cost, |n| if n >= 5 { n / 3 } else { 0 })
}

/// The title of whoever signs for `head`: a deputy ("PHÓ CHỦ TỊCH"; a minister's is "THỨ
/// TRƯỞNG").
fn deputy(head: &str) -> Option<String> {
    if head == "BỘ TRƯỞNG" {
        return Some("THỨ TRƯỞNG".into());
    }
    let d = format!("PHÓ {head}");
    TITLES.contains(&d.as_str()).then_some(d)
}

/// Whether a block reading `head` over `deputy` ("THỦ TƯỚNG" over "PHÓ THỦ TƯỚNG") lost the
/// "KT." before `head`: a deputy signs on the head's behalf, and the form for that is "KT."
/// (Decree 30/2020, appendix I); the seal, stamped at the block's left, covers it first.
fn signs_for(head: &str, deputy: &str) -> bool {
    let (h, d) = (letters(head), letters(deputy));
    let is_title = |t: &[char]| TITLES.iter().any(|x| letters(x) == t);
    let deputy_of = |t: &[char]| match t.strip_prefix(&['P', 'H', 'O'][..]) {
        Some(rest) => rest == h.as_slice(),
        None => h == letters("BỘ TRƯỞNG") && t == letters("THỨ TRƯỞNG").as_slice(),
    };
    is_title(&h) && !h.starts_with(&['P', 'H', 'O']) && is_title(&d) && deputy_of(&d)
}

/// A word of a name as printed: a capital, then small letters ("Thắng"; "Văn,").
fn name_word(w: &Word) -> bool {
    let t = w.text.trim_end_matches([',', '.']);
    let mut cs = t.chars();
    cs.next()
        .is_some_and(|c| c.is_alphabetic() && c.is_uppercase())
        && cs.all(|c| c.is_alphabetic() && c.is_lowercase())
}

fn is_caps(l: &Line) -> bool {
    let (mut up, mut all) = (0usize, 0usize);
    for c in l.text.chars().filter(|c| c.is_alphabetic()) {
        all += 1;
        up += usize::from(c.is_uppercase());
    }
    all >= 3 && up * 10 >= all * 6
}

/// The signature block of a page: its title lines (capitals, top first) and the signer's name
/// below them, in the right half.
struct Block {
    titles: Vec<usize>,
    name: usize,
    /// Left and right edges of the block's lines.
    left: i32,
    right: i32,
    /// Typical line height on the page.
    lh: i32,
}

fn find_block(lines: &[Line], width: i32) -> Option<Block> {
    let mut heights: Vec<i32> = lines.iter().map(|l| l.bbox[3] - l.bbox[1]).collect();
    heights.sort_unstable();
    let lh = *heights.get(heights.len() / 2)?;
    let right = |l: &Line| l.bbox[0] * 10 > width * 4 && (l.bbox[0] + l.bbox[2]) * 20 > width * 11;
    let mut names: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let ws = &lines[i].words;
            right(&lines[i])
                && ws.len() <= 6
                && ws.iter().rev().take_while(|w| name_word(w)).count() >= 2
        })
        .collect();
    names.sort_by_key(|&i| std::cmp::Reverse(lines[i].bbox[1]));
    names.into_iter().find_map(|name| {
        let top = lines[name].bbox[1];
        let mut titles: Vec<usize> = (0..lines.len())
            .filter(|&i| {
                let b = lines[i].bbox;
                right(&lines[i]) && is_caps(&lines[i]) && b[3] <= top && top - b[3] <= 12 * lh
            })
            .collect();
        titles.sort_by_key(|&i| lines[i].bbox[1]);
        let all = titles.iter().chain(std::iter::once(&name));
        let left = all.clone().map(|&i| lines[i].bbox[0]).min()?;
        let right = all.map(|&i| lines[i].bbox[2]).max()?;
        (!titles.is_empty()).then_some(Block {
            titles,
            name,
            left,
            right,
            lh,
        })
    })
}

/// Words of `line` made from `text`'s words, spread over `bbox` by their lengths.
fn spread(text: &str, bbox: [i32; 4], conf: f32) -> Vec<Word> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let total: usize = words.iter().map(|w| w.chars().count() + 1).sum();
    let (x0, span) = (bbox[0], (bbox[2] - bbox[0]).max(1) as usize);
    let mut at = 0usize;
    words
        .iter()
        .map(|w| {
            let n = w.chars().count();
            let a = x0 + (at * span / total) as i32;
            at += n + 1;
            let b = x0 + ((at - 1) * span / total) as i32;
            Word::new(w.to_string(), [a, bbox[1], b.max(a + 1), bbox[3]], conf)
        })
        .collect()
}

/// Read the signature block's title and name lines again where the seal may have cost them
/// words. Returns how many lines changed.
pub fn mend_signature_block(
    engine: &mut Engine,
    page: &PageImage,
    lines: &mut Vec<Line>,
    deadline: Option<Instant>,
) -> crate::error::Result<usize> {
    let Some(b) = find_block(lines, page.width as i32) else {
        return Ok(0);
    };
    log::debug!("signature block: titles {:?}, name {}", b.titles, b.name);
    let mut changed = 0;
    let strip = |l: &Line, right: i32| {
        let pad = (l.bbox[3] - l.bbox[1]) / 8;
        [b.left - 2 * b.lh, l.bbox[1] - pad, right, l.bbox[3] + pad]
    };
    for &ti in &b.titles {
        let l = &lines[ti];
        let had: Vec<&str> = l.text.split_whitespace().collect();
        if title_of(&had).is_some() {
            continue;
        }
        let read = read_words(engine, page, strip(l, b.right + b.lh), 7, deadline)?;
        let text: Vec<&str> = read.iter().map(|w| w.text.as_str()).collect();
        let Some(title) = title_of(&text) else {
            continue;
        };
        // What was read before must be part of it ("TƯỚNG" of "PHÓ THỦ TƯỚNG").
        let had = letters(&l.text);
        let have = letters(&title);
        if had.len() > have.len() || levenshtein(&had, &have) != have.len() - had.len() {
            continue;
        }
        log::debug!("signature block: {:?} read again: {title}", l.text);
        let bbox = crate::doc::union_bbox(read.iter().map(|w| w.bbox));
        let conf = read.iter().map(|w| w.conf).fold(0.0, f32::max);
        let l = &mut lines[ti];
        l.words = spread(&title, bbox, conf);
        l.bbox = crate::doc::union_bbox([l.bbox, bbox]);
        l.refresh_text();
        changed += 1;
    }
    for pair in b.titles.windows(2) {
        let first = lines[pair[0]].words.first().map(|w| w.bbox);
        if let (true, Some([x0, y0, _, y1])) =
            (signs_for(&lines[pair[0]].text, &lines[pair[1]].text), first)
        {
            let l = &mut lines[pair[0]];
            let h = y1 - y0;
            let kt = Word::new("KT.".into(), [x0 - 2 * h, y0, x0 - h / 3, y1], 50.0);
            log::debug!("signature block: a deputy signs for {:?}: KT.", l.text);
            l.words.insert(0, kt);
            l.bbox = crate::doc::union_bbox(l.words.iter().map(|w| w.bbox));
            l.refresh_text();
            changed += 1;
        }
    }
    changed += usize::from(mend_name(
        engine,
        page,
        &mut lines[b.name],
        &strip,
        deadline,
    )?);
    // "KT. BỘ TRƯỞNG" with nothing read under it: the deputy's title is what the seal's top
    // covers; it is put back when print is read there, whatever Tesseract makes of it.
    let last = *b.titles.last().expect("a block has a title");
    let words: Vec<&str> = lines[last].text.split_whitespace().collect();
    let Some(head) = title_of(&words).and_then(|t| t.strip_prefix("KT. ").map(str::to_string))
    else {
        return Ok(changed);
    };
    let Some(title) = deputy(&head) else {
        return Ok(changed);
    };
    let Some(&Word {
        bbox: [_, y0, _, y1],
        ..
    }) = lines[last].words.first()
    else {
        return Ok(changed);
    };
    let h = y1 - y0;
    let band = [b.left - b.lh, y1 + h / 4, b.right + b.lh, y1 + 2 * h];
    let read = read_words(engine, page, band, 7, deadline)?;
    let seen = read
        .iter()
        .flat_map(|w| w.text.chars())
        .filter(|c| c.is_alphabetic());
    if seen.count() >= 3 {
        log::debug!("signature block: {head:?} signed for, under it: {title}");
        let bbox = crate::doc::union_bbox(read.iter().map(|w| w.bbox));
        let mut line = Line::new(bbox, 50.0, lines[last].block);
        line.words = spread(&title, bbox, 50.0);
        line.refresh_text();
        lines.insert(last + 1, line);
        changed += 1;
    }
    Ok(changed)
}

/// Put back the family name the seal's ring took from the signer's name line.
fn mend_name(
    engine: &mut Engine,
    page: &PageImage,
    line: &mut Line,
    strip: &dyn Fn(&Line, i32) -> [i32; 4],
    deadline: Option<Instant>,
) -> crate::error::Result<bool> {
    // The name proper: the trailing name words from the first read surely.
    let ws = &line.words;
    let tail = ws.iter().rev().take_while(|w| name_word(w)).count();
    let Some(anchor) = (ws.len() - tail..ws.len()).find(|&i| ws[i].conf >= 80.0) else {
        return Ok(false);
    };
    if family_name(&ws[0].text).is_some() && (anchor == 0 || ws[0].conf >= 80.0) {
        return Ok(false);
    }
    let rect = strip(line, ws[ws.len() - 1].bbox[2] + 4);
    let key = letters(&ws[anchor].text);
    // As one line first; a signature's strokes above and below can make Tesseract find no
    // line at all there, and then as a block.
    let mut found = None;
    for psm in [7, 6] {
        let read = read_words(engine, page, rect, psm, deadline)?;
        if let Some(at) = read.iter().position(|w| letters(&w.text) == key) {
            found = Some((read, at));
            break;
        }
    }
    let Some((read, at)) = found else {
        return Ok(false);
    };
    // The first run of two letters or more before the name proper must spell a family name
    // (the first word of a name is its family name).
    let first_run = |w: &Word| {
        let mut runs = w.text.split(|c: char| !c.is_alphabetic());
        runs.find(|r| r.chars().count() >= 2).map(str::to_string)
    };
    let Some((k, run)) = read[..at]
        .iter()
        .enumerate()
        .find_map(|(k, w)| first_run(w).map(|r| (k, r)))
    else {
        return Ok(false);
    };
    let Some(family) = family_name(&run) else {
        return Ok(false);
    };
    let bbox = read[k].bbox;
    log::debug!(
        "signature block: name {:?} read again as {:?}: {family}",
        line.text,
        crate::doc::join(read.iter().map(|w| w.text.as_str()))
    );
    // Middle names read between the two stay as read, for restoration to weigh ("Sirh").
    let middle = read[k + 1..at]
        .iter()
        .filter(|w| w.text.chars().filter(|c| c.is_alphabetic()).count() >= 2);
    let mut words = vec![Word::new(family, bbox, 70.0)];
    words.extend(middle.cloned());
    words.extend(line.words.drain(anchor..));
    line.words = words;
    line.bbox = crate::doc::union_bbox(line.words.iter().map(|w| w.bbox));
    line.refresh_text();
    Ok(true)
}

/// The words Tesseract reads in `rect` (with page segmentation mode `psm`: 7 one line, 6 a
/// block), low confidence included.
fn read_words(
    engine: &mut Engine,
    page: &PageImage,
    rect: [i32; 4],
    psm: i32,
    deadline: Option<Instant>,
) -> crate::error::Result<Vec<Word>> {
    let lines = engine.recognize_crop(page, rect, psm, deadline)?;
    let words: Vec<Word> = lines.into_iter().flat_map(|l| l.words).collect();
    log::debug!(
        "signature block: {rect:?} reads {:?}",
        words
            .iter()
            .map(|w| format!("{}/{:.0}", w.text, w.conf))
            .collect::<Vec<_>>()
    );
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_half_hidden_by_the_seal_is_the_listed_title_it_spells() {
        let title = |s: &str| title_of(&s.split_whitespace().collect::<Vec<_>>());
        // What Tesseract read of "PHÓ THỦ TƯỚNG" under the real decision's seal.
        assert_eq!(title("¬Ô .PHONNHỦ TƯỚNG").as_deref(), Some("PHÓ THỦ TƯỚNG"));
        assert_eq!(title("KT. BỘ TRƯỚNG").as_deref(), Some("KT. BỘ TRƯỞNG"));
        // "THU TUONG" is one letter from both THỦ TƯỚNG and THỨ TRƯỞNG: exact wins.
        assert_eq!(title("THỦ TƯỚNG").as_deref(), Some("THỦ TƯỚNG"));
        // Too far from every title, or too short to say.
        assert_eq!(title("CHỦ NHIỆM ỦY BAN DÂN TỘC"), None);
        assert_eq!(title("NS-N TT ẺN"), None);
        assert_eq!(title("TƯ"), None);
    }

    #[test]
    fn a_family_name_is_taken_letter_for_letter_or_nearly_in_a_long_one() {
        // What Tesseract read of "Nguyễn" across the seal's ring, on the two real pages.
        assert_eq!(family_name("JNgướn").as_deref(), Some("Nguyễn"));
        assert_eq!(family_name("Nguyêr").as_deref(), Some("Nguyễn"));
        assert_eq!(family_name("Ngưýễn").as_deref(), Some("Nguyễn"));
        assert_eq!(family_name("TRẦN").as_deref(), Some("Trần"));
        // Short names only letter for letter: "Lẽ" is Lê, "Li" is nothing.
        assert_eq!(family_name("Lẽ").as_deref(), Some("Lê"));
        assert_eq!(family_name("Li"), None);
        // A short name is the whole run, never a piece of one: "Nhà" is not "Hà".
        assert_eq!(family_name("Nhà"), None);
        // "Văn" is a middle name; "Síh" nothing.
        assert_eq!(family_name("Văn"), None);
        assert_eq!(family_name("Síh"), None);
    }

    #[test]
    fn a_head_title_over_its_deputys_lost_its_kt() {
        assert!(signs_for("THỦ TƯỚNG", "PHÓ THỦ TƯỚNG"));
        assert!(signs_for("BỘ TRƯỞNG", "THỨ TRƯỞNG"));
        assert!(signs_for("CHỦ TỊCH", "PHÓ CHỦ TỊCH"));
        assert!(!signs_for("KT. THỦ TƯỚNG", "PHÓ THỦ TƯỚNG"));
        assert!(!signs_for("THỦ TƯỚNG", "THỦ TƯỚNG"));
        assert!(!signs_for("CHỦ TỊCH", "PHÓ THỦ TƯỚNG"));
        assert!(!signs_for("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"));
    }

    #[test]
    fn deputies() {
        assert_eq!(deputy("BỘ TRƯỞNG").as_deref(), Some("THỨ TRƯỞNG"));
        assert_eq!(deputy("CHỦ TỊCH").as_deref(), Some("PHÓ CHỦ TỊCH"));
        assert_eq!(deputy("PHÓ CHỦ TỊCH"), None);
    }

    #[test]
    fn words_spread_over_the_box_by_their_lengths() {
        let w = spread("PHÓ THỦ TƯỚNG", [100, 10, 240, 40], 50.0);
        let texts: Vec<&str> = w.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["PHÓ", "THỦ", "TƯỚNG"]);
        assert_eq!(w[0].bbox[0], 100);
        assert!(w[0].bbox[2] < w[1].bbox[0] && w[1].bbox[2] < w[2].bbox[0]);
        assert!(w[2].bbox[2] <= 240);
    }
}
