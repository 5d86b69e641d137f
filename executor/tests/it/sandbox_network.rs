//! The sandbox runtime gives an agent the network it asks for and no wider: without one its
//! namespace has only a loopback; with `bridge` it has the host's interfaces; two agents of one
//! crew asking differently each get their own, directly and through Keeper. A named network is
//! refused, never widened to the host's.

use std::sync::Arc;

use crewship_core::isolation::{Isolation, Network};
use crewship_core::runtime::{ContainerRuntime, ExecSpec, Placement};
use crewship_core::secret::Secret;
use crewship_test_support::procs;
use executor::runtime::{KeeperRuntime, SandboxRuntime};

const TOKEN: &str = "network-token-0123456789abcdef";

fn place(network: Network) -> Placement {
    Placement {
        isolation: Isolation {
            network,
            ..Isolation::default()
        },
        ..Placement::new("ws".parse().unwrap(), "crew".parse().unwrap())
    }
}

/// The interfaces the agent sees, from `/proc/net/dev`.
async fn interfaces(
    rt: &dyn ContainerRuntime,
    id: &crewship_core::runtime::RuntimeId,
) -> Vec<String> {
    let spec = ExecSpec {
        argv: vec![
            "sh".into(),
            "-c".into(),
            "tail -n +3 /proc/net/dev | cut -d: -f1".into(),
        ],
        env: Vec::new(),
        stdin: Vec::new(),
    };
    let mut exec = rt.exec(id, spec).await.unwrap();
    let mut names = Vec::new();
    while let Some(line) = exec.next_line().await {
        names.push(line.unwrap().content.trim().to_owned());
    }
    names
}

async fn each_agent_gets_its_own_network(rt: Arc<dyn ContainerRuntime>) {
    let closed = rt.ensure(&place(Network::None)).await.unwrap();
    let open = rt.ensure(&place(Network::Bridge)).await.unwrap();
    assert_ne!(closed, open);
    // Ensured in this order, the closed one must still be closed.
    assert_eq!(interfaces(rt.as_ref(), &closed).await, ["lo"]);
    let host = interfaces(rt.as_ref(), &open).await;
    assert!(
        host.len() > 1 && host.contains(&"lo".to_owned()),
        "{host:?}"
    );
    let named = rt.ensure(&place(Network::Named("agents-net".into()))).await;
    assert!(named.is_err(), "a named network must be refused");
}

fn sandbox(root: &std::path::Path) -> Option<Arc<dyn ContainerRuntime>> {
    procs::bwrap_available().then(|| Arc::new(SandboxRuntime::new(root).unwrap()) as _)
}

#[tokio::test]
async fn sandboxed_agents_get_the_network_they_ask_for() {
    let dir = tempfile::tempdir().unwrap();
    if let Some(rt) = sandbox(dir.path()) {
        each_agent_gets_its_own_network(rt).await;
    }
}

#[tokio::test]
async fn through_keeper_too() {
    let dir = tempfile::tempdir().unwrap();
    let Some(local) = sandbox(dir.path()) else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(executor::keeper::server::serve(
        listener,
        local,
        Secret::new(TOKEN),
        std::future::pending(),
    ));
    let rt = KeeperRuntime::new(&url, Secret::new(TOKEN)).unwrap();
    each_agent_gets_its_own_network(Arc::new(rt)).await;
}
