//! `DESTINATIONS`: every destination with its own filters, from the environment or the
//! Secrets Manager secret.
//!
//! ```json
//! [{"type": "slack", "url": "https://hooks.slack.com/services/…", "name": "prod-alerts",
//!   "events": ["sync.failed"], "resources": ["prod-*", "payments-stack"]},
//!  {"type": "webhook", "url": "https://example.com/hook", "secret": "whsec_…"}]
//! ```
//!
//! The value is the JSON array itself, or its base64 (the SAM template stores it base64
//! encoded in the secret, because CloudFormation cannot escape JSON inside JSON): a value
//! whose trimmed form starts with `[` is read as JSON, anything else is base64-decoded
//! first. Every mistake is reported with its position, `DESTINATIONS[2].events[0]: …`,
//! and no message ever repeats a URL's secret part or a signing secret.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::{KindSet, Problem, SecretUrl, SigningSecret};
use crate::domain::NotificationKind;

/// The four kinds of destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestinationKind {
    Slack,
    Webhook,
    Teams,
    Discord,
}

impl DestinationKind {
    pub const ALL: [DestinationKind; 4] = [
        DestinationKind::Slack,
        DestinationKind::Webhook,
        DestinationKind::Teams,
        DestinationKind::Discord,
    ];

    /// The `type` in `DESTINATIONS`, and the start of the destination's key.
    pub fn word(self) -> &'static str {
        match self {
            DestinationKind::Slack => "slack",
            DestinationKind::Webhook => "webhook",
            DestinationKind::Teams => "teams",
            DestinationKind::Discord => "discord",
        }
    }
}

/// One destination: where, how to sign (webhooks), and what it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationSpec {
    pub kind: DestinationKind,
    /// A name for logs and delivery records (`"name"` in `DESTINATIONS`).
    pub name: Option<String>,
    pub url: SecretUrl,
    /// The Standard Webhooks signing secret; always present for a webhook, never otherwise.
    pub secret: Option<SigningSecret>,
    pub filter: Filter,
    /// Where it was configured (`SLACK_WEBHOOK_URL`, `DESTINATIONS[2]`), for messages.
    pub origin: String,
}

impl DestinationSpec {
    /// The stable key used in delivery records and logs: `slack:prod-alerts` for a named
    /// destination, otherwise the type and a fingerprint of the URL (`slack#1a2b3c4d`),
    /// so it never contains the URL or a secret. Renaming a destination makes it a new
    /// one: notifications still pending are sent to it once.
    pub fn key(&self) -> String {
        match &self.name {
            Some(name) => format!("{}:{name}", self.kind.word()),
            None => format!("{}#{}", self.kind.word(), self.url.fingerprint()),
        }
    }
}

/// Which notifications a destination wants: by type and by stack name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    events: KindSet,
    /// `None`: every stack.
    resources: Option<Vec<Glob>>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter::ALL
    }
}

impl Filter {
    /// Everything.
    pub const ALL: Filter = Filter {
        events: KindSet::ALL,
        resources: None,
    };

    pub fn new(events: KindSet, resources: Option<Vec<Glob>>) -> Filter {
        Filter { events, resources }
    }

    pub fn accepts(&self, kind: NotificationKind, resource: &str) -> bool {
        self.events.contains(kind)
            && self
                .resources
                .as_ref()
                .is_none_or(|globs| globs.iter().any(|glob| glob.matches(resource)))
    }
}

