//! Variables that look like ours but are not one: `SLACK_URL=…` where `SLACK_WEBHOOK_URL`
//! was meant used to start a run that looked exactly like a working setup and told nobody.
//!
//! [`lookalikes`] takes the names of the variables that are set (never their values) and
//! says, for each one that resembles a variable sync-notifier reads, which one was most
//! likely meant. The known names are [`CONFIG_VARIABLES`] plus every destination kind's
//! `VARIABLES` in [`KINDS`](crate::notify::KINDS), so a new kind of destination is covered
//! by itself. A name resembles ours when it shares a family with one (`SLACK_…`,
//! `PAGER_DUTY_…`, `TEAM_…`, `NOTIFY_…`, `TARGET_…`) or is a small typo away from one
//! (`SLAK_WEBHOOK_URL`, `NOTIFYON`). AWS's own variables (`AWS_*`), the Lambda runtime's
//! and a few other programs' that share a family word (`NOTIFY_SOCKET`) are never flagged.
//!
//! The CLI prints the warnings on stderr before it reads the configuration (so a bad value
//! and its likely cause are said together); the Lambda logs them at cold start, for the
//! environment and the Secrets Manager secret alike.

use std::fmt;

/// What the configuration reads besides the destinations' own variables.
pub const CONFIG_VARIABLES: &[&str] = &[
    "WATCH_RESOURCES",
    "STATE_TABLE",
    "DESTINATIONS",
    "NOTIFY_ON",
    "FETCH_CONCURRENCY",
    "RETENTION_HOURS",
    "LEASE_SECONDS",
    "STUCK_AFTER_MINUTES",
    "CONFIG_SECRET_ARN",
    // Org-wide hub mode (ARCHITECTURE §12).
    "TARGET_ACCOUNTS",
    "TARGET_REGIONS",
    "MEMBER_ROLE_NAME",
];

/// First words too common to make a family alone: their family is two words long
/// (`GOOGLE_CHAT_…`, `Q_DEVELOPER_…`, `EVENT_BUS`, `CONFIG_SECRET_…`).
const SHORT_WORDS: &[&str] = &["GOOGLE", "Q", "EVENT", "CONFIG"];

/// Never ours, whatever they look like.
const FOREIGN_PREFIXES: &[&str] = &["AWS_", "LAMBDA_", "_", "CARGO", "RUST", "XDG_", "LC_"];
/// Other programs' variables that share a family word with ours (systemd's, here).
const FOREIGN: &[&str] = &["NOTIFY_SOCKET", "STATE_DIRECTORY"];

/// A variable that is set, is not ours, and looks like one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookalike {
    /// The name as it is set (never its value).
    pub variable: String,
    /// The variable sync-notifier reads that it most likely meant.
    pub expected: &'static str,
}

impl fmt::Display for Lookalike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not a variable sync-notifier reads; did you mean {}?",
            crate::text::visible(&crate::text::clip(&self.variable, 80)),
            self.expected
        )
    }
}

/// A variable sync-notifier reads, and whether it is what its family's bare name most
/// likely means (`SLACK_URL` → `SLACK_WEBHOOK_URL`, the Slack webhook kind's first
/// variable, rather than `SLACK_API_URL`, a setting of the Slack app).
struct Known {
    name: &'static str,
    primary: bool,
}

fn known() -> Vec<Known> {
    let config = CONFIG_VARIABLES.iter().map(|name| Known {
        name,
        primary: true,
    });
    let kinds = crate::notify::KINDS.iter().flat_map(|kind| {
        kind.variables
            .iter()
            .enumerate()
            .map(|(index, name)| Known {
                name,
                primary: index == 0,
            })
    });
    config.chain(kinds).collect()
}

/// Every variable sync-notifier reads that is its own (the `AWS_*` ones it also reads
/// are AWS's): the configuration's, then each destination kind's.
pub fn known_variables() -> Vec<&'static str> {
    known().into_iter().map(|known| known.name).collect()
}

/// The lookalikes among `names` (the names of the variables that are set), sorted by name.
pub fn lookalikes<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<Lookalike> {
    let known = known();
    let mut found: Vec<Lookalike> = names
        .into_iter()
        .filter_map(|name| {
            suggestion(name, &known).map(|expected| Lookalike {
                variable: name.to_owned(),
                expected,
            })
        })
        .collect();
    found.sort_by(|a, b| a.variable.cmp(&b.variable));
    found.dedup();
    found
}

