//! `sluice policy test` and `sluice policy apply`: Kyverno policies and
//! `kyverno test` files run through the built-in `rules` plugin, inside its
//! sandbox, exactly as `sluice check` runs them for a Release.
//!
//! Test files are `kyverno-test.yaml` (also in hidden `.kyverno-test/`
//! folders) in the `cli.kyverno.io/v1alpha1` `Test` form or the older
//! unversioned one. Each expected result is compared with the plugin's
//! result the way `kyverno test` does: by policy, rule (also its
//! `autogen-` variants), kind, resource name (`name` or `namespace/name`),
//! the result, and for mutations the patched resource.

use crate::output::{printable, table};
use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};
use sluice_plugin_host::{Plugin, PluginHost};
use sluice_types::load::parse_documents;
use sluice_types::{Manifest, ReleaseReport, ResourceRef, RuleResult, RuleVerdict, SourceLocation};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run every kyverno-test.yaml below DIR and compare results; exit 1 on any mismatch
    Test {
        dir: PathBuf,
        #[arg(short, long, value_enum, default_value_t = TestFormat::Table)]
        output: TestFormat,
        /// Show only the results that did not match
        #[arg(long)]
        fail_only: bool,
    },
    /// Apply Kyverno policies to resources and report per resource and rule; exit 1 on a failure
    Apply {
        /// Policy files or directories (repeatable)
        #[arg(short = 'p', long = "policy", required = true, num_args = 1..)]
        policies: Vec<PathBuf>,
        /// Resource files or directories (repeatable)
        #[arg(short = 'r', long = "resource", required = true, num_args = 1..)]
        resources: Vec<PathBuf>,
        /// A kyverno Values file (per-policy, per-rule, per-resource values, namespaceSelector labels)
        #[arg(short = 'f', long)]
        values: Option<PathBuf>,
        #[arg(short, long, value_enum, default_value_t = ApplyFormat::Table)]
        output: ApplyFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    Table,
    Json,
    Junit,
    Sarif,
}

pub async fn run(host: PluginHost, command: PolicyCommand) -> Result<ExitCode> {
    let plugin = rules_plugin(&host).await?;
    match command {
        PolicyCommand::Test {
            dir,
            output,
            fail_only,
        } => test(&plugin, &dir, output, fail_only).await,
        PolicyCommand::Apply {
            policies,
            resources,
            values,
            output,
        } => apply(&plugin, &policies, &resources, values.as_deref(), output).await,
    }
}

async fn rules_plugin(host: &PluginHost) -> Result<Plugin> {
    let builtin = sluice_builtins::BUILTINS
        .iter()
        .find(|b| b.name == "rules")
        .context("the built-in 'rules' plugin is missing from this sluice binary")?;
    Ok(host.load(builtin.name, builtin.wasm, None, None).await?)
}

/// A document with the file and line it came from.
struct Doc {
    value: Value,
    file: PathBuf,
    line: u32,
}

fn read_docs(path: &Path) -> Result<Vec<Doc>> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read directory {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
            })
            .collect();
        entries.sort();
        let mut out = Vec::new();
        for e in entries {
            out.extend(read_docs(&e)?);
        }
        return Ok(out);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let docs = parse_documents(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (line, value) in docs {
        // A `List` holds its objects in `items`.
        if value.get("kind").and_then(Value::as_str) == Some("List")
            && let Some(items) = value.get("items").and_then(Value::as_array)
        {
            out.extend(items.iter().map(|i| Doc {
                value: i.clone(),
                file: path.to_owned(),
                line,
            }));
        } else {
            out.push(Doc {
                value,
                file: path.to_owned(),
                line,
            });
        }
    }
    Ok(out)
}

fn is_kyverno_policy(v: &Value) -> bool {
    v.get("apiVersion")
        .and_then(Value::as_str)
        .is_some_and(|a| a.starts_with("kyverno.io/"))
        && matches!(
            v.get("kind").and_then(Value::as_str),
            Some("ClusterPolicy" | "Policy")
        )
}

/// What the plugin returned, as verdict records plus the final resources.
struct Applied {
    verdicts: Vec<RuleVerdict>,
    resources: Vec<Value>,
}

