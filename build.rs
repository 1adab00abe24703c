// Export sohoa's `pixWriteMem` from every executable (the CLI, tests, benches) so libtesseract
// binds to it ahead of Leptonica's: see src/tess_shim.rs for why.
fn main() {
    println!("cargo:rustc-link-arg=-Wl,--export-dynamic-symbol=pixWriteMem");
    // The machine-tuned libtesseract that scripts/setup builds (same version and soname as
    // Debian's, which is what we link against) is looked up here first at run time; while the
    // folder is missing the loader falls through to the system library.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = std::path::Path::new(&manifest).join("third_party/tesseract/lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    println!("cargo:rerun-if-changed=build.rs");
}
