//! A monitoring API token: a bearer secret bound to the one workspace whose runs it may read.

use crate::ids::WorkspaceId;
use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub token: Secret,
    pub workspace_id: WorkspaceId,
}

/// `workspace=token` pairs separated by commas (`CREWSHIP_API_TOKENS`); blanks around either
/// side are trimmed and empty pairs skipped.
pub fn parse_pairs(text: &str) -> Result<Vec<ApiToken>, &'static str> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (workspace, token) = pair
                .split_once('=')
                .ok_or("expected workspace=token pairs")?;
            let token = token.trim();
            if token.is_empty() {
                return Err("a token is empty");
            }
            Ok(ApiToken {
                token: Secret::new(token),
                workspace_id: workspace
                    .trim()
                    .parse()
                    .map_err(|_| "a workspace id is not valid")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse_and_malformed_ones_are_refused() {
        let tokens = parse_pairs(" ws_a=t1, ws-b=t2 ").unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[1].workspace_id.as_str(), "ws-b");
        assert_eq!(tokens[1].token.expose(), "t2");
        assert!(parse_pairs("no-equals-sign").is_err());
        assert!(parse_pairs("bad workspace=t").is_err());
        assert!(parse_pairs("ws=").is_err());
        assert!(parse_pairs("").unwrap().is_empty());
    }
}
