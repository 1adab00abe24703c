#!/usr/bin/env python3
"""Builds the text-layer fixtures of tests/text_pdf.rs (run from this folder; needs fpdf2 and
Pillow, `pip install fpdf2`, and the DejaVu fonts of Debian's fonts-dejavu-core).

  born-digital.pdf   5 pages "made in Word": the text of shared/scans-dev 000-liberation
                     (born-digital.page*.txt, the truth of those scans) as vector text in DejaVu
                     Serif, two-column header and closing block as in the scan.
  tcvn3.pdf          2 pages typed before Unicode: page 1 in `.VnTime` / `.VnTimeH` with TCVN3
                     codes, page 2 in `VNI-Times` with VNI codes; fonts not embedded, WinAnsi
                     encoding, so PDFium extracts mojibake as from real files. Expected text:
                     tcvn3.expected.txt.
  signed-scan.pdf    an image-only page (the top of page 1, rendered to pixels) with the portal's
                     digital-signature appearance as small real text in a corner.
  garbled-layer.pdf  the same image under an invisible (render mode 3) text layer: the English
                     model's OCR of that page (garbled-layer.eng.txt, from shared/garbled-dev).
  legacy-tcvn3.txt, legacy-vni.txt   every Vietnamese letter in both cases and a few lines of
                     text, in TCVN 5712 and VNI bytes (legacy-unicode.txt is the truth).

`python3 make.py --pages N OUT.pdf` writes a born-digital PDF of N pages (the 5 repeated) for
speed measurements.
"""
import sys
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

FONTS = "/usr/share/fonts/truetype/dejavu/"
PAGES = [open(f"born-digital.page{i}.txt", encoding="utf-8").read().splitlines() for i in range(1, 6)]
LEFT, RIGHT, TOP, PITCH = 30.0, 195.0, 20.0, 6.3

HEADER_L = ["ĐẢNG BỘ TỈNH LÂM ĐỒNG", "HUYỆN UỶ ĐỨC TRỌNG", "*", "Số 152 -KH/HU"]
HEADER_R = ["ĐẢNG CỘNG SẢN VIỆT NAM", "Đức Trọng, ngày 15 tháng 9 năm 2023"]


def fitted(pdf, text, size):
    # Lines are the scan's lines: shrink a long one rather than wrap it.
    while pdf.get_string_width(text) > RIGHT - LEFT and size > 6:
        size -= 0.25
        pdf.set_font_size(size)
    return size


def born_digital_page(pdf, n):
    lines = PAGES[n]
    pdf.add_page()
    y = TOP
    body = lines
    if n == 0:
        for i, t in enumerate(HEADER_L):
            pdf.set_font("S", "B" if i < 2 else "", 12)
            pdf.set_xy(LEFT, y + i * PITCH)
            pdf.cell(70, PITCH, t, align="C")
        for i, t in enumerate(HEADER_R):
            pdf.set_font("S", "B" if i == 0 else "I", 12)
            pdf.set_xy(105, y + i * PITCH)
            pdf.cell(90, PITCH, t, align="C")
        y += 4 * PITCH + 4
        body = lines[4:]
    closing = None
    if "Nơi nhận:" in body:
        k = body.index("Nơi nhận:")
        closing = (body[k:-3], body[-3:])
        body = body[:k]
    for t in body:
        bold = t.isupper() or t.startswith(("I.", "II.", "III.", "IV.", "V."))
        pdf.set_font("S", "B" if bold else "", 12)
        fitted(pdf, t, 12)
        pdf.set_xy(LEFT, y)
        if t in ("KẾ HOẠCH", "-----"):
            pdf.cell(RIGHT - LEFT, PITCH, t, align="C")
        else:
            pdf.cell(RIGHT - LEFT, PITCH, t)
        y += PITCH
    if closing:
        y += 4
        left, right = closing
        for i, t in enumerate(left):
            pdf.set_font("S", "BI" if i == 0 else "", 12 if i == 0 else 10)
            pdf.set_xy(LEFT, y + i * PITCH)
            pdf.cell(80, PITCH, t)
        for i, t in enumerate(right):
            pdf.set_font("S", "B", 12)
            pdf.set_xy(115, y + (i + (3 if i == 2 else 0)) * PITCH)
            pdf.cell(80, PITCH, t, align="C")


