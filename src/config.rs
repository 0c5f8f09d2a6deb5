//! Configuration, parsed once at start-up into typed values (ARCHITECTURE §5).
//!
//! Every variable is read through one lookup function, so the same parser serves the
//! Lambda environment, the CLI, the Secrets Manager secret and the tests. A bad value is
//! refused with a message naming the variable, the value (secrets masked) and the fix;
//! all problems are reported at once so a deploy is fixed in one go.

use std::fmt;
use std::time::Duration;

use crate::domain::{KindSet, NotificationKind, Region, ResourceName, Rules};
use crate::notify::DestinationSpec;

mod hub;

pub use crate::notify::Problem;
pub use hub::{Hub, InvalidRoleName, RoleName, TargetAccounts};

pub mod lookalike;

/// Which resources to check on a scheduled tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watch {
    /// Discover every `CFN_STACK_SYNC` sync configuration in the account and region.
    Discover,
    Resources(Vec<ResourceName>),
}

/// Everything the function needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub watch: Watch,
    /// `STATE_TABLE`: the DynamoDB table; `None` means the local embedded store.
    pub state_table: Option<String>,
    /// Every destination: the single variables first, then `DESTINATIONS` in order.
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
    /// `STUCK_AFTER_MINUTES`: when a running attempt is told stuck (`None`: never).
    pub stuck_after: Option<Duration>,
    /// `SCHEDULE_EXPRESSION` (set by the template): how often scheduled ticks come, when it
    /// is a `rate()`; `None` for a `cron()` or when unset.
    pub schedule_interval: Option<Duration>,
    /// `TARGET_ACCOUNTS` and the rest: org-wide (hub) mode; `None`: this account only.
    pub hub: Option<Hub>,
}

