//! Parsing of the sizes and durations that settings and connector options take
//! (`SET 'memory.limit' = '512mb'`, `'source.monitor-interval' = '1s'`, …).

use std::time::Duration;

/// A size: `128mb`, `1 GB`, `64kb`, `4096` (bytes); units are powers of 1024.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult).filter(|b| *b > 0)
}

/// A duration: `500ms`, `2s`, `1min`, `1h` (or a bare number of milliseconds).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" | "sec" | "second" | "seconds" => n.checked_mul(1_000)?,
        "min" | "minute" | "minutes" => n.checked_mul(60_000)?,
        "h" | "hour" | "hours" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("64 KB"), Some(64 << 10));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_duration("15min"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("soon"), None);
    }
}