/// A stack-name pattern: `*` matches any run of characters, `?` exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    /// Accepts the characters a stack name may have, plus the two wildcards.
    pub fn parse(pattern: &str) -> Result<Glob, String> {
        let fix = "use letters, digits, '-' and '_' as in stack names, with * for any run of characters and ? for one";
        if pattern.is_empty() {
            return Err(format!("the pattern is empty; {fix}"));
        }
        if pattern.chars().count() > 100 {
            return Err(format!(
                "the pattern is {} characters long, and no stack name is longer than 100",
                pattern.chars().count()
            ));
        }
        if let Some(bad) = pattern
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_*?".contains(*c)))
        {
            return Err(format!(
                "{} contains {bad:?}, which no stack name has; {fix}",
                quote(pattern)
            ));
        }
        Ok(Glob(pattern.to_owned()))
    }

    /// Iterative matching with one backtrack point: linear in practice, never exponential.
    pub fn matches(&self, name: &str) -> bool {
        let pattern = self.0.as_bytes();
        let name = name.as_bytes();
        let (mut p, mut n) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while n < name.len() {
            match pattern.get(p) {
                Some(b'*') => {
                    star = Some((p, n));
                    p += 1;
                }
                Some(b'?') => {
                    p += 1;
                    n += 1;
                }
                Some(c) if *c == name[n] => {
                    p += 1;
                    n += 1;
                }
                _ => match star {
                    Some((star_p, star_n)) => {
                        p = star_p + 1;
                        n = star_n + 1;
                        star = Some((star_p, star_n + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|c| *c == b'*')
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const FIELDS: &str = "type, url, secret, events, resources or name";
const TYPES: &str = "slack, webhook, teams or discord";
const EVENTS: &str = "sync.started, sync.succeeded or sync.failed";

/// Parses the `DESTINATIONS` value; problems go to `problems`, with their position.
pub(super) fn parse(value: &str, problems: &mut Vec<Problem>) -> Vec<DestinationSpec> {
    let mut problem = |path: String, message: String| {
        problems.push(Problem {
            variable: "DESTINATIONS",
            path,
            message,
        })
    };
    let trimmed = value.trim();
    // `{` is not base64 either: read it as JSON, to say an array was expected.
    let (text, encoded) = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        (trimmed.to_owned(), false)
    } else {
        let compact: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        match decoded {
            Some(text) => (text, true),
            None => {
                problem(
                    String::new(),
                    "is neither a JSON array (it does not start with [) nor the base64 of one; give the array itself, or its base64 (base64 -w0 destinations.json)".into(),
                );
                return Vec::new();
            }
        }
    };
    let after = if encoded {
        " after base64 decoding"
    } else {
        ""
    };
    let root: Value = match serde_json::from_str(&text) {
        Ok(root) => root,
        Err(error) => {
            problem(
                String::new(),
                format!(
                    "is not valid JSON{after}: {} at line {}, column {}",
                    syntax(&error),
                    error.line(),
                    error.column()
                ),
            );
            return Vec::new();
        }
    };
    let Value::Array(entries) = root else {
        problem(
            String::new(),
            format!(
                "expected a JSON array of destinations{after}, like [{{\"type\": \"slack\", \"url\": \"https://…\"}}]; found {}",
                kind_of(&root)
            ),
        );
        return Vec::new();
    };

    let mut specs = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let at = |field: &str| format!("[{index}]{field}");
        let Value::Object(entry) = entry else {
            problem(
                at(""),
                format!("expected an object with {FIELDS}; found {}", kind_of(entry)),
            );
            continue;
        };
        if let Some(spec) = parse_entry(index, entry, &mut problem) {
            specs.push(spec);
        }
    }
    specs
}

fn parse_entry(
    index: usize,
    entry: &Map<String, Value>,
    problem: &mut impl FnMut(String, String),
) -> Option<DestinationSpec> {
    let at = |field: &str| format!("[{index}].{field}");
    let mut ok = true;
    for key in entry.keys() {
        if !["type", "url", "secret", "events", "resources", "name"].contains(&key.as_str()) {
            problem(
                at(&clip_key(key)),
                format!("unknown field; expected {FIELDS}"),
            );
            ok = false;
        }
    }

    let kind = match entry.get("type") {
        None => {
            problem(at("type"), format!("missing; expected {TYPES}"));
            None
        }
        Some(Value::String(word)) => {
            let kind = DestinationKind::ALL
                .into_iter()
                .find(|kind| kind.word() == word.trim());
            if kind.is_none() {
                problem(
                    at("type"),
                    format!("unknown type {}; expected {TYPES}", quote(word)),
                );
            }
            kind
        }
        Some(other) => {
            problem(
                at("type"),
                format!("expected a string ({TYPES}); found {}", kind_of(other)),
            );
            None
        }
    };

    let url = match entry.get("url") {
        None => {
            problem(
                at("url"),
                "missing; give the destination's https:// URL".into(),
            );
            None
        }
        Some(Value::String(url)) => SecretUrl::parse(url)
            .map_err(|message| problem(at("url"), message))
            .ok(),
        Some(other) => {
            problem(
                at("url"),
                format!(
                    "expected a string (an https:// URL); found {}",
                    kind_of(other)
                ),
            );
            None
        }
    };

    let secret = match (kind, entry.get("secret")) {
        (Some(DestinationKind::Webhook), None) => {
            problem(
                at("secret"),
                "missing; a webhook is always signed, so receivers can verify it: set it to whsec_$(openssl rand -base64 32)".into(),
            );
            None
        }
        (Some(DestinationKind::Webhook), Some(Value::String(secret))) => {
            SigningSecret::parse(secret)
                .map_err(|message| problem(at("secret"), message))
                .ok()
        }
        (Some(DestinationKind::Webhook), Some(other)) => {
            problem(
                at("secret"),
                format!("expected a string (whsec_…); found {}", kind_of(other)),
            );
            None
        }
        (Some(other), Some(_)) => {
            problem(
                at("secret"),
                format!(
                    "only a webhook destination is signed, not {}; remove \"secret\" or set \"type\": \"webhook\"",
                    other.word()
                ),
            );
            ok = false;
            None
        }
        _ => None,
    };

    let events = match entry.get("events") {
        None => Some(KindSet::ALL),
        Some(value) => strings(value, &at("events"), "event types", problem).and_then(|words| {
            let mut kinds = KindSet::NONE;
            let mut valid = true;
            for (position, word) in words {
                match NotificationKind::ALL
                    .into_iter()
                    .find(|kind| kind.event_type() == word.trim())
                {
                    Some(kind) => kinds.insert(kind),
                    None => {
                        problem(
                            format!("[{index}].events[{position}]"),
                            format!("unknown event {}; expected {EVENTS}", quote(word)),
                        );
                        valid = false;
                    }
                }
            }
            valid.then_some(kinds)
        }),
    };

    let resources = match entry.get("resources") {
        None => Some(None),
        Some(value) => strings(value, &at("resources"), "stack names or patterns", problem)
            .and_then(|patterns| {
                let mut globs = Vec::new();
                for (position, pattern) in patterns {
                    match Glob::parse(pattern.trim()) {
                        Ok(glob) => globs.push(glob),
                        Err(message) => {
                            problem(format!("[{index}].resources[{position}]"), message)
                        }
                    }
                }
                (globs.len() == value.as_array().map_or(0, Vec::len)).then_some(Some(globs))
            }),
    };

    let name = match entry.get("name") {
        None => Some(None),
        Some(Value::String(name)) => {
            let name = name.trim();
            let valid = (1..=64).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if valid {
                Some(Some(name.to_owned()))
            } else {
                problem(
                    at("name"),
                    format!(
                        "{} is not a usable name; use 1-64 letters, digits, '-', '_' or '.'",
                        quote(name)
                    ),
                );
                None
            }
        }
        Some(other) => {
            problem(
                at("name"),
                format!("expected a string; found {}", kind_of(other)),
            );
            None
        }
    };

    let kind = kind?;
    let url = url?;
    let events = events?;
    let resources = resources?;
    let name = name?;
    if !ok || (kind == DestinationKind::Webhook && secret.is_none()) {
        return None;
    }
    Some(DestinationSpec {
        kind,
        name,
        url,
        secret,
        filter: Filter::new(events, resources),
        origin: format!("DESTINATIONS[{index}]"),
    })
}

/// A non-empty array of strings, each with its position; problems reported at `path`.
fn strings<'v>(
    value: &'v Value,
    path: &str,
    what: &str,
    problem: &mut impl FnMut(String, String),
) -> Option<Vec<(usize, &'v str)>> {
    let Value::Array(items) = value else {
        problem(
            path.to_owned(),
            format!("expected an array of {what}; found {}", kind_of(value)),
        );
        return None;
    };
    if items.is_empty() {
        problem(
            path.to_owned(),
            "is empty, so nothing would ever be sent; leave the field out to send everything"
                .into(),
        );
        return None;
    }
    let mut found = Vec::new();
    let mut valid = true;
    for (position, item) in items.iter().enumerate() {
        match item {
            Value::String(text) => found.push((position, text.as_str())),
            other => {
                problem(
                    format!("{path}[{position}]"),
                    format!("expected a string; found {}", kind_of(other)),
                );
                valid = false;
            }
        }
    }
    valid.then_some(found)
}

/// Checks that no two destinations share a key (the same URL twice without distinct
/// names, or the same name twice for one type): deliveries to one would count for both.
pub(super) fn check_unique(all: &[DestinationSpec], problems: &mut Vec<Problem>) {
    for (index, spec) in all.iter().enumerate() {
        let Some(first) = all[..index].iter().find(|other| other.key() == spec.key()) else {
            continue;
        };
        let (variable, path) = split_origin(&spec.origin);
        let message = match &spec.name {
            Some(name) => format!(
                "the name {} is already used by the {} destination of {}; give each a distinct name",
                quote(name),
                spec.kind.word(),
                first.origin
            ),
            None => format!(
                "sends to the same {} URL as {}; merge their filters into one entry, or give each a distinct \"name\"",
                spec.kind.word(),
                first.origin
            ),
        };
        problems.push(Problem {
            variable,
            path: if spec.name.is_some() {
                format!("{path}.name")
            } else {
                path
            },
            message,
        });
    }
}

/// `DESTINATIONS[2]` → ("DESTINATIONS", "[2]"); a single variable has no path.
fn split_origin(origin: &str) -> (&'static str, String) {
    match origin.strip_prefix("DESTINATIONS") {
        Some(path) => ("DESTINATIONS", path.to_owned()),
        None => (
            [
                "SLACK_WEBHOOK_URL",
                "WEBHOOK_URL",
                "TEAMS_WEBHOOK_URL",
                "DISCORD_WEBHOOK_URL",
            ]
            .into_iter()
            .find(|variable| *variable == origin)
            .unwrap_or("DESTINATIONS"),
            String::new(),
        ),
    }
}

/// Quotes a value for a message, unless it may be a secret (a URL, or anything long).
fn quote(value: &str) -> String {
    if value.contains("://") || value.contains("whsec_") || value.chars().count() > 40 {
        format!("(a value of {} characters)", value.chars().count())
    } else {
        format!("{value:?}")
    }
}

fn clip_key(key: &str) -> String {
    if key.contains("://") || key.chars().count() > 40 {
        "<unknown field>".into()
    } else {
        key.to_owned()
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// serde_json's syntax message without its position (we print line and column ourselves).
fn syntax(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.find(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str) -> Glob {
        Glob::parse(pattern).unwrap()
    }

    #[test]
    fn globs_match_like_shell_patterns() {
        assert!(glob("prod-*").matches("prod-payments"));
        assert!(glob("prod-*").matches("prod-"));
        assert!(!glob("prod-*").matches("staging-prod-x"));
        assert!(glob("*-stack").matches("payments-stack"));
        assert!(glob("a*b*c").matches("aXXbYYc"));
        assert!(!glob("a*b*c").matches("aXXbYY"));
        assert!(glob("stack-?").matches("stack-1"));
        assert!(!glob("stack-?").matches("stack-12"));
        assert!(glob("*").matches(""));
        assert!(glob("payments-stack").matches("payments-stack"));
        assert!(!glob("payments-stack").matches("payments-stack2"));
        assert!(glob("**a").matches("bba"));
    }

    #[test]
    fn glob_patterns_use_stack_name_characters_only() {
        assert!(Glob::parse("prod.*").unwrap_err().contains("contains '.'"));
        assert!(Glob::parse("").unwrap_err().contains("empty"));
        assert!(
            Glob::parse(&"x".repeat(101))
                .unwrap_err()
                .contains("101 characters")
        );
    }

    #[test]
    fn filters_need_both_the_type_and_the_stack() {
        let mut failed_only = KindSet::NONE;
        failed_only.insert(NotificationKind::Failed);
        let filter = Filter::new(failed_only, Some(vec![glob("prod-*")]));
        assert!(filter.accepts(NotificationKind::Failed, "prod-a"));
        assert!(!filter.accepts(NotificationKind::Succeeded, "prod-a"));
        assert!(!filter.accepts(NotificationKind::Failed, "dev-a"));
        assert!(Filter::ALL.accepts(NotificationKind::Started, "anything"));
    }

    #[test]
    fn quoting_never_repeats_what_may_be_a_secret() {
        assert_eq!(quote("slak"), "\"slak\"");
        assert_eq!(
            quote("https://hooks.slack.com/services/T/B/SECRET"),
            "(a value of 43 characters)"
        );
        assert!(!quote("whsec_abc").contains("abc"));
    }
}
