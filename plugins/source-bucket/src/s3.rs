//! The S3 API as the bucket plugin uses it: the endpoint from the Source's
//! URL, signed ListObjectsV2 and GetObject requests, the XML answers, and
//! the revision.

use crate::sigv4::{self, Credentials, EMPTY_SHA256};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Where the bucket is, from `s3://HOST[:PORT]/BUCKET[/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https`, or `http` when the Source is marked insecure.
    pub scheme: &'static str,
    /// `HOST[:PORT]` as the URL has it (the grants are made from it).
    pub host: String,
    pub bucket: String,
    /// From the URL's path after the bucket, or `spec.config.prefix`.
    pub prefix: String,
    /// `https://HOST/BUCKET/KEY` rather than `https://BUCKET.HOST/KEY`.
    pub path_style: bool,
}

impl Endpoint {
    pub fn parse(
        url: &str,
        insecure: bool,
        config_prefix: Option<&str>,
        path_style: Option<bool>,
    ) -> Result<Endpoint, String> {
        let usage = "a bucket URL is s3://HOST[:PORT]/BUCKET[/PREFIX]";
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("not an s3:// URL; {usage}"))?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (bucket, url_prefix) = path.split_once('/').unwrap_or((path, ""));
        if host.is_empty() || bucket.is_empty() || host.contains(['@', '?', '#']) {
            return Err(usage.into());
        }
        let prefix = match (url_prefix, config_prefix) {
            ("", Some(p)) => p.to_string(),
            (p, None) => p.to_string(),
            (p, Some(c)) if p == c => p.to_string(),
            _ => {
                return Err(
                    "the prefix is given both in the URL and in spec.config.prefix; keep one"
                        .into(),
                );
            }
        };
        let scheme = if insecure { "http" } else { "https" };
        let host = host.to_string();
        let hostname = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        // AWS wants virtual-hosted buckets; other S3 servers (MinIO, Ceph,
        // moto, …) are usually reached path-style.
        let path_style = path_style.unwrap_or(!hostname.ends_with(".amazonaws.com"));
        Ok(Endpoint {
            scheme,
            host,
            bucket: bucket.to_string(),
            prefix,
            path_style,
        })
    }

    /// What is shown in messages.
    pub fn display(&self) -> String {
        format!("s3://{}/{}", self.host, self.bucket)
    }

    /// `HOST[:PORT]` of the requests, virtual-hosted or not.
    fn authority(&self) -> String {
        if self.path_style {
            self.host.clone()
        } else {
            format!("{}.{}", self.bucket, self.host)
        }
    }

    /// The `Host` header the client sends (no default port), which is the
    /// one to sign.
    fn host_header(&self) -> String {
        let default_port = if self.scheme == "http" { ":80" } else { ":443" };
        let authority = self.authority();
        authority
            .strip_suffix(default_port)
            .map_or(authority.clone(), str::to_string)
    }

    /// The encoded path of `key` (`""` for the bucket itself).
    fn path(&self, key: &str) -> String {
        let key = sigv4::uri_encode(key, false);
        if self.path_style && key.is_empty() {
            format!("/{}", sigv4::uri_encode(&self.bucket, true))
        } else if self.path_style {
            format!("/{}/{key}", sigv4::uri_encode(&self.bucket, true))
        } else {
            format!("/{key}")
        }
    }

    /// A ListObjectsV2 page.
    pub fn list(&self, continuation: Option<&str>) -> Signed {
        let mut query = vec![("list-type", "2")];
        if !self.prefix.is_empty() {
            query.push(("prefix", self.prefix.as_str()));
        }
        if let Some(token) = continuation {
            query.push(("continuation-token", token));
        }
        self.get(self.path(""), &query)
    }

    pub fn get_object(&self, key: &str) -> Signed {
        self.get(self.path(key), &[])
    }

    fn get(&self, path: String, query: &[(&str, &str)]) -> Signed {
        let mut pairs: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    sigv4::uri_encode(k, true),
                    sigv4::uri_encode(v, true)
                )
            })
            .collect();
        pairs.sort();
        let query_string = if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        };
        Signed {
            url: format!("{}://{}{path}{query_string}", self.scheme, self.authority()),
            path,
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            host: self.host_header(),
        }
    }
}

/// A GET request ready to be signed.
#[derive(Debug)]
pub struct Signed {
    pub url: String,
    path: String,
    query: Vec<(String, String)>,
    host: String,
}

impl Signed {
    /// Headers for the request: signed when there are credentials, else
    /// anonymous (public buckets).
    pub fn headers(
        &self,
        credentials: Option<&Credentials>,
        region: &str,
        unix_time: u64,
    ) -> Vec<(String, String)> {
        let Some(credentials) = credentials else {
            return Vec::new();
        };
        let date = sigv4::amz_date(unix_time);
        let query: Vec<(&str, &str)> = self
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let headers = [
            ("host", self.host.as_str()),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", date.as_str()),
        ];
        let authorization = sigv4::authorization(
            credentials,
            region,
            "s3",
            &sigv4::Request {
                method: "GET",
                path: &self.path,
                query: &query,
                headers: &headers,
                payload_hash: EMPTY_SHA256,
            },
            &date,
        );
        vec![
            ("x-amz-content-sha256".into(), EMPTY_SHA256.into()),
            ("x-amz-date".into(), date.clone()),
            ("authorization".into(), authorization),
        ]
    }
}

