//! Helpers shared by the test files of this directory (`mod common;`): the
//! sluice binary run with a cache of its own, and the flows several files
//! repeat (plugin projects in `plugin`, built-ins bundles in `bundle`).
// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

pub mod bundle;
pub mod plugin;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The sluice binary with the environment one test file gives it.
pub struct Sluice {
    cache: PathBuf,
    env: Vec<(&'static str, OsString)>,
}

impl Sluice {
    /// Compiled plugins survive between runs in `<CARGO_TARGET_TMPDIR>/<cache>`
    /// (one per test file, so files never share or race on one).
    pub fn new(cache: &str) -> Sluice {
        Sluice {
            cache: Path::new(env!("CARGO_TARGET_TMPDIR")).join(cache),
            env: Vec::new(),
        }
    }

    /// The cache directory (SLUICE_CACHE_DIR), for other tools' caches too.
    pub fn cache(&self) -> &Path {
        &self.cache
    }

    pub fn env(mut self, key: &'static str, value: impl Into<OsString>) -> Sluice {
        self.env.push((key, value.into()));
        self
    }

    /// `sluice ARGS` in `dir`, not yet run (to change its environment).
    pub fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
        command
            .args(args)
            .current_dir(dir)
            .env_remove("SLUICE_LOG")
            .env("SLUICE_CACHE_DIR", &self.cache)
            .envs(self.env.iter().map(|(k, v)| (*k, v)));
        command
    }

    pub fn run(&self, dir: &Path, args: &[&str]) -> Output {
        self.command(dir, args).output().expect("run sluice")
    }

    /// Runs sluice, asserting success; returns stdout and stderr.
    #[track_caller]
    pub fn ok_with_stderr(&self, dir: &Path, args: &[&str]) -> (String, String) {
        let out = self.run(dir, args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success(),
            "sluice {} failed:\n{stdout}\n{stderr}",
            args.join(" ")
        );
        (stdout, stderr)
    }

    /// Runs sluice, asserting success; returns stdout.
    #[track_caller]
    pub fn ok(&self, dir: &Path, args: &[&str]) -> String {
        self.ok_with_stderr(dir, args).0
    }

    /// Runs sluice, asserting failure; returns stderr.
    #[track_caller]
    pub fn fails(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.run(dir, args);
        assert!(!out.status.success(), "sluice {} succeeded", args.join(" "));
        text(&out.stderr)
    }
}
