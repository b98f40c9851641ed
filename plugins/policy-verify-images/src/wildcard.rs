//! Kyverno's wildcards (as in `policy-rules/src/wildcard.rs`, kept apart so
//! this component does not link the rule engine): `*` matches any run of
//! characters, `/` included, `?` exactly one; everything else itself.

/// Whether `text` matches the wildcard `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with backtracking to the last star.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
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
    p[pi..].iter().all(|&c| c == '*')
}

/// An anchored regular expression matching what `pattern` matches, for
/// identities the host compares with `regexp:`.
pub fn to_regex(pattern: &str) -> String {
    let mut out = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c if "\\.+()[]{}|^$".contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_cross_slashes() {
        assert!(matches("ghcr.io/org/*", "ghcr.io/org/team/app:v1"));
        assert!(matches("*/app:*", "docker.io/app:latest"));
        assert!(!matches("ghcr.io/org/*", "ghcr.io/other/app:v1"));
        assert!(matches("docker.io/nginx:1.2?", "docker.io/nginx:1.25"));
        assert!(!matches("docker.io/nginx:1.2?", "docker.io/nginx:1.2"));
        assert!(matches("*", ""));
        assert!(matches("exact", "exact"));
    }

    #[test]
    fn regex_escapes_everything_but_wildcards() {
        assert_eq!(
            to_regex("https://github.com/org/*.yml@refs/?"),
            "^https://github\\.com/org/.*\\.yml@refs/.$"
        );
        assert_eq!(to_regex("a+b(c)"), "^a\\+b\\(c\\)$");
    }
}
