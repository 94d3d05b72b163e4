//! A read-only snapshot of a whole znode tree, for operators
//! (`gregor cluster zk`): every znode under the chroot of a
//! `zookeeper.connect` string with its data, depth first in name order.
//!
//! Unlike [`KafkaZkClient::connect`](super::KafkaZkClient::connect), which
//! creates a missing chroot as a broker must, reading never writes: a
//! missing chroot is an error.

use std::time::Duration;

use zookeeper_client as zkc;

use super::client::{zk_error, ZkError};

/// ZooKeeper's own subtree at the real root (quotas, its config); not a
/// Kafka znode, so not part of the snapshot.
const ZOOKEEPER_SYSTEM_ROOT: &str = "/zookeeper";

/// One znode and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZNode {
    /// The path below the chroot, e.g. `/brokers/ids/1`.
    pub path: String,
    pub data: Vec<u8>,
}

/// Every znode under the chroot of `connect_string`
/// (`host:port[,host:port...][/chroot]`), parents before children and
/// siblings in name order. Gives up on connecting after `timeout`. A znode
/// deleted while the tree is read is left out.
pub async fn read_tree(connect_string: &str, timeout: Duration) -> Result<Vec<ZNode>, ZkError> {
    let (hosts, chroot) = crate::paths::split_chroot(connect_string);
    if hosts.is_empty() {
        return Err(ZkError::InvalidConnectString(connect_string.to_owned()));
    }
    let connecting = zkc::Client::connector()
        .with_session_timeout(timeout)
        .with_fail_eagerly()
        .connect(hosts);
    let zk = match tokio::time::timeout(timeout, connecting).await {
        Ok(result) => result.map_err(|e| zk_error("connect", connect_string, e))?,
        Err(_) => return Err(zk_error("connect", connect_string, zkc::Error::Timeout)),
    };
    let zk = match chroot {
        None => zk,
        Some(chroot) => {
            if zk
                .check_stat(chroot)
                .await
                .map_err(|e| zk_error("stat", chroot, e))?
                .is_none()
            {
                return Err(ZkError::NoNode {
                    path: chroot.to_owned(),
                });
            }
            zk.chroot(chroot)
                .map_err(|_| ZkError::InvalidConnectString(connect_string.to_owned()))?
        }
    };
    let mut nodes = Vec::new();
    let mut pending = vec!["/".to_owned()];
    while let Some(path) = pending.pop() {
        let data = match zk.get_data(&path).await {
            Ok((data, _)) => data,
            Err(zkc::Error::NoNode) => continue,
            Err(e) => return Err(zk_error("get", &path, e)),
        };
        let mut children = match zk.list_children(&path).await {
            Ok(children) => children,
            Err(zkc::Error::NoNode) => Vec::new(),
            Err(e) => return Err(zk_error("list", &path, e)),
        };
        // Popped from the end: push in reverse for name order.
        children.sort_unstable_by(|a, b| b.cmp(a));
        for child in children {
            let child_path = child_path(&path, &child);
            if chroot.is_some() || child_path != ZOOKEEPER_SYSTEM_ROOT {
                pending.push(child_path);
            }
        }
        nodes.push(ZNode { path, data });
    }
    Ok(nodes)
}

fn child_path(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_paths_join_without_doubled_slashes() {
        assert_eq!(child_path("/", "brokers"), "/brokers");
        assert_eq!(child_path("/brokers", "ids"), "/brokers/ids");
    }
}
