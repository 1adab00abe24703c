//! A glyphless TrueType font for invisible text layers: one empty glyph, half an em wide, for
//! each character a document uses, so that the PDF can carry the text in a Type 0 font whose
//! ToUnicode map gives every character back (text extraction, search, copy and paste) while
//! nothing is drawn. Built per document, so it holds only the characters used (a few kB).

/// Units per em, and the advance of every glyph.
pub const UNITS_PER_EM: u16 = 1000;
pub const ADVANCE: u16 = 500;
pub const ASCENT: i16 = 800;
pub const DESCENT: i16 = -200;

struct Writer(Vec<u8>);

impl Writer {
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i16(&mut self, v: i16) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn zeros(&mut self, n: usize) -> &mut Self {
        self.0.extend(std::iter::repeat_n(0u8, n));
        self
    }
}

fn checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, c| {
        let mut b = [0u8; 4];
        b[..c.len()].copy_from_slice(c);
        sum.wrapping_add(u32::from_be_bytes(b))
    })
}

/// The characters [`font`] gives glyphs to, in glyph order: glyph `i + 1` is `code_points[i]`
/// (BMP characters other than controls; others are dropped).
pub fn code_points(chars: &[char]) -> Vec<u16> {
    let mut cps: Vec<u16> = chars
        .iter()
        .filter_map(|&c| u16::try_from(c as u32).ok())
        .filter(|&c| c >= 0x20 && !(0xD800..=0xDFFF).contains(&c) && c != 0xFFFF)
        .collect();
    cps.sort_unstable();
    cps.dedup();
    if cps.is_empty() {
        cps.push(b' ' as u16);
    }
    cps
}

