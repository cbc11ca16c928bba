//! Human-readable numbers: byte sizes in binary units, rates per second.

const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// A byte count: `512 B`, `1.2 MiB` (binary units, one decimal).
pub fn bytes(n: f64) -> String {
    if !n.is_finite() {
        return n.to_string();
    }
    if n.abs() < 1024.0 {
        return format!("{} B", n.round() as i64);
    }
    let mut value = n / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value.abs() < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// A message rate: `12.3/s`.
pub fn rate(per_second: f64) -> String {
    format!("{per_second:.1}/s")
}

/// A byte rate: `1.2 KiB/s`.
pub fn byte_rate(per_second: f64) -> String {
    format!("{}/s", bytes(per_second))
}

/// A count; integral values print without a fraction.
pub fn count(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_use_binary_units_with_one_decimal() {
        assert_eq!(bytes(0.0), "0 B");
        assert_eq!(bytes(1023.0), "1023 B");
        assert_eq!(bytes(1024.0), "1.0 KiB");
        assert_eq!(bytes(1_258_291.0), "1.2 MiB");
        assert_eq!(bytes(5.0 * 1024.0 * 1024.0 * 1024.0), "5.0 GiB");
        assert_eq!(bytes(1024f64.powi(4) * 2048.0), "2.0 PiB");
    }

    #[test]
    fn rates_have_one_decimal_and_per_second() {
        assert_eq!(rate(12.34), "12.3/s");
        assert_eq!(rate(0.0), "0.0/s");
        assert_eq!(byte_rate(118.0), "118 B/s");
        assert_eq!(byte_rate(2048.0), "2.0 KiB/s");
    }

    #[test]
    fn counts_drop_a_zero_fraction() {
        assert_eq!(count(70.0), "70");
        assert_eq!(count(0.5), "0.5");
    }
}
