//! `KafkaZkClient` and `ZkSession` against a real ZooKeeper (Debian's
//! `zookeeper` package), one standalone server per test.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use gregor_protocol::Uuid;
use gregor_zk::data::{BrokerInfo, EndPoint, LeaderIsrAndControllerEpoch, SecurityProtocol};
use gregor_zk::{KafkaZkClient, ZkError, ZkSession};
use nix::sys::signal::Signal;
use serde_json::json;
use support::zk::{eventually, json_at, Zk, DEADLINE, SESSION_TIMEOUT};

/// The registration timestamp the tests write (2023-11-14).
const REGISTERED_AT: i64 = 1_700_000_000_000;

fn broker(id: i32, port: i32) -> BrokerInfo {
    BrokerInfo {
        id,
        endpoints: vec![EndPoint {
            listener_name: "PLAINTEXT".to_owned(),
            security_protocol: SecurityProtocol::Plaintext,
            host: "127.0.0.1".to_owned(),
            port,
        }],
        rack: None,
        jmx_port: -1,
        features: BTreeMap::new(),
    }
}

#[tokio::test]
async fn chroot_is_created_and_holds_kafkas_tree() {
    let zookeeper = Zk::start();
    let client = KafkaZkClient::connect(
        &format!("{}/gregor/nested", zookeeper.hosts()),
        SESSION_TIMEOUT,
    )
    .await
    .expect("connect creates the chroot");
    client
        .ensure_persistent_paths()
        .await
        .expect("persistent paths");

    let root = zookeeper.root_client().await;
    let mut top = root
        .list_children("/gregor/nested")
        .await
        .expect("chroot exists");
    top.sort();
    assert_eq!(
        top,
        [
            "admin",
            "brokers",
            "config",
            "consumers",
            "isr_change_notification",
            "latest_producer_id_block",
            "log_dir_event_notification"
        ]
    );
    let mut config = root
        .list_children("/gregor/nested/config")
        .await
        .expect("config");
    config.sort();
    assert_eq!(
        config,
        ["brokers", "changes", "clients", "ips", "topics", "users"]
    );
    assert_eq!(root.check_stat("/brokers").await.expect("stat"), None);
}

#[tokio::test]
async fn cluster_id_is_created_once_and_stable() {
    let zookeeper = Zk::start();
    let first = zookeeper.client().await;
    let id = first.get_or_create_cluster_id().await.expect("cluster id");
    assert_eq!(id.len(), 22);
    assert_eq!(
        first.get_or_create_cluster_id().await.expect("cluster id"),
        id
    );

    let second = zookeeper.client().await;
    assert_eq!(
        second.get_or_create_cluster_id().await.expect("cluster id"),
        id
    );
    let root = zookeeper.root_client().await;
    assert_eq!(
        json_at(&root, "/gregor/cluster/id").await,
        json!({"version": "1", "id": id})
    );
}

#[tokio::test]
async fn broker_registration_is_ephemeral_and_exclusive() {
    let zookeeper = Zk::start();
    let owner = zookeeper.client().await;
    let observer = zookeeper.client().await;
    let info = broker(1, 9092);

    let epoch = owner
        .register_broker(&info, REGISTERED_AT)
        .await
        .expect("register");
    assert_eq!(
        owner
            .register_broker(&info, REGISTERED_AT)
            .await
            .expect("re-register on own session"),
        epoch
    );
    assert!(matches!(
        observer.register_broker(&info, REGISTERED_AT).await,
        Err(ZkError::BrokerIdInUse(1))
    ));
    assert_eq!(observer.get_all_broker_ids().await.expect("ids"), [1]);
    assert_eq!(observer.get_broker(1).await.expect("get"), Some(info));
    assert_eq!(observer.get_broker(2).await.expect("get"), None);

    let root = zookeeper.root_client().await;
    let registration = json_at(&root, "/gregor/brokers/ids/1").await;
    assert_eq!(registration["version"], 5);
    assert_eq!(
        registration["endpoints"],
        json!(["PLAINTEXT://127.0.0.1:9092"])
    );
    assert!(registration["timestamp"].is_string());

    drop(owner);
    eventually("the closed session's registration disappears", || async {
        observer.get_all_broker_ids().await.expect("ids").is_empty()
    })
    .await;
}

