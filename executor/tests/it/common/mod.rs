//! Harness for the executor's integration tests: in-memory ports, the real local process
//! runtime in a temporary directory, and agents that are shell scripts the tests write.

#![allow(dead_code)] // each test file uses a part

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crewship_core::agent::Agent;
use crewship_core::ids::RunId;
use crewship_core::log::LogEntry;
use crewship_core::logs::LogQuery;
use crewship_core::ports::MemoryPorts;
use crewship_core::registry::MemoryRegistry;
use crewship_core::run::{AuthScheme, NewRun, Run};
use crewship_core::runtime::ContainerRuntime;
use crewship_test_support::AgentBuilder;
use executor::runtime::ProcessRuntime;
use executor::{Executor, ExecutorConfig};

pub struct Harness {
    pub memory: MemoryPorts,
    pub executor: Arc<Executor>,
    pub dir: tempfile::TempDir,
}

/// Short settings so real processes finish tests quickly.
pub fn fast_config() -> ExecutorConfig {
    ExecutorConfig {
        kill_grace: Duration::from_millis(500),
        heartbeat: Duration::from_millis(100),
        lease: Duration::from_secs(5),
        poll_wait: Duration::from_millis(200),
        defer: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(5),
        final_write_timeout: Duration::from_secs(10),
        ..ExecutorConfig::default()
    }
}

/// An agent running `argv` (relative paths resolve in the crew directory).
pub fn agent(id: &str, argv: &[&str]) -> Agent {
    AgentBuilder::new(id)
        .name(format!("Agent {id}"))
        .command(argv)
        .secret("s")
        .build()
}

/// An agent running a shell script with `body`.
pub fn script_agent(id: &str, body: &str) -> Agent {
    agent(id, &["sh", "-c", body])
}

impl Harness {
    pub fn new(agents: Vec<Agent>, config: ExecutorConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let runtime = Arc::new(ProcessRuntime::new(dir.path().join("work")));
        Self::with_runtime(agents, config, runtime, dir)
    }

    pub fn with_runtime(
        agents: Vec<Agent>,
        config: ExecutorConfig,
        runtime: Arc<dyn ContainerRuntime>,
        dir: tempfile::TempDir,
    ) -> Self {
        let registry = Arc::new(MemoryRegistry::new(agents));
        let memory = MemoryPorts::new(registry, config.lease * 2);
        let executor = Arc::new(Executor::new(memory.ports.clone(), runtime, config));
        Self {
            memory,
            executor,
            dir,
        }
    }

    /// The crew's working directory, where agents run and write their marker files.
    pub fn crew_dir(&self) -> PathBuf {
        self.dir.path().join("work").join("ws").join("crew")
    }

    /// A QUEUED run for `agent`, stored and sent to the queue, as the handler does.
    pub async fn enqueue(&self, agent: &Agent, event: &str) -> RunId {
        let run = self.queued_run(agent, event);
        self.memory.ports.runs.create(&run).await.unwrap();
        self.memory.ports.queue.send(&run.id).await.unwrap();
        run.id
    }

    /// A QUEUED run for an agent that the registry may not know.
    pub fn queued_run(&self, agent: &Agent, event: &str) -> Run {
        let payload = serde_json::value::RawValue::from_string(format!(
            r#"{{"event":"{event}","data":{{"n":1}}}}"#
        ))
        .unwrap();
        Run::queued(
            agent,
            NewRun {
                id: RunId::generate(),
                event: event.to_owned(),
                source: "test".to_owned(),
                auth_scheme: AuthScheme::Signature,
                delivery_id: None,
                payload: payload.into(),
            },
            self.memory.ports.clock.now(),
        )
    }

    pub async fn run(&self, id: &RunId) -> Run {
        self.memory.ports.runs.get(id).await.unwrap().unwrap()
    }

    pub async fn logs(&self, agent: &Agent, id: &RunId) -> Vec<LogEntry> {
        self.memory
            .ports
            .logs
            .query(&LogQuery {
                agent: agent.id.clone(),
                run: Some(id.clone()),
                after: None,
                limit: usize::MAX,
            })
            .await
            .unwrap()
    }

    /// Polls until the run is terminal (a generous limit fails the test).
    pub async fn wait_terminal(&self, id: &RunId) -> Run {
        let start = Instant::now();
        loop {
            let run = self.run(id).await;
            if run.status.is_terminal() {
                return run;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "run {id} still {}",
                run.status
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Writes an executable shell script and returns its path.
pub fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Whether a process exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

/// Reads a pid a test agent wrote into a file, waiting for it to appear.
pub async fn read_pid(path: &Path) -> u32 {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until no process of the list is alive (a process killed by SIGKILL may take a moment
/// to be reaped); fails the test naming the survivor.
pub async fn assert_all_gone(pids: &[u32]) {
    let start = Instant::now();
    while let Some(pid) = pids.iter().find(|p| process_alive(**p)) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "process {pid} survived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The contents of a run's log, one string per entry.
pub fn contents(logs: &[LogEntry]) -> Vec<&str> {
    logs.iter().map(|e| e.content.as_str()).collect()
}