async fn evaluate(
    plugin: &Plugin,
    policies: &[Value],
    resources: &[Doc],
    values: &Value,
) -> Result<Applied> {
    let manifests: Vec<Manifest> = resources
        .iter()
        .map(|d| Manifest {
            object: d.value.clone(),
            origin: Some(SourceLocation {
                file: d.file.display().to_string(),
                line: d.line,
                column: 0,
            }),
        })
        .collect();
    let config = json!({"policies": policies, "variables": values});
    let eval = match plugin.evaluate("file://.", "", &manifests, &config).await {
        Ok(e) => e,
        Err(sluice_plugin_host::Error::Failed { diagnostics, .. }) => {
            let lines: Vec<String> = diagnostics
                .iter()
                .map(|d| format!("  {}", printable(&d.message)))
                .collect();
            bail!("the policies cannot be evaluated:\n{}", lines.join("\n"));
        }
        Err(e) => return Err(e.into()),
    };
    let resources = match eval.mutated {
        Some(m) => m.into_iter().map(|m| m.object).collect(),
        None => manifests.into_iter().map(|m| m.object).collect(),
    };
    Ok(Applied {
        verdicts: RuleVerdict::collect(&eval.diagnostics, plugin.digest(), ""),
        resources,
    })
}

// ---- kyverno test ----

/// One expected result of a test file.
#[derive(Debug)]
struct Expected {
    policy: String,
    rule: String,
    resources: Vec<String>,
    kind: String,
    namespace: Option<String>,
    result: String,
    patched: Option<String>,
}

/// One compared row.
#[derive(Debug)]
struct Row {
    test: String,
    policy: String,
    rule: String,
    resource: String,
    expected: String,
    actual: String,
    ok: bool,
    reason: String,
    message: String,
}

fn find_tests(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if dir.is_file() {
        out.push(dir.to_owned());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            find_tests(&p, out)?;
        } else if p.file_name().is_some_and(|n| n == "kyverno-test.yaml") {
            out.push(p);
        }
    }
    Ok(())
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn expected(test: &Value, file: &Path) -> Result<Vec<Expected>> {
    let mut out = Vec::new();
    let results = test
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, r) in results.iter().enumerate() {
        let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
        let at = |field: &str| format!("{}: results[{i}].{field}", file.display());
        let mut resources = strings(r.get("resources"));
        if resources.is_empty()
            && let Some(one) = s("resource")
        {
            resources.push(one);
        }
        out.push(Expected {
            policy: s("policy").with_context(|| at("policy: missing"))?,
            rule: s("rule").unwrap_or_default(),
            resources,
            kind: s("kind").with_context(|| at("kind: missing"))?,
            namespace: s("namespace").filter(|n| !n.is_empty()),
            result: s("result")
                .or_else(|| s("status"))
                .with_context(|| at("result: missing (pass, fail, warn, error or skip)"))?
                .to_ascii_lowercase(),
            patched: s("patchedResources").or_else(|| s("patchedResource")),
        });
    }
    Ok(out)
}

/// Resolves a path written in a test file, relative to that file.
fn relative(test: &Path, p: &str) -> PathBuf {
    test.parent().unwrap_or(Path::new(".")).join(p)
}

