use super::*;
use std::collections::HashMap;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SLACK: &str = "https://hooks.slack.com/services/T000/B000/XXXXXXXXSECRETPART";

fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|name| vars.get(name).cloned())
}

fn problem(pairs: &[(&str, &str)]) -> String {
    parse(pairs).unwrap_err().to_string()
}

#[test]
fn defaults_discover_everything_with_the_local_store_and_all_kinds() {
    let config = parse(&[]).unwrap();
    assert_eq!(config.watch, Watch::Discover);
    assert_eq!(config.state_table, None);
    assert_eq!(config.notify_on, KindSet::ALL);
    assert_eq!(config.fetch_concurrency, 16);
    assert_eq!(config.retention, Duration::from_secs(24 * 3600));
    assert!(config.slack.is_none() && config.webhook.is_none());
}

#[test]
fn watch_resources_empty_or_star_means_discover() {
    for value in ["", " ", "*", " * "] {
        assert_eq!(
            parse(&[("WATCH_RESOURCES", value)]).unwrap().watch,
            Watch::Discover,
            "{value:?}"
        );
    }
}

#[test]
fn watch_resources_is_a_comma_separated_list_without_duplicates() {
    let config = parse(&[("WATCH_RESOURCES", "stack-a, stack-b,stack-a")]).unwrap();
    let names: Vec<&str> = match &config.watch {
        Watch::Resources(names) => names.iter().map(|n| n.as_str()).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(names, ["stack-a", "stack-b"]);
}

#[test]
fn a_bad_resource_name_is_refused_with_the_variable_the_value_and_the_fix() {
    let message = problem(&[("WATCH_RESOURCES", "good,bad name")]);
    assert!(message.contains("WATCH_RESOURCES: item 2"), "{message}");
    assert!(message.contains("\"bad name\" contains ' '"), "{message}");
    assert!(message.contains("letters, digits"), "{message}");
}

#[test]
fn webhook_urls_must_be_https_except_on_loopback() {
    let message = problem(&[(
        "SLACK_WEBHOOK_URL",
        "http://hooks.example.com/services/SECRETPART",
    )]);
    assert!(message.contains("SLACK_WEBHOOK_URL"), "{message}");
    assert!(message.contains("must be https://"), "{message}");
    assert!(
        !message.contains("SECRETPART"),
        "the URL path leaked: {message}"
    );
    for loopback in [
        "http://127.0.0.1:9000/hook",
        "http://localhost:9000/hook",
        "http://[::1]:9000/hook",
    ] {
        assert!(
            parse(&[("SLACK_WEBHOOK_URL", loopback)]).is_ok(),
            "{loopback}"
        );
    }
    assert!(parse(&[("SLACK_WEBHOOK_URL", SLACK)]).is_ok());
}

#[test]
fn a_url_that_is_not_a_url_is_refused_without_echoing_it() {
    let message = problem(&[("SLACK_WEBHOOK_URL", "hooks.slack.com/services/SECRETPART")]);
    assert!(
        message.contains("SLACK_WEBHOOK_URL: a value of"),
        "{message}"
    );
    assert!(!message.contains("SECRETPART"), "{message}");
}

#[test]
fn the_signing_secret_must_be_whsec_and_base64_and_is_never_echoed() {
    for (value, expected) in [
        (
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "does not start with whsec_",
        ),
        ("whsec_not*base64*at*all", "not valid base64"),
        ("whsec_c2hvcnQ=", "5 bytes long"),
    ] {
        let message = problem(&[
            ("WEBHOOK_URL", "https://example.com/hook"),
            ("WEBHOOK_SECRET", value),
        ]);
        assert!(message.contains("WEBHOOK_SECRET: "), "{message}");
        assert!(message.contains(expected), "{message}");
        assert!(
            !message.contains(value.trim_start_matches("whsec_")),
            "the secret leaked: {message}"
        );
    }
}

#[test]
fn the_webhook_url_and_its_secret_come_together() {
    assert!(
        problem(&[("WEBHOOK_URL", "https://example.com/hook")])
            .contains("WEBHOOK_SECRET: is required with WEBHOOK_URL")
    );
    assert!(
        problem(&[("WEBHOOK_SECRET", SECRET)])
            .contains("WEBHOOK_URL: is required with WEBHOOK_SECRET")
    );
    let config = parse(&[
        ("WEBHOOK_URL", "https://example.com/hook"),
        ("WEBHOOK_SECRET", SECRET),
    ])
    .unwrap();
    assert_eq!(config.webhook.unwrap().secret.key().len(), 24);
}

#[test]
fn notify_on_accepts_words_and_event_types_and_refuses_the_rest() {
    let config = parse(&[("NOTIFY_ON", "failed, sync.succeeded")]).unwrap();
    assert!(!config.notify_on.contains(NotificationKind::Started));
    assert!(config.notify_on.contains(NotificationKind::Succeeded));
    assert!(config.notify_on.contains(NotificationKind::Failed));
    let message = problem(&[("NOTIFY_ON", "failed,finished")]);
    assert!(
        message.contains("NOTIFY_ON: unknown word \"finished\""),
        "{message}"
    );
    assert!(message.contains("started,succeeded,failed"), "{message}");
}

#[test]
fn numbers_are_checked_against_their_range() {
    let message = problem(&[("FETCH_CONCURRENCY", "0"), ("RETENTION_HOURS", "many")]);
    assert!(
        message.contains("FETCH_CONCURRENCY: \"0\" is not a whole number of calls from 1 to 64"),
        "{message}"
    );
    assert!(message.contains("RETENTION_HOURS: \"many\""), "{message}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let error = parse(&[
        ("WATCH_RESOURCES", "a b"),
        ("NOTIFY_ON", "x"),
        ("SLACK_WEBHOOK_URL", "ftp://x"),
    ])
    .unwrap_err();
    let variables: Vec<&str> = error.problems.iter().map(|p| p.variable).collect();
    assert_eq!(
        variables,
        ["WATCH_RESOURCES", "SLACK_WEBHOOK_URL", "NOTIFY_ON"]
    );
}

#[test]
fn debug_output_never_shows_secrets() {
    let config = parse(&[
        ("SLACK_WEBHOOK_URL", SLACK),
        ("WEBHOOK_URL", "https://example.com/hooks/TOKENPART"),
        ("WEBHOOK_SECRET", SECRET),
    ])
    .unwrap();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("SECRETPART") && !debug.contains("TOKENPART"),
        "{debug}"
    );
    assert!(
        !debug.contains(SECRET.trim_start_matches("whsec_")),
        "{debug}"
    );
    assert!(
        debug.contains("hooks.slack.com"),
        "the host helps operators: {debug}"
    );
}
