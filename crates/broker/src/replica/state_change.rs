//! The controller's word on this broker's replicas (Kafka's
//! `ReplicaManager.becomeLeaderOrFollower` and `stopReplicas`): which
//! partitions it hosts, whether it leads or follows each, in which leader
//! epoch, and so which partitions its replica fetchers replicate.
//!
//! Two fences keep a stale controller from undoing a newer one's decisions,
//! as in Kafka: a request whose controller epoch is older than the newest
//! seen is refused whole (STALE_CONTROLLER_EPOCH), and within a request a
//! partition changes only if the request's leader epoch is newer than the
//! one this broker has.

use std::sync::Arc;

use ::log::warn;

use crate::metadata::BrokerEndpoint;
use gregor_log::LogConfig;
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;

use super::error::ReplicaError;
use super::fetcher::FetchTarget;
use super::manager::ReplicaManager;
use super::partition::{Partition, Role};

/// LeaderAndIsr's leader when a partition has none.
pub const NO_LEADER: BrokerId = -1;
/// StopReplica's leader epoch when the controller sends none (before v3):
/// skips the epoch check (Kafka's `LeaderAndIsr.NoEpoch`).
pub const NO_EPOCH: i32 = -1;
/// StopReplica's leader epoch for a topic being deleted, whose epoch the
/// controller does not bump: skips the epoch check (Kafka's
/// `LeaderAndIsr.EpochDuringDelete`).
pub const EPOCH_DURING_DELETE: i32 = -2;

/// One partition of a LeaderAndIsr request, as far as this broker acts on it.
#[derive(Debug, Clone)]
pub struct LeaderAndIsrPartition {
    pub topic_partition: TopicPartition,
    /// The leader's broker id, [`NO_LEADER`] if none.
    pub leader: BrokerId,
    pub leader_epoch: i32,
    /// All replicas' broker ids.
    pub replicas: Vec<BrokerId>,
    /// The in-sync replicas, as the partition state znode has them.
    pub isr: Vec<BrokerId>,
    /// The partition state znode's version: a leader's ISR change is a
    /// write conditional on it.
    pub zk_version: i32,
    /// The epoch of the controller that last wrote the partition state.
    pub controller_epoch: i32,
    /// Where a follower reaches the leader (the request's live leaders, else
    /// the metadata cache); `None` when unknown.
    pub leader_endpoint: Option<BrokerEndpoint>,
    /// The config of the partition's log, used if this broker has to create
    /// it (an existing log keeps its own).
    pub log_config: LogConfig,
    /// The topic's id (LeaderAndIsr v5), all zeros when the request has
    /// none.
    pub topic_id: [u8; 16],
}

/// One partition of a StopReplica request.
#[derive(Debug, Clone)]
pub struct StopReplicaPartition {
    pub topic_partition: TopicPartition,
    /// The partition's leader epoch, or [`NO_EPOCH`] / [`EPOCH_DURING_DELETE`].
    pub leader_epoch: i32,
    /// Whether to delete the partition's log too.
    pub delete: bool,
}

/// Each partition's outcome, in request order.
pub type PartitionResults = Vec<(TopicPartition, Result<(), ReplicaError>)>;

impl ReplicaManager {
    /// Runs `apply` for a controller request of `controller_epoch`, unless a
    /// newer controller has been heard from (then nothing runs:
    /// [`ReplicaError::StaleControllerEpoch`]). Controller requests apply one
    /// at a time; `apply` must not send one itself.
    ///
    /// UpdateMetadata goes through here too, so the metadata cache is
    /// fenced by the same epoch (Kafka's `maybeUpdateMetadataCache`).
    pub fn apply_controller_request<R>(
        &self,
        controller_epoch: i32,
        apply: impl FnOnce() -> R,
    ) -> Result<R, ReplicaError> {
        let mut newest = self
            .controller_epoch
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if controller_epoch < *newest {
            return Err(ReplicaError::StaleControllerEpoch {
                request: controller_epoch,
                newest: *newest,
            });
        }
        *newest = controller_epoch;
        Ok(apply())
    }

