//! Destinations as configured: the single variables (`SLACK_WEBHOOK_URL`, …) and
//! `DESTINATIONS`, every destination with its own filters, from the environment or the
//! Secrets Manager secret.
//!
//! ```json
//! [{"type": "slack", "url": "https://hooks.slack.com/services/…", "name": "prod-alerts",
//!   "events": ["sync.failed"], "resources": ["prod-*", "payments-stack"]},
//!  {"type": "webhook", "url": "https://example.com/hook", "secret": "whsec_…"}]
//! ```
//!
//! This file reads what every entry has (`type`, `name`, `events`, `resources`,
//! `accounts`, `regions`); each kind reads its own fields ([`Kind::from_entry`]) through an
//! [`Entry`], and its own variables through [`Variables`]. The value is the JSON array
//! itself, or its base64 (the SAM template stores it base64 encoded in the secret, because
//! CloudFormation cannot escape JSON inside JSON). Every mistake is reported with its
//! position, `DESTINATIONS[2].events[0]: …`, and no message ever repeats a URL's secret
//! part, a signing secret or a token.
//!
//! [`Kind::from_entry`]: super::Kind::from_entry

use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::secret::{SecretToken, SecretUrl, quote};
use super::{KINDS, Settings};
use crate::domain::{Filter, Glob, InvalidGlob, KindSet, NotificationKind};

/// One bad variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub variable: &'static str,
    /// Where inside the variable, for structured values: `[2].events[0]`.
    pub path: String,
    pub message: String,
}

/// One destination: its kind's settings, and what it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationSpec {
    /// A name for logs and delivery records (`"name"` in `DESTINATIONS`).
    pub name: Option<String>,
    pub filter: Filter,
    /// Where it was configured (`SLACK_WEBHOOK_URL`, `DESTINATIONS[2]`), for messages.
    pub origin: String,
    pub settings: Settings,
}

impl DestinationSpec {
    /// The stable key used in delivery records and logs: `slack:prod-alerts` for a named
    /// destination, otherwise the type and a fingerprint of where it sends
    /// (`slack#1a2b3c4d`), so it never contains a URL or a secret. Renaming a destination
    /// makes it a new one: notifications still pending are sent to it once.
    pub fn key(&self) -> String {
        match &self.name {
            Some(name) => format!("{}:{name}", self.settings.type_word()),
            None => format!(
                "{}#{}",
                self.settings.type_word(),
                fingerprint(&self.settings.identity())
            ),
        }
    }

    /// How people see it in logs, `send-test` and start-up lines: its key, where it was
    /// configured and where it sends, secrets masked.
    pub fn label(&self) -> String {
        format!(
            "{} ({}, {})",
            self.key(),
            self.origin,
            self.settings.describe()
        )
    }
}

/// A short, stable fingerprint of `identity` (a URL, a channel) that tells destinations
/// apart without revealing it.
pub fn fingerprint(identity: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(identity.as_bytes());
    digest[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The variables of the single-variable form, read through the configuration's lookup.
pub struct Variables<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: &'a mut Vec<Problem>,
}

impl Variables<'_> {
    /// The value of `name`, unset when empty.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    pub fn problem(&mut self, variable: &'static str, message: impl Into<String>) {
        self.problems.push(Problem {
            variable,
            path: String::new(),
            message: message.into(),
        });
    }

    /// `name` as a webhook URL, if set (a bad one is reported).
    pub fn url(&mut self, name: &'static str) -> Option<SecretUrl> {
        let value = self.get(name)?;
        SecretUrl::parse(&value)
            .map_err(|error| self.problem(name, error.to_string()))
            .ok()
    }

    /// `name` parsed by `parse` (whose error's message is reported as is).
    pub fn parsed<T, E: fmt::Display>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let value = self.get(name)?;
        parse(value.trim())
            .map_err(|error| self.problem(name, error.to_string()))
            .ok()
    }
}

/// One `DESTINATIONS` entry, as its kind reads it: each field read is checked, and a
/// problem is reported at its position.
pub struct Entry<'a> {
    index: usize,
    fields: &'a Map<String, Value>,
    problems: &'a mut Vec<Problem>,
    /// False once any problem was reported.
    ok: bool,
}

