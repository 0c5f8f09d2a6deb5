//! The notifier port and its adapters: Slack, Microsoft Teams, Discord, the generic
//! (Standard Webhooks) webhook, and the console used by the CLI.
//!
//! Every destination renders the same [`Notification`]; [`facts::Facts`] holds what people
//! read (the status in words, the commit link, the duration, the console link) so each
//! adapter only decides layout and escaping. [`http::Endpoint`] does the polite part of
//! delivery (timeouts, `Retry-After`, backoff within a per-run budget), and each
//! destination's [`Filter`] says which notifications it wants.

mod console;
mod discord;
pub mod facts;
pub mod http;
mod slack;
mod teams;
mod webhook;

use std::future::Future;

use crate::config::{Config, DestinationKind, DestinationSpec, Filter};
use crate::domain::{Notification, Region};

pub use console::{ConsoleFormat, ConsoleNotifier};
pub use discord::{DiscordNotifier, discord_message};
pub use http::{DeliveryPolicy, Endpoint, HTTP_TIMEOUT, USER_AGENT, http_client};
pub use slack::{SlackNotifier, slack_message};
pub use teams::{TeamsNotifier, teams_message};
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

    /// Whether this destination wants `notification` at all (its `events` and
    /// `resources` filters). A notification is complete once every destination that
    /// accepts it has it.
    fn accepts(&self, _notification: &Notification) -> bool {
        true
    }

    /// A run (tick) starts: retry budgets are renewed, and no retry may wait past
    /// `deadline`.
    fn begin_run(&self, _deadline: Option<tokio::time::Instant>) {}

    /// Sends one notification.
    fn send(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// What every HTTP destination has: where and how to post, what it wants, and the
/// Region its console links point at.
#[derive(Debug)]
pub struct Target {
    pub endpoint: Endpoint,
    pub filter: Filter,
    pub region: Option<Region>,
}

impl Target {
    fn accepts(&self, notification: &Notification) -> bool {
        self.filter
            .accepts(notification.kind, notification.resource.as_str())
    }

    /// Posts a rendered chat message (Slack, Teams, Discord) as JSON, with no extra headers.
    async fn post_message(&self, message: &serde_json::Value) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(message).map_err(|error| {
            DeliveryError::Permanent(format!("{}: cannot encode: {error}", self.endpoint.key()))
        })?;
        self.endpoint.post(&body, Vec::new).await
    }
}

/// One configured destination.
#[derive(Debug)]
pub enum Destination {
    Slack(SlackNotifier),
    Webhook(WebhookNotifier),
    Teams(TeamsNotifier),
    Discord(DiscordNotifier),
    Console(ConsoleNotifier),
}

impl Destination {
    /// False for the console: a local printer, not somewhere a notification is owed to.
    pub fn is_durable(&self) -> bool {
        !matches!(self, Destination::Console(_))
    }
    /// The destination a [`DestinationSpec`] describes, posting through `client`.
    pub fn from_spec(
        spec: &DestinationSpec,
        client: &reqwest::Client,
        policy: DeliveryPolicy,
        region: Option<&Region>,
    ) -> Destination {
        let target = Target {
            endpoint: Endpoint::new(spec.key(), spec.url.clone(), client.clone(), policy),
            filter: spec.filter.clone(),
            region: region.cloned(),
        };
        match (spec.kind, &spec.secret) {
            (DestinationKind::Slack, _) => Destination::Slack(SlackNotifier::new(target)),
            (DestinationKind::Teams, _) => Destination::Teams(TeamsNotifier::new(target)),
            (DestinationKind::Discord, _) => Destination::Discord(DiscordNotifier::new(target)),
            (DestinationKind::Webhook, Some(secret)) => {
                Destination::Webhook(WebhookNotifier::new(target, secret.clone()))
            }
            // The configuration never builds a webhook without its secret; if it ever
            // did, refuse every message rather than send an unsigned one.
            (DestinationKind::Webhook, None) => {
                Destination::Webhook(WebhookNotifier::unsigned(target))
            }
        }
    }
}

impl Notifier for Destination {
    fn key(&self) -> &str {
        match self {
            Destination::Slack(slack) => slack.key(),
            Destination::Webhook(webhook) => webhook.key(),
            Destination::Teams(teams) => teams.key(),
            Destination::Discord(discord) => discord.key(),
            Destination::Console(console) => console.key(),
        }
    }

    fn accepts(&self, notification: &Notification) -> bool {
        match self {
            Destination::Slack(slack) => slack.accepts(notification),
            Destination::Webhook(webhook) => webhook.accepts(notification),
            Destination::Teams(teams) => teams.accepts(notification),
            Destination::Discord(discord) => discord.accepts(notification),
            Destination::Console(console) => console.accepts(notification),
        }
    }

    fn begin_run(&self, deadline: Option<tokio::time::Instant>) {
        match self {
            Destination::Slack(slack) => slack.begin_run(deadline),
            Destination::Webhook(webhook) => webhook.begin_run(deadline),
            Destination::Teams(teams) => teams.begin_run(deadline),
            Destination::Discord(discord) => discord.begin_run(deadline),
            Destination::Console(console) => console.begin_run(deadline),
        }
    }

    async fn send(&self, notification: &Notification) -> Result<(), DeliveryError> {
        match self {
            Destination::Slack(slack) => slack.send(notification).await,
            Destination::Webhook(webhook) => webhook.send(notification).await,
            Destination::Teams(teams) => teams.send(notification).await,
            Destination::Discord(discord) => discord.send(notification).await,
            Destination::Console(console) => console.send(notification).await,
        }
    }
}

/// Every destination the configuration names (single-URL variables and `DESTINATIONS`),
/// delivered to with the default [`DeliveryPolicy`].
pub fn destinations_from(config: &Config, client: &reqwest::Client) -> Vec<Destination> {
    destinations_with_policy(config, client, DeliveryPolicy::default())
}

/// [`destinations_from`] with another delivery policy (tests use short timeouts).
pub fn destinations_with_policy(
    config: &Config,
    client: &reqwest::Client,
    policy: DeliveryPolicy,
) -> Vec<Destination> {
    config
        .all_destinations()
        .iter()
        .map(|spec| Destination::from_spec(spec, client, policy, config.console_region.as_ref()))
        .collect()
}

/// Implements the [`Notifier`] plumbing shared by the HTTP destinations, which hold a
/// [`Target`] in a field named `target`.
macro_rules! http_notifier_basics {
    () => {
        fn key(&self) -> &str {
            self.target.endpoint.key()
        }

        fn accepts(&self, notification: &crate::domain::Notification) -> bool {
            self.target.accepts(notification)
        }

        fn begin_run(&self, deadline: Option<tokio::time::Instant>) {
            self.target.endpoint.begin_run(deadline)
        }
    };
}
pub(crate) use http_notifier_basics;