impl Config {
    pub const DEFAULT_FETCH_CONCURRENCY: usize = 16;

    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`; unset and empty are the same.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut read = Reader {
            lookup: &lookup,
            problems: Vec::new(),
        };
        let watch = read.watch();
        let state_table = read.state_table();
        let destinations = crate::notify::spec::parse(&lookup, &mut read.problems);
        let notify_on = read.notify_on();
        let fetch_concurrency = read.number(
            "FETCH_CONCURRENCY",
            Self::DEFAULT_FETCH_CONCURRENCY as u64,
            1..=64,
            "calls",
        ) as usize;
        let retention =
            Duration::from_secs(read.number("RETENTION_HOURS", 24, 1..=24 * 30, "hours") * 3600);
        let lease = Duration::from_secs(read.number("LEASE_SECONDS", 120, 60..=3600, "seconds"));
        let stuck_minutes = read.number("STUCK_AFTER_MINUTES", 60, 0..=7 * 24 * 60, "minutes");
        let stuck_after = (stuck_minutes > 0).then(|| Duration::from_secs(stuck_minutes * 60));
        let schedule_interval = read.schedule_interval();
        let console_region = read
            .get("AWS_REGION")
            .and_then(|region| Region::parse(&region).ok());
        let hub = hub::parse(&lookup, &watch, &mut read.problems);
        let config = Config {
            watch,
            state_table,
            destinations,
            console_region,
            notify_on,
            fetch_concurrency,
            retention,
            lease,
            stuck_after,
            schedule_interval,
            hub,
        };
        match read.problems.is_empty() {
            true => Ok(config),
            false => Err(ConfigError {
                problems: read.problems,
            }),
        }
    }

    /// Every destination: the single variables first, then `DESTINATIONS` in order.
    pub fn all_destinations(&self) -> &[DestinationSpec] {
        &self.destinations
    }

    /// The configured destinations, built once with `clients` (console links point at
    /// `AWS_REGION`).
    pub fn build_destinations(
        &self,
        clients: &crate::notify::Clients,
    ) -> Vec<crate::notify::Destination> {
        crate::notify::destinations(&self.destinations, clients, self.console_region.as_ref())
    }

    /// The rules `decide` applies.
    pub fn rules(&self) -> Rules {
        Rules {
            stuck_after: self.stuck_after,
        }
    }
}

/// Reads each variable once, collecting every problem (so all are reported at once).
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    /// A variable's value; unset and empty are the same.
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    fn problem(&mut self, variable: &'static str, message: String) {
        self.problems.push(Problem {
            variable,
            path: String::new(),
            message,
        });
    }

    /// `WATCH_RESOURCES`: stack names, or (unset, `*`) discovery.
    fn watch(&mut self) -> Watch {
        let value = match self.get("WATCH_RESOURCES") {
            None => return Watch::Discover,
            Some(value) if value.trim() == "*" => return Watch::Discover,
            Some(value) => value,
        };
        let (names, bad) = comma_list(&value, ResourceName::parse);
        if !bad.is_empty() {
            self.problem(
                "WATCH_RESOURCES",
                summarise(
                    &bad,
                    "items are not stack names",
                    "give stack names separated by commas, or * to discover them",
                ),
            );
        }
        Watch::Resources(names)
    }

    /// `STATE_TABLE`: a DynamoDB table name.
    fn state_table(&mut self) -> Option<String> {
        let table = self.get("STATE_TABLE")?.trim().to_owned();
        let valid = (3..=255).contains(&table.len())
            && table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !valid {
            self.problem(
                "STATE_TABLE",
                format!(
                    "{:?} is not a DynamoDB table name; use 3-255 letters, digits, '_', '-' or '.', or unset it for the local store",
                    crate::text::preview(&table, 60)
                ),
            );
        }
        Some(table)
    }

    /// `NOTIFY_ON`: a comma-separated subset of the choosable kinds.
    fn notify_on(&mut self) -> KindSet {
        let Some(value) = self.get("NOTIFY_ON") else {
            return KindSet::ALL;
        };
        let mut kinds = KindSet::NONE;
        for word in value.split(',').map(str::trim) {
            match NotificationKind::from_word(word).filter(|kind| *kind != NotificationKind::Test) {
                Some(kind) => kinds.insert(kind),
                None => self.problem(
                    "NOTIFY_ON",
                    format!(
                        "unknown word {:?}; use a comma-separated subset of {}",
                        crate::text::preview(word, 40),
                        KindSet::ALL.words()
                    ),
                ),
            }
        }
        kinds
    }

    /// A whole number of `unit` in `range`, `default` when unset.
    fn number(
        &mut self,
        variable: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
        unit: &str,
    ) -> u64 {
        let Some(value) = self.get(variable) else {
            return default;
        };
        match value.trim().parse::<u64>() {
            Ok(parsed) if range.contains(&parsed) => parsed,
            _ => {
                self.problem(
                    variable,
                    format!(
                        "{:?} is not a whole number of {unit} from {} to {}",
                        crate::text::preview(&value, 40),
                        range.start(),
                        range.end()
                    ),
                );
                default
            }
        }
    }

    /// `SCHEDULE_EXPRESSION`: the interval of a `rate()`.
    fn schedule_interval(&mut self) -> Option<Duration> {
        let expression = self.get("SCHEDULE_EXPRESSION")?;
        match schedule_interval(&expression) {
            Ok(interval) => interval,
            Err(error) => {
                self.problem("SCHEDULE_EXPRESSION", error.to_string());
                None
            }
        }
    }
}

/// The items of a comma-separated list, each parsed once (repeats dropped), and what is
/// wrong with the others (`item 2 …`).
fn comma_list<T: PartialEq, E: fmt::Display>(
    value: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> (Vec<T>, Vec<String>) {
    let mut items = Vec::new();
    let mut bad = Vec::new();
    for (index, part) in value.split(',').map(str::trim).enumerate() {
        match parse(part) {
            Ok(item) if !items.contains(&item) => items.push(item),
            Ok(_) => {}
            Err(error) => bad.push(format!("item {} {error}", index + 1)),
        }
    }
    (items, bad)
}

/// How to write `SCHEDULE_EXPRESSION`, said with every [`InvalidSchedule`].
const SCHEDULE_FIX: &str = "give the schedule's EventBridge expression, like rate(1 minute), rate(5 minutes) or cron(0/5 * * * ? *)";

/// Why `SCHEDULE_EXPRESSION` is not an EventBridge schedule expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum InvalidSchedule {
    #[error(
        "{:?} is not a rate() or cron() expression; {SCHEDULE_FIX}",
        crate::text::preview(.expression, 40)
    )]
    NotAnExpression { expression: String },
    #[error("{expression:?} is not rate(VALUE UNIT); {SCHEDULE_FIX}")]
    NotRate { expression: String },
    #[error("{unit:?} is not minute(s), hour(s) or day(s); {SCHEDULE_FIX}")]
    Unit { unit: String },
    #[error("{value:?} is not a positive whole number; {SCHEDULE_FIX}")]
    Value { value: String },
}

/// The interval of an EventBridge `rate(N unit)` expression; `None` for a `cron(…)`, whose
/// interval varies.
fn schedule_interval(expression: &str) -> Result<Option<Duration>, InvalidSchedule> {
    let expression = expression.trim();
    if expression.starts_with("cron(") && expression.ends_with(')') {
        return Ok(None);
    }
    let Some(inner) = expression
        .strip_prefix("rate(")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return Err(InvalidSchedule::NotAnExpression {
            expression: expression.to_owned(),
        });
    };
    let mut words = inner.split_whitespace();
    let (Some(value), Some(unit), None) = (words.next(), words.next(), words.next()) else {
        return Err(InvalidSchedule::NotRate {
            expression: expression.to_owned(),
        });
    };
    let seconds = match unit {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        _ => {
            return Err(InvalidSchedule::Unit {
                unit: unit.to_owned(),
            });
        }
    };
    match value.parse::<u64>() {
        Ok(value) if value > 0 => Ok(Some(Duration::from_secs(value * seconds))),
        _ => Err(InvalidSchedule::Value {
            value: value.to_owned(),
        }),
    }
}

/// Many bad values in one variable, said in a few lines: how many, the first three, the fix.
fn summarise(bad: &[String], what: &str, fix: &str) -> String {
    match bad {
        [one] => format!("{one}; {fix}"),
        _ if bad.len() <= 3 => format!("{}; {fix}", bad.join("; ")),
        _ => format!(
            "{} {what}; the first three: {}; {fix}",
            bad.len(),
            bad[..3].join("; ")
        ),
    }
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
