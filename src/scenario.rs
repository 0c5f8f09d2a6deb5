//! Scenario files (ARCHITECTURE §9, §14): what the loopback CodeConnections and
//! CloudFormation endpoints serve, tick by tick.
//!
//! ```json
//! { "ticks": [ { "@now": 1795687200,
//!                "stack-a": { ...GetResourceSyncStatus response as the AWS JSON API returns it...,
//!                             "SyncBlockerSummary": { ...what GetSyncBlockerSummary answers... },
//!                             "@stackEvents": [ ...DescribeStackEvents' StackEvents... ],
//!                             "@tags": { "team": "payments" } },
//!                "stack-a-Data-1ABC": { "@stackEvents": [ ... ] },
//!                "stack-b": { "__type": "ThrottlingException", "message": "Rate exceeded" } } ] }
//! ```
//!
//! CloudFormation, per stack and tick:
//! - `"@stackEvents"`: a list of events in the `DescribeStackEvents` shape (`StackId`,
//!   `EventId`, `StackName`, `LogicalResourceId`, `PhysicalResourceId`, `ResourceType`,
//!   `Timestamp`, `ResourceStatus`, `ResourceStatusReason`); the endpoint serves them newest
//!   first, whatever their order here. A stack with a status and no `@stackEvents` has no
//!   events; a name the tick does not hold does not exist.
//! - `"@tags"`: an object of string tag values, what `DescribeStacks` answers in `Tags`.
//! - A nested stack's events go under its own name (the name in its ARN) in the same tick,
//!   as an entry that holds only `"@stackEvents"` (and maybe `"@tags"`). Such an entry is
//!   not a watched stack: it has no status and [`Scenario::resources`] leaves it out; its
//!   name is a CloudFormation stack name (up to 128 letters, digits and hyphens).
//!
//! A user can paste `aws codeconnections get-resource-sync-status` output straight in:
//! timestamps may be epoch seconds (the AWS JSON API) or ISO 8601 (what AWS CLI v2 prints),
//! and every member of a known shape is checked for its type, so a mistake is refused here
//! with its place (`ticks[1].payments-stack.LatestSync.StartedAt: …`) instead of failing
//! every check of every tick. Members the model does not know are passed on as they are.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::domain::explain::is_stack_name;
use crate::domain::{InvalidResourceName, ResourceName, Timestamp};

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub ticks: Vec<ScenarioTick>,
}

/// One tick: when it runs, and what each stack's calls answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScenarioTick {
    /// `@now`: the tick's clock; when absent, the recording's own (see [`Scenario::clock`]).
    pub now: Option<Timestamp>,
    /// The watched stacks: those with a status.
    pub stacks: BTreeMap<ResourceName, Stack>,
    /// What CloudFormation holds of each stack that has `@stackEvents` or `@tags`, watched
    /// or nested, by stack name.
    pub cloudformation: BTreeMap<String, CloudFormationStack>,
}

/// A stack's `@stackEvents` and `@tags`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CloudFormationStack {
    /// `DescribeStackEvents`' events as given, checked, timestamps as epoch seconds.
    pub events: Vec<Map<String, Value>>,
    /// `None`: no `@tags` given (the stack has no tags).
    pub tags: Option<Vec<(String, String)>>,
}

/// What the endpoint answers for one stack in one tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    pub status: Response,
    /// `GetSyncBlockerSummary`'s answer; none: no blockers.
    pub blockers: Option<Response>,
}

/// One answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// An output in the AWS JSON shape, timestamps as epoch seconds.
    Output(Map<String, Value>),
    /// An error, by its short name (`ThrottlingException`) and message.
    Error { type_name: String, message: String },
}

/// A scenario file that cannot be used: it cannot be read, or what is wrong in it.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read the scenario file: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {source}")]
    Invalid {
        file: String,
        source: InvalidScenario,
    },
}

