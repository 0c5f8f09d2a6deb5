//! Configuration, parsed once at start-up into typed values (ARCHITECTURE §5).
//!
//! Every variable is read through one lookup function, so the same parser serves the
//! Lambda environment, the CLI, the Secrets Manager secret and the tests. A bad value is
//! refused with a message naming the variable, the value (secrets masked) and the fix;
//! all problems are reported at once so a deploy is fixed in one go.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;

use crate::domain::Region;
use crate::domain::{NotificationKind, ResourceName};

mod destinations;

pub use destinations::{DestinationKind, DestinationSpec, Filter, Glob};

/// Which resources to check on a scheduled tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watch {
    /// Discover every `CFN_STACK_SYNC` sync configuration in the account and region.
    Discover,
    Resources(Vec<ResourceName>),
}

/// The kinds of notification to send at all (`NOTIFY_ON`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSet {
    started: bool,
    succeeded: bool,
    failed: bool,
}

impl KindSet {
    pub const ALL: KindSet = KindSet {
        started: true,
        succeeded: true,
        failed: true,
    };

    pub const NONE: KindSet = KindSet {
        started: false,
        succeeded: false,
        failed: false,
    };

    pub fn contains(&self, kind: NotificationKind) -> bool {
        match kind {
            NotificationKind::Started => self.started,
            NotificationKind::Succeeded => self.succeeded,
            NotificationKind::Failed => self.failed,
        }
    }

    fn insert(&mut self, kind: NotificationKind) {
        match kind {
            NotificationKind::Started => self.started = true,
            NotificationKind::Succeeded => self.succeeded = true,
            NotificationKind::Failed => self.failed = true,
        }
    }
}

/// A webhook URL: a credential in itself (Slack's path is the key), so it is never
/// printed whole. `Debug` and `Display` show the scheme and host only.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(reqwest::Url);

impl SecretUrl {
    /// Accepts `https` URLs, and `http` only for loopback hosts (local testing).
    pub fn parse(value: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(value.trim()).map_err(|error| {
            format!(
                "{} is not a URL ({error}); expected https://host/path",
                mask(value)
            )
        })?;
        let loopback = match url.host() {
            Some(url::Host::Domain(domain)) => domain == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        match url.scheme() {
            "https" if url.host().is_some() => Ok(SecretUrl(url)),
            "http" if loopback => Ok(SecretUrl(url)),
            scheme => Err(format!(
                "{} uses {scheme}; webhook URLs must be https:// (http:// is allowed only for localhost and 127.0.0.1)",
                mask(value)
            )),
        }
    }

    pub fn expose(&self) -> &reqwest::Url {
        &self.0
    }

    /// A short, stable fingerprint that tells destinations apart in records and logs
    /// without revealing the URL.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.0.as_str().as_bytes());
        digest[..4]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({self})")
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}/…",
            self.0.scheme(),
            self.0.host_str().unwrap_or("")
        )
    }
}

/// Shows where a rejected URL points without showing its secret part.
fn mask(value: &str) -> String {
    match reqwest::Url::parse(value.trim()) {
        Ok(url) => format!("\"{}://{}/…\"", url.scheme(), url.host_str().unwrap_or("")),
        Err(_) => format!("a value of {} characters", value.chars().count()),
    }
}

/// A Standard Webhooks signing secret (`whsec_` + base64 of the key). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    pub fn parse(value: &str) -> Result<Self, String> {
        let fix = "expected whsec_ followed by base64 of a random key of 24 to 64 bytes, e.g. whsec_$(openssl rand -base64 32)";
        let Some(encoded) = value.trim().strip_prefix("whsec_") else {
            return Err(format!("the value does not start with whsec_; {fix}"));
        };
        let key = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| format!("the part after whsec_ is not valid base64; {fix}"))?;
        if !(24..=64).contains(&key.len()) {
            return Err(format!("the key is {} bytes long; {fix}", key.len()));
        }
        Ok(SigningSecret(key))
    }

    pub fn key(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(redacted)")
    }
}

