//! Flux's `envsubst` (fluxcd/pkg/envsubst, a fork of drone/envsubst) for one
//! string: `${var}`, the bash-like operators it supports (`:=`, `:-`, `=`,
//! `^^`, `,,`, `#`, `%`, `/`, `:offset:length`, `${#var}`), `$$` as a
//! literal `$`, and `$var` left alone. Parsing follows its scanner rule by
//! rule, so the same inputs are accepted, refused and expanded the same way.

use std::fmt;

/// Why a string could not be parsed (Flux's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    BadSubstitution,
    MissingClosingBrace,
    VariableName,
    FuncSubstitution,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::BadSubstitution => "bad substitution",
            ParseError::MissingClosingBrace => "missing closing brace",
            ParseError::VariableName => "unable to parse variable name",
            ParseError::FuncSubstitution => "unable to parse substitution within function",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Func {
        param: String,
        name: String,
        args: Vec<Node>,
    },
}

/// A parsed string: text and expressions in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Node>);

impl Template {
    /// Whether the string is one expression and nothing else (`${replicas}`).
    pub fn is_single_expression(&self) -> bool {
        matches!(self.0.as_slice(), [Node::Func { .. }])
    }

    /// Expands with `lookup`; a variable `lookup` does not know is empty,
    /// and is also reported to `unset` unless its operator supplies a
    /// default (Flux's strict mode).
    pub fn expand(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
        unset: &mut Vec<String>,
    ) -> String {
        self.0.iter().map(|n| eval(n, lookup, unset)).collect()
    }
}

fn eval(node: &Node, lookup: &dyn Fn(&str) -> Option<String>, unset: &mut Vec<String>) -> String {
    match node {
        Node::Text(t) => t.clone(),
        Node::Func { param, name, args } => {
            let args: Vec<String> = args.iter().map(|a| eval(a, lookup, unset)).collect();
            let value = lookup(param);
            let defaulting = matches!(
                name.as_str(),
                "-" | "+" | "=" | "?" | ":-" | ":+" | ":=" | ":?"
            );
            if value.is_none() && !defaulting && !unset.contains(param) {
                unset.push(param.clone());
            }
            apply(name, &value.unwrap_or_default(), &args)
        }
    }
}

/// Flux's `lookupFunc`: every operator it does not know is `toDefault`.
fn apply(name: &str, s: &str, args: &[String]) -> String {
    match name {
        "," => map_first(s, char::to_lowercase),
        ",," => s.to_lowercase(),
        "^" => map_first(s, char::to_uppercase),
        "^^" => s.to_uppercase(),
        "#" if args.is_empty() => s.len().to_string(),
        "#" => trim_shortest(s, &args[0]),
        "##" => trim_longest(s, &args[0]),
        "%" => rev(&trim_shortest(&rev(s), &rev(&args[0]))),
        "%%" => rev(&trim_longest(&rev(s), &rev(&args[0]))),
        ":" => substr(s, args),
        "/#" => match args {
            [from, to] if s.starts_with(from.as_str()) => s.replacen(from.as_str(), to, 1),
            _ => s.to_owned(),
        },
        "/%" => match args {
            [from, to] if s.ends_with(from.as_str()) => {
                format!("{}{to}", &s[..s.len() - from.len()])
            }
            _ => s.to_owned(),
        },
        "/" => match args {
            [] => s.to_owned(),
            [from] => s.replacen(from.as_str(), "", 1),
            [from, to, ..] => s.replacen(from.as_str(), to, 1),
        },
        "//" => match args {
            [] => s.to_owned(),
            [from] => s.replace(from.as_str(), ""),
            [from, to, ..] => s.replace(from.as_str(), to),
        },
        _ if s.is_empty() && !args.is_empty() => args.concat(),
        _ => s.to_owned(),
    }
}

fn map_first<I: Iterator<Item = char>>(s: &str, f: impl Fn(char) -> I) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => f(c).chain(chars).collect(),
        None => String::new(),
    }
}

