//! How results look: YAML streams, tables for people, JSON for machines.

use anyhow::Result;
use serde_json::{Value, json};
use sluice_pipeline::Error;
use sluice_plugin_host::Plugin;
use sluice_types::{Diagnostic, ReleaseReport, Severity};
use std::fmt::Write;

/// Documents as one YAML stream separated by `---`, as `kubectl` prints them.
pub fn yaml_stream(documents: &[Value]) -> Result<String> {
    let mut out = String::new();
    for doc in documents {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(doc)?);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// What `sluice build` shows instead of a decrypted Secret value, as
/// `flux build` does (`data` entries hold it base64-encoded, so the
/// output stays a valid Secret).
pub const SECRET_MASK: &str = "**SOPS**";

/// Replaces the values of Secrets' `data` and `stringData`, keeping keys.
pub fn mask_secrets(objects: &mut [Value]) {
    const MASK_BASE64: &str = "KipTT1BTKio=";
    for o in objects
        .iter_mut()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("Secret"))
    {
        for (field, mask) in [("data", MASK_BASE64), ("stringData", SECRET_MASK)] {
            if let Some(entries) = o.get_mut(field).and_then(Value::as_object_mut) {
                entries.values_mut().for_each(|v| *v = json!(mask));
            }
        }
    }
}

/// Source and renderer findings go to stderr so stdout stays a clean stream.
pub fn print_diagnostics(release: &str, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        eprintln!("{}: {release}: {}", d.severity, printable(&d.to_string()));
    }
}

/// Plugin text without control characters, so a plugin cannot drive the
/// terminal with escape sequences.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// A fixed-width table; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        for (i, cell) in cells.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

pub fn check_table(results: &[(String, Result<ReleaseReport, Error>)]) -> String {
    let mut rows = Vec::new();
    let mut details = String::new();
    for (name, result) in results {
        match result {
            Err(e) => {
                rows.push(vec![
                    name.clone(),
                    "-".into(),
                    "-".into(),
                    "error".into(),
                    e.reason().into(),
                ]);
                let _ = writeln!(details, "\n{name}: error: {}", printable(&e.to_string()));
            }
            Ok(report) => {
                if report.policies.is_empty() {
                    rows.push(vec![
                        name.clone(),
                        "-".into(),
                        "-".into(),
                        "allow".into(),
                        "no policies".into(),
                    ]);
                }
                for p in &report.policies {
                    let errors = p
                        .diagnostics
                        .iter()
                        .filter(|d| d.severity == Severity::Error)
                        .count();
                    let summary = match (p.verdict, p.blocks()) {
                        (_, true) => format!("{errors} finding(s); release blocked"),
                        (sluice_types::Verdict::Deny, false) => {
                            format!("{errors} finding(s); audit only")
                        }
                        _ => format!("{} finding(s)", p.diagnostics.len()),
                    };
                    rows.push(vec![
                        name.clone(),
                        p.policy.clone(),
                        format!("{:?}", p.failure_action),
                        p.verdict.to_string(),
                        summary,
                    ]);
                    if !p.diagnostics.is_empty() {
                        let _ = writeln!(details, "\n{name} / {} ({}):", p.policy, p.verdict);
                        for d in &p.diagnostics {
                            let code = d
                                .code
                                .as_deref()
                                .map(|c| format!(" [{c}]"))
                                .unwrap_or_default();
                            let _ = writeln!(
                                details,
                                "  {:<7} {}{code}",
                                d.severity.to_string(),
                                printable(&d.to_string())
                            );
                        }
                    }
                }
                for d in report
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity != Severity::Info)
                {
                    let _ = writeln!(
                        details,
                        "{}: {name}: {}",
                        d.severity,
                        printable(&d.to_string())
                    );
                }
            }
        }
    }
    table(&["RELEASE", "POLICY", "ACTION", "VERDICT", "RESULT"], &rows) + &details
}

pub fn check_json(results: &[(String, Result<ReleaseReport, Error>)]) -> Result<String> {
    let items: Vec<Value> = results
        .iter()
        .map(|(name, r)| match r {
            Ok(report) => {
                let mut v = serde_json::to_value(report).unwrap_or(Value::Null);
                v["blocked"] = Value::Bool(report.blocked());
                v
            }
            Err(e) => json!({ "release": name, "error": e.to_string(), "reason": e.reason() }),
        })
        .collect();
    Ok(serde_json::to_string_pretty(&items)?)
}

pub fn plugins_table(rows: &[(Plugin, String)]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(p, from)| {
            let m = p.metadata();
            vec![
                p.name().into(),
                m.kind.to_string(),
                m.version.clone(),
                from.clone(),
                m.description.clone(),
            ]
        })
        .collect();
    table(&["NAME", "KIND", "VERSION", "FROM", "DESCRIPTION"], &rows)
}

fn plugin_json(p: &Plugin) -> Value {
    let schema: Value = serde_json::from_str(p.config_schema()).unwrap_or(Value::Null);
    let l = p.limits();
    json!({
        "name": p.name(),
        "metadata": p.metadata(),
        "digest": p.digest(),
        "configSchema": schema,
        "limits": {
            "memory": l.memory,
            "timeoutMs": l.timeout.as_millis() as u64,
            "maxOutput": l.max_output,
        },
        "imports": p.imports(),
        "exports": p.exports(),
    })
}

pub fn plugins_json(rows: &[(Plugin, String)]) -> Result<String> {
    let items: Vec<Value> = rows
        .iter()
        .map(|(p, from)| {
            let mut v = plugin_json(p);
            v["from"] = Value::String(from.clone());
            v
        })
        .collect();
    Ok(serde_json::to_string_pretty(&items)?)
}

pub fn inspect_json(p: &Plugin) -> Result<String> {
    Ok(serde_json::to_string_pretty(&plugin_json(p))?)
}

pub fn inspect_text(p: &Plugin) -> String {
    let m = p.metadata();
    let l = p.limits();
    let schema = serde_json::from_str::<Value>(p.config_schema())
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| p.config_schema().to_owned());
    let mut out = String::new();
    let _ = writeln!(out, "name:        {}", p.name());
    let _ = writeln!(out, "kind:        {}", m.kind);
    let _ = writeln!(out, "version:     {}", m.version);
    let _ = writeln!(out, "description: {}", m.description);
    let _ = writeln!(out, "digest:      {}", p.digest());
    let _ = writeln!(
        out,
        "limits:      memory {} MiB, timeout {} ms, output {} MiB",
        l.memory >> 20,
        l.timeout.as_millis(),
        l.max_output >> 20
    );
    let _ = writeln!(out, "imports:     {}", p.imports().join(", "));
    let _ = writeln!(out, "exports:     {}", p.exports().join(", "));
    let _ = writeln!(out, "config schema:\n{schema}");
    out
}
