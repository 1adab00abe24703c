//! Characters per second of a tagger model in tract, with symbolic input shapes (how
//! `restore.onnx` runs) and with a fixed shape (how `restore-fast.onnx` runs, in rows):
//!
//!     cargo run --release --example tagbench -- models/restore-fast.onnx [BATCH [LEN]]
use tract_onnx::prelude::*;

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bytes = std::fs::read(&args[0])?;
    let arg = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (b, t) = (arg(1, 1), arg(2, 1024));
    let read = || tract_onnx::onnx().model_for_read(&mut std::io::Cursor::new(&bytes));
    let symbolic = read()?.into_optimized()?.into_runnable()?;
    let t0 = std::time::Instant::now();
    let fixed = read()?
        .with_input_fact(0, i64::fact([b, t]).into())?
        .into_optimized()?
        .into_runnable()?;
    println!(
        "fixed-shape plan built in {:.3} s",
        t0.elapsed().as_secs_f64()
    );
    // TAGBENCH_OPS=1: which kernels tract chose for the fixed-shape plan.
    if std::env::var("TAGBENCH_OPS").is_ok_and(|v| v == "1") {
        for node in fixed.model().nodes() {
            println!("  {} {}", node.op().name(), node.name);
        }
    }
    let input = || {
        Tensor::from(tract_ndarray::Array2::from_shape_fn((b, t), |(i, j)| {
            ((i * 7 + j * 13) % 60 + 2) as i64
        }))
    };
    for (name, plan) in [("symbolic", &symbolic), ("fixed", &fixed)] {
        let n = 20;
        let t0 = std::time::Instant::now();
        for _ in 0..n {
            plan.run(tvec!(input().into()))?;
        }
        let s = t0.elapsed().as_secs_f64();
        println!(
            "{name:>8} {b}x{t}: {:.2} us a character",
            s * 1e6 / (n * b * t) as f64
        );
    }
    Ok(())
}