    /// LeaderAndIsr: this broker leads the partitions whose leader it is and
    /// follows the others. A partition changes only if the request's leader
    /// epoch is newer than its current one (a partition new to this broker
    /// always does) and its replicas include this broker.
    ///
    /// Creating and truncating logs touches the disk: call from a
    /// blocking-pool thread.
    pub fn become_leader_or_follower(
        &self,
        controller_epoch: i32,
        partitions: &[LeaderAndIsrPartition],
    ) -> Result<PartitionResults, ReplicaError> {
        self.apply_controller_request(controller_epoch, || {
            partitions
                .iter()
                .map(|p| (p.topic_partition.clone(), self.apply_leader_and_isr(p)))
                .collect()
        })
    }

    fn apply_leader_and_isr(&self, state: &LeaderAndIsrPartition) -> Result<(), ReplicaError> {
        let tp = &state.topic_partition;
        self.check_or_set_topic_id(state)?;
        if let Some(current) = self.partition(tp).map(|p| p.leader_epoch()) {
            if state.leader_epoch <= current {
                return Err(ReplicaError::StaleLeaderEpoch {
                    tp: tp.clone(),
                    request: state.leader_epoch,
                    current,
                });
            }
        }
        let local = self.config.broker_id;
        if !state.replicas.contains(&local) {
            return Err(ReplicaError::NotAssigned {
                tp: tp.clone(),
                broker: local,
            });
        }
        self.make_leader_or_follower(state)?;
        Ok(())
    }

    /// Kafka 2.8's `Partition.checkOrSetTopicId`, run before the leader
    /// epoch is looked at: a partition already hosted here whose log has
    /// no topic id records the request's in `partition.metadata`; one with
    /// another id is INCONSISTENT_TOPIC_ID. A partition not hosted yet (its
    /// first LeaderAndIsr, also after a restart) is not checked, and gets
    /// no `partition.metadata` then, as in Kafka 2.8.
    fn check_or_set_topic_id(&self, state: &LeaderAndIsrPartition) -> Result<(), ReplicaError> {
        if state.topic_id == [0; 16] {
            return Ok(());
        }
        let Some(partition) = self.partition(&state.topic_partition) else {
            return Ok(());
        };
        let mut log = partition.log();
        match log.topic_id() {
            None => Ok(log.assign_topic_id(state.topic_id)?),
            Some(id) if id == state.topic_id => Ok(()),
            Some(_) => Err(ReplicaError::InconsistentTopicId(
                state.topic_partition.clone(),
            )),
        }
    }

    /// Leads `tp` in `leader_epoch`, alone in its ISR, without a
    /// controller's say: a shortcut for tests of the replica manager.
    #[cfg(test)]
    pub fn become_leader(
        &self,
        tp: &TopicPartition,
        config: LogConfig,
        leader_epoch: i32,
    ) -> Result<Arc<Partition>, ReplicaError> {
        let me = self.config.broker_id;
        self.make_leader_or_follower(&LeaderAndIsrPartition {
            topic_partition: tp.clone(),
            leader: me,
            leader_epoch,
            replicas: vec![me],
            isr: vec![me],
            zk_version: 0,
            controller_epoch: 0,
            leader_endpoint: None,
            log_config: config,
            topic_id: [0; 16],
        })
    }

