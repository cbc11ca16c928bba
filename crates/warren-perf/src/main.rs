//! `warren-perf`: see the crate documentation and README.md.

use std::process::ExitCode;

use clap::Parser;
use warren_perf::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = args.validate() {
        eprintln!("warren-perf: {e}");
        return ExitCode::from(2);
    }
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("warren-perf: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = args.json;
    let result = runtime.block_on(warren_perf::run::run(&args, |line| {
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }));
    match result {
        Ok(summary) if json => match serde_json::to_string(&summary) {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("warren-perf: cannot encode the summary: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(summary) => {
            print!("{}", summary.text());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("warren-perf: {e}");
            ExitCode::FAILURE
        }
    }
}
