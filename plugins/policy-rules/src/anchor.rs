//! Anchors on pattern keys: `(k)` conditional, `=(k)` equality, `^(k)`
//! existence, `X(k)` negation, `<(k)` global, `+(k)` add-if-not-present.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Condition,
    Equality,
    Existence,
    Negation,
    Global,
    AddIfNotPresent,
}

/// Splits an anchored key into its anchor and the plain key. `Err` names a
/// key that looks like an anchor with a modifier Kyverno does not know.
pub fn parse(key: &str) -> Result<Option<(Anchor, &str)>, String> {
    let Some(inner_end) = key.strip_suffix(')') else {
        return Ok(None);
    };
    let Some(open) = inner_end.find('(') else {
        return Ok(None);
    };
    let inner = &inner_end[open + 1..];
    if inner.is_empty() {
        return Ok(None);
    }
    let anchor = match &inner_end[..open] {
        "" => Anchor::Condition,
        "=" => Anchor::Equality,
        "^" => Anchor::Existence,
        "X" => Anchor::Negation,
        "<" => Anchor::Global,
        "+" => Anchor::AddIfNotPresent,
        m if m.chars().count() == 1 && !m.chars().all(|c| c.is_ascii_alphanumeric()) => {
            return Err(format!(
                "unknown anchor '{m}(' in key '{key}'; use (), =(), ^(), X(), <() or +()"
            ));
        }
        _ => return Ok(None),
    };
    Ok(Some((anchor, inner)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors() {
        assert_eq!(parse("(name)"), Ok(Some((Anchor::Condition, "name"))));
        assert_eq!(parse("=(a)"), Ok(Some((Anchor::Equality, "a"))));
        assert_eq!(parse("^(a)"), Ok(Some((Anchor::Existence, "a"))));
        assert_eq!(parse("X(a)"), Ok(Some((Anchor::Negation, "a"))));
        assert_eq!(parse("<(a)"), Ok(Some((Anchor::Global, "a"))));
        assert_eq!(parse("+(a)"), Ok(Some((Anchor::AddIfNotPresent, "a"))));
        assert_eq!(parse("name"), Ok(None));
        assert!(parse("%(a)").is_err());
    }
}