#[tokio::test]
async fn generated_broker_ids_start_above_the_reserved_range() {
    let zookeeper = Zk::start();
    let client = zookeeper.client().await;
    assert_eq!(client.generate_broker_id(1000).await.expect("id"), 1001);
    assert_eq!(client.generate_broker_id(1000).await.expect("id"), 1002);
}

#[tokio::test]
async fn topic_assignment_round_trip() {
    let zookeeper = Zk::start();
    let client = zookeeper.client().await;
    let topic_id = Uuid::random();
    let assignment = BTreeMap::from([(0, vec![1, 2]), (1, vec![2, 1])]);
    let configs = BTreeMap::from([("retention.ms".to_owned(), "60000".to_owned())]);

    client
        .create_topic_assignment("orders", topic_id, &assignment, &configs)
        .await
        .expect("create topic");
    let stored = client
        .get_topic_assignment("orders")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.topic_id, Some(topic_id));
    assert_eq!(stored.partitions, assignment);
    assert_eq!(client.get_all_topics().await.expect("topics"), ["orders"]);
    assert_eq!(
        client.get_topic_config("orders").await.expect("config"),
        configs
    );
    assert_eq!(
        client.get_topic_config("absent").await.expect("config"),
        BTreeMap::new()
    );
    assert_eq!(
        client.get_topic_assignment("absent").await.expect("get"),
        None
    );
    assert!(matches!(
        client.create_topic_assignment("orders", Uuid::random(), &assignment, &BTreeMap::new()).await,
        Err(ZkError::TopicExists(topic)) if topic == "orders"
    ));
    assert_eq!(
        client.get_topic_config("orders").await.expect("config"),
        configs
    );

    let root = zookeeper.root_client().await;
    assert_eq!(
        json_at(&root, "/gregor/brokers/topics/orders").await,
        json!({"version": 3, "topic_id": topic_id.to_string(), "partitions": {"0": [1, 2], "1": [2, 1]},
               "adding_replicas": {}, "removing_replicas": {}})
    );
    assert_eq!(
        json_at(&root, "/gregor/config/topics/orders").await,
        json!({"version": 1, "config": {"retention.ms": "60000"}})
    );

    client
        .delete_topic_marker("orders")
        .await
        .expect("mark for deletion");
    assert!(matches!(
        client.delete_topic_marker("orders").await,
        Err(ZkError::TopicAlreadyMarkedForDeletion(_))
    ));
    assert!(matches!(
        client.delete_topic_marker("absent").await,
        Err(ZkError::UnknownTopic(_))
    ));
    assert!(root
        .check_stat("/gregor/admin/delete_topics/orders")
        .await
        .expect("stat")
        .is_some());
}

#[tokio::test]
async fn partition_state_updates_are_conditional_on_zk_version() {
    let zookeeper = Zk::start();
    let client = zookeeper.client().await;
    let initial = LeaderIsrAndControllerEpoch::new(1, 0, vec![1, 2], 1);
    assert_eq!(client.get_partition_state("t", 0).await.expect("get"), None);
    let version = client
        .create_partition_state("t", 0, &initial)
        .await
        .expect("create");
    assert!(matches!(
        client.create_partition_state("t", 0, &initial).await,
        Err(ZkError::NodeExists { .. })
    ));

    let shrunk = LeaderIsrAndControllerEpoch::new(1, 0, vec![1], 1);
    let new_version = client
        .update_partition_state("t", 0, &shrunk, version)
        .await
        .expect("update at current version");
    assert_eq!(new_version, version + 1);
    let stale = client
        .update_partition_state("t", 0, &initial, version)
        .await;
    assert!(
        matches!(stale, Err(ZkError::BadVersion { expected_version, .. }) if expected_version == version)
    );

    let stored = client
        .get_partition_state("t", 0)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.value, shrunk);
    assert_eq!(stored.zk_version, new_version);
    let root = zookeeper.root_client().await;
    assert_eq!(
        json_at(&root, "/gregor/brokers/topics/t/partitions/0/state").await,
        json!({"controller_epoch": 1, "leader": 1, "version": 1, "leader_epoch": 0, "isr": [1]})
    );
}

