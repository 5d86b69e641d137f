//! `DynamoConnections` against moto (a wire-compatible DynamoDB, pinned in `.venv-moto` at the
//! repository root and installed on first use): records round-trip, the sparse workspace
//! index is the fan-out, the broadcaster's holds and the replay's hand-over are conditional
//! updates, and the broadcaster removes a gone connection's item.

use crewship_core::ids::{RunId, WorkspaceId};
use crewship_lambda::ws::connections::{Held, Resume};
use crewship_lambda::ws::table::create_table;
use crewship_lambda::ws::{ConnectionRecord, ConnectionStore, DynamoConnections};

// The same harness the AWS adapters' tests use: one pinned moto in `.venv-moto`, installed under
// a file lock so test binaries of different crates never install it at the same time.
use crewship_test_support::moto::Moto;

async fn table(moto: &Moto, name: &str) -> DynamoConnections {
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    create_table(&client, name).await.unwrap();
    DynamoConnections::new(client, name)
}

fn ws(id: &str) -> WorkspaceId {
    id.parse().unwrap()
}

fn run() -> RunId {
    "run_1".parse().unwrap()
}

#[tokio::test]
async fn records_round_trip_and_the_workspace_index_lists_only_subscribers() {
    let moto = Moto::start();
    let store = table(&moto, "connections-roundtrip").await;
    let mut subscribed = ConnectionRecord::new("Aa1=", Some(ws("ws")), 1_700_000_000);
    subscribed.channels.insert(ws("ws"));
    subscribed.resume = Some(Resume {
        run_id: run(),
        last_seq: 7,
        finished: false,
        replaying: true,
        held_seq: None,
        held_finished: false,
    });
    let idle = ConnectionRecord::new("Bb2=", Some(ws("ws")), 1_700_000_000);
    let anonymous = ConnectionRecord::new("Cc3=", None, 1_700_000_000);
    let mut other = ConnectionRecord::new("Dd4=", Some(ws("other")), 1_700_000_000);
    other.channels.insert(ws("other"));
    for record in [&subscribed, &idle, &anonymous, &other] {
        store.put(record).await.unwrap();
    }
    assert_eq!(store.get("Aa1=").await.unwrap().as_ref(), Some(&subscribed));
    assert_eq!(store.get("Cc3=").await.unwrap().as_ref(), Some(&anonymous));
    assert_eq!(store.get("nope").await.unwrap(), None);
    let found = store.subscribers(&ws("ws")).await.unwrap();
    assert_eq!(found, [subscribed.clone()]);

    store.delete("Aa1=").await.unwrap();
    store.delete("Aa1=").await.unwrap();
    assert!(store.subscribers(&ws("ws")).await.unwrap().is_empty());
    assert_eq!(store.get("Aa1=").await.unwrap(), None);
}

#[tokio::test]
async fn holds_count_only_while_replaying_and_the_hand_over_returns_them() {
    let moto = Moto::start();
    let store = table(&moto, "connections-handover").await;
    let mut record = ConnectionRecord::new("Aa1=", Some(ws("ws")), 1_700_000_000);
    record.channels.insert(ws("ws"));
    record.resume = Some(Resume {
        run_id: run(),
        last_seq: 3,
        finished: false,
        replaying: true,
        held_seq: None,
        held_finished: false,
    });
    store.put(&record).await.unwrap();

    let other_run: RunId = "run_2".parse().unwrap();
    assert!(
        !store
            .hold("Aa1=", &other_run, Some(1), false)
            .await
            .unwrap()
    );
    assert!(store.hold("Aa1=", &run(), Some(11), false).await.unwrap());
    assert!(store.hold("Aa1=", &run(), Some(12), false).await.unwrap());
    assert!(store.hold("Aa1=", &run(), None, true).await.unwrap());
    store.advance("Aa1=", 10).await.unwrap();
    assert_eq!(
        store
            .get("Aa1=")
            .await
            .unwrap()
            .unwrap()
            .resume
            .unwrap()
            .last_seq,
        10
    );

    let held = store.end_replay("Aa1=", 10, false).await.unwrap();
    assert_eq!(
        held,
        Held {
            seq: Some(12),
            finished: true
        }
    );
    let resume = store.get("Aa1=").await.unwrap().unwrap().resume.unwrap();
    assert!(!resume.replaying);
    assert_eq!(resume.held_seq, None);
    // After the hand-over frames go live.
    assert!(!store.hold("Aa1=", &run(), Some(13), false).await.unwrap());
    // A connection gone meanwhile: nothing held, no error.
    assert_eq!(
        store.end_replay("gone", 1, false).await.unwrap(),
        Held::default()
    );
    store.advance("gone", 1).await.unwrap();
}