def new_pdf():
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creator("Microsoft® Word 2016")
    pdf.add_font("S", "", FONTS + "DejaVuSerif.ttf")
    pdf.add_font("S", "B", FONTS + "DejaVuSerif-Bold.ttf")
    pdf.add_font("S", "I", FONTS + "DejaVuSerif-Italic.ttf")
    pdf.add_font("S", "BI", FONTS + "DejaVuSerif-BoldItalic.ttf")
    return pdf


def born_digital(out, pages=5):
    pdf = new_pdf()
    for i in range(pages):
        born_digital_page(pdf, i % 5)
    pdf.output(out)


def scan_image(out, lines=18, dpi=200):
    # The top of page 1 as a scanner would give it: black text on white, 1 bit.
    w, h = round(210 / 25.4 * dpi), round(297 / 25.4 * dpi)
    img = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(img)
    px = lambda mm: round(mm / 25.4 * dpi)
    font = ImageFont.truetype(FONTS + "DejaVuSerif.ttf", round(12 / 72 * dpi))
    bold = ImageFont.truetype(FONTS + "DejaVuSerif-Bold.ttf", round(12 / 72 * dpi))
    y = TOP
    for i, t in enumerate(HEADER_L):
        d.text((px(LEFT + 35), px(y + i * PITCH)), t, font=bold if i < 2 else font, anchor="mt")
    for i, t in enumerate(HEADER_R):
        d.text((px(150), px(y + i * PITCH)), t, font=bold if i == 0 else font, anchor="mt")
    y += 4 * PITCH + 4
    for t in PAGES[0][4:lines]:
        d.text((px(LEFT), px(y)), t, font=font)
        y += PITCH
    img.point(lambda v: 255 if v > 128 else 0).convert("1").save(out)


SIGNATURE = [
    "Người ký: CỔNG THÔNG TIN ĐIỆN TỬ CHÍNH PHỦ",
    "Email: thongtinchinhphu@chinhphu.vn",
    "Cơ quan: VĂN PHÒNG CHÍNH PHỦ",
    "Thời gian ký: 23.04.2026 15:54:16 +07:00",
]


def signed_scan(out, png):
    pdf = new_pdf()
    pdf.add_page()
    pdf.image(png, 0, 0, 210, 297)
    pdf.set_font("S", "", 6)
    pdf.set_draw_color(200, 0, 0)
    pdf.rect(140, 268, 62, 16)
    for i, t in enumerate(SIGNATURE):
        pdf.set_xy(141, 269 + i * 3.5)
        pdf.cell(60, 3.5, t)
    pdf.output(out)


def garbled_layer(out, png):
    pdf = new_pdf()
    pdf.add_page()
    pdf.image(png, 0, 0, 210, 297)
    eng = [l for l in open("garbled-layer.eng.txt", encoding="utf-8").read().splitlines() if l.strip()]
    pdf.text_mode = 3  # invisible, as OCRmyPDF and Tesseract write their layers
    y = TOP
    for t in eng[:lines_in_scan()]:
        pdf.set_font("S", "", 12)
        fitted(pdf, t, 12)
        pdf.set_xy(LEFT, y)
        pdf.cell(RIGHT - LEFT, PITCH, t)
        y += PITCH
    pdf.output(out)


def lines_in_scan():
    return 18 - 4 + 2  # header lines merge in pairs in the English OCR


# --- legacy encodings -----------------------------------------------------------------------

