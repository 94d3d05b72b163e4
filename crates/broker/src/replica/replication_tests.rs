//! Behaviour tests of the leader's side of replication: the high watermark
//! from followers' fetches, ISR expansion and shrinking written to a fake
//! ZooKeeper (and leadership given up when the controller wrote first), and
//! the follower's side of the log (append, high watermark).

use std::sync::Arc;
use std::time::Duration;

use gregor_log::LogConfig;
use gregor_protocol::BrokerId;
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_zk::data::LeaderIsrAndControllerEpoch;

use super::manager::{AwaitedCommit, FetchParams, FetchPartition, PartitionData};
use super::testing::{batch, config, manager_with, manager_with_zk, FakeZk, ME};
use super::{LeaderAndIsrPartition, ReplicaManager, Role};
use gregor_runtime::Shutdown;

const F2: BrokerId = 2;
const F3: BrokerId = 3;

fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

fn state(
    leader: BrokerId,
    leader_epoch: i32,
    isr: &[BrokerId],
    zk_version: i32,
) -> LeaderAndIsrPartition {
    LeaderAndIsrPartition {
        topic_partition: tp(),
        leader,
        leader_epoch,
        replicas: vec![ME, F2, F3],
        isr: isr.to_vec(),
        zk_version,
        controller_epoch: 7,
        leader_endpoint: None,
        log_config: LogConfig::default(),
        topic_id: [0; 16],
    }
}

fn apply(rm: &ReplicaManager, state: LeaderAndIsrPartition) {
    let results = rm.become_leader_or_follower(7, &[state]).unwrap();
    results[0].1.as_ref().unwrap();
}

/// A leader of `tp()` with `batches` records, ISR as given.
fn leader(
    dir: &std::path::Path,
    isr: &[BrokerId],
    batches: i64,
) -> (Arc<ReplicaManager>, Arc<FakeZk>) {
    let (rm, zk) = manager_with_zk(dir);
    apply(&rm, state(ME, 1, isr, 0));
    for ts in 0..batches {
        rm.append(&tp(), &batch(ts)).unwrap();
    }
    (rm, zk)
}

async fn fetch(
    rm: &ReplicaManager,
    replica: Option<BrokerId>,
    offset: i64,
) -> Result<PartitionData, ErrorCode> {
    fetch_in(rm, 1, replica, offset).await
}

/// [`fetch`] by a client that believes `leader_epoch` current.
async fn fetch_in(
    rm: &ReplicaManager,
    leader_epoch: i32,
    replica: Option<BrokerId>,
    offset: i64,
) -> Result<PartitionData, ErrorCode> {
    let want = FetchPartition {
        topic_partition: tp(),
        current_leader_epoch: Some(leader_epoch),
        fetch_offset: offset,
        max_bytes: 1 << 20,
    };
    let params = FetchParams {
        from_follower: false,
        replica_id: replica,
        min_bytes: 0,
        max_wait: Duration::ZERO,
        max_bytes: 1 << 20,
    };
    rm.fetch(&[want], &params)
        .await
        .remove(0)
        .map_err(|e| e.error_code())
}

/// How many records a fetch returned.
fn records(data: &PartitionData) -> usize {
    let bytes = data.records.as_deref().unwrap_or_default();
    gregor_record::Batches::new(bytes)
        .map(|b| b.unwrap().0.record_count as usize)
        .sum()
}

fn high_watermark(rm: &ReplicaManager) -> i64 {
    rm.partition(&tp()).unwrap().log().high_watermark()
}

/// Waits, on a task of its own, for the acks=all append `awaited` to be
/// answered (for 30 s at most, the produce timeout).
fn wait_for_commit(
    rm: &Arc<ReplicaManager>,
    awaited: AwaitedCommit,
) -> tokio::task::JoinHandle<Result<(), ErrorCode>> {
    let rm = Arc::clone(rm);
    tokio::spawn(async move {
        rm.wait_for_commits(&[awaited], Duration::from_secs(30))
            .await
            .remove(0)
            .map_err(|e| e.error_code())
    })
}

