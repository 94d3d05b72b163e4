//! The `gregor` command's subcommands other than `broker`, in the spirit of
//! Kafka's shell tools (`kafka-topics.sh`, `kafka-console-producer.sh`, ...):
//! one module per subcommand, each a clap `Args` struct and a `run`.
//!
//! Every subcommand that talks to brokers takes [`ConnectArgs`]; errors end
//! as one line on stderr (see `main.rs`), bad arguments exit with 2 (clap).

use clap::Args;

use gregor_client::admin::AdminClient;
use gregor_client::{ClientConfig, NetworkClient};

pub(crate) mod cluster;
pub(crate) mod consume;
pub(crate) mod groups;
mod output;
pub(crate) mod perf;
pub(crate) mod produce;
pub(crate) mod topics;

/// Where the cluster is.
#[derive(Args, Debug, Clone)]
pub(crate) struct ConnectArgs {
    /// Comma-separated `host:port` list of brokers to bootstrap from
    /// (Kafka's `bootstrap.servers`).
    #[arg(
        long = "bootstrap-server",
        short = 'b',
        global = true,
        env = "GREGOR_BOOTSTRAP_SERVER",
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT,..."
    )]
    pub bootstrap_server: String,
}

impl ConnectArgs {
    /// The client configuration these arguments describe.
    pub(crate) fn client_config(&self) -> ClientConfig {
        ClientConfig::new(&self.bootstrap_server)
    }

    /// Connects to the cluster; when no bootstrap server answers the error
    /// names each address and why it failed.
    pub(crate) async fn connect(&self) -> anyhow::Result<NetworkClient> {
        Ok(NetworkClient::connect(self.client_config()).await?)
    }

    /// An admin client of the cluster.
    pub(crate) async fn admin(&self) -> anyhow::Result<AdminClient> {
        Ok(AdminClient::new(self.connect().await?))
    }
}
