//! Controller election (Kafka's `KafkaController.elect()`) against a real
//! ZooKeeper, one standalone server per test.

mod support;

use std::time::{Duration, Instant};

use gregor_broker::controller::{elect, ControllerElector, ControllerState, Election};
use gregor_runtime::{Shutdown, SystemClock};
use gregor_zk::KafkaZkClient;
use nix::sys::signal::Signal;
use support::zk::{eventually, json_at, Zk, DEADLINE};

async fn controller_epoch(root: &zookeeper_client::Client) -> String {
    let (data, _) = root
        .get_data("/gregor/controller_epoch")
        .await
        .expect("/controller_epoch exists");
    String::from_utf8(data).expect("utf-8")
}

/// Waits until exactly one of `electors` is the controller and returns its index.
async fn wait_for_single_controller(electors: &[Option<ControllerElector>]) -> usize {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let winners: Vec<usize> = electors
            .iter()
            .enumerate()
            .filter(|(_, elector)| elector.as_ref().is_some_and(|e| e.state().i_am_controller))
            .map(|(index, _)| index)
            .collect();
        if winners.len() == 1 {
            return winners[0];
        }
        assert!(winners.len() <= 1, "two controllers at once: {winners:?}");
        assert!(
            Instant::now() < deadline,
            "no single controller within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An elector for broker `id` on the system clock, its task on a shutdown
/// tree of its own (dropping the elector stops it).
fn start_elector(client: KafkaZkClient, id: i32) -> ControllerElector {
    ControllerElector::start(client, id, SystemClock::shared(), &Shutdown::new())
}

/// Starts electors for brokers 1, 2, 3, each on its own session.
async fn start_electors(
    zookeeper: &Zk,
) -> (Vec<Option<KafkaZkClient>>, Vec<Option<ControllerElector>>) {
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(zookeeper.client().await);
    }
    let electors = clients
        .iter()
        .zip(1..)
        .map(|(client, id)| Some(start_elector(client.clone(), id)))
        .collect();
    (clients.into_iter().map(Some).collect(), electors)
}

/// Every live elector agrees on `controller` and `epoch`.
async fn wait_until_all_agree(electors: &[Option<ControllerElector>], controller: i32, epoch: i32) {
    eventually("every broker sees the new controller", || async {
        electors.iter().flatten().all(|elector| {
            let ControllerState {
                controller: seen,
                epoch: seen_epoch,
                ..
            } = elector.state();
            seen == Some(controller) && seen_epoch == Some(epoch)
        })
    })
    .await;
}

/// Connects with `session_timeout`, starts broker 1's elector on that
/// session and waits until it is the controller.
async fn elected_broker_one(
    zookeeper: &Zk,
    session_timeout: Duration,
) -> (
    KafkaZkClient,
    ControllerElector,
    tokio::sync::watch::Receiver<ControllerState>,
) {
    let client = KafkaZkClient::connect(&zookeeper.connect_string(), session_timeout)
        .await
        .expect("connect");
    let elector = start_elector(client.clone(), 1);
    let mut state = elector.subscribe();
    tokio::time::timeout(DEADLINE, state.wait_for(|state| state.i_am_controller))
        .await
        .expect("elected in time")
        .expect("elector alive");
    (client, elector, state)
}

#[tokio::test]
async fn concurrent_elections_have_exactly_one_winner() {
    let zookeeper = Zk::start();
    let clients = [
        zookeeper.client().await,
        zookeeper.client().await,
        zookeeper.client().await,
    ];
    let (first, second, third) = tokio::join!(
        elect(&clients[0], 1, &SystemClock),
        elect(&clients[1], 2, &SystemClock),
        elect(&clients[2], 3, &SystemClock)
    );
    let outcomes = [
        first.expect("elect 1"),
        second.expect("elect 2"),
        third.expect("elect 3"),
    ];
    let winners: Vec<i32> = outcomes
        .iter()
        .zip(1..)
        .filter(|(outcome, _)| matches!(outcome, Election::Won { .. }))
        .map(|(_, id)| id)
        .collect();
    assert_eq!(winners.len(), 1, "outcomes: {outcomes:?}");
    let winner = winners[0];
    for (outcome, id) in outcomes.iter().zip(1..) {
        if id == winner {
            assert!(
                matches!(outcome, Election::Won { epoch: 1, .. }),
                "{outcome:?}"
            );
        } else {
            assert_eq!(*outcome, Election::Lost { controller: winner });
        }
    }

    let root = zookeeper.root_client().await;
    let controller = json_at(&root, "/gregor/controller").await;
    assert_eq!(controller["brokerid"], winner);
    assert_eq!(controller["version"], 1);
    assert!(controller["timestamp"].is_string());
    assert_eq!(controller_epoch(&root).await, "1");

    // A second round changes nothing: the holder still wins (same session),
    // the others still lose.
    for (client, id) in clients.iter().zip(1..) {
        let again = elect(client, id, &SystemClock).await.expect("elect again");
        if id == winner {
            assert!(matches!(again, Election::Won { epoch: 1, .. }), "{again:?}");
        } else {
            assert_eq!(again, Election::Lost { controller: winner });
        }
    }
    assert_eq!(controller_epoch(&root).await, "1");
}

#[tokio::test]
async fn a_loser_takes_over_when_the_controller_session_closes() {
    let zookeeper = Zk::start();
    let root = zookeeper.root_client().await;
    let (mut clients, mut electors) = start_electors(&zookeeper).await;

    let first = wait_for_single_controller(&electors).await;
    let first_id = first as i32 + 1;
    wait_until_all_agree(&electors, first_id, 1).await;
    assert_eq!(controller_epoch(&root).await, "1");

    // Close the controller's session: its elector and client hold the only
    // handles on it.
    electors[first] = None;
    clients[first] = None;

    let second = wait_for_single_controller(&electors).await;
    assert_ne!(second, first);
    let second_id = second as i32 + 1;
    wait_until_all_agree(&electors, second_id, 2).await;
    assert_eq!(controller_epoch(&root).await, "2");
    assert_eq!(
        json_at(&root, "/gregor/controller").await["brokerid"],
        second_id
    );
}

#[tokio::test]
async fn resigning_hands_the_controller_over() {
    let zookeeper = Zk::start();
    let root = zookeeper.root_client().await;
    let (_clients, mut electors) = start_electors(&zookeeper).await;

    let first = wait_for_single_controller(&electors).await;
    wait_until_all_agree(&electors, first as i32 + 1, 1).await;
    let resigned = electors[first].take().expect("elector");
    tokio::time::timeout(DEADLINE, resigned.resign())
        .await
        .expect("resign finishes in time")
        .expect("resign");
    assert!(!resigned.state().i_am_controller);
    resigned.resign().await.expect("resigning twice is a no-op");

    let second = wait_for_single_controller(&electors).await;
    assert_ne!(second, first);
    let second_id = second as i32 + 1;
    wait_until_all_agree(&electors, second_id, 2).await;
    assert_eq!(controller_epoch(&root).await, "2");
    assert_eq!(
        json_at(&root, "/gregor/controller").await["brokerid"],
        second_id
    );
    // The resigned broker took no further part.
    assert!(!resigned.state().i_am_controller);
}

#[tokio::test]
async fn the_epoch_continues_from_what_zookeeper_holds() {
    let zookeeper = Zk::start();
    let client = zookeeper.client().await;
    client
        .zookeeper()
        .create(
            "/controller_epoch",
            b"7",
            &zookeeper_client::CreateMode::Persistent
                .with_acls(zookeeper_client::Acls::anyone_all()),
        )
        .await
        .expect("create /controller_epoch");
    let outcome = elect(&client, 4, &SystemClock).await.expect("elect");
    assert!(
        matches!(
            outcome,
            Election::Won {
                epoch: 8,
                epoch_zk_version: 1
            }
        ),
        "{outcome:?}"
    );
    let root = zookeeper.root_client().await;
    assert_eq!(controller_epoch(&root).await, "8");
}

#[tokio::test]
async fn an_expired_controller_session_stops_the_elector_and_frees_the_controller() {
    let zookeeper = Zk::start();
    let (short, elector, mut state) = elected_broker_one(&zookeeper, Duration::from_secs(2)).await;

    // Freeze ZooKeeper past the session timeout: the client gives the
    // session up, and the server expires it once it runs again.
    zookeeper.signal(Signal::SIGSTOP);
    eventually("the client declares its session expired", || async {
        short.state() == zookeeper_client::SessionState::Expired
    })
    .await;
    zookeeper.signal(Signal::SIGCONT);

    tokio::time::timeout(DEADLINE, state.wait_for(|state| !state.i_am_controller))
        .await
        .expect("steps down in time")
        .expect("state kept");
    let ended = tokio::time::timeout(DEADLINE, elector.resign())
        .await
        .expect("task ends in time");
    assert!(
        matches!(ended, Err(gregor_zk::ZkError::SessionEnded(_))),
        "{ended:?}"
    );

    let other = zookeeper.client().await;
    let successor = start_elector(other, 2);
    let electors = [Some(successor)];
    wait_for_single_controller(&electors).await;
    wait_until_all_agree(&electors, 2, 2).await;
}

#[tokio::test]
async fn a_brief_disconnection_keeps_the_controller() {
    let zookeeper = Zk::start();
    let (client, elector, _state) = elected_broker_one(&zookeeper, Duration::from_secs(10)).await;

    // Long enough for the client to see the connection as lost (it allows
    // 2/5 of the session timeout) and re-set its watch in vain, short enough
    // for the session to survive.
    zookeeper.signal(Signal::SIGSTOP);
    tokio::time::sleep(Duration::from_millis(5500)).await;
    zookeeper.signal(Signal::SIGCONT);

    let other = zookeeper.client().await;
    let electors = [Some(elector), Some(start_elector(other, 2))];
    wait_until_all_agree(&electors, 1, 1).await;
    assert!(electors[0]
        .as_ref()
        .is_some_and(|e| e.state().i_am_controller));
    assert_eq!(
        client.state(),
        zookeeper_client::SessionState::SyncConnected
    );
    let root = zookeeper.root_client().await;
    assert_eq!(controller_epoch(&root).await, "1");
}