async fn run_test(plugin: &Plugin, file: &Path) -> Result<Vec<Row>> {
    let docs = read_docs(file)?;
    let test = docs
        .into_iter()
        .next()
        .map(|d| d.value)
        .with_context(|| format!("{}: the file is empty", file.display()))?;
    let name = test
        .pointer("/metadata/name")
        .or_else(|| test.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let label = if name.is_empty() {
        file.display().to_string()
    } else {
        format!("{} ({name})", file.display())
    };
    let mut policies = Vec::new();
    for (i, p) in strings(test.get("policies")).iter().enumerate() {
        if p.starts_with("http://") || p.starts_with("https://") {
            bail!(
                "{}: policies[{i}]: remote policies ('{p}') are not fetched; vendor the file next to the test",
                file.display()
            );
        }
        let docs = read_docs(&relative(file, p))
            .with_context(|| format!("{}: policies[{i}]", file.display()))?;
        policies.extend(docs.into_iter().map(|d| d.value).filter(is_kyverno_policy));
    }
    let mut resources = Vec::new();
    for (i, r) in strings(test.get("resources")).iter().enumerate() {
        resources.extend(
            read_docs(&relative(file, r))
                .with_context(|| format!("{}: resources[{i}]", file.display()))?,
        );
    }
    let values = match (
        test.get("variables").and_then(Value::as_str),
        test.get("values"),
    ) {
        (Some(v), _) => {
            let docs = read_docs(&relative(file, v))
                .with_context(|| format!("{}: variables", file.display()))?;
            docs.into_iter()
                .next()
                .map(|d| d.value)
                .unwrap_or(Value::Null)
        }
        (None, Some(inline)) => inline.clone(),
        (None, None) => Value::Null,
    };
    let values = values_for_plugin(values);
    let expected = expected(&test, file)?;
    let applied = evaluate(plugin, &policies, &resources, &values)
        .await
        .with_context(|| format!("{}", file.display()))?;
    let mut rows = Vec::new();
    for e in &expected {
        for resource in &e.resources {
            compare(file, &label, e, resource, &applied, &mut rows)?;
        }
    }
    Ok(rows)
}

/// Keeps only what the plugin reads from a Values file.
fn values_for_plugin(v: Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in ["globalValues", "policies", "namespaceSelector"] {
        if let Some(x) = v.get(k).filter(|x| !x.is_null()) {
            out.insert(k.into(), x.clone());
        }
    }
    Value::Object(out)
}

fn resource_matches(r: &ResourceRef, kind: &str, name: &str, namespace: Option<&str>) -> bool {
    let full = if r.namespace.is_empty() {
        r.name.clone()
    } else {
        format!("{}/{}", r.namespace, r.name)
    };
    r.kind == kind && (r.name == name || full == name) && namespace.is_none_or(|n| n == r.namespace)
}

fn compare(
    file: &Path,
    label: &str,
    e: &Expected,
    resource: &str,
    applied: &Applied,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let shown = match &e.namespace {
        Some(ns) if !resource.contains('/') => format!("{}/{ns}/{resource}", e.kind),
        _ => format!("{}/{resource}", e.kind),
    };
    let mut row = |actual: &str, ok: bool, reason: String, message: String| {
        rows.push(Row {
            test: label.to_owned(),
            policy: e.policy.clone(),
            rule: e.rule.clone(),
            resource: shown.clone(),
            expected: e.result.clone(),
            actual: actual.to_owned(),
            ok,
            reason,
            message,
        });
    };
    let rules = [
        e.rule.clone(),
        format!("autogen-{}", e.rule),
        format!("autogen-cronjob-{}", e.rule),
    ];
    let found: Vec<&RuleVerdict> = applied
        .verdicts
        .iter()
        .filter(|v| {
            v.policy == e.policy
                && rules.contains(&v.rule)
                && resource_matches(&v.resource, &e.kind, resource, e.namespace.as_deref())
        })
        .collect();
    if found.is_empty() {
        let index = applied.resources.iter().position(|r| {
            resource_matches(
                &ResourceRef::of(r),
                &e.kind,
                resource,
                e.namespace.as_deref(),
            )
        });
        // As `kyverno test`: a resource the rule did not select counts as excluded.
        if index.is_some() {
            row(
                "excluded",
                true,
                "Excluded".into(),
                "the rule does not select this resource".into(),
            );
        } else {
            row(
                "-",
                false,
                "Not found".into(),
                format!(
                    "no {} named '{resource}' among the test's resources",
                    e.kind
                ),
            );
        }
        return Ok(());
    }
    for v in found {
        let actual = v.result.as_str();
        if let Some(patched) = &e.patched {
            let index = applied.resources.iter().position(|r| {
                resource_matches(
                    &ResourceRef::of(r),
                    &e.kind,
                    resource,
                    e.namespace.as_deref(),
                )
            });
            let actual_resource = index.map(|i| &applied.resources[i]);
            match (
                actual_resource,
                patched_resource(file, patched, &v.resource)?,
            ) {
                (Some(a), Some(expected)) if tidy(a) == tidy(&expected) => {}
                (_, None) => {
                    row(
                        actual,
                        false,
                        "Resource error".into(),
                        format!(
                            "{patched} has no {} named '{}'",
                            v.resource.kind, v.resource.name
                        ),
                    );
                    continue;
                }
                _ => {
                    row(
                        actual,
                        false,
                        "Resource diff".into(),
                        "patched resource didn't match the patched resource in the test result"
                            .into(),
                    );
                    continue;
                }
            }
        }
        if actual == e.result {
            row(actual, true, "Ok".into(), v.message.clone());
        } else {
            row(
                actual,
                false,
                format!("Want {}, got {actual}", e.result),
                v.message.clone(),
            );
        }
    }
    Ok(())
}

fn patched_resource(file: &Path, patched: &str, r: &ResourceRef) -> Result<Option<Value>> {
    let docs = read_docs(&relative(file, patched))
        .with_context(|| format!("{}: patchedResources", file.display()))?;
    Ok(docs.into_iter().map(|d| d.value).find(|d| {
        let x = ResourceRef::of(d);
        x.kind == r.kind
            && x.name == r.name
            && (x.namespace.is_empty() || r.namespace.is_empty() || x.namespace == r.namespace)
    }))
}

/// Drops nulls and empty objects and lists, as `kyverno test` compares.
fn tidy(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), tidy(v)))
                .filter(|(k, v)| {
                    !(v.is_null()
                        || v == &json!({})
                        || v == &json!([])
                        || k == "namespace" && v == "default")
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(tidy).collect()),
        other => other.clone(),
    }
}

