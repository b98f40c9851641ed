//! `sluice sops encrypt|decrypt FILE`: SOPS files with age keys for people
//! without the `sops` tool, read and written as `sops` does (same stores,
//! same metadata, same MAC), so either tool reads the other's files.
//!
//! Identities for `decrypt` come from where `sops` looks: `SOPS_AGE_KEY`,
//! `SOPS_AGE_KEY_FILE`, and `sops/age/keys.txt` in the user config directory
//! (`$XDG_CONFIG_HOME`, else `~/.config`). Recipients for `encrypt` come from
//! `--age`, else from the first `.sops.yaml` creation rule (searched from the
//! current directory upwards) whose `path_regex` matches the file.

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use sluice_sops::{Branch, Format, Identities, Rules, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum SopsCommand {
    /// Encrypt FILE for age recipients and print it (or write it back with -i)
    Encrypt {
        file: PathBuf,
        /// Comma-separated age recipients (age1…) [default: from .sops.yaml]
        #[arg(long)]
        age: Option<String>,
        /// Encrypt only values whose key matches this regular expression
        #[arg(long)]
        encrypted_regex: Option<String>,
        /// Leave values whose key matches this regular expression in the clear
        #[arg(long)]
        unencrypted_regex: Option<String>,
        /// Encrypt only values whose key ends with this suffix
        #[arg(long)]
        encrypted_suffix: Option<String>,
        /// Leave values whose key ends with this suffix in the clear [default: _unencrypted]
        #[arg(long)]
        unencrypted_suffix: Option<String>,
        /// Encrypt only values after a comment matching this regular expression
        #[arg(long)]
        encrypted_comment_regex: Option<String>,
        /// Leave values after a comment matching this regular expression in the clear
        #[arg(long)]
        unencrypted_comment_regex: Option<String>,
        /// Compute the MAC over the encrypted values only
        #[arg(long)]
        mac_only_encrypted: bool,
        #[command(flatten)]
        types: Types,
        /// Write the result back to FILE
        #[arg(short, long)]
        in_place: bool,
    },
    /// Decrypt FILE with the age identities sops would use and print the plaintext
    Decrypt {
        file: PathBuf,
        #[command(flatten)]
        types: Types,
        /// Do not check the MAC (the file was edited by hand)
        #[arg(long)]
        ignore_mac: bool,
        /// Write the result back to FILE
        #[arg(short, long)]
        in_place: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct Types {
    /// Format of FILE: yaml, json, dotenv, ini or binary [default: from the extension]
    #[arg(long, value_parser = parse_format)]
    input_type: Option<Format>,
    /// Format to write: yaml, json, dotenv, ini or binary [default: the input's]
    #[arg(long, value_parser = parse_format)]
    output_type: Option<Format>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::from_name(s)
        .ok_or_else(|| format!("unknown format '{s}': use yaml, json, dotenv, ini or binary"))
}

impl Types {
    fn resolve(&self, file: &Path) -> (Format, Format) {
        let input = self
            .input_type
            .unwrap_or_else(|| Format::from_path(&file.to_string_lossy()));
        (input, self.output_type.unwrap_or(input))
    }
}

pub fn run(command: SopsCommand) -> Result<ExitCode> {
    match command {
        SopsCommand::Decrypt {
            file,
            types,
            ignore_mac,
            in_place,
        } => {
            let (input, output) = types.resolve(&file);
            let data = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
            let ids = identities()?;
            let enc = sluice_sops::load_encrypted(&data, stored(input))
                .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            let plain = enc
                .decrypt(&ids, !ignore_mac)
                .and_then(|b| sluice_sops::emit_plain(&b, output))
                .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            write_out(&file, in_place, &plain)
        }
        SopsCommand::Encrypt {
            file,
            age,
            encrypted_regex,
            unencrypted_regex,
            encrypted_suffix,
            unencrypted_suffix,
            encrypted_comment_regex,
            unencrypted_comment_regex,
            mac_only_encrypted,
            types,
            in_place,
        } => {
            let (input, output) = types.resolve(&file);
            let data = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
            let mut rules = Rules {
                unencrypted_suffix,
                encrypted_suffix,
                unencrypted_regex,
                encrypted_regex,
                unencrypted_comment_regex,
                encrypted_comment_regex,
                mac_only_encrypted,
            };
            let recipients = match age {
                Some(list) => split(&list),
                None => {
                    let rule = creation_rule(&file)?.ok_or_else(|| {
                        anyhow!(
                            "no recipients: give --age age1…, or a .sops.yaml creation rule with age recipients whose path_regex matches {}",
                            file.display()
                        )
                    })?;
                    if rules == Rules::default() {
                        rules = rule.rules;
                    }
                    rule.age
                }
            };
            if input != Format::Binary && sluice_sops::load_encrypted(&data, input).is_ok() {
                bail!(
                    "{}: the file is already encrypted with sops",
                    file.display()
                );
            }
            let tree = sluice_sops::load_plain(&data, input)
                .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            let enc = sluice_sops::encrypt(tree, &recipients, rules, &sluice_sops::rfc3339(now))
                .and_then(|e| sluice_sops::emit_encrypted(&e, stored(output)))
                .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            write_out(&file, in_place, &enc)
        }
    }
}

/// Binary files are stored in sops' JSON envelope.
fn stored(format: Format) -> Format {
    if format == Format::Binary {
        Format::Json
    } else {
        format
    }
}

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn write_out(file: &Path, in_place: bool, bytes: &[u8]) -> Result<ExitCode> {
    if in_place {
        std::fs::write(file, bytes).with_context(|| format!("write {}", file.display()))?;
    } else {
        std::io::stdout().write_all(bytes)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// All identities from sops' locations; an error lists where it looked.
fn identities() -> Result<Identities> {
    let mut ids = Identities::default();
    let mut looked = Vec::new();
    if let Ok(text) = std::env::var("SOPS_AGE_KEY") {
        ids.add(&text).map_err(|e| anyhow!("SOPS_AGE_KEY: {e}"))?;
    } else {
        looked.push("SOPS_AGE_KEY".to_string());
    }
    if let Some(path) = std::env::var_os("SOPS_AGE_KEY_FILE") {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("SOPS_AGE_KEY_FILE: read {}", path.to_string_lossy()))?;
        ids.add(&text)
            .map_err(|e| anyhow!("{}: {e}", path.to_string_lossy()))?;
    } else {
        looked.push("SOPS_AGE_KEY_FILE".to_string());
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(dir) = config {
        let path = dir.join("sops/age/keys.txt");
        match std::fs::read_to_string(&path) {
            Ok(text) => ids
                .add(&text)
                .map_err(|e| anyhow!("{}: {e}", path.display()))?,
            Err(_) => looked.push(path.display().to_string()),
        }
    }
    if ids.is_empty() {
        bail!("no age identities found; looked in {}", looked.join(", "));
    }
    Ok(ids)
}

struct CreationRule {
    age: Vec<String>,
    rules: Rules,
}

/// The first `.sops.yaml` creation rule for `file` that has age recipients.
fn creation_rule(file: &Path) -> Result<Option<CreationRule>> {
    let cwd = std::env::current_dir()?;
    let Some(config) = cwd
        .ancestors()
        .map(|d| d.join(".sops.yaml"))
        .find(|p| p.is_file())
    else {
        return Ok(None);
    };
    let text = std::fs::read(&config).with_context(|| format!("read {}", config.display()))?;
    let docs = sluice_sops::load_plain(&text, Format::Yaml)
        .map_err(|e| anyhow!("{}: {e}", config.display()))?;
    let Some(Value::List(rules)) = docs.first().and_then(|d| d.get("creation_rules")) else {
        return Ok(None);
    };
    let absolute = cwd.join(file);
    let relative = config
        .parent()
        .and_then(|d| absolute.strip_prefix(d).ok())
        .map(|p| p.to_string_lossy().into_owned());
    let given = file.to_string_lossy().into_owned();
    for (i, rule) in rules.iter().enumerate() {
        let Value::Map(rule) = rule else { continue };
        if let Some(re) = text_of(rule, "path_regex") {
            let re = regex::Regex::new(&re).map_err(|e| {
                anyhow!("{}: creation_rules[{i}].path_regex: {e}", config.display())
            })?;
            if !re.is_match(&given) && !relative.as_deref().is_some_and(|r| re.is_match(r)) {
                continue;
            }
        }
        let mut age = age_of(rule);
        if let Some(Value::List(groups)) = rule.get("key_groups") {
            for g in groups {
                if let Value::Map(g) = g {
                    age.extend(age_of(g));
                }
            }
        }
        if age.is_empty() {
            bail!(
                "{}: creation_rules[{i}] matches {} but has no age recipients (only age is supported); add `age: age1…` or pass --age",
                config.display(),
                file.display()
            );
        }
        return Ok(Some(CreationRule {
            age,
            rules: Rules {
                unencrypted_suffix: text_of(rule, "unencrypted_suffix"),
                encrypted_suffix: text_of(rule, "encrypted_suffix"),
                unencrypted_regex: text_of(rule, "unencrypted_regex"),
                encrypted_regex: text_of(rule, "encrypted_regex"),
                unencrypted_comment_regex: text_of(rule, "unencrypted_comment_regex"),
                encrypted_comment_regex: text_of(rule, "encrypted_comment_regex"),
                mac_only_encrypted: matches!(
                    rule.get("mac_only_encrypted"),
                    Some(Value::Bool(true))
                ),
            },
        }));
    }
    Ok(None)
}

fn text_of(b: &Branch, key: &str) -> Option<String> {
    b.get(key).and_then(Value::as_str).map(String::from)
}

/// `age:` as a comma-separated string or a list.
fn age_of(b: &Branch) -> Vec<String> {
    match b.get("age") {
        Some(Value::Str(s)) => split(s),
        Some(Value::List(l)) => l.iter().filter_map(Value::as_str).flat_map(split).collect(),
        _ => Vec::new(),
    }
}
