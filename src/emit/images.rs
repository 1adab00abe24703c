//! Page images for the searchable PDF as image XObjects that carry the source's own compressed
//! data: a JPEG file as DCTDecode, a PNG's zlib stream as FlateDecode with the PNG predictors, a
//! bilevel TIFF page (Group 3 or 4 fax) as CCITTFaxDecode. Nothing is decoded and encoded again,
//! so no pixel can change (digits in a document number stay what the scanner saw) and the PDF is
//! barely larger than the source. What cannot pass through as it is (PNG with alpha or
//! interlacing, TIFF pages in several strips or other compressions) is stored losslessly: a
//! black-and-white page as JBIG2 (or CCITT Group 4 when that is smaller), else as a
//! PNG-predicted Flate stream.

use crate::error::{Error, Result};
use lopdf::{dictionary, Object, Stream};

/// An image XObject and what the PDF/A check needs to know about it.
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub stream: Stream,
}

fn bad(what: &str) -> Error {
    Error::BadImage(what.to_string())
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]) as u32)
}

/// A JPEG file, as it is. CMYK JPEGs written by Adobe software store inverted values (their
/// APP14 marker says so); /Decode turns them back, as every reader expects.
pub fn jpeg(data: &[u8]) -> Result<Image> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(bad("not a JPEG file"));
    }
    let mut at = 2;
    let mut adobe = false;
    while at + 4 <= data.len() {
        if data[at] != 0xFF {
            return Err(bad("JPEG: marker expected"));
        }
        let m = data[at + 1];
        if m == 0xFF {
            at += 1;
            continue;
        }
        if (0xD0..=0xD9).contains(&m) || m == 0x01 {
            at += 2;
            continue;
        }
        let len = be16(data, at + 2).ok_or_else(|| bad("JPEG: truncated"))? as usize;
        let seg = data
            .get(at + 4..at + 2 + len)
            .ok_or_else(|| bad("JPEG: truncated"))?;
        if m == 0xEE && seg.starts_with(b"Adobe") {
            adobe = true;
        }
        // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&m) && ![0xC4, 0xC8, 0xCC].contains(&m) {
            let bpc = *seg.first().ok_or_else(|| bad("JPEG: truncated"))?;
            let height = be16(seg, 1).ok_or_else(|| bad("JPEG: truncated"))?;
            let width = be16(seg, 3).ok_or_else(|| bad("JPEG: truncated"))?;
            let n = *seg.get(5).ok_or_else(|| bad("JPEG: truncated"))?;
            let mut d = dictionary! {
                "Type" => "XObject",
                "Subtype" => "Image",
                "Width" => width as i64,
                "Height" => height as i64,
                "BitsPerComponent" => bpc as i64,
                "Filter" => "DCTDecode",
            };
            match n {
                1 => d.set("ColorSpace", "DeviceGray"),
                3 => d.set("ColorSpace", "DeviceRGB"),
                4 => {
                    d.set("ColorSpace", "DeviceCMYK");
                    if adobe {
                        d.set("Decode", decode_array(&[1, 0, 1, 0, 1, 0, 1, 0]));
                    }
                }
                _ => return Err(bad(&format!("JPEG with {n} components"))),
            }
            return Ok(Image {
                width,
                height,
                stream: Stream::new(d, data.to_vec()).with_compression(false),
            });
        }
        if m == 0xDA {
            break;
        }
        at += 2 + len;
    }
    Err(bad("JPEG: no frame header"))
}

fn decode_array(v: &[i64]) -> Object {
    Object::Array(v.iter().map(|&x| Object::Integer(x)).collect())
}

/// A PNG file: its zlib data passed through when the PDF can read it as it is (no alpha, no
/// transparency key, not interlaced); otherwise decoded, laid on white and stored losslessly.
pub fn png(data: &[u8]) -> Result<Image> {
    match png_passthrough(data)? {
        Some(img) => Ok(img),
        None => {
            let img = image::load_from_memory_with_format(data, image::ImageFormat::Png)
                .map_err(|e| Error::BadImage(e.to_string()))?;
            Ok(flattened(&img))
        }
    }
}