/// One ListObjectsV2 answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPage {
    #[serde(default)]
    pub contents: Vec<Object>,
    #[serde(default)]
    pub is_truncated: bool,
    pub next_continuation_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Object {
    pub key: String,
    #[serde(rename = "ETag", default)]
    pub etag: String,
}

impl ListPage {
    pub fn parse(xml: &[u8]) -> Result<ListPage, String> {
        let text = std::str::from_utf8(xml).map_err(|_| "the listing is not UTF-8".to_string())?;
        quick_xml::de::from_str(text)
            .map_err(|e| format!("cannot read the ListObjectsV2 answer: {e}"))
    }
}

/// An S3 error document (`<Error><Code>…</Code><Message>…</Message></Error>`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3Error {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl S3Error {
    pub fn parse(xml: &[u8]) -> S3Error {
        std::str::from_utf8(xml)
            .ok()
            .and_then(|t| quick_xml::de::from_str(t).ok())
            .unwrap_or_default()
    }
}

/// `sha256:<hex>` over the sorted `key etag` lines, as Flux's bucket
/// revision (the etag without its quotes).
pub fn revision(index: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = index.iter().collect();
    sorted.sort();
    let mut digest = Sha256::new();
    for (key, etag) in sorted {
        digest.update(format!("{key} {etag}\n").as_bytes());
    }
    format!("sha256:{}", hex::encode(digest.finalize()))
}

/// The key as a relative path in the artifact; keys S3 allows but a file
/// tree cannot hold safely (`..`, `.`, empty segments, a leading `/`) are
/// refused rather than rewritten, so two keys never land on one file.
pub fn key_path(key: &str) -> Result<&str, String> {
    if key.starts_with('/')
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(format!(
            "object key '{key}' cannot be a path in the artifact (it has an empty, '.' or '..' segment or starts with '/'); rename it or leave it out with spec.config.ignore"
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_urls() {
        let e = Endpoint::parse("s3://127.0.0.1:9000/releases/apps/web", true, None, None).unwrap();
        assert_eq!(e.scheme, "http");
        assert_eq!(e.host, "127.0.0.1:9000");
        assert_eq!(
            (e.bucket.as_str(), e.prefix.as_str()),
            ("releases", "apps/web")
        );
        assert!(e.path_style);
        assert_eq!(
            e.list(None).url,
            "http://127.0.0.1:9000/releases?list-type=2&prefix=apps%2Fweb"
        );
        assert_eq!(
            e.get_object("apps/web/a b.yaml").url,
            "http://127.0.0.1:9000/releases/apps/web/a%20b.yaml"
        );

        let aws = Endpoint::parse(
            "s3://s3.eu-west-1.amazonaws.com:443/b",
            false,
            Some("p/"),
            None,
        )
        .unwrap();
        assert!(!aws.path_style);
        let get = aws.get_object("k");
        assert_eq!(get.url, "https://b.s3.eu-west-1.amazonaws.com:443/k");
        assert_eq!(get.host, "b.s3.eu-west-1.amazonaws.com");
        assert_eq!(aws.prefix, "p/");

        assert!(Endpoint::parse("s3://h/b/x", false, Some("y"), None).is_err());
        assert!(Endpoint::parse("s3://h", false, None, None).is_err());
        assert!(Endpoint::parse("https://h/b", false, None, None).is_err());
    }

    #[test]
    fn reads_listings_and_errors() {
        let page = ListPage::parse(br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>
<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
<NextContinuationToken>tok/en=</NextContinuationToken>
<Contents><Key>a &amp; b.yaml</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>c.yaml</Key><ETag>"def"</ETag><Size>1</Size></Contents>
</ListBucketResult>"#).unwrap();
        assert!(page.is_truncated);
        assert_eq!(page.next_continuation_token.as_deref(), Some("tok/en="));
        assert_eq!(page.contents[0].key, "a & b.yaml");
        assert_eq!(page.contents[0].etag, "\"abc\"");
        assert_eq!(page.contents.len(), 2);

        let empty = ListPage::parse(
            b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>",
        )
        .unwrap();
        assert!(empty.contents.is_empty() && !empty.is_truncated);

        let err = S3Error::parse(b"<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>x</BucketName></Error>");
        assert_eq!(err.code, "NoSuchBucket");
        assert_eq!(err.message, "The specified bucket does not exist");
    }

    #[test]
    fn revision_is_order_independent_and_follows_flux() {
        let a = revision(&[("b".into(), "2".into()), ("a".into(), "1".into())]);
        let b = revision(&[("a".into(), "1".into()), ("b".into(), "2".into())]);
        assert_eq!(a, b);
        assert_eq!(
            a,
            format!("sha256:{}", hex::encode(Sha256::digest(b"a 1\nb 2\n")))
        );
    }

    #[test]
    fn unsafe_keys_are_refused() {
        assert!(key_path("apps/web.yaml").is_ok());
        for key in ["../x", "a/../../x", "/abs", "a//b", "./a"] {
            assert!(key_path(key).is_err(), "{key}");
        }
    }
}
