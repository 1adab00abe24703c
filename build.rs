// Export sohoa's `pixWriteMem` from every executable (the CLI, tests, benches) so libtesseract
// binds to it ahead of Leptonica's: see src/tess_shim.rs for why.
fn main() {
    println!("cargo:rustc-link-arg=-Wl,--export-dynamic-symbol=pixWriteMem");
    println!("cargo:rerun-if-changed=build.rs");
}