/// The lookalikes among the variables of this process's environment.
pub fn in_environment() -> Vec<Lookalike> {
    in_environment_and([])
}

/// The lookalikes among the variables of this process's environment and `more` names
/// (the keys of the Secrets Manager secret).
pub fn in_environment_and<'a>(more: impl IntoIterator<Item = &'a str>) -> Vec<Lookalike> {
    let mut names: Vec<String> = std::env::vars_os()
        .map(|(name, _)| name.to_string_lossy().into_owned())
        .collect();
    names.extend(more.into_iter().map(str::to_owned));
    lookalikes(names.iter().map(String::as_str))
}

/// How well a known name fits: words in common, the kind's main variable, closeness.
type Score = (usize, bool, std::cmp::Reverse<usize>);

/// What `name` most likely meant, if it looks like one of ours and is not one.
fn suggestion(name: &str, known: &[Known]) -> Option<&'static str> {
    if known.iter().any(|known| known.name == name) {
        return None;
    }
    let upper = name.to_ascii_uppercase();
    if FOREIGN_PREFIXES
        .iter()
        .any(|prefix| upper.starts_with(prefix))
        || FOREIGN.contains(&upper.as_str())
    {
        return None;
    }
    if let Some(same) = known.iter().find(|known| known.name == upper) {
        return Some(same.name);
    }
    let words = words(&upper);
    // The best of the family: the most words in common, then the kind's main variable,
    // then the closest spelling; the first listed wins a tie.
    let mut best: Option<(&Known, Score)> = None;
    for known in known {
        let Some(rest) = family_rest(&words, known.name) else {
            continue;
        };
        let score = (
            shared_words(rest, known.name),
            known.primary,
            std::cmp::Reverse(distance(&upper, known.name)),
        );
        if best.as_ref().is_none_or(|(_, top)| score > *top) {
            best = Some((known, score));
        }
    }
    if let Some((known, _)) = best {
        return Some(known.name);
    }
    known
        .iter()
        .map(|known| (distance(&upper, known.name), known))
        .filter(|(distance, known)| *distance <= if known.name.len() >= 10 { 2 } else { 1 })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known.name)
}

fn words(name: &str) -> Vec<&str> {
    name.split('_').filter(|word| !word.is_empty()).collect()
}

/// The family of a known name: its first word, or its first two when the first is too
/// common alone.
fn family(known: &str) -> Vec<&str> {
    let words = words(known);
    let length = if words.len() > 1 && SHORT_WORDS.contains(&words[0]) {
        2
    } else {
        1
    };
    words.into_iter().take(length).collect()
}

