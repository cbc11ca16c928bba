//! `warrenctl`, the admin CLI of Warren: a client of the RabbitMQ 3.10-compatible
//! management HTTP API (it speaks no AMQP), plus Warren's own `/api/warren/...`
//! endpoints for `apply`, `replay` and `move`.
//!
//! The binary (`src/main.rs`) calls [`main`]; every module has one job:
//! [`cli`] the clap types, [`config`] where settings come from, [`client`] HTTP and
//! error mapping, [`commands`] the behaviour, [`mod@format`] and [`output`] the printing.
//!
//! # Exit codes
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | success |
//! | 64   | bad usage: unknown flag, missing or malformed argument (clap errors included) |
//! | 65   | data error: malformed file, HTTP 400, publish not routed to any queue |
//! | 66   | not found: HTTP 404, or a missing input file |
//! | 69   | the management API cannot be reached |
//! | 70   | other server error: HTTP 5xx, unexpected reply |
//! | 74   | cannot write output (file or stdout) |
//! | 77   | authentication or authorisation refused: HTTP 401 / 403 |
//! | 78   | malformed config file |
//!
//! See [`exit`] for the constants.

#![warn(missing_docs)]

pub mod args;
pub mod catalogue;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod encode;
pub mod error;
pub mod exit;
pub mod files;
pub mod format;
pub mod output;
pub mod progress;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::client::Client;
use crate::config::Partial;
use crate::error::Result;

/// Parses the command line, runs the command, prints any error as one line on stderr
/// and returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("warrenctl: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// `--help` and `--version` print and succeed; any other clap error is one line and
/// exit 64 (clap's own code would be 2).
fn usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            ExitCode::from(exit::USAGE)
        }
        _ => {
            let rendered = err.render().to_string();
            eprintln!("warrenctl: {} (see --help)", one_line(&rendered));
            ExitCode::from(exit::USAGE)
        }
    }
}

/// The first line of a rendered clap error, without its `error: ` prefix; a line that
/// ends in `:` (e.g. "the following required arguments were not provided:") takes the
/// indented lines that follow, so the missing arguments are named.
fn one_line(rendered: &str) -> String {
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or("bad usage");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    if !first.ends_with(':') {
        return first.to_string();
    }
    let items: Vec<&str> = lines
        .take_while(|l| l.starts_with(' ') && !l.trim().is_empty())
        .map(str::trim)
        .collect();
    format!("{first} {}", items.join(", "))
}

/// Resolves the settings (flag > env > config file > default) and runs the command.
fn run(cli: Cli) -> Result<()> {
    if let Command::Completions { shell } = cli.command {
        return commands::completions(shell);
    }
    let env = |k: &str| std::env::var(k).ok();
    let flags = Partial {
        url: cli.url.clone(),
        user: cli.user.clone(),
        password: cli.password.clone(),
        vhost: cli.vhost.clone(),
    };
    let file = match config::file_path(env) {
        Some(path) => config::load_file(&path)?,
        None => Partial::default(),
    };
    let settings = config::resolve(&flags, &Partial::from_env(env), &file)?;
    let ctx = commands::Ctx {
        client: Client::new(&settings, Duration::from_secs(cli.timeout)),
        settings,
        format: cli.format,
    };
    commands::run(cli.command, &ctx)
}
