//! Output formatting: human-readable numbers, aligned tables, TSV, and the mapping of
//! JSON values onto table cells.

pub mod cell;
pub mod human;
pub mod table;
pub mod tsv;

use clap::ValueEnum;

/// How a command prints what it fetched (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns with human-readable sizes and rates.
    Table,
    /// The server's JSON, pretty-printed.
    Json,
    /// Tab-separated raw values with a header row, for scripts.
    Tsv,
}