TCVN_A0 = [
    0x00a0, 0x0102, 0x00c2, 0x00ca, 0x00d4, 0x01a0, 0x01af, 0x0110,
    0x0103, 0x00e2, 0x00ea, 0x00f4, 0x01a1, 0x01b0, 0x0111, 0x1eb0,
    0x0300, 0x0309, 0x0303, 0x0301, 0x0323, 0x00e0, 0x1ea3, 0x00e3,
    0x00e1, 0x1ea1, 0x1eb2, 0x1eb1, 0x1eb3, 0x1eb5, 0x1eaf, 0x1eb4,
    0x1eae, 0x1ea6, 0x1ea8, 0x1eaa, 0x1ea4, 0x1ec0, 0x1eb7, 0x1ea7,
    0x1ea9, 0x1eab, 0x1ea5, 0x1ead, 0x00e8, 0x1ec2, 0x1ebb, 0x1ebd,
    0x00e9, 0x1eb9, 0x1ec1, 0x1ec3, 0x1ec5, 0x1ebf, 0x1ec7, 0x00ec,
    0x1ec9, 0x1ec4, 0x1ebe, 0x1ed2, 0x0129, 0x00ed, 0x1ecb, 0x00f2,
    0x1ed4, 0x1ecf, 0x00f5, 0x00f3, 0x1ecd, 0x1ed3, 0x1ed5, 0x1ed7,
    0x1ed1, 0x1ed9, 0x1edd, 0x1edf, 0x1ee1, 0x1edb, 0x1ee3, 0x00f9,
    0x1ed6, 0x1ee7, 0x0169, 0x00fa, 0x1ee5, 0x1eeb, 0x1eed, 0x1eef,
    0x1ee9, 0x1ef1, 0x1ef3, 0x1ef7, 0x1ef9, 0x00fd, 0x1ef5, 0x1ed0,
]
TCVN_80 = [
    0x00c0, 0x1ea2, 0x00c3, 0x00c1, 0x1ea0, 0x1eb6, 0x1eac, 0x00c8,
    0x1eba, 0x1ebc, 0x00c9, 0x1eb8, 0x1ec6, 0x00cc, 0x1ec8, 0x0128,
    0x00cd, 0x1eca, 0x00d2, 0x1ece, 0x00d5, 0x00d3, 0x1ecc, 0x1ed8,
    0x1edc, 0x1ede, 0x1ee0, 0x1eda, 0x1ee2, 0x00d9, 0x1ee6, 0x0168,
]
TCVN_C0 = {0x01: 0xda, 0x02: 0x1ee4, 0x04: 0x1eea, 0x05: 0x1eec, 0x06: 0x1eee, 0x11: 0x1ee8,
           0x12: 0x1ef0, 0x13: 0x1ef2, 0x14: 0x1ef6, 0x15: 0x1ef8, 0x16: 0xdd, 0x17: 0x1ef4}
TCVN = {chr(u): 0xa0 + i for i, u in enumerate(TCVN_A0) if i >= 1 and not 0x10 <= i <= 0x14}
TCVN.update({chr(u): 0x80 + i for i, u in enumerate(TCVN_80)})
TCVN.update({chr(u): b for b, u in TCVN_C0.items()})


def tcvn3(text):
    import unicodedata
    return bytes(b if (b := ord(c)) < 0x80 else TCVN[c] for c in unicodedata.normalize("NFC", text))


VNI_SINGLE = {"í": "í", "ì": "ì", "ỉ": "æ", "ĩ": "ó", "ị": "ò", "ỵ": "î", "đ": "ñ", "ơ": "ô", "ư": "ö"}
TONE = {"\u0301": "ù", "\u0300": "ø", "\u0309": "û", "\u0303": "õ", "\u0323": "ï"}
CIRC = {"\u0301": "á", "\u0300": "à", "\u0309": "å", "\u0303": "ã", "\u0323": "ä", None: "â"}
BREVE = {"\u0301": "é", "\u0300": "è", "\u0309": "ú", "\u0303": "ü", "\u0323": "ë", None: "ê"}


def vni(text):
    import unicodedata
    out = []
    for c in unicodedata.normalize("NFC", text):
        if ord(c) < 0x80:
            out.append(c)
            continue
        up, low = c.isupper(), c.lower()
        case = (lambda s: s.upper()) if up else (lambda s: s)
        if low in VNI_SINGLE:
            out.append(case(VNI_SINGLE[low]))
            continue
        d = unicodedata.normalize("NFD", low)
        base, marks = d[0], d[1:]
        mod = next((m for m in marks if m in "\u0302\u0306"), None)
        tone = next((m for m in marks if m in TONE), None)
        if "\u031b" in marks:
            base = {"o": "ô", "u": "ö"}[base]
        mark = CIRC[tone] if mod == "\u0302" else BREVE[tone] if mod == "\u0306" else TONE.get(tone, "")
        out.append(case(base + mark))
    return "".join(out).encode("cp1252")


LOWER = ("a à á ả ã ạ ă ằ ắ ẳ ẵ ặ â ầ ấ ẩ ẫ ậ b c d đ e è é ẻ ẽ ẹ ê ề ế ể ễ ệ g h i ì í ỉ ĩ ị "
         "k l m n o ò ó ỏ õ ọ ô ồ ố ổ ỗ ộ ơ ờ ớ ở ỡ ợ p q r s t u ù ú ủ ũ ụ ư ừ ứ ử ữ ự v x y ỳ ý ỷ ỹ ỵ")
