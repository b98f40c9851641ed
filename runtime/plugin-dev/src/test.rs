//! `sluice plugin test`: runs the fixture cases in `DIR/tests/*.yaml`
//! against a built component in the same host the pipeline uses, so a case
//! that passes here behaves the same in `sluice check`.
//!
//! A file holds an optional default `config` and `cases`; each case gives the
//! input (a policy's `manifests` file or inline `resources`, a renderer's
//! `artifact` directory and `path`, a rollout strategy's `step`: the
//! [`StepInput`] fields in camelCase, absent ones zero, empty, `false` or
//! `Initializing`) and what to `expect`: `verdict`, `codes`, `fields` and
//! `messages` (each must appear in some diagnostic), `diagnostics` (their
//! exact number), `manifests` (the output, in order), `count` (how many
//! manifests), a rollout's `decision` (`set-weight`, `analyse`, `wait`,
//! `promote`, `rollback`, `done`) with its `weight` or a `reason` substring,
//! or `error` (the call fails saying this).

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_plugin_host::{Plugin, PluginHost, RenderRequest};
use sluice_types::rollout::{Decision, StepInput};
use sluice_types::{Diagnostic, Manifest, PluginKind, SourceLocation, Verdict};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How a run went: a case that did not match its expectation is a failure.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    config: Option<Value>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    manifests: Option<String>,
    #[serde(default)]
    resources: Option<Vec<Value>>,
    #[serde(default)]
    artifact: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    step: Option<StepInput>,
    #[serde(default)]
    config: Option<Value>,
    expect: Expect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    #[serde(default)]
    verdict: Option<Verdict>,
    #[serde(default)]
    codes: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    messages: Vec<String>,
    #[serde(default)]
    diagnostics: Option<usize>,
    #[serde(default)]
    manifests: Option<String>,
    #[serde(default)]
    count: Option<usize>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    decision: Option<DecisionKind>,
    #[serde(default)]
    weight: Option<u8>,
    #[serde(default)]
    reason: Option<String>,
}

/// A rollout decision without its argument, as a case names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum DecisionKind {
    SetWeight,
    Analyse,
    Wait,
    Promote,
    Rollback,
    Done,
}

impl DecisionKind {
    fn of(decision: &Decision) -> Self {
        match decision {
            Decision::SetWeight(_) => Self::SetWeight,
            Decision::Analyse => Self::Analyse,
            Decision::Wait(_) => Self::Wait,
            Decision::Promote => Self::Promote,
            Decision::Rollback(_) => Self::Rollback,
            Decision::Done => Self::Done,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::SetWeight => "set-weight",
            Self::Analyse => "analyse",
            Self::Wait => "wait",
            Self::Promote => "promote",
            Self::Rollback => "rollback",
            Self::Done => "done",
        }
    }
}

/// A decision as a case would write it, with its argument.
fn describe_decision(decision: &Decision) -> String {
    match decision {
        Decision::SetWeight(w) => format!("set-weight {w}"),
        Decision::Analyse => "analyse".into(),
        Decision::Wait(d) => format!("wait {}ms", d.as_millis()),
        Decision::Promote => "promote".into(),
        Decision::Rollback(reason) => format!("rollback ({reason:?})"),
        Decision::Done => "done".into(),
    }
}

/// What a call gave back, whichever the kind.
struct Outcome {
    verdict: Option<Verdict>,
    diagnostics: Vec<Diagnostic>,
    manifests: Vec<Value>,
    decision: Option<Decision>,
}

