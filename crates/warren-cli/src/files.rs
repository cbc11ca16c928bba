//! Local files named on the command line: reading inputs, writing outputs, with errors
//! that name the file.

use std::path::Path;

use crate::error::{CliError, Result};

/// Reads a whole input file (exit 66 when it cannot be read).
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| CliError::Input {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Reads an input file that must be UTF-8 text (exit 65 when it is not).
pub fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read(path)?)
        .map_err(|_| CliError::Data(format!("{}: not UTF-8 text", path.display())))
}

/// Writes an output file (exit 74 when it cannot be written).
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| CliError::Output {
        target: path.display().to_string(),
        source: e,
    })
}
