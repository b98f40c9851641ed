//! A policy plugin that misbehaves on request, to prove the host contains
//! it: `{"mode": "loop" | "memory" | "output" | "trap" | "log-flood" | "echo" | "allow"}`.
//! The config is matched as text so the plugin carries no JSON parser and
//! stays as small as a trivial plugin can be (it doubles as the benchmark guest).

wit_bindgen::generate!({ path: "../../../wit", world: "policy" });

use sluice::plugin::log::{Level, log};
use sluice::plugin::types::{PluginKind, Severity};

const SCHEMA: &str = r#"{
  "type": "object",
  "required": ["mode"],
  "additionalProperties": false,
  "properties": {
    "mode": { "enum": ["loop", "memory", "output", "trap", "log-flood", "echo", "allow"] }
  }
}"#;

struct Testbed;

impl Guest for Testbed {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: "testbed".into(),
            version: "0.1.0".into(),
            kind: PluginKind::Policy,
            description: "Misbehaves on request (tests only)".into(),
        }
    }

    fn config_schema() -> String {
        SCHEMA.into()
    }

    fn evaluate(request: EvaluateRequest) -> Result<Evaluation, Vec<Diagnostic>> {
        let mode = |m: &str| request.config.contains(&format!("\"{m}\""));
        let allow = |mutated| {
            Ok(Evaluation {
                verdict: Verdict::Allow,
                diagnostics: Vec::new(),
                mutated,
            })
        };
        if mode("loop") {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        } else if mode("memory") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 16 << 20]);
                std::hint::black_box(&hoard);
            }
        } else if mode("output") {
            let big = "x".repeat(48 << 20);
            Err(vec![Diagnostic {
                severity: Severity::Error,
                message: big,
                resource: None,
                field_path: None,
                location: None,
                code: None,
            }])
        } else if mode("trap") {
            panic!("testbed asked to trap");
        } else if mode("log-flood") {
            for i in 0..100_000 {
                log(Level::Info, &format!("line {i}"));
            }
            allow(None)
        } else if mode("echo") {
            allow(Some(request.manifests))
        } else {
            allow(None)
        }
    }
}

export!(Testbed);
