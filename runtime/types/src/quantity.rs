//! Kubernetes-style quantities (`256Mi`) and Go-style durations (`1m30s`),
//! as users write them in Flux and Kubernetes objects.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A byte count written as `512Ki`, `256Mi`, `1Gi`, `64M` or plain bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("'{s}' is not a size; write it like 256Mi or 1Gi"))?;
        let mult: u64 = match unit {
            "" => 1,
            "Ki" => 1 << 10,
            "Mi" => 1 << 20,
            "Gi" => 1 << 30,
            "k" => 1_000,
            "M" => 1_000_000,
            "G" => 1_000_000_000,
            _ => {
                return Err(format!(
                    "'{s}' has an unknown unit '{unit}'; use Ki, Mi, Gi, k, M or G"
                ));
            }
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| format!("'{s}' is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        for (unit, size) in [("Gi", 1u64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
            if b >= size && b.is_multiple_of(size) {
                return write!(f, "{}{unit}", b / size);
            }
        }
        write!(f, "{b}")
    }
}

/// A duration written as `250ms`, `5s`, `1m30s`, `2h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub std::time::Duration);

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not a duration; write it like 500ms, 5s, 1m30s or 2h");
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total = std::time::Duration::ZERO;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            let value: f64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let secs = match &rest[..unit_len] {
                "ms" => value / 1000.0,
                "s" => value,
                "m" => value * 60.0,
                "h" => value * 3600.0,
                _ => return Err(bad()),
            };
            total += std::time::Duration::try_from_secs_f64(secs).map_err(|_| bad())?;
            rest = &rest[unit_len..];
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if !ms.is_multiple_of(1000) {
            write!(f, "{ms}ms")
        } else {
            write!(f, "{}s", ms / 1000)
        }
    }
}

macro_rules! string_serde {
    ($t:ty, $what:literal) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$t, E> {
                        v.parse().map_err(E::custom)
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$t, E> {
                        v.to_string().parse().map_err(E::custom)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}
string_serde!(ByteSize, "a size such as 256Mi");
string_serde!(Duration, "a duration such as 5s");

/// In a CRD schema: a byte count is a number or a quantity string.
#[cfg(feature = "crd")]
impl schemars::JsonSchema for ByteSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "x-kubernetes-int-or-string": true,
            "description": "A size: bytes, or a quantity such as 512Ki, 256Mi, 1Gi, 64M."
        })
    }
}

/// In a CRD schema: a duration is a string such as `5m` or `1m30s`.
#[cfg(feature = "crd")]
impl schemars::JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$",
            "description": "A duration such as 500ms, 30s, 5m, 1m30s or 2h."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("256Mi".parse::<ByteSize>().unwrap().0, 256 << 20);
        assert_eq!("1G".parse::<ByteSize>().unwrap().0, 1_000_000_000);
        assert_eq!("1024".parse::<ByteSize>().unwrap().0, 1024);
        assert!(
            "12Xi"
                .parse::<ByteSize>()
                .unwrap_err()
                .contains("unknown unit")
        );
        assert_eq!(ByteSize(64 << 20).to_string(), "64Mi");
    }

    #[test]
    fn durations() {
        let d = |s: &str| s.parse::<Duration>().unwrap().0;
        assert_eq!(d("1m30s"), std::time::Duration::from_secs(90));
        assert_eq!(d("250ms"), std::time::Duration::from_millis(250));
        assert_eq!(d("1.5s"), std::time::Duration::from_millis(1500));
        assert!("5 parsecs".parse::<Duration>().is_err());
        assert!("".parse::<Duration>().is_err());
        // Too long for a Duration: an error, not a panic.
        assert!("99999999999999999999999h".parse::<Duration>().is_err());
    }
}