impl Entry<'_> {
    fn path(&self, field: &str) -> String {
        format!("[{}].{field}", self.index)
    }

    pub fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.ok = false;
        let path = self.path(field);
        self.problems.push(Problem {
            variable: "DESTINATIONS",
            path,
            message: message.into(),
        });
    }

    /// A string field, if present; `what` says what was expected (for the message).
    pub fn string(&mut self, field: &str, what: &str) -> Option<String> {
        match self.fields.get(field)? {
            Value::String(text) => Some(text.clone()),
            other => {
                let found = kind_of(other);
                self.problem(field, format!("expected a string ({what}); found {found}"));
                None
            }
        }
    }

    /// A string field that must be present.
    pub fn required(&mut self, field: &str, what: &str, missing: &str) -> Option<String> {
        if !self.fields.contains_key(field) {
            self.problem(field, format!("missing; {missing}"));
            return None;
        }
        self.string(field, what)
    }

    /// A required webhook URL.
    pub fn url(&mut self, field: &str) -> Option<SecretUrl> {
        let value = self.required(
            field,
            "an https:// URL",
            "give the destination's https:// URL",
        )?;
        SecretUrl::parse(&value)
            .map_err(|error| self.problem(field, error.to_string()))
            .ok()
    }

    /// An optional URL (for a service's base URL, when overridden).
    pub fn optional_url(&mut self, field: &str) -> Option<Option<SecretUrl>> {
        match self.string(field, "an https:// URL") {
            None if self.fields.contains_key(field) => None,
            None => Some(None),
            Some(value) => SecretUrl::parse(&value)
                .map_err(|error| self.problem(field, error.to_string()))
                .ok()
                .map(Some),
        }
    }

    /// A required secret string, checked by `parse` (whose error must not repeat it).
    pub fn secret<T, E: fmt::Display>(
        &mut self,
        field: &str,
        missing: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let value = self.required(field, "a string", missing)?;
        parse(value.trim())
            .map_err(|error| self.problem(field, error.to_string()))
            .ok()
    }

    /// A required token (never repeated in a message).
    pub fn token<E: fmt::Display>(
        &mut self,
        field: &str,
        missing: &str,
        check: impl FnOnce(&str) -> Result<(), E>,
    ) -> Option<SecretToken> {
        self.secret(field, missing, |value| {
            check(value).map(|()| SecretToken::new(value))
        })
    }
}

/// What every entry may have, besides its kind's fields.
const COMMON_FIELDS: [&str; 6] = ["type", "name", "events", "resources", "accounts", "regions"];

/// Every destination the variables configure: the single variables first, in the order
/// of [`KINDS`], then `DESTINATIONS` in order. Problems go to `problems`.
pub fn parse(
    lookup: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) -> Vec<DestinationSpec> {
    let mut specs = Vec::new();
    {
        let mut variables = Variables { lookup, problems };
        for kind in KINDS {
            if let Some(settings) = (kind.from_variables)(&mut variables) {
                let filter = Filter::events((kind.default_events)());
                specs.push(DestinationSpec {
                    name: None,
                    filter,
                    origin: kind
                        .variables
                        .first()
                        .copied()
                        .unwrap_or(kind.word)
                        .to_owned(),
                    settings,
                });
            }
        }
    }
    if let Some(value) = lookup("DESTINATIONS").filter(|value| !value.trim().is_empty()) {
        specs.extend(parse_list(&value, problems));
    }
    check_unique(&specs, problems);
    specs
}

fn types() -> String {
    let words: Vec<&str> = KINDS.iter().map(|kind| kind.word).collect();
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => words.join(""),
    }
}

