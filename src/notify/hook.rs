//! What every chat service reached through one incoming-webhook URL shares (Slack's
//! incoming webhooks, Teams Workflows, Discord): the `url` field and a single variable,
//! a key from the URL's fingerprint, and one JSON message posted per notification. Each
//! service only says how a notification looks ([`ChatFormat`]).

use std::marker::PhantomData;

use serde_json::Value;

use super::secret::SecretUrl;
use super::{Clients, Context, Delivered, DeliveryError, Entry, Kind, Variables, http};
use crate::domain::{Notification, Region};

/// A chat service's message format.
pub trait ChatFormat: Send + Sync + 'static {
    /// Its `type` in `DESTINATIONS`.
    const TYPE: &'static str;
    /// Its single variable, holding the webhook URL.
    const VARIABLE: &'static str;
    /// The message posted for a notification (console links point at the Region).
    const RENDER: fn(&Notification, Option<&Region>) -> Value;
}

/// A chat service's incoming webhook.
pub struct ChatWebhook<F> {
    url: SecretUrl,
    http: reqwest::Client,
    format: PhantomData<F>,
}

impl<F: ChatFormat> Kind for ChatWebhook<F> {
    const TYPE: &'static str = F::TYPE;
    const VARIABLES: &'static [&'static str] = &[F::VARIABLE];
    const FIELDS: &'static [&'static str] = &["url"];
    type Settings = SecretUrl;

    fn from_entry(entry: &mut Entry) -> Option<SecretUrl> {
        entry.url("url")
    }

    fn from_variables(variables: &mut Variables) -> Option<SecretUrl> {
        variables.url(F::VARIABLE)
    }

    fn identity(url: &SecretUrl) -> String {
        url.expose().as_str().to_owned()
    }

    fn describe(url: &SecretUrl) -> String {
        url.to_string()
    }

    fn build(url: &SecretUrl, clients: &Clients) -> Self {
        ChatWebhook {
            url: url.clone(),
            http: clients.http.clone(),
            format: PhantomData,
        }
    }

    async fn send(
        &self,
        notification: &Notification,
        context: &Context<'_>,
    ) -> Result<Delivered, DeliveryError> {
        let body = super::encode(context.gate, &(F::RENDER)(notification, context.region))?;
        http::post_webhook(&self.http, context.gate, &self.url, &body, Vec::new).await?;
        Ok(Delivered::default())
    }
}

/// Declares a chat service reached through an incoming webhook, by its format:
/// `chat_webhook!(Slack, SlackFormat, "slack", "SLACK_WEBHOOK_URL", slack_message);`
macro_rules! chat_webhook {
    ($name:ident, $format:ident, $type:literal, $variable:literal, $render:path) => {
        #[doc = concat!("A ", $type, " incoming webhook (`", $variable, "`).")]
        pub type $name = super::hook::ChatWebhook<$format>;

        #[doc = concat!("How a ", $type, " message looks.")]
        pub struct $format;

        impl super::hook::ChatFormat for $format {
            const TYPE: &'static str = $type;
            const VARIABLE: &'static str = $variable;
            const RENDER: fn(&Notification, Option<&Region>) -> serde_json::Value = $render;
        }
    };
}
pub(crate) use chat_webhook;
