//! `warren`: the broker binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use warren_server::config::{self, CliOverrides, LogFormat};
use warren_server::{shutdown_channel, Server};

/// jemalloc instead of glibc's malloc: glibc keeps what a drained backlog freed (after a
/// 256 MiB flood was consumed, RSS stayed at 300 MiB until `malloc_trim`), so the memory
/// alarm, which compares RSS with the watermark, never cleared and publishers stayed
/// blocked with every queue empty. jemalloc's background thread returns freed pages to
/// the OS within seconds (tests/flood.rs).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Warren, a message broker that speaks AMQP 0-9-1: RabbitMQ's clients connect to it
/// unmodified.
#[derive(Debug, Parser)]
#[command(
    name = "warren",
    version,
    about = "Warren, a message broker that speaks AMQP 0-9-1: RabbitMQ's clients connect to it unmodified.",
    long_about = "Warren, a message broker that speaks AMQP 0-9-1: RabbitMQ's clients connect to it unmodified.\n\n\
Settings come from, lowest precedence first: built-in defaults, WARREN_* environment variables \
(the key path upper-cased, tables joined by __: WARREN_DATA_DIR, WARREN_LIMITS__CHANNEL_MAX), \
the config file (--config), and these flags. `warren --print-config` shows the result; \
deploy/warren.toml lists every key with its default."
)]
struct Args {
    /// Config file (TOML; see deploy/warren.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Apply a RabbitMQ definitions.json at boot; repeatable, after the config's own
    /// [config: load_definitions] [env: WARREN_LOAD_DEFINITIONS].
    #[arg(long = "load-definitions", value_name = "FILE")]
    load_definitions: Vec<PathBuf>,
    /// Print the effective configuration (every key, as TOML) and exit.
    #[arg(long)]
    print_config: bool,
    /// Check that a broker answers on the first AMQP listen address of this
    /// configuration (the protocol header gets connection.start; no login), exit 0 if it
    /// does, 1 if not. For container health checks and exec probes.
    #[arg(long)]
    check: bool,
    /// Address to accept AMQP connections on; repeat for several
    /// [config: listeners.amqp, default 0.0.0.0:5672] [env: WARREN_LISTENERS__AMQP].
    #[arg(long = "listen", value_name = "ADDR")]
    listen: Vec<SocketAddr>,
    /// Address of the management HTTP API (RabbitMQ-compatible, with /metrics), or off
    /// [config: listeners.management, default 127.0.0.1:15672]
    /// [env: WARREN_LISTENERS__MANAGEMENT].
    #[arg(long = "management-listen", value_name = "ADDR|off")]
    management_listen: Option<String>,
    /// A separate listener serving only the Prometheus /metrics (RabbitMQ's 15692), or off
    /// [config: listeners.prometheus, default off] [env: WARREN_LISTENERS__PROMETHEUS].
    #[arg(long = "prometheus-listen", value_name = "ADDR|off")]
    prometheus_listen: Option<String>,
    /// Directory for durable state, created if missing
    /// [config: data_dir, default warren-data] [env: WARREN_DATA_DIR].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log filter: a level (error, warn, info, debug, trace) or a tracing directive
    /// [config: log.level, default info] [env: WARREN_LOG__LEVEL].
    #[arg(long, value_name = "LEVEL")]
    log: Option<String>,
    /// Log format: text, or json (one object per line, for log shippers)
    /// [config: log.format, default text] [env: WARREN_LOG__FORMAT].
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    log_format: Option<String>,
    /// Address to accept AMQP over TLS (amqps) on; repeat for several; needs --tls-cert and
    /// --tls-key [config: tls.listen, default none; RabbitMQ's port is 5671]
    /// [env: WARREN_TLS__LISTEN].
    #[arg(long = "amqps-listen", value_name = "ADDR")]
    amqps_listen: Vec<SocketAddr>,
    /// The server's certificate chain, PEM, leaf first
    /// [config: tls.cert_file] [env: WARREN_TLS__CERT_FILE].
    #[arg(long = "tls-cert", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The server's private key, PEM [config: tls.key_file] [env: WARREN_TLS__KEY_FILE].
    #[arg(long = "tls-key", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// CA certificates, PEM, client certificates must chain to
    /// [config: tls.ca_file] [env: WARREN_TLS__CA_FILE].
    #[arg(long = "tls-ca", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Ask TLS clients for a certificate, verify it against --tls-ca, and offer EXTERNAL
    /// login as the user it names [config: tls.verify_peer, default false]
    /// [env: WARREN_TLS__VERIFY_PEER].
    #[arg(long = "tls-verify-peer")]
    tls_verify_peer: bool,
    /// Memory for the store's page cache, in MiB
    /// [config: limits.store_cache_bytes, default 32 MiB]
    /// [env: WARREN_LIMITS__STORE_CACHE_BYTES].
    #[arg(long, value_name = "MIB")]
    store_cache_mib: Option<u64>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let cli = CliOverrides {
        config: args.config,
        load_definitions: args.load_definitions,
        listen: args.listen,
        management_listen: args.management_listen,
        prometheus_listen: args.prometheus_listen,
        data_dir: args.data_dir,
        log_level: args.log,
        log_format: args.log_format,
        store_cache_mib: args.store_cache_mib,
        amqps_listen: args.amqps_listen,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        tls_ca: args.tls_ca,
        tls_verify_peer: args.tls_verify_peer,
    };
    let loaded = match config::load(&cli, std::env::vars()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("warren: configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if args.check {
        let Some(&addr) = loaded.server.listen.first() else {
            eprintln!("warren: no AMQP listen address to check");
            return std::process::ExitCode::FAILURE;
        };
        return match warren_server::check::check(addr).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("warren: check failed: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if args.print_config {
        for warning in &loaded.warnings {
            eprintln!("warren: {warning}");
        }
        print!("{}", config::print::to_toml(&loaded));
        return std::process::ExitCode::SUCCESS;
    }
    let filter = EnvFilter::try_new(&loaded.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match loaded.log_format {
        // Colour codes only for a person at a terminal, never into a log file or journal.
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    // Purge freed pages on jemalloc's own thread (decay: 10 s), even while the broker
    // is idle, so RSS falls back once a backlog is consumed.
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "jemalloc background thread not started: freed memory returns to the OS only as the broker allocates");
    }
    let server = match Server::bind(loaded.server).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return std::process::ExitCode::FAILURE;
        }
    };
    // SIGHUP reloads the TLS certificates (new connections get them; open ones stay).
    warren_server::tls::reload_on_sighup(server.tls());
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
