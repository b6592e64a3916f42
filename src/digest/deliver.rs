//! Delivering a rendered digest to the configured targets.
//!
//! Each target gets its own attempt series; the caller records every
//! outcome in `digest_deliveries`, so a failure is never silent. Webhook
//! failures are retried with backoff by the fetcher (connection errors,
//! 429, 5xx); the webhook URL is a secret and never appears in an error.
//! SMTP delivery is not built yet: such a target is recorded as failed
//! with that reason.

use std::path::Path;

use secrecy::ExposeSecret;

use super::Digest;
use crate::config::DeliveryTarget;
use crate::fetch::Fetcher;

/// The rendered forms of one digest.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Markdown.
    pub markdown: String,
    /// Email-ready HTML.
    pub html: String,
    /// Versioned JSON.
    pub json: String,
}

/// The outcome of delivering to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The target, as recorded (`directory:/path`, `webhook:host`, `smtp:host`).
    pub target: String,
    /// Attempts made.
    pub attempts: u32,
    /// None when delivered; else why not.
    pub error: Option<String>,
}

/// A file-name-safe form of a brand name.
fn slug(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    s.trim_matches('-').to_owned()
}

/// Writes `name` in `dir` atomically (temporary file, then rename), so a
/// reader never sees half a digest.
fn write_atomic(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join(name))
}

/// Delivers `rendered` to `target`.
pub async fn deliver(
    target: &DeliveryTarget,
    digest: &Digest,
    rendered: &Rendered,
    fetcher: &Fetcher,
) -> Delivery {
    match target {
        DeliveryTarget::Directory { path } => {
            let base = format!("{}-{}", slug(&digest.brand), digest.day);
            let result = std::fs::create_dir_all(path)
                .and_then(|()| write_atomic(path, &format!("{base}.md"), &rendered.markdown))
                .and_then(|()| write_atomic(path, &format!("{base}.html"), &rendered.html))
                .and_then(|()| write_atomic(path, &format!("{base}.json"), &rendered.json));
            Delivery {
                target: format!("directory:{}", path.display()),
                attempts: 1,
                error: result.err().map(|e| format!("writing into {}: {e}", path.display())),
            }
        }
        DeliveryTarget::Webhook { url } => {
            let secret = url.expose_secret();
            let (shown, parsed) = match url::Url::parse(secret) {
                Ok(u) => (format!("webhook:{}", u.host_str().unwrap_or("?")), Some(u)),
                Err(_) => ("webhook:(invalid URL)".to_owned(), None),
            };
            let Some(parsed) = parsed else {
                return Delivery {
                    target: shown,
                    attempts: 1,
                    error: Some("the webhook URL does not parse".to_owned()),
                };
            };
            let body = slack_message(digest, &rendered.markdown);
            match fetcher.post_json(&parsed, &body).await {
                Ok(attempts) => Delivery { target: shown, attempts, error: None },
                Err((e, attempts)) => {
                    // The URL carries the token: keep it out of logs and the database.
                    let error = e
                        .to_string()
                        .replace(secret, "<webhook URL>")
                        .replace(parsed.as_str(), "<webhook URL>");
                    Delivery { target: shown, attempts, error: Some(error) }
                }
            }
        }
        DeliveryTarget::Smtp { host, .. } => Delivery {
            target: format!("smtp:{host}"),
            attempts: 1,
            error: Some("SMTP delivery is not built yet (use a directory or webhook target)".to_owned()),
        },
    }
}

/// A Slack-compatible incoming-webhook message: the headline in `text` (what
/// notifications show) and the Markdown digest as a section.
pub fn slack_message(digest: &Digest, markdown: &str) -> serde_json::Value {
    let v = &digest.volume;
    let headline = format!(
        "{} on {}: {} mentions, net sentiment {:+.2}{}",
        digest.brand,
        digest.day,
        v.mentions,
        v.net_sentiment,
        if digest.alerts.is_empty() { String::new() } else { format!(", {} alert(s)", digest.alerts.len()) }
    );
    // Slack caps a section's text at 3000 characters.
    let section: String = markdown.chars().take(2900).collect();
    serde_json::json!({
        "text": headline,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": section}}
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(slug("Kestrel Mobile"), "kestrel-mobile");
        assert_eq!(slug("../etc"), "etc");
    }
}
