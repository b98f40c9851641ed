//! Decrypted documents per second: a five-key Secret as the real sops
//! writes it (YAML, encrypted_regex), loaded, its data key unwrapped with
//! age, values decrypted and the MAC verified, as the `sops` plugin does
//! per object. `cargo bench -p sluice-sops --bench decrypt`; figures in
//! benches/README.md.

use std::time::Instant;

use sluice_sops::{Format, Identities, Rules, emit_encrypted, encrypt, load_encrypted, load_plain};

const KEY: &str = "AGE-SECRET-KEY-1RH87A5Z54ZGUR9S0AS3R6WHFSEFNPLYMAKF5Z2CEU7R06VRJ0A3Q7242AM";
const RECIPIENT: &str = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";

fn main() {
    let plain = b"apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\n    namespace: prod\nstringData:\n    username: app\n    password: correct-horse-battery-staple\n    host: db.prod.svc.cluster.local\n    port: \"5432\"\n    url: postgres://app@db.prod.svc.cluster.local:5432/app\n";
    let rules = Rules {
        encrypted_regex: Some("^(data|stringData)$".into()),
        ..Rules::default()
    };
    let tree = load_plain(plain, Format::Yaml).unwrap();
    let file = encrypt(tree, &[RECIPIENT.into()], rules, "2026-01-01T00:00:00Z").unwrap();
    let yaml = emit_encrypted(&file, Format::Yaml).unwrap();
    let json = emit_encrypted(&file, Format::Json).unwrap();
    let ids = Identities::parse(KEY).unwrap();
    for (name, bytes, format) in [
        ("YAML", &yaml, Format::Yaml),
        ("JSON (as the plugin)", &json, Format::Json),
    ] {
        let n = 2_000;
        let start = Instant::now();
        for _ in 0..n {
            let out = load_encrypted(bytes, format)
                .unwrap()
                .decrypt(&ids, true)
                .unwrap();
            std::hint::black_box(out);
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name}: {n} documents in {secs:.3} s = {:.0} documents/s",
            n as f64 / secs
        );
    }
}