/// The answer of a waiting produce, which must come well before its
/// timeout.
async fn answer_of(
    waiting: tokio::task::JoinHandle<Result<(), ErrorCode>>,
) -> Result<(), ErrorCode> {
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("answered before the produce timeout")
        .unwrap()
}

#[tokio::test]
async fn the_high_watermark_is_the_smallest_log_end_in_the_isr() {
    let dir = tempfile::tempdir().unwrap();
    let (rm, _) = leader(dir.path(), &[ME, F2, F3], 3);
    // Nothing is committed until every in-sync follower is heard from.
    assert_eq!(high_watermark(&rm), 0);
    assert_eq!(records(&fetch(&rm, None, 0).await.unwrap()), 0);
    // A follower reads past the high watermark, up to the log end.
    let f2 = fetch(&rm, Some(F2), 0).await.unwrap();
    assert_eq!((records(&f2), f2.high_watermark), (3, 0));
    fetch(&rm, Some(F2), 3).await.unwrap();
    fetch(&rm, Some(F3), 2).await.unwrap();
    assert_eq!(high_watermark(&rm), 2);
    let consumer = fetch(&rm, None, 0).await.unwrap();
    assert_eq!((records(&consumer), consumer.high_watermark), (2, 2));
    // The fetch that moves it answers with the new high watermark.
    assert_eq!(fetch(&rm, Some(F3), 3).await.unwrap().high_watermark, 3);
    // It never moves back, even if a follower's position does.
    fetch(&rm, Some(F3), 1).await.unwrap();
    assert_eq!(high_watermark(&rm), 3);
    // ListOffsets' latest: the high watermark for a consumer, the log end
    // for a follower.
    rm.append(&tp(), &batch(9)).unwrap();
    let latest = |replica| {
        rm.offset_for_timestamp(&tp(), replica, None, -1)
            .unwrap()
            .offset
    };
    assert_eq!((latest(None), latest(Some(F2))), (3, 4));
}

