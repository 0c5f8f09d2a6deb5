//! The port's contract on DynamoDB: versions, conditional writes, every name answered.

use futures_util::future::join_all;
use sync_notifier::store::{
    Loaded, RECORD_ATTRIBUTE, SCHEMA, SCHEMA_ATTRIBUTE, SaveError, StateStore, TTL_ATTRIBUTE,
    VERSION_ATTRIBUTE,
};

use super::support::{Attempt, Server, name, record};

#[tokio::test]
async fn a_write_with_a_stale_version_is_a_conflict_and_changes_nothing() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let (store, _) = server.store(&table);
    let (other_run, _) = server.store(&table);
    let stack = name("app-stack");
    let first = record(
        "app-stack",
        &Attempt::new(1_795_680_000, "SUCCEEDED", "a1"),
        0,
    );
    let second = record(
        "app-stack",
        &Attempt::new(1_795_680_100, "INITIATED", "b2"),
        0,
    );
    let late = record("app-stack", &Attempt::new(1_795_680_200, "FAILED", "c3"), 0);

    assert_eq!(store.save(&stack, None, &first).await.unwrap(), 1);
    assert!(
        matches!(
            other_run.save(&stack, None, &late).await,
            Err(SaveError::Conflict)
        ),
        "a second first write must lose"
    );
    assert_eq!(store.save(&stack, Some(1), &second).await.unwrap(), 2);
    // The other run read version 1 before that write: it is too late.
    assert!(matches!(
        other_run.save(&stack, Some(1), &late).await,
        Err(SaveError::Conflict)
    ));
    assert!(matches!(
        other_run.save(&stack, Some(3), &late).await,
        Err(SaveError::Conflict)
    ));
    // Updating a record that is not there (deleted by TTL meanwhile) is a conflict too.
    assert!(matches!(
        other_run.save(&name("ghost-stack"), Some(1), &late).await,
        Err(SaveError::Conflict)
    ));

    let loaded = other_run
        .load(&[stack.clone(), name("ghost-stack")])
        .await
        .unwrap();
    assert_eq!(
        loaded[&stack],
        Loaded::Found {
            version: 2,
            record: second
        }
    );
    assert_eq!(loaded[&name("ghost-stack")], Loaded::Missing);
}

#[tokio::test]
async fn of_eight_runs_writing_over_the_same_version_exactly_one_wins() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let stack = name("app-stack");
    let (store, _) = server.store(&table);
    let base = record(
        "app-stack",
        &Attempt::new(1_795_680_000, "SUCCEEDED", "a1"),
        0,
    );
    store.save(&stack, None, &base).await.unwrap();

    let runs: Vec<_> = (0..8).map(|_| server.store(&table).0).collect();
    let results = join_all(runs.iter().enumerate().map(|(index, run)| {
        let attempt = Attempt::new(1_795_680_100, "INITIATED", format!("run{index}"));
        let stack = stack.clone();
        async move {
            run.save(&stack, Some(1), &record("app-stack", &attempt, 0))
                .await
        }
    }))
    .await;

    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter_map(|(index, result)| result.as_ref().ok().map(|_| index))
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|result| result.is_err())
            .all(|result| matches!(result, Err(SaveError::Conflict)))
    );
    let Loaded::Found { version, record } =
        store.load(std::slice::from_ref(&stack)).await.unwrap()[&stack].clone()
    else {
        panic!("the record is gone");
    };
    assert_eq!(version, 2);
    assert_eq!(
        record.state.attempt.target_revision.sha,
        format!("run{}", winners[0])
    );
}

#[tokio::test]
async fn load_answers_every_name_once_even_when_asked_twice() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let (store, calls) = server.store(&table);
    let stack = name("app-stack");
    let kept = record(
        "app-stack",
        &Attempt::new(1_795_680_000, "SUCCEEDED", "a1"),
        0,
    );
    store.save(&stack, None, &kept).await.unwrap();
    calls.take();

    let loaded = store
        .load(&[stack.clone(), name("new-stack"), stack.clone()])
        .await
        .unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(
        loaded[&stack],
        Loaded::Found {
            version: 1,
            record: kept
        }
    );
    assert_eq!(loaded[&name("new-stack")], Loaded::Missing);
    assert_eq!(calls.take().count("BatchGetItem"), 1);
    assert!(store.load(&[]).await.unwrap().is_empty());
    assert_eq!(
        calls.take().count("BatchGetItem"),
        0,
        "nothing to read, no call"
    );
}

#[tokio::test]
async fn the_stored_item_has_the_documented_layout() {
    let server = Server::start().await;
    let table = server.create_table().await;
    let (store, _) = server.store(&table);
    let stack = name("app-stack");
    let kept = record(
        "app-stack",
        &Attempt::new(1_795_680_000, "SUCCEEDED", "a1"),
        0,
    );
    store.save(&stack, None, &kept).await.unwrap();

    let item = server.raw_item(&table, "app-stack").await.unwrap();
    let mut attributes: Vec<&str> = item.keys().map(String::as_str).collect();
    attributes.sort_unstable();
    assert_eq!(attributes, ["pk", "record", "schema", "version"]);
    assert_eq!(item[SCHEMA_ATTRIBUTE].as_s().unwrap(), SCHEMA);
    assert_eq!(item[VERSION_ATTRIBUTE].as_n().unwrap(), "1");
    let json: serde_json::Value =
        serde_json::from_str(item[RECORD_ATTRIBUTE].as_s().unwrap()).unwrap();
    assert_eq!(json["state"]["attempt"]["targetRevision"]["sha"], "a1");
    assert!(
        !item.contains_key(TTL_ATTRIBUTE),
        "only vanished resources expire"
    );
}