async fn test(
    plugin: &Plugin,
    dir: &Path,
    format: TestFormat,
    fail_only: bool,
) -> Result<ExitCode> {
    let mut files = Vec::new();
    find_tests(dir, &mut files)?;
    if files.is_empty() {
        bail!("no kyverno-test.yaml below {}", dir.display());
    }
    let mut all = Vec::new();
    let mut broken = 0;
    let mut text = String::new();
    for f in &files {
        match run_test(plugin, f).await {
            Ok(rows) => {
                if format == TestFormat::Table {
                    let _ = writeln!(text, "Loading test ( {} ) ...", f.display());
                    text.push_str(&rows_table(rows.iter().filter(|r| !fail_only || !r.ok)));
                    text.push('\n');
                }
                all.extend(rows);
            }
            Err(e) => {
                broken += 1;
                eprintln!("error: {}", printable(&format!("{e:#}")));
            }
        }
    }
    let failed = all.iter().filter(|r| !r.ok).count() + broken;
    match format {
        TestFormat::Table => {
            print!("{text}");
            println!(
                "Test Summary: {} tests passed and {} tests failed",
                all.len() - (failed - broken),
                failed
            );
        }
        TestFormat::Json => {
            let items: Vec<Value> = all
                .iter()
                .map(|r| {
                    json!({"test": r.test, "policy": r.policy, "rule": r.rule, "resource": r.resource,
                           "expected": r.expected, "actual": r.actual, "ok": r.ok, "reason": r.reason, "message": r.message})
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"results": items, "failed": failed, "brokenTests": broken})
                )?
            );
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn rows_table<'a>(rows: impl Iterator<Item = &'a Row>) -> String {
    let rows: Vec<Vec<String>> = rows
        .enumerate()
        .map(|(i, r)| {
            vec![
                (i + 1).to_string(),
                printable(&r.policy),
                printable(&r.rule),
                printable(&r.resource),
                if r.ok { "Pass".into() } else { "Fail".into() },
                printable(&r.reason),
            ]
        })
        .collect();
    table(
        &["ID", "POLICY", "RULE", "RESOURCE", "RESULT", "REASON"],
        &rows,
    )
}

// ---- kyverno apply ----

