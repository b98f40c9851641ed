//! YAML reading with the scalar rules kustomize ends up applying (it parses
//! YAML 1.2 but round-trips objects through JSON): `yes` stays a string,
//! `0755` is the octal number 493, `1.0` is the integer 1; errors are
//! located.

use crate::error::{Error, Result};
use serde_json::Value;

fn options() -> serde_saphyr::Options {
    // Rendered trees hold thousands of documents in one file; the sandbox's
    // memory limit, not the parser's default budget, bounds them.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = usize::MAX;
    budget.max_nodes = usize::MAX;
    budget.max_events = usize::MAX;
    serde_saphyr::options! {
        strict_booleans: true,
        legacy_octal_numbers: true,
        budget: Some(budget),
    }
}

/// What kustomize's JSON round trip does to scalars: a float with an
/// integral value is written as an integer, and an unquoted timestamp
/// becomes RFC 3339 text.
fn normalize(v: &mut Value, text: &str) {
    match v {
        Value::String(s) => {
            if let Some(t) = timestamp(s)
                && written_plain(text, s)
            {
                *s = t;
            }
        }
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64())
                && f.fract() == 0.0
                && f.abs() < 1e21
            {
                *v = if f < 0.0 {
                    Value::from(f as i64)
                } else {
                    Value::from(f as u64)
                };
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| normalize(x, text)),
        Value::Object(m) => m.values_mut().for_each(|x| normalize(x, text)),
        _ => {}
    }
}

/// Whether `s` appears in the source without quotes (the parsed value does
/// not say; timestamps are rare enough that a text search settles it).
fn written_plain(text: &str, s: &str) -> bool {
    text.match_indices(s).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        !matches!(before, Some('"' | '\''))
    })
}

/// A YAML timestamp in one of the forms Go's YAML decoder accepts,
/// formatted as Go's JSON encoder writes a time (RFC 3339, fraction
/// trimmed, `Z` for UTC).
fn timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let num = |t: &str, max: usize| -> Option<u32> {
        (!t.is_empty() && t.len() <= max && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some((&s[i..i + 1], &s[i + 1..]))),
        None => (s, None),
    };
    let mut d = date.splitn(3, '-');
    let (y, mo, da) = (num(d.next()?, 4)?, num(d.next()?, 2)?, num(d.next()?, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return None;
    }
    let Some((sep, time)) = rest else {
        return Some(format!("{y:04}-{mo:02}-{da:02}T00:00:00Z"));
    };
    // `T`/`t` forms carry a zone; the space form has none and means UTC.
    let (clock, zone) = if sep == " " {
        (time, "Z".to_owned())
    } else {
        let i = time.find(['Z', '+', '-'])?;
        let z = &time[i..];
        let zone = if z == "Z" {
            "Z".to_owned()
        } else {
            let (h, m) = z[1..].split_once(':')?;
            let (h, m) = (num(h, 2)?, num(m, 2)?);
            if h == 0 && m == 0 {
                "Z".to_owned()
            } else {
                format!("{}{h:02}:{m:02}", &z[..1])
            }
        };
        (&time[..i], zone)
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (clock, None),
    };
    let mut t = hms.splitn(3, ':');
    let (h, mi, se) = (num(t.next()?, 2)?, num(t.next()?, 2)?, num(t.next()?, 2)?);
    if h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let frac = match frac {
        Some(f) => {
            num(f, 9)?;
            let f = f.trim_end_matches('0');
            if f.is_empty() {
                String::new()
            } else {
                format!(".{f}")
            }
        }
        None => String::new(),
    };
    Some(format!(
        "{y:04}-{mo:02}-{da:02}T{h:02}:{mi:02}:{se:02}{frac}{zone}"
    ))
}

fn syntax_error(file: &str, e: &serde_saphyr::Error) -> Error {
    let (line, column) = e
        .location()
        .map(|l| (l.line() as u32, l.column() as u32))
        .unwrap_or((0, 0));
    let message = e.without_snippet().to_string();
    let message = message.lines().next().unwrap_or("invalid YAML").to_owned();
    Error::at(format!("invalid YAML: {message}"), file).line(line, column)
}

/// Every document of a multi-document file with the line it starts on;
/// empty documents are left out.
pub fn documents(file: &str, text: &str) -> Result<Vec<(Value, u32)>> {
    let docs: Vec<serde_saphyr::Spanned<Value>> =
        serde_saphyr::from_multiple_with_options(text, options())
            .map_err(|e| syntax_error(file, &e))?;
    Ok(docs
        .into_iter()
        .filter(|d| !d.value.is_null())
        .map(|mut d| {
            normalize(&mut d.value, text);
            (d.value, d.referenced.line() as u32)
        })
        .collect())
}

/// One document (a kustomization, a patch); null when empty.
pub fn document(file: &str, text: &str) -> Result<Value> {
    let mut docs = documents(file, text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0).0),
        _ => Err(Error::at(
            "expected one YAML document, found several; split them into separate files",
            file,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_follow_yaml_1_2() {
        let v = document(
            "f",
            "a: yes\nb: 0755\nc: true\nd: 1.5\ne: 2.0\nf: 0x1F\ng: '0755'\n",
        )
        .unwrap();
        assert_eq!(v["a"], "yes");
        assert_eq!(v["b"], 493);
        assert_eq!(v["e"], 2);
        assert_eq!(v["f"], 31);
        assert_eq!(v["g"], "0755");
        assert_eq!(v["c"], true);
        assert_eq!(v["d"], 1.5);
    }

    #[test]
    fn unquoted_timestamps_become_rfc3339() {
        let v = document(
            "f",
            "a: 2024-01-01\nb: '2024-01-02'\nc: 2001-12-14t21:59:43.10-05:00\nd: 2001-12-14 21:59:43.10\ne: 2024-13-01\n",
        )
        .unwrap();
        assert_eq!(v["a"], "2024-01-01T00:00:00Z");
        assert_eq!(v["b"], "2024-01-02");
        assert_eq!(v["c"], "2001-12-14T21:59:43.1-05:00");
        assert_eq!(v["d"], "2001-12-14T21:59:43.1Z");
        assert_eq!(v["e"], "2024-13-01");
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let e = documents("k.yaml", "a: b\nc: [d\n").unwrap_err();
        assert_eq!(e.file.as_deref(), Some("k.yaml"));
        assert!(e.line >= 2, "{e:?}");
        assert!(e.column > 0, "{e:?}");
    }
}
