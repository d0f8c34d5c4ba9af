//! Numbers in human units for output read in CI logs. Pure functions.

/// `n` things, singular for one: `1 blob`, `4 blobs`.
pub fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// A byte count in decimal units with three significant digits: `512 B`, `1.50 kB`, `12.3 MB`,
/// `250 MB`, `1.20 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut unit = 0;
    // Round first, so 999,999 bytes reads "1.00 MB" and not "1000 kB".
    while round3(v) >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    let v = round3(v);
    let digits = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    format!("{v:.digits$} {}", UNITS[unit])
}

/// A transfer rate: `bytes` per second over `secs` (at least a millisecond).
pub fn rate(bytes_sent: u64, secs: f64) -> String {
    bytes((bytes_sent as f64 / secs.max(0.001)) as u64) + "/s"
}

/// A duration in seconds for people: `0.4 s`, `51 s`, `3 min 5 s`.
pub fn seconds(s: f64) -> String {
    let s = s.max(0.0);
    if s < 10.0 {
        format!("{s:.1} s")
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else {
        let whole = s.round() as u64;
        format!("{} min {} s", whole / 60, whole % 60)
    }
}

/// Round to three significant digits.
fn round3(v: f64) -> f64 {
    if v <= 0.0 {
        return 0.0;
    }
    let scale = 10f64.powi(2 - v.log10().floor() as i32);
    (v * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_in_human_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1000), "1.00 kB");
        assert_eq!(bytes(1536), "1.54 kB");
        assert_eq!(bytes(12_345_678), "12.3 MB");
        assert_eq!(bytes(250_000_000), "250 MB");
        assert_eq!(bytes(999_999), "1.00 MB");
        assert_eq!(bytes(1_200_000_000), "1.20 GB");
        assert_eq!(bytes(u64::MAX), "18400 PB");
    }

    #[test]
    fn one_thing_is_singular() {
        assert_eq!(count(0, "blob"), "0 blobs");
        assert_eq!(count(1, "blob"), "1 blob");
        assert_eq!(count(4, "blob"), "4 blobs");
    }

    #[test]
    fn rates_never_divide_by_zero() {
        assert_eq!(rate(2_000, 0.0), "2.00 MB/s");
        assert_eq!(rate(50_000_000, 2.0), "25.0 MB/s");
        assert_eq!(rate(0, 1.0), "0 B/s");
    }
}
