//! Gitignore syntax (gitignore(5)), which Flux uses for `spec.ignore` and
//! `.sourceignore`: `#` comments, `!` negation, a trailing `/` for
//! directories only, a `/` at the start or in the middle anchors the pattern
//! to the directory of the file that holds it, `*`, `?`, `[a-z]`, `[!x]`,
//! `**` across directories, `\` escapes. The last matching pattern wins, and
//! nothing below an ignored directory can be re-included (as in git).
//! gix-ignore would do, but its path handling does not build for WASI.

/// Patterns from any number of files, each scoped to its directory.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// Directory (segments from the root) of the file holding the pattern.
    domain: Vec<String>,
    negated: bool,
    dir_only: bool,
    anchored: bool,
    segments: Vec<Vec<char>>,
}

impl Ignore {
    pub fn new() -> Ignore {
        Ignore::default()
    }

    /// Adds the lines of a gitignore-syntax file found in directory `dir`
    /// (`/`-separated, `""` for the root).
    pub fn add(&mut self, dir: &str, text: &str) {
        let domain: Vec<String> = split(dir).map(str::to_string).collect();
        self.patterns
            .extend(text.lines().filter_map(|line| parse(&domain, line)));
    }

    /// Whether `path` (`/`-separated, relative to the root) is left out;
    /// `is_dir` tells whether `path` itself is a directory.
    pub fn is_ignored(&self, path: &str, is_dir: bool) -> bool {
        let segs: Vec<&str> = split(path).collect();
        (1..segs.len()).any(|n| self.verdict(&segs[..n], true))
            || (!segs.is_empty() && self.verdict(&segs, is_dir))
    }

    fn verdict(&self, segs: &[&str], is_dir: bool) -> bool {
        self.patterns
            .iter()
            .rev()
            .find(|p| p.matches(segs, is_dir))
            .is_some_and(|p| !p.negated)
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty() && *s != ".")
}

fn parse(domain: &[String], line: &str) -> Option<Pattern> {
    let mut line = line.trim_end_matches('\r');
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    // Trailing spaces go unless escaped with a backslash.
    while line.ends_with(' ') && !line.ends_with("\\ ") {
        line = &line[..line.len() - 1];
    }
    let (negated, line) = match line.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let (dir_only, line) = match line.strip_suffix('/') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let anchored = line.contains('/');
    let line = line.trim_start_matches('/');
    if line.is_empty() {
        return None;
    }
    Some(Pattern {
        domain: domain.to_vec(),
        negated,
        dir_only,
        anchored,
        segments: line.split('/').map(|s| s.chars().collect()).collect(),
    })
}

impl Pattern {
    fn matches(&self, segs: &[&str], is_dir: bool) -> bool {
        if self.dir_only && !is_dir {
            return false;
        }
        if segs.len() <= self.domain.len() || !self.domain.iter().zip(segs).all(|(d, s)| d == s) {
            return false;
        }
        let rel = &segs[self.domain.len()..];
        if self.anchored {
            path_match(&self.segments, rel)
        } else {
            let name: Vec<char> = rel[rel.len() - 1].chars().collect();
            wildmatch(&self.segments[0], &name)
        }
    }
}

fn path_match(pat: &[Vec<char>], segs: &[&str]) -> bool {
    match pat.split_first() {
        None => segs.is_empty(),
        // `a/**` is everything inside `a`, not `a` itself.
        Some((p, [])) if is_globstar(p) => !segs.is_empty(),
        Some((p, rest)) if is_globstar(p) => (0..=segs.len()).any(|i| path_match(rest, &segs[i..])),
        Some((p, rest)) => segs.split_first().is_some_and(|(s, srest)| {
            wildmatch(p, &s.chars().collect::<Vec<_>>()) && path_match(rest, srest)
        }),
    }
}

fn is_globstar(p: &[char]) -> bool {
    p == ['*', '*']
}

