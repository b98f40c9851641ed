//! Files written by the real `sops` tool (tests/sops/README.md) decrypt and
//! their MAC, computed by sops over its own plaintext, verifies.

use sluice_sops::{Format, Identities, Value, emit_plain, load_encrypted};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/sops/").to_string() + name)
        .unwrap()
}

fn ids(name: &str) -> Identities {
    Identities::parse(&String::from_utf8(fixture(name)).unwrap()).unwrap()
}

fn decrypt(file: &str, key: &str) -> Vec<sluice_sops::Branch> {
    let data = fixture(file);
    let format = Format::from_path(file);
    assert!(format.has_marker(&data) || format == Format::Binary);
    load_encrypted(
        &data,
        if format == Format::Binary {
            Format::Json
        } else {
            format
        },
    )
    .unwrap()
    .decrypt(&ids(key), true)
    .unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn yaml_secret_from_sops_3_9() {
    let b = decrypt("secret-3.9.0.yaml", "flux-age.txt");
    let data = b[0].get("stringData").unwrap().as_map().unwrap();
    assert!(matches!(data.get("key"), Some(Value::Str(s)) if !s.starts_with("ENC[")));
    assert_eq!(b[0].get("kind"), Some(&Value::Str("Secret".into())));
}

#[test]
fn yaml_secret_from_sops_3_10() {
    let b = decrypt("secret-3.10.2.yaml", "flux-age-global.txt");
    let data = b[0].get("stringData").unwrap().as_map().unwrap();
    assert!(matches!(data.get("key"), Some(Value::Str(s)) if !s.starts_with("ENC[")));
}

#[test]
fn dotenv_from_sops_3_9() {
    let b = decrypt("env-3.9.0.env", "flux-age.txt");
    let out = String::from_utf8(emit_plain(&b, Format::Dotenv).unwrap()).unwrap();
    assert!(
        out.starts_with("key=") && !out.contains("ENC[") && !out.contains("sops_"),
        "{out:?}"
    );
}

#[test]
fn binary_from_sops_3_9() {
    let b = decrypt("file-3.9.0.txt", "flux-age.txt");
    let out = emit_plain(&b, Format::Binary).unwrap();
    assert!(!out.is_empty() && !String::from_utf8_lossy(&out).contains("ENC["));
}

#[test]
fn wrong_key_names_the_recipient() {
    let e = load_encrypted(&fixture("secret-3.9.0.yaml"), Format::Yaml)
        .unwrap()
        .decrypt(&ids("flux-age-global.txt"), true)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29"),
        "{e}"
    );
}
