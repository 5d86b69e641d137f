//! What each Lambda function may reach: the secrets it resolves from SSM at cold start and the
//! AWS operations its code makes. This table is the contract `template.yaml` is held to (the
//! drift test in `lambda/tests/it/template_drift.rs`): a function's `*_SSM` variables are
//! exactly its secrets, its `ssm:GetParameter` statement names exactly their parameters, and
//! its policies allow exactly its operations. [`crate::env::Env::load`] resolves only the
//! secrets listed here for the function, so a reference meant for another function can never
//! stop it at cold start.

use crewship_settings::Bin;

/// One secret: the variable the settings read, and the template parameter naming its SSM
/// SecureString (the variable `<VAR>_SSM` carries the parameter's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretRef {
    pub var: &'static str,
    pub parameter: &'static str,
}

pub const INTERNAL_TOKEN: SecretRef = SecretRef {
    var: "CREWSHIP_INTERNAL_TOKEN",
    parameter: "InternalTokenParameter",
};
pub const SECRETS_KEY: SecretRef = SecretRef {
    var: "CREWSHIP_SECRETS_KEY",
    parameter: "EncryptionKeyParameter",
};
pub const API_TOKENS: SecretRef = SecretRef {
    var: "CREWSHIP_API_TOKENS",
    parameter: "ApiTokensParameter",
};
pub const KEEPER_TOKEN: SecretRef = SecretRef {
    var: "CREWSHIP_KEEPER_TOKEN",
    parameter: "KeeperTokenParameter",
};

/// A function of the template.
#[derive(Debug)]
pub struct Access {
    pub bin: Bin,
    /// Its resource in template.yaml.
    pub resource: &'static str,
    pub secrets: &'static [SecretRef],
    /// Every IAM action its role needs: the calls its code makes (and, for the executor, the
    /// SQS event source's own).
    pub actions: &'static [&'static str],
}

pub const FUNCTIONS: &[Access] = &[
    Access {
        bin: Bin::HandlerLambda,
        resource: "HandlerFunction",
        secrets: &[INTERNAL_TOKEN, SECRETS_KEY, API_TOKENS],
        actions: &[
            // Runs: create, read, transitions (cancel), listings and counts.
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            // Dedup reservations are a transaction of conditional puts; release deletes.
            "dynamodb:DeleteItem",
            "sqs:SendMessage",
            "s3:PutObject",
            "s3:GetObject",
            "ssm:GetParameter",
        ],
    },
    Access {
        bin: Bin::ExecutorLambda,
        resource: "ExecutorFunction",
        secrets: &[SECRETS_KEY, KEEPER_TOKEN],
        actions: &[
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            // Chats are created once.
            "dynamodb:PutItem",
            // Log lines.
            "dynamodb:BatchWriteItem",
            // Connections that answer GoneException are forgotten.
            "dynamodb:DeleteItem",
            // The event source's calls, then deferral, re-sending and the sweep's requeue.
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ChangeMessageVisibility",
            "sqs:SendMessage",
            "s3:GetObject",
            "execute-api:ManageConnections",
            "ssm:GetParameter",
        ],
    },
    Access {
        bin: Bin::WsLambda,
        resource: "WsFunction",
        secrets: &[API_TOKENS, SECRETS_KEY],
        actions: &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "s3:GetObject",
            "execute-api:ManageConnections",
            "ssm:GetParameter",
        ],
    },
    Access {
        bin: Bin::CallbackLambda,
        resource: "CallbackFunction",
        secrets: &[SECRETS_KEY],
        actions: &[
            // Outbox reads, conditional claims and records, the sweep's index query; the
            // agent's signing key.
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            // The event source's calls, then hiding a message until its retry is due.
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ChangeMessageVisibility",
            "ssm:GetParameter",
        ],
    },
];

/// The function `bin` is.
pub fn of(bin: Bin) -> Option<&'static Access> {
    FUNCTIONS.iter().find(|f| f.bin == bin)
}
