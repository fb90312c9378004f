//! Alert outputs for the live worker. Each implements the pipeline's [`AlertOutput`]: `write`
//! returns only when the alerts are durable at the destination, so the objects they came from
//! can be acknowledged after it. A destination that is down is retried for ever with capped
//! backoff: it holds the pipeline back (its bounded channels fill, the source stops taking
//! messages) rather than dropping alerts. Alert ids are deterministic, so a redelivered object
//! re-sends the same ids; the JSONL file skips ids it already holds, other destinations see a
//! duplicate with the same id.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use trailwarden_alert::Alert;
use trailwarden_pipeline::AlertOutput;

use crate::error::{classify, retry, AwsError, Backoff, ErrorClass};
use crate::s3::S3Url;

/// Several outputs; a batch is durable when every one has it.
pub struct Fanout(pub Vec<Box<dyn AlertOutput>>);

impl AlertOutput for Fanout {
    fn write(&mut self, alerts: &[Alert]) -> io::Result<()> {
        for o in &mut self.0 {
            o.write(alerts)?;
        }
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        for o in &mut self.0 {
            o.close()?;
        }
        Ok(())
    }
}

/// Appends to a JSON Lines file, fsynced per batch. On open it drops a torn last line (a crash
/// mid-write) and remembers the ids already in the file, so a redelivered object does not
/// write its alerts twice.
pub struct JsonlFile {
    path: PathBuf,
    file: File,
    seen: HashSet<String>,
}