    /// Hosts the partition (creating its log if missing) as leader or
    /// follower, as `state` says (Kafka's `makeLeaders` / `makeFollowers`).
    /// Its fetcher stops first, so nothing fetched in the old epoch lands
    /// in the log afterwards; a follower of a known leader then fetches
    /// from it. A leader whose address is unknown is not fetched from until
    /// the next LeaderAndIsr.
    fn make_leader_or_follower(
        &self,
        state: &LeaderAndIsrPartition,
    ) -> Result<Arc<Partition>, ReplicaError> {
        let tp = &state.topic_partition;
        let partition = match self.partition(tp) {
            Some(p) => p,
            None => {
                let log = self
                    .log_manager()
                    .get_or_create(tp, state.log_config.clone())?;
                // A log opened at start-up runs with the broker defaults
                // until its topic's own config arrives here.
                gregor_log::manager::lock(&log).set_config(state.log_config.clone());
                let new = Arc::new(Partition::new(tp.clone(), self.config.broker_id, log));
                Arc::clone(self.write_partitions().entry(tp.clone()).or_insert(new))
            }
        };
        self.fetchers.remove_partitions(std::slice::from_ref(tp));
        let result = if state.leader == self.config.broker_id {
            partition.make_leader(state, self.now_ms()).map(drop)
        } else {
            partition.make_follower(state);
            Ok(())
        };
        // A fetch waiting on a partition that changed hands answers now
        // (NOT_LEADER_OR_FOLLOWER) instead of at its timeout; one waiting
        // for committed records sees a high watermark that moved.
        self.wake_fetches();
        result?;
        if let Role::Follower {
            leader: Some(leader),
        } = partition.role()
        {
            match &state.leader_endpoint {
                Some(endpoint) => self.fetchers.add_partitions(vec![FetchTarget {
                    partition: Arc::clone(&partition),
                    leader: endpoint.clone(),
                    leader_epoch: state.leader_epoch,
                }]),
                None => warn!("{tp}: leader {leader} has no known address; not fetching from it"),
            }
        }
        Ok(partition)
    }

    /// StopReplica: stops each partition whose leader epoch in the request
    /// is newer than this broker's, or is [`NO_EPOCH`] or
    /// [`EPOCH_DURING_DELETE`]; others get FENCED_LEADER_EPOCH. A partition
    /// this broker does not host is stopped all the same (its log may
    /// linger from before a restart).
    ///
    /// Deleting logs touches the disk: call from a blocking-pool thread.
    pub fn stop_replicas(
        &self,
        controller_epoch: i32,
        partitions: &[StopReplicaPartition],
    ) -> Result<PartitionResults, ReplicaError> {
        self.apply_controller_request(controller_epoch, || {
            partitions
                .iter()
                .map(|p| (p.topic_partition.clone(), self.apply_stop_replica(p)))
                .collect()
        })
    }

    fn apply_stop_replica(&self, stop: &StopReplicaPartition) -> Result<(), ReplicaError> {
        let tp = &stop.topic_partition;
        let unchecked = matches!(stop.leader_epoch, NO_EPOCH | EPOCH_DURING_DELETE);
        if let Some(current) = self.partition(tp).map(|p| p.leader_epoch()) {
            if !unchecked && stop.leader_epoch <= current {
                return Err(ReplicaError::FencedLeaderEpoch {
                    tp: tp.clone(),
                    request: stop.leader_epoch,
                    current,
                });
            }
        }
        self.stop_replica(tp, stop.delete)
    }

    /// Stops replicating `tp`: its fetcher stops. With `delete`, this broker
    /// also stops hosting it and deletes its log; without, the partition
    /// keeps its log and state, as in Kafka.
    pub fn stop_replica(&self, tp: &TopicPartition, delete: bool) -> Result<(), ReplicaError> {
        self.fetchers.remove_partitions(std::slice::from_ref(tp));
        if delete {
            self.write_partitions().remove(tp);
            self.log_manager().delete(tp)?;
        }
        self.wake_fetches();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::replica::manager::{FetchParams, FetchPartition};
    use crate::replica::testing::{batch, manager, ME};
    use gregor_protocol::ErrorCode;

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }

    fn state(leader: BrokerId, leader_epoch: i32) -> LeaderAndIsrPartition {
        LeaderAndIsrPartition {
            topic_partition: tp(),
            leader,
            leader_epoch,
            replicas: vec![ME, 2],
            isr: vec![ME],
            zk_version: 0,
            controller_epoch: 1,
            leader_endpoint: None,
            log_config: LogConfig::default(),
            topic_id: [0; 16],
        }
    }

    /// The one partition's outcome of a LeaderAndIsr from controller epoch 1.
    fn leader_and_isr(rm: &ReplicaManager, state: LeaderAndIsrPartition) -> Result<(), ErrorCode> {
        let mut results = rm.become_leader_or_follower(1, &[state]).unwrap();
        assert_eq!(results.len(), 1);
        results.remove(0).1.map_err(|e| e.error_code())
    }

