//! S3: reading trail objects ([`S3Fetcher`]), writing the archive ([`S3Archive`]) and small
//! objects (dead letters, alert batches), and `s3://bucket/prefix` URLs.

use std::io::Read as _;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use futures::future::BoxFuture;
use trailwarden_archive::{ArchiveOptions, EncoderPool};
use trailwarden_ingest::{Location, ObjectRef};
use trailwarden_pipeline::{ArchiveWriter, ArchiveWritten, Batch, Failure, FailureKind, Fetcher};

use crate::error::{chain, classify, retry, AwsError, Backoff, ErrorClass};

/// `s3://bucket/prefix`, the prefix normalised to end with `/` (or empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
}

impl S3Url {
    pub fn parse(s: &str) -> Option<S3Url> {
        let rest = s.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        let mut prefix = prefix.trim_start_matches('/').to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Some(S3Url {
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// This URL with `sub` appended to the prefix.
    pub fn join(&self, sub: &str) -> S3Url {
        let mut prefix = format!("{}{}", self.prefix, sub.trim_start_matches('/'));
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        S3Url {
            bucket: self.bucket.clone(),
            prefix,
        }
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// Largest object fetched, before decompression (the parser caps what it inflates).
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 1 << 30;

/// GetObject with retries; a missing object or one that is not CloudTrail is poison.
pub struct S3Fetcher {
    client: aws_sdk_s3::Client,
    max_object_bytes: u64,
}

impl S3Fetcher {
    pub fn new(client: aws_sdk_s3::Client, max_object_bytes: u64) -> Self {
        S3Fetcher {
            client,
            max_object_bytes,
        }
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
        let what = format!("get s3://{bucket}/{key}");
        let bytes = retry(Backoff::AWS_CALL, &what, || async {
            let out = self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| {
                    let (c, d) = classify(&e);
                    AwsError::new(c, &what, d)
                })?;
            let len = out.content_length().unwrap_or(0);
            if u64::try_from(len).unwrap_or(0) > self.max_object_bytes {
                return Err(AwsError::new(
                    ErrorClass::Poison,
                    &what,
                    format!(
                        "{len} bytes is over max_object_bytes {}",
                        self.max_object_bytes
                    ),
                ));
            }
            let body = out
                .body
                .collect()
                .await
                .map_err(|e| AwsError::new(ErrorClass::Transient, &what, chain(&e)))?;
            Ok(body.into_bytes().to_vec())
        })
        .await?;
        if let Err(why) = sniff_cloudtrail(&bytes) {
            return Err(AwsError::new(ErrorClass::Poison, &what, why));
        }
        metrics::counter!("trailwarden_s3_fetched_bytes_total").increment(bytes.len() as u64);
        Ok(bytes)
    }
}

impl Fetcher for S3Fetcher {
    fn fetch<'a>(&'a self, object: &'a ObjectRef) -> BoxFuture<'a, Result<Vec<u8>, Failure>> {
        Box::pin(async move {
            match &object.location {
                Location::S3 { bucket, key } => {
                    self.get(bucket, key).await.map_err(|e| e.failure())
                }
                Location::Local(p) => Err(Failure::new(
                    FailureKind::Fatal,
                    format!("{} is not in S3", p.display()),
                )),
            }
        })
    }
}

/// A cheap look at the start of an object (gunzipping at most 4 KiB): does it look like a
/// CloudTrail log or digest file? An object that is not (a text file, some other JSON) is
/// poison; a damaged CloudTrail object is not — the parser keeps what it can read of it.
pub fn sniff_cloudtrail(bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Err("empty object".to_string());
    }
    let mut head = Vec::with_capacity(4096);
    if trailwarden_parse::is_gzip(bytes) {
        let mut dec = flate2::read::MultiGzDecoder::new(bytes).take(4096);
        if dec.read_to_end(&mut head).is_err() && head.is_empty() {
            // a corrupt gzip stream: bad input for the parser to report, not poison
            return Ok(());
        }
    } else {
        head.extend_from_slice(&bytes[..bytes.len().min(4096)]);
    }
    let text = String::from_utf8_lossy(&head);
    let t = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if !t.starts_with('{') {
        return Err("not a CloudTrail object: does not start with a JSON object".to_string());
    }
    let after = t[1..].trim_start();
    let known = ["\"Records\"", "\"awsAccountId\"", "\"digestStartTime\""];
    if known.iter().any(|k| after.starts_with(k)) || t.contains("\"Records\"") {
        return Ok(());
    }
    if head.len() < 4096 {
        return Err("not a CloudTrail object: no Records".to_string());
    }
    Ok(())
}

/// Builds the S3 client from the shared SDK config; path-style addressing when an endpoint
/// override is set (S3-compatible servers).
pub fn client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        b = b.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// PutObject with retries (transient errors only).
pub async fn put(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<(), AwsError> {
    let what = format!("put s3://{bucket}/{key}");
    let body = bytes::Bytes::from(bytes);
    retry(Backoff::AWS_CALL, &what, || {
        let body = body.clone();
        let what = &what;
        async move {
            client
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type(content_type)
                .body(ByteStream::from(body))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    let (c, d) = classify(&e);
                    AwsError::new(c, what, d)
                })
        }
    })
    .await
}

/// GetObject with retries; `Ok(None)` when the object (or its bucket's key) does not exist.
pub async fn get_optional(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, AwsError> {
    let what = format!("get s3://{bucket}/{key}");
    retry(Backoff::AWS_CALL, &what, || async {
        let out = match client.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) => {
                // a missing key, not a missing bucket (that is a configuration error)
                let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e);
                let status = e.raw_response().map(|r| r.status().as_u16());
                let missing = code == Some("NoSuchKey")
                    || (status == Some(404) && code != Some("NoSuchBucket"));
                if missing {
                    return Ok(None);
                }
                let (c, d) = classify(&e);
                return Err(AwsError::new(c, &what, d));
            }
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| AwsError::new(ErrorClass::Transient, &what, chain(&e)))?;
        Ok(Some(body.into_bytes().to_vec()))
    })
    .await
}

