//! The notifier port and its adapters: one file per kind of destination.
//!
//! Every chat destination renders the same [`layout::Message`]; [`facts::Facts`] holds
//! what people read (the status in words, the commit link, the duration, the console
//! link). Each run gives every destination a [`Gate`], which bounds its requests (time,
//! retries, a paused or quiet destination). A destination's [`Filter`] says which
//! notifications it wants.
//!
//! Adding a kind of destination takes one adapter file that implements [`Kind`] (its
//! `DESTINATIONS` fields and single variables, how it renders and sends) and one line in
//! [`destination_kinds!`] below.

mod aws_service;
mod console;
mod discord;
mod eventbridge;
pub mod facts;
mod gate;
mod google_chat;
mod hook;
pub mod http;
pub mod layout;
mod pagerduty;
mod q_developer;
pub mod secret;
mod slack;
mod slack_app;
pub mod spec;
mod teams;
mod test_message;
mod webhook;

use std::future::Future;

use crate::domain::ledger::Thread;
use crate::domain::{Filter, KindSet, Notification, Region};

pub use console::{ConsoleFormat, pretty};
pub use discord::discord_message;
pub use eventbridge::{ENTRY_LIMIT, EntryTooLarge, eventbridge_entry};
pub use gate::{Attempt, Gate, MAX_QUIET};
pub use google_chat::{google_chat_message, thread_key as google_chat_thread_key};
pub use http::{DeliveryPolicy, HTTP_TIMEOUT, USER_AGENT, http_client};
pub use pagerduty::{
    Endpoint as PagerDutyEndpoint, PagerDutySettings, dedup_key as pagerduty_dedup_key,
    pagerduty_event,
};
pub use q_developer::q_developer_message;
pub use secret::{InvalidSigningSecret, InvalidUrl, SecretToken, SecretUrl, SigningSecret};
pub use slack::{slack_message, slack_thread_reply};
pub use slack_app::SlackAppSettings;
pub use spec::{DestinationSpec, Entry, Problem, Variables};
pub use teams::teams_message;
pub use test_message::{TestResult, send_test_to, test_notification};
pub use webhook::{sign, webhook_body};

/// Why a delivery did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (429, 5xx, timeouts, network, a paused destination).
    #[error("{0} (will retry)")]
    Retry(String),
    /// The destination refused this message for good (400, 403, 404, 410).
    #[error("{0} (gave up on this message)")]
    Permanent(String),
    /// The request ran out of time after it was sent: the destination may have taken it.
    /// Retried like [`Retry`](Self::Retry), with the same id: the one repeat a receiver
    /// may see.
    #[error("{0} (in doubt: it may have arrived; sent again next time with the same id)")]
    InDoubt(String),
}

/// What a send gets besides the notification.
pub struct Context<'a> {
    /// This run of this destination.
    pub gate: &'a Gate,
    /// The message this destination posted for the notification's attempt, if any.
    pub thread: Option<&'a Thread>,
    /// The function's Region, for console links (a hub's stacks carry their own).
    pub region: Option<&'a Region>,
}

/// A delivery that succeeded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The message posted or updated for the attempt (`channel`, `ts`), to keep.
    pub thread: Option<(String, String)>,
}

/// What adapters are built with: clients made once per process.
#[derive(Debug, Clone)]
pub struct Clients {
    pub http: reqwest::Client,
    pub policy: DeliveryPolicy,
    /// The AWS SDK configuration, for destinations that are AWS services (Amazon Q
    /// Developer through SNS, EventBridge); `None` where there is none (tests and the
    /// benchmark without AWS), and then those destinations refuse every message.
    pub aws: Option<aws_config::SdkConfig>,
}

impl Clients {
    pub fn new(http: reqwest::Client) -> Clients {
        Clients {
            http,
            policy: DeliveryPolicy::default(),
            aws: None,
        }
    }

