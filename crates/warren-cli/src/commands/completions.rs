//! `completions bash|zsh|fish`: a completion script on stdout.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionShell};
use crate::error::Result;

/// Writes the completion script for `shell` to standard output.
pub fn run(shell: CompletionShell) -> Result<()> {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "warrenctl", &mut script);
    crate::output::print_bytes(&script)
}
