//! `warren`: the broker binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use warren_server::{shutdown_channel, Server, ServerConfig};

/// Warren, an AMQP 0-9-1 message broker.
#[derive(Debug, Parser)]
#[command(name = "warren", version, about)]
struct Args {
    /// Address to accept AMQP connections on; repeat for several.
    #[arg(long = "listen", default_value = "0.0.0.0:5672")]
    listen: Vec<SocketAddr>,
    /// Directory for durable state (created if missing).
    #[arg(long, default_value = "warren-data")]
    data_dir: PathBuf,
    /// Log filter: a level (error, warn, info, debug, trace) or a tracing directive.
    #[arg(long, default_value = "info")]
    log: String,
    /// Memory for the store's page cache, in MiB.
    #[arg(long, default_value_t = 128)]
    store_cache_mib: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        // Colour codes only for a person at a terminal, never into a log file or journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::try_new(&args.log).unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let mut config = ServerConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        ..ServerConfig::default()
    };
    config.limits.store_cache_bytes = args.store_cache_mib << 20;
    let server = match Server::bind(config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return std::process::ExitCode::FAILURE;
        }
    };
    let (handle, rx) = shutdown_channel();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received, shutting down");
        handle.shutdown();
    });
    server.run(rx).await;
    std::process::ExitCode::SUCCESS
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}
