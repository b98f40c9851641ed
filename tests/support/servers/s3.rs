//! moto's S3 server (`moto_server`, PyPI `moto[server]`, installed by
//! tests/setup.sh) on a free loopback port, with IAM authentication on, so
//! signatures and access keys are really checked. Killed when dropped.
//!
//! moto lets the first `INITIAL_NO_AUTH_ACTION_COUNT` requests through
//! unauthenticated: exactly the three IAM calls that make a user allowed
//! everything and its access key. Buckets and objects are then put with
//! boto3 (a moto dependency), signed with that key.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BOOTSTRAP: &str = r#"
import sys, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
          aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="sluice")
iam.put_user_policy(UserName="sluice", PolicyName="all", PolicyDocument=
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}')
key = iam.create_access_key(UserName="sluice")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;

const PUT: &str = r#"
import sys, boto3
endpoint, ak, sk, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=ak, aws_secret_access_key=sk)
if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
    s3.create_bucket(Bucket=bucket)
for pair in sys.argv[5:]:
    key, path = pair.split("\t", 1)
    if path == "-":
        s3.delete_object(Bucket=bucket, Key=key)
    else:
        with open(path, "rb") as f:
            s3.put_object(Bucket=bucket, Key=key, Body=f.read())
"#;

/// A running S3 server.
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    pub access_key: String,
    pub secret_key: String,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl S3Server {
    pub fn start() -> S3Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let log = dir.path().join("moto.log");
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("moto_server (PyPI moto[server]; run tests/setup.sh)");
        let mut server = S3Server {
            child,
            host,
            access_key: String::new(),
            secret_key: String::new(),
            log,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&server.host).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start: {}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = python(BOOTSTRAP, &[&server.endpoint()]);
        let mut keys = out.split_whitespace();
        server.access_key = keys.next().expect("access key").to_string();
        server.secret_key = keys.next().expect("secret key").to_string();
        server
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.host)
    }

    /// `s3://127.0.0.1:PORT/{path}` (bucket and optional prefix).
    pub fn url(&self, path: &str) -> String {
        format!("s3://{}/{path}", self.host)
    }

    /// Creates `bucket` if needed and puts `objects` (key, content) in it;
    /// `None` content deletes the key.
    pub fn put(&self, bucket: &str, objects: &[(&str, Option<&[u8]>)]) {
        let files = tempfile::tempdir_in(self.dir.path()).unwrap();
        let mut args = vec![
            self.endpoint(),
            self.access_key.clone(),
            self.secret_key.clone(),
            bucket.to_string(),
        ];
        for (i, (key, content)) in objects.iter().enumerate() {
            let path = match content {
                Some(data) => {
                    let p = files.path().join(i.to_string());
                    std::fs::write(&p, data).unwrap();
                    p.display().to_string()
                }
                None => "-".into(),
            };
            args.push(format!("{key}\t{path}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        python(PUT, &args);
    }

    /// Request lines the server logged so far (`GET /b?list-type=2 HTTP/1.1`).
    pub fn requests(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter_map(|l| l.split('"').nth(1))
            .map(str::to_string)
            .collect()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "boto3 call failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free loopback port")
        .port()
}
