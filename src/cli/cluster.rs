//! `gregor cluster`: the brokers and the controller as clients see them
//! (Metadata), and the whole ZooKeeper tree as the brokers keep it.

use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use gregor_client::ClusterMetadata;
use gregor_zk::tree::{read_tree, ZNode};

use super::output::{print, Table};
use super::ConnectArgs;

/// Kafka's default `zookeeper.connection.timeout.ms` (that of the session,
/// 18000): how long to wait for ZooKeeper to answer.
const ZOOKEEPER_CONNECTION_TIMEOUT: Duration = Duration::from_millis(18_000);

/// `gregor cluster`.
#[derive(Args, Debug)]
pub(crate) struct ClusterArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Subcommand, Debug)]
enum ClusterCommand {
    /// List the live brokers: id, address, rack, and which is the
    /// controller.
    Brokers,
    /// Show the controller broker.
    Controller,
    /// Print every znode under the cluster's chroot with its data, JSON
    /// pretty-printed (what zkCli shows, all at once).
    Zk {
        /// The brokers' zookeeper.connect: `host:port[,host:port...][/chroot]`.
        #[arg(long, value_name = "HOST:PORT[/CHROOT]", env = "GREGOR_ZOOKEEPER")]
        zookeeper: String,
    },
}

/// Runs `gregor cluster ...`.
pub(crate) async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    match args.command {
        ClusterCommand::Brokers => {
            let cluster = args.connect.admin().await?.describe_cluster().await?;
            Ok(print(&brokers_table(&cluster, |_| true).render())?)
        }
        ClusterCommand::Controller => {
            let cluster = args.connect.admin().await?.describe_cluster().await?;
            let controller = cluster.controller_id;
            anyhow::ensure!(
                cluster.brokers.contains_key(&controller),
                "the cluster has no controller right now"
            );
            Ok(print(
                &brokers_table(&cluster, |id| id == controller).render(),
            )?)
        }
        ClusterCommand::Zk { zookeeper } => {
            let tree = read_tree(&zookeeper, ZOOKEEPER_CONNECTION_TIMEOUT)
                .await
                .with_context(|| format!("reading ZooKeeper at {zookeeper}"))?;
            Ok(print(&render_tree(&tree))?)
        }
    }
}

/// ID, HOST:PORT, RACK and CONTROLLER of the brokers `wanted` selects.
fn brokers_table(cluster: &ClusterMetadata, wanted: impl Fn(i32) -> bool) -> Table {
    let mut table = Table::new(&["ID", "HOST:PORT", "RACK", "CONTROLLER"]);
    for (&id, broker) in cluster.brokers.iter().filter(|(&id, _)| wanted(id)) {
        let controller = if id == cluster.controller_id {
            "yes"
        } else {
            "no"
        };
        table.row(vec![
            id.to_string(),
            broker.address(),
            broker.rack.clone().unwrap_or_else(|| "-".to_owned()),
            controller.to_owned(),
        ]);
    }
    table
}

/// Each znode as its path on a line, then its data (JSON pretty-printed,
/// anything else as text), then an empty line.
fn render_tree(tree: &[ZNode]) -> String {
    let mut out = String::new();
    for node in tree {
        out.push_str(&node.path);
        out.push('\n');
        if !node.data.is_empty() {
            let pretty = serde_json::from_slice::<serde_json::Value>(&node.data)
                .ok()
                .and_then(|json| serde_json::to_string_pretty(&json).ok());
            match pretty {
                Some(json) => out.push_str(&json),
                None => out.push_str(String::from_utf8_lossy(&node.data).trim_end()),
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use gregor_client::network::BrokerAddress;

    #[test]
    fn znodes_print_json_pretty_and_the_rest_as_text() {
        let node = |path: &str, data: &[u8]| ZNode {
            path: path.into(),
            data: data.to_vec(),
        };
        let tree = [
            node("/", b""),
            node("/controller", br#"{"version":1,"brokerid":2}"#),
            node("/controller_epoch", b"7"),
            node("/odd", b"not json\n"),
        ];
        assert_eq!(
            render_tree(&tree),
            "/\n\n/controller\n{\n  \"brokerid\": 2,\n  \"version\": 1\n}\n\n\
             /controller_epoch\n7\n\n/odd\nnot json\n\n"
        );
    }

    #[test]
    fn brokers_are_listed_with_the_controller_marked() {
        let broker = |port, rack: Option<&str>| BrokerAddress {
            host: "127.0.0.1".into(),
            port,
            rack: rack.map(str::to_owned),
        };
        let cluster = ClusterMetadata {
            cluster_id: None,
            controller_id: 2,
            brokers: BTreeMap::from([(1, broker(9092, None)), (2, broker(9093, Some("r1")))]),
            topics: BTreeMap::new(),
        };
        assert_eq!(
            brokers_table(&cluster, |_| true).render(),
            "ID HOST:PORT      RACK CONTROLLER\n\
             1  127.0.0.1:9092 -    no\n\
             2  127.0.0.1:9093 r1   yes\n"
        );
    }
}