fn rev(s: &str) -> String {
    s.chars().rev().collect()
}

/// Byte offsets as Go slices strings; a cut inside a character is moved to
/// the next boundary rather than producing invalid text.
fn substr(s: &str, args: &[String]) -> String {
    let Some(Ok(mut pos)) = args.first().map(|a| a.parse::<i64>()) else {
        return s.to_owned();
    };
    let len = s.len() as i64;
    if pos < 0 {
        pos = (len + pos).max(0);
    }
    let cut = |from: i64, to: i64| {
        let b = s.as_bytes();
        String::from_utf8_lossy(&b[from as usize..to as usize]).into_owned()
    };
    if args.len() == 1 {
        return if pos < len {
            cut(pos, len)
        } else {
            String::new()
        };
    }
    let Ok(length) = args[1].parse::<i64>() else {
        return s.to_owned();
    };
    if length < 0 {
        let end = len + length;
        return if end < pos {
            String::new()
        } else {
            cut(pos, end)
        };
    }
    if pos + length >= len {
        return if pos < len {
            cut(pos, len)
        } else {
            String::new()
        };
    }
    cut(pos, pos + length)
}

/// Prefixes of `s`, longest first (Go slices by byte; only whole characters here).
fn prefixes(s: &str) -> impl Iterator<Item = &str> {
    (1..=s.len())
        .rev()
        .filter(|&i| s.is_char_boundary(i))
        .map(|i| &s[..i])
}

fn trim_shortest(s: &str, pattern: &str) -> String {
    let mut shortest = None;
    for p in prefixes(s) {
        match glob_match(pattern, p) {
            Err(()) => return s.to_owned(),
            Ok(true) => shortest = Some(p.len()),
            Ok(false) => {}
        }
    }
    shortest.map_or_else(|| s.to_owned(), |n| s[n..].to_owned())
}

fn trim_longest(s: &str, pattern: &str) -> String {
    for p in prefixes(s) {
        match glob_match(pattern, p) {
            Err(()) => return s.to_owned(),
            Ok(true) => return s[p.len()..].to_owned(),
            Ok(false) => {}
        }
    }
    s.to_owned()
}

/// Go's `path.Match`: `*` (not across `/`), `?`, `[…]` classes with `^`
/// negation and ranges, `\` escapes; `Err` for a malformed pattern.
fn glob_match(pattern: &str, name: &str) -> Result<bool, ()> {
    let mut pattern = pattern;
    let mut name = name;
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains('/'));
        }
        let (t, ok, bad) = match_chunk(chunk, name);
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if bad {
            return Err(());
        }
        if star {
            for (i, c) in name.char_indices() {
                if c == '/' {
                    break;
                }
                let (t, ok, bad) = match_chunk(chunk, &name[i + c.len_utf8()..]);
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                if bad {
                    return Err(());
                }
            }
        }
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            if match_chunk(chunk, "").2 {
                return Err(());
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(pattern: &str) -> (bool, &str, &str) {
    let trimmed = pattern.trim_start_matches('*');
    let star = trimmed.len() != pattern.len();
    let b = trimmed.as_bytes();
    let mut in_range = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &trimmed[..i], &trimmed[i..])
}