fn png_passthrough(data: &[u8]) -> Result<Option<Image>> {
    if !data.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(bad("not a PNG file"));
    }
    let mut at = 8;
    let (mut ihdr, mut plte, mut idat, mut trns) = (None, None, Vec::new(), false);
    while at + 8 <= data.len() {
        let len = u32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind = &data[at + 4..at + 8];
        let body = data
            .get(at + 8..at + 8 + len)
            .ok_or_else(|| bad("PNG: truncated chunk"))?;
        match kind {
            b"IHDR" => ihdr = Some(body),
            b"PLTE" => plte = Some(body),
            b"tRNS" => trns = true,
            b"IDAT" => idat.extend_from_slice(body),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    let h = ihdr
        .filter(|h| h.len() >= 13)
        .ok_or_else(|| bad("PNG: no header"))?;
    let width = u32::from_be_bytes(h[0..4].try_into().expect("4 bytes"));
    let height = u32::from_be_bytes(h[4..8].try_into().expect("4 bytes"));
    let (depth, color, interlace) = (h[8], h[9], h[12]);
    if interlace != 0 || trns || idat.is_empty() {
        return Ok(None);
    }
    let (colors, space): (i64, Object) = match (color, plte) {
        (0, _) => (1, "DeviceGray".into()),
        (2, _) => (3, "DeviceRGB".into()),
        (3, Some(p)) if !p.is_empty() && p.len() % 3 == 0 => (
            1,
            Object::Array(vec![
                "Indexed".into(),
                "DeviceRGB".into(),
                Object::Integer((p.len() / 3 - 1) as i64),
                Object::String(p.to_vec(), lopdf::StringFormat::Hexadecimal),
            ]),
        ),
        _ => return Ok(None), // alpha channels, or a palette image without a palette
    };
    let d = dictionary! {
        "Type" => "XObject",
        "Subtype" => "Image",
        "Width" => width as i64,
        "Height" => height as i64,
        "ColorSpace" => space,
        "BitsPerComponent" => depth as i64,
        "Filter" => "FlateDecode",
        "DecodeParms" => dictionary! {
            "Predictor" => 15,
            "Colors" => colors,
            "BitsPerComponent" => depth as i64,
            "Columns" => width as i64,
        },
    };
    Ok(Some(Image {
        width,
        height,
        stream: Stream::new(d, idat).with_compression(false),
    }))
}

/// `img` on white (alpha composited away, as the page was OCR'd), as a lossless PNG stream.
fn flattened(img: &image::DynamicImage) -> Image {
    let (w, h) = (img.width(), img.height());
    let over_white = |v: u8, a: u8| {
        let a = a as u32;
        ((v as u32 * a + 255 * (255 - a) + 127) / 255) as u8
    };
    if img.color().has_color() {
        let px: Vec<u8> = img
            .to_rgba8()
            .pixels()
            .flat_map(|p| [0, 1, 2].map(|i| over_white(p[i], p[3])))
            .collect();
        lossless(w, h, true, &px)
    } else {
        let px: Vec<u8> = img
            .to_luma_alpha8()
            .pixels()
            .map(|p| over_white(p[0], p[1]))
            .collect();
        lossless(w, h, false, &px)
    }
}

/// 8-bit grey or RGB pixels (row-major, no padding), stored losslessly: a black-and-white page
/// (every pixel 0 or 255) as a JBIG2 generic region, or as CCITT Group 4 when that is smaller
/// (a fax TIFF's own coding; JBIG2's context modelling wins by about a third on text), else as
/// a PNG-predicted Flate image.
pub fn lossless(width: u32, height: u32, rgb: bool, pixels: &[u8]) -> Image {
    let bilevel = !rgb && pixels.iter().all(|&v| v == 0 || v == 255);
    if bilevel {
        let jbig2 = super::jbig2::encode(width, height, pixels);
        return match group4(width, height, pixels) {
            Some(g4) if g4.content.len() <= jbig2.len() => image(width, height, g4),
            _ => image(
                width,
                height,
                Stream::new(dictionary! { "Filter" => "JBIG2Decode" }, jbig2),
            ),
        };
    }
    let mut file = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut file, width, height);
        enc.set_color(if rgb {
            png::ColorType::Rgb
        } else {
            png::ColorType::Grayscale
        });
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let mut w = enc.write_header().expect("PNG into memory");
        w.write_image_data(pixels).expect("PNG into memory");
        w.finish().expect("PNG into memory");
    }
    png_passthrough(&file)
        .ok()
        .flatten()
        .expect("the PNG just written passes through")
}

