//! Cold-start configuration of the Lambda functions: environment variables, where a variable
//! `NAME_SSM` names an SSM SecureString whose decrypted value becomes `NAME`. Secrets thus never
//! sit in the template, its outputs or the functions' configuration.

use std::collections::HashMap;

use anyhow::Context;
use crewship_aws::config::parse_api_tokens;
use handler::ApiToken;

pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// Reads the environment and resolves every `*_SSM` reference, once per cold start.
    pub async fn load(sdk: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        let mut vars: HashMap<String, String> =
            std::env::vars().filter(|(_, v)| !v.is_empty()).collect();
        let references: Vec<(String, String)> = vars
            .iter()
            .filter_map(|(k, v)| Some((k.strip_suffix("_SSM")?.to_owned(), v.clone())))
            .filter(|(target, _)| !vars.contains_key(target))
            .collect();
        if !references.is_empty() {
            let ssm = aws_sdk_ssm::Client::new(sdk);
            for (target, parameter) in references {
                let value = ssm
                    .get_parameter()
                    .name(&parameter)
                    .with_decryption(true)
                    .send()
                    .await
                    .with_context(|| format!("reading SSM parameter {parameter} for {target}"))?
                    .parameter
                    .and_then(|p| p.value)
                    .with_context(|| format!("SSM parameter {parameter} has no value"))?;
                vars.insert(target, value);
            }
        }
        Ok(Self { vars })
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    /// `CREWSHIP_API_TOKENS`: monitoring tokens as `workspace=token` pairs, comma-separated
    /// (the format `crewship-server` reads too).
    pub fn api_tokens(&self) -> anyhow::Result<Vec<ApiToken>> {
        Ok(parse_api_tokens(
            &self.get("CREWSHIP_API_TOKENS").unwrap_or_default(),
        )?)
    }
}

/// JSON log lines, as CloudWatch Logs Insights reads them.
pub fn init_tracing() {
    handler::telemetry::init_tracing(handler::telemetry::LogFormat::JsonWithoutTime);
}
