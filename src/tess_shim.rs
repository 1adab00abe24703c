//! Removes a PNG round trip inside Tesseract 5.3's recogniser.
//!
//! For every word/line it recognises, Tesseract crops the line image and stores it in an
//! `ImageData` by PNG-encoding it (`ImageData::SetPixInternal` → `pixWriteMem(.., IFF_PNG)`),
//! then decodes it again a moment later (`pixReadMem`). `perf` put zlib + libpng at ~15 % of
//! sohoa's CPU on the dev scans: more than rasterising, clean-up and restoration together.
//!
//! The executable exports its own `pixWriteMem` (see build.rs), which the dynamic linker binds
//! libtesseract's call to ahead of Leptonica's. While one of our engines is recognising on this
//! thread, PNG requests are written as Leptonica's own serialised-pix format (SPIX: a header and
//! the raw raster, no compression). `pixReadMem` sniffs the format, so Tesseract reads back the
//! exact same pixels; every other call goes to Leptonica unchanged.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::OnceLock;

const IFF_PNG: i32 = 3;

thread_local! {
    static IN_RECOGNIZE: Cell<bool> = const { Cell::new(false) };
}

type WriteMemFn = unsafe extern "C" fn(*mut *mut u8, *mut usize, *mut c_void, i32) -> i32;

#[link(name = "lept")]
extern "C" {
    fn pixWriteMemSpix(pdata: *mut *mut u8, psize: *mut usize, pix: *mut c_void) -> i32;
}

/// Leptonica's own `pixWriteMem`, the next definition after ours in lookup order.
fn real_write_mem() -> Option<WriteMemFn> {
    static REAL: OnceLock<usize> = OnceLock::new();
    let addr = *REAL
        .get_or_init(|| unsafe { libc::dlsym(libc::RTLD_NEXT, c"pixWriteMem".as_ptr()) as usize });
    (addr != 0).then(|| unsafe { std::mem::transmute::<usize, WriteMemFn>(addr) })
}

/// `SOHOA_TESS_PNG=1` keeps Tesseract's PNG round trip: for before/after benchmarks.
fn keep_png() -> bool {
    static KEEP: OnceLock<bool> = OnceLock::new();
    *KEEP.get_or_init(|| std::env::var_os("SOHOA_TESS_PNG").is_some_and(|v| v == "1"))
}

/// # Safety
/// Same contract as Leptonica's `pixWriteMem`; called by C code only.
#[no_mangle]
pub unsafe extern "C" fn pixWriteMem(
    pdata: *mut *mut u8,
    psize: *mut usize,
    pix: *mut c_void,
    format: i32,
) -> i32 {
    if format == IFF_PNG && IN_RECOGNIZE.with(Cell::get) && !keep_png() {
        return pixWriteMemSpix(pdata, psize, pix);
    }
    match real_write_mem() {
        Some(f) => f(pdata, psize, pix, format),
        None => 1, // Leptonica's "error" return; cannot happen while liblept is linked
    }
}

/// Marks the current thread as inside Tesseract recognition until dropped.
pub(crate) struct RecognizeScope(());

impl RecognizeScope {
    pub(crate) fn enter() -> RecognizeScope {
        IN_RECOGNIZE.with(|c| c.set(true));
        RecognizeScope(())
    }
}

impl Drop for RecognizeScope {
    fn drop(&mut self) {
        IN_RECOGNIZE.with(|c| c.set(false));
    }
}

/// Whether libtesseract's `pixWriteMem` calls reach the function above (the symbol is exported
/// from the executable). Reported by `sohoa info` so a build without the export is visible.
pub fn active() -> bool {
    unsafe {
        let me = libc::dlsym(libc::RTLD_DEFAULT, c"pixWriteMem".as_ptr());
        std::ptr::eq(me as *const (), pixWriteMem as *const ())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn libtesseract_binds_to_our_pix_write_mem() {
        assert!(
            super::active(),
            "build.rs must export pixWriteMem from every executable"
        );
    }
}
