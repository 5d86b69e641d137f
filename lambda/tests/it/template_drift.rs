//! template.yaml against `crewship_lambda::access` and the settings table: each function gets
//! exactly its own secrets (as `*_SSM` references to the right parameters, readable by its role
//! and no other's), only settings that apply to its binary, and a role allowing exactly the
//! operations its code makes. A change on one side without the other fails here.

use std::collections::BTreeSet;

use crewship_lambda::access::{FUNCTIONS, KEEPER_TOKEN};
use crewship_settings::keys::{KEYS, Kind};
use crewship_test_support::template::{self, TEMPLATE};

/// The lines of the block that starts with `header`.
fn block(header: &str) -> Vec<&'static str> {
    template::block(TEMPLATE, header)
}

/// `CREWSHIP_*` variables of a block's environment, with their values as written.
fn variables(lines: &[&'static str]) -> Vec<(&'static str, &'static str)> {
    template::variables(lines)
        .into_iter()
        .filter(|(name, _)| name.starts_with("CREWSHIP_"))
        .collect()
}

/// Every action of every `Action:` line (a flow list or a single action).
fn actions(lines: &[&str]) -> BTreeSet<String> {
    lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix("Action:"))
        .flat_map(|a| {
            a.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .map(|x| x.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The template parameters named in `parameter${Name}` ARNs.
fn ssm_parameters(lines: &[&str]) -> BTreeSet<String> {
    lines
        .iter()
        .flat_map(|l| l.split("parameter${").skip(1))
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

#[test]
fn every_function_gets_exactly_its_secrets_settings_and_permissions() {
    let globals = block("  Function:");
    for f in FUNCTIONS {
        let name = f.bin.name();
        let own = block(&format!("  {}:", f.resource));
        let mut env = variables(&globals);
        env.extend(variables(&own));

        // Secrets: the `_SSM` references are exactly the table's, each to its parameter.
        let references: BTreeSet<&str> = env
            .iter()
            .filter_map(|(var, _)| var.strip_suffix("_SSM"))
            .collect();
        let secrets: BTreeSet<&str> = f.secrets.iter().map(|s| s.var).collect();
        assert_eq!(references, secrets, "{name}: *_SSM variables");
        for secret in f.secrets {
            let (_, value) = env
                .iter()
                .find(|(var, _)| var.strip_suffix("_SSM") == Some(secret.var))
                .expect("checked above");
            assert!(
                value.contains(&format!("!Ref {}", secret.parameter)),
                "{name}: {}_SSM must name {}, not {value}",
                secret.var,
                secret.parameter
            );
        }
        // ... and its role may read exactly those parameters.
        let readable = ssm_parameters(&own);
        let parameters: BTreeSet<String> =
            f.secrets.iter().map(|s| s.parameter.to_owned()).collect();
        assert_eq!(readable, parameters, "{name}: ssm:GetParameter resources");

        // Settings: every other variable is a key of this binary, and no secret in clear.
        for (var, _) in env.iter().filter(|(v, _)| !v.ends_with("_SSM")) {
            let key = KEYS
                .iter()
                .find(|k| k.env == *var)
                .unwrap_or_else(|| panic!("{name}: {var} is no setting (settings/src/keys.rs)"));
            assert!(
                key.applies_to(f.bin),
                "{name}: {var} ({}) does not apply to it",
                key.path
            );
            assert!(
                key.kind != Kind::Secret,
                "{name}: {var} is a secret; give it as {var}_SSM"
            );
        }

        // Permissions: exactly the operations the code makes.
        let expected: BTreeSet<String> = f.actions.iter().map(|a| (*a).to_owned()).collect();
        assert_eq!(actions(&own), expected, "{name}: IAM actions");
    }
}

#[test]
fn the_keeper_token_is_read_only_when_a_keeper_is_configured() {
    let own = block("  ExecutorFunction:");
    let (_, value) = variables(&own)
        .into_iter()
        .find(|(var, _)| var.strip_suffix("_SSM") == Some(KEEPER_TOKEN.var))
        .expect("the executor's Keeper token reference");
    // An empty reference is no reference (crewship_lambda::env ignores empty variables).
    assert!(
        value.starts_with("!If [UseKeeper,") && value.ends_with(", \"\"]"),
        "{value}"
    );
}

#[test]
fn no_secret_reference_is_given_to_every_function() {
    // The bug this guards against: Globals handed all three functions every secret, and the
    // executor and WebSocket functions died at cold start reading what their roles forbid.
    let shared: BTreeSet<&str> = variables(&block("  Function:"))
        .into_iter()
        .filter_map(|(var, _)| var.strip_suffix("_SSM"))
        .collect();
    for f in FUNCTIONS {
        let secrets: BTreeSet<&str> = f.secrets.iter().map(|s| s.var).collect();
        assert!(
            shared.is_subset(&secrets),
            "Globals give {} {shared:?}",
            f.bin.name()
        );
    }
}

#[test]
fn every_alarm_notifies_the_topic_and_both_apis_keep_access_logs() {
    let alarms = TEMPLATE.matches("Type: AWS::CloudWatch::Alarm").count();
    assert!(
        alarms >= 9,
        "two DLQs, oldest message, four functions' errors, throttles, API 5xx"
    );
    assert_eq!(
        TEMPLATE
            .matches("AlarmActions: !If [Notify, [!Ref AlarmTopicArn], !Ref AWS::NoValue]")
            .count(),
        alarms,
        "an alarm notifies nobody"
    );
    for api in ["  HttpApi:", "  WsStage:"] {
        assert!(
            block(api).iter().any(|l| l.trim() == "AccessLogSettings:"),
            "{api} has no access log"
        );
    }
    // Reserved concurrency is no cap for an SQS event source; MaximumConcurrency is.
    assert!(
        block("  ExecutorFunction:")
            .iter()
            .any(|l| l.trim() == "MaximumConcurrency: !Ref ExecutorMaxConcurrency")
    );
}