#[tokio::test(start_paused = true)]
async fn a_follower_fetch_that_commits_records_wakes_a_waiting_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let (rm, _) = leader(dir.path(), &[ME, F2], 2);
    let waiting = {
        let rm = Arc::clone(&rm);
        tokio::spawn(async move {
            let want = FetchPartition {
                topic_partition: tp(),
                current_leader_epoch: None,
                fetch_offset: 0,
                max_bytes: 1 << 20,
            };
            let params = FetchParams {
                from_follower: false,
                replica_id: None,
                min_bytes: 1,
                max_wait: Duration::from_secs(30),
                max_bytes: 1 << 20,
            };
            rm.fetch(&[want], &params).await.remove(0).unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "nothing is committed yet");
    fetch(&rm, Some(F2), 2).await.unwrap();
    let data = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the consumer answers before its max wait")
        .unwrap();
    assert_eq!((records(&data), data.high_watermark), (2, 2));
}

#[tokio::test]
async fn a_caught_up_follower_joins_the_isr_by_a_conditional_write() {
    let dir = tempfile::tempdir().unwrap();
    let (rm, zk) = leader(dir.path(), &[ME], 2);
    assert_eq!(
        high_watermark(&rm),
        2,
        "alone in the ISR, the leader commits at once"
    );
    // Behind the high watermark: stays out.
    fetch(&rm, Some(F3), 1).await.unwrap();
    assert_eq!(rm.write_queued_isr_updates().await, 0);
    fetch(&rm, Some(F3), 2).await.unwrap();
    // While the change is being written, the follower already counts for
    // the high watermark (the maximal ISR).
    rm.append(&tp(), &batch(5)).unwrap();
    assert_eq!(high_watermark(&rm), 2);
    assert_eq!(rm.write_queued_isr_updates().await, 1);
    let partition = rm.partition(&tp()).unwrap();
    assert_eq!((partition.isr(), partition.zk_version()), (vec![ME, F3], 1));
    let zk = zk.lock();
    assert_eq!(
        zk.written,
        [LeaderIsrAndControllerEpoch::new(ME, 1, vec![ME, F3], 7)]
    );
    assert_eq!(zk.notified, [vec![tp()]]);
}

#[tokio::test]
async fn a_follower_rejoins_at_the_end_of_the_isr_not_at_its_replica_position() {
    let dir = tempfile::tempdir().unwrap();
    // Replicas [ME, F2, F3]; F2 dropped out (say it crashed) and F3 stayed.
    let (rm, zk) = leader(dir.path(), &[F3, ME], 1);
    fetch(&rm, Some(F2), 1).await.unwrap();
    assert_eq!(rm.write_queued_isr_updates().await, 1);
    // Kafka 2.8 appends to the ISR as it is: [3, 1, 2], not [1, 2, 3].
    assert_eq!(rm.partition(&tp()).unwrap().isr(), [F3, ME, F2]);
    assert_eq!(zk.lock().written[0].isr, [F3, ME, F2]);
}

#[tokio::test]
async fn a_lagging_follower_leaves_the_isr_and_the_high_watermark_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let (rm, zk) = leader(dir.path(), &[ME, F2, F3], 2);
    fetch(&rm, Some(F2), 2).await.unwrap();
    fetch(&rm, Some(F3), 0).await.unwrap();
    assert_eq!(high_watermark(&rm), 0);
    let lag = config().lag_time_max.as_millis() as i64;
    let now = rm.now_ms();
    rm.maybe_shrink_isrs(now + lag / 2);
    assert_eq!(
        rm.write_queued_isr_updates().await,
        0,
        "not behind for long yet"
    );
    rm.maybe_shrink_isrs(now + lag + 1_000);
    assert_eq!(rm.write_queued_isr_updates().await, 1);
    // F2 has everything: it stays however long ago it fetched.
    assert_eq!(rm.partition(&tp()).unwrap().isr(), [ME, F2]);
    assert_eq!(zk.lock().written[0].isr, [ME, F2]);
    assert_eq!(high_watermark(&rm), 2);
}

#[tokio::test]
async fn a_leader_refused_an_isr_write_stops_leading_until_the_next_leader_and_isr() {
    let dir = tempfile::tempdir().unwrap();
    let (rm, zk) = manager_with_zk(dir.path());
    apply(&rm, state(ME, 1, &[ME, F3], 0));
    // An acks=all batch waits for F3, which has not fetched yet.
    let (_, awaited) = rm.append_for_all_acks(&tp(), &batch(0)).unwrap();
    let waiting = wait_for_commit(&rm, awaited);
    // The controller wrote the state since this leader's version 0; F2
    // catches up and the leader's ISR expansion is refused.
    zk.lock().zk_version = 4;
    fetch(&rm, Some(F2), 1).await.unwrap();
    assert_eq!(rm.write_queued_isr_updates().await, 1);
    assert!(zk.lock().written.is_empty() && zk.lock().notified.is_empty());
    let partition = rm.partition(&tp()).unwrap();
    assert_eq!((partition.isr(), partition.zk_version()), (vec![ME, F3], 0));
    // It no longer leads: the waiting producer, new produce and every fetch
    // are refused, and nothing changes the ISR.
    assert_eq!(partition.role(), Role::Follower { leader: None });
    let not_leader = ErrorCode::NOT_LEADER_OR_FOLLOWER;
    assert_eq!(answer_of(waiting).await, Err(not_leader));
    assert_eq!(
        rm.append(&tp(), &batch(1)).unwrap_err().error_code(),
        not_leader
    );
    assert_eq!(fetch(&rm, None, 0).await.unwrap_err(), not_leader);
    assert_eq!(fetch(&rm, Some(F3), 1).await.unwrap_err(), not_leader);
    rm.maybe_shrink_isrs(rm.now_ms() + 3_600_000);
    assert_eq!(rm.write_queued_isr_updates().await, 0);
    // The controller's next LeaderAndIsr makes it the leader again, with
    // the current version.
    apply(&rm, state(ME, 2, &[ME], 4));
    assert_eq!(rm.append(&tp(), &batch(1)).unwrap().first_offset, 1);
    fetch_in(&rm, 2, Some(F2), 2).await.unwrap();
    assert_eq!(rm.write_queued_isr_updates().await, 1);
    assert_eq!((partition.isr(), partition.zk_version()), (vec![ME, F2], 5));
}

