//! SOPS through the `sluice` command: a release whose Secret the real `sops`
//! tool encrypted (tests/sops), masked by `sluice build` unless
//! `--show-secrets`; the bad inputs, each refused naming the object and file
//! without plaintext; and `sluice sops encrypt|decrypt`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/sops")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap()
}

fn sluice(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.args(args)
        .current_dir(dir)
        .env(
            "SLUICE_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("sops-cache"),
        )
        .env_remove("SLUICE_LOG")
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env("XDG_CONFIG_HOME", dir.join("no-config"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run sluice")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The plaintext of the fixture's `stringData.key`, read with the library
/// (the MAC sops computed verifies it).
fn fixture_plaintext() -> String {
    let enc = sluice_sops::load_encrypted(
        fixture("secret-3.10.2.yaml").as_bytes(),
        sluice_sops::Format::Yaml,
    )
    .unwrap();
    let ids = sluice_sops::Identities::parse(&fixture("flux-age-global.txt")).unwrap();
    let b = enc.decrypt(&ids, true).unwrap();
    b[0].get("stringData")
        .unwrap()
        .as_map()
        .unwrap()
        .get("key")
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// A release of `app/` (plain renderer) decrypting with `key_file`'s key.
fn release(secret_yaml: &str, key_file: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(dir.path().join("app/secret.yaml"), secret_yaml).unwrap();
    let key = fixture(key_file);
    let key_entry: String = key.lines().map(|l| format!("    {l}\n")).collect();
    std::fs::write(
        dir.path().join("sluice.yaml"),
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Source\nmetadata:\n  name: app\nspec:\n  url: file://./app\n---\n\
apiVersion: sluice.dev/v1alpha1\nkind: Release\nmetadata:\n  name: app\nspec:\n  sourceRef:\n    name: app\n  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n---\n\
apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-age\nstringData:\n  age.agekey: |\n{key_entry}"
        ),
    )
    .unwrap();
    dir
}

#[test]
fn build_masks_decrypted_secrets_unless_asked() {
    let plain = fixture_plaintext();
    let dir = release(&fixture("secret-3.10.2.yaml"), "flux-age-global.txt");
    let out = sluice(dir.path(), &["build", "sluice.yaml"], &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("kind: Secret"), "{stdout}");
    assert!(
        stdout.contains("key: '**SOPS**'") || stdout.contains("key: \"**SOPS**\""),
        "{stdout}"
    );
    assert!(
        !stdout.contains(&plain) && !stdout.contains("ENC[") && !stdout.contains("sops:"),
        "{stdout}"
    );

    let out = sluice(dir.path(), &["build", "--show-secrets", "sluice.yaml"], &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains(&format!("key: {plain}")), "{stdout}");
    assert!(
        !stdout.contains("ENC[") && !stdout.contains("lastmodified"),
        "{stdout}"
    );
}

fn assert_refused(out: &Output, wants: &[&str]) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "{stdout}");
    for w in wants {
        assert!(stderr.contains(w), "missing {w:?} in: {stderr}");
    }
    let plain = fixture_plaintext();
    assert!(
        !stderr.contains(&plain) && !stdout.contains(&plain),
        "plaintext leaked: {stderr}"
    );
}

#[test]
fn a_wrong_key_names_the_secret_the_file_and_the_recipients() {
    let dir = release(&fixture("secret-3.10.2.yaml"), "flux-age.txt");
    let out = sluice(dir.path(), &["build", "sluice.yaml"], &[]);
    assert_refused(
        &out,
        &[
            "global-age-secret",
            "secret.yaml",
            "age1henwn645drkd3fa34t27t2w2x0nsgw3w4h62gmg5x5xflyjpy38s5cncph",
            "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29",
        ],
    );
}

#[test]
fn a_tampered_value_or_mac_is_refused() {
    let original = fixture("secret-3.10.2.yaml");
    let value = original.replace("data:5d9WYyV8", "data:6d9WYyV8");
    let dir = release(&value, "flux-age-global.txt");
    let out = sluice(dir.path(), &["build", "sluice.yaml"], &[]);
    assert_refused(
        &out,
        &[
            "global-age-secret",
            "secret.yaml",
            "stringData.key",
            "does not authenticate",
        ],
    );

    let mac = original.replace(
        "mac: ENC[AES256_GCM,data:5vkr",
        "mac: ENC[AES256_GCM,data:6vkr",
    );
    let dir = release(&mac, "flux-age-global.txt");
    let out = sluice(dir.path(), &["build", "sluice.yaml"], &[]);
    assert_refused(&out, &["global-age-secret", "secret.yaml", "sops.mac"]);

    // A clear value changed after encryption: only the MAC notices.
    let renamed = original.replace("type: Opaque", "type: kubernetes.io/tls");
    let dir = release(&renamed, "flux-age-global.txt");
    let out = sluice(dir.path(), &["build", "sluice.yaml"], &[]);
    assert_refused(&out, &["global-age-secret", "MAC mismatch"]);
}

#[test]
fn an_unsupported_key_type_says_only_age_is_supported() {
    let original = fixture("secret-3.10.2.yaml");
    let start = original.find("  age:").unwrap();
    let end = original.find("  lastmodified").unwrap();
    let pgp = original.replacen(
        &original[start..end],
        "  pgp:\n    - created_at: \"2025-07-06T17:19:51Z\"\n      enc: x\n      fp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4\n",
        1,
    );
    let dir = release(&pgp, "flux-age-global.txt");
    let out = sluice(dir.path(), &["build", "sluice.yaml"], &[]);
    assert_refused(
        &out,
        &[
            "global-age-secret",
            "secret.yaml",
            "pgp",
            "only age is supported",
        ],
    );
}

#[test]
fn sops_decrypt_prints_the_real_tools_files_in_their_own_format() {
    let dir = tempfile::tempdir().unwrap();
    let key = fixtures().join("flux-age.txt");
    let out = sluice(
        dir.path(),
        &[
            "sops",
            "decrypt",
            fixtures().join("env-3.9.0.env").to_str().unwrap(),
        ],
        &[("SOPS_AGE_KEY_FILE", &key)],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.starts_with("key=") && !stdout.contains("ENC[") && !stdout.contains("sops_"),
        "{stdout}"
    );

    // Without keys, it says where it looked and for whom the file is.
    let out = sluice(
        dir.path(),
        &[
            "sops",
            "decrypt",
            fixtures().join("secret-3.9.0.yaml").to_str().unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("SOPS_AGE_KEY_FILE"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sops_encrypt_then_decrypt_round_trips_with_sops_yaml_rules() {
    let dir = tempfile::tempdir().unwrap();
    let recipient = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";
    std::fs::write(
        dir.path().join(".sops.yaml"),
        format!("creation_rules:\n  - path_regex: \\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: {recipient}\n"),
    )
    .unwrap();
    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: hunter2-plain\n";
    std::fs::write(dir.path().join("secret.yaml"), plain).unwrap();
    let out = sluice(dir.path(), &["sops", "encrypt", "-i", "secret.yaml"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let enc = std::fs::read_to_string(dir.path().join("secret.yaml")).unwrap();
    assert!(
        !enc.contains("hunter2-plain") && enc.contains("password: ENC[AES256_GCM"),
        "{enc}"
    );
    assert!(
        enc.contains("name: db") && enc.contains("encrypted_regex: ^(data|stringData)$"),
        "{enc}"
    );
    let key = fixtures().join("flux-age.txt");
    let out = sluice(
        dir.path(),
        &["sops", "decrypt", "secret.yaml"],
        &[("SOPS_AGE_KEY_FILE", &key)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), plain);
    // As JSON on request.
    let out = sluice(
        dir.path(),
        &["sops", "decrypt", "--output-type", "json", "secret.yaml"],
        &[("SOPS_AGE_KEY_FILE", &key)],
    );
    assert!(
        text(&out.stdout).contains("\"password\": \"hunter2-plain\""),
        "{}",
        text(&out.stdout)
    );
}

/// Through kustomize, as Flux builds: a secretGenerator fed a SOPS file has
/// that entry decrypted (in its key's format), and an encrypted Secret
/// survives kustomize's namespace transformer (no MAC check after kustomize,
/// as in Flux).
#[test]
fn kustomize_generated_and_transformed_secrets_are_decrypted() {
    let plain = fixture_plaintext();
    let dir = release(&fixture("secret-3.10.2.yaml"), "flux-age.txt");
    // Both keys: the file's own and the generator entry's.
    let both = format!(
        "{}{}",
        fixture("flux-age.txt"),
        fixture("flux-age-global.txt")
    );
    let key_entry: String = both.lines().map(|l| format!("    {l}\n")).collect();
    let sluice_yaml = std::fs::read_to_string(dir.path().join("sluice.yaml")).unwrap();
    let head = &sluice_yaml[..sluice_yaml.find("  age.agekey: |\n").unwrap()];
    std::fs::write(
        dir.path().join("sluice.yaml"),
        format!("{head}  age.agekey: |\n{key_entry}"),
    )
    .unwrap();
    std::fs::copy(
        fixtures().join("file-3.9.0.txt"),
        dir.path().join("app/file.txt"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("app/kustomization.yaml"),
        "namespace: prod\nresources:\n  - secret.yaml\nsecretGenerator:\n  - name: generated\n    files:\n      - file.txt\n",
    )
    .unwrap();
    let out = sluice(dir.path(), &["build", "--show-secrets", "sluice.yaml"], &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(&format!("key: {plain}")), "{stdout}");
    assert!(stdout.contains("namespace: prod"), "{stdout}");
    assert!(
        !stdout.contains("ENC[") && !stdout.contains("lastmodified"),
        "{stdout}"
    );
    // The generated entry is the binary file's plaintext, base64-encoded.
    let generated = stdout
        .split("---\n")
        .find(|d| d.contains("name: generated-"))
        .unwrap();
    let line = generated
        .lines()
        .find(|l| l.trim_start().starts_with("file.txt:"))
        .unwrap();
    let encoded = line.split_once(':').unwrap().1.trim();
    assert!(
        !encoded.is_empty() && encoded != "KipTT1BTKio=",
        "{generated}"
    );
}

/// A secretGenerator fed a SOPS dotenv file (`envs:`) turns each line into an
/// entry, sops' metadata included; the generated Secret comes out with the
/// plaintext entries only, as Flux decrypts the file before building.
#[test]
fn kustomize_secret_generated_from_an_encrypted_env_file_is_decrypted() {
    let enc = sluice_sops::load_encrypted(
        fixture("env-3.9.0.env").as_bytes(),
        sluice_sops::Format::Dotenv,
    )
    .unwrap();
    let ids = sluice_sops::Identities::parse(&fixture("flux-age.txt")).unwrap();
    let b = enc.decrypt(&ids, true).unwrap();
    let plain = b[0].get("key").unwrap().as_str().unwrap().to_string();

    let dir = release("", "flux-age.txt");
    std::fs::remove_file(dir.path().join("app/secret.yaml")).unwrap();
    std::fs::copy(
        fixtures().join("env-3.9.0.env"),
        dir.path().join("app/app.env"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("app/kustomization.yaml"),
        "secretGenerator:\n  - name: app-env\n    envs:\n      - app.env\n",
    )
    .unwrap();
    let out = sluice(dir.path(), &["build", "--show-secrets", "sluice.yaml"], &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&plain);
    assert!(stdout.contains(&format!("key: {encoded}")), "{stdout}");
    assert!(!stdout.contains("sops_"), "{stdout}");

    // Masked unless asked, and a wrong key names the file's recipient.
    let out = sluice(dir.path(), &["build", "sluice.yaml"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains(&encoded),
        "{}",
        text(&out.stdout)
    );
    let wrong = std::fs::read_to_string(dir.path().join("sluice.yaml"))
        .unwrap()
        .replace(
            fixture("flux-age.txt").lines().last().unwrap(),
            fixture("flux-age-global.txt").lines().last().unwrap(),
        );
    std::fs::write(dir.path().join("sluice.yaml"), wrong).unwrap();
    let out = sluice(dir.path(), &["build", "sluice.yaml"], &[]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("app-env")
            && stderr.contains("age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&plain) && !stderr.contains(&encoded),
        "{stderr}"
    );
}
