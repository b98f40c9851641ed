//! sops' YAML store: one branch per document, scalars typed as Go's
//! yaml.v3 decodes them into `interface{}`, comments kept in place (sops
//! encrypts them; they are not part of the MAC). A comment belongs to the
//! innermost open block whose indentation it does not go left of, which is
//! where yaml.v3 attaches it for the paths that matter (the AAD of an
//! encrypted comment is the path of the mapping holding it).
//!
//! Written back with 4-space indentation like sops; strings are quoted only
//! when they would read back as another type.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle};

use crate::tree::{Branch, Key, Value, format_float};
use crate::{Error, Format};

enum Frame {
    Map {
        branch: Branch,
        key: Option<String>,
        col: Option<usize>,
        anchor: usize,
    },
    Seq {
        items: Vec<Value>,
        col: Option<usize>,
        anchor: usize,
    },
}

impl Frame {
    fn add_comment(&mut self, c: String) {
        match self {
            Frame::Map { branch, .. } => branch.0.push((Key::Comment(c), Value::Null)),
            Frame::Seq { items, .. } => items.push(Value::Comment(c)),
        }
    }
}

fn err(message: String) -> Error {
    Error::Parse {
        format: Format::Yaml,
        message,
    }
}

pub fn parse(data: &[u8]) -> Result<Vec<Branch>, Error> {
    let text = std::str::from_utf8(data).map_err(|_| err("not UTF-8".into()))?;
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    // Own-line comments waiting for the block they belong to, with column.
    let mut pending: Vec<(String, usize)> = Vec::new();
    let mut root: Option<Value> = None;

    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.map_err(|e| err(e.to_string()))?;
        let col = span.start.col();
        let node = match ev {
            Event::Comment(c, placement) => {
                let same_line = matches!(placement, granit_parser::Placement::Right);
                match stack.last_mut() {
                    Some(f) if same_line => f.add_comment(c.into_owned()),
                    _ => pending.push((c.into_owned(), col)),
                }
                continue;
            }
            Event::DocumentStart(..) | Event::StreamStart | Event::StreamEnd => continue,
            Event::DocumentEnd => {
                let b = match root.take() {
                    None | Some(Value::Null) => Branch::default(),
                    Some(Value::Map(b)) => b,
                    Some(_) => {
                        return Err(err(
                            "YAML documents that are sequences or values are not supported".into(),
                        ));
                    }
                };
                let mut b = b;
                for (c, _) in pending.drain(..) {
                    b.0.push((Key::Comment(c), Value::Null));
                }
                docs.push(b);
                continue;
            }
            Event::MappingStart(_, anchor, _) => {
                flush_into_parent(&mut stack, &mut pending);
                stack.push(Frame::Map {
                    branch: Branch::default(),
                    key: None,
                    col: None,
                    anchor,
                });
                continue;
            }
            Event::SequenceStart(_, anchor, _) => {
                flush_into_parent(&mut stack, &mut pending);
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    col: Some(col),
                    anchor,
                });
                continue;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let frame = stack.pop().expect("balanced events");
                let (mut value, anchor) = match frame {
                    Frame::Map {
                        mut branch,
                        anchor,
                        col,
                        ..
                    } => {
                        keep_inner(&mut pending, col, |c| {
                            branch.0.push((Key::Comment(c), Value::Null))
                        });
                        (Value::Map(branch), anchor)
                    }
                    Frame::Seq {
                        mut items,
                        anchor,
                        col,
                    } => {
                        keep_inner(&mut pending, col, |c| items.push(Value::Comment(c)));
                        (Value::List(items), anchor)
                    }
                };
                if anchor != 0 {
                    anchors.insert(anchor, value.clone());
                }
                if let Value::Map(b) = &mut value {
                    merge_keys(b);
                }
                value
            }
            Event::Alias(id) => anchors
                .get(&id)
                .cloned()
                .ok_or_else(|| err(format!("unknown alias at line {}", span.start.line())))?,
            Event::Scalar(text, style, anchor, tag) => {
                let v = resolve(
                    &text,
                    style,
                    tag.as_deref().map(|t| (t.handle(), t.suffix())),
                );
                if anchor != 0 {
                    anchors.insert(anchor, v.clone());
                }
                // A mapping key: comments before it belong to its mapping.
                if let Some(Frame::Map {
                    key: k @ None,
                    col: c,
                    branch,
                    ..
                }) = stack.last_mut()
                {
                    if c.is_none() {
                        *c = Some(col);
                    }
                    for (p, _) in pending.drain(..) {
                        branch.0.push((Key::Comment(p), Value::Null));
                    }
                    *k = Some(text.into_owned());
                    continue;
                }
                v
            }
            _ => continue,
        };
        // `node` is complete: place it in its parent.
        match stack.last_mut() {
            Some(Frame::Map { branch, key, .. }) => {
                let k = key.take().unwrap_or_default();
                branch.0.push((Key::Str(k), node));
            }
            Some(Frame::Seq { items, col: c, .. }) => {
                for (p, pc) in pending.drain(..) {
                    if c.is_none() {
                        *c = Some(pc);
                    }
                    items.push(Value::Comment(p));
                }
                items.push(node);
            }
            None => root = Some(node),
        }
    }
    Ok(docs)
}