#[tokio::test]
async fn a_fetch_from_a_broker_that_is_not_a_replica_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (rm, _) = leader(dir.path(), &[ME], 2);
    let data = fetch(&rm, Some(9), 0).await.unwrap();
    assert_eq!(records(&data), 0);
    assert_eq!(rm.write_queued_isr_updates().await, 0);
}

#[test]
fn a_follower_appends_the_leaders_batches_and_takes_its_high_watermark() {
    let (leader_dir, follower_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (leader, _) = manager_with_zk(leader_dir.path());
    apply(&leader, state(ME, 4, &[ME], 0));
    for ts in 0..3 {
        leader.append(&tp(), &batch(ts)).unwrap();
    }
    let fetched = leader
        .read(&tp(), 0, 1 << 20, true)
        .unwrap()
        .records
        .unwrap();

    let (follower, _) = manager_with_zk(follower_dir.path());
    apply(&follower, state(F2, 4, &[F2, ME], 0));
    let partition = follower.partition(&tp()).unwrap();
    assert_eq!(partition.role(), Role::Follower { leader: Some(F2) });
    // A fetch made in another epoch does not touch the log.
    assert!(partition.append_as_follower(3, &fetched, 3, 0, 0).is_err());
    assert_eq!(partition.follower_fetch_position(3), None);
    assert_eq!(partition.follower_fetch_position(4), Some((0, 0)));
    // The leader's high watermark, but never past the follower's own end.
    let info = partition
        .append_as_follower(4, &fetched, 99, 0, 0)
        .unwrap()
        .unwrap();
    assert_eq!((info.first_offset, info.last_offset), (0, 2));
    assert_eq!(partition.log().high_watermark(), 3);
    assert_eq!(partition.log().leader_epochs().latest_epoch(), Some(4));
    // A new leader's high watermark may be behind the old one's: the
    // follower takes it (as Kafka's follower does).
    assert!(partition
        .append_as_follower(4, &[], 2, 0, 0)
        .unwrap()
        .is_none());
    assert_eq!(partition.log().high_watermark(), 2);
}

#[test]
fn the_high_watermark_survives_a_restart_and_a_new_follower_keeps_its_log() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (rm, _) = manager_with_zk(dir.path());
        apply(&rm, state(ME, 1, &[ME, F2], 0));
        for ts in 0..3 {
            rm.append(&tp(), &batch(ts)).unwrap();
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(fetch(&rm, Some(F2), 2)).unwrap();
        assert_eq!(high_watermark(&rm), 2);
        rm.log_manager().shutdown().unwrap();
    }
    let (rm, _) = manager_with_zk(dir.path());
    let log = rm.log_manager().get(&tp()).unwrap();
    let restored = gregor_log::manager::lock(&log).high_watermark();
    assert_eq!(restored, 2, "replication-offset-checkpoint read back");
    // Following F2 now: the record past the high watermark may not be on
    // F2, but only F2 can tell; the fetcher asks it before truncating (see
    // fetcher_tests), so becoming a follower leaves the log as it is.
    apply(&rm, state(F2, 2, &[F2], 0));
    let partition = rm.partition(&tp()).unwrap();
    assert_eq!(partition.log().log_end_offset(), 3);
    assert_eq!(partition.log().high_watermark(), 2);
}

