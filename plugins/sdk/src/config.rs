//! A plugin's config arrives as JSON already validated against its schema;
//! deserialising it into the plugin's own type still fails when the schema
//! and the type disagree, and that error must say where.

use serde::de::DeserializeOwned;

use crate::{Diagnostic, Failure};

/// Parses the request's `config` JSON into `T`. An empty string and `null`
/// count as `{}` (no config given). On error, one `invalid-config` diagnostic naming
/// the line and column and what serde expected, so the author of the
/// Release or PolicySet can fix it.
pub fn parse_config<T: DeserializeOwned>(config: &str) -> Result<T, Failure> {
    let text = if matches!(config.trim(), "" | "null") {
        "{}"
    } else {
        config
    };
    serde_json::from_str(text).map_err(|e| {
        vec![
            Diagnostic::error(format!(
                "invalid config: {e}; fix the plugin's config to match its config schema"
            ))
            .code("invalid-config"),
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Config {
        #[serde(default)]
        max_items: u32,
    }

    #[test]
    fn parses_into_the_plugins_type() {
        let c: Config = parse_config(r#"{"maxItems": 3}"#).unwrap();
        assert_eq!(c, Config { max_items: 3 });
    }

    #[test]
    fn empty_config_is_an_empty_object() {
        for none in ["", " null "] {
            let c: Config = parse_config(none).unwrap();
            assert_eq!(c, Config { max_items: 0 });
        }
    }

    #[test]
    fn errors_name_the_field_and_position() {
        let err = parse_config::<Config>(r#"{"maxItem": 3}"#).unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].code.as_deref(), Some("invalid-config"));
        assert_eq!(err[0].severity, crate::Severity::Error);
        assert!(
            err[0].message.contains("unknown field `maxItem`"),
            "{}",
            err[0].message
        );
        assert!(
            err[0].message.contains("line 1 column"),
            "{}",
            err[0].message
        );
    }
}
