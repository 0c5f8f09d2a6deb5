//! The notifier port and its adapters: Slack, the generic (Standard Webhooks) webhook,
//! and the console used by the CLI.
//!
//! Every destination renders the same [`Notification`]; [`facts::Facts`] holds what people
//! read (the status in words, the commit link, the duration) so each adapter only decides
//! layout.

mod console;
pub mod facts;
mod http;
mod slack;
mod webhook;

use std::future::Future;

use crate::domain::Notification;

pub use console::{ConsoleFormat, ConsoleNotifier};
pub use http::{HTTP_TIMEOUT, http_client};
pub use slack::{SlackNotifier, slack_message};
pub use webhook::{WebhookNotifier, sign, webhook_body};

/// Why a delivery did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (429, 5xx, timeouts, network).
    #[error("{0} (will retry)")]
    Retry(String),
    /// The destination refused this message for good (400, 403, 404, 410).
    #[error("{0} (gave up on this message)")]
    Permanent(String),
}

pub trait Notifier: Send + Sync {
    /// A stable name for delivery records and logs; never contains a secret.
    fn key(&self) -> &str;

    /// Sends one notification.
    fn send(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// One configured destination.
#[derive(Debug)]
pub enum Destination {
    Slack(SlackNotifier),
    Webhook(WebhookNotifier),
    Console(ConsoleNotifier),
}

impl Notifier for Destination {
    fn key(&self) -> &str {
        match self {
            Destination::Slack(slack) => slack.key(),
            Destination::Webhook(webhook) => webhook.key(),
            Destination::Console(console) => console.key(),
        }
    }

    async fn send(&self, notification: &Notification) -> Result<(), DeliveryError> {
        match self {
            Destination::Slack(slack) => slack.send(notification).await,
            Destination::Webhook(webhook) => webhook.send(notification).await,
            Destination::Console(console) => console.send(notification).await,
        }
    }
}

/// The destinations named by the configuration (Slack and the generic webhook).
pub fn destinations_from(
    config: &crate::config::Config,
    client: &reqwest::Client,
) -> Vec<Destination> {
    let mut destinations = Vec::new();
    if let Some(url) = &config.slack {
        destinations.push(Destination::Slack(SlackNotifier::new(
            client.clone(),
            url.clone(),
        )));
    }
    if let Some(webhook) = &config.webhook {
        destinations.push(Destination::Webhook(WebhookNotifier::new(
            client.clone(),
            webhook.url.clone(),
            webhook.secret.clone(),
        )));
    }
    destinations
}
