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