fn events() -> String {
    let words: Vec<&str> = NotificationKind::CHOOSABLE
        .iter()
        .map(|kind| kind.event_type())
        .collect();
    match words.split_last() {
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn push(problems: &mut Vec<Problem>, path: String, message: String) {
    problems.push(Problem {
        variable: "DESTINATIONS",
        path,
        message,
    });
}

/// Parses the `DESTINATIONS` value.
fn parse_list(value: &str, problems: &mut Vec<Problem>) -> Vec<DestinationSpec> {
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
                push(
                    problems,
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
            push(
                problems,
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
        push(
            problems,
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
        let Value::Object(fields) = entry else {
            push(
                problems,
                format!("[{index}]"),
                format!(
                    "expected an object with type, name, events, resources and the fields of its type; found {}",
                    kind_of(entry)
                ),
            );
            continue;
        };
        let mut entry = Entry {
            index,
            fields,
            problems: &mut *problems,
            ok: true,
        };
        if let Some(spec) = parse_entry(&mut entry) {
            specs.push(spec);
        }
    }
    specs
}

/// Why a field of another kind does not belong here, with the fix.
fn misplaced(field: &str, kind: &str) -> Option<String> {
    let owners: Vec<&str> = KINDS
        .iter()
        .filter(|other| other.fields.contains(&field))
        .map(|other| other.word)
        .collect();
    match owners.as_slice() {
        [] => None,
        ["webhook"] if field == "secret" => Some(format!(
            "only a webhook destination is signed, not {kind}; remove \"secret\" or set \"type\": \"webhook\""
        )),
        owners => {
            let article = if owners[0].starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            Some(format!(
                "only {article} {} destination takes \"{field}\", not {kind}; remove it, or set \"type\" to the destination you mean",
                owners.join(" or ")
            ))
        }
    }
}

fn parse_entry(entry: &mut Entry) -> Option<DestinationSpec> {
    let kind = match entry.fields.get("type") {
        None => {
            entry.problem("type", format!("missing; expected {}", types()));
            None
        }
        Some(Value::String(word)) => {
            let kind = KINDS.iter().find(|kind| kind.word == word.trim());
            if kind.is_none() {
                entry.problem(
                    "type",
                    format!("unknown type {}; expected {}", quote(word), types()),
                );
            }
            kind
        }
        Some(other) => {
            let found = kind_of(other);
            entry.problem(
                "type",
                format!("expected a string ({}); found {found}", types()),
            );
            None
        }
    };
    let Some(kind) = kind else {
        // Still say what is wrong with the URL, if there is one.
        if entry.fields.contains_key("url") {
            let _ = entry.url("url");
        }
        return None;
    };

    let keys: Vec<String> = entry.fields.keys().cloned().collect();
    for key in keys {
        if !COMMON_FIELDS.contains(&key.as_str()) && !kind.fields.contains(&key.as_str()) {
            let mut expected: Vec<&str> = COMMON_FIELDS.to_vec();
            expected.extend(kind.fields);
            let message = match misplaced(&key, kind.word) {
                Some(hint) => hint,
                None => format!(
                    "unknown field for a {} destination; expected {}",
                    kind.word,
                    expected.join(", ")
                ),
            };
            entry.problem(&clip_key(&key), message);
        }
    }

    let settings = (kind.from_entry)(entry);
    let events = events_of(entry, (kind.default_events)());
    let resources = globs_of(entry, "resources", "stack names or patterns", Glob::parse);
    let accounts = globs_of(entry, "accounts", "account ids or patterns", account_glob);
    let regions = globs_of(entry, "regions", "Regions or patterns", Glob::parse);
    let name = name_of(entry);

    let (settings, events, resources, accounts, regions, name) =
        (settings?, events?, resources?, accounts?, regions?, name?);
    if !entry.ok {
        return None;
    }
    Some(DestinationSpec {
        name,
        filter: Filter {
            events,
            resources,
            accounts,
            regions,
        },
        origin: format!("DESTINATIONS[{}]", entry.index),
        settings,
    })
}

/// Why an item of `accounts` is not an account id or pattern.
#[derive(Debug, thiserror::Error)]
enum InvalidAccountGlob {
    #[error(
        "{quoted} is not an account id or pattern; use 12 digits, with * for any run of digits and ? for one"
    )]
    NotDigits {
        /// The pattern [`quote`]d (it may be a secret pasted into the wrong field).
        quoted: String,
    },
    #[error(transparent)]
    Glob(#[from] InvalidGlob),
}

fn account_glob(pattern: &str) -> Result<Glob, InvalidAccountGlob> {
    if pattern.is_empty()
        || !pattern
            .chars()
            .all(|c| c.is_ascii_digit() || "*?".contains(c))
    {
        return Err(InvalidAccountGlob::NotDigits {
            quoted: quote(pattern),
        });
    }
    Ok(Glob::parse(pattern)?)
}

fn events_of(entry: &mut Entry, default: KindSet) -> Option<KindSet> {
    let Some(value) = entry.fields.get("events") else {
        return Some(default);
    };
    let words = strings(entry, "events", "event types", value)?;
    let mut kinds = KindSet::NONE;
    let mut valid = true;
    for (position, word) in words {
        match NotificationKind::from_word(&word).filter(|kind| *kind != NotificationKind::Test) {
            Some(kind) => kinds.insert(kind),
            None => {
                entry.problem(
                    &format!("events[{position}]"),
                    format!("unknown event {}; expected {}", quote(&word), events()),
                );
                valid = false;
            }
        }
    }
    valid.then_some(kinds)
}

fn globs_of<E: fmt::Display>(
    entry: &mut Entry,
    field: &str,
    what: &str,
    parse: fn(&str) -> Result<Glob, E>,
) -> Option<Option<Vec<Glob>>> {
    let Some(value) = entry.fields.get(field) else {
        return Some(None);
    };
    let patterns = strings(entry, field, what, value)?;
    let mut globs = Vec::new();
    let count = patterns.len();
    for (position, pattern) in patterns {
        match parse(pattern.trim()) {
            Ok(glob) => globs.push(glob),
            Err(error) => entry.problem(&format!("{field}[{position}]"), error.to_string()),
        }
    }
    (globs.len() == count).then_some(Some(globs))
}

fn name_of(entry: &mut Entry) -> Option<Option<String>> {
    let Some(value) = entry.fields.get("name") else {
        return Some(None);
    };
    match value {
        Value::String(name) => {
            let name = name.trim();
            let valid = (1..=64).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if valid {
                Some(Some(name.to_owned()))
            } else {
                entry.problem(
                    "name",
                    format!(
                        "{} is not a usable name; use 1-64 letters, digits, '-', '_' or '.'",
                        quote(name)
                    ),
                );
                None
            }
        }
        other => {
            let found = kind_of(other);
            entry.problem("name", format!("expected a string; found {found}"));
            None
        }
    }
}

/// A non-empty array of strings, each with its position; problems reported at `field`.
fn strings(
    entry: &mut Entry,
    field: &str,
    what: &str,
    value: &Value,
) -> Option<Vec<(usize, String)>> {
    let Value::Array(items) = value else {
        let found = kind_of(value);
        entry.problem(field, format!("expected an array of {what}; found {found}"));
        return None;
    };
    if items.is_empty() {
        entry.problem(
            field,
            "is empty, so nothing would ever be sent; leave the field out to send everything",
        );
        return None;
    }
    let mut found = Vec::new();
    let mut valid = true;
    for (position, item) in items.iter().enumerate() {
        match item {
            Value::String(text) => found.push((position, text.clone())),
            other => {
                let kind = kind_of(other);
                entry.problem(
                    &format!("{field}[{position}]"),
                    format!("expected a string; found {kind}"),
                );
                valid = false;
            }
        }
    }
    valid.then_some(found)
}

/// Checks that no two destinations share a key (the same URL twice without distinct
/// names, or the same name twice for one type): deliveries to one would count for both.
fn check_unique(all: &[DestinationSpec], problems: &mut Vec<Problem>) {
    for (index, spec) in all.iter().enumerate() {
        let Some(first) = all[..index].iter().find(|other| other.key() == spec.key()) else {
            continue;
        };
        let (variable, path) = split_origin(&spec.origin);
        let message = match &spec.name {
            Some(name) => format!(
                "the name {} is already used by the {} destination of {}; give each a distinct name",
                quote(name),
                spec.settings.type_word(),
                first.origin
            ),
            None => format!(
                "sends to the same {} {} as {}; merge their filters into one entry, or give each a distinct \"name\"",
                spec.settings.type_word(),
                spec.settings.identity_word(),
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
            KINDS
                .iter()
                .flat_map(|kind| kind.variables.iter().copied())
                .find(|variable| *variable == origin)
                .unwrap_or("DESTINATIONS"),
            String::new(),
        ),
    }
}

fn clip_key(key: &str) -> String {
    if key.contains("://") || key.chars().count() > 40 {
        "<unknown field>".into()
    } else {
        key.to_owned()
    }
}

pub fn kind_of(value: &Value) -> &'static str {
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
