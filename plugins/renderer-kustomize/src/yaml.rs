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

/// Go's JSON encoder writes a float with an integral value as an integer.
fn normalize(v: &mut Value) {
    match v {
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
        Value::Array(a) => a.iter_mut().for_each(normalize),
        Value::Object(m) => m.values_mut().for_each(normalize),
        _ => {}
    }
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
            normalize(&mut d.value);
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
    fn syntax_errors_have_line_and_column() {
        let e = documents("k.yaml", "a: b\nc: [d\n").unwrap_err();
        assert_eq!(e.file.as_deref(), Some("k.yaml"));
        assert!(e.line >= 2, "{e:?}");
        assert!(e.column > 0, "{e:?}");
    }
}
