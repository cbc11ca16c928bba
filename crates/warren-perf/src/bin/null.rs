//! `warren-perf-null`: the null broker (see `warren_perf::null_broker`), for checking
//! that warren-perf is not the bottleneck of a measurement.

use std::process::ExitCode;

use clap::Parser;

/// An AMQP peer that discards publishes and floods consumers, to find warren-perf's
/// own ceiling.
#[derive(Debug, Parser)]
#[command(name = "warren-perf-null", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5690")]
    listen: String,
    /// Body size of the deliveries sent to consumers.
    #[arg(short = 's', long, default_value_t = 16)]
    size: usize,
    /// Runtime worker threads (1 selects tokio's current-thread runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = if args.threads <= 1 {
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
            eprintln!("warren-perf-null: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen).await?;
        warren_perf::null_broker::serve(listener, args.size).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warren-perf-null: {e}");
            ExitCode::FAILURE
        }
    }
}