#[tokio::test]
async fn high_watermarks_are_checkpointed_periodically() {
    let dir = tempfile::tempdir().unwrap();
    let mut fast = config();
    fast.high_watermark_checkpoint_interval = Duration::from_millis(20);
    let (rm, _) = manager_with(dir.path(), fast);
    apply(&rm, state(ME, 1, &[ME], 0));
    for ts in 0..4 {
        rm.append(&tp(), &batch(ts)).unwrap();
    }
    rm.startup(Shutdown::new());
    let checkpoint = dir.path().join("replication-offset-checkpoint");
    let started = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(&checkpoint).unwrap_or_default();
        if text.contains("t 0 4") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "checkpoint: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rm.shutdown().await;
}

/// A leader of `tp()` whose log has `min.insync.replicas` = `min_isr`.
fn leader_with_min_isr(
    dir: &std::path::Path,
    isr: &[BrokerId],
    min_isr: u32,
) -> Arc<ReplicaManager> {
    let (rm, _) = manager_with_zk(dir);
    let mut state = state(ME, 1, isr, 0);
    state.log_config.min_insync_replicas = min_isr;
    apply(&rm, state);
    rm
}

#[tokio::test(start_paused = true)]
async fn acks_all_is_answered_once_the_isr_has_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let rm = leader_with_min_isr(dir.path(), &[ME, F2], 2);
    rm.append(&tp(), &batch(0)).unwrap();
    let (info, awaited) = rm.append_for_all_acks(&tp(), &batch(1)).unwrap();
    assert_eq!((info.first_offset, awaited.required_offset), (1, 2));
    let waiting = wait_for_commit(&rm, awaited);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    fetch(&rm, Some(F2), 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "the follower lacks the batch yet");
    fetch(&rm, Some(F2), 2).await.unwrap();
    assert_eq!(answer_of(waiting).await, Ok(()));
    // Not committed within the timeout: REQUEST_TIMED_OUT.
    let (_, awaited) = rm.append_for_all_acks(&tp(), &batch(2)).unwrap();
    let outcome = rm
        .wait_for_commits(&[awaited], Duration::from_millis(20))
        .await
        .remove(0);
    assert_eq!(
        outcome.map_err(|e| e.error_code()),
        Err(ErrorCode::REQUEST_TIMED_OUT)
    );
}

#[tokio::test]
async fn acks_all_needs_min_insync_replicas_before_and_after_the_append() {
    let dir = tempfile::tempdir().unwrap();
    let rm = leader_with_min_isr(dir.path(), &[ME], 2);
    let refused = rm.append_for_all_acks(&tp(), &batch(0)).unwrap_err();
    assert_eq!(refused.error_code(), ErrorCode::NOT_ENOUGH_REPLICAS);
    assert_eq!(rm.partition(&tp()).unwrap().log().log_end_offset(), 0);
    // acks=1 is not held to it.
    rm.append(&tp(), &batch(0)).unwrap();

    // Two in sync when appended; the follower drops out before it has the
    // batch: committed by the leader alone, below min.insync.replicas.
    let dir = tempfile::tempdir().unwrap();
    let rm = leader_with_min_isr(dir.path(), &[ME, F2], 2);
    fetch(&rm, Some(F2), 0).await.unwrap();
    let (_, awaited) = rm.append_for_all_acks(&tp(), &batch(0)).unwrap();
    let lag = config().lag_time_max.as_millis() as i64;
    rm.maybe_shrink_isrs(rm.now_ms() + lag + 1_000);
    assert_eq!(rm.write_queued_isr_updates().await, 1);
    let outcome = rm
        .wait_for_commits(&[awaited], Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(
        outcome.map_err(|e| e.error_code()),
        Err(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND)
    );
}

#[tokio::test(start_paused = true)]
async fn acks_all_fails_when_leadership_moves_before_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let rm = leader_with_min_isr(dir.path(), &[ME, F2], 1);
    let (_, awaited) = rm.append_for_all_acks(&tp(), &batch(0)).unwrap();
    let waiting = wait_for_commit(&rm, awaited);
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::task::spawn_blocking({
        let rm = Arc::clone(&rm);
        move || apply(&rm, state(F2, 2, &[F2], 0))
    })
    .await
    .unwrap();
    assert_eq!(
        answer_of(waiting).await,
        Err(ErrorCode::NOT_LEADER_OR_FOLLOWER)
    );
}

