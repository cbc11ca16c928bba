//! Validation of a published message's `expiration` property, with RabbitMQ 3.10's
//! rules and texts.
//!
//! RabbitMQ parses the property with Erlang's `string:to_integer/1` (an optional sign,
//! then digits, no leading blanks) and accepts 0 to 315 360 000 000 ms (ten years).
//! Anything else closes the channel with 406 and a text such as
//! `invalid expiration '1.5': {leftover_string,".5"}`, where the reason is printed the
//! way Erlang's `~p` prints it.

use warren_broker::{AmqpError, AmqpResult};

/// The largest expiration RabbitMQ accepts, in milliseconds (ten years).
const MAX_EXPIRATION_MS: u64 = 315_360_000_000;

/// Erlang's `~p` breaks a term that does not fit before this column.
const ERLANG_LINE_FIT: usize = 79;

/// Why an expiration is invalid, as Erlang terms.
#[derive(Debug, PartialEq, Eq)]
enum Invalid {
    /// `no_integer`: no sign-and-digits prefix.
    NoInteger,
    /// `{leftover_string,"..."}`: characters after the number.
    Leftover(String),
    /// `{value_negative,N}`.
    Negative(String),
    /// `{value_too_large,N}`.
    TooLarge(String),
}

/// Checks an `expiration` property; `Err` is RabbitMQ's 406.
pub(super) fn check_expiration(text: &str) -> AmqpResult<()> {
    match parse(text) {
        Ok(()) => Ok(()),
        Err(why) => {
            let prefix = format!("invalid expiration '{text}': ");
            let reason = match why {
                Invalid::NoInteger => "no_integer".to_owned(),
                Invalid::Leftover(rest) => format!("{{leftover_string,{}}}", erlang_string(&rest)),
                Invalid::Negative(n) => erlang_tuple(&prefix, "value_negative", &n),
                Invalid::TooLarge(n) => erlang_tuple(&prefix, "value_too_large", &n),
            };
            Err(AmqpError::precondition_failed(format!("{prefix}{reason}")))
        }
    }
}

/// `string:to_integer/1` followed by RabbitMQ's range check.
fn parse(text: &str) -> Result<(), Invalid> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits_len = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    if digits_len == 0 {
        return Err(Invalid::NoInteger);
    }
    let rest = &unsigned[digits_len..];
    if !rest.is_empty() {
        return Err(Invalid::Leftover(rest.to_owned()));
    }
    // The integer as Erlang prints it: no sign for zero, no leading zeros.
    let magnitude = unsigned[..digits_len].trim_start_matches('0');
    let magnitude = if magnitude.is_empty() { "0" } else { magnitude };
    if negative && magnitude != "0" {
        return Err(Invalid::Negative(format!("-{magnitude}")));
    }
    let too_large = match magnitude.parse::<u64>() {
        Ok(n) => n > MAX_EXPIRATION_MS,
        Err(_) => true, // more digits than a u64 holds
    };
    if too_large {
        return Err(Invalid::TooLarge(magnitude.to_owned()));
    }
    Ok(())
}

/// `{Tag,N}` as `~p` prints it after `prefix`: on one line if it fits, otherwise broken
/// after the comma with `N` aligned one column right of the brace.
fn erlang_tuple(prefix: &str, tag: &str, n: &str) -> String {
    let column = prefix.chars().count();
    let one_line = format!("{{{tag},{n}}}");
    if column + one_line.chars().count() < ERLANG_LINE_FIT {
        return one_line;
    }
    format!("{{{tag},\n{}{n}}}", " ".repeat(column + 1))
}

/// An Erlang string as `~p` prints it: quoted, with quotes and backslashes escaped.
fn erlang_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(expiration: &str) -> Option<String> {
        check_expiration(expiration).err().map(|e| e.reply_text())
    }

    /// Every case below was measured on RabbitMQ 3.10.8.
    #[test]
    fn accepts_what_rabbitmq_accepts() {
        for ok in ["0", "4294967296", "315360000000", "+5", "-0", "007"] {
            assert_eq!(text(ok), None, "{ok}");
        }
    }

    #[test]
    fn rejects_with_rabbitmq_texts() {
        let cases = [
            ("abc", "invalid expiration 'abc': no_integer"),
            ("", "invalid expiration '': no_integer"),
            (" 5", "invalid expiration ' 5': no_integer"),
            ("é", "invalid expiration 'é': no_integer"),
            ("-1", "invalid expiration '-1': {value_negative,-1}"),
            ("1.5", "invalid expiration '1.5': {leftover_string,\".5\"}"),
            ("10abc", "invalid expiration '10abc': {leftover_string,\"abc\"}"),
            ("5 ", "invalid expiration '5 ': {leftover_string,\" \"}"),
            ("1e3", "invalid expiration '1e3': {leftover_string,\"e3\"}"),
            ("315360000001", "invalid expiration '315360000001': {value_too_large,315360000001}"),
            (
                "-999999999999999999",
                "invalid expiration '-999999999999999999': {value_negative,-999999999999999999}",
            ),
            (
                "9999999999999999999",
                "invalid expiration '9999999999999999999': {value_too_large,\n                                           9999999999999999999}",
            ),
            (
                "99999999999999999999",
                "invalid expiration '99999999999999999999': {value_too_large,\n                                            99999999999999999999}",
            ),
            (
                "-9999999999999999999",
                "invalid expiration '-9999999999999999999': {value_negative,\n                                            -9999999999999999999}",
            ),
        ];
        for (expiration, want) in cases {
            assert_eq!(
                text(expiration).as_deref(),
                Some(format!("PRECONDITION_FAILED - {want}").as_str()),
                "{expiration:?}"
            );
        }
    }
}
