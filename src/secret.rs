//! The Secrets Manager secret that holds webhook URLs and signing secrets in production.
//!
//! The SAM template stores a JSON object whose keys are configuration variable names
//! (`SLACK_WEBHOOK_URL`, `WEBHOOK_URL`, `WEBHOOK_SECRET`, `TEAMS_WEBHOOK_URL`,
//! `DISCORD_WEBHOOK_URL`, `DESTINATIONS`); an empty value means unset. The function reads it
//! once per cold start (`CONFIG_SECRET_ARN`) and its values take precedence over the
//! environment. No value of it ever reaches a log or an error message.

use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "CONFIG_SECRET_ARN: cannot read the secret ({0}); check the ARN and the function's secretsmanager:GetSecretValue permission"
    )]
    Unreadable(String),
    #[error(
        "CONFIG_SECRET_ARN: the secret is not a JSON object of string values ({0}); store {{\"SLACK_WEBHOOK_URL\": \"https://...\", ...}}"
    )]
    Malformed(String),
}

/// Fetches and parses the secret.
pub async fn load(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<HashMap<String, String>, SecretError> {
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        // The description never carries a response body: a failed answer could hold the secret.
        .map_err(|error| SecretError::Unreadable(crate::aws::describe(&error)))?;
    let text = output
        .secret_string()
        .ok_or_else(|| SecretError::Malformed("it holds binary data, not a string".into()))?;
    parse(text)
}

/// Reads the secret's JSON. Errors say where the shape is wrong, never what the values are.
pub fn parse(text: &str) -> Result<HashMap<String, String>, SecretError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        SecretError::Malformed(format!(
            "not JSON at line {}, column {}",
            error.line(),
            error.column()
        ))
    })?;
    let object = value
        .as_object()
        .ok_or_else(|| SecretError::Malformed("the top level is not an object".into()))?;
    object
        .iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => Ok((key.clone(), text.clone())),
            serde_json::Value::Null => Ok((key.clone(), String::new())),
            _ => Err(SecretError::Malformed(format!(
                "the value of {key} is not a string"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_string_values_and_treats_null_as_unset() {
        let values = parse(r#"{"SLACK_WEBHOOK_URL": "https://hooks.slack.com/x", "WEBHOOK_URL": "", "DESTINATIONS": null}"#).unwrap();
        assert_eq!(values["SLACK_WEBHOOK_URL"], "https://hooks.slack.com/x");
        assert_eq!(values["WEBHOOK_URL"], "");
        assert_eq!(values["DESTINATIONS"], "");
    }

    #[test]
    fn errors_name_the_place_never_the_values() {
        let message = parse(r#"{"WEBHOOK_SECRET": "whsec_TOPSECRET", "X": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("the value of X is not a string"),
            "{message}"
        );
        assert!(!message.contains("TOPSECRET"), "{message}");
        let message = parse("https://hooks.slack.com/TOPSECRET")
            .unwrap_err()
            .to_string();
        assert!(message.contains("not JSON at line 1"), "{message}");
        assert!(!message.contains("TOPSECRET"), "{message}");
    }
}