    /// The same clients, with the AWS SDK configuration.
    pub fn with_aws(mut self, aws: aws_config::SdkConfig) -> Clients {
        self.aws = Some(aws);
        self
    }
}

/// A kind of destination: how it is configured, and how it sends.
pub trait Kind: Sized + Send + Sync {
    /// Its `type` in `DESTINATIONS`, and the start of its destinations' keys.
    const TYPE: &'static str;
    /// The variables of its single-variable form (the first names it in messages).
    const VARIABLES: &'static [&'static str];
    /// Its fields in a `DESTINATIONS` entry, besides `type`, `name` and the filters.
    const FIELDS: &'static [&'static str];
    type Settings: Clone + std::fmt::Debug + PartialEq + Eq + Send + Sync;

    /// Its settings from a `DESTINATIONS` entry; problems are reported on the entry.
    fn from_entry(entry: &mut Entry) -> Option<Self::Settings>;
    /// Its settings from its single variables, when they are set.
    fn from_variables(variables: &mut Variables) -> Option<Self::Settings>;
    /// What it gets when no `events` filter says otherwise.
    fn default_events() -> KindSet {
        KindSet::ALL
    }
    /// What tells two destinations of this kind apart (hashed into the key; never shown).
    fn identity(settings: &Self::Settings) -> String;
    /// What `identity` is, in words: "URL", "channel".
    fn identity_word() -> &'static str {
        "URL"
    }
    /// Where it sends, for people, secrets masked.
    fn describe(settings: &Self::Settings) -> String;
    fn build(settings: &Self::Settings, clients: &Clients) -> Self;
    fn send(
        &self,
        notification: &Notification,
        context: &Context<'_>,
    ) -> impl Future<Output = Result<Delivered, DeliveryError>> + Send;
}

/// A kind, as the configuration parser sees it.
pub struct KindInfo {
    pub word: &'static str,
    pub variables: &'static [&'static str],
    pub fields: &'static [&'static str],
    pub from_entry: fn(&mut Entry) -> Option<Settings>,
    pub from_variables: fn(&mut Variables) -> Option<Settings>,
    pub default_events: fn() -> KindSet,
}

/// The variables that configure a destination, for messages: the first of each kind (a
/// second, such as `WEBHOOK_SECRET`, goes with it), then `DESTINATIONS`.
pub fn destination_variables() -> String {
    let mut names: Vec<&str> = KINDS
        .iter()
        .filter_map(|kind| kind.variables.first().copied())
        .collect();
    names.push("DESTINATIONS");
    names.join(", ")
}

/// Lists the kinds of destination: each line is a variant and its adapter.
macro_rules! destination_kinds {
    ($($variant:ident($module:ident::$adapter:ident)),* $(,)?) => {
        /// The settings of one destination, by kind.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Settings {
            $($variant(<$module::$adapter as Kind>::Settings)),*
        }

        impl Settings {
            pub fn type_word(&self) -> &'static str {
                match self { $(Settings::$variant(_) => <$module::$adapter as Kind>::TYPE),* }
            }
            pub fn identity(&self) -> String {
                match self { $(Settings::$variant(s) => <$module::$adapter as Kind>::identity(s)),* }
            }
            pub fn identity_word(&self) -> &'static str {
                match self { $(Settings::$variant(_) => <$module::$adapter as Kind>::identity_word()),* }
            }
            pub fn describe(&self) -> String {
                match self { $(Settings::$variant(s) => <$module::$adapter as Kind>::describe(s)),* }
            }
            fn build(&self, clients: &Clients) -> Adapter {
                match self {
                    $(Settings::$variant(s) => Adapter::$variant(<$module::$adapter as Kind>::build(s, clients))),*
                }
            }
        }

        /// Every kind, in the order single variables are read.
        pub const KINDS: &[KindInfo] = &[$(KindInfo {
            word: <$module::$adapter as Kind>::TYPE,
            variables: <$module::$adapter as Kind>::VARIABLES,
            fields: <$module::$adapter as Kind>::FIELDS,
            from_entry: |entry| <$module::$adapter as Kind>::from_entry(entry).map(Settings::$variant),
            from_variables: |variables| <$module::$adapter as Kind>::from_variables(variables).map(Settings::$variant),
            default_events: <$module::$adapter as Kind>::default_events,
        }),*];

        enum Adapter {
            $($variant($module::$adapter),)*
            Console(console::Console),
        }

        impl Adapter {
            async fn send(&self, notification: &Notification, context: &Context<'_>) -> Result<Delivered, DeliveryError> {
                match self {
                    $(Adapter::$variant(adapter) => adapter.send(notification, context).await,)*
                    Adapter::Console(console) => console.send(notification, context).await,
                }
            }
        }
    };
}