/// One small object read and written whole from blocking code: the anomaly snapshot, a
/// replay checkpoint. The calls wait on the runtime the blob was made in, so they must run on
/// a thread outside it (`spawn_blocking`, the detect thread), never inside an async task.
#[derive(Clone)]
pub struct S3Blob {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    rt: tokio::runtime::Handle,
}

impl S3Blob {
    /// The object `name` below `url`. Must be called inside the runtime the calls will use.
    pub fn new(client: aws_sdk_s3::Client, url: &S3Url, name: &str) -> Result<S3Blob, String> {
        let rt = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
        Ok(S3Blob {
            client,
            bucket: url.bucket.clone(),
            key: format!("{}{name}", url.prefix),
            rt,
        })
    }

    /// `s3://bucket/key`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The object's bytes; `Ok(None)` when it does not exist. Blocking.
    pub fn load(&self) -> Result<Option<Vec<u8>>, AwsError> {
        self.rt
            .block_on(get_optional(&self.client, &self.bucket, &self.key))
    }

    /// Replaces the object (a PutObject is atomic: readers see the old or the new bytes).
    /// Blocking.
    pub fn save(&self, bytes: Vec<u8>, content_type: &str) -> Result<(), AwsError> {
        self.rt.block_on(put(
            &self.client,
            &self.bucket,
            &self.key,
            bytes,
            content_type,
        ))
    }

    /// Deletes the object (absent is fine). Blocking.
    pub fn delete(&self) -> Result<(), AwsError> {
        let what = format!("delete {}", self.url());
        self.rt.block_on(retry(Backoff::AWS_CALL, &what, || async {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    let (c, d) = classify(&e);
                    AwsError::new(c, &what, d)
                })
        }))
    }
}

/// The Parquet archive in S3: one PutObject per encoded file, under `<prefix>`.
pub struct S3Archive {
    client: aws_sdk_s3::Client,
    url: S3Url,
    encoders: EncoderPool,
    rt: tokio::runtime::Handle,
}

impl S3Archive {
    /// Must be called inside the runtime the writes will use.
    pub fn new(
        client: aws_sdk_s3::Client,
        url: S3Url,
        options: ArchiveOptions,
    ) -> Result<Arc<Self>, String> {
        let encoders = EncoderPool::new(&options).map_err(|e| chain(&e))?;
        let rt = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
        Ok(Arc::new(S3Archive {
            client,
            url,
            encoders,
            rt,
        }))
    }
}

impl ArchiveWriter for S3Archive {
    fn write(&self, batch: &Batch) -> Result<ArchiveWritten, String> {
        let files = self
            .encoders
            .encode_object(&batch.object.key, &batch.events)
            .map_err(|e| chain(&e))?;
        let mut w = ArchiveWritten::default();
        for f in files {
            let key = format!("{}{}", self.url.prefix, f.rel_path);
            let n = f.bytes.len() as u64;
            let rows = f.rows;
            // runs on a blocking thread: waiting here is what the pipeline expects
            self.rt
                .block_on(put(
                    &self.client,
                    &self.url.bucket,
                    &key,
                    f.bytes,
                    "application/vnd.apache.parquet",
                ))
                .map_err(|e| e.to_string())?;
            w.files += 1;
            w.rows += rows;
            w.bytes += n;
        }
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        let u = S3Url::parse("s3://lake/cloudtrail").unwrap();
        assert_eq!(u.bucket, "lake");
        assert_eq!(u.prefix, "cloudtrail/");
        assert_eq!(u.join("archive").prefix, "cloudtrail/archive/");
        assert_eq!(S3Url::parse("s3://lake").unwrap().prefix, "");
        assert_eq!(S3Url::parse("s3://lake/").unwrap().prefix, "");
        assert_eq!(S3Url::parse("s3://lake/").unwrap().join("a/").prefix, "a/");
        assert!(S3Url::parse("s3:///x").is_none());
        assert!(S3Url::parse("/tmp/x").is_none());
        assert_eq!(u.to_string(), "s3://lake/cloudtrail/");
    }

    #[test]
    fn sniff() {
        assert!(sniff_cloudtrail(br#"{"Records":[]}"#).is_ok());
        assert!(sniff_cloudtrail(b"  {\n \"Records\": [").is_ok());
        assert!(sniff_cloudtrail(br#"{"awsAccountId":"1"}"#).is_ok());
        assert!(sniff_cloudtrail(b"hello world").is_err());
        assert!(sniff_cloudtrail(b"").is_err());
        assert!(sniff_cloudtrail(br#"{"hello":1}"#).is_err());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"not json at all").unwrap();
        assert!(sniff_cloudtrail(&gz.finish().unwrap()).is_err());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, br#"{"Records":[{}]}"#).unwrap();
        assert!(sniff_cloudtrail(&gz.finish().unwrap()).is_ok());
        // a damaged gzip is the parser's business
        assert!(sniff_cloudtrail(&[0x1f, 0x8b, 8, 0, 0, 0]).is_ok());
    }
}