#[tokio::test(start_paused = true)]
async fn acks_all_fails_when_leadership_comes_back_after_the_batch_was_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let rm = leader_with_min_isr(dir.path(), &[ME, F2], 1);
    let (_, awaited) = rm.append_for_all_acks(&tp(), &batch(0)).unwrap();
    // F2 leads without the batch; following it, this broker truncates it
    // away. Leading again, it takes another producer's batch at its offset,
    // and commits that one.
    apply(&rm, state(F2, 2, &[F2], 0));
    let partition = rm.partition(&tp()).unwrap();
    assert_eq!(partition.truncate_follower_to(2, 0).unwrap(), 0);
    apply(&rm, state(ME, 3, &[ME], 1));
    assert_eq!(rm.append(&tp(), &batch(1)).unwrap().first_offset, 0);
    assert_eq!(high_watermark(&rm), awaited.required_offset);
    // A produce that looks only now must not take that for its own batch.
    let outcome = rm
        .wait_for_commits(&[awaited], Duration::from_secs(30))
        .await
        .remove(0);
    assert_eq!(
        outcome.map_err(|e| e.error_code()),
        Err(ErrorCode::NOT_LEADER_OR_FOLLOWER)
    );
}

#[tokio::test(start_paused = true)]
async fn acks_all_is_answered_when_the_leader_stays_and_its_isr_shrinks_in_a_new_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let rm = leader_with_min_isr(dir.path(), &[ME, F2, F3], 2);
    let (_, awaited) = rm.append_for_all_acks(&tp(), &batch(0)).unwrap();
    let waiting = wait_for_commit(&rm, awaited);
    // F2 has the batch; F3 is gone and never fetches it.
    fetch(&rm, Some(F2), 1).await.unwrap();
    fetch(&rm, Some(F3), 0).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "F3 lacks the batch");
    // The controller takes F3 out of the ISR and bumps the leader epoch,
    // this broker staying the leader: the smaller ISR has the batch.
    apply(&rm, state(ME, 2, &[ME, F2], 1));
    assert_eq!(answer_of(waiting).await, Ok(()));
    assert_eq!(high_watermark(&rm), 1);
    // Committed by this broker alone after F2 leaves too: written, but
    // below min.insync.replicas.
    let (_, awaited) = rm.append_for_all_acks(&tp(), &batch(1)).unwrap();
    let waiting = wait_for_commit(&rm, awaited);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "F2 lacks the batch");
    apply(&rm, state(ME, 3, &[ME], 2));
    assert_eq!(
        answer_of(waiting).await,
        Err(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND)
    );
    assert_eq!(high_watermark(&rm), 2);
}

#[tokio::test(start_paused = true)]
async fn acks_all_is_answered_when_a_follower_fetches_in_the_leaders_new_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let rm = leader_with_min_isr(dir.path(), &[ME, F2], 2);
    let (_, awaited) = rm.append_for_all_acks(&tp(), &batch(0)).unwrap();
    let waiting = wait_for_commit(&rm, awaited);
    apply(&rm, state(ME, 2, &[ME, F2], 1));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "F2 lacks the batch");
    // A fetch in the old epoch is fenced and moves nothing.
    assert_eq!(
        fetch_in(&rm, 1, Some(F2), 1).await.unwrap_err(),
        ErrorCode::FENCED_LEADER_EPOCH
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    fetch_in(&rm, 2, Some(F2), 1).await.unwrap();
    assert_eq!(answer_of(waiting).await, Ok(()));
}
