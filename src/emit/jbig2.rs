//! A lossless JBIG2 generic-region encoder (ITU-T T.88, arithmetic coding, template 0), for the
//! black-and-white pages sohoa has to store again: a fax TIFF page in several strips cannot be
//! passed through as one CCITT image, and CCITT Group 4, the other lossless choice, spends about
//! half as much again on a page of text. The PDF's JBIG2Decode filter takes the page's segments
//! without the file header (ISO 32000-1, 7.4.7); PDF/A-2 allows the filter.

/// The MQ coder's probability states (T.88 Table E.1): Qe, next index after an MPS, after an
/// LPS, and whether an LPS swaps the sense of the MPS.
const QE: [(u32, u8, u8, bool); 47] = [
    (0x5601, 1, 1, true),
    (0x3401, 2, 6, false),
    (0x1801, 3, 9, false),
    (0x0AC1, 4, 12, false),
    (0x0521, 5, 29, false),
    (0x0221, 38, 33, false),
    (0x5601, 7, 6, true),
    (0x5401, 8, 14, false),
    (0x4801, 9, 14, false),
    (0x3801, 10, 14, false),
    (0x3001, 11, 17, false),
    (0x2401, 12, 18, false),
    (0x1C01, 13, 20, false),
    (0x1601, 29, 21, false),
    (0x5601, 15, 14, true),
    (0x5401, 16, 14, false),
    (0x5101, 17, 15, false),
    (0x4801, 18, 16, false),
    (0x3801, 19, 17, false),
    (0x3401, 20, 18, false),
    (0x3001, 21, 19, false),
    (0x2801, 22, 19, false),
    (0x2401, 23, 20, false),
    (0x2201, 24, 21, false),
    (0x1C01, 25, 22, false),
    (0x1801, 26, 23, false),
    (0x1601, 27, 24, false),
    (0x1401, 28, 25, false),
    (0x1201, 29, 26, false),
    (0x1101, 30, 27, false),
    (0x0AC1, 31, 28, false),
    (0x09C1, 32, 29, false),
    (0x08A1, 33, 30, false),
    (0x0521, 34, 31, false),
    (0x0441, 35, 32, false),
    (0x02A1, 36, 33, false),
    (0x0221, 37, 34, false),
    (0x0141, 38, 35, false),
    (0x0111, 39, 36, false),
    (0x0085, 40, 37, false),
    (0x0049, 41, 38, false),
    (0x0025, 42, 39, false),
    (0x0015, 43, 40, false),
    (0x0009, 44, 41, false),
    (0x0005, 45, 42, false),
    (0x0001, 45, 43, false),
    (0x5601, 46, 46, false),
];

/// The MQ arithmetic encoder (T.88 E.2, the software conventions' register layout).
struct Mq {
    a: u32,
    c: u32,
    ct: u32,
    /// out[0] stands for the byte before the data (never written out): BYTEOUT may carry
    /// into the byte it last wrote, so that byte stays in the buffer until the end.
    out: Vec<u8>,
    /// Per context: state index and MPS.
    cx: Vec<(u8, u8)>,
}

impl Mq {
    fn new(contexts: usize) -> Mq {
        Mq {
            a: 0x8000,
            c: 0,
            ct: 12,
            out: vec![0],
            cx: vec![(0, 0); contexts],
        }
    }

    fn encode(&mut self, cx: usize, d: u8) {
        let (i, mps) = self.cx[cx];
        let (qe, nmps, nlps, switch) = QE[i as usize];
        self.a -= qe;
        if d == mps {
            if self.a & 0x8000 != 0 {
                self.c += qe;
                return;
            }
            if self.a < qe {
                self.a = qe;
            } else {
                self.c += qe;
            }
            self.cx[cx].0 = nmps;
        } else {
            if self.a < qe {
                self.c += qe;
            } else {
                self.a = qe;
            }
            self.cx[cx] = (nlps, if switch { 1 - mps } else { mps });
        }
        while self.a & 0x8000 == 0 {
            self.a <<= 1;
            self.c <<= 1;
            self.ct -= 1;
            if self.ct == 0 {
                self.byte_out();
            }
        }
    }

    fn byte_out(&mut self) {
        let b = self.out.last_mut().expect("never empty");
        if *b == 0xFF {
            self.push(20);
        } else if self.c < 0x800_0000 {
            self.push(19);
        } else {
            *b += 1;
            if *b == 0xFF {
                self.c &= 0x7FF_FFFF;
                self.push(20);
            } else {
                self.push(19);
            }
        }
    }

    /// The next byte: the top bits of C (a byte after 0xFF carries 7 bits, the bit stuffing
    /// that keeps markers out of the data).
    fn push(&mut self, shift: u32) {
        self.out.push((self.c >> shift) as u8);
        self.c &= (1 << shift) - 1;
        self.ct = if shift == 20 { 7 } else { 8 };
    }