async fn apply(
    plugin: &Plugin,
    policy_paths: &[PathBuf],
    resource_paths: &[PathBuf],
    values: Option<&Path>,
    format: ApplyFormat,
) -> Result<ExitCode> {
    let mut policies = Vec::new();
    for p in policy_paths {
        policies.extend(
            read_docs(p)?
                .into_iter()
                .map(|d| d.value)
                .filter(is_kyverno_policy),
        );
    }
    if policies.is_empty() {
        bail!(
            "no kyverno.io ClusterPolicy or Policy documents in {}",
            shown(policy_paths)
        );
    }
    let mut resources = Vec::new();
    for r in resource_paths {
        resources.extend(read_docs(r)?);
    }
    let values = match values {
        Some(v) => values_for_plugin(
            read_docs(v)?
                .into_iter()
                .next()
                .map(|d| d.value)
                .unwrap_or(Value::Null),
        ),
        None => json!({}),
    };
    let applied = evaluate(plugin, &policies, &resources, &values).await?;
    let v = &applied.verdicts;
    print!(
        "{}",
        match format {
            ApplyFormat::Table => verdict_table(v),
            ApplyFormat::Json => serde_json::to_string_pretty(v)? + "\n",
            ApplyFormat::Junit => junit(v),
            ApplyFormat::Sarif => serde_json::to_string_pretty(&sarif(v))? + "\n",
        }
    );
    let failed = v
        .iter()
        .any(|v| matches!(v.result, RuleResult::Fail | RuleResult::Error));
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn shown(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Verdicts per resource and rule, with a summary line.
pub fn verdict_table(verdicts: &[RuleVerdict]) -> String {
    let rows: Vec<Vec<String>> = verdicts
        .iter()
        .map(|v| {
            vec![
                printable(&v.policy),
                printable(&v.rule),
                printable(&v.resource.to_string()),
                v.result.to_string(),
                printable(&v.message),
            ]
        })
        .collect();
    let count = |r: RuleResult| verdicts.iter().filter(|v| v.result == r).count();
    format!(
        "{}pass: {}, fail: {}, warn: {}, error: {}, skip: {}\n",
        table(&["POLICY", "RULE", "RESOURCE", "RESULT", "MESSAGE"], &rows),
        count(RuleResult::Pass),
        count(RuleResult::Fail),
        count(RuleResult::Warn),
        count(RuleResult::Error),
        count(RuleResult::Skip)
    )
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one suite per policy, one case per (rule, resource).
fn junit(verdicts: &[RuleVerdict]) -> String {
    let mut policies: Vec<&str> = verdicts.iter().map(|v| v.policy.as_str()).collect();
    policies.dedup();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for p in policies {
        let cases: Vec<&RuleVerdict> = verdicts.iter().filter(|v| v.policy == p).collect();
        let fails = cases
            .iter()
            .filter(|v| v.result == RuleResult::Fail)
            .count();
        let errors = cases
            .iter()
            .filter(|v| v.result == RuleResult::Error)
            .count();
        let skips = cases
            .iter()
            .filter(|v| v.result == RuleResult::Skip)
            .count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" errors=\"{errors}\" skipped=\"{skips}\">",
            xml(p),
            cases.len()
        );
        for v in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{} {}\"",
                xml(p),
                xml(&v.rule),
                xml(&v.resource.to_string())
            );
            match v.result {
                RuleResult::Pass => out.push_str("/>\n"),
                RuleResult::Skip => {
                    let _ = writeln!(
                        out,
                        "><skipped message=\"{}\"/></testcase>",
                        xml(&v.message)
                    );
                }
                RuleResult::Fail | RuleResult::Warn => {
                    let _ = writeln!(
                        out,
                        "><failure type=\"{}\" message=\"{}\"/></testcase>",
                        v.result,
                        xml(&v.message)
                    );
                }
                RuleResult::Error => {
                    let _ = writeln!(out, "><error message=\"{}\"/></testcase>", xml(&v.message));
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// SARIF 2.1.0: one result per failure, warning or error, located in the resource's file.
fn sarif(verdicts: &[RuleVerdict]) -> Value {
    let mut rules: Vec<String> = verdicts
        .iter()
        .map(|v| format!("{}/{}", v.policy, v.rule))
        .collect();
    rules.sort();
    rules.dedup();
    let results: Vec<Value> = verdicts
        .iter()
        .filter(|v| {
            matches!(
                v.result,
                RuleResult::Fail | RuleResult::Warn | RuleResult::Error
            )
        })
        .map(|v| {
            let mut r = json!({
                "ruleId": format!("{}/{}", v.policy, v.rule),
                "level": if v.result == RuleResult::Warn { "warning" } else { "error" },
                "message": {"text": format!("{}: {}", v.resource, v.message)},
            });
            if let Some(loc) = &v.location {
                r["locations"] = json!([{"physicalLocation": {
                    "artifactLocation": {"uri": loc.file},
                    "region": {"startLine": loc.line.max(1)}
                }}]);
            }
            r
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "sluice", "informationUri": "https://example.invalid/sluice",
                "rules": rules.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()}},
            "results": results
        }]
    })
}

// ---- sluice check ----

/// Verdict records of every rule-engine policy of the reports, with the
/// digest of the plugin that decided and the release revision.
pub async fn check_verdicts(
    pipeline: &sluice_pipeline::Pipeline,
    reports: &[(String, Result<ReleaseReport, sluice_pipeline::Error>)],
) -> Vec<(String, Vec<RuleVerdict>)> {
    let mut out = Vec::new();
    for (name, report) in reports {
        let Ok(report) = report else { continue };
        let mut verdicts = Vec::new();
        for p in &report.policies {
            let digest = match pipeline.catalog().get(&p.plugin, &report.namespace).await {
                Ok(plugin) => plugin.digest().to_owned(),
                Err(_) => String::new(),
            };
            verdicts.extend(RuleVerdict::collect(
                &p.diagnostics,
                &digest,
                &report.revision,
            ));
        }
        out.push((name.clone(), verdicts));
    }
    out
}

/// Adds each release's verdict records to `sluice check --output json`.
pub fn with_verdicts(check_json: &str, verdicts: &[(String, Vec<RuleVerdict>)]) -> Result<String> {
    let mut items: Vec<Value> = serde_json::from_str(check_json)?;
    for item in &mut items {
        let release = item
            .get("release")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if let Some((_, v)) = verdicts.iter().find(|(n, _)| *n == release) {
            item["verdicts"] = serde_json::to_value(v)?;
        }
    }
    Ok(serde_json::to_string_pretty(&items)?)
}

/// The verdict records of `sluice check`, one table per release that has any.
pub fn check_table(verdicts: &[(String, Vec<RuleVerdict>)]) -> String {
    let mut out = String::new();
    for (release, v) in verdicts.iter().filter(|(_, v)| !v.is_empty()) {
        let _ = writeln!(out, "\n{release}: rule results");
        out.push_str(&verdict_table(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_ignores_empty_and_default_namespace() {
        let a = json!({"metadata": {"name": "x", "namespace": "default", "annotations": {}}, "spec": {"a": null, "b": 1}});
        let b = json!({"metadata": {"name": "x"}, "spec": {"b": 1}});
        assert_eq!(tidy(&a), tidy(&b));
    }

    #[test]
    fn resources_match_by_name_or_namespaced_name() {
        let r = ResourceRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "shop".into(),
            name: "web".into(),
        };
        assert!(resource_matches(&r, "Pod", "web", None));
        assert!(resource_matches(&r, "Pod", "shop/web", None));
        assert!(!resource_matches(&r, "Pod", "web", Some("other")));
        assert!(!resource_matches(&r, "Deployment", "web", None));
    }

    #[test]
    fn junit_and_sarif_report_failures() {
        let v = RuleVerdict {
            policy: "p".into(),
            rule: "r".into(),
            resource: ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: "".into(),
                name: "a<b".into(),
            },
            result: RuleResult::Fail,
            message: "bad & wrong".into(),
            field_path: None,
            location: Some(SourceLocation {
                file: "pods.yaml".into(),
                line: 3,
                column: 0,
            }),
            plugin_digest: "sha256:x".into(),
            revision: String::new(),
        };
        let j = junit(std::slice::from_ref(&v));
        assert!(
            j.contains("failures=\"1\"") && j.contains("a&lt;b") && j.contains("bad &amp; wrong"),
            "{j}"
        );
        let s = sarif(&[v]);
        assert_eq!(s["runs"][0]["results"][0]["ruleId"], "p/r");
        assert_eq!(
            s["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
    }
}