impl JsonlFile {
    pub fn open(path: &Path) -> io::Result<JsonlFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let mut seen = HashSet::new();
        let mut good_len = 0u64;
        {
            let mut r = io::BufReader::new(&file);
            let mut line = String::new();
            loop {
                line.clear();
                let n = r.read_line(&mut line)?;
                if n == 0 || !line.ends_with('\n') {
                    break;
                }
                good_len += n as u64;
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    if let Some(id) = v.get("id").and_then(|i| i.as_str()) {
                        seen.insert(id.to_string());
                    }
                }
            }
        }
        if file.metadata()?.len() != good_len {
            tracing::warn!(path = %path.display(), "dropping a torn last line left by a crash");
            file.set_len(good_len)?;
            file.sync_all()?;
        }
        file.seek(io::SeekFrom::End(0))?;
        Ok(JsonlFile {
            path: path.to_path_buf(),
            file,
            seen,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AlertOutput for JsonlFile {
    fn write(&mut self, alerts: &[Alert]) -> io::Result<()> {
        let mut text = String::new();
        let mut new_ids = Vec::new();
        for a in alerts {
            if self.seen.contains(&a.id) || new_ids.contains(&&a.id) {
                continue;
            }
            text.push_str(&a.to_json_line());
            text.push('\n');
            new_ids.push(&a.id);
        }
        if text.is_empty() {
            return Ok(());
        }
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()?;
        for id in new_ids {
            self.seen.insert(id.clone());
        }
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }
}

/// JSON Lines on standard output, flushed per batch.
#[derive(Default)]
pub struct Stdout;

impl AlertOutput for Stdout {
    fn write(&mut self, alerts: &[Alert]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        for a in alerts {
            out.write_all(a.to_json_line().as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }
}

fn block_on<T>(
    rt: &tokio::runtime::Handle,
    f: impl std::future::Future<Output = Result<T, AwsError>>,
) -> io::Result<T> {
    rt.block_on(f).map_err(io::Error::other)
}

fn runtime() -> io::Result<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current().map_err(io::Error::other)
}

/// Each alert as one SQS message (SendMessageBatch, 10 at a time). Retries for ever.
pub struct SqsAlerts {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    rt: tokio::runtime::Handle,
}

impl SqsAlerts {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> io::Result<Self> {
        Ok(SqsAlerts {
            client,
            queue_url,
            rt: runtime()?,
        })
    }
}

impl AlertOutput for SqsAlerts {
    fn write(&mut self, alerts: &[Alert]) -> io::Result<()> {
        for chunk in alerts.chunks(10) {
            let pending: std::cell::RefCell<Vec<(String, String)>> = chunk
                .iter()
                .enumerate()
                .map(|(i, a)| (format!("a{i}"), a.to_json_line()))
                .collect::<Vec<_>>()
                .into();
            block_on(&self.rt, async {
                retry(Backoff::FOREVER, "send alerts to SQS", || async {
                    let mut req = self.client.send_message_batch().queue_url(&self.queue_url);
                    let entries = pending.borrow().clone();
                    for (id, body) in &entries {
                        let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                            .id(id)
                            .message_body(body)
                            .build()
                            .map_err(|e| {
                                AwsError::new(ErrorClass::Fatal, "sqs entry", e.to_string())
                            })?;
                        req = req.entries(entry);
                    }
                    let out = req.send().await.map_err(|e| {
                        let (c, d) = classify(&e);
                        // a sink that is refused is still retried: never drop alerts
                        let c = if c == ErrorClass::Fatal {
                            ErrorClass::Transient
                        } else {
                            c
                        };
                        AwsError::new(c, "send alerts to SQS", d)
                    })?;
                    let failed: HashSet<String> =
                        out.failed().iter().map(|f| f.id().to_string()).collect();
                    if failed.is_empty() {
                        return Ok(());
                    }
                    let n = failed.len();
                    pending.borrow_mut().retain(|(id, _)| failed.contains(id));
                    Err(AwsError::new(
                        ErrorClass::Transient,
                        "send alerts to SQS",
                        format!("{n} entries failed"),
                    ))
                })
                .await
            })?;
            metrics::counter!("trailwarden_alerts_sent_total", "sink" => "sqs")
                .increment(chunk.len() as u64);
        }
        Ok(())
    }
}

/// Each alert published to an SNS topic (PublishBatch, 10 at a time). Retries for ever.
pub struct SnsAlerts {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    rt: tokio::runtime::Handle,
}

impl SnsAlerts {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: String) -> io::Result<Self> {
        Ok(SnsAlerts {
            client,
            topic_arn,
            rt: runtime()?,
        })
    }
}

impl AlertOutput for SnsAlerts {
    fn write(&mut self, alerts: &[Alert]) -> io::Result<()> {
        for chunk in alerts.chunks(10) {
            let pending: std::cell::RefCell<Vec<(String, String, String)>> = chunk
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let subject: String = format!("[{}] {}", a.severity.as_str(), a.title)
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(99)
                        .collect();
                    (format!("a{i}"), subject, a.to_json_line())
                })
                .collect::<Vec<_>>()
                .into();
            block_on(&self.rt, async {
                retry(Backoff::FOREVER, "publish alerts to SNS", || async {
                    let mut req = self.client.publish_batch().topic_arn(&self.topic_arn);
                    let entries = pending.borrow().clone();
                    for (id, subject, body) in &entries {
                        let e = aws_sdk_sns::types::PublishBatchRequestEntry::builder()
                            .id(id)
                            .subject(subject)
                            .message(body)
                            .build()
                            .map_err(|e| {
                                AwsError::new(ErrorClass::Fatal, "sns entry", e.to_string())
                            })?;
                        req = req.publish_batch_request_entries(e);
                    }
                    let out = req.send().await.map_err(|e| {
                        let (c, d) = classify(&e);
                        let c = if c == ErrorClass::Fatal {
                            ErrorClass::Transient
                        } else {
                            c
                        };
                        AwsError::new(c, "publish alerts to SNS", d)
                    })?;
                    let failed: HashSet<String> =
                        out.failed().iter().map(|f| f.id().to_string()).collect();
                    if failed.is_empty() {
                        return Ok(());
                    }
                    let n = failed.len();
                    pending
                        .borrow_mut()
                        .retain(|(id, _, _)| failed.contains(id));
                    Err(AwsError::new(
                        ErrorClass::Transient,
                        "publish alerts to SNS",
                        format!("{n} entries failed"),
                    ))
                })
                .await
            })?;
            metrics::counter!("trailwarden_alerts_sent_total", "sink" => "sns")
                .increment(chunk.len() as u64);
        }
        Ok(())
    }
}

/// One POST per alert with a Slack-compatible body: `{"text": "…", "alert": {…}}`. A 2xx is
/// success; 429 and 5xx and connection errors are retried for ever; other 4xx too, loudly
/// (the alert is never dropped; an operator fixes the URL).
pub struct Webhook {
    client: reqwest::Client,
    url: String,
    rt: tokio::runtime::Handle,
}

impl Webhook {
    pub fn new(url: String, timeout: std::time::Duration) -> io::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("trailwarden/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(io::Error::other)?;
        Ok(Webhook {
            client,
            url,
            rt: runtime()?,
        })
    }
}

/// The text a chat channel shows for an alert.
pub fn webhook_text(a: &Alert) -> String {
    format!(
        "[{}] {} ({}): {} account={} region={} at {} id={}",
        a.severity.as_str(),
        a.title,
        a.rule_id,
        a.summary,
        a.account.as_deref().unwrap_or("-"),
        a.region.as_deref().unwrap_or("-"),
        a.first_event_time,
        a.id
    )
}