    fn finish(mut self) -> Vec<u8> {
        let tempc = self.c + self.a;
        self.c |= 0xFFFF;
        if self.c >= tempc {
            self.c -= 0x8000;
        }
        self.c <<= self.ct;
        self.byte_out();
        self.c <<= self.ct;
        self.byte_out();
        if self.out.last() != Some(&0xFF) {
            self.out.push(0xFF);
        }
        self.out.push(0xAC);
        self.out.remove(0);
        self.out
    }
}

/// Template 0's adaptive pixels at their nominal places (T.88 6.2.5.3), as (x, y) offsets.
const AT: [(i8, i8); 4] = [(3, -1), (-3, -1), (2, -2), (-2, -2)];

/// One segment: header (T.88 7.2; number, type, no referred segments, page 1) and data.
fn segment(out: &mut Vec<u8>, number: u32, kind: u8, data: &[u8]) {
    out.extend_from_slice(&number.to_be_bytes());
    out.extend_from_slice(&[kind, 0, 1]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

/// The JBIG2 stream of a black-and-white image (row-major, 0 black, anything else white):
/// a page information segment and one immediate lossless generic region covering the page.
pub fn encode(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    // Rows of 0 (white) / 1 (black) with a white margin of 4 on each side, two white rows above.
    let stride = w + 8;
    let mut px = vec![0u8; stride * (h + 2)];
    for (y, row) in pixels.chunks_exact(w.max(1)).take(h).enumerate() {
        let dst = &mut px[(y + 2) * stride + 4..(y + 2) * stride + 4 + w];
        for (d, &s) in dst.iter_mut().zip(row) {
            *d = u8::from(s == 0);
        }
    }
    let mut mq = Mq::new(1 << 16);
    for y in 0..h {
        let r0 = (y + 2) * stride + 4;
        let (r1, r2) = (r0 - stride, r0 - 2 * stride);
        for x in 0..w {
            let at = |r: usize, dx: isize| px[(r + x).wrapping_add_signed(dx)] as usize;
            let mut cx = 0usize;
            for (r, dx) in [
                (r0, -4),
                (r0, -3),
                (r0, -2),
                (r0, -1),
                (r1, -2),
                (r1, -1),
                (r1, 0),
                (r1, 1),
                (r1, 2),
                (r2, -1),
                (r2, 0),
                (r2, 1),
            ] {
                cx = cx << 1 | at(r, dx);
            }
            for (dx, dy) in AT {
                let r = if dy == -1 { r1 } else { r2 };
                cx = cx << 1 | at(r, dx as isize);
            }
            mq.encode(cx, px[r0 + x]);
        }
    }
    let coded = mq.finish();

    let mut out = Vec::with_capacity(coded.len() + 64);
    let mut page = Vec::with_capacity(19);
    page.extend_from_slice(&width.to_be_bytes());
    page.extend_from_slice(&height.to_be_bytes());
    page.extend_from_slice(&[0; 8]); // resolution unknown
    page.push(1); // eventually lossless; white background, OR
    page.extend_from_slice(&[0, 0]); // not striped
    segment(&mut out, 0, 48, &page);

    let mut region = Vec::with_capacity(coded.len() + 26);
    region.extend_from_slice(&width.to_be_bytes());
    region.extend_from_slice(&height.to_be_bytes());
    region.extend_from_slice(&[0; 8]); // at the page's origin
    region.push(0); // combined by OR
    region.push(0); // arithmetic coding, template 0, no typical prediction
    for (dx, dy) in AT {
        region.extend_from_slice(&[dx as u8, dy as u8]);
    }
    region.extend_from_slice(&coded);
    segment(&mut out, 1, 39, &region);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The MQ decoder (T.88 E.3), to read back what the encoder wrote.
    struct Dec<'a> {
        data: &'a [u8],
        bp: usize,
        chigh: u32,
        clow: u32,
        ct: u32,
        a: u32,
        cx: Vec<(u8, u8)>,
    }

    impl<'a> Dec<'a> {
        fn new(data: &'a [u8]) -> Dec<'a> {
            let mut d = Dec {
                data,
                bp: 0,
                chigh: data[0] as u32,
                clow: 0,
                ct: 0,
                a: 0x8000,
                cx: vec![(0, 0); 1 << 16],
            };
            d.byte_in();
            d.chigh = ((d.chigh << 7) & 0xFFFF) | ((d.clow >> 9) & 0x7F);
            d.clow = (d.clow << 7) & 0xFFFF;
            d.ct -= 7;
            d
        }

        fn byte(&self, i: usize) -> u32 {
            *self.data.get(i).unwrap_or(&0xFF) as u32
        }

        fn byte_in(&mut self) {
            if self.byte(self.bp) == 0xFF {
                if self.byte(self.bp + 1) > 0x8F {
                    self.clow += 0xFF00;
                    self.ct = 8;
                } else {
                    self.bp += 1;
                    self.clow += self.byte(self.bp) << 9;
                    self.ct = 7;
                }
            } else {
                self.bp += 1;
                self.clow += self.byte(self.bp) << 8;
                self.ct = 8;
            }
            if self.clow > 0xFFFF {
                self.chigh += self.clow >> 16;
                self.clow &= 0xFFFF;
            }
        }

        fn decode(&mut self, cx: usize) -> u8 {
            let (i, mps) = self.cx[cx];
            let (qe, nmps, nlps, switch) = QE[i as usize];
            let mut a = self.a - qe;
            let d;
            if self.chigh < qe {
                if a < qe {
                    d = mps;
                    self.cx[cx].0 = nmps;
                } else {
                    d = 1 - mps;
                    self.cx[cx] = (nlps, if switch { d } else { mps });
                }
                a = qe;
            } else {
                self.chigh -= qe;
                if a & 0x8000 != 0 {
                    self.a = a;
                    return mps;
                }
                if a < qe {
                    d = 1 - mps;
                    self.cx[cx] = (nlps, if switch { d } else { mps });
                } else {
                    d = mps;
                    self.cx[cx].0 = nmps;
                }
            }
            while a & 0x8000 == 0 {
                if self.ct == 0 {
                    self.byte_in();
                }
                a <<= 1;
                self.chigh = ((self.chigh << 1) & 0xFFFF) | ((self.clow >> 15) & 1);
                self.clow = (self.clow << 1) & 0xFFFF;
                self.ct -= 1;
            }
            self.a = a;
            d
        }
    }

    /// The region's pixels (1 black), read back with the same context as the encoder's.
    fn decode(stream: &[u8]) -> (u32, u32, Vec<u8>) {
        let seg_len = |at: usize| u32::from_be_bytes(stream[at + 7..at + 11].try_into().unwrap());
        assert_eq!(stream[4], 48, "page information first");
        let region = 11 + seg_len(0) as usize;
        assert_eq!(
            stream[region + 4],
            39,
            "then an immediate lossless generic region"
        );
        let body = &stream[region + 11..];
        assert_eq!(body.len(), seg_len(region) as usize);
        let w = u32::from_be_bytes(body[0..4].try_into().unwrap()) as i64;
        let h = u32::from_be_bytes(body[4..8].try_into().unwrap()) as i64;
        assert_eq!(body[17], 0, "template 0, arithmetic, no TPGDON");
        let mut dec = Dec::new(&body[26..]);
        let mut px = vec![0u8; (w * h) as usize];
        let get = |px: &[u8], x: i64, y: i64| {
            if x < 0 || y < 0 || x >= w {
                0
            } else {
                px[(y * w + x) as usize] as usize
            }
        };
        for y in 0..h {
            for x in 0..w {
                let mut cx = 0;
                for (dx, dy) in [
                    (-4, 0),
                    (-3, 0),
                    (-2, 0),
                    (-1, 0),
                    (-2, -1),
                    (-1, -1),
                    (0, -1),
                    (1, -1),
                    (2, -1),
                    (-1, -2),
                    (0, -2),
                    (1, -2),
                ]
                .into_iter()
                .chain(AT.map(|(x, y)| (x as i64, y as i64)))
                {
                    cx = cx << 1 | get(&px, x + dx, y + dy);
                }
                px[(y * w + x) as usize] = dec.decode(cx);
            }
        }
        (w as u32, h as u32, px)
    }

    #[test]
    fn pages_come_back_pixel_for_pixel() {
        let cases: Vec<(u32, u32, Vec<u8>)> = vec![
            (1, 1, vec![0]),
            (13, 7, vec![255; 91]),
            (13, 7, vec![0; 91]),
            (
                203,
                61,
                (0..203 * 61)
                    .map(|i: u32| {
                        let (x, y) = (i % 203, i / 203);
                        // Text-like strokes, with noise that makes LPS and carries frequent.
                        if (x / 3 + y / 5) % 7 == 0 || (x * 31 + y * 17) % 29 == 0 {
                            0
                        } else {
                            255
                        }
                    })
                    .collect(),
            ),
        ];
        for (w, h, px) in cases {
            let (dw, dh, back) = decode(&encode(w, h, &px));
            assert_eq!((dw, dh), (w, h));
            let want: Vec<u8> = px.iter().map(|&v| u8::from(v == 0)).collect();
            assert_eq!(back, want, "{w}x{h}");
        }
    }
}
