//! More than 100 resources: `BatchGetItem` 100 keys at a time, and keys the server leaves
//! unprocessed asked again.

use sync_notifier::store::{DynamoError, Loaded, StateStore, UnprocessedRetry};

use super::support::{Attempt, Server, name, record};

/// `count` records of about `padding` bytes each, saved; their names.
async fn saved(server: &Server, table: &str, count: usize, padding: usize) -> Vec<String> {
    let (store, _) = server.store(table);
    let mut names = Vec::new();
    for index in 0..count {
        let resource = format!("stack-{index:04}");
        let attempt = Attempt::new(
            1_795_680_000 + index as i64,
            "SUCCEEDED",
            format!("{index:040x}"),
        );
        store
            .save(
                &name(&resource),
                None,
                &record(&resource, &attempt, padding),
            )
            .await
            .unwrap();
        names.push(name(&resource));
    }
    names
}

#[tokio::test]
async fn more_than_100_resources_are_read_100_keys_per_call() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let mut names = saved(&server, &table, 230, 0).await;
    // Twenty never seen before: they are asked for too, and come back missing.
    names.extend((0..20).map(|index| name(&format!("new-stack-{index}"))));
    let (store, calls) = server.store(&table);

    let loaded = store.load(&names).await.unwrap();

    assert_eq!(calls.take().count("BatchGetItem"), 3, "⌈250 / 100⌉ calls");
    assert_eq!(loaded.len(), 250);
    let found = loaded
        .values()
        .filter(|loaded| matches!(loaded, Loaded::Found { version: 1, .. }))
        .count();
    let missing = loaded
        .values()
        .filter(|loaded| **loaded == Loaded::Missing)
        .count();
    assert_eq!((found, missing), (230, 20));
}

#[tokio::test]
async fn keys_the_server_leaves_unprocessed_are_asked_again() {
    // DynamoDB answers at most 16 MB per BatchGetItem and hands back the rest as
    // UnprocessedKeys; fifty items of about 380 KB are 19 MB, so the server must.
    let server = Server::start().await;
    let table = server.create_table().await;
    let names = saved(&server, &table, 50, 380_000).await;
    let (store, calls) = server.store(&table);

    let loaded = store.load(&names).await.unwrap();

    assert_eq!(
        calls.take().count("BatchGetItem"),
        2,
        "one call, then one for the unprocessed keys"
    );
    assert_eq!(loaded.len(), 50);
    for (resource, loaded) in &loaded {
        let Loaded::Found { record, .. } = loaded else {
            panic!("{resource}: {loaded:?}");
        };
        assert_eq!(record.state.attempt.target, resource.as_str());
    }
}

#[tokio::test]
async fn keys_still_unprocessed_after_the_last_allowed_call_fail_the_load_clearly() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let names = saved(&server, &table, 50, 380_000).await;
    let (store, calls) = server.store(&table);
    let store = store.with_unprocessed_retry(UnprocessedRetry {
        max_calls: 1,
        ..UnprocessedRetry::default()
    });

    let error = store.load(&names).await.unwrap_err();

    assert_eq!(calls.take().count("BatchGetItem"), 1);
    let Some(DynamoError::Unprocessed {
        left,
        requested: 50,
        calls: 1,
        ..
    }) = error
        .source
        .as_ref()
        .and_then(|source| source.downcast_ref::<DynamoError>())
    else {
        panic!("{error:?}");
    };
    assert!(*left > 0 && *left < 50, "{left}");
    assert!(
        error
            .to_string()
            .contains("unprocessed after 1 BatchGetItem calls"),
        "{error}"
    );
}
