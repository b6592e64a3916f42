//! Delivering a rendered digest to the configured targets.
//!
//! Each target gets its own attempt series; the caller records every
//! outcome in `digest_deliveries`, so a failure is never silent. Webhook
//! failures are retried with backoff by the fetcher (connection errors,
//! 429, 5xx); the webhook URL is a secret and never appears in an error.
//! Email goes through SMTP (lettre, rustls) as a multipart message (the
//! Markdown as the plain-text part, the HTML as the rich part); transient
//! SMTP errors (connection, 4xx) are retried the same way.

use std::path::Path;

use secrecy::ExposeSecret;

use super::Digest;
use crate::config::{DeliveryTarget, SmtpTls};
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

impl Rendered {
    /// Renders `digest` in every format.
    pub fn of(digest: &Digest) -> Rendered {
        Rendered {
            markdown: super::render::markdown(digest),
            html: super::render::html(digest),
            json: super::render::json(digest),
        }
    }
}

/// Delivers a stored digest to every target and records each outcome
/// (`digest_deliveries`); returns the outcomes, failures included.
pub async fn deliver_and_record(
    store: &crate::store::Store,
    targets: &[DeliveryTarget],
    digest_id: i64,
    digest: &Digest,
    rendered: &Rendered,
    fetcher: &Fetcher,
) -> Result<Vec<Delivery>, crate::store::StoreError> {
    let mut outcomes = Vec::with_capacity(targets.len());
    for target in targets {
        let delivery = deliver(target, digest, rendered, fetcher).await;
        store
            .record_delivery(
                digest_id,
                &delivery.target,
                delivery.error.is_none(),
                delivery.attempts as i32,
                delivery.error.as_deref(),
            )
            .await?;
        match &delivery.error {
            None => tracing::info!(
                brand = %digest.brand, day = %digest.day, target = %delivery.target,
                attempts = delivery.attempts, "digest delivered"
            ),
            Some(e) => tracing::error!(
                brand = %digest.brand, day = %digest.day, target = %delivery.target,
                attempts = delivery.attempts, error = %e, "digest delivery failed"
            ),
        }
        outcomes.push(delivery);
    }
    Ok(outcomes)
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
        DeliveryTarget::Smtp { host, port, tls, username, password, from, to } => {
            let target = format!("smtp:{host}:{port}");
            let message = match email(digest, rendered, from, to) {
                Ok(m) => m,
                Err(error) => return Delivery { target, attempts: 1, error: Some(error) },
            };
            let transport = match smtp_transport(host, *port, *tls, username.as_deref(), password) {
                Ok(t) => t,
                Err(error) => return Delivery { target, attempts: 1, error: Some(error) },
            };
            let mut attempt = 0;
            loop {
                attempt += 1;
                match lettre::AsyncTransport::send(&transport, message.clone()).await {
                    Ok(_) => return Delivery { target, attempts: attempt, error: None },
                    // Permanent (5xx) answers will not change; connection trouble and 4xx may.
                    Err(e) if !e.is_permanent() => {
                        if attempt >= SMTP_ATTEMPTS {
                            return Delivery { target, attempts: attempt, error: Some(format!("SMTP: {e}")) };
                        }
                        tokio::time::sleep(SMTP_BACKOFF * 2u32.pow(attempt - 1)).await;
                    }
                    Err(e) => {
                        return Delivery { target, attempts: attempt, error: Some(format!("SMTP: {e}")) };
                    }
                }
            }
        }
    }
}

/// Attempts per email delivery.
const SMTP_ATTEMPTS: u32 = 3;
/// First wait between email attempts (doubling).
const SMTP_BACKOFF: std::time::Duration = std::time::Duration::from_millis(500);

/// The digest as an email: Markdown as the plain-text part, HTML as the rich part.
fn email(digest: &Digest, rendered: &Rendered, from: &str, to: &[String]) -> Result<lettre::Message, String> {
    use lettre::message::{Mailbox, MultiPart};
    let from: Mailbox = from.parse().map_err(|e| format!("the sender `{from}` is not an address: {e}"))?;
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(format!("{}: daily digest for {}", digest.brand, digest.day));
    for recipient in to {
        let mailbox: Mailbox =
            recipient.parse().map_err(|e| format!("the recipient `{recipient}` is not an address: {e}"))?;
        builder = builder.to(mailbox);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(rendered.markdown.clone(), rendered.html.clone()))
        .map_err(|e| format!("building the email: {e}"))
}

/// The SMTP transport the target asks for.
fn smtp_transport(
    host: &str,
    port: u16,
    tls: SmtpTls,
    username: Option<&str>,
    password: &Option<secrecy::SecretString>,
) -> Result<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>, String> {
    use lettre::{AsyncSmtpTransport, Tokio1Executor};
    let builder = match tls {
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
        SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)),
    }
    .map_err(|e| format!("SMTP server {host}: {e}"))?;
    let mut builder = builder.port(port).timeout(Some(std::time::Duration::from_secs(30)));
    if let (Some(user), Some(password)) = (username, password) {
        builder = builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
            user.to_owned(),
            password.expose_secret().to_owned(),
        ));
    }
    Ok(builder.build())
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
