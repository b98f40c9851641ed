//! What Flux's source-controller leaves out of a Git artifact, in gitignore
//! syntax (last match wins, an ignored directory takes its content along):
//!
//! 1. VCS files, always;
//! 2. Flux's default exclusions (CI configs, images, archives, tool
//!    configs), unless `ignore` is set, which replaces them;
//! 3. every `.sourceignore` file, its patterns relative to its directory;
//! 4. the `ignore` lines, last, so they may overrule `.sourceignore`.

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// source-controller's `sourceignore.ExcludeVCS`.
const EXCLUDE_VCS: &[&str] = &[".git/", ".gitignore", ".gitmodules", ".gitattributes"];
/// `ExcludeExt`, `ExcludeCI` and `ExcludeExtra`.
const EXCLUDE_DEFAULT: &[&str] = &[
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
];

const IGNORE_FILE: &str = ".sourceignore";

/// Deletes the ignored paths below `root`; returns how many were deleted.
pub(crate) fn apply(root: &Path, ignore: Option<&str>) -> io::Result<usize> {
    let mut base = GitignoreBuilder::new(root);
    for line in EXCLUDE_VCS {
        add(&mut base, line)?;
    }
    if ignore.is_none() {
        for line in EXCLUDE_DEFAULT {
            add(&mut base, line)?;
        }
    }
    let base = build(base)?;
    let mut last = GitignoreBuilder::new(root);
    for line in ignore.unwrap_or("").lines() {
        add(&mut last, line)?;
    }
    let last = build(last)?;
    let mut rules = Rules {
        base,
        files: Vec::new(),
        last,
        removed: 0,
    };
    rules.walk(root)?;
    Ok(rules.removed)
}

struct Rules {
    base: Gitignore,
    /// `.sourceignore` matchers of the directories above the current one,
    /// outermost first.
    files: Vec<Gitignore>,
    last: Gitignore,
    removed: usize,
}

impl Rules {
    fn walk(&mut self, dir: &Path) -> io::Result<()> {
        let pushed = self.load_ignore_file(dir)?;
        let mut entries: Vec<(PathBuf, bool)> = fs::read_dir(dir)?
            .map(|e| {
                let e = e?;
                Ok((e.path(), e.file_type()?.is_dir()))
            })
            .collect::<io::Result<_>>()?;
        entries.sort();
        for (path, is_dir) in entries {
            if self.ignored(&path, is_dir) {
                if is_dir {
                    fs::remove_dir_all(&path)?;
                } else {
                    fs::remove_file(&path)?;
                }
                self.removed += 1;
            } else if is_dir {
                self.walk(&path)?;
            }
        }
        if pushed {
            self.files.pop();
        }
        Ok(())
    }

    fn load_ignore_file(&mut self, dir: &Path) -> io::Result<bool> {
        let file = dir.join(IGNORE_FILE);
        let text = match fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut builder = GitignoreBuilder::new(dir);
        for line in text.lines() {
            add(&mut builder, line)?;
        }
        self.files.push(build(builder)?);
        Ok(true)
    }

    /// The last matching pattern decides, across all sets in order.
    fn ignored(&self, path: &Path, is_dir: bool) -> bool {
        let mut verdict = false;
        for set in std::iter::once(&self.base)
            .chain(self.files.iter())
            .chain(std::iter::once(&self.last))
        {
            match set.matched(path, is_dir) {
                Match::Ignore(_) => verdict = true,
                Match::Whitelist(_) => verdict = false,
                Match::None => {}
            }
        }
        verdict
    }
}

fn add(builder: &mut GitignoreBuilder, line: &str) -> io::Result<()> {
    builder.add_line(None, line).map(|_| ()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("pattern '{line}': {e}"),
        )
    })
}

fn build(builder: GitignoreBuilder) -> io::Result<Gitignore> {
    builder
        .build()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> tempfile_free::Dir {
        tempfile_free::Dir::with(files)
    }

    /// A scratch directory without a tempfile dependency (the crate is a
    /// WebAssembly component; its tests run on the host).
    mod tempfile_free {
        use std::path::PathBuf;
        pub struct Dir(pub PathBuf);
        impl Dir {
            pub fn with(files: &[&str]) -> Dir {
                let dir = std::env::temp_dir().join(format!(
                    "sluice-source-git-{}-{}",
                    std::process::id(),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_nanos()
                ));
                for (f, content) in files.iter().map(|f| f.split_once('=').unwrap_or((f, "x"))) {
                    let p = dir.join(f);
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(p, content.replace("\\n", "\n")).unwrap();
                }
                Dir(dir)
            }
            pub fn files(&self) -> Vec<String> {
                let mut out = Vec::new();
                walk(&self.0, &self.0, &mut out);
                out.sort();
                out
            }
        }
        fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else {
                    out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn defaults_follow_flux() {
        let t = tree(&[
            "deploy/app.yaml",
            ".github/workflows/ci.yaml",
            "docs/logo.png",
            "sub/.sops.yaml",
            ".gitignore",
            "README.md",
        ]);
        apply(&t.0, None).unwrap();
        assert_eq!(t.files(), ["README.md", "deploy/app.yaml"]);
    }

    #[test]
    fn ignore_replaces_defaults_and_overrules_sourceignore() {
        let t = tree(&[
            "deploy/app.yaml",
            "deploy/secret.yaml",
            "deploy/.sourceignore=secret.yaml\\n",
            "docs/logo.png",
            ".gitattributes",
            "charts/a/Chart.yaml",
            "tests/t.yaml",
        ]);
        apply(&t.0, Some("/tests/\n")).unwrap();
        assert_eq!(
            t.files(),
            [
                "charts/a/Chart.yaml",
                "deploy/.sourceignore",
                "deploy/app.yaml",
                "docs/logo.png"
            ]
        );

        let t = tree(&["charts/a/Chart.yaml", "deploy/app.yaml", "README.md"]);
        apply(&t.0, Some("/*\n!/charts/\n")).unwrap();
        assert_eq!(t.files(), ["charts/a/Chart.yaml"]);

        let t = tree(&["deploy/secret.yaml", ".sourceignore=deploy/secret.yaml\\n"]);
        apply(&t.0, Some("!deploy/secret.yaml\n")).unwrap();
        assert_eq!(t.files(), [".sourceignore", "deploy/secret.yaml"]);
    }
}
