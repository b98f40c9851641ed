//! Kyverno's wildcards: `*` matches any run of characters (also none), `?`
//! exactly one; everything else matches itself.

/// Whether `text` matches the wildcard `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    if !has_wildcard(pattern) {
        return pattern == text;
    }
    // ASCII (nearly every key, name and image) compares bytes; otherwise
    // characters, so `?` stays one character.
    if pattern.is_ascii() && text.is_ascii() {
        glob(pattern.as_bytes(), text.as_bytes())
    } else {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        glob(&p, &t)
    }
}

/// Iterative glob matching with backtracking to the last star.
fn glob<C: Copy + PartialEq + From<u8>>(p: &[C], t: &[C]) -> bool {
    let (star_c, any_c) = (C::from(b'*'), C::from(b'?'));
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == any_c || (p[pi] != star_c && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == star_c {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == star_c)
}

pub fn has_wildcard(s: &str) -> bool {
    s.bytes().any(|b| b == b'*' || b == b'?')
}

/// A wildcard pattern read once, for filters checked against every
/// resource: most are plain names or `*`.
#[derive(Debug, Clone)]
pub enum Glob {
    Any,
    Exact(String),
    Pattern(String),
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        if pattern == "*" {
            Glob::Any
        } else if has_wildcard(pattern) {
            Glob::Pattern(pattern.to_owned())
        } else {
            Glob::Exact(pattern.to_owned())
        }
    }

    /// The same answer as [`matches`] with the pattern's text.
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(s) => s == text,
            Glob::Pattern(p) => matches(p, text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Glob, matches};

    #[test]
    fn stars_and_questions() {
        assert!(matches("*", ""));
        assert!(matches("*:latest", "nginx:latest"));
        assert!(!matches("*:latest", "nginx:1.25"));
        assert!(matches("?*", "x"));
        assert!(!matches("?*", ""));
        assert!(matches("kube-*", "kube-system"));
        assert!(matches("a?c*d", "abcxxd"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("exact", "exact"));
        assert!(matches("caf?", "café"));
        assert!(matches("*é*", "café au lait"));
        assert!(!matches("caf??", "café"));
        for (p, t) in [
            ("*", ""),
            ("*", "x"),
            ("Pod", "Pod"),
            ("Pod", "Pods"),
            ("Dep*", "Deployment"),
            ("?", ""),
        ] {
            assert_eq!(Glob::new(p).matches(t), matches(p, t), "{p} {t}");
        }
    }
}
