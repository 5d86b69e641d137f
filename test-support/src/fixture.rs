//! The shared fixture: one webhook secret and two API tokens, for workspaces `ws` and `other`.

/// A webhook secret of the length the service asks for.
pub const SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
/// The API token of workspace `ws`.
pub const TOKEN: &str = "token-ws";
/// The API token of workspace `other`.
pub const OTHER_TOKEN: &str = "token-other";
