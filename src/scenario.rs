//! Scenario files (ARCHITECTURE §9): what a loopback CodeConnections serves, tick by tick.
//!
//! ```json
//! { "ticks": [ { "stack-a": { ...GetResourceSyncStatus response as the AWS JSON API returns it... },
//!                "stack-b": { "__type": "ThrottlingException", "message": "Rate exceeded" } } ] }
//! ```
//! A user can paste `aws codeconnections get-resource-sync-status` output straight in.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::domain::ResourceName;

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub ticks: Vec<BTreeMap<ResourceName, Response>>,
}

/// What the endpoint answers for one resource in one tick.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// A `GetResourceSyncStatus` output, in the AWS JSON shape.
    Status(serde_json::Map<String, Value>),
    /// An error, by its short name (`ThrottlingException`) and message.
    Error { type_name: String, message: String },
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ScenarioError {
    pub file: String,
    pub message: String,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError {
            file: path.display().to_string(),
            message: format!("cannot read the scenario file: {error}"),
        })?;
        Scenario::parse(&text).map_err(|message| ScenarioError {
            file: path.display().to_string(),
            message,
        })
    }

    /// Parses a scenario; the error names the place (line and column, or the JSON path).
    pub fn parse(text: &str) -> Result<Scenario, String> {
        let root: Value = serde_json::from_str(text).map_err(|error| {
            format!(
                "line {}, column {}: not valid JSON: {error}",
                error.line(),
                error.column()
            )
        })?;
        let ticks = root.get("ticks").and_then(Value::as_array).ok_or(
            "expected an object with a \"ticks\" array: {\"ticks\": [{\"stack-name\": {...}}]}",
        )?;
        let mut parsed = Vec::with_capacity(ticks.len());
        for (index, tick) in ticks.iter().enumerate() {
            let tick = tick.as_object().ok_or_else(|| {
                format!("ticks[{index}]: expected an object of resource name → response")
            })?;
            let mut responses = BTreeMap::new();
            for (name, response) in tick {
                let place = format!("ticks[{index}].{name}");
                let resource =
                    ResourceName::parse(name).map_err(|error| format!("{place}: {error}"))?;
                let response = response
                    .as_object()
                    .ok_or_else(|| format!("{place}: expected a GetResourceSyncStatus response object or an error {{\"__type\": ..., \"message\": ...}}"))?;
                let response = match response.get("__type") {
                    Some(type_name) => Response::Error {
                        type_name: type_name
                            .as_str()
                            .ok_or_else(|| format!("{place}.__type: expected a string such as \"ThrottlingException\""))?
                            .rsplit('#')
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                        message: response
                            .get("message")
                            .or_else(|| response.get("Message"))
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    },
                    None => Response::Status(response.clone()),
                };
                responses.insert(resource, response);
            }
            parsed.push(responses);
        }
        if parsed.is_empty() {
            return Err("\"ticks\" is empty: give at least one tick".into());
        }
        Ok(Scenario { ticks: parsed })
    }

    /// Every resource named anywhere in the scenario, sorted.
    pub fn resources(&self) -> Vec<ResourceName> {
        let mut names: Vec<ResourceName> = self
            .ticks
            .iter()
            .flat_map(|tick| tick.keys().cloned())
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
                .starts_with("line 1, column 12")
        );
        assert!(
            Scenario::parse("{}")
                .unwrap_err()
                .contains("\"ticks\" array")
        );
        assert!(
            Scenario::parse("{\"ticks\": []}")
                .unwrap_err()
                .contains("empty")
        );
        let bad_name = Scenario::parse("{\"ticks\": [{}, {\"bad name\": {}}]}").unwrap_err();
        assert!(bad_name.starts_with("ticks[1].bad name: "), "{bad_name}");
        let bad_response = Scenario::parse("{\"ticks\": [{\"a\": 3}]}").unwrap_err();
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
            scenario.ticks[0][&name],
            Response::Error {
                type_name: "ThrottlingException".into(),
                message: "slow down".into()
            }
        );
    }
}