/// Loads `component` and runs every case of `dir/tests/*.yaml` (files in name
/// order), writing one `ok`/`FAIL` line per case (with what differed) and a
/// summary to `out`. Errors are problems with the tests themselves (a file
/// that does not parse, a fixture that is missing) or a component that does
/// not load.
pub async fn run(
    host: &PluginHost,
    dir: &Path,
    component: &Path,
    out: &mut dyn Write,
) -> Result<Summary> {
    let files = test_files(dir)?;
    let name = component
        .file_stem()
        .map_or_else(|| "plugin".into(), |s| s.to_string_lossy().into_owned());
    let plugin = host
        .load_file(&name, component, None, None)
        .await
        .with_context(|| format!("cannot load {}", component.display()))?;
    if plugin.kind() == PluginKind::Source {
        bail!(
            "fixture tests run policy, renderer and rollout plugins; `{}` is a {} plugin, test it \
             with its language's own unit tests",
            plugin.metadata().name,
            plugin.kind()
        );
    }
    let mut summary = Summary::default();
    for file in files {
        let label = file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let tests = parse(&text).with_context(|| format!("{}", file.display()))?;
        let base = file.parent().unwrap_or(Path::new("."));
        for case in &tests.cases {
            let problems = run_case(&plugin, base, tests.config.as_ref(), case)
                .await
                .with_context(|| format!("{label}: case '{}'", case.name))?;
            if problems.is_empty() {
                summary.passed += 1;
                writeln!(out, "ok   {label}: {}", case.name)?;
            } else {
                summary.failed += 1;
                writeln!(out, "FAIL {label}: {}", case.name)?;
                for problem in problems {
                    for (i, line) in problem.lines().enumerate() {
                        let lead = if i == 0 { "  - " } else { "    " };
                        writeln!(out, "{lead}{line}")?;
                    }
                }
            }
        }
    }
    writeln!(out, "{} passed, {} failed", summary.passed, summary.failed)?;
    Ok(summary)
}

/// `dir/tests/*.yaml` (and `*.yml`), sorted; none is an error, since a
/// project without cases tests nothing.
fn test_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let tests = dir.join("tests");
    let entries = std::fs::read_dir(&tests).with_context(|| {
        format!(
            "cannot read {}; fixture cases live in tests/*.yaml",
            tests.display()
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no fixture cases: {} has no *.yaml files", tests.display());
    }
    Ok(files)
}

fn parse(text: &str) -> Result<TestFile> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The problems with one case: empty when it passed.
async fn run_case(
    plugin: &Plugin,
    base: &Path,
    default_config: Option<&Value>,
    case: &Case,
) -> Result<Vec<String>> {
    let config = case
        .config
        .as_ref()
        .or(default_config)
        .cloned()
        .unwrap_or_else(|| json!({}));
    let expect = &case.expect;
    let expected_manifests = match &expect.manifests {
        Some(file) => Some(read_documents(base, file)?),
        None => None,
    };
    let kind = plugin.kind();
    if kind != PluginKind::Rollout {
        if case.step.is_some() {
            bail!(
                "`step` is a rollout strategy's input; a {kind} takes {}",
                inputs(kind)
            );
        }
        if expect.decision.is_some() || expect.weight.is_some() || expect.reason.is_some() {
            bail!(
                "`decision`, `weight` and `reason` are expected of rollout strategies, not of a {kind}"
            );
        }
    }
    let called = match kind {
        PluginKind::Rollout => {
            if case.manifests.is_some()
                || case.resources.is_some()
                || case.artifact.is_some()
                || case.path.is_some()
            {
                bail!(
                    "a rollout strategy takes `step`, not {}",
                    inputs_given(case)
                );
            }
            if expect.verdict.is_some() || expect.manifests.is_some() || expect.count.is_some() {
                bail!(
                    "a rollout strategy gives a decision, not a verdict or manifests; expect `decision`, \
                     `weight`, `reason`, diagnostics or `error`"
                );
            }
            let Some(step) = &case.step else {
                bail!(
                    "a rollout case needs `step:` (the state it is given, e.g. \
                     `step: {{phase: Progressing, candidateReady: true, stepPassed: 1}}`)"
                );
            };
            let mut input = step.clone();
            if input.config.is_null() {
                input.config = config;
            } else if case.config.is_some() {
                bail!("give the config either as `config:` or as `step.config`, not both");
            }
            plugin
                .step(&input)
                .await
                .map(|(decision, diagnostics)| Outcome {
                    verdict: None,
                    diagnostics,
                    manifests: Vec::new(),
                    decision: Some(decision),
                })
        }
        PluginKind::Policy => {
            if case.artifact.is_some() || case.path.is_some() {
                bail!(
                    "`artifact` and `path` are renderer inputs; a policy takes `manifests` or `resources`"
                );
            }
            let input = policy_input(base, case)?;
            plugin
                .evaluate("file://tests", "fixture", &input, &config)
                .await
                .map(|e| Outcome {
                    verdict: Some(e.verdict),
                    diagnostics: e.diagnostics,
                    manifests: e
                        .mutated
                        .unwrap_or(input)
                        .into_iter()
                        .map(|m| m.object)
                        .collect(),
                    decision: None,
                })
        }
        _ => {
            if case.manifests.is_some() || case.resources.is_some() {
                bail!(
                    "`manifests` and `resources` are policy inputs; a renderer takes `artifact` (and `path`)"
                );
            }
            if expect.verdict.is_some() {
                bail!("a renderer gives no verdict; expect `manifests`, `count` or `error`");
            }
            let Some(artifact) = &case.artifact else {
                bail!("a renderer case needs `artifact: DIR` (relative to the test file)");
            };
            let artifact_dir = base.join(artifact);
            if !artifact_dir.is_dir() {
                bail!("artifact {} is not a directory", artifact_dir.display());
            }
            let request = RenderRequest {
                url: format!("file://{artifact}"),
                revision: "fixture".into(),
                path: case.path.clone().unwrap_or_else(|| ".".into()),
                config,
            };
            plugin
                .render(&artifact_dir, request)
                .await
                .map(|r| Outcome {
                    verdict: None,
                    diagnostics: r.diagnostics,
                    manifests: r.manifests.into_iter().map(|m| m.object).collect(),
                    decision: None,
                })
        }
    };
    Ok(match called {
        Ok(outcome) => compare(expect, expected_manifests.as_deref(), &outcome),
        Err(e) => match &expect.error {
            Some(want) if e.to_string().contains(want.as_str()) => Vec::new(),
            Some(want) => vec![format!(
                "expected an error containing {want:?}, got another error: {e}"
            )],
            None => vec![format!("the call failed: {e}")],
        },
    })
}

/// The inputs a kind's cases give, for messages.
fn inputs(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Policy => "`manifests` or `resources`",
        PluginKind::Renderer => "`artifact` (and `path`)",
        PluginKind::Rollout => "`step`",
        PluginKind::Source => "nothing a fixture can give",
    }
}