/// When `words` start with the family of `known` (word for word, or run together:
/// `PAGER_DUTY` and `GOOGLECHAT` are in `PAGERDUTY` and `GOOGLE_CHAT`; a plural is the same
/// word), the words after it.
fn family_rest<'w>(words: &'w [&'w str], known: &str) -> Option<&'w [&'w str]> {
    let family = family(known).concat();
    (1..=words.len())
        .find(|&taken| same_word(&words[..taken].concat(), &family))
        .map(|taken| &words[taken..])
}

/// How many of `rest` resemble a word of `known` outside its family.
fn shared_words(rest: &[&str], known: &str) -> usize {
    let family_length = family(known).len();
    let theirs: Vec<&str> = words(known).into_iter().skip(family_length).collect();
    rest.iter()
        .filter(|word| theirs.iter().any(|their| resembles(word, their)))
        .count()
}

/// The same word, give or take a plural `S`.
fn same_word(a: &str, b: &str) -> bool {
    a == b || a.strip_suffix('S') == Some(b) || b.strip_suffix('S') == Some(a)
}

/// Words that are likely meant to be the same: equal, one the start of the other (`ON`,
/// `ONLY`), one inside the other (`HOOK`, `WEBHOOK`), or a typo apart.
fn resembles(a: &str, b: &str) -> bool {
    let shorter = a.len().min(b.len());
    same_word(a, b)
        || (shorter >= 2 && (a.starts_with(b) || b.starts_with(a)))
        || (shorter >= 4 && (a.contains(b) || b.contains(a) || distance(a, b) <= 1))
}

/// The Levenshtein distance between two names (ASCII in practice; counted in chars).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            current[j + 1] = (previous[j] + usize::from(ca != *cb))
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(name: &str) -> Option<&'static str> {
        lookalikes([name]).first().map(|found| found.expected)
    }

    #[test]
    fn the_lookalikes_of_issue_12_name_the_variable_meant() {
        for (name, meant) in [
            ("SLACK_URL", "SLACK_WEBHOOK_URL"),
            ("SLACK_WEBHOOK", "SLACK_WEBHOOK_URL"),
            ("SLACK_TOKEN", "SLACK_BOT_TOKEN"),
            ("SLACK_CHANNEL_ID", "SLACK_CHANNEL"),
            ("WEBHOOK_SECRETS", "WEBHOOK_SECRET"),
            ("WEBHOOK_URLS", "WEBHOOK_URL"),
            ("TEAMS_URL", "TEAMS_WEBHOOK_URL"),
            ("TEAM_WEBHOOK_URL", "TEAMS_WEBHOOK_URL"),
            ("DISCORD_URL", "DISCORD_WEBHOOK_URL"),
            ("GOOGLE_CHAT_URL", "GOOGLE_CHAT_WEBHOOK_URL"),
            ("GOOGLECHAT_WEBHOOK", "GOOGLE_CHAT_WEBHOOK_URL"),
            ("PAGERDUTY_KEY", "PAGERDUTY_ROUTING_KEY"),
            ("PAGER_DUTY_KEY", "PAGERDUTY_ROUTING_KEY"),
            ("Q_DEVELOPER_ARN", "Q_DEVELOPER_TOPIC_ARN"),
            ("EVENT_BUS_NAME", "EVENT_BUS"),
            ("EVENTBUS", "EVENT_BUS"),
            ("NOTIFY_ONLY", "NOTIFY_ON"),
            ("WATCH_RESOURCE", "WATCH_RESOURCES"),
            ("DESTINATION", "DESTINATIONS"),
            ("DESTINATIONS_JSON", "DESTINATIONS"),
            ("STATE_TABLE_NAME", "STATE_TABLE"),
            ("RETENTION_DAYS", "RETENTION_HOURS"),
            ("STUCK_MINUTES", "STUCK_AFTER_MINUTES"),
            ("FETCH_LIMIT", "FETCH_CONCURRENCY"),
            ("LEASE_TIME", "LEASE_SECONDS"),
            ("CONFIG_SECRET", "CONFIG_SECRET_ARN"),
            ("TARGET_ACCOUNT", "TARGET_ACCOUNTS"),
            ("TARGET_REGION", "TARGET_REGIONS"),
            ("MEMBER_ROLE", "MEMBER_ROLE_NAME"),
            // Typos, and the wrong case.
            ("SLAK_WEBHOOK_URL", "SLACK_WEBHOOK_URL"),
            ("WEBHOK_SECRET", "WEBHOOK_SECRET"),
            ("NOTIFYON", "NOTIFY_ON"),
            ("slack_webhook_url", "SLACK_WEBHOOK_URL"),
        ] {
            assert_eq!(expected(name), Some(meant), "{name}");
        }
    }

    #[test]
    fn our_own_aws_runtime_and_unrelated_variables_are_not_flagged() {
        let mut names = known_variables();
        names.extend([
            "PATH",
            "HOME",
            "USER",
            "SHELL",
            "TERM",
            "LANG",
            "TZ",
            "PWD",
            "RUST_LOG",
            "RUST_BACKTRACE",
            "CARGO_TARGET_DIR",
            "XDG_STATE_HOME",
            "AWS_REGION",
            "AWS_PROFILE",
            "AWS_ENDPOINT_URL_CODECONNECTIONS",
            "AWS_LAMBDA_RUNTIME_API",
            "AWS_LAMBDA_FUNCTION_NAME",
            "LAMBDA_TASK_ROOT",
            "LAMBDA_RUNTIME_DIR",
            "LD_LIBRARY_PATH",
            "_HANDLER",
            "_X_AMZN_TRACE_ID",
            "NOTIFY_SOCKET",
            "STATE_DIRECTORY",
            "WATCHDOG_USEC",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "EVENT_SOURCE",
            "CONFIG_FILE",
            "HTTP_PROXY",
            "SSH_AUTH_SOCK",
        ]);
        assert_eq!(lookalikes(names.iter().copied()), []);
    }

    #[test]
    fn the_known_names_cover_every_destination_kind() {
        let known = known_variables();
        for kind in crate::notify::KINDS {
            for variable in kind.variables {
                assert!(known.contains(variable), "{variable}");
            }
        }
        for name in ["TARGET_ACCOUNTS", "TARGET_REGIONS", "MEMBER_ROLE_NAME"] {
            assert!(known.contains(&name), "{name}");
        }
    }

    /// Every variable the configuration code reads by name (through `get`, `number`,
    /// `lookup` or `env::var`) is a known one, so a new variable cannot be warned about as
    /// a lookalike of another.
    #[test]
    fn every_variable_the_configuration_reads_is_known() {
        let known = known_variables();
        let sources = [
            ("config.rs", include_str!("../config.rs")),
            ("lambda.rs", include_str!("../lambda.rs")),
            ("cli.rs", include_str!("../cli.rs")),
        ];
        let mut read = Vec::new();
        for (file, source) in sources {
            for (start, _) in source.match_indices('"') {
                let rest = &source[start + 1..];
                let Some(end) = rest.find('"') else { continue };
                let literal = &rest[..end];
                let is_name = literal.len() > 2
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                let before = source[..start].trim_end();
                let called = before.ends_with('(')
                    && ["get(", "number(", "lookup(", "var(", "var_os("]
                        .iter()
                        .any(|call| before.ends_with(call));
                if is_name && called {
                    read.push((file, literal));
                }
            }
        }
        assert!(
            read.iter().any(|(_, name)| *name == "WATCH_RESOURCES"),
            "{read:?}"
        );
        for (file, name) in read {
            if name.starts_with("AWS_") || ["HOME", "XDG_STATE_HOME", "RUST_LOG"].contains(&name) {
                continue;
            }
            assert!(
                known.contains(&name),
                "{file} reads {name}, not in CONFIG_VARIABLES"
            );
        }
    }

    /// The template's environment and the keys of the secret it writes are ours: a
    /// deployed function never warns about its own configuration.
    #[test]
    fn the_template_sets_no_lookalike() {
        let template = include_str!("../../template.yaml");
        let mut names: Vec<&str> = Vec::new();
        let mut in_variables = false;
        for line in template.lines() {
            let trimmed = line.trim();
            if trimmed == "Variables:" {
                in_variables = true;
                continue;
            }
            if in_variables {
                if trimmed.starts_with('#') {
                    continue;
                }
                match trimmed.split_once(':') {
                    Some((name, _))
                        if !name.is_empty()
                            && name.chars().all(|c| c.is_ascii_uppercase() || c == '_') =>
                    {
                        names.push(name)
                    }
                    _ => in_variables = false,
                }
            }
            if let Some(secret) = trimmed.strip_prefix("- '{") {
                for pair in secret.split(',') {
                    if let Some(name) = pair.trim_start_matches('{').split('"').nth(1) {
                        names.push(name);
                    }
                }
            }
        }
        assert!(names.contains(&"SLACK_WEBHOOK_URL"), "{names:?}");
        assert!(names.contains(&"STATE_TABLE"), "{names:?}");
        assert_eq!(lookalikes(names.iter().copied()), []);
    }

    #[test]
    fn the_warning_names_both_variables_and_never_a_value() {
        let found = lookalikes(["SLACK_URL"]);
        assert_eq!(
            found[0].to_string(),
            "SLACK_URL is not a variable sync-notifier reads; did you mean SLACK_WEBHOOK_URL?"
        );
        let odd = lookalikes(["SLACK_\u{1b}]0;x\u{7}"]);
        assert!(
            odd[0]
                .to_string()
                .starts_with("SLACK_\\u{1b}]0;x\\u{7} is not")
        );
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("NOTIFYON", "NOTIFY_ON"), 1);
        assert_eq!(distance("SLAK", "SLACK"), 1);
        assert_eq!(distance("", "AB"), 2);
        assert_eq!(distance("ABC", "ABC"), 0);
    }
}
