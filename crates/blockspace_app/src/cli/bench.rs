//! `blockspace bench`: times a production convolution kernel on the shapes B1–B5.

use std::io::Write;

use blockspace_kernels::bench::{
    BenchCase, BenchOp, CASES, FMA_PEAK, GEMM_YARDSTICK, Timing, case_isa_name, fma_peak,
    gemm_yardstick, time, with_threads,
};
use blockspace_kernels::{Element, KernelContext};

/// Arguments of `blockspace bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The op to time: Conv3D, Conv3DBackpropInputV2 or Conv3DBackpropFilterV2.
    #[arg(long, default_value = "Conv3DBackpropInputV2")]
    pub op: String,
    /// Comma-separated cases to run (B1..B5).
    #[arg(long, value_delimiter = ',', default_value = "B1,B2,B3,B4,B5")]
    pub shapes: Vec<String>,
    /// Element type: f32 or f64.
    #[arg(long, default_value = "f32", value_parser = ["f32", "f64"])]
    pub dtype: String,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Timed runs per case (at least 7).
    #[arg(long, default_value_t = 9)]
    pub runs: usize,
    /// Untimed warm-up runs per case.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

struct Row {
    case: BenchCase,
    timing: Timing,
    gflops: f64,
}

fn run_case<T: Element>(
    op: BenchOp,
    case: &BenchCase,
    warmup: usize,
    runs: usize,
) -> anyhow::Result<Row> {
    let problem = case.op_problem::<T>(op, 0x5eed)?;
    let ctx = KernelContext::default();
    let timing = time(warmup, runs, || problem(&ctx))?;
    let gflops = case.gflop()? / timing.median_s;
    Ok(Row {
        case: *case,
        timing,
        gflops,
    })
}

/// Runs the benchmark; exit status 0, or 2 for an unknown case name.
///
/// # Errors
/// When the thread pool cannot be built, a kernel call fails, or writing fails.
pub fn run(args: &BenchArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    let Some(op) = BenchOp::by_name(&args.op) else {
        let known: Vec<&str> = BenchOp::ALL.iter().map(|o| o.name()).collect();
        writeln!(
            err,
            "error: unknown op {:?}; use one of {}",
            args.op,
            known.join(", ")
        )?;
        return Ok(2);
    };
    let mut cases = Vec::new();
    for name in &args.shapes {
        match BenchCase::by_name(name) {
            Some(c) => cases.push(c),
            None => {
                let known: Vec<&str> = CASES.iter().map(|c| c.name).collect();
                writeln!(
                    err,
                    "error: unknown case {name:?} (known: {})",
                    known.join(", ")
                )?;
                return Ok(2);
            }
        }
    }
    let runs = args.runs.max(7);
    let warmup = args.warmup.max(1);
    let f64_dtype = args.dtype == "f64";
    let (threads, gemm, peak, rows) = with_threads(args.threads, || -> anyhow::Result<_> {
        let threads = blockspace_kernels::bench::current_threads();
        let (_, gemm) = gemm_yardstick(2, 7);
        let peak = fma_peak(f64_dtype, 2, 7);
        let mut rows = Vec::new();
        for case in &cases {
            rows.push(if f64_dtype {
                run_case::<f64>(op, case, warmup, runs)?
            } else {
                run_case::<f32>(op, case, warmup, runs)?
            });
        }
        Ok((threads, gemm, peak, rows))
    })??;
    if args.json {
        let cases: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.case.name,
                    "dtype": args.dtype,
                    "median_s": r.timing.median_s,
                    "min_s": r.timing.min_s,
                    "max_s": r.timing.max_s,
                    "gflops": r.gflops,
                    "gemm_fraction": r.gflops / gemm,
                    "peak_fraction": r.gflops / peak,
                    "target_s": target(op, &r.case)[usize::from(f64_dtype)],
                    "tensorflow_s": op.tensorflow_s(&r.case).map(|t| t[usize::from(f64_dtype)]),
                    "isa": case_isa_name(op, &r.case, f64_dtype),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "op": op.name(),
            "isa": blockspace_kernels::bench::isa_name(),
            "cases": cases,
            "gemm_gflops": gemm,
            "gemm": GEMM_YARDSTICK,
            "fma_peak_gflops": peak,
            "fma_peak": FMA_PEAK,
            "threads": threads,
            "runs": runs,
        });
        writeln!(out, "{doc}")?;
        return Ok(0);
    }
    writeln!(
        out,
        "{}, {}, {threads} thread(s), {} kernels, median of {runs} runs after {warmup} warm-up(s)",
        op.name(),
        args.dtype,
        blockspace_kernels::bench::isa_name()
    )?;
    writeln!(out, "yardstick: {GEMM_YARDSTICK}: {gemm:.1} GFLOP/s")?;
    writeln!(out, "peak: {FMA_PEAK}, {}: {peak:.1} GFLOP/s", args.dtype)?;
    writeln!(
        out,
        "GFLOP counts the direct method's multiply-adds; where a Winograd kernel runs (see docs/op-reference.md; BLOCKSPACE_WINOGRAD=off turns them off) GFLOP/s is nominal"
    )?;
    writeln!(
        out,
        "{}; target/median > 1 is faster",
        match op {
            BenchOp::Conv3DBackpropInputV2 =>
                "targets (2 threads): f32 = TensorFlow's default (oneDNN), f64 = TensorFlow / 3",
            _ =>
                "targets (2 threads): TensorFlow's default kernel (oneDNN for f32), measured on the project's machine kind",
        }
    )?;
    writeln!(
        out,
        "{:<4} {:<20} {:>7} {:>10} {:>10} {:>10} {:>8} {:>8} {:>7} {:>9} {:>7}  isa",
        "case",
        "shape",
        "GFLOP",
        "median s",
        "min s",
        "max s",
        "GFLOP/s",
        "x GEMM",
        "x peak",
        "target s",
        "tgt/med"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<4} {:<20} {:>7.3} {:>10.5} {:>10.5} {:>10.5} {:>8.1} {:>8.2} {:>7.2} {:>9.4} {:>7.2}  {}",
            r.case.name,
            r.case.label,
            r.gflops * r.timing.median_s,
            r.timing.median_s,
            r.timing.min_s,
            r.timing.max_s,
            r.gflops,
            r.gflops / gemm,
            r.gflops / peak,
            target(op, &r.case)[usize::from(f64_dtype)],
            target(op, &r.case)[usize::from(f64_dtype)] / r.timing.median_s,
            case_isa_name(op, &r.case, f64_dtype)
        )?;
    }
    Ok(0)
}

