//! Debian's `docker-registry` (CNCF Distribution v2) on a free loopback
//! port with a private storage directory, optionally behind htpasswd basic
//! auth. Killed when dropped. Installed by tests/setup.sh.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = "/usr/bin/docker-registry";

/// A running registry.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    dir: tempfile::TempDir,
}

impl Registry {
    /// An open registry: anyone may pull and push.
    pub fn start() -> Registry {
        Registry::spawn(None)
    }

    /// A registry that only `username`/`password` may use (bcrypt htpasswd,
    /// made with apache2-utils' `htpasswd`).
    pub fn with_basic_auth(username: &str, password: &str) -> Registry {
        let out = Command::new("htpasswd")
            .args(["-nbB", username, password])
            .output()
            .expect("htpasswd (apache2-utils; run tests/setup.sh)");
        assert!(out.status.success(), "htpasswd failed");
        Registry::spawn(Some(String::from_utf8(out.stdout).unwrap()))
    }

    fn spawn(htpasswd: Option<String>) -> Registry {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: run tests/setup.sh (apt-get install docker-registry)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let storage = dir.path().join("storage");
        let mut config = format!(
            "version: 0.1\n\
             log:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {host}\n  secret: sluice-tests\n",
            storage.display()
        );
        if let Some(entries) = htpasswd {
            let path = dir.path().join("htpasswd");
            std::fs::write(&path, entries).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: sluice-tests\n    path: {}\n",
                path.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let registry = Registry { child, host, dir };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(&self.host).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "docker-registry did not listen on {} within 10 s",
            self.host
        );
    }

    /// `127.0.0.1:PORT/name`.
    pub fn repository(&self, name: &str) -> String {
        format!("{}/{name}", self.host)
    }

    /// The file holding blob `digest` (`sha256:<hex>`) in the registry's
    /// storage, to corrupt it behind the registry's back.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
