//! `warren-soak`: mixed traffic at a fraction of measured capacity for a long time,
//! sampling the broker's RSS, fds and latency; exit status 1 when memory or file
//! descriptors grew beyond the bound or a message was lost (see `warren_perf::soak`
//! and docs/soak.md).

use std::process::ExitCode;

use clap::Parser;
use warren_perf::soak::{self, SoakArgs};

fn main() -> ExitCode {
    let args = SoakArgs::parse();
    if let Err(e) = args.validate() {
        eprintln!("warren-soak: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("warren-soak: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match runtime.block_on(soak::run(&args, |line| println!("{line}"))) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("warren-soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", soak::summary_text(&outcome));
    if !args.no_plots {
        match soak::plot::render(
            &args.out,
            &outcome.samples,
            outcome.verdict.as_ref(),
            &outcome.bounds,
            args.duration_secs as f64,
            args.font.as_deref(),
        ) {
            Ok(files) => {
                for f in files {
                    println!("plot: {}", f.display());
                }
            }
            Err(e) => {
                eprintln!("warren-soak: plots: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if outcome.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
