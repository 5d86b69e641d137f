//! The stack of `template.yaml` on one machine: its tables, queues, bucket and SSM parameters on
//! moto, API Gateway's management API ([`ApiGateway`]), and the four functions under the
//! emulator, each started with exactly the environment the template gives it (and, for the
//! callback function, the two test settings of [`TEST_SETTINGS`]). The template's
//! values are resolved here — `!Ref` of a resource to what was provisioned, of a parameter to
//! its default (so the secrets are read from the default SSM names), `!If` on the parameters
//! chosen (`AgentRuntime=process`: agents are child processes of the executor function),
//! `!Sub` of the WebSocket stage to the management API — and a value this table does not know
//! fails the test, so the template cannot drift from what is tested. Besides, each instance
//! gets what the Lambda service gives one: the region and credentials (moto's), the Runtime API,
//! and a `/tmp` of its own (`CREWSHIP_WORK_DIR`).

use crewship_aws::provision::MAX_RECEIVES;
use crewship_lambda::ws::table::create_table;
use crewship_test_support::cloud::{Cloud, Moto, provision, test_key};
use crewship_test_support::fixture::TOKEN;
use crewship_test_support::template::{TEMPLATE, function_environment, parameter_default};

use crate::api_gateway::ApiGateway;
use crate::emulator::{Emulator, Instance, Lambda};

/// The internal token put into SSM for the handler.
pub const INTERNAL_TOKEN: &str = "internal-token-0123456789abcdef";
/// The workspace whose monitoring token is [`TOKEN`].
pub const WORKSPACE: &str = "ws";

/// The template parameters this stack is deployed with; the rest keep their defaults.
const PARAMETERS: &[(&str, &str)] = &[("AgentRuntime", "process")];

/// The functions: bin, template resource, bootstrap.
const FUNCTIONS: &[(&str, &str, &str)] = &[
    (
        "handler-lambda",
        "HandlerFunction",
        env!("CARGO_BIN_EXE_handler-lambda"),
    ),
    (
        "executor-lambda",
        "ExecutorFunction",
        env!("CARGO_BIN_EXE_executor-lambda"),
    ),
    ("ws-lambda", "WsFunction", env!("CARGO_BIN_EXE_ws-lambda")),
    (
        "callback-lambda",
        "CallbackFunction",
        env!("CARGO_BIN_EXE_callback-lambda"),
    ),
];

/// What this stack sets beyond the template, per resource: the callback function may reach the
/// test's receiver on loopback, and retries after one second, not thirty.
const TEST_SETTINGS: &[(&str, &str, &str)] = &[
    (
        "CallbackFunction",
        "CREWSHIP_CALLBACK_ALLOW_PRIVATE",
        "true",
    ),
    ("CallbackFunction", "CREWSHIP_CALLBACK_RETRY_SECS", "1,1"),
];

pub struct Stack {
    pub cloud: Cloud,
    pub gateway: ApiGateway,
    pub lambda: Lambda,
    instances: Vec<Instance>,
    connections_table: String,
    emulator: Emulator,
    pub moto: Moto,
    logs: tempfile::TempDir,
}

impl Stack {
    /// Provisions everything and starts one instance of the handler and the WebSocket function
    /// and `executors` of the executor function.
    pub async fn start(executors: usize) -> Self {
        let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
        let cloud = provision(&moto, 30, MAX_RECEIVES).await;
        let connections_table = format!("{}-connections", cloud.prefix);
        create_table(
            &aws_sdk_dynamodb::Client::new(&cloud.sdk),
            &connections_table,
        )
        .await
        .expect("creating the connections table");
        put_secrets(&cloud.sdk).await;
        let logs = tempfile::tempdir().unwrap();
        let path = logs.path().to_owned();
        let emulator = tokio::task::spawn_blocking(move || Emulator::start(&path))
            .await
            .unwrap();
        let mut stack = Self {
            lambda: emulator.client(),
            gateway: ApiGateway::start().await,
            instances: Vec::new(),
            connections_table,
            cloud,
            emulator,
            moto,
            logs,
        };
        for &(bin, resource, bootstrap) in FUNCTIONS {
            let count = if bin == "executor-lambda" {
                executors
            } else {
                1
            };
            for n in 0..count {
                let env = stack.environment(resource, n);
                let instance =
                    stack
                        .emulator
                        .start_function(bin, bootstrap, &env, stack.logs.path(), n);
                stack.instances.push(instance);
            }
        }
        stack
    }

