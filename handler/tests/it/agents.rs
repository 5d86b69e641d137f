//! Agent management and webhook-secret rotation (`docs/agents.md`), in process, with the clock in
//! the test's hand.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use crewship_core::agent::Agent;
use crewship_core::ids::AgentId;
use crewship_core::ports::MemoryPorts;
use crewship_core::registry::{AgentRegistry, AgentScope, MemoryRegistry, RegistryError};
use handler::AppState;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::*;

fn internal(method: &str, path: &str, body: Option<Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header("x-internal-token", INTERNAL);
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

fn signed(crew: &str, agent: &str, secret: &str, body: &str) -> Request<Body> {
    let signature = Signer::new(secret).signature(body.as_bytes());
    Request::post(format!("/api/v1/webhooks/{crew}/{agent}/trigger"))
        .header("content-type", "application/json")
        .header("x-signature", signature)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn rotate(agent: &str, token: &str) -> Request<Body> {
    Request::post(format!("/api/v1/agents/{agent}/webhook-secret/rotate"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn new_agent() -> Value {
    json!({
        "crew_id": "c1",
        "workspace_id": "ws",
        "name": "reviewer",
        "command": ["sh", "-c", "cat"],
        "env": {"API_KEY": "env-credential-value"},
    })
}

/// Triggers with a body unique to each call, so deduplication never answers for the signature.
async fn trigger_status(app: &App, agent: &str, secret: &str) -> u16 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let body = format!(r#"{{"event":"e","data":{{"n":{n}}}}}"#);
    send(app, signed("c1", agent, secret, &body))
        .await
        .0
        .status()
        .as_u16()
}

async fn create(app: &App, id: &str) -> String {
    let (response, body) = send(
        app,
        internal(
            "PUT",
            &format!("/api/v1/internal/agents/{id}"),
            Some(new_agent()),
        ),
    )
    .await;
    assert_eq!(response.status(), 201, "{body}");
    body["webhook_secret"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn created_agent_is_triggered_with_the_secret_from_the_answer() {
    let app = app();
    let (response, body) = send(
        &app,
        internal("PUT", "/api/v1/internal/agents/new1", Some(new_agent())),
    )
    .await;
    assert_eq!(response.status(), 201, "{body}");
    let secret = body["webhook_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64);
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(body["webhook_secret_set"], true);
    assert_eq!(body["webhook_path"], "/api/v1/webhooks/c1/new1/trigger");

    assert_eq!(trigger_status(&app, "new1", &secret).await, 202);

    let (response, body) = send(&app, internal("GET", "/api/v1/internal/agents/new1", None)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body["webhook_secret_set"], true);
    assert_eq!(body["env_keys"], json!(["API_KEY"]));
    assert_eq!(body["name"], "reviewer");
    assert!(body.get("webhook_secret").is_none() && body.get("env").is_none());
    let text = body.to_string();
    assert!(!text.contains(&secret) && !text.contains("env-credential-value"));
}

#[tokio::test]
async fn replacing_keeps_the_secret_unless_the_body_gives_one() {
    let app = app();
    let secret = create(&app, "new1").await;
    let mut changed = new_agent();
    changed["name"] = json!("renamed");
    let (response, body) = send(
        &app,
        internal("PUT", "/api/v1/internal/agents/new1", Some(changed.clone())),
    )
    .await;
    assert_eq!(response.status(), 200, "{body}");
    assert_eq!(body["name"], "renamed");
    assert!(body.get("webhook_secret").is_none(), "{body}");
    assert_eq!(trigger_status(&app, "new1", &secret).await, 202);

    let given = "given-secret-0123456789abcdef0123456789";
    changed["webhook_secret"] = json!(given);
    let (response, body) = send(
        &app,
        internal("PUT", "/api/v1/internal/agents/new1", Some(changed)),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(!body.to_string().contains(given));
    assert_eq!(trigger_status(&app, "new1", given).await, 202);
    assert_eq!(trigger_status(&app, "new1", &secret).await, 401);
}

#[tokio::test]
async fn both_secrets_verify_during_the_grace_period_and_only_the_new_one_after() {
    let app = app();
    let (response, body) = send(&app, rotate("a1", TOKEN)).await;
    assert_eq!(response.status(), 200, "{body}");
    let new = body["webhook_secret"].as_str().unwrap().to_owned();
    assert_eq!(new.len(), 64);
    assert_ne!(new, SECRET);
    assert_eq!(body["rotated_at"], "2026-11-28T12:00:00Z");
    assert_eq!(body["previous_valid_until"], "2026-11-29T12:00:00Z");

    assert_eq!(trigger_status(&app, "a1", SECRET).await, 202);
    assert_eq!(trigger_status(&app, "a1", &new).await, 202);
    app.clock.advance(time::Duration::hours(24));
    assert_eq!(
        trigger_status(&app, "a1", SECRET).await,
        202,
        "the bound is inclusive"
    );
    app.clock.advance(time::Duration::seconds(1));
    assert_eq!(trigger_status(&app, "a1", SECRET).await, 401);
    assert_eq!(trigger_status(&app, "a1", &new).await, 202);
}

#[tokio::test]
async fn a_zero_grace_period_ends_the_old_secret_at_once() {
    let mut config = config();
    config.secret_rotation_grace = Duration::ZERO;
    let app = app_with(vec![agent("a1", "c1", "ws")], config);
    let (response, body) = send(&app, rotate("a1", TOKEN)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body["previous_valid_until"], body["rotated_at"]);
    let new = body["webhook_secret"].as_str().unwrap().to_owned();
    assert_eq!(trigger_status(&app, "a1", SECRET).await, 401);
    assert_eq!(trigger_status(&app, "a1", &new).await, 202);
}

#[tokio::test]
async fn a_token_of_another_workspace_cannot_rotate() {
    let app = app();
    let (response, body) = send(&app, rotate("a1", OTHER_TOKEN)).await;
    assert_eq!(response.status(), 404);
    assert_eq!(body["error"], "not_found");
    let (response, _) = send(&app, rotate("a1", "bogus")).await;
    assert_eq!(response.status(), 401);
    let (response, _) = send(&app, rotate("nobody", TOKEN)).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        trigger_status(&app, "a1", SECRET).await,
        202,
        "secret unchanged"
    );
}

#[tokio::test]
async fn a_deleted_agent_answers_401_and_its_secret_is_gone() {
    let app = app();
    let secret = create(&app, "new1").await;
    let (response, _) = send(
        &app,
        internal("DELETE", "/api/v1/internal/agents/new1", None),
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(trigger_status(&app, "new1", &secret).await, 401);
    let (response, _) = send(
        &app,
        internal("GET", "/api/v1/internal/agents/new1/webhook-secret", None),
    )
    .await;
    assert_eq!(response.status(), 404);
    let (response, _) = send(&app, internal("GET", "/api/v1/internal/agents/new1", None)).await;
    assert_eq!(response.status(), 404);
    let (response, _) = send(
        &app,
        internal("DELETE", "/api/v1/internal/agents/new1", None),
    )
    .await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn listing_needs_exactly_one_scope_and_shows_no_secrets() {
    let app = app();
    create(&app, "new1").await;
    let (response, body) = send(
        &app,
        internal("GET", "/api/v1/internal/agents?crew_id=c1", None),
    )
    .await;
    assert_eq!(response.status(), 200);
    let ids: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a1", "new1"]);
    assert!(!body.to_string().contains(SECRET));
    let (_, body) = send(
        &app,
        internal("GET", "/api/v1/internal/agents?workspace_id=other", None),
    )
    .await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    for query in ["", "?crew_id=c1&workspace_id=ws", "?crew_id=a/b"] {
        let (response, body) = send(
            &app,
            internal("GET", &format!("/api/v1/internal/agents{query}"), None),
        )
        .await;
        assert_eq!(response.status(), 400, "{query}: {body}");
        assert_eq!(body["error"], "invalid_query");
    }
}

#[tokio::test]
async fn management_needs_the_internal_token() {
    let app = app();
    for (method, path) in [
        ("PUT", "/api/v1/internal/agents/x"),
        ("GET", "/api/v1/internal/agents/a1"),
        ("GET", "/api/v1/internal/agents?crew_id=c1"),
        ("DELETE", "/api/v1/internal/agents/a1"),
    ] {
        for token in [None, Some("wrong")] {
            let mut request = Request::builder().method(method).uri(path);
            if let Some(t) = token {
                request = request.header("x-internal-token", t);
            }
            let request = request.body(Body::from(new_agent().to_string())).unwrap();
            let (response, body) = send(&app, request).await;
            assert_eq!(response.status(), 403, "{method} {path} {token:?}");
            assert_eq!(body["error"], "forbidden");
        }
    }
}

#[tokio::test]
async fn invalid_agents_are_refused_with_a_400_naming_the_problem() {
    let app = app();
    let long = "x".repeat(129);
    let with = |key: &str, value: Value| {
        let mut body = new_agent();
        body[key] = value;
        body
    };
    let cases = [
        ("ok", with("adapter", json!("gpt")), "adapter"),
        ("ok", with("command", json!([])), "command"),
        (
            "ok",
            with("rate_limit_per_min", json!(0)),
            "rate_limit_per_min",
        ),
        (
            "ok",
            with("max_concurrent_runs", json!(1000)),
            "max_concurrent_runs",
        ),
        ("ok", with("timeout_secs", json!(601)), "timeout_secs"),
        (
            "ok",
            with("webhook_secret", json!("too-short")),
            "webhook_secret",
        ),
        ("ok", with("crew_id", json!("a b")), "crew_id"),
        ("ok", with("workspace_id", json!(long)), "workspace_id"),
        ("ok", with("surprise", json!(1)), "surprise"),
        ("a.b", new_agent(), "id"),
        (long.as_str(), new_agent(), "id"),
    ];
    for (id, body, needle) in cases {
        let (response, answer) = send(
            &app,
            internal(
                "PUT",
                &format!("/api/v1/internal/agents/{id}"),
                Some(body.clone()),
            ),
        )
        .await;
        assert_eq!(response.status(), 400, "{id} {body}: {answer}");
        assert_eq!(answer["error"], "invalid_agent");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message} should name {needle}");
        assert!(!message.contains("too-short"));
    }
    let (response, answer) = send(
        &app,
        Request::put("/api/v1/internal/agents/x")
            .header("x-internal-token", INTERNAL)
            .body(Body::from("not json"))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(answer["error"], "invalid_agent");
    let deep = format!(r#"{{"env":{}{}}}"#, "[".repeat(30_000), "]".repeat(30_000));
    let (response, answer) = send(
        &app,
        Request::put("/api/v1/internal/agents/x")
            .header("x-internal-token", INTERNAL)
            .body(Body::from(deep))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(answer["error"], "invalid_agent");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("deeper than 128 levels")
    );
    let huge = "x".repeat(handler::agents::BODY_LIMIT_BYTES + 1);
    let (response, _) = send(
        &app,
        internal(
            "PUT",
            "/api/v1/internal/agents/x",
            Some(json!({"name": huge})),
        ),
    )
    .await;
    assert_eq!(response.status(), 413);
    let ids: Vec<Value> = send(
        &app,
        internal("GET", "/api/v1/internal/agents?crew_id=c1", None),
    )
    .await
    .1
    .as_array()
    .unwrap()
    .iter()
    .map(|a| a["id"].clone())
    .collect();
    assert_eq!(ids, [json!("a1")], "nothing was created");
}

/// A registry that pauses between a read and what the caller does next, so that concurrent
/// read-modify-writes really interleave (in memory they otherwise never would).
struct InterleavingRegistry(MemoryRegistry);

#[async_trait::async_trait]
impl AgentRegistry for InterleavingRegistry {
    async fn get(&self, id: &AgentId) -> Result<Option<Agent>, RegistryError> {
        let agent = self.0.get(id).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        agent
    }
    async fn put(&self, agent: Agent) -> Result<(), RegistryError> {
        self.0.put(agent).await
    }
    async fn compare_and_swap(
        &self,
        expected: Option<&Agent>,
        new: Agent,
    ) -> Result<bool, RegistryError> {
        self.0.compare_and_swap(expected, new).await
    }
    async fn delete(&self, id: &AgentId) -> Result<bool, RegistryError> {
        self.0.delete(id).await
    }
    async fn list(&self, scope: &AgentScope) -> Result<Vec<Agent>, RegistryError> {
        self.0.list(scope).await
    }
}

#[tokio::test]
async fn concurrent_rotations_lose_no_secret() {
    let registry = Arc::new(InterleavingRegistry(MemoryRegistry::new([agent(
        "a1", "c1", "ws",
    )])));
    let memory = MemoryPorts::new(registry.clone(), Duration::from_secs(60));
    let router = handler::router(AppState::new(memory.ports.clone(), config(), None));
    // Fewer contenders than compare-and-swap attempts: each round has a winner, so all finish.
    let rotations = (0..5).map(|_| {
        let router = router.clone();
        async move {
            let response = router.oneshot(rotate("a1", TOKEN)).await.unwrap();
            assert_eq!(response.status(), 200);
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            body["webhook_secret"].as_str().unwrap().to_owned()
        }
    });
    let mut secrets = futures_util::future::join_all(rotations).await;
    let agent = registry
        .0
        .get(&"a1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let current = agent.webhook_secret.unwrap().expose().to_owned();
    let previous = agent.previous_secret.unwrap().secret.expose().to_owned();
    // Each rotation replaced the one before it: the survivor's predecessor is another
    // rotation's secret, not the original that every rotation read first.
    assert!(secrets.contains(&current));
    assert!(secrets.contains(&previous), "a rotation was lost");
    secrets.sort();
    secrets.dedup();
    assert_eq!(secrets.len(), 5);
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_appear_in_no_log_line_and_only_in_the_answers_that_hand_them_out() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = app();
    let mut others = Vec::new();
    let (_, created) = send(
        &app,
        internal("PUT", "/api/v1/internal/agents/new1", Some(new_agent())),
    )
    .await;
    let first = created["webhook_secret"].as_str().unwrap().to_owned();
    others.push(
        send(
            &app,
            internal("PUT", "/api/v1/internal/agents/new1", Some(new_agent())),
        )
        .await
        .1,
    );
    others.push(
        send(&app, internal("GET", "/api/v1/internal/agents/new1", None))
            .await
            .1,
    );
    others.push(
        send(
            &app,
            internal("GET", "/api/v1/internal/agents?crew_id=c1", None),
        )
        .await
        .1,
    );
    others.push(send(&app, signed("c1", "new1", &first, "{}")).await.1);
    others.push(
        send(
            &app,
            signed("c1", "new1", "wrong-secret-wrong-secret-wrong-secret", "{}"),
        )
        .await
        .1,
    );
    let (_, rotated) = send(&app, rotate("new1", TOKEN)).await;
    let second = rotated["webhook_secret"].as_str().unwrap().to_owned();
    others.push(send(&app, rotate("new1", OTHER_TOKEN)).await.1);
    others.push(
        send(&app, signed("c1", "new1", &second, r#"{"n":1}"#))
            .await
            .1,
    );
    others.push(send(&app, get("/api/v1/agents/new1/runs", TOKEN)).await.1);
    let (_, internal_secret) = send(
        &app,
        internal(
            "GET",
            "/api/v1/internal/agents/new1/webhook-secret?crew_id=c1",
            None,
        ),
    )
    .await;
    assert_eq!(internal_secret["webhook_secret"], second.as_str());
    let mut bad = new_agent();
    bad["webhook_secret"] = json!(first);
    bad["adapter"] = json!("gpt");
    others.push(
        send(
            &app,
            internal("PUT", "/api/v1/internal/agents/new1", Some(bad)),
        )
        .await
        .1,
    );
    others.push(
        send(
            &app,
            internal("DELETE", "/api/v1/internal/agents/new1", None),
        )
        .await
        .1,
    );
    others.push(
        send(&app, signed("c1", "new1", &second, r#"{"n":2}"#))
            .await
            .1,
    );

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    for needle in [
        "agent registered",
        "webhook secret rotated",
        "agent deleted",
        "webhook accepted",
    ] {
        assert!(
            logs.contains(needle),
            "the session was logged: {needle} missing in\n{logs}"
        );
    }
    for secret in [&first, &second, "env-credential-value"] {
        assert!(!logs.contains(secret), "a secret reached the logs:\n{logs}");
        for answer in &others {
            assert!(!answer.to_string().contains(secret), "{answer}");
        }
    }
}