/// A black-and-white image (0 black, 255 white) coded as CCITT Group 4, which is lossless
/// (`None` for an image wider than the coder's line).
fn group4(width: u32, height: u32, pixels: &[u8]) -> Option<Stream> {
    let w = u16::try_from(width).ok()?;
    let mut enc = fax::encoder::Encoder::new(fax::VecWriter::new());
    for row in pixels.chunks_exact(width as usize) {
        let pels = row.iter().map(|&v| {
            if v == 0 {
                fax::Color::Black
            } else {
                fax::Color::White
            }
        });
        enc.encode_line(pels, w).expect("writing to memory");
    }
    let data = enc.finish().expect("writing to memory").finish();
    let parms = dictionary! { "K" => -1, "Columns" => width as i64, "Rows" => height as i64 };
    Some(Stream::new(
        dictionary! { "Filter" => "CCITTFaxDecode", "DecodeParms" => parms },
        data,
    ))
}

/// A 1-bit grey image XObject over `coded`, whose dictionary names its filter (and parameters).
fn image(width: u32, height: u32, coded: Stream) -> Image {
    let mut d = dictionary! {
        "Type" => "XObject",
        "Subtype" => "Image",
        "Width" => width as i64,
        "Height" => height as i64,
        "ColorSpace" => "DeviceGray",
        "BitsPerComponent" => 1,
    };
    d.extend(&coded.dict);
    Image {
        width,
        height,
        stream: Stream::new(d, coded.content).with_compression(false),
    }
}