/// What is wrong in a scenario's text, with its place: the line and column, or the JSON
/// path (`ticks[1].payments-stack.LatestSync.StartedAt`).
#[derive(Debug, thiserror::Error)]
pub enum InvalidScenario {
    #[error(
        "line {}, column {}: not valid JSON: {source}",
        .source.line(),
        .source.column()
    )]
    Json { source: serde_json::Error },
    #[error(
        "expected an object with a \"ticks\" array: {{\"ticks\": [{{\"stack-name\": {{...}}}}]}}"
    )]
    MissingTicks,
    #[error("\"ticks\" is empty: give at least one tick")]
    EmptyTicks,
    #[error("{place}: {problem}")]
    At { place: String, problem: ShapeError },
}

/// What is wrong with one value of a scenario ([`InvalidScenario::At`] says where).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// A value of another JSON type: `expected` says what was wanted ("a string"),
    /// `found` what was there ("a number").
    #[error("expected {expected}; found {found}")]
    Expected {
        expected: &'static str,
        found: &'static str,
    },
    #[error(
        "expected a time, as epoch seconds (1795687260) or ISO 8601 (\"2026-11-26T10:01:00+00:00\"); found {found}"
    )]
    Time { found: String },
    #[error("expected an object")]
    NotAnObject,
    #[error("expected an object of stack name → answer")]
    Tick,
    #[error("expected a string such as \"ThrottlingException\"")]
    TypeName,
    #[error(
        "{:?} is not a stack name (1-128 letters, digits and hyphens, starting with a letter)",
        crate::text::preview(.name, 40)
    )]
    StackName { name: String },
    #[error(transparent)]
    ResourceName(#[from] InvalidResourceName),
}

/// `problem` at `place`.
fn at(place: impl Into<String>, problem: ShapeError) -> InvalidScenario {
    InvalidScenario::At {
        place: place.into(),
        problem,
    }
}

/// A value of the wrong JSON type.
fn expected(expected: &'static str, value: &Value) -> ShapeError {
    ShapeError::Expected {
        expected,
        found: kind_of(value),
    }
}

/// The members of the model's shapes, and their types.
enum Shape {
    Text,
    Time,
    Object(&'static [(&'static str, Shape)]),
    List(&'static Shape),
}

const REVISION: Shape = Shape::Object(&[
    ("Branch", Shape::Text),
    ("Directory", Shape::Text),
    ("OwnerId", Shape::Text),
    ("ProviderType", Shape::Text),
    ("RepositoryName", Shape::Text),
    ("Sha", Shape::Text),
]);

const EVENT: Shape = Shape::Object(&[
    ("Event", Shape::Text),
    ("ExternalId", Shape::Text),
    ("Time", Shape::Time),
    ("Type", Shape::Text),
]);

const ATTEMPT: Shape = Shape::Object(&[
    ("Events", Shape::List(&EVENT)),
    ("InitialRevision", REVISION),
    ("StartedAt", Shape::Time),
    ("Status", Shape::Text),
    ("Target", Shape::Text),
    ("TargetRevision", REVISION),
]);

const STATUS_OUTPUT: Shape = Shape::Object(&[
    ("DesiredState", REVISION),
    ("LatestSuccessfulSync", ATTEMPT),
    ("LatestSync", ATTEMPT),
]);

const CONTEXT: Shape = Shape::Object(&[("Key", Shape::Text), ("Value", Shape::Text)]);

const BLOCKER: Shape = Shape::Object(&[
    ("Contexts", Shape::List(&CONTEXT)),
    ("CreatedAt", Shape::Time),
    ("CreatedReason", Shape::Text),
    ("Id", Shape::Text),
    ("ResolvedAt", Shape::Time),
    ("ResolvedReason", Shape::Text),
    ("Status", Shape::Text),
    ("Type", Shape::Text),
]);

const STACK_EVENT: Shape = Shape::Object(&[
    ("EventId", Shape::Text),
    ("LogicalResourceId", Shape::Text),
    ("PhysicalResourceId", Shape::Text),
    ("ResourceStatus", Shape::Text),
    ("ResourceStatusReason", Shape::Text),
    ("ResourceType", Shape::Text),
    ("StackId", Shape::Text),
    ("StackName", Shape::Text),
    ("Timestamp", Shape::Time),
]);

