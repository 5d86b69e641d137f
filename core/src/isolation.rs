//! How confined an agent asks to be (`docs/runtimes.md`): the image its crew's container is made
//! from and the network it may reach. Runtimes that cannot honour a field say so in their docs;
//! none of them widens what is asked.

use serde::{Deserialize, Serialize};

use crate::agent_spec::InvalidAgent;

/// Longest image reference or network name accepted.
pub const MAX_NAME_LEN: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Isolation {
    /// The container image (`docker` runtime); `None`: the runtime's configured default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Network::is_none")]
    pub network: Network,
}

/// What the agent may reach over the network. `None` is the default: a webhook payload is
/// untrusted text, and an agent that can talk to the network can send its credentials anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Network {
    #[default]
    None,
    /// The engine's default bridge (the host's network for the `sandbox` runtime).
    Bridge,
    /// A network the operator created (`docker network create`).
    Named(String),
}

impl Network {
    pub fn is_none(&self) -> bool {
        *self == Network::None
    }

    pub fn as_str(&self) -> &str {
        match self {
            Network::None => "none",
            Network::Bridge => "bridge",
            Network::Named(name) => name,
        }
    }
}

impl From<String> for Network {
    fn from(s: String) -> Self {
        match s.as_str() {
            "none" => Network::None,
            "bridge" => Network::Bridge,
            _ => Network::Named(s),
        }
    }
}

impl Serialize for Network {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Network::from)
    }
}

impl Isolation {
    /// The checks `AgentSpec::validate` applies: names the engine could misread are refused here
    /// rather than at the first run.
    pub fn validate(self) -> Result<Self, InvalidAgent> {
        if let Some(image) = &self.image
            && !plain_name(image, |b| b"/:@._-".contains(&b))
        {
            return Err(invalid(
                "isolation.image",
                format!("must be 1 to {MAX_NAME_LEN} bytes of [A-Za-z0-9/:@._-]"),
            ));
        }
        if let Network::Named(name) = &self.network
            && !plain_name(name, |b| b"._-".contains(&b))
        {
            return Err(invalid(
                "isolation.network",
                format!(
                    "\"none\", \"bridge\" or a network name of 1 to {MAX_NAME_LEN} bytes of [A-Za-z0-9._-]"
                ),
            ));
        }
        Ok(self)
    }
}

fn plain_name(s: &str, extra: impl Fn(u8) -> bool) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && !s.starts_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || extra(b))
}

fn invalid(field: &'static str, message: String) -> InvalidAgent {
    InvalidAgent { field, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<Isolation, InvalidAgent> {
        serde_json::from_value::<Isolation>(v).unwrap().validate()
    }

    #[test]
    fn the_default_is_no_network_and_the_runtimes_image() {
        let i = parse(json!({})).unwrap();
        assert_eq!(i, Isolation::default());
        assert_eq!(i.network, Network::None);
        assert_eq!(serde_json::to_value(&i).unwrap(), json!({}));
    }

    #[test]
    fn networks_round_trip_by_name() {
        for (text, network) in [
            ("none", Network::None),
            ("bridge", Network::Bridge),
            ("agents-net", Network::Named("agents-net".into())),
        ] {
            let i = parse(json!({"network": text})).unwrap();
            assert_eq!(i.network, network);
            assert_eq!(i.network.as_str(), text);
        }
    }

    #[test]
    fn names_an_engine_could_misread_are_refused() {
        for bad in [
            json!({"image": ""}),
            json!({"image": "--privileged"}),
            json!({"image": "a b"}),
            json!({"network": "host;rm"}),
            json!({"network": "-x"}),
        ] {
            let e = parse(bad.clone()).unwrap_err();
            assert!(e.field.starts_with("isolation."), "{bad}: {e}");
        }
        assert!(parse(json!({"image": "crewship/agent:1.2@sha256:ab"})).is_ok());
    }
}