    /// The functions' output so far, for a failure message.
    pub fn report(&mut self) -> String {
        self.instances
            .iter_mut()
            .map(Instance::report)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn environment(&self, resource: &str, instance: usize) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = function_environment(TEMPLATE, resource)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), self.resolve(value)))
            .collect();
        let tmp = self.logs.path().join(format!("{resource}-{instance}-tmp"));
        std::fs::create_dir_all(&tmp).unwrap();
        for (name, value) in &mut env {
            if name == "CREWSHIP_WORK_DIR" {
                *value = tmp.join("crews").display().to_string();
            }
        }
        env.extend(self.moto.env().into_iter().map(|(k, v)| (k.to_owned(), v)));
        env.extend(
            TEST_SETTINGS
                .iter()
                .filter(|(of, _, _)| *of == resource)
                .map(|(_, name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        env.push(("TMPDIR".into(), tmp.display().to_string()));
        env
    }

    /// A value as `template.yaml` writes it, for this stack.
    fn resolve(&self, value: &str) -> String {
        if let Some(name) = value.strip_prefix("!Ref ") {
            return self.reference(name);
        }
        if let Some(rest) = value.strip_prefix("!If [") {
            let rest = rest.strip_suffix(']').expect("!If [...]");
            let mut parts = rest.splitn(3, ", ");
            let (condition, then, otherwise) = (
                parts.next().unwrap(),
                parts.next().expect("!If's value if true"),
                parts.next().expect("!If's value if false"),
            );
            return self.resolve(if self.condition(condition) {
                then
            } else {
                otherwise
            });
        }
        if let Some(sub) = value.strip_prefix("!Sub ") {
            assert!(
                sub.contains("${WsApi}") && sub.contains("execute-api"),
                "template.yaml: a !Sub this test does not know: {sub}"
            );
            return self.gateway.endpoint();
        }
        assert!(!value.starts_with('!'), "template.yaml: unknown {value}");
        value.trim_matches('"').to_owned()
    }

    fn reference(&self, name: &str) -> String {
        let tables = &self.cloud.tables;
        match name {
            "RunsTable" => tables.runs.clone(),
            "LogsTable" => tables.logs.clone(),
            "DedupTable" => tables.dedup.clone(),
            "ChatsTable" => tables.chats.clone(),
            "AgentsTable" => tables.agents.clone(),
            "CallbacksTable" => tables.callbacks.clone(),
            "CallbackQueue" => self.cloud.callbacks.queue.clone(),
            "PayloadBucket" => self.cloud.bucket.clone(),
            "RunQueue" => self.cloud.queue.queue.clone(),
            "ConnectionsTable" => self.connections_table.clone(),
            parameter => self.parameter(parameter),
        }
    }

    fn parameter(&self, name: &str) -> String {
        PARAMETERS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| parameter_default(TEMPLATE, name).map(str::to_owned))
            .unwrap_or_else(|| panic!("template.yaml: {name} is no resource or parameter here"))
    }

    fn condition(&self, name: &str) -> bool {
        match name {
            "UseKeeper" => self.parameter("AgentRuntime") == "keeper",
            other => panic!("template.yaml: a condition this test does not know: {other}"),
        }
    }
}

impl Drop for Stack {
    /// A failing test shows what the functions logged (never a secret: they log none).
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.report());
        }
    }
}

/// The SecureStrings the functions read at cold start, under the template's default names.
async fn put_secrets(sdk: &aws_config::SdkConfig) {
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let values = [
        ("InternalTokenParameter", INTERNAL_TOKEN.to_owned()),
        ("EncryptionKeyParameter", test_key()),
        ("ApiTokensParameter", format!("{WORKSPACE}={TOKEN}")),
    ];
    for (parameter, value) in values {
        let name = parameter_default(TEMPLATE, parameter).expect("a default SSM name");
        ssm.put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("PutParameter");
    }
}
