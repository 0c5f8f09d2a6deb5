//! The tests' tables are the table `template.yaml` deploys.

use sync_notifier::store::{KEY, TTL_ATTRIBUTE};

/// The lines of the `StateTable` resource, trimmed, comments left out.
fn state_table() -> String {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml");
    let resource_starts = |line: &str| {
        let body = line.trim_start_matches(' ');
        line.len() - body.len() <= 2 && !body.is_empty() && !body.starts_with('#')
    };
    template
        .lines()
        .skip_while(|line| *line != "  StateTable:")
        .skip(1)
        .take_while(|line| !resource_starts(line))
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_test_tables_have_the_key_and_ttl_attribute_of_the_deployed_table() {
    let table = state_table();
    assert!(table.contains("BillingMode: PAY_PER_REQUEST"), "{table}");
    assert!(
        table.contains(&format!("- AttributeName: {KEY}\nAttributeType: S")),
        "the key is {KEY} (S): {table}"
    );
    assert!(
        table.contains(&format!("- AttributeName: {KEY}\nKeyType: HASH")),
        "{KEY} is the partition key: {table}"
    );
    assert_eq!(table.matches("KeyType:").count(), 1, "no sort key: {table}");
    assert!(
        table.contains(&format!(
            "TimeToLiveSpecification:\nAttributeName: {TTL_ATTRIBUTE}\nEnabled: true"
        )),
        "TTL on {TTL_ATTRIBUTE}: {table}"
    );
}

fn read(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The lines of one resource (`  Name:` at two spaces) of a template, trimmed.
fn resource(template: &str, name: &str) -> Vec<String> {
    let header = format!("  {name}:");
    template
        .lines()
        .skip_while(|line| *line != header)
        .skip(1)
        .take_while(|line| line.starts_with("   ") || line.trim().is_empty())
        .map(|line| line.trim().to_owned())
        .collect()
}

#[test]
fn every_rule_matches_every_spelling_the_function_accepts() {
    let template = read("template.yaml");
    let forwarder = read("templates/member-forwarder.yaml");
    let function = resource(&template, "SyncNotifierFunction");
    let hub_rule = resource(&template, "HubGitSyncRule");
    let accepted = sync_notifier::lambda::RESOURCE_EVENTS
        .iter()
        .chain(sync_notifier::lambda::REPOSITORY_EVENTS.iter());
    for spelling in accepted {
        let item = format!("- {spelling}");
        for (name, lines) in [
            ("the function's rule", &function),
            ("the hub's rule", &hub_rule),
        ] {
            assert!(
                lines.contains(&item),
                "{name} in template.yaml misses {spelling:?}"
            );
        }
        assert!(
            forwarder.lines().any(|line| line.trim() == item),
            "templates/member-forwarder.yaml misses {spelling:?}"
        );
    }
}

#[test]
fn every_reading_role_may_read_blockers_and_none_may_change_them() {
    for path in [
        "template.yaml",
        "templates/member-role.yaml",
        "templates/stacksets.yaml",
    ] {
        let template = read(path);
        let granted: Vec<&str> = template
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with("- codeconnections:"))
            .collect();
        for action in [
            "GetResourceSyncStatus",
            "ListRepositoryLinks",
            "ListSyncConfigurations",
            "GetSyncBlockerSummary",
        ] {
            assert!(
                granted.contains(&format!("- codeconnections:{action}").as_str()),
                "{path} does not grant codeconnections:{action}: {granted:?}"
            );
        }
        assert_eq!(
            granted.len(),
            4,
            "{path} grants only the four reads: {granted:?}"
        );
    }
}
