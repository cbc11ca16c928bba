//! One module per command (or family of commands); [`run`] dispatches.

mod admin;
mod apply;
mod close;
mod completions;
mod declare;
mod definitions;
mod delete;
mod get;
mod list;
mod publish;
mod purge;
mod replay;
mod show;
mod status;

use crate::cli::{Command, CompletionShell};
use crate::client::Client;
use crate::config::Settings;
use crate::error::Result;
use crate::format::Format;

/// What every command works with.
pub struct Ctx {
    /// The management API client.
    pub client: Client,
    /// The resolved connection settings.
    pub settings: Settings,
    /// `--format`.
    pub format: Format,
}

impl Ctx {
    /// The vhost a single object lives in (`/` unless named).
    pub fn vhost(&self) -> &str {
        &self.settings.vhost
    }

    /// The vhost a listing narrows to: only when one was named, else all vhosts.
    pub fn list_vhost(&self) -> Option<&str> {
        self.settings
            .vhost_explicit
            .then_some(self.settings.vhost.as_str())
    }
}

/// Prints a completion script; needs no server (nor settings).
pub fn completions(shell: CompletionShell) -> Result<()> {
    completions::run(shell)
}

/// Runs the parsed command against the management API through `ctx`.
pub fn run(command: Command, ctx: &Ctx) -> Result<()> {
    match command {
        Command::Status => status::run(ctx),
        Command::List(args) => list::run(ctx, &args),
        Command::Show(cmd) => show::run(ctx, &cmd),
        Command::Declare(cmd) => declare::run(ctx, &cmd),
        Command::Delete(cmd) => delete::run(ctx, &cmd),
        Command::Purge(cmd) => purge::run(ctx, &cmd),
        Command::Publish(args) => publish::run(ctx, &args),
        Command::Get(args) => get::run(ctx, &args),
        Command::Definitions(cmd) => definitions::run(ctx, &cmd),
        Command::Apply(args) => apply::run(ctx, &args),
        Command::Replay(args) => replay::replay(ctx, &args),
        Command::Move(args) => replay::move_messages(ctx, &args),
        Command::Close(cmd) => close::run(ctx, &cmd),
        Command::Add(cmd) => admin::add(ctx, &cmd),
        Command::Set(cmd) => admin::set(ctx, &cmd),
        Command::Clear(cmd) => admin::clear(ctx, &cmd),
        Command::Completions { shell } => completions::run(shell),
    }
}
