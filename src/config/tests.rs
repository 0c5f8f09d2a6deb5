use super::*;
use crate::domain::StackRef;
use crate::notify::Settings;
use base64::Engine as _;
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
    assert!(config.destinations.is_empty());
    assert_eq!(config.stuck_after, Some(Duration::from_secs(3600)));
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
fn event_bus_refuses_the_dash_that_leaves_only_hidden_parameters_unset() {
    // The template's "-" means "unset" for its secret parameters; EVENT_BUS is not one, and a
    // bus named "-" would fail every delivery.
    let message = problem(&[("EVENT_BUS", "-")]);
    assert!(
        message.contains("EVENT_BUS: \"-\" is not an event bus"),
        "{message}"
    );
    assert!(
        message.contains("leave EVENT_BUS (the template's EventBusName) empty"),
        "{message}"
    );
    let message = problem(&[("EVENT_BUS", " - ")]);
    assert!(message.contains("EVENT_BUS: \"-\""), "{message}");
    assert!(parse(&[("EVENT_BUS", "")]).unwrap().destinations.is_empty());
    assert_eq!(
        parse(&[("EVENT_BUS", "ops-bus")])
            .unwrap()
            .destinations
            .len(),
        1
    );
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
    let Settings::Webhook(webhook) = &config.destinations[0].settings else {
        panic!("{:?}", config.destinations)
    };
    assert_eq!(webhook.secret.key().len(), 24);
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
    assert!(
        message.contains("started,succeeded,failed,blocked,unblocked,stuck"),
        "{message}"
    );
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

#[test]
fn stuck_after_minutes_is_a_number_and_zero_turns_it_off() {
    assert_eq!(
        parse(&[("STUCK_AFTER_MINUTES", "90")]).unwrap().stuck_after,
        Some(Duration::from_secs(90 * 60))
    );
    assert_eq!(
        parse(&[("STUCK_AFTER_MINUTES", "0")]).unwrap().stuck_after,
        None
    );
    assert!(
        problem(&[("STUCK_AFTER_MINUTES", "soon")])
            .contains("STUCK_AFTER_MINUTES: \"soon\" is not a whole number of minutes")
    );
}

#[test]
fn notify_on_takes_the_new_kinds() {
    let config = parse(&[("NOTIFY_ON", "blocked,sync.unblocked,stuck")]).unwrap();
    for kind in [
        NotificationKind::Blocked,
        NotificationKind::Unblocked,
        NotificationKind::Stuck,
    ] {
        assert!(config.notify_on.contains(kind), "{kind}");
    }
    assert!(!config.notify_on.contains(NotificationKind::Failed));
    assert!(problem(&[("NOTIFY_ON", "test")]).contains("unknown word \"test\""));
}

#[test]
fn a_long_list_of_bad_stack_names_is_summarised() {
    let names: Vec<String> = (0..9000).map(|index| format!("bad name {index}")).collect();
    let message = problem(&[("WATCH_RESOURCES", &names.join(","))]);
    assert!(message.len() < 1000, "{} bytes", message.len());
    assert!(
        message.contains("9000 items are not stack names; the first three: item 1"),
        "{message}"
    );
}

fn stack(name: &str) -> StackRef {
    StackRef::local(ResourceName::parse(name).unwrap())
}

mod destinations {
    use super::*;

    const HOOK: &str = "https://example.com/hooks/TOKENPART";

    fn problems(value: &str) -> Vec<String> {
        match parse(&[("DESTINATIONS", value)]) {
            Ok(_) => Vec::new(),
            Err(error) => error
                .problems
                .iter()
                .map(|p| format!("{}{}: {}", p.variable, p.path, p.message))
                .collect(),
        }
    }

    fn one_problem(value: &str) -> String {
        let found = problems(value);
        assert_eq!(found.len(), 1, "{found:#?}");
        found[0].clone()
    }

    #[test]
    fn destinations_can_ask_for_blocked_unblocked_and_stuck_alone() {
        let value = format!(
            r#"[{{"type": "slack", "url": "{SLACK}", "events": ["sync.blocked", "unblocked", "stuck"]}}]"#
        );
        let config = parse(&[("DESTINATIONS", &value)]).unwrap();
        let filter = &config.destinations[0].filter;
        for wanted in [
            NotificationKind::Blocked,
            NotificationKind::Unblocked,
            NotificationKind::Stuck,
        ] {
            assert!(filter.matches(wanted, &stack("app")), "{wanted:?}");
        }
        for unwanted in [
            NotificationKind::Started,
            NotificationKind::Succeeded,
            NotificationKind::Failed,
        ] {
            assert!(!filter.matches(unwanted, &stack("app")), "{unwanted:?}");
        }
    }

    #[test]
    fn a_full_list_parses_with_filters_names_and_secrets() {
        let value = format!(
            r#"[{{"type": "slack", "url": "{SLACK}", "name": "prod-alerts", "events": ["sync.failed"], "resources": ["prod-*", "payments-stack"]}},
                {{"type": "webhook", "url": "{HOOK}", "secret": "{SECRET}"}},
                {{"type": "teams", "url": "https://example.webhook.office.com/x"}},
                {{"type": "discord", "url": "https://discord.com/api/webhooks/1/abc", "events": ["sync.started", "sync.succeeded"]}}]"#
        );
        let config = parse(&[("DESTINATIONS", &value)]).unwrap();
        let specs = &config.destinations;
        assert_eq!(specs.len(), 4);
        assert_eq!(specs[0].key(), "slack:prod-alerts");
        assert!(
            specs[0]
                .filter
                .matches(NotificationKind::Failed, &stack("prod-api"))
        );
        assert!(
            specs[0]
                .filter
                .matches(NotificationKind::Failed, &stack("payments-stack"))
        );
        assert!(
            !specs[0]
                .filter
                .matches(NotificationKind::Failed, &stack("dev-api"))
        );
        assert!(
            !specs[0]
                .filter
                .matches(NotificationKind::Succeeded, &stack("prod-api"))
        );
        assert!(
            matches!(&specs[1].settings, Settings::Webhook(webhook) if webhook.secret.key().len() == 24)
        );
        assert!(specs[1].key().starts_with("webhook#"));
        assert!(!specs[1].key().contains("TOKENPART"));
        assert!(matches!(specs[2].settings, Settings::Teams(_)));
        assert!(
            specs[3]
                .filter
                .matches(NotificationKind::Started, &stack("anything"))
        );
        assert!(
            !specs[3]
                .filter
                .matches(NotificationKind::Failed, &stack("anything"))
        );
        assert_eq!(specs[3].origin, "DESTINATIONS[3]");
    }

    #[test]
    fn base64_of_the_array_is_accepted_as_the_template_stores_it() {
        let json = format!(r#"[{{"type": "slack", "url": "{SLACK}"}}]"#);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&json);
        let config = parse(&[("DESTINATIONS", &encoded)]).unwrap();
        assert_eq!(config.destinations.len(), 1);
        let wrapped = format!("{}\n{}", &encoded[..10], &encoded[10..]);
        assert_eq!(
            parse(&[("DESTINATIONS", &wrapped)])
                .unwrap()
                .destinations
                .len(),
            1,
            "line breaks inside base64 are ignored"
        );
        assert!(
            one_problem("not json and not base64!").contains("neither a JSON array"),
            "{:?}",
            problems("x")
        );
        let not_json = base64::engine::general_purpose::STANDARD.encode("[{oops");
        assert!(one_problem(&not_json).contains("is not valid JSON after base64 decoding"));
    }

    #[test]
    fn every_mistake_is_reported_with_its_position() {
        let value = format!(
            r#"[{{"type": "slack", "url": "{SLACK}"}},
                {{"type": "slak", "url": "{SLACK}"}},
                {{"type": "discord", "url": "https://discord.com/api/webhooks/1/abc", "events": ["sync.fail"], "resources": ["prod.*"], "chanel": "x"}}]"#
        );
        let found = problems(&value);
        assert_eq!(
            found,
            [
                "DESTINATIONS[1].type: unknown type \"slak\"; expected slack, slack-app, webhook, teams, discord, google-chat, pagerduty, q-developer or eventbridge",
                "DESTINATIONS[2].chanel: unknown field for a discord destination; expected type, name, events, resources, accounts, regions, url",
                "DESTINATIONS[2].events[0]: unknown event \"sync.fail\"; expected sync.started, sync.succeeded, sync.failed, sync.blocked, sync.unblocked, sync.stuck, sync.reminder or sync.digest",
                "DESTINATIONS[2].resources[0]: \"prod.*\" contains '.', which no stack name has; use letters, digits, '-' and '_' as in stack names, with * for any run of characters and ? for one",
            ]
        );
    }

    #[test]
    fn the_message_in_the_brief_reads_exactly_so() {
        let value = format!(
            r#"[{{"type": "slack", "url": "{SLACK}", "name": "a"}}, {{"type": "slack", "url": "{SLACK}", "name": "b"}},
                {{"type": "slack", "url": "{SLACK}", "name": "c", "events": ["sync.fail"]}}]"#
        );
        let message = parse(&[("DESTINATIONS", &value)]).unwrap_err().to_string();
        assert!(
            message.contains("\n  DESTINATIONS[2].events[0]: unknown event \"sync.fail\"; expected sync.started, sync.succeeded, sync.failed, sync.blocked, sync.unblocked, sync.stuck, sync.reminder or sync.digest"),
            "{message}"
        );
    }

    #[test]
    fn structural_mistakes_say_what_was_expected() {
        assert!(one_problem("{}").contains("expected a JSON array of destinations"));
        assert!(one_problem("[").starts_with("DESTINATIONS: is not valid JSON: EOF while parsing"));
        assert_eq!(
            one_problem("[3]"),
            "DESTINATIONS[0]: expected an object with type, name, events, resources and the fields of its type; found a number"
        );
        assert_eq!(
            one_problem(r#"[{"url": "https://example.com/x"}]"#),
            "DESTINATIONS[0].type: missing; expected slack, slack-app, webhook, teams, discord, google-chat, pagerduty, q-developer or eventbridge"
        );
        assert_eq!(
            one_problem(r#"[{"type": "slack"}]"#),
            "DESTINATIONS[0].url: missing; give the destination's https:// URL"
        );
        assert!(
            one_problem(r#"[{"type": "slack", "url": "https://example.com/x", "events": []}]"#)
                .starts_with("DESTINATIONS[0].events: is empty")
        );
        assert!(
            one_problem(
                r#"[{"type": "slack", "url": "https://example.com/x", "events": "sync.failed"}]"#
            )
            .starts_with(
                "DESTINATIONS[0].events: expected an array of event types; found a string"
            )
        );
        assert!(
            one_problem(
                r#"[{"type": "slack", "url": "https://example.com/x", "resources": ["a", 7]}]"#
            )
            .starts_with("DESTINATIONS[0].resources[1]: expected a string; found a number")
        );
        assert!(
            one_problem(
                r#"[{"type": "slack", "url": "https://example.com/x", "name": "has space"}]"#
            )
            .starts_with("DESTINATIONS[0].name: \"has space\" is not a usable name")
        );
    }

    #[test]
    fn webhooks_need_a_secret_and_only_webhooks_take_one() {
        assert!(
            one_problem(&format!(r#"[{{"type": "webhook", "url": "{HOOK}"}}]"#))
                .starts_with("DESTINATIONS[0].secret: missing; a webhook is always signed")
        );
        assert!(
            one_problem(&format!(
                r#"[{{"type": "slack", "url": "{SLACK}", "secret": "{SECRET}"}}]"#
            ))
            .starts_with("DESTINATIONS[0].secret: only a webhook destination is signed, not slack")
        );
        let message = one_problem(&format!(
            r#"[{{"type": "webhook", "url": "{HOOK}", "secret": "whsec_c2hvcnQ="}}]"#
        ));
        assert!(
            message.starts_with("DESTINATIONS[0].secret: the key is 5 bytes long"),
            "{message}"
        );
    }

    #[test]
    fn no_message_repeats_a_url_or_a_secret() {
        let value = format!(
            r#"[{{"type": "http://hooks.example.com/SECRETPART", "url": "http://hooks.example.com/services/SECRETPART"}},
                {{"type": "webhook", "url": "{HOOK}", "secret": "whsec_not*base64*SECRETPART"}},
                {{"https://x.example/SECRETPART": 1, "type": "slack", "url": "{SLACK}"}}]"#
        );
        let message = parse(&[("DESTINATIONS", &value)]).unwrap_err().to_string();
        assert!(!message.contains("SECRETPART"), "{message}");
        assert!(!message.contains("TOKENPART"), "{message}");
        assert!(
            message.contains("DESTINATIONS[0].type: unknown type (a value of"),
            "{message}"
        );
        assert!(
            message.contains("DESTINATIONS[0].url: \"http://hooks.example.com/…\" uses http"),
            "{message}"
        );
    }

    #[test]
    fn the_same_destination_twice_is_refused_unless_named_apart() {
        let message = problem(&[
            ("SLACK_WEBHOOK_URL", SLACK),
            (
                "DESTINATIONS",
                &format!(r#"[{{"type": "slack", "url": "{SLACK}", "events": ["sync.failed"]}}]"#),
            ),
        ]);
        assert!(
            message.contains("DESTINATIONS[0]: sends to the same slack URL as SLACK_WEBHOOK_URL; merge their filters into one entry, or give each a distinct \"name\""),
            "{message}"
        );
        let named_apart = format!(
            r#"[{{"type": "slack", "url": "{SLACK}", "name": "all"}}, {{"type": "slack", "url": "{SLACK}", "name": "failures", "events": ["sync.failed"]}}]"#
        );
        assert_eq!(
            parse(&[("DESTINATIONS", &named_apart)])
                .unwrap()
                .destinations
                .len(),
            2
        );
        let same_name = format!(
            r#"[{{"type": "slack", "url": "{SLACK}", "name": "x"}}, {{"type": "slack", "url": "https://hooks.slack.com/services/other", "name": "x"}}]"#
        );
        assert!(problem(&[("DESTINATIONS", &same_name)]).contains(
            "DESTINATIONS[1].name: the name \"x\" is already used by the slack destination of DESTINATIONS[0]"
        ));
    }

    #[test]
    fn single_url_variables_and_destinations_combine_in_order() {
        let config = parse(&[
            ("SLACK_WEBHOOK_URL", SLACK),
            ("WEBHOOK_URL", HOOK),
            ("WEBHOOK_SECRET", SECRET),
            ("TEAMS_WEBHOOK_URL", "https://example.webhook.office.com/teams"),
            ("DISCORD_WEBHOOK_URL", "https://discord.com/api/webhooks/1/abc"),
            ("DESTINATIONS", r#"[{"type": "slack", "url": "https://hooks.slack.com/services/second", "name": "second"}]"#),
        ])
        .unwrap();
        let origins: Vec<String> = config
            .all_destinations()
            .iter()
            .map(|d| d.origin.clone())
            .collect();
        assert_eq!(
            origins,
            [
                "SLACK_WEBHOOK_URL",
                "WEBHOOK_URL",
                "TEAMS_WEBHOOK_URL",
                "DISCORD_WEBHOOK_URL",
                "DESTINATIONS[0]"
            ]
        );
        let keys: Vec<String> = config.all_destinations().iter().map(|d| d.key()).collect();
        assert!(
            keys[0].starts_with("slack#")
                && keys[2].starts_with("teams#")
                && keys[3].starts_with("discord#")
        );
        assert_eq!(keys[4], "slack:second");
    }

    #[test]
    fn teams_and_discord_urls_are_checked_like_the_others() {
        let message = problem(&[
            ("TEAMS_WEBHOOK_URL", "http://example.com/x"),
            ("DISCORD_WEBHOOK_URL", "nope"),
        ]);
        assert!(
            message.contains("TEAMS_WEBHOOK_URL: \"http://example.com/…\" uses http"),
            "{message}"
        );
        assert!(
            message.contains("DISCORD_WEBHOOK_URL: a value of 4 characters"),
            "{message}"
        );
    }

    #[test]
    fn the_region_gives_console_links_only_when_it_looks_like_one() {
        assert_eq!(
            parse(&[("AWS_REGION", "eu-west-1")])
                .unwrap()
                .console_region
                .unwrap()
                .as_str(),
            "eu-west-1"
        );
        assert!(
            parse(&[("AWS_REGION", "local")])
                .unwrap()
                .console_region
                .is_none()
        );
        assert!(parse(&[]).unwrap().console_region.is_none());
    }

    #[test]
    fn debug_output_of_destinations_never_shows_secrets() {
        let config = parse(&[(
            "DESTINATIONS",
            &format!(r#"[{{"type": "webhook", "url": "{HOOK}", "secret": "{SECRET}"}}]"#),
        )])
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("TOKENPART"), "{debug}");
        assert!(
            !debug.contains(SECRET.trim_start_matches("whsec_")),
            "{debug}"
        );
    }
}

mod schedule {
    use std::time::Duration;

    use super::super::schedule_interval;

    #[test]
    fn a_rate_gives_the_interval_and_a_cron_none() {
        assert_eq!(
            schedule_interval("rate(1 minute)"),
            Ok(Some(Duration::from_secs(60)))
        );
        assert_eq!(
            schedule_interval(" rate(5 minutes) "),
            Ok(Some(Duration::from_secs(300)))
        );
        assert_eq!(
            schedule_interval("rate(2 hours)"),
            Ok(Some(Duration::from_secs(7200)))
        );
        assert_eq!(
            schedule_interval("rate(1 day)"),
            Ok(Some(Duration::from_secs(86_400)))
        );
        assert_eq!(schedule_interval("cron(0/5 * * * ? *)"), Ok(None));
    }

    #[test]
    fn anything_else_is_refused_with_the_fix() {
        for bad in [
            "rate(0 minutes)",
            "rate(5 fortnights)",
            "rate(five minutes)",
            "every minute",
            "rate(1)",
        ] {
            let message = schedule_interval(bad).unwrap_err().to_string();
            assert!(message.contains("like rate(1 minute)"), "{bad}: {message}");
        }
    }

    #[test]
    fn the_first_sweep_covers_a_tick_and_a_half_or_the_whole_hour() {
        use crate::run::RunSettings;
        let minute = Duration::from_secs(60);
        assert_eq!(
            RunSettings::first_sweep_window(Some(minute)),
            Duration::from_secs(90)
        );
        assert_eq!(
            RunSettings::first_sweep_window(Some(minute * 120)),
            minute * 60
        );
        assert_eq!(RunSettings::first_sweep_window(None), minute * 60);
    }
}