/// Comments seen between a key and the block that is its value belong to
/// that block; before a sequence item, to the sequence.
fn flush_into_parent(stack: &mut [Frame], pending: &mut Vec<(String, usize)>) {
    if let Some(f @ Frame::Seq { .. }) = stack.last_mut() {
        for (p, _) in pending.drain(..) {
            f.add_comment(p);
        }
    }
}

/// At the end of a block, comments indented at least as far as the block
/// stay in it; the others wait for an outer block.
fn keep_inner(pending: &mut Vec<(String, usize)>, col: Option<usize>, mut add: impl FnMut(String)) {
    let col = col.unwrap_or(0);
    let (inner, outer): (Vec<_>, Vec<_>) = pending.drain(..).partition(|(_, c)| *c >= col);
    for (c, _) in inner {
        add(c);
    }
    *pending = outer;
}

/// YAML merge keys (`<<: *anchor`), as yaml.v3 applies them.
fn merge_keys(b: &mut Branch) {
    let Some(pos) =
        b.0.iter()
            .position(|(k, _)| matches!(k, Key::Str(s) if s == "<<"))
    else {
        return;
    };
    let (_, merged) = b.0.remove(pos);
    let sources = match merged {
        Value::Map(m) => vec![m],
        Value::List(l) => l
            .into_iter()
            .filter_map(|v| match v {
                Value::Map(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => return,
    };
    let mut insert_at = pos;
    for m in sources {
        for (k, v) in m.0 {
            if let Key::Str(s) = &k
                && b.get(s).is_some()
            {
                continue;
            }
            b.0.insert(insert_at, (k, v));
            insert_at += 1;
        }
    }
}

/// Types a scalar as yaml.v3 does when decoding into `interface{}`
/// (timestamps stay strings there).
fn resolve(text: &str, style: ScalarStyle, tag: Option<(&str, &str)>) -> Value {
    if let Some((handle, suffix)) = tag {
        if handle == "tag:yaml.org,2002:" {
            return match suffix {
                "str" => Value::Str(text.into()),
                "int" => parse_int(text).map_or(Value::Str(text.into()), Value::Int),
                "float" => parse_float(text)
                    .or_else(|| parse_int(text).map(|i| i as f64))
                    .map_or(Value::Str(text.into()), Value::Float),
                "bool" => parse_bool(text).map_or(Value::Str(text.into()), Value::Bool),
                "null" => Value::Null,
                "binary" => {
                    use base64::Engine;
                    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                    base64::engine::general_purpose::STANDARD
                        .decode(clean)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .map_or(Value::Str(text.into()), Value::Str)
                }
                _ => Value::Str(text.into()),
            };
        }
        if handle == "!" && suffix.is_empty() {
            return Value::Str(text.into());
        }
    }
    if style != ScalarStyle::Plain {
        return Value::Str(text.into());
    }
    resolve_plain(text)
}

fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(b) = parse_bool(text) {
        return Value::Bool(b);
    }
    if let Some(i) = parse_int(text) {
        return Value::Int(i);
    }
    if let Some(f) = parse_float(text) {
        return Value::Float(f);
    }
    Value::Str(text.into())
}

fn parse_bool(t: &str) -> Option<bool> {
    match t {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)`.
fn parse_int(t: &str) -> Option<i64> {
    let plain = t.replace('_', "");
    let (neg, body) = match plain.as_bytes().first()? {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, plain.as_str()),
    };
    if body.is_empty() || !body.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    i64::try_from(if neg { -magnitude } else { magnitude }).ok()
}

/// yaml.v3's float pattern: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn parse_float(t: &str) -> Option<f64> {
    let b = t.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return None;
        }
    } else {
        if digits(&mut i) == 0 {
            return None;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    (i == b.len()).then(|| t.parse().ok()).flatten()
}

const INDENT: usize = 4;

/// Writes the documents (`---` between them), with `meta` as a trailing
/// `sops` entry in each.
pub fn emit(branches: &[Branch], meta: Option<&Branch>) -> Vec<u8> {
    let mut out = String::new();
    for (i, b) in branches.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        let mut b = b.clone();
        if let Some(m) = meta {
            b.insert("sops", Value::Map(m.clone()));
        }
        if b.0.iter().all(|(k, _)| matches!(k, Key::Comment(_))) && b.0.is_empty() {
            out.push_str("{}\n");
            continue;
        }
        write_map(&b, 0, &mut out);
    }
    out.into_bytes()
}

fn pad(n: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_comment(c: &str, indent: usize, out: &mut String) {
    pad(indent, out);
    out.push('#');
    out.push_str(c);
    out.push('\n');
}

/// Writes the entries of a mapping, each line at `indent`.
fn write_map(b: &Branch, indent: usize, out: &mut String) {
    let mut first = true;
    for (k, v) in &b.0 {
        // The first line's indentation is already written by a `- ` parent.
        let lead = if first && out.ends_with("- ") {
            0
        } else {
            indent
        };
        first = false;
        match k {
            Key::Comment(c) => {
                if lead == 0 {
                    // Nothing may share the `- ` line with a comment.
                    out.push('\n');
                }
                write_comment(c, indent, out);
                if lead == 0 {
                    first = true;
                    out.truncate(out.len());
                }
            }
            Key::Str(k) => {
                pad(lead, out);
                out.push_str(&scalar_text(&Value::Str(k.clone()), indent));
                out.push(':');
                write_child(v, indent, out);
            }
        }
    }
}

/// Writes a value after `key:` or `- `.
fn write_child(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Map(b) if has_entries(b) => {
            out.push('\n');
            write_map(b, indent + INDENT, out);
        }
        Value::List(l) if l.iter().any(|v| !matches!(v, Value::Comment(_))) || !l.is_empty() => {
            out.push('\n');
            write_list(l, indent + INDENT, out);
        }
        Value::Map(_) => out.push_str(" {}\n"),
        Value::List(_) => out.push_str(" []\n"),
        other => {
            out.push(' ');
            out.push_str(&scalar_text(other, indent));
            out.push('\n');
        }
    }
}

fn has_entries(b: &Branch) -> bool {
    !b.0.is_empty()
}

fn write_list(l: &[Value], indent: usize, out: &mut String) {
    for v in l {
        match v {
            Value::Comment(c) => write_comment(c, indent, out),
            Value::Map(b) if has_entries(b) && matches!(b.0.first(), Some((Key::Str(_), _))) => {
                pad(indent, out);
                out.push_str("- ");
                write_map(b, indent + 2, out);
            }
            Value::Map(b) if has_entries(b) => {
                pad(indent, out);
                out.push_str("-\n");
                write_map(b, indent + 2, out);
            }
            Value::List(inner) if !inner.is_empty() => {
                pad(indent, out);
                out.push_str("-\n");
                write_list(inner, indent + 2, out);
            }
            other => {
                pad(indent, out);
                out.push('-');
                write_child(other, indent, out);
            }
        }
    }
}

/// A scalar as YAML text; multi-line strings as literal blocks at
/// `indent + 4`.
fn scalar_text(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_nan() => ".nan".into(),
        Value::Float(f) if f.is_infinite() => if *f > 0.0 { ".inf" } else { "-.inf" }.into(),
        Value::Float(f) => {
            let s = format_float(*f);
            if s.contains(['.', 'e']) {
                s
            } else {
                format!("{s}.0")
            }
        }
        Value::Bytes(b) => {
            scalar_text(&Value::Str(String::from_utf8_lossy(b).into_owned()), indent)
        }
        Value::Str(s) | Value::Comment(s) => string_text(s, indent),
        Value::Map(_) | Value::List(_) => unreachable!("collections are written as blocks"),
    }
}

fn string_text(s: &str, indent: usize) -> String {
    if s.contains('\n') && literal_ok(s) {
        let trimmed = s.trim_end_matches('\n');
        let chomp = match s.len() - trimmed.len() {
            0 => "-",
            1 => "",
            _ => "+",
        };
        let mut out = format!("|{chomp}");
        let body = if chomp == "+" {
            &s[..s.len() - 1]
        } else {
            trimmed
        };
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&" ".repeat(indent + INDENT));
                out.push_str(line);
            }
        }
        return out;
    }
    if plain_ok(s) {
        return s.to_string();
    }
    double_quoted(s)
}

fn literal_ok(s: &str) -> bool {
    !s.starts_with([' ', '\t', '\n'])
        && !s
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{feff}')
        && s.split('\n').all(|l| !l.ends_with([' ', '\t']))
}

fn plain_ok(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return false;
    }
    if !matches!(resolve_plain(s), Value::Str(_)) {
        return false;
    }
    // Timestamps read back as strings in Go, but not in other YAML tools.
    let b = s.as_bytes();
    if b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        return false;
    }
    let first = s.chars().next().expect("not empty");
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    !(s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control() || c == '\u{feff}'))
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_typed_as_yaml_v3_types_them() {
        let b = &parse(
            b"a: 1\nb: 1.50\nc: true\nd: 'true'\ne: ~\nf: 0x1F\ng: 2024-01-01\nh: yes\ni: 1e3\n",
        )
        .unwrap()[0];
        assert_eq!(b.get("a"), Some(&Value::Int(1)));
        assert_eq!(b.get("b"), Some(&Value::Float(1.5)));
        assert_eq!(b.get("c"), Some(&Value::Bool(true)));
        assert_eq!(b.get("d"), Some(&Value::Str("true".into())));
        assert_eq!(b.get("e"), Some(&Value::Null));
        assert_eq!(b.get("f"), Some(&Value::Int(31)));
        assert_eq!(b.get("g"), Some(&Value::Str("2024-01-01".into())));
        assert_eq!(b.get("h"), Some(&Value::Str("yes".into())));
        assert_eq!(b.get("i"), Some(&Value::Float(1000.0)));
    }

    #[test]
    fn comments_land_in_the_block_they_are_indented_in() {
        let b = &parse(b"# top\na:\n    # inner\n    b: 1 # right\n# outer\nc: 2\n").unwrap()[0];
        let keys: Vec<_> = b.0.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(
            keys,
            vec![
                Key::Comment(" top".into()),
                Key::Str("a".into()),
                Key::Comment(" outer".into()),
                Key::Str("c".into())
            ]
        );
        let a = b.get("a").unwrap().as_map().unwrap();
        assert_eq!(a.0[0].0, Key::Comment(" inner".into()));
        assert_eq!(a.0[1].0, Key::Str("b".into()));
    }

    #[test]
    fn emitted_yaml_reads_back_the_same() {
        let src = b"a: 1\nb:\n    - x\n    - k: v\n      n: 2\n    - []\nc: |\n    two\n    lines\nd: \"true\"\ne: ''\nf: 'x: y'\ng: {}\nh: 2.0\n";
        let docs = parse(src).unwrap();
        let again = parse(&emit(&docs, None)).unwrap();
        assert_eq!(docs, again);
    }
}