const STACK_EVENTS: Shape = Shape::List(&STACK_EVENT);

/// `@stackEvents` and `@tags`, taken out of a stack's entry and checked; `None` when the
/// entry has neither.
fn cloudformation_of(
    entry: &mut Value,
    place: &str,
) -> Result<Option<CloudFormationStack>, InvalidScenario> {
    let Some(object) = entry.as_object_mut() else {
        return Ok(None);
    };
    let (events, tags) = (object.remove("@stackEvents"), object.remove("@tags"));
    if events.is_none() && tags.is_none() {
        return Ok(None);
    }
    let events = match events {
        Some(mut events) => {
            check(&mut events, &STACK_EVENTS, &format!("{place}.@stackEvents"))?;
            match events {
                Value::Array(items) => items
                    .into_iter()
                    .filter_map(|item| match item {
                        Value::Object(event) => Some(event),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            }
        }
        None => Vec::new(),
    };
    let tags = tags
        .map(|tags| {
            let place = format!("{place}.@tags");
            let Value::Object(tags) = tags else {
                return Err(at(
                    place,
                    expected(
                        "an object of tag values, like {\"team\": \"payments\"}",
                        &tags,
                    ),
                ));
            };
            tags.into_iter()
                .map(|(key, value)| match value {
                    Value::String(value) => Ok((key, value)),
                    other => Err(at(format!("{place}.{key}"), expected("a string", &other))),
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    Ok(Some(CloudFormationStack { events, tags }))
}

const BLOCKER_SUMMARY: Shape = Shape::Object(&[
    ("LatestBlockers", Shape::List(&BLOCKER)),
    ("ParentResourceName", Shape::Text),
    ("ResourceName", Shape::Text),
]);

fn kind_of(value: &Value) -> &'static str {
    crate::notify::spec::kind_of(value)
}

/// Checks `value` against `shape` (members it does not know are kept as they are) and
/// writes every timestamp as epoch seconds.
fn check(value: &mut Value, shape: &Shape, place: &str) -> Result<(), InvalidScenario> {
    match shape {
        Shape::Text => match value {
            Value::String(_) => Ok(()),
            other => Err(at(place, expected("a string", other))),
        },
        Shape::Time => {
            let seconds = match value {
                Value::Number(number) => number.as_f64(),
                Value::String(text) => Timestamp::parse_rfc3339(text)
                    .map(|at| at.as_millis() as f64 / 1000.0)
                    .or_else(|| text.trim().parse::<f64>().ok()),
                _ => None,
            };
            match seconds {
                Some(seconds) if seconds.is_finite() => {
                    *value = serde_json::Number::from_f64(seconds)
                        .map(|number| match number.as_f64() {
                            Some(whole) if whole.fract() == 0.0 && whole.abs() < 9e15 => {
                                Value::from(whole as i64)
                            }
                            _ => Value::Number(number),
                        })
                        .unwrap_or(Value::Null);
                    Ok(())
                }
                _ => Err(at(
                    place,
                    ShapeError::Time {
                        found: describe(value),
                    },
                )),
            }
        }
        Shape::Object(members) => {
            let Value::Object(object) = value else {
                return Err(at(place, expected("an object", value)));
            };
            for (name, member) in members.iter() {
                if let Some(inner) = object.get_mut(*name)
                    && !inner.is_null()
                {
                    check(inner, member, &format!("{place}.{name}"))?;
                }
            }
            Ok(())
        }
        Shape::List(item) => {
            let Value::Array(items) = value else {
                return Err(at(place, expected("an array", value)));
            };
            for (index, inner) in items.iter_mut().enumerate() {
                check(inner, item, &format!("{place}[{index}]"))?;
            }
            Ok(())
        }
    }
}

/// A value quoted in a message: short, on one line.
fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{:?}", crate::text::preview(text, 40)),
        other => kind_of(other).to_owned(),
    }
}

/// An answer: an error (`__type`) or an output checked against `shape`.
fn response(value: &Value, shape: &Shape, place: &str) -> Result<Response, InvalidScenario> {
    let object = value.as_object().ok_or_else(|| {
        at(
            place,
            expected(
                "an answer object, or an error {\"__type\": ..., \"message\": ...}",
                value,
            ),
        )
    })?;
    if let Some(type_name) = object.get("__type") {
        let type_name = type_name
            .as_str()
            .ok_or_else(|| at(format!("{place}.__type"), ShapeError::TypeName))?;
        return Ok(Response::Error {
            type_name: type_name.rsplit('#').next().unwrap_or_default().to_owned(),
            message: object
                .get("message")
                .or_else(|| object.get("Message"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        });
    }
    let mut checked = value.clone();
    check(&mut checked, shape, place)?;
    match checked {
        Value::Object(object) => Ok(Response::Output(object)),
        _ => Err(at(place, ShapeError::NotAnObject)),
    }
}

/// The members whose values are times, in every shape a scenario holds.
const TIME_MEMBERS: [&str; 4] = ["StartedAt", "Time", "CreatedAt", "ResolvedAt"];

/// The latest time among `value`'s [`TIME_MEMBERS`], at any depth (epoch seconds, as
/// [`check`] leaves them).
fn latest_time(value: &Value) -> Option<Timestamp> {
    match value {
        Value::Object(members) => members
            .iter()
            .filter_map(|(name, member)| match member.as_f64() {
                Some(seconds) if TIME_MEMBERS.contains(&name.as_str()) => {
                    Some(Timestamp::from_epoch_seconds(seconds))
                }
                _ => latest_time(member),
            })
            .max(),
        Value::Array(items) => items.iter().filter_map(latest_time).max(),
        _ => None,
    }
}

impl ScenarioTick {
    /// The latest time this tick's answers show.
    pub fn latest_time(&self) -> Option<Timestamp> {
        self.stacks
            .values()
            .flat_map(|stack| [Some(&stack.status), stack.blockers.as_ref()])
            .flatten()
            .filter_map(|answer| match answer {
                Response::Output(members) => members.values().filter_map(latest_time).max(),
                Response::Error { .. } => None,
            })
            .max()
    }
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            file: path.display().to_string(),
            source,
        })?;
        Scenario::parse(&text).map_err(|source| ScenarioError::Invalid {
            file: path.display().to_string(),
            source,
        })
    }

    /// Parses a scenario; the error names the place (line and column, or the JSON path).
    pub fn parse(text: &str) -> Result<Scenario, InvalidScenario> {
        let root: Value =
            serde_json::from_str(text).map_err(|source| InvalidScenario::Json { source })?;
        let ticks = root
            .get("ticks")
            .and_then(Value::as_array)
            .ok_or(InvalidScenario::MissingTicks)?;
        let mut parsed = Vec::with_capacity(ticks.len());
        for (index, tick) in ticks.iter().enumerate() {
            let tick = tick
                .as_object()
                .ok_or_else(|| at(format!("ticks[{index}]"), ShapeError::Tick))?;
            let mut stacks = BTreeMap::new();
            let mut cloudformation = BTreeMap::new();
            let mut now = None;
            for (name, entry) in tick {
                let place = format!("ticks[{index}].{name}");
                if name == "@now" {
                    let mut value = entry.clone();
                    check(&mut value, &Shape::Time, &place)?;
                    now = value.as_f64().map(Timestamp::from_epoch_seconds);
                    continue;
                }
                let mut entry = entry.clone();
                let stack_data = cloudformation_of(&mut entry, &place)?;
                if let Some(data) = stack_data {
                    // Only CloudFormation's: a nested stack, not a watched one.
                    if entry.as_object().is_some_and(Map::is_empty) {
                        if !is_stack_name(name) {
                            return Err(at(place, ShapeError::StackName { name: name.clone() }));
                        }
                        cloudformation.insert(name.clone(), data);
                        continue;
                    }
                    cloudformation.insert(name.clone(), data);
                }
                let resource =
                    ResourceName::parse(name).map_err(|error| at(&place, error.into()))?;
                let blockers = match entry.as_object_mut() {
                    Some(object) if !object.contains_key("__type") => object
                        .remove("SyncBlockerSummary")
                        .map(|summary| {
                            response(
                                &summary,
                                &BLOCKER_SUMMARY,
                                &format!("{place}.SyncBlockerSummary"),
                            )
                        })
                        .transpose()?,
                    _ => None,
                };
                let status = response(&entry, &STATUS_OUTPUT, &place)?;
                stacks.insert(resource, Stack { status, blockers });
            }
            parsed.push(ScenarioTick {
                now,
                stacks,
                cloudformation,
            });
        }
        if parsed.is_empty() {
            return Err(InvalidScenario::EmptyTicks);
        }
        Ok(Scenario { ticks: parsed })
    }

    /// The clock tick `index` runs at: its `@now`; else the latest time its own data shows
    /// (a `StartedAt`, an event's `Time`, a blocker's `CreatedAt` or `ResolvedAt`), never
    /// earlier than the tick before it. So a recording replays the same today and in a
    /// year: a sync recorded running is not found stuck because the wall clock moved on.
    /// `None` only when no tick so far shows any time (the wall clock then).
    pub fn clock(&self, index: usize) -> Option<Timestamp> {
        let mut clock = None;
        for tick in self.ticks.iter().take(index.saturating_add(1)) {
            clock = tick.now.or_else(|| clock.max(tick.latest_time()));
        }
        clock
    }

    /// Every stack named anywhere in the scenario, sorted.
    pub fn resources(&self) -> Vec<ResourceName> {
        let mut names: Vec<ResourceName> = self
            .ticks
            .iter()
            .flat_map(|tick| tick.stacks.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_place() {
        assert!(
            Scenario::parse("{\"ticks\": [}")
                .unwrap_err()
                .to_string()
                .starts_with("line 1, column 12")
        );
        assert!(
            Scenario::parse("{}")
                .unwrap_err()
                .to_string()
                .contains("\"ticks\" array")
        );
        assert!(
            Scenario::parse("{\"ticks\": []}")
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        let bad_name = Scenario::parse("{\"ticks\": [{}, {\"bad name\": {}}]}")
            .unwrap_err()
            .to_string();
        assert!(bad_name.starts_with("ticks[1].bad name: "), "{bad_name}");
        let bad_response = Scenario::parse("{\"ticks\": [{\"a\": 3}]}")
            .unwrap_err()
            .to_string();
        assert!(
            bad_response.starts_with("ticks[0].a: expected"),
            "{bad_response}"
        );
    }

    #[test]
    fn errors_keep_their_short_type_name() {
        let scenario = Scenario::parse(
            r#"{"ticks": [{"a": {"__type": "com.amazonaws.codeconnections#ThrottlingException", "Message": "slow down"}}]}"#,
        )
        .unwrap();
        let name = ResourceName::parse("a").unwrap();
        assert_eq!(
            scenario.ticks[0].stacks[&name].status,
            Response::Error {
                type_name: "ThrottlingException".into(),
                message: "slow down".into()
            }
        );
    }

    #[test]
    fn iso_8601_times_as_the_aws_cli_prints_them_read_as_epoch_seconds() {
        let scenario = Scenario::parse(
            r#"{"ticks": [{"@now": "2026-11-26T10:05:00Z", "a": {"LatestSync": {"StartedAt": "2026-11-26T10:01:00+00:00", "Status": "IN_PROGRESS",
                "Events": [{"Event": "x", "Type": "INFO", "Time": "2026-11-26T10:01:00.500000+00:00"}]}}}]}"#,
        )
        .unwrap();
        let tick = &scenario.ticks[0];
        assert_eq!(tick.now, Some(Timestamp::from_millis(1_795_687_500_000)));
        let Response::Output(output) = &tick.stacks[&ResourceName::parse("a").unwrap()].status
        else {
            panic!()
        };
        assert_eq!(output["LatestSync"]["StartedAt"], 1_795_687_260);
        assert_eq!(output["LatestSync"]["Events"][0]["Time"], 1_795_687_260.5);
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused_with_its_place() {
        for (entry, place) in [
            (
                r#"{"LatestSync": {"Status": 42}}"#,
                "ticks[0].payments-stack.LatestSync.Status: expected a string; found a number",
            ),
            (
                r#"{"LatestSync": {"Events": "none"}}"#,
                "ticks[0].payments-stack.LatestSync.Events: expected an array; found a string",
            ),
            (
                r#"{"LatestSync": {"StartedAt": "yesterday"}}"#,
                "ticks[0].payments-stack.LatestSync.StartedAt: expected a time",
            ),
            (
                r#"{"LatestSync": {"TargetRevision": {"Sha": 7}}}"#,
                "ticks[0].payments-stack.LatestSync.TargetRevision.Sha: expected a string",
            ),
            (
                r#"{"SyncBlockerSummary": {"LatestBlockers": [{"CreatedAt": true}]}}"#,
                "ticks[0].payments-stack.SyncBlockerSummary.LatestBlockers[0].CreatedAt: expected a time",
            ),
        ] {
            let text = format!(r#"{{"ticks": [{{"payments-stack": {entry}}}]}}"#);
            let error = Scenario::parse(&text).unwrap_err().to_string();
            assert!(error.starts_with(place), "{error}");
        }
        let error = Scenario::parse(r#"{"ticks": [{"@now": "soon"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("ticks[0].@now: expected a time"),
            "{error}"
        );
    }

    #[test]
    fn stack_events_and_tags_are_kept_and_a_nested_stack_is_not_watched() {
        let scenario = Scenario::parse(
            r#"{"ticks": [{
                "app": {"LatestSync": {}, "@tags": {"team": "payments"},
                        "@stackEvents": [{"StackName": "app", "LogicalResourceId": "Data", "Timestamp": "2026-11-26T10:00:00.5Z",
                                          "ResourceStatus": "UPDATE_FAILED", "Extra": 1}]},
                "app-Data-1ABC": {"@stackEvents": [{"StackName": "app-Data-1ABC", "Timestamp": 1795687200}]},
                "throttled": {"__type": "ThrottlingException", "@tags": {"team": "orders"}}
            }]}"#,
        )
        .unwrap();
        let resources = scenario.resources();
        let names: Vec<&str> = resources.iter().map(ResourceName::as_str).collect();
        assert_eq!(
            names,
            ["app", "throttled"],
            "the nested stack is not watched"
        );
        let tick = &scenario.ticks[0];
        let app = &tick.cloudformation["app"];
        assert_eq!(
            app.tags,
            Some(vec![("team".to_owned(), "payments".to_owned())])
        );
        assert_eq!(app.events[0]["Timestamp"], 1_795_687_200.5);
        assert_eq!(
            app.events[0]["Extra"], 1,
            "members the model does not know pass as they are"
        );
        let Response::Output(status) = &tick.stacks[&ResourceName::parse("app").unwrap()].status
        else {
            panic!()
        };
        assert!(!status.contains_key("@stackEvents") && !status.contains_key("@tags"));
        assert_eq!(tick.cloudformation["app-Data-1ABC"].events.len(), 1);
        assert_eq!(tick.cloudformation["app-Data-1ABC"].tags, None);
        assert_eq!(
            tick.cloudformation["throttled"].tags.as_ref().unwrap()[0].1,
            "orders"
        );
    }

    #[test]
    fn stack_events_and_tags_of_the_wrong_shape_are_refused_with_their_place() {
        for (entry, place) in [
            (
                r#"{"@stackEvents": {}}"#,
                "ticks[0].app.@stackEvents: expected an array; found an object",
            ),
            (
                r#"{"@stackEvents": ["x"]}"#,
                "ticks[0].app.@stackEvents[0]: expected an object; found a string",
            ),
            (
                r#"{"@stackEvents": [{"Timestamp": "yesterday"}]}"#,
                "ticks[0].app.@stackEvents[0].Timestamp: expected a time",
            ),
            (
                r#"{"@stackEvents": [{}, {"ResourceStatusReason": 7}]}"#,
                "ticks[0].app.@stackEvents[1].ResourceStatusReason: expected a string; found a number",
            ),
            (
                r#"{"LatestSync": {}, "@tags": ["team"]}"#,
                "ticks[0].app.@tags: expected an object of tag values",
            ),
            (
                r#"{"@tags": {"team": 3}}"#,
                "ticks[0].app.@tags.team: expected a string; found a number",
            ),
        ] {
            let text = format!(r#"{{"ticks": [{{"app": {entry}}}]}}"#);
            let error = Scenario::parse(&text).unwrap_err().to_string();
            assert!(error.starts_with(place), "{error}");
        }
        let error = Scenario::parse(r#"{"ticks": [{"app_Data": {"@stackEvents": []}}]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("ticks[0].app_Data: \"app_Data\" is not a stack name"),
            "{error}"
        );
    }

    #[test]
    fn a_blocker_summary_is_served_beside_the_status() {
        let scenario = Scenario::parse(
            r#"{"ticks": [{"a": {"LatestSync": {}, "SyncBlockerSummary": {"ResourceName": "a", "LatestBlockers": [{"Id": "b1", "CreatedAt": "2026-11-26T10:00:00Z"}]}}}]}"#,
        )
        .unwrap();
        let stack = &scenario.ticks[0].stacks[&ResourceName::parse("a").unwrap()];
        let Some(Response::Output(summary)) = &stack.blockers else {
            panic!("{stack:?}")
        };
        assert_eq!(summary["LatestBlockers"][0]["CreatedAt"], 1_795_687_200);
        let Response::Output(status) = &stack.status else {
            panic!()
        };
        assert!(!status.contains_key("SyncBlockerSummary"));
    }

    #[test]
    fn a_tick_without_now_runs_at_the_latest_time_its_own_data_shows() {
        let attempt = |started: i64, status: &str, events: &[i64]| {
            let events: Vec<String> = events
                .iter()
                .map(|time| format!(r#"{{"Event": "e", "Type": "INFO", "Time": {time}}}"#))
                .collect();
            format!(
                r#"{{"LatestSync": {{"StartedAt": {started}, "Status": "{status}", "Events": [{}]}}}}"#,
                events.join(",")
            )
        };
        let text = format!(
            r#"{{"ticks": [
                {{"a": {a0}, "b": {{"__type": "ThrottlingException", "message": "slow"}}}},
                {{"a": {a1}, "b": {b1}}},
                {{"a": {stale}}},
                {{"@now": 1700000000, "a": {a1}}},
                {{"a": {{"__type": "ThrottlingException", "message": "slow"}}}}
            ]}}"#,
            a0 = attempt(1764140000, "SUCCEEDED", &[1764140000, 1764140090]),
            a1 = attempt(1764141000, "IN_PROGRESS", &[1764141000]),
            b1 = r#"{"LatestSync": {"StartedAt": 1764141500, "Status": "INITIATED"}, "SyncBlockerSummary": {"LatestBlockers": [{"Id": "x", "CreatedAt": 1764141600, "ResolvedAt": "2025-11-26T07:30:00Z"}]}}"#,
            stale = attempt(1764130000, "FAILED", &[1764130100]),
        );
        let scenario = Scenario::parse(&text).unwrap();
        let at = |seconds: i64| Some(Timestamp::from_millis(seconds * 1000));
        // The last event of the only stack with data.
        assert_eq!(scenario.clock(0), at(1764140090));
        // A blocker's ResolvedAt (07:30:00 = 1764142200), the latest of every stack's times.
        assert_eq!(scenario.clock(1), at(1764142200));
        // A stale read shows older times: the clock does not go back.
        assert_eq!(scenario.clock(2), at(1764142200));
        // @now wins as given.
        assert_eq!(scenario.clock(3), at(1700000000));
        // A tick that shows no time keeps the clock of the tick before.
        assert_eq!(scenario.clock(4), at(1700000000));
        let timeless =
            Scenario::parse(r#"{"ticks": [{"a": {"__type": "X", "message": ""}}]}"#).unwrap();
        assert_eq!(timeless.clock(0), None);
    }
}