/// (rest of `s`, matched, pattern malformed).
fn match_chunk<'a>(chunk: &str, s: &'a str) -> (&'a str, bool, bool) {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while let Some(c) = chunk.chars().next() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c {
            '[' => {
                let mut r = '\0';
                if !failed {
                    r = s.chars().next().unwrap_or('\0');
                    s = &s[r.len_utf8()..];
                }
                chunk = &chunk[1..];
                let negated = chunk.starts_with('^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.starts_with(']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let Some((lo, rest)) = get_esc(chunk) else {
                        return ("", false, true);
                    };
                    chunk = rest;
                    let mut hi = lo;
                    if let Some(after) = chunk.strip_prefix('-') {
                        let Some((h, rest)) = get_esc(after) else {
                            return ("", false, true);
                        };
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            '?' => {
                if !failed {
                    let r = s.chars().next().unwrap_or('\0');
                    if r == '/' {
                        failed = true;
                    }
                    s = &s[r.len_utf8()..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                let literal = if c == '\\' {
                    chunk = &chunk[1..];
                    match chunk.chars().next() {
                        Some(l) => l,
                        None => return ("", false, true),
                    }
                } else {
                    c
                };
                if !failed {
                    if !s.starts_with(literal) {
                        failed = true;
                    } else {
                        s = &s[literal.len_utf8()..];
                    }
                }
                chunk = &chunk[literal.len_utf8()..];
            }
        }
    }
    if failed {
        ("", false, false)
    } else {
        (s, true, false)
    }
}

/// One character of a class, unescaped; `None` when the class is malformed.
fn get_esc(chunk: &str) -> Option<(char, &str)> {
    let mut chunk = chunk;
    if chunk.is_empty() || chunk.starts_with(['-', ']']) {
        return None;
    }
    if let Some(rest) = chunk.strip_prefix('\\') {
        chunk = rest;
    }
    let c = chunk.chars().next()?;
    let rest = &chunk[c.len_utf8()..];
    (!rest.is_empty()).then_some((c, rest))
}

/// Parses one string the way Flux's scanner does.
pub fn parse(text: &str) -> Result<Template, ParseError> {
    let mut p = Parser {
        s: text.chars().collect(),
        pos: 0,
    };
    let mut nodes = Vec::new();
    let mut lit = String::new();
    while p.pos < p.s.len() {
        if p.at_lbrack() {
            if !lit.is_empty() {
                nodes.push(Node::Text(std::mem::take(&mut lit)));
            }
            p.pos += 2;
            nodes.push(p.func()?);
        } else if p.at("$$") {
            lit.push('$');
            p.pos += 2;
        } else {
            lit.push(p.s[p.pos]);
            p.pos += 1;
        }
    }
    if !lit.is_empty() {
        nodes.push(Node::Text(lit));
    }
    Ok(Template(nodes))
}

struct Parser {
    s: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos).copied()
    }

    fn at(&self, what: &str) -> bool {
        what.chars()
            .enumerate()
            .all(|(i, c)| self.s.get(self.pos + i) == Some(&c))
    }

    fn at_lbrack(&self) -> bool {
        self.at("${")
    }

    /// Consumes characters while `accept(c, i)` holds (`i` counts from 1).
    fn take(&mut self, accept: impl Fn(char, usize) -> bool) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if !accept(c, out.chars().count() + 1) {
                break;
            }
            out.push(c);
            self.pos += 1;
        }
        out
    }

    fn rbrack(&mut self) -> Result<(), ParseError> {
        if self.peek() == Some('}') {
            self.pos += 1;
            Ok(())
        } else {
            Err(ParseError::BadSubstitution)
        }
    }

    fn ident(&mut self) -> String {
        self.take(|c, _| c.is_alphanumeric() || c == '_')
    }

    /// After `${`.
    fn func(&mut self) -> Result<Node, ParseError> {
        if self.peek() == Some('#') {
            self.pos += 1;
            let param = self.ident();
            if param.is_empty() {
                return Err(ParseError::BadSubstitution);
            }
            self.rbrack()?;
            return Ok(Node::Func {
                param,
                name: "#".into(),
                args: Vec::new(),
            });
        }
        let param = self.ident();
        if param.is_empty() {
            return Err(ParseError::VariableName);
        }
        let next = self.s.get(self.pos + 1).copied();
        match self.peek() {
            Some(':') if matches!(next, Some('=' | '-' | '?' | '+')) => self.default(param),
            Some(':') => self.substr(param),
            Some('=') => self.default(param),
            Some(',' | '^') => {
                let name = self.take(|c, i| matches!(c, ',' | '^') && i < 3);
                self.rbrack()?;
                Ok(Node::Func {
                    param,
                    name,
                    args: Vec::new(),
                })
            }
            Some('/') => self.replace(param),
            Some(c @ ('#' | '%')) => {
                let name = self.take(|x, i| x == c && i < 3);
                let arg = self.param(|c| c != '}', false)?;
                self.rbrack()?;
                Ok(Node::Func {
                    param,
                    name,
                    args: vec![arg],
                })
            }
            Some('}') => {
                self.pos += 1;
                Ok(Node::Func {
                    param,
                    name: String::new(),
                    args: Vec::new(),
                })
            }
            _ => Err(ParseError::MissingClosingBrace),
        }
    }

    fn default(&mut self, param: String) -> Result<Node, ParseError> {
        let name = if self.peek() == Some('=') {
            self.pos += 1;
            "=".to_owned()
        } else {
            let n: String = self.s[self.pos..self.pos + 2].iter().collect();
            self.pos += 2;
            n
        };
        let mut args = Vec::new();
        while self.peek() != Some('}') {
            args.push(self.param(|c| c != '}', false)?);
        }
        self.pos += 1;
        Ok(Node::Func { param, name, args })
    }

    fn substr(&mut self, param: String) -> Result<Node, ParseError> {
        self.pos += 1;
        let mut args = vec![self.param(|c| c != ':' && c != '}', false)?];
        match self.peek() {
            Some('}') => {
                self.pos += 1;
                return Ok(Node::Func {
                    param,
                    name: ":".into(),
                    args,
                });
            }
            Some(':') => {
                self.take(|c, _| c == ':');
            }
            _ => return Err(ParseError::BadSubstitution),
        }
        args.push(self.param(|c| c != '}', false)?);
        self.rbrack()?;
        Ok(Node::Func {
            param,
            name: ":".into(),
            args,
        })
    }

    fn replace(&mut self, param: String) -> Result<Node, ParseError> {
        let name =
            self.take(|c, i| (i == 1 && c == '/') || (i == 2 && matches!(c, '/' | '#' | '%')));
        let mut args = Vec::new();
        if self.peek() == Some('/') {
            args.push(Node::Text(String::new()));
        } else {
            args.push(self.param(|c| c != '/', true)?);
        }
        if self.take(|c, _| c == '/').is_empty() {
            return Err(ParseError::BadSubstitution);
        }
        if self.peek() == Some('}') {
            self.pos += 1;
            return Ok(Node::Func { param, name, args });
        }
        args.push(self.param(|c| c != '}', true)?);
        self.rbrack()?;
        Ok(Node::Func { param, name, args })
    }

    /// One argument: a nested `${…}` or text up to the next `${` or a
    /// character `accept` refuses; `escapes` turns on `$$`, `\/` and `\\`.
    fn param(&mut self, accept: impl Fn(char) -> bool, escapes: bool) -> Result<Node, ParseError> {
        if self.at_lbrack() {
            self.pos += 2;
            return self.func();
        }
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if self.at_lbrack() && !text.is_empty() {
                break;
            }
            let next = self.s.get(self.pos + 1).copied();
            let escaped = escapes
                && ((c == '$' && next == Some('$'))
                    || (c == '\\' && matches!(next, Some('/' | '\\'))));
            if escaped {
                text.push(next.unwrap_or(c));
                self.pos += 2;
                continue;
            }
            if !accept(c) {
                break;
            }
            text.push(c);
            self.pos += 1;
        }
        if text.is_empty() {
            return Err(ParseError::FuncSubstitution);
        }
        Ok(Node::Text(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(input: &str, vars: &[(&str, &str)]) -> Result<(String, Vec<String>), ParseError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let t = parse(input)?;
        let mut unset = Vec::new();
        let out = t.expand(&|k| vars.get(k).cloned(), &mut unset);
        Ok((out, unset))
    }

    fn expand(input: &str, vars: &[(&str, &str)]) -> String {
        run(input, vars).unwrap().0
    }

    #[test]
    fn variables_defaults_and_escapes() {
        let v = [("A", "alpha"), ("E", "")];
        assert_eq!(expand("x-${A}-y", &v), "x-alpha-y");
        assert_eq!(expand("${MISSING}", &v), "");
        assert_eq!(expand("${MISSING:=dev}", &v), "dev");
        assert_eq!(expand("${MISSING:-dev}", &v), "dev");
        assert_eq!(expand("${E:=fallback}", &v), "fallback");
        assert_eq!(expand("${E=fallback}", &v), "fallback");
        assert_eq!(expand("${A:=fallback}", &v), "alpha");
        assert_eq!(expand("${MISSING:=a${A}b}", &v), "aalphab");
        assert_eq!(expand("$${A}", &v), "${A}");
        assert_eq!(expand("$$HOME and $A and $", &v), "$HOME and $A and $");
        assert_eq!(expand("cost: 5$", &v), "cost: 5$");
    }

    #[test]
    fn string_operators() {
        let v = [("P", "path/to/file.tar.gz"), ("N", "hello")];
        assert_eq!(expand("${#N}", &v), "5");
        assert_eq!(expand("${N^}", &v), "Hello");
        assert_eq!(expand("${N^^}", &v), "HELLO");
        assert_eq!(expand("${N,,}", &v), "hello");
        assert_eq!(expand("${N:1}", &v), "ello");
        assert_eq!(expand("${N:1:3}", &v), "ell");
        assert_eq!(
            expand("${N:-2}", &v),
            "hello",
            "':-' is the default operator"
        );
        assert_eq!(expand("${N:1:-1}", &v), "ell");
        assert_eq!(expand("${P#*/}", &v), "to/file.tar.gz");
        assert_eq!(
            expand("${P##*/}", &v),
            "to/file.tar.gz",
            "* does not cross /"
        );
        assert_eq!(expand("${P%.*}", &v), "path/to/file.tar");
        assert_eq!(expand("${P%%.*}", &v), "path/to/file");
        assert_eq!(expand("${N/l/L}", &v), "heLlo");
        assert_eq!(expand("${N//l/L}", &v), "heLLo");
        assert_eq!(expand("${N/#he/HE}", &v), "HEllo");
        assert_eq!(expand("${N/%lo/LO}", &v), "helLO");
        assert_eq!(expand("${N/l/}", &v), "helo");
        assert_eq!(run("${N/l}", &v), Err(ParseError::BadSubstitution));
        assert_eq!(expand("${P//\\//-}", &v), "path-to-file.tar.gz");
    }

    #[test]
    fn strict_mode_reports_unset_variables_without_defaults() {
        let (_, unset) = run("${A} ${B:=x} ${C^^} ${A} ${D:-y} ${#E}", &[]).unwrap();
        assert_eq!(unset, ["A", "C", "E"]);
    }

    #[test]
    fn malformed_expressions_are_refused() {
        assert_eq!(run("${", &[]), Err(ParseError::VariableName));
        assert_eq!(run("${}", &[]), Err(ParseError::VariableName));
        assert_eq!(run("${A", &[]), Err(ParseError::MissingClosingBrace));
        assert_eq!(run("${A B}", &[]), Err(ParseError::MissingClosingBrace));
        assert_eq!(run("${A-x}", &[]), Err(ParseError::MissingClosingBrace));
        assert_eq!(run("${A:=x", &[]), Err(ParseError::FuncSubstitution));
        assert_eq!(run("${#}", &[]), Err(ParseError::BadSubstitution));
    }

    #[test]
    fn go_path_match() {
        assert_eq!(glob_match("a*c", "abbc"), Ok(true));
        assert_eq!(glob_match("a*c", "ab/c"), Ok(false));
        assert_eq!(glob_match("a?c", "abc"), Ok(true));
        assert_eq!(glob_match("[a-c]x", "bx"), Ok(true));
        assert_eq!(glob_match("[^a-c]x", "bx"), Ok(false));
        assert_eq!(glob_match("\\*", "*"), Ok(true));
        assert_eq!(glob_match("[", "a"), Err(()));
    }
}