#[tokio::test]
async fn expired_session_is_replaced_and_broker_reregistered() {
    let zookeeper = Zk::start();
    let session_timeout = Duration::from_secs(2);
    let session = Arc::new(
        ZkSession::connect(&zookeeper.connect_string(), session_timeout)
            .await
            .expect("connect"),
    );
    let info = broker(7, 9092);
    let first = session.client();
    first
        .ensure_persistent_paths()
        .await
        .expect("persistent paths");
    first
        .register_broker(&info, REGISTERED_AT)
        .await
        .expect("register");
    let mut sessions = session.subscribe();

    let mut maintainer = tokio::spawn({
        let session = Arc::clone(&session);
        let info = info.clone();
        async move {
            session
                .maintain(|client| {
                    let info = info.clone();
                    async move { client.register_broker(&info, REGISTERED_AT).await.map(drop) }
                })
                .await
        }
    });

    // Freeze ZooKeeper past the session timeout: the client gives the
    // session up, and the server expires it once it runs again.
    zookeeper.signal(Signal::SIGSTOP);
    eventually("the client declares its session expired", || async {
        first.state() == zookeeper_client::SessionState::Expired
    })
    .await;
    zookeeper.signal(Signal::SIGCONT);

    tokio::select! {
        changed = sessions.changed() => changed.expect("session still maintained"),
        ended = &mut maintainer => panic!("maintain ended: {ended:?}"),
        () = tokio::time::sleep(DEADLINE) => panic!("no new session within {DEADLINE:?}"),
    }
    let second = session.client();
    assert_ne!(second.session_id(), first.session_id());
    assert_eq!(second.get_broker(7).await.expect("get"), Some(info));
    let (_, stat) = second
        .zookeeper()
        .get_data("/brokers/ids/7")
        .await
        .expect("registration exists");
    assert_eq!(stat.ephemeral_owner, second.session_id());
    maintainer.abort();
}

#[tokio::test]
async fn producer_id_blocks_are_claimed_in_order_and_never_overlap() {
    let zookeeper = Zk::start();
    let one = zookeeper.client().await;
    let two = zookeeper.client().await;
    let root = zookeeper.root_client().await;

    // The persistent paths leave the znode empty, as Kafka does: first block.
    assert_eq!(
        one.allocate_producer_id_block(1, 1000)
            .await
            .expect("first"),
        (0, 999)
    );
    assert_eq!(
        json_at(&root, "/gregor/latest_producer_id_block").await,
        json!({"version": 1, "broker": 1, "block_start": "0", "block_end": "999"})
    );
    assert_eq!(
        two.allocate_producer_id_block(2, 1000)
            .await
            .expect("second"),
        (1000, 1999)
    );

    // Brokers racing for blocks each get their own: the conditional write
    // makes the losers re-read and take the next one.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = if i % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            client.allocate_producer_id_block(1 + i % 2, 1000).await
        }));
    }
    let mut blocks = Vec::new();
    for task in tasks {
        blocks.push(task.await.expect("task").expect("allocate"));
    }
    blocks.sort_unstable();
    let expected: Vec<(i64, i64)> = (2..10).map(|b| (b * 1000, b * 1000 + 999)).collect();
    assert_eq!(blocks, expected);
    let latest = json_at(&root, "/gregor/latest_producer_id_block").await;
    assert_eq!(latest["block_end"], json!("9999"));

    // A missing znode is created.
    root.delete("/gregor/latest_producer_id_block", None)
        .await
        .expect("delete");
    assert_eq!(
        one.allocate_producer_id_block(1, 10)
            .await
            .expect("recreated"),
        (0, 9)
    );
}
