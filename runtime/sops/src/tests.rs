//! Round trips through every store, and the failure cases.

use super::*;

pub(crate) const KEY: &str =
    "AGE-SECRET-KEY-1RH87A5Z54ZGUR9S0AS3R6WHFSEFNPLYMAKF5Z2CEU7R06VRJ0A3Q7242AM";
pub(crate) const RECIPIENT: &str = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";

fn round_trip(plain: &[u8], format: Format, rules: Rules) {
    let ids = Identities::parse(KEY).unwrap();
    let tree = load_plain(plain, format).unwrap();
    let enc = encrypt(
        tree.clone(),
        &[RECIPIENT.to_string()],
        rules,
        "2026-01-02T03:04:05Z",
    )
    .unwrap();
    let bytes = emit_encrypted(&enc, format).unwrap();
    assert!(
        format.has_marker(&bytes),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let loaded = load_encrypted(&bytes, format).unwrap();
    assert_eq!(loaded.recipients(), vec![RECIPIENT.to_string()]);
    let out = loaded.decrypt(&ids, true).unwrap();
    assert_eq!(out, tree);
    assert_eq!(
        emit_plain(&out, format).unwrap(),
        emit_plain(&tree, format).unwrap()
    );
}

#[test]
fn yaml_round_trip() {
    round_trip(
        b"# head\napiVersion: v1\nkind: Secret\nstringData:\n    password: hunter2 # right\n    port: 5432\n    ratio: 0.5\n    on: true\n    list:\n        - a\n        # between\n        - b\n    multi: |\n        x\n        y\n",
        Format::Yaml,
        Rules::default(),
    );
}

#[test]
fn yaml_multi_document_and_encrypted_regex() {
    round_trip(
        b"a: 1\ndata:\n    k: v\n---\ndata:\n    other: w\n",
        Format::Yaml,
        Rules {
            encrypted_regex: Some("^(data|stringData)$".into()),
            ..Rules::default()
        },
    );
}

#[test]
fn json_round_trip() {
    round_trip(
        br#"{"a": "x", "n": 3, "f": 1.25, "b": false, "l": [1, "two", {"k": null}], "o": {}}"#,
        Format::Json,
        Rules::default(),
    );
}

#[test]
fn dotenv_round_trip() {
    round_trip(
        b"# comment\nA=1\nB=two words\nC=multi\\nline\nD_unencrypted=clear\n",
        Format::Dotenv,
        Rules::default(),
    );
}

#[test]
fn ini_round_trip() {
    round_trip(
        b"top = level\n[db]\n; the password\npassword = hunter2\nuser = app\n[other]\nx = y\n",
        Format::Ini,
        Rules::default(),
    );
}

#[test]
fn binary_round_trip() {
    round_trip(b"any bytes\nof text\n", Format::Binary, Rules::default());
}

#[test]
fn mac_only_encrypted_and_suffixes() {
    round_trip(
        b"a_secret: 1\nb: 2\n",
        Format::Yaml,
        Rules {
            encrypted_suffix: Some("_secret".into()),
            mac_only_encrypted: true,
            ..Rules::default()
        },
    );
    round_trip(
        b"a: 1\nb_clear: 2\n",
        Format::Yaml,
        Rules {
            unencrypted_regex: Some("_clear$".into()),
            ..Rules::default()
        },
    );
}

fn encrypted_yaml() -> Vec<u8> {
    let tree = load_plain(b"password: hunter2-secret\nuser: app\n", Format::Yaml).unwrap();
    let enc = encrypt(
        tree,
        &[RECIPIENT.to_string()],
        Rules {
            encrypted_regex: Some("^password$".into()),
            ..Rules::default()
        },
        "2026-01-02T03:04:05Z",
    )
    .unwrap();
    emit_encrypted(&enc, Format::Yaml).unwrap()
}

#[test]
fn wrong_key_lists_the_recipients() {
    let other = "AGE-SECRET-KEY-10U7MAELH09KZU63F65P2TYLN7TQM5X6GSDDCQ4YMUGDS3DS6XZMSTYY2PN";
    let ids = Identities::parse(other).unwrap();
    let e = load_encrypted(&encrypted_yaml(), Format::Yaml)
        .unwrap()
        .decrypt(&ids, true)
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::WrongKey { .. }), "{msg}");
    assert!(msg.contains(RECIPIENT), "{msg}");
    assert!(
        msg.contains("age1henwn645drkd3fa34t27t2w2x0nsgw3w4h62gmg5x5xflyjpy38s5cncph"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"));
}

#[test]
fn tampered_value_and_mac_and_clear_value_are_refused() {
    let ids = Identities::parse(KEY).unwrap();
    let text = String::from_utf8(encrypted_yaml()).unwrap();
    // Flip one character of the encrypted value's data.
    let at = text.find("data:").unwrap() + 5;
    let mut bytes = text.clone().into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let e = load_encrypted(&bytes, Format::Yaml)
        .unwrap()
        .decrypt(&ids, true)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Value { path, .. } if path == "password"),
        "{e}"
    );
    assert!(!e.to_string().contains("hunter2"));
    // A changed clear value: only the MAC notices.
    let changed = text.replace("user: app", "user: root");
    let e = load_encrypted(changed.as_bytes(), Format::Yaml)
        .unwrap()
        .decrypt(&ids, true)
        .unwrap_err();
    assert_eq!(e, Error::MacMismatch);
    assert!(
        load_encrypted(changed.as_bytes(), Format::Yaml)
            .unwrap()
            .decrypt(&ids, false)
            .is_ok()
    );
    // A changed MAC.
    let mac_at = text.find("mac: ENC[AES256_GCM,data:").unwrap() + 26;
    let mut bytes = text.into_bytes();
    bytes[mac_at] = if bytes[mac_at] == b'A' { b'B' } else { b'A' };
    let e = load_encrypted(&bytes, Format::Yaml)
        .unwrap()
        .decrypt(&ids, true)
        .unwrap_err();
    assert!(matches!(e, Error::Mac(_)), "{e}");
    assert!(!e.to_string().contains("hunter2"));
}

#[test]
fn other_key_types_are_refused_naming_them() {
    let text = String::from_utf8(encrypted_yaml()).unwrap();
    let start = text.find("    age:").unwrap();
    let end = text.find("    lastmodified").unwrap();
    let pgp = text.replacen(&text[start..end], "    pgp:\n        - created_at: \"2026-01-01T00:00:00Z\"\n          enc: x\n          fp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4\n", 1);
    let ids = Identities::parse(KEY).unwrap();
    let e = load_encrypted(pgp.as_bytes(), Format::Yaml)
        .unwrap()
        .decrypt(&ids, true)
        .unwrap_err();
    assert_eq!(
        e,
        Error::OnlyAge {
            types: vec!["pgp".into()]
        }
    );
    assert!(e.to_string().contains("only age is supported"));
}

#[test]
fn rfc3339_formats_utc() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_731_418_422), "2024-11-12T13:33:42Z");
}