TEXT = [
    "Cộng hoà xã hội chủ nghĩa Việt Nam",
    "Độc lập - Tự do - Hạnh phúc",
    "Quyết định về việc ban hành kế hoạch thực hiện nghị quyết của Tỉnh uỷ",
]


def pdf_string(b):
    return b"(" + b.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def raw_pdf(out, pages):
    """pages: lists of (font, size, bytes). Simple fonts, not embedded, WinAnsiEncoding."""
    objs = []

    def add(body):
        objs.append(body)
        return len(objs)

    fonts = {}
    for p in pages:
        for f, _, _ in p:
            if f not in fonts:
                widths = b" ".join([b"500"] * 224)
                fonts[f] = add(b"<< /Type /Font /Subtype /TrueType /BaseFont /" + f.encode() +
                               b" /FirstChar 32 /LastChar 255 /Widths [" + widths +
                               b"] /Encoding /WinAnsiEncoding >>")
    res = b"<< /Font << " + b" ".join(b"/F%d %d 0 R" % (i, n) for i, n in enumerate(fonts.values())) + b" >> >>"
    names = {f: i for i, f in enumerate(fonts)}
    kids = []
    pages_id = len(objs) + 2 * len(pages) + 1
    for p in pages:
        ops = [b"BT"]
        y = 800
        for f, size, text in p:
            ops.append(b"/F%d %d Tf 1 0 0 1 60 %d Tm %s Tj" % (names[f], size, y, pdf_string(text)))
            y -= size * 1.6
        ops.append(b"ET")
        data = b"\n".join(ops)
        c = add(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources %s /Contents %d 0 R >>"
                        % (pages_id, res, c)))
    assert add(b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids) +
               b"] /Count %d >>" % len(kids)) == pages_id
    cat = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    buf = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offs = []
    for i, o in enumerate(objs, 1):
        offs.append(len(buf))
        buf += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(buf)
    buf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offs:
        buf += b"%010d 00000 n \n" % o
    buf += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, cat, xref)
    open(out, "wb").write(buf)


def legacy_fixtures():
    caps = [t.upper() for t in TEXT[:1]]
    # TCVN3 page: capitals set in the capitals font with the lower-case codes, as typists did.
    p1 = [(".VnTimeH", 14, tcvn3(caps[0].lower()))]
    p1 += [(".VnTime", 12, tcvn3(t)) for t in TEXT[1:]]
    # Every letter, in lines that fit the page.
    # A lone ư is ambiguous once extracted: its TCVN3 code is the soft hyphen, which PDFium
    # gives as '-', and a lone '-' is a dash ("Độc lập - Tự do"); in a word it is not ("ưu").
    k = LOWER.index(" k ")
    halves = [LOWER[:k], LOWER[k + 1:].replace(" ư ", " ưu ")]
    p1 += [(".VnTime", 10, tcvn3(h)) for h in halves] + [(".VnTimeH", 10, tcvn3(h)) for h in halves]
    p2 = [("VNI-Times", 12, vni(t)) for t in TEXT]
    p2 += [("VNI-Times", 10, vni(h)) for h in halves] + [("VNI-Times", 10, vni(h.upper())) for h in halves]
    raw_pdf("tcvn3.pdf", [p1, p2])
    exp1 = caps + TEXT[1:] + halves + [h.upper() for h in halves]
    exp2 = TEXT + halves + [h.upper() for h in halves]
    open("tcvn3.expected.txt", "w", encoding="utf-8").write(
        "\n".join(exp1) + "\n\f" + "\n".join(exp2) + "\n")
    text = "\n".join([LOWER, LOWER.upper()] + TEXT) + "\n"
    open("legacy-unicode.txt", "w", encoding="utf-8").write(text)
    open("legacy-tcvn3.txt", "wb").write(tcvn3(text))
    open("legacy-vni.txt", "wb").write(vni(text))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--pages":
        born_digital(sys.argv[3], int(sys.argv[2]))
        sys.exit(0)
    born_digital("born-digital.pdf")
    scan_image("/tmp/sohoa-scan.png")
    signed_scan("signed-scan.pdf", "/tmp/sohoa-scan.png")
    garbled_layer("garbled-layer.pdf", "/tmp/sohoa-scan.png")
    legacy_fixtures()