/// The font for `chars`. Glyph 0 is .notdef; the characters get glyphs 1.. in code point order
/// ([`code_points`]).
pub fn font(chars: &[char]) -> Vec<u8> {
    let cps = code_points(chars);
    let num_glyphs = (cps.len() + 1) as u16;

    let head = {
        let mut w = Writer(Vec::new());
        w.u32(0x0001_0000).u32(0x0001_0000).u32(0); // version, fontRevision, checkSumAdjustment
        w.u32(0x5F0F_3CF5).u16(0x000B).u16(UNITS_PER_EM); // magic, flags, unitsPerEm
        w.zeros(16); // created, modified
        w.i16(0).i16(DESCENT).i16(ADVANCE as i16).i16(ASCENT); // xMin, yMin, xMax, yMax
        w.u16(0).u16(8).i16(2).i16(0).i16(0); // macStyle, lowestRecPPEM, direction, loca short, glyf format
        w.0
    };
    let hhea = {
        let mut w = Writer(Vec::new());
        w.u32(0x0001_0000).i16(ASCENT).i16(DESCENT).i16(0); // version, ascender, descender, lineGap
        w.u16(ADVANCE).i16(0).i16(0).i16(ADVANCE as i16); // advanceWidthMax, minLSB, minRSB, xMaxExtent
        w.i16(1).i16(0).i16(0).zeros(8).i16(0).u16(1); // caret rise/run/offset, reserved, format, hMetrics
        w.0
    };
    let maxp = {
        let mut w = Writer(Vec::new());
        w.u32(0x0001_0000).u16(num_glyphs);
        w.zeros(4 * 2).u16(2).zeros(8 * 2); // points, contours, composites; maxZones 2; the rest 0
        w.0
    };
    let os2 = {
        let mut w = Writer(Vec::new());
        w.u16(4).i16(ADVANCE as i16).u16(400).u16(5).u16(0); // version, avg width, weight, width, fsType
        for v in [650i16, 600, 0, 75, 650, 600, 0, 350, 50, 250] {
            w.i16(v); // sub/superscript size and offsets, strikeout size and position
        }
        w.i16(0).zeros(10); // family class, panose
        w.u32(1).zeros(12); // unicode ranges (Basic Latin)
        w.0.extend_from_slice(b"NONE");
        let first = cps[0];
        let last = *cps.last().expect("non-empty");
        w.u16(0x0040).u16(first).u16(last); // fsSelection REGULAR, first and last char
        w.i16(ASCENT)
            .i16(DESCENT)
            .i16(0)
            .u16(ASCENT as u16)
            .u16((-DESCENT) as u16); // typo and win metrics
        w.u32(1).u32(0); // code page ranges (Latin 1)
        w.i16(500).i16(700).u16(0).u16(0x20).u16(0); // xHeight, capHeight, default, break, context
        w.0
    };
    let hmtx = {
        let mut w = Writer(Vec::new());
        w.u16(ADVANCE).i16(0);
        for _ in 1..num_glyphs {
            w.i16(0);
        }
        w.0
    };
    let loca = {
        let mut w = Writer(Vec::new());
        for _ in 0..=num_glyphs {
            w.u16(0);
        }
        w.0
    };
    let glyf = vec![0u8; 4];
    let cmap = {
        // Format 4: runs of consecutive code points with consecutive glyph ids.
        let mut segs: Vec<(u16, u16, u16)> = Vec::new(); // start, end, first glyph
        for (i, &c) in cps.iter().enumerate() {
            let gid = (i + 1) as u16;
            match segs.last_mut() {
                Some(s) if s.1 + 1 == c && s.2 + (c - s.0) == gid => s.1 = c,
                _ => segs.push((c, c, gid)),
            }
        }
        segs.push((0xFFFF, 0xFFFF, 0));
        let n = segs.len() as u16;
        let mut search = 1u16;
        let mut selector = 0u16;
        while search * 2 <= n {
            search *= 2;
            selector += 1;
        }
        let mut sub = Writer(Vec::new());
        sub.u16(4)
            .u16(16 + 8 * n)
            .u16(0)
            .u16(2 * n)
            .u16(2 * search)
            .u16(selector)
            .u16(2 * n - 2 * search);
        for s in &segs {
            sub.u16(s.1);
        }
        sub.u16(0);
        for s in &segs {
            sub.u16(s.0);
        }
        for s in &segs {
            // glyph = code + delta (mod 65536); the last segment maps to .notdef.
            let delta = if s.0 == 0xFFFF {
                1
            } else {
                s.2.wrapping_sub(s.0)
            };
            sub.u16(delta);
        }
        for _ in &segs {
            sub.u16(0);
        }
        let mut w = Writer(Vec::new());
        w.u16(0).u16(2); // version, tables
        w.u16(0).u16(3).u32(20); // Unicode BMP
        w.u16(3).u16(1).u32(20); // Windows Unicode BMP (same subtable)
        w.0.extend_from_slice(&sub.0);
        w.0
    };
    let name = {
        let strings: [(u16, &str); 5] = [
            (1, "GlyphLessSohoa"),
            (2, "Regular"),
            (3, "sohoa: GlyphLessSohoa"),
            (4, "GlyphLessSohoa"),
            (6, "GlyphLessSohoa"),
        ];
        let mut recs = Writer(Vec::new());
        let mut data: Vec<u8> = Vec::new();
        for (id, s) in strings {
            let utf16: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
            recs.u16(3)
                .u16(1)
                .u16(0x0409)
                .u16(id)
                .u16(utf16.len() as u16)
                .u16(data.len() as u16);
            data.extend_from_slice(&utf16);
        }
        let mut w = Writer(Vec::new());
        w.u16(0)
            .u16(strings.len() as u16)
            .u16(6 + 12 * strings.len() as u16);
        w.0.extend_from_slice(&recs.0);
        w.0.extend_from_slice(&data);
        w.0
    };
    let post = {
        let mut w = Writer(Vec::new());
        w.u32(0x0003_0000).u32(0).i16(-100).i16(50).u32(0).zeros(16);
        w.0
    };

    let mut tables: Vec<(&[u8; 4], Vec<u8>)> = vec![
        (b"OS/2", os2),
        (b"cmap", cmap),
        (b"glyf", glyf),
        (b"head", head),
        (b"hhea", hhea),
        (b"hmtx", hmtx),
        (b"loca", loca),
        (b"maxp", maxp),
        (b"name", name),
        (b"post", post),
    ];
    tables.sort_by_key(|t| *t.0);
    let n = tables.len() as u16;
    let mut search = 1u16;
    let mut selector = 0u16;
    while search * 2 <= n {
        search *= 2;
        selector += 1;
    }
    let mut out = Writer(Vec::new());
    out.u32(0x0001_0000)
        .u16(n)
        .u16(search * 16)
        .u16(selector)
        .u16(n * 16 - search * 16);
    let mut offset = 12 + 16 * tables.len() as u32;
    let mut head_at = 0usize;
    for (tag, data) in &tables {
        if *tag == b"head" {
            head_at = offset as usize;
        }
        out.0.extend_from_slice(*tag);
        out.u32(checksum(data)).u32(offset).u32(data.len() as u32);
        offset += (data.len() as u32).div_ceil(4) * 4;
    }
    for (_, data) in &tables {
        out.0.extend_from_slice(data);
        let pad = data.len().div_ceil(4) * 4 - data.len();
        out.zeros(pad);
    }
    let adjust = 0xB1B0_AFBAu32.wrapping_sub(checksum(&out.0));
    out.0[head_at + 8..head_at + 12].copy_from_slice(&adjust.to_be_bytes());
    out.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_font_has_its_tables_and_a_valid_checksum() {
        let f = font(&['Đ', 'ả', 'n', 'g', 'n']);
        assert_eq!(&f[..4], &[0, 1, 0, 0]);
        assert_eq!(u16::from_be_bytes([f[4], f[5]]), 10);
        assert_eq!(checksum(&f), 0xB1B0_AFBA);
    }
}