/// The speed target of `op` on `case`: `[f32, f64]` seconds.
fn target(op: BenchOp, case: &BenchCase) -> [f64; 2] {
    match op {
        BenchOp::Conv3DBackpropInputV2 => case.target_s,
        _ => op.tensorflow_s(case).unwrap_or([f64::NAN; 2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(json: bool) -> BenchArgs {
        BenchArgs {
            op: "Conv3DBackpropInputV2".into(),
            shapes: vec!["b1".into()],
            dtype: "f64".into(),
            threads: 1,
            runs: 7,
            warmup: 1,
            json,
        }
    }

    #[test]
    fn json_has_the_documented_fields() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(&args(true), &mut out, &mut err).expect("bench runs");
        assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("one JSON object");
        let case = &doc["cases"][0];
        assert_eq!(case["name"], "B1");
        assert_eq!(case["dtype"], "f64");
        for key in ["median_s", "min_s", "max_s", "gflops"] {
            assert!(case[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {case}");
        }
        // B1's 8 float64 channels fill an AVX-512 vector: the process's path.
        assert_eq!(case["isa"], doc["isa"], "{case}");
        for key in ["gemm_gflops", "fma_peak_gflops"] {
            assert!(doc[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {doc}");
        }
        assert!(
            case["peak_fraction"].as_f64().is_some_and(|v| v > 0.0),
            "{case}"
        );
    }

    #[test]
    fn table_and_unknown_case() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(&args(false), &mut out, &mut err).expect("runs"), 0);
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("B1") && text.contains("GEMM"), "{text}");
        let mut bad = args(false);
        bad.shapes = vec!["B9".into()];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(&bad, &mut out, &mut err).expect("runs"), 2);
        assert!(String::from_utf8_lossy(&err).contains("B9"));
    }

    #[test]
    fn every_op_is_timed_and_unknown_ops_are_refused() {
        for op in ["Conv3D", "conv3dbackpropfilterv2"] {
            let mut a = args(true);
            a.op = op.into();
            let (mut out, mut err) = (Vec::new(), Vec::new());
            assert_eq!(run(&a, &mut out, &mut err).expect("runs"), 0, "{op}");
            let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
            assert!(
                doc["op"]
                    .as_str()
                    .is_some_and(|o| o.eq_ignore_ascii_case(op)),
                "{doc}"
            );
            assert!(
                doc["cases"][0]["median_s"]
                    .as_f64()
                    .is_some_and(|v| v > 0.0),
                "{doc}"
            );
        }
        let mut bad = args(false);
        bad.op = "Conv2D".into();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(&bad, &mut out, &mut err).expect("runs"), 2);
        assert!(String::from_utf8_lossy(&err).contains("Conv3DBackpropFilterV2"));
    }
}
