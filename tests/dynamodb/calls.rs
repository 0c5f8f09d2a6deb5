//! DynamoDB calls per tick, measured on the wire: ⌈N/100⌉ reads and no write when
//! nothing changed; one claim and one record write per resource with news.

use super::support::{
    Attempt, Calls, Receivers, Server, codeconnections, name, runner, scenario, settings, status,
};

struct Measured {
    tick: &'static str,
    calls: Calls,
    writes_reported: usize,
}

async fn measure(resources: usize) -> Vec<Measured> {
    let server = Server::start().await;
    let table = server.create_table().await;
    let names: Vec<String> = (0..resources)
        .map(|index| name(&format!("stack-{index:04}")))
        .collect();
    let old = |index: usize| {
        Attempt::new(
            1_795_680_000,
            "SUCCEEDED",
            format!("{index:07x}{}", "a".repeat(33)),
        )
    };
    let new = |index: usize, state: &'static str| {
        Attempt::new(
            1_795_680_100,
            state,
            format!("{index:07x}{}", "b".repeat(33)),
        )
    };
    // Every stack in the state `at` gives it.
    let tick = |at: &dyn Fn(usize) -> (Attempt, Attempt)| {
        names
            .iter()
            .enumerate()
            .map(|(index, resource)| {
                let (latest, successful) = at(index);
                (
                    resource.to_string(),
                    status(resource.as_str(), &latest, Some(&successful)),
                )
            })
            .collect::<Vec<_>>()
    };
    let ticks = vec![
        tick(&|index| (old(index), old(index))),
        tick(&|index| (new(index, "INITIATED"), old(index))),
        tick(&|index| {
            if index % 10 == 0 {
                (new(index, "SUCCEEDED"), new(index, "SUCCEEDED"))
            } else {
                (new(index, "INITIATED"), old(index))
            }
        }),
    ];
    let endpoint = codeconnections(scenario(ticks)).await;
    let receivers = Receivers::start().await;
    let (store, log) = server.store(&table);
    let run = runner(&endpoint, store, receivers.destinations(), settings(&names));

    let mut measured = Vec::new();
    for (label, scenario_tick) in [
        ("first sight (baselines)", 0),
        ("steady state", 0),
        ("every stack starts a sync", 1),
        ("steady state", 1),
        ("one stack in ten changes", 2),
        ("steady state", 2),
    ] {
        endpoint.set_tick(scenario_tick);
        let summary = run.tick(None, None).await.unwrap();
        assert!(summary.failures.is_empty(), "{:?}", summary.failures);
        measured.push(Measured {
            tick: label,
            calls: log.take(),
            writes_reported: summary.state_writes,
        });
    }
    measured
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_per_tick_in_steady_state_and_under_change() {
    let mut table = String::from(
        "\n| stacks | tick | BatchGetItem | PutItem | read units | write units |\n| ---: | --- | ---: | ---: | ---: | ---: |\n",
    );
    for resources in [10_usize, 100, 250, 1000] {
        let reads = resources.div_ceil(100);
        let changed_in_ten = resources.div_ceil(10);
        // A stack with something to tell costs a claim, then each delivery is written as
        // soon as it is done: with Slack and a webhook, one write if both finish together,
        // two otherwise (the last one also releases the stack).
        let changed = |stacks: usize| 2 * stacks..=3 * stacks;
        let expected_writes = [
            resources..=resources,
            0..=0,
            changed(resources),
            0..=0,
            changed(changed_in_ten),
            0..=0,
        ];
        // A tick that delivers also reads the destinations' quiet periods (Retry-After), one
        // key, once.
        let delivers = [false, false, true, false, true, false];
        for ((measured, writes), delivers) in measure(resources)
            .await
            .iter()
            .zip(expected_writes)
            .zip(delivers)
        {
            table.push_str(&format!(
                "| {resources} | {} | {} | {} | {} | {} |\n",
                measured.tick,
                measured.calls.count("BatchGetItem"),
                measured.calls.count("PutItem"),
                measured.calls.read_units,
                measured.calls.write_units,
            ));
            assert_eq!(
                measured.calls.count("BatchGetItem"),
                reads + usize::from(delivers),
                "{resources} stacks, {}",
                measured.tick
            );
            assert!(
                writes.contains(&measured.calls.count("PutItem")),
                "{resources} stacks, {}: {} PutItem, expected {writes:?}",
                measured.tick,
                measured.calls.count("PutItem")
            );
            assert_eq!(measured.writes_reported, measured.calls.count("PutItem"));
            assert_eq!(
                measured.calls.operations.keys().collect::<Vec<_>>(),
                if *writes.end() == 0 {
                    vec!["BatchGetItem"]
                } else {
                    vec!["BatchGetItem", "PutItem"]
                },
                "no other call"
            );
        }
    }
    eprintln!("{table}");
}