    fn stop(rm: &ReplicaManager, leader_epoch: i32, delete: bool) -> Result<(), ErrorCode> {
        let stop = StopReplicaPartition {
            topic_partition: tp(),
            leader_epoch,
            delete,
        };
        let mut results = rm.stop_replicas(1, &[stop]).unwrap();
        results.remove(0).1.map_err(|e| e.error_code())
    }

    fn fetch_from(epoch: Option<i32>) -> FetchPartition {
        FetchPartition {
            topic_partition: tp(),
            current_leader_epoch: epoch,
            fetch_offset: 0,
            max_bytes: 1 << 20,
        }
    }

    fn consumer(min_bytes: u64, max_wait: Duration) -> FetchParams {
        FetchParams {
            from_follower: false,
            replica_id: None,
            min_bytes,
            max_wait,
            max_bytes: 1 << 20,
        }
    }

    fn fetch_error(rm: &ReplicaManager, epoch: Option<i32>) -> Option<ErrorCode> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let params = consumer(0, Duration::ZERO);
        let mut r = rt.block_on(rm.fetch(&[fetch_from(epoch)], &params));
        r.remove(0).err().map(|e| e.error_code())
    }

    #[test]
    fn a_new_leader_serves_with_its_log_committed() {
        let dir = tempfile::tempdir().unwrap();
        {
            let rm = manager(dir.path());
            leader_and_isr(&rm, state(ME, 0)).unwrap();
            rm.append(&tp(), &batch(1)).unwrap();
            rm.append(&tp(), &batch(2)).unwrap();
        }
        // After a restart the log is there; LeaderAndIsr makes it the leader
        // again in a newer epoch, all of it committed.
        let rm = manager(dir.path());
        leader_and_isr(&rm, state(ME, 3)).unwrap();
        let partition = rm.partition(&tp()).unwrap();
        assert_eq!(partition.role(), Role::Leader);
        assert_eq!(partition.leader_epoch(), 3);
        assert_eq!(rm.read(&tp(), 0, 1 << 20, true).unwrap().high_watermark, 2);
        assert_eq!(rm.append(&tp(), &batch(3)).unwrap().first_offset, 2);
    }

    #[test]
    fn partition_metadata_is_written_as_kafka_2_8_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        let with_id = |leader_epoch, id: u8| LeaderAndIsrPartition {
            topic_id: [id; 16],
            ..state(ME, leader_epoch)
        };
        let metadata = dir.path().join("t-0/partition.metadata");
        // The first LeaderAndIsr of a partition does not record its id.
        leader_and_isr(&rm, with_id(0, 7)).unwrap();
        assert!(!metadata.exists());
        // A later one does, whatever its leader epoch.
        assert_eq!(
            leader_and_isr(&rm, with_id(0, 7)),
            Err(ErrorCode::STALE_CONTROLLER_EPOCH)
        );
        let text = std::fs::read_to_string(&metadata).unwrap();
        assert_eq!(text, "version: 0\ntopic_id: BwcHBwcHBwcHBwcHBwcHBw");
        // Another id for the same partition is refused before anything else.
        assert_eq!(
            leader_and_isr(&rm, with_id(1, 8)),
            Err(ErrorCode::INCONSISTENT_TOPIC_ID)
        );
        leader_and_isr(&rm, with_id(2, 7)).unwrap();
    }

    #[test]
    fn a_leader_answers_where_each_epoch_ends() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        leader_and_isr(&rm, state(ME, 0)).unwrap();
        rm.append(&tp(), &batch(1)).unwrap();
        rm.append(&tp(), &batch(2)).unwrap();
        leader_and_isr(&rm, state(2, 1)).unwrap();
        leader_and_isr(&rm, state(ME, 3)).unwrap();
        // The new epoch starts at the log end before anything is written
        // in it, and the checkpoint file says so.
        let partition = rm.partition(&tp()).unwrap();
        let epochs: Vec<(i32, i64)> = partition
            .log()
            .leader_epochs()
            .entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect();
        assert_eq!(epochs, [(0, 0), (3, 2)]);
        let checkpoint = std::fs::read_to_string(dir.path().join("t-0/leader-epoch-checkpoint"));
        assert_eq!(checkpoint.unwrap(), "0\n2\n0 0\n3 2\n");
        rm.append(&tp(), &batch(3)).unwrap();
        let end = |current, epoch| {
            rm.end_offset_for_epoch(&tp(), current, epoch)
                .map_err(|e| e.error_code())
        };
        assert_eq!(end(None, 0), Ok(Some((0, 2))));
        assert_eq!(end(None, 2), Ok(Some((0, 2))), "epoch 1 wrote nothing");
        assert_eq!(end(Some(3), 3), Ok(Some((3, 3))), "the current epoch");
        assert_eq!(end(None, 4), Ok(None), "an epoch the leader does not know");
        assert_eq!(end(Some(2), 0), Err(ErrorCode::FENCED_LEADER_EPOCH));
        assert_eq!(end(Some(4), 0), Err(ErrorCode::UNKNOWN_LEADER_EPOCH));
        leader_and_isr(&rm, state(2, 4)).unwrap();
        assert_eq!(end(None, 0), Err(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    }

    #[test]
    fn a_follower_refuses_produce_fetch_and_list_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        leader_and_isr(&rm, state(2, 0)).unwrap();
        let partition = rm.partition(&tp()).unwrap();
        assert_eq!(partition.role(), Role::Follower { leader: Some(2) });
        assert!(dir.path().join("t-0").is_dir(), "a follower has a log");
        let not_leader = Some(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        assert_eq!(
            rm.append(&tp(), &batch(1)).err().map(|e| e.error_code()),
            not_leader
        );
        assert_eq!(fetch_error(&rm, None), not_leader);
        assert_eq!(
            rm.offset_for_timestamp(&tp(), None, None, -1)
                .err()
                .map(|e| e.error_code()),
            not_leader
        );
        // A consumer with client metadata (Fetch v11+) reads a follower's
        // committed records (KIP-392): none yet, but no error either.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let params = FetchParams {
            from_follower: true,
            ..consumer(0, Duration::ZERO)
        };
        let mut r = rt.block_on(rm.fetch(&[fetch_from(None)], &params));
        let data = r.remove(0).unwrap();
        assert_eq!(data.high_watermark, 0);
        assert!(data.records.is_none_or(|r| r.is_empty()));
        // Still fenced by a newer leader epoch than the follower knows.
        let mut r = rt.block_on(rm.fetch(&[fetch_from(Some(5))], &params));
        assert_eq!(
            r.remove(0).err().map(|e| e.error_code()),
            Some(ErrorCode::UNKNOWN_LEADER_EPOCH)
        );
    }

    #[test]
    fn leadership_moves_only_with_a_newer_leader_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        leader_and_isr(&rm, state(ME, 5)).unwrap();
        let stale = Err(ErrorCode::STALE_CONTROLLER_EPOCH);
        assert_eq!(leader_and_isr(&rm, state(2, 5)), stale);
        assert_eq!(leader_and_isr(&rm, state(2, 4)), stale);
        let partition = rm.partition(&tp()).unwrap();
        assert_eq!(
            (partition.role(), partition.leader_epoch()),
            (Role::Leader, 5)
        );
        leader_and_isr(&rm, state(NO_LEADER, 6)).unwrap();
        assert_eq!(
            (partition.role(), partition.leader_epoch()),
            (Role::Follower { leader: None }, 6)
        );
        leader_and_isr(&rm, state(ME, 7)).unwrap();
        assert_eq!(partition.role(), Role::Leader);
    }

    #[test]
    fn a_stale_controller_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        rm.become_leader_or_follower(5, &[state(ME, 0)]).unwrap();
        let mut newer = state(2, 1);
        newer.topic_partition = TopicPartition::new("t", 1);
        let stale = rm.become_leader_or_follower(4, &[state(2, 1), newer]);
        assert_eq!(
            stale.unwrap_err().error_code(),
            ErrorCode::STALE_CONTROLLER_EPOCH
        );
        assert_eq!(rm.partition(&tp()).unwrap().role(), Role::Leader);
        assert!(rm.partition(&TopicPartition::new("t", 1)).is_none());
        let stop = StopReplicaPartition {
            topic_partition: tp(),
            leader_epoch: NO_EPOCH,
            delete: true,
        };
        assert!(rm.stop_replicas(4, std::slice::from_ref(&stop)).is_err());
        assert!(rm.partition(&tp()).is_some());
        assert!(rm.apply_controller_request(4, || ()).is_err());
        // The same epoch is the same controller: accepted.
        assert!(rm.stop_replicas(5, &[stop]).is_ok());
        assert!(rm.partition(&tp()).is_none());
    }

    #[test]
    fn a_partition_not_assigned_here_is_not_hosted() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        let mut elsewhere = state(2, 0);
        elsewhere.replicas = vec![2, 3];
        assert_eq!(
            leader_and_isr(&rm, elsewhere),
            Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
        assert!(rm.partition(&tp()).is_none());
        assert!(!dir.path().join("t-0").exists());
    }

    #[test]
    fn fetch_and_list_offsets_check_the_clients_leader_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        leader_and_isr(&rm, state(ME, 3)).unwrap();
        assert_eq!(fetch_error(&rm, Some(3)), None);
        assert_eq!(fetch_error(&rm, None), None);
        assert_eq!(
            fetch_error(&rm, Some(2)),
            Some(ErrorCode::FENCED_LEADER_EPOCH)
        );
        assert_eq!(
            fetch_error(&rm, Some(4)),
            Some(ErrorCode::UNKNOWN_LEADER_EPOCH)
        );
        let listed = |epoch| {
            rm.offset_for_timestamp(&tp(), None, epoch, -1)
                .map_err(|e| e.error_code())
        };
        assert_eq!(listed(Some(3)).unwrap().leader_epoch, 3);
        assert_eq!(listed(Some(1)), Err(ErrorCode::FENCED_LEADER_EPOCH));
        assert_eq!(listed(Some(9)), Err(ErrorCode::UNKNOWN_LEADER_EPOCH));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_fetch_answers_when_its_leader_becomes_a_follower() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        leader_and_isr(&rm, state(ME, 0)).unwrap();
        let waiting = {
            let rm = Arc::clone(&rm);
            tokio::spawn(async move {
                let params = consumer(1, Duration::from_secs(30));
                rm.fetch(&[fetch_from(None)], &params).await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        leader_and_isr(&rm, state(2, 1)).unwrap();
        let r = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the fetch answers before its max wait")
            .unwrap();
        assert_eq!(
            r[0].as_ref().err().map(|e| e.error_code()),
            Some(ErrorCode::NOT_LEADER_OR_FOLLOWER)
        );
    }

    #[test]
    fn stop_replica_fences_by_leader_epoch_and_deletes_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        leader_and_isr(&rm, state(ME, 3)).unwrap();
        rm.append(&tp(), &batch(1)).unwrap();
        let fenced = Err(ErrorCode::FENCED_LEADER_EPOCH);
        assert_eq!(stop(&rm, 3, true), fenced);
        assert_eq!(stop(&rm, 2, true), fenced);
        assert!(dir.path().join("t-0").is_dir());
        // Without delete the replica keeps its log and its state.
        stop(&rm, 4, false).unwrap();
        assert_eq!(rm.partition(&tp()).unwrap().role(), Role::Leader);
        assert_eq!(rm.read(&tp(), 0, 1 << 20, true).unwrap().high_watermark, 1);
        // A topic being deleted carries no usable epoch: not checked.
        stop(&rm, EPOCH_DURING_DELETE, true).unwrap();
        assert!(rm.partition(&tp()).is_none());
        assert!(!dir.path().join("t-0").exists());
        assert_eq!(
            rm.append(&tp(), &batch(1)).unwrap_err().error_code(),
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        );
    }

    #[test]
    fn stop_replica_deletes_a_log_left_from_before_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let rm = manager(dir.path());
            leader_and_isr(&rm, state(ME, 0)).unwrap();
        }
        let rm = manager(dir.path());
        assert!(rm.partition(&tp()).is_none());
        stop(&rm, NO_EPOCH, true).unwrap();
        assert!(!dir.path().join("t-0").exists());
        assert!(rm.log_manager().get(&tp()).is_none());
    }
}
