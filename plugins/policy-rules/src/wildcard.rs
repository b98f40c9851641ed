//! Kyverno's wildcards: `*` matches any run of characters (also none), `?`
//! exactly one; everything else matches itself.

/// Whether `text` matches the wildcard `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    if !has_wildcard(pattern) {
        return pattern == text;
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative glob matching with backtracking to the last star.
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

pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::matches;

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
    }
}