/// The generic webhook and its signing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: SecretUrl,
    pub secret: SigningSecret,
}

/// Everything the function needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub watch: Watch,
    /// `STATE_TABLE`: the DynamoDB table; `None` means the local embedded store.
    pub state_table: Option<String>,
    pub slack: Option<SecretUrl>,
    pub webhook: Option<WebhookConfig>,
    /// `TEAMS_WEBHOOK_URL`: a Microsoft Teams Workflows webhook.
    pub teams: Option<SecretUrl>,
    /// `DISCORD_WEBHOOK_URL`.
    pub discord: Option<SecretUrl>,
    /// `DESTINATIONS`: more destinations, each with its own filters.
    pub destinations: Vec<DestinationSpec>,
    /// `AWS_REGION`, for links to the CloudFormation console (none when unset).
    pub console_region: Option<Region>,
    pub notify_on: KindSet,
    /// How many `GetResourceSyncStatus` calls run at once.
    pub fetch_concurrency: usize,
    /// How long an undelivered notification is retried before it is dropped.
    pub retention: Duration,
    /// How long a run may hold a resource's notifications while it delivers them.
    pub lease: Duration,
}

impl Config {
    pub const DEFAULT_FETCH_CONCURRENCY: usize = 16;

    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`; unset and empty are the same.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let mut problems = Vec::new();
        let mut problem = |variable: &'static str, message: String| {
            problems.push(Problem {
                variable,
                path: String::new(),
                message,
            })
        };

        let watch = match get("WATCH_RESOURCES") {
            None => Watch::Discover,
            Some(value) if value.trim() == "*" => Watch::Discover,
            Some(value) => {
                let mut names = Vec::new();
                for (index, part) in value.split(',').map(str::trim).enumerate() {
                    match ResourceName::parse(part) {
                        Ok(name) if !names.contains(&name) => names.push(name),
                        Ok(_) => {}
                        Err(error) => problem(
                            "WATCH_RESOURCES",
                            format!(
                                "item {} {error}; give stack names separated by commas, or * to discover them",
                                index + 1
                            ),
                        ),
                    }
                }
                Watch::Resources(names)
            }
        };

        let state_table = get("STATE_TABLE").map(|table| table.trim().to_owned());
        if let Some(table) = &state_table {
            let valid = (3..=255).contains(&table.len())
                && table
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
            if !valid {
                problem(
                    "STATE_TABLE",
                    format!(
                        "{table:?} is not a DynamoDB table name; use 3-255 letters, digits, '_', '-' or '.', or unset it for the local store"
                    ),
                );
            }
        }

        let mut url = |variable: &'static str| {
            get(variable).and_then(|value| {
                SecretUrl::parse(&value)
                    .map_err(|message| problem(variable, message))
                    .ok()
            })
        };
        let slack = url("SLACK_WEBHOOK_URL");
        let teams = url("TEAMS_WEBHOOK_URL");
        let discord = url("DISCORD_WEBHOOK_URL");
        let webhook_url = url("WEBHOOK_URL");
        let secret = get("WEBHOOK_SECRET").and_then(|value| {
            SigningSecret::parse(&value)
                .map_err(|message| problem("WEBHOOK_SECRET", message))
                .ok()
        });
        let webhook = match (
            webhook_url,
            secret,
            get("WEBHOOK_URL"),
            get("WEBHOOK_SECRET"),
        ) {
            (Some(url), Some(secret), _, _) => Some(WebhookConfig { url, secret }),
            (_, _, Some(_), None) => {
                problem(
                    "WEBHOOK_SECRET",
                    "is required with WEBHOOK_URL, so receivers can verify each message; set it to whsec_$(openssl rand -base64 32)".into(),
                );
                None
            }
            (_, _, None, Some(_)) => {
                problem("WEBHOOK_URL", "is required with WEBHOOK_SECRET; set the URL to send to, or unset WEBHOOK_SECRET".into());
                None
            }
            _ => None,
        };

        let notify_on = match get("NOTIFY_ON") {
            None => KindSet::ALL,
            Some(value) => {
                let mut kinds = KindSet {
                    started: false,
                    succeeded: false,
                    failed: false,
                };
                for word in value.split(',').map(str::trim) {
                    let word = word.strip_prefix("sync.").unwrap_or(word);
                    match NotificationKind::ALL
                        .into_iter()
                        .find(|kind| kind.word() == word)
                    {
                        Some(kind) => kinds.insert(kind),
                        None => problem(
                            "NOTIFY_ON",
                            format!(
                                "unknown word {word:?}; use a comma-separated subset of started,succeeded,failed"
                            ),
                        ),
                    }
                }
                kinds
            }
        };

        let mut number = |variable: &'static str,
                          default: u64,
                          range: std::ops::RangeInclusive<u64>,
                          unit: &str| {
            match get(variable) {
                None => default,
                Some(value) => match value.trim().parse::<u64>() {
                    Ok(parsed) if range.contains(&parsed) => parsed,
                    _ => {
                        problem(
                            variable,
                            format!(
                                "{value:?} is not a whole number of {unit} from {} to {}",
                                range.start(),
                                range.end()
                            ),
                        );
                        default
                    }
                },
            }
        };
        let fetch_concurrency = number(
            "FETCH_CONCURRENCY",
            Self::DEFAULT_FETCH_CONCURRENCY as u64,
            1..=64,
            "calls",
        ) as usize;
        let retention =
            Duration::from_secs(number("RETENTION_HOURS", 24, 1..=24 * 30, "hours") * 3600);
        let lease = Duration::from_secs(number("LEASE_SECONDS", 120, 60..=3600, "seconds"));

        let destinations = get("DESTINATIONS")
            .map(|value| destinations::parse(&value, &mut problems))
            .unwrap_or_default();
        let console_region = get("AWS_REGION").and_then(|region| Region::parse(&region).ok());

        let config = Config {
            watch,
            state_table,
            slack,
            webhook,
            teams,
            discord,
            destinations,
            console_region,
            notify_on,
            fetch_concurrency,
            retention,
            lease,
        };
        destinations::check_unique(&config.all_destinations(), &mut problems);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError { problems })
        }
    }

    /// Every destination: the single-URL variables first, then `DESTINATIONS` in order.
    pub fn all_destinations(&self) -> Vec<DestinationSpec> {
        let single = |kind: DestinationKind, url: &SecretUrl, origin: &str| DestinationSpec {
            kind,
            name: None,
            url: url.clone(),
            secret: None,
            filter: Filter::ALL,
            origin: origin.to_owned(),
        };
        let mut all = Vec::new();
        if let Some(url) = &self.slack {
            all.push(single(DestinationKind::Slack, url, "SLACK_WEBHOOK_URL"));
        }
        if let Some(webhook) = &self.webhook {
            let mut spec = single(DestinationKind::Webhook, &webhook.url, "WEBHOOK_URL");
            spec.secret = Some(webhook.secret.clone());
            all.push(spec);
        }
        if let Some(url) = &self.teams {
            all.push(single(DestinationKind::Teams, url, "TEAMS_WEBHOOK_URL"));
        }
        if let Some(url) = &self.discord {
            all.push(single(DestinationKind::Discord, url, "DISCORD_WEBHOOK_URL"));
        }
        all.extend(self.destinations.iter().cloned());
        all
    }
}

/// One bad variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub variable: &'static str,
    /// Where inside the variable, for structured values: `[2].events[0]`.
    pub path: String,
    pub message: String,
}

/// Every problem found in the configuration, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid configuration:")?;
        for Problem {
            variable,
            path,
            message,
        } in &self.problems
        {
            write!(f, "\n  {variable}{path}: {message}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
