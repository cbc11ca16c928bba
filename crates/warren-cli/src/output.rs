//! Writing to standard output: a closed pipe ends the program quietly, colours only
//! on a terminal (and never with `NO_COLOR` set).

use std::io::{IsTerminal, Write};

use serde_json::Value;

use crate::error::{CliError, Result};

/// Writes `text` to standard output as is.
pub fn print(text: &str) -> Result<()> {
    print_bytes(text.as_bytes())
}

/// Writes raw bytes to standard output.
pub fn print_bytes(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(CliError::stdout)
}

/// Writes `text` and a newline.
pub fn println(text: &str) -> Result<()> {
    print(&format!("{text}\n"))
}

/// Writes `value` as pretty JSON and a newline.
pub fn print_json(value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Server {
        status: 0,
        reason: e.to_string(),
    })?;
    println(&text)
}

/// ANSI colours for standard output, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colours {
    enabled: bool,
}

impl Colours {
    /// Colours when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn for_stdout() -> Colours {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Colours {
            enabled: std::io::stdout().is_terminal() && !no_color,
        }
    }

    /// No colours at all.
    pub fn off() -> Colours {
        Colours { enabled: false }
    }

    /// Green text.
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Yellow text.
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Red text.
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Bold text.
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_off_leaves_text_alone() {
        assert_eq!(Colours::off().green("+"), "+");
        let on = Colours { enabled: true };
        assert_eq!(on.red("-"), "\x1b[31m-\x1b[0m");
    }
}
