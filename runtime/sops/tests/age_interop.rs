//! The age layer against the reference implementation (Go `age`, installed
//! by tests/setup.sh): data keys sluice wraps unwrap there and the other
//! way round.

use std::io::Write;
use std::process::{Command, Stdio};

use sluice_sops::{Format, Identities, Rules, emit_encrypted, encrypt, load_encrypted, load_plain};

fn keygen(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let path = dir.join("key.txt");
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .expect("age-keygen (Debian package age; tests/setup.sh installs it)");
    assert!(out.status.success());
    let text = std::fs::read_to_string(&path).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (path, recipient)
}

fn age(args: &[&std::ffi::OsStr], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("age")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("age (Debian package age; tests/setup.sh installs it)");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn go_age_unwraps_the_data_key_sluice_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = keygen(dir.path());
    let tree = load_plain(b"password: s3cr3t\n", Format::Yaml).unwrap();
    let file = encrypt(tree, &[recipient], Rules::default(), "2026-01-01T00:00:00Z").unwrap();
    let text = emit_encrypted(&file, Format::Yaml).unwrap();
    let loaded = load_encrypted(&text, Format::Yaml).unwrap();
    let data_key = age(
        &["-d".as_ref(), "-i".as_ref(), key.as_os_str()],
        loaded.metadata.age[0].enc.as_bytes(),
    );
    let data_key: [u8; 32] = data_key.try_into().expect("a 32-byte data key");
    let plain = loaded.decrypt_with_key(&data_key, true).unwrap();
    assert_eq!(
        plain[0].get("password").and_then(|v| v.as_str()),
        Some("s3cr3t")
    );
}

#[test]
fn sluice_unwraps_a_data_key_go_age_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = keygen(dir.path());
    let data_key = [42u8; 32];
    let armored = age(
        &["-a".as_ref(), "-r".as_ref(), recipient.as_ref()],
        &data_key,
    );
    let ids = Identities::parse(&std::fs::read_to_string(key).unwrap()).unwrap();
    let unwrapped = ids
        .unwrap_data_key(std::str::from_utf8(&armored).unwrap())
        .unwrap();
    assert_eq!(unwrapped, data_key);
}