destination_kinds! {
    Slack(slack::Slack),
    SlackApp(slack_app::SlackApp),
    Webhook(webhook::Webhook),
    Teams(teams::Teams),
    Discord(discord::Discord),
    GoogleChat(google_chat::GoogleChat),
    PagerDuty(pagerduty::PagerDuty),
    QDeveloper(q_developer::QDeveloper),
    EventBridge(eventbridge::EventBridge),
}

/// One configured destination.
pub struct Destination {
    key: String,
    label: String,
    filter: Filter,
    durable: bool,
    policy: DeliveryPolicy,
    region: Option<Region>,
    adapter: Adapter,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destination")
            .field("key", &self.key)
            .field("label", &self.label)
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl Destination {
    /// The destination a [`DestinationSpec`] describes; console links point at `region`.
    pub fn from_spec(
        spec: &DestinationSpec,
        clients: &Clients,
        region: Option<&Region>,
    ) -> Destination {
        Destination {
            key: spec.key(),
            label: spec.label(),
            filter: spec.filter.clone(),
            durable: true,
            policy: clients.policy,
            region: region.cloned(),
            adapter: spec.settings.build(clients),
        }
    }

    /// The CLI's console: it prints what this process decides, and is owed nothing.
    pub fn console(
        format: ConsoleFormat,
        sink: console::Sink,
        region: Option<&Region>,
    ) -> Destination {
        Destination {
            key: "console".into(),
            label: "console (standard output)".into(),
            filter: Filter::ALL,
            durable: false,
            policy: DeliveryPolicy::default(),
            region: region.cloned(),
            adapter: Adapter::Console(console::Console::new(format, sink)),
        }
    }

    /// A stable name for delivery records and logs; never contains a secret.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// How people see it: its key, where it was configured, where it sends (masked).
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    pub fn policy(&self) -> DeliveryPolicy {
        self.policy
    }

    /// False for the console: a local printer, not somewhere a notification is owed to.
    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// Whether this destination wants `notification` at all.
    pub fn accepts(&self, notification: &Notification) -> bool {
        self.filter.accepts(notification)
    }

    /// Sends one notification through this run's `gate`.
    pub async fn send(
        &self,
        notification: &Notification,
        gate: &Gate,
        thread: Option<&Thread>,
    ) -> Result<Delivered, DeliveryError> {
        let context = Context {
            gate,
            thread,
            region: self.region.as_ref(),
        };
        self.adapter.send(notification, &context).await
    }
}

/// A rendered message as a request body.
fn encode(gate: &Gate, message: &serde_json::Value) -> Result<Vec<u8>, DeliveryError> {
    serde_json::to_vec(message).map_err(|error| {
        DeliveryError::Permanent(format!("{}: cannot encode: {error}", gate.key()))
    })
}

/// Every destination the configuration names (single variables, then `DESTINATIONS`).
pub fn destinations(
    specs: &[DestinationSpec],
    clients: &Clients,
    region: Option<&Region>,
) -> Vec<Destination> {
    specs
        .iter()
        .map(|spec| Destination::from_spec(spec, clients, region))
        .collect()
}
