//! Durations in config as Go writes them (`30s`, `1m30s`, `250ms`), as
//! Flagger's `interval` and the rest of Sluice's config do.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// The JSON Schema `pattern` for a duration string; `0` alone is allowed.
pub const PATTERN: &str = "^(0|([0-9]+(\\.[0-9]+)?(ms|s|m|h))+)$";

/// Parses `500ms`, `5s`, `1m30s`, `1.5h` as the host's objects do
/// ([`sluice_types::quantity::Duration`]), or `0`.
pub fn parse(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    s.parse::<sluice_types::quantity::Duration>().map(|d| d.0)
}

/// Writes a duration as people read it: `1m30s`, `250ms`, `0s`.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    if ms > 0 {
        out.push_str(&format!("{ms}ms"));
    }
    out
}

/// `#[serde(deserialize_with = "duration::deserialize")]` for a config field.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_what_go_would_not_take_here() {
        for bad in ["", "5", "5 s", "1d", "m", "-1s", "1..2s"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("is not a duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_millis(4250)), "4s250ms");
        assert_eq!(format(Duration::from_secs(3600)), "1h");
        assert_eq!(format(Duration::ZERO), "0s");
    }
}