impl AlertOutput for Webhook {
    fn write(&mut self, alerts: &[Alert]) -> io::Result<()> {
        for a in alerts {
            let body = serde_json::json!({ "text": webhook_text(a), "alert": a }).to_string();
            block_on(&self.rt, async {
                retry(Backoff::FOREVER, "post alert to webhook", || async {
                    let r = self
                        .client
                        .post(&self.url)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    match r {
                        Ok(resp) if resp.status().is_success() => Ok(()),
                        Ok(resp) => {
                            let s = resp.status();
                            if s.is_client_error() && s.as_u16() != 429 {
                                tracing::error!(status = %s, "webhook refuses alerts; retrying");
                            }
                            Err(AwsError::new(
                                ErrorClass::Transient,
                                "post alert to webhook",
                                format!("HTTP {s}"),
                            ))
                        }
                        Err(e) => Err(AwsError::new(
                            ErrorClass::Transient,
                            "post alert to webhook",
                            crate::error::chain(&e),
                        )),
                    }
                })
                .await
            })?;
        }
        metrics::counter!("trailwarden_alerts_sent_total", "sink" => "webhook")
            .increment(alerts.len() as u64);
        Ok(())
    }
}

/// Alerts as JSON Lines objects in S3 (`--out s3://…`): one object per batch under
/// `<prefix>`, named from the hash of the batch's alert ids, so a redelivered batch overwrites
/// itself.
pub struct S3Jsonl {
    client: aws_sdk_s3::Client,
    url: S3Url,
    rt: tokio::runtime::Handle,
}

impl S3Jsonl {
    pub fn new(client: aws_sdk_s3::Client, url: S3Url) -> io::Result<Self> {
        Ok(S3Jsonl {
            client,
            url,
            rt: runtime()?,
        })
    }
}

/// The object name for a batch of alerts.
pub fn batch_name(alerts: &[Alert]) -> String {
    let mut ids: Vec<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
    ids.sort_unstable();
    let mut h = blake3::Hasher::new();
    for id in ids {
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    let hex = h.finalize().to_hex();
    format!("alerts-{}.jsonl", &hex[..32])
}

impl AlertOutput for S3Jsonl {
    fn write(&mut self, alerts: &[Alert]) -> io::Result<()> {
        let mut text = String::new();
        for a in alerts {
            text.push_str(&a.to_json_line());
            text.push('\n');
        }
        let key = format!("{}{}", self.url.prefix, batch_name(alerts));
        block_on(&self.rt, async {
            retry(Backoff::FOREVER, "put alerts to S3", || async {
                crate::s3::put(
                    &self.client,
                    &self.url.bucket,
                    &key,
                    text.clone().into_bytes(),
                    "application/x-ndjson",
                )
                .await
                .map_err(|mut e| {
                    e.class = ErrorClass::Transient;
                    e
                })
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str) -> Alert {
        serde_json::from_value(serde_json::json!({
            "schema_version": 1, "id": id, "rule_id": "r", "title": "t", "severity": "high",
            "mitre": [], "account": "1", "region": "us-east-1", "principal": null,
            "principal_type": null, "source_ip": null, "user_agent": null,
            "first_event_time": "2024-03-01T00:00:00Z", "last_event_time": "2024-03-01T00:00:00Z",
            "event_ids": ["e"], "count": 1, "summary": "s", "evidence": {}
        }))
        .unwrap()
    }

    #[test]
    fn jsonl_skips_known_ids_and_drops_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.jsonl");
        {
            let mut f = JsonlFile::open(&p).unwrap();
            f.write(&[alert("a"), alert("b"), alert("a")]).unwrap();
        }
        // a crash mid-write leaves half a line
        let mut raw = OpenOptions::new().append(true).open(&p).unwrap();
        raw.write_all(b"{\"id\":\"c\",\"tru").unwrap();
        drop(raw);
        let mut f = JsonlFile::open(&p).unwrap();
        f.write(&[alert("b"), alert("c")]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ids, vec!["a", "b", "c"]);
    }

    #[test]
    fn batch_names_ignore_order() {
        let a = [alert("x"), alert("y")];
        let b = [alert("y"), alert("x")];
        assert_eq!(batch_name(&a), batch_name(&b));
        assert_ne!(batch_name(&a), batch_name(&a[..1]));
    }

    #[test]
    fn webhook_text_names_rule_and_id() {
        let t = webhook_text(&alert("abc"));
        assert!(t.contains("[high]") && t.contains("id=abc") && t.contains("(r)"));
    }
}