/// The pages of a TIFF file: a bilevel page compressed with CCITT Group 3 or 4 in one strip
/// passes through; `None` for the others (the caller stores their decoded pixels).
pub fn tiff_fax_pages(data: &[u8]) -> Result<Vec<Option<Image>>> {
    use tiff::tags::Tag;
    let terr = |e: tiff::TiffError| Error::BadImage(format!("TIFF: {e}"));
    let mut dec = tiff::decoder::Decoder::new(std::io::Cursor::new(data)).map_err(terr)?;
    let mut pages = Vec::new();
    loop {
        let tag = |dec: &mut tiff::decoder::Decoder<_>, t: Tag| -> Result<Option<u32>> {
            dec.find_tag_unsigned::<u32>(t).map_err(terr)
        };
        let (width, height) = dec.dimensions().map_err(terr)?;
        let compression = tag(&mut dec, Tag::Compression)?.unwrap_or(1);
        let bits = tag(&mut dec, Tag::BitsPerSample)?.unwrap_or(1);
        let photometric = tag(&mut dec, Tag::PhotometricInterpretation)?.unwrap_or(0);
        let fill_order = tag(&mut dec, Tag::FillOrder)?.unwrap_or(1);
        let t4 = tag(&mut dec, Tag::Unknown(292))?.unwrap_or(0); // T4Options
        let tiled = tag(&mut dec, Tag::TileWidth)?.is_some();
        let offsets = dec
            .find_tag_unsigned_vec::<u64>(Tag::StripOffsets)
            .map_err(terr)?
            .unwrap_or_default();
        let counts = dec
            .find_tag_unsigned_vec::<u64>(Tag::StripByteCounts)
            .map_err(terr)?
            .unwrap_or_default();
        // G3 with 2-D coding (T4Options bit 0) is K > 0; 1-D is K = 0; G4 is K < 0. Uncompressed
        // mode (bit 1) has no PDF equivalent.
        let k = match compression {
            4 => Some(-1),
            3 if t4 & 2 == 0 => Some(if t4 & 1 != 0 { 1 } else { 0 }),
            _ => None,
        };
        let strip = match (offsets.as_slice(), counts.as_slice()) {
            ([o], [n]) => data.get(*o as usize..(*o + *n) as usize),
            _ => None,
        };
        let page = match (k, strip) {
            (Some(k), Some(strip)) if bits == 1 && !tiled && photometric <= 1 => {
                let bytes: Vec<u8> = if fill_order == 2 {
                    strip.iter().map(|b| b.reverse_bits()).collect()
                } else {
                    strip.to_vec()
                };
                let mut parms = dictionary! {
                    "K" => k,
                    "Columns" => width as i64,
                    "Rows" => height as i64,
                };
                // The codes say white and black runs; with MinIsBlack the TIFF shows them the
                // other way round, which BlackIs1 reproduces.
                if photometric == 1 {
                    parms.set("BlackIs1", true);
                }
                if compression == 3 && t4 & 4 != 0 {
                    parms.set("EncodedByteAlign", true);
                }
                let d = dictionary! { "Filter" => "CCITTFaxDecode", "DecodeParms" => parms };
                Some(image(width, height, Stream::new(d, bytes)))
            }
            _ => None,
        };
        pages.push(page);
        if !dec.more_images() {
            break;
        }
        dec.next_image().map_err(terr)?;
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grey_png_passes_through_with_its_predictors() {
        let img = lossless(3, 2, false, &[0, 128, 255, 10, 20, 30]);
        let d = &img.stream.dict;
        assert_eq!(d.get(b"Filter").unwrap().as_name().unwrap(), b"FlateDecode");
        let parms = d.get(b"DecodeParms").unwrap().as_dict().unwrap();
        assert_eq!(parms.get(b"Predictor").unwrap().as_i64().unwrap(), 15);
        assert_eq!(d.get(b"BitsPerComponent").unwrap().as_i64().unwrap(), 8);
    }

    #[test]
    fn a_black_and_white_page_is_stored_as_group_4_without_loss() {
        let (w, h) = (37u32, 5u32);
        let px: Vec<u8> = (0..w * h)
            .map(|i| if (i * 7 + i / 5) % 3 == 0 { 0 } else { 255 })
            .collect();
        let img = group4(w, h, &px).unwrap();
        let mut back = Vec::new();
        fax::decoder::decode_g4(img.content.iter().copied(), w as u16, Some(h as u16), |t| {
            back.extend(fax::decoder::pels(t, w as u16).map(|c| match c {
                fax::Color::Black => 0u8,
                fax::Color::White => 255,
            }));
        })
        .unwrap();
        assert_eq!(back, px);
    }

    #[test]
    fn a_jpeg_is_described_by_its_frame_header() {
        let mut buf = std::io::Cursor::new(Vec::new());
        image::DynamicImage::new_rgb8(5, 4)
            .write_to(&mut buf, image::ImageFormat::Jpeg)
            .unwrap();
        let bytes = buf.into_inner();
        let img = jpeg(&bytes).unwrap();
        assert_eq!((img.width, img.height), (5, 4));
        assert_eq!(img.stream.content, bytes, "the file's bytes, untouched");
        let cs = img.stream.dict.get(b"ColorSpace").unwrap();
        assert_eq!(cs.as_name().unwrap(), b"DeviceRGB");
    }
}