/// The policy and renderer inputs a case gives, for messages.
fn inputs_given(case: &Case) -> String {
    let given: Vec<&str> = [
        ("`manifests`", case.manifests.is_some()),
        ("`resources`", case.resources.is_some()),
        ("`artifact`", case.artifact.is_some()),
        ("`path`", case.path.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect();
    given.join(", ")
}

/// The manifests a policy case hands the plugin, each located in its file.
fn policy_input(base: &Path, case: &Case) -> Result<Vec<Manifest>> {
    match (&case.manifests, &case.resources) {
        (Some(_), Some(_)) => {
            bail!("give either `manifests: FILE` or inline `resources`, not both")
        }
        (Some(file), None) => {
            let text = read(base, file)?;
            let docs = sluice_types::load::parse_documents(&text)
                .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
            Ok(docs
                .into_iter()
                .map(|(line, object)| Manifest {
                    object,
                    origin: Some(SourceLocation {
                        file: file.clone(),
                        line,
                        column: 0,
                    }),
                })
                .collect())
        }
        (None, Some(resources)) => Ok(resources
            .iter()
            .map(|object| Manifest {
                object: object.clone(),
                origin: None,
            })
            .collect()),
        (None, None) => Ok(Vec::new()),
    }
}

fn read(base: &Path, file: &str) -> Result<String> {
    let path = base.join(file);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_documents(base: &Path, file: &str) -> Result<Vec<Value>> {
    let text = read(base, file)?;
    let docs =
        sluice_types::load::parse_documents(&text).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    Ok(docs.into_iter().map(|(_, v)| v).collect())
}

/// Every way `outcome` misses `expect`, each said in a line or two.
fn compare(expect: &Expect, manifests: Option<&[Value]>, outcome: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(want) = &expect.error {
        problems.push(format!(
            "expected the call to fail with {want:?}, it succeeded"
        ));
    }
    if let (Some(want), Some(got)) = (expect.verdict, outcome.verdict)
        && want != got
    {
        problems.push(format!("verdict: expected {want}, got {got}"));
    }
    if let Some(got) = &outcome.decision {
        problems.extend(decision_problems(expect, got));
    }
    let diags = &outcome.diagnostics;
    for code in &expect.codes {
        if !diags.iter().any(|d| d.code.as_deref() == Some(code)) {
            problems.push(format!("no diagnostic has code {code:?}"));
        }
    }
    for field in &expect.fields {
        if !diags.iter().any(|d| d.field_path.as_deref() == Some(field)) {
            problems.push(format!("no diagnostic is at field {field:?}"));
        }
    }
    for message in &expect.messages {
        if !diags.iter().any(|d| d.message.contains(message.as_str())) {
            problems.push(format!("no diagnostic message contains {message:?}"));
        }
    }
    if let Some(want) = expect.diagnostics
        && want != diags.len()
    {
        problems.push(format!("expected {want} diagnostics, got {}", diags.len()));
    }
    if let Some(want) = expect.count
        && want != outcome.manifests.len()
    {
        problems.push(format!(
            "expected {want} manifests, got {}",
            outcome.manifests.len()
        ));
    }
    if let Some(want) = manifests
        && let Some(diff) = manifests_difference(want, &outcome.manifests)
    {
        problems.push(diff);
    }
    if !problems.is_empty() && !diags.is_empty() {
        let listed: Vec<String> = diags.iter().map(describe).collect();
        problems.push(format!("the plugin said:\n{}", listed.join("\n")));
    }
    problems
}

/// How a rollout decision misses the expected `decision`, `weight` and `reason`.
fn decision_problems(expect: &Expect, got: &Decision) -> Vec<String> {
    let mut problems = Vec::new();
    let got_text = describe_decision(got);
    if let Some(want) = expect.decision
        && want != DecisionKind::of(got)
    {
        problems.push(format!(
            "decision: expected {}, got {got_text}",
            want.name()
        ));
    }
    if let Some(want) = expect.weight {
        match got {
            Decision::SetWeight(w) if *w == want => {}
            Decision::SetWeight(w) => problems.push(format!("weight: expected {want}, got {w}")),
            _ => problems.push(format!(
                "weight: expected set-weight {want}, got {got_text}"
            )),
        }
    }
    if let Some(want) = &expect.reason {
        match got {
            Decision::Rollback(reason) if reason.contains(want.as_str()) => {}
            Decision::Rollback(reason) => problems.push(format!(
                "rollback reason {reason:?} does not contain {want:?}"
            )),
            _ => problems.push(format!(
                "expected a rollback with a reason containing {want:?}, got {got_text}"
            )),
        }
    }
    problems
}

/// A diagnostic as one line: code, field and message.
fn describe(d: &Diagnostic) -> String {
    let mut line = String::new();
    if let Some(code) = &d.code {
        line.push_str(&format!("[{code}] "));
    }
    if let Some(field) = &d.field_path {
        line.push_str(&format!("{field}: "));
    }
    line.push_str(&d.message);
    line
}

/// Where the output first differs from the expected manifests, if it does.
fn manifests_difference(want: &[Value], got: &[Value]) -> Option<String> {
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        if let Some((path, detail)) = first_difference(w, g, String::new()) {
            let at = if path.is_empty() {
                "the whole object".into()
            } else {
                path
            };
            return Some(format!(
                "manifest {} ({}) differs at {at}: {detail}",
                i + 1,
                identity(g)
            ));
        }
    }
    match want.len().cmp(&got.len()) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Less => Some(format!(
            "expected {} manifests, got {}; the first extra one is {}",
            want.len(),
            got.len(),
            identity(&got[want.len()])
        )),
        std::cmp::Ordering::Greater => Some(format!(
            "expected {} manifests, got {}; the first missing one is {}",
            want.len(),
            got.len(),
            identity(&want[got.len()])
        )),
    }
}

/// `Kind/namespace/name` of an object, for messages.
fn identity(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// The dotted path of the first difference and what it is.
fn first_difference(want: &Value, got: &Value, path: String) -> Option<(String, String)> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (key, wv) in w {
                match g.get(key) {
                    Some(gv) => {
                        if let Some(d) = first_difference(wv, gv, join(key)) {
                            return Some(d);
                        }
                    }
                    None => return Some((join(key), format!("missing, expected {wv}"))),
                }
            }
            g.iter()
                .find(|(key, _)| !w.contains_key(*key))
                .map(|(key, gv)| (join(key), format!("not expected, got {gv}")))
        }
        (Value::Array(w), Value::Array(g)) => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                if let Some(d) = first_difference(wv, gv, format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (w.len() != g.len()).then(|| {
                (
                    path.clone(),
                    format!("expected {} items, got {}", w.len(), g.len()),
                )
            })
        }
        _ => (want != got).then(|| (path, format!("expected {want}, got {got}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_types::Severity;

    fn diag(code: &str, field: &str, message: &str) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            resource: None,
            field_path: Some(field.into()),
            location: None,
            code: Some(code.into()),
        }
    }

    #[test]
    fn parses_the_documented_format() {
        let file = parse(
            "config: {maxLimits: {memory: 2Gi}}\ncases:\n  - name: a\n    manifests: f.yaml\n    \
             expect: {verdict: deny, codes: [x], messages: [y], fields: [z], diagnostics: 2}\n  \
             - name: b\n    artifact: app\n    path: .\n    expect: {manifests: out.yaml, count: 3, error: boom}\n",
        )
        .unwrap();
        assert_eq!(file.config.unwrap()["maxLimits"]["memory"], "2Gi");
        assert_eq!(file.cases[0].expect.verdict, Some(Verdict::Deny));
        assert_eq!(file.cases[0].expect.diagnostics, Some(2));
        assert_eq!(file.cases[1].expect.count, Some(3));
        let err = parse("cases:\n  - name: a\n    expect: {verdit: deny}\n").unwrap_err();
        assert!(err.to_string().contains("verdit"), "{err}");
    }

    #[test]
    fn a_matching_outcome_has_no_problems() {
        let expect = Expect {
            verdict: Some(Verdict::Deny),
            codes: vec!["missing-limits".into()],
            fields: vec!["spec.containers[0].resources.limits.cpu".into()],
            messages: vec!["sets no cpu".into()],
            diagnostics: Some(1),
            count: Some(1),
            ..Expect::default()
        };
        let outcome = Outcome {
            verdict: Some(Verdict::Deny),
            diagnostics: vec![diag(
                "missing-limits",
                "spec.containers[0].resources.limits.cpu",
                "container 'a' sets no cpu limit",
            )],
            manifests: vec![json!({"kind": "Pod"})],
            decision: None,
        };
        let manifests = [json!({"kind": "Pod"})];
        assert_eq!(
            compare(&expect, Some(&manifests), &outcome),
            Vec::<String>::new()
        );
    }

    #[test]
    fn each_mismatch_is_named_and_the_diagnostics_listed() {
        let expect = Expect {
            verdict: Some(Verdict::Allow),
            codes: vec!["limit-too-high".into()],
            fields: vec!["spec.x".into()],
            messages: vec!["ceiling".into()],
            diagnostics: Some(3),
            ..Expect::default()
        };
        let outcome = Outcome {
            verdict: Some(Verdict::Deny),
            diagnostics: vec![diag("missing-limits", "spec.y", "sets no cpu limit")],
            manifests: vec![],
            decision: None,
        };
        let problems = compare(&expect, None, &outcome);
        assert_eq!(
            problems,
            [
                "verdict: expected allow, got deny",
                "no diagnostic has code \"limit-too-high\"",
                "no diagnostic is at field \"spec.x\"",
                "no diagnostic message contains \"ceiling\"",
                "expected 3 diagnostics, got 1",
                "the plugin said:\n[missing-limits] spec.y: sets no cpu limit",
            ]
        );
    }

    #[test]
    fn manifests_are_compared_as_json_in_order() {
        let a =
            json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "1", "j": "2"}});
        let b = json!({"kind": "ConfigMap", "metadata": {"name": "b"}});
        // Key order inside an object does not matter; document order does.
        let a_reordered =
            json!({"data": {"j": "2", "k": "1"}, "metadata": {"name": "a"}, "kind": "ConfigMap"});
        assert_eq!(
            manifests_difference(&[a.clone(), b.clone()], &[a_reordered, b.clone()]),
            None
        );
        assert_eq!(
            manifests_difference(&[a.clone(), b.clone()], &[b.clone(), a.clone()]).unwrap(),
            "manifest 1 (ConfigMap/b) differs at metadata.name: expected \"a\", got \"b\""
        );
        let changed =
            json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "1", "j": "3"}});
        assert_eq!(
            manifests_difference(std::slice::from_ref(&a), &[changed]).unwrap(),
            "manifest 1 (ConfigMap/a) differs at data.j: expected \"2\", got \"3\""
        );
        assert_eq!(
            manifests_difference(std::slice::from_ref(&a), &[a.clone(), b.clone()]).unwrap(),
            "expected 1 manifests, got 2; the first extra one is ConfigMap/b"
        );
        let list = json!({"items": [1, 2]});
        assert_eq!(
            first_difference(&list, &json!({"items": [1]}), String::new()).unwrap(),
            ("items".into(), "expected 2 items, got 1".into())
        );
    }

    #[test]
    fn an_expected_error_that_did_not_happen_is_a_problem() {
        let expect = Expect {
            error: Some("maxLimits.memory".into()),
            ..Expect::default()
        };
        let outcome = Outcome {
            verdict: Some(Verdict::Allow),
            diagnostics: vec![],
            manifests: vec![],
            decision: None,
        };
        assert_eq!(
            compare(&expect, None, &outcome),
            ["expected the call to fail with \"maxLimits.memory\", it succeeded"]
        );
    }

    fn rollout(decision: Decision) -> Outcome {
        Outcome {
            verdict: None,
            diagnostics: vec![],
            manifests: vec![],
            decision: Some(decision),
        }
    }

    #[test]
    fn parses_rollout_cases() {
        let file = parse(
            "config: {iterations: 2}\ncases:\n  - name: a\n    step: {phase: Progressing, \
             candidateReady: true, stepPassed: 1, sinceAnalysisMs: 500, failedAnalyses: 1}\n    \
             expect: {decision: set-weight, weight: 20}\n  - name: b\n    step: {}\n    \
             expect: {decision: rollback, reason: threshold}\n",
        )
        .unwrap();
        let step = file.cases[0].step.as_ref().unwrap();
        assert_eq!(step.phase, sluice_types::rollout::RolloutPhase::Progressing);
        assert!(step.candidate_ready);
        assert_eq!(step.step_passed, 1);
        assert_eq!(
            step.since_analysis,
            Some(std::time::Duration::from_millis(500))
        );
        assert_eq!(file.cases[0].expect.decision, Some(DecisionKind::SetWeight));
        assert_eq!(file.cases[0].expect.weight, Some(20));
        assert_eq!(file.cases[1].step.as_ref().unwrap(), &StepInput::default());
        assert_eq!(file.cases[1].expect.reason.as_deref(), Some("threshold"));
        let err = parse("cases:\n  - name: a\n    step: {}\n    expect: {decision: pause}\n")
            .unwrap_err();
        assert!(err.to_string().contains("pause"), "{err}");
        let err =
            parse("cases:\n  - name: a\n    step: {stepPasssed: 1}\n    expect: {}\n").unwrap_err();
        assert!(err.to_string().contains("stepPasssed"), "{err}");
    }

    #[test]
    fn a_matching_decision_has_no_problems() {
        let expect = Expect {
            decision: Some(DecisionKind::Rollback),
            reason: Some("2 failed".into()),
            ..Expect::default()
        };
        let got = rollout(Decision::Rollback("2 failed analyses".into()));
        assert_eq!(compare(&expect, None, &got), Vec::<String>::new());
        let expect = Expect {
            decision: Some(DecisionKind::SetWeight),
            weight: Some(30),
            ..Expect::default()
        };
        assert_eq!(
            compare(&expect, None, &rollout(Decision::SetWeight(30))),
            Vec::<String>::new()
        );
    }

    #[test]
    fn each_decision_mismatch_is_named() {
        let expect = Expect {
            decision: Some(DecisionKind::Promote),
            weight: Some(50),
            reason: Some("error-rate".into()),
            ..Expect::default()
        };
        assert_eq!(
            compare(
                &expect,
                None,
                &rollout(Decision::Wait(std::time::Duration::from_secs(60)))
            ),
            [
                "decision: expected promote, got wait 60000ms",
                "weight: expected set-weight 50, got wait 60000ms",
                "expected a rollback with a reason containing \"error-rate\", got wait 60000ms",
            ]
        );
        let expect = Expect {
            weight: Some(50),
            ..Expect::default()
        };
        assert_eq!(
            compare(&expect, None, &rollout(Decision::SetWeight(20))),
            ["weight: expected 50, got 20"]
        );
        let expect = Expect {
            reason: Some("latency".into()),
            ..Expect::default()
        };
        assert_eq!(
            compare(
                &expect,
                None,
                &rollout(Decision::Rollback("error-rate 5%".into()))
            ),
            ["rollback reason \"error-rate 5%\" does not contain \"latency\""]
        );
    }
}
