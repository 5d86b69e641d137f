//! One small HTTP client for the management commands: base URL, JSON answers, and error
//! answers turned into the service's own `{"error","message"}` sentence.

use anyhow::{Context, bail};
use clap::Args;
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

/// Where the deployment is.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// Base URL of the deployment.
    #[arg(
        id = "remote_url",
        long = "url",
        value_name = "URL",
        env = "CREWSHIP_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
}

/// A monitoring token of the workspace a command acts in.
#[derive(Debug, Clone, Args)]
pub struct MonitoringToken {
    /// A monitoring token of the workspace.
    #[arg(
        id = "remote_token",
        long = "token",
        value_name = "TOKEN",
        env = "CREWSHIP_TOKEN",
        hide_env_values = true,
        global = true
    )]
    token: Option<String>,
}

impl MonitoringToken {
    pub fn required(self) -> anyhow::Result<String> {
        required(self.token, "--token", "CREWSHIP_TOKEN")
    }
}

pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(remote: &Remote) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: remote.url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Sends the request; returns the status and the JSON answer (`null` when empty) when the
    /// status is a success, else an error carrying the service's message.
    pub async fn send(&self, request: RequestBuilder) -> anyhow::Result<(u16, Value)> {
        let response = request
            .send()
            .await
            .with_context(|| format!("reaching {}", self.base))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            match (body["error"].as_str(), body["message"].as_str()) {
                (Some(code), Some(message)) => {
                    bail!("the service answered {status}: {code}: {message}")
                }
                _ => bail!("the service answered {status}"),
            }
        }
        Ok((status.as_u16(), body))
    }
}

/// Reads a required token, naming the flag and the variable when it is missing.
pub fn required(value: Option<String>, flag: &str, var: &str) -> anyhow::Result<String> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => bail!("this command needs {flag} or the environment variable {var}"),
    }
}

/// An id as the service accepts it, checked before it becomes part of a URL path.
pub fn agent_id(id: &str) -> anyhow::Result<crewship_core::ids::AgentId> {
    Ok(id.parse()?)
}

pub fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