/// One path segment against one pattern segment.
fn wildmatch(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') => wildmatch(&p[1..], s) || (!s.is_empty() && wildmatch(p, &s[1..])),
        Some('?') => !s.is_empty() && wildmatch(&p[1..], &s[1..]),
        Some('[') => match (class(p), s.first()) {
            (Some((matches, len)), Some(&c)) => matches(c) && wildmatch(&p[len..], &s[1..]),
            (Some(_), None) => false,
            // No closing bracket: a literal `[`.
            (None, _) => s.first() == Some(&'[') && wildmatch(&p[1..], &s[1..]),
        },
        Some('\\') if p.len() > 1 => s.first() == Some(&p[1]) && wildmatch(&p[2..], &s[1..]),
        Some(c) => s.first() == Some(c) && wildmatch(&p[1..], &s[1..]),
    }
}

/// A bracket expression at the start of `p`: a matcher and its length.
fn class(p: &[char]) -> Option<(impl Fn(char) -> bool, usize)> {
    let mut i = 1;
    let negated = matches!(p.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let start = i;
    loop {
        let c = *p.get(i)?;
        if c == ']' && i > start {
            break;
        }
        let (lo, next) = if c == '\\' {
            (*p.get(i + 1)?, i + 2)
        } else {
            (c, i + 1)
        };
        if p.get(next) == Some(&'-') && p.get(next + 1).is_some_and(|&h| h != ']') {
            ranges.push((lo, p[next + 1]));
            i = next + 2;
        } else {
            ranges.push((lo, lo));
            i = next;
        }
    }
    Some((
        move |c: char| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != negated,
        i + 1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> Ignore {
        let mut i = Ignore::new();
        i.add("", text);
        i
    }

    #[test]
    fn names_match_at_any_depth_and_cover_directories() {
        let i = ignore("# comment\n\n*.md\nbuild\n");
        assert!(i.is_ignored("README.md", false));
        assert!(i.is_ignored("docs/guide.md", false));
        assert!(i.is_ignored("build/out.yaml", false));
        assert!(i.is_ignored("a/build/out.yaml", false));
        assert!(!i.is_ignored("app.yaml", false));
        assert!(!i.is_ignored("# comment", false));
    }

    #[test]
    fn slashes_anchor_and_trailing_slash_means_directory() {
        let i = ignore("/top.yaml\ndocs/internal\ntmp/\n");
        assert!(i.is_ignored("top.yaml", false));
        assert!(!i.is_ignored("sub/top.yaml", false));
        assert!(i.is_ignored("docs/internal/a.yaml", false));
        assert!(!i.is_ignored("x/docs/internal/a.yaml", false));
        assert!(i.is_ignored("tmp/a", false));
        assert!(!i.is_ignored("tmp", false), "a file called tmp is kept");
    }

    #[test]
    fn negation_last_match_wins_but_not_below_ignored_directories() {
        let i = ignore("*.yaml\n!keep.yaml\nvendor/\n!vendor/keep.yaml\n");
        assert!(i.is_ignored("a.yaml", false));
        assert!(!i.is_ignored("keep.yaml", false));
        assert!(!i.is_ignored("deep/keep.yaml", false));
        assert!(i.is_ignored("vendor/keep.yaml", false));
    }

    #[test]
    fn globstars_classes_and_escapes() {
        let i = ignore(
            "**/secret\nconfig/**/dev.env\nlogs/**\nfile[0-9].txt\nx[!a]y\n\\#hash\n\\!bang\n",
        );
        assert!(i.is_ignored("secret", false));
        assert!(i.is_ignored("a/b/secret", false));
        assert!(i.is_ignored("config/dev.env", false));
        assert!(i.is_ignored("config/a/b/dev.env", false));
        assert!(i.is_ignored("logs/a/b.log", false));
        assert!(!i.is_ignored("logs", true));
        assert!(i.is_ignored("file7.txt", false));
        assert!(!i.is_ignored("fileA.txt", false));
        assert!(i.is_ignored("xby", false));
        assert!(!i.is_ignored("xay", false));
        assert!(i.is_ignored("#hash", false));
        assert!(i.is_ignored("!bang", false));
    }

    #[test]
    fn nested_files_apply_below_their_directory_only() {
        let mut i = Ignore::new();
        i.add("apps", "*.txt\n/local.yaml\n");
        assert!(i.is_ignored("apps/a.txt", false));
        assert!(i.is_ignored("apps/x/a.txt", false));
        assert!(i.is_ignored("apps/local.yaml", false));
        assert!(!i.is_ignored("apps/x/local.yaml", false));
        assert!(!i.is_ignored("a.txt", false));
        assert!(!i.is_ignored("other/a.txt", false));
    }
}
