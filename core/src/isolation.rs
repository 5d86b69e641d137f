//! How confined an agent asks to be (`docs/runtimes.md`): the image its crew's container is made
//! from, the network it may reach and the resources it may use. Runtimes that cannot honour a
//! field say so in their docs; none of them widens what is asked.

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
    /// Memory limit in MiB; `None`: the runtime's configured default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// CPUs the agent may use (`1.5`); `None`: the runtime's configured default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cpus>,
    /// Most processes (and threads) at once; `None`: the runtime's configured default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<u32>,
}

/// The limits a runtime applies: the agent's own, each one it left out taken from the runtime's
/// configured defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_mb: u32,
    pub cpus: Cpus,
    pub pids_limit: u32,
}

/// The documented defaults (`docs/runtimes.md`): one CPU, 1 GiB, 256 processes.
impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mb: 1024,
            cpus: Cpus::from_millis(1000),
            pids_limit: 256,
        }
    }
}

/// Allowed ranges, the same for an agent's own value and a runtime's default.
pub const MEMORY_MB: std::ops::RangeInclusive<u32> = 16..=1_048_576;
pub const MILLICPUS: std::ops::RangeInclusive<u32> = 10..=1_024_000;
pub const PIDS_LIMIT: std::ops::RangeInclusive<u32> = 8..=1_000_000;

/// A number of CPUs, kept in thousandths so that agents stay `Eq` (written `1.5` in files and
/// JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cpus(u32);

impl Cpus {
    pub const fn from_millis(millis: u32) -> Self {
        Self(millis)
    }

    pub fn millis(self) -> u32 {
        self.0
    }

    /// The Docker Engine's unit (`NanoCpus`).
    pub fn nanos(self) -> i64 {
        i64::from(self.0) * 1_000_000
    }
}

impl Serialize for Cpus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(f64::from(self.0) / 1000.0)
    }
}

impl<'de> Deserialize<'de> for Cpus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let cpus = f64::deserialize(d)?;
        let millis = (cpus * 1000.0).round();
        // Out-of-range values are refused by `validate`, with the field named; here only what
        // cannot be a number of thousandths at all.
        if !millis.is_finite() || !(0.0..=f64::from(u32::MAX)).contains(&millis) {
            return Err(serde::de::Error::custom("cpus must be a positive number"));
        }
        Ok(Self(millis as u32))
    }
}

impl Limits {
    /// The first limit outside its allowed range: its name (`memory_mb`, `cpus`, `pids_limit`)
    /// and what it must be. Settings name their own key; agents `isolation.<name>`.
    pub fn out_of_range(&self) -> Option<(&'static str, String)> {
        let in_range = |value: u32, range: &std::ops::RangeInclusive<u32>| range.contains(&value);
        if !in_range(self.memory_mb, &MEMORY_MB) {
            let (lo, hi) = (MEMORY_MB.start(), MEMORY_MB.end());
            return Some(("memory_mb", format!("must be {lo} to {hi} MiB")));
        }
        if !in_range(self.cpus.millis(), &MILLICPUS) {
            let (lo, hi) = (MILLICPUS.start(), MILLICPUS.end());
            let cpus = |m: &u32| f64::from(*m) / 1000.0;
            return Some(("cpus", format!("must be {} to {} CPUs", cpus(lo), cpus(hi))));
        }
        if !in_range(self.pids_limit, &PIDS_LIMIT) {
            let (lo, hi) = (PIDS_LIMIT.start(), PIDS_LIMIT.end());
            return Some(("pids_limit", format!("must be {lo} to {hi}")));
        }
        None
    }
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
        // Each limit the agent sets is checked; the defaults (in range) fill the others.
        if let Some((name, message)) = self.limits(&Limits::default()).out_of_range() {
            let field = match name {
                "memory_mb" => "isolation.memory_mb",
                "cpus" => "isolation.cpus",
                _ => "isolation.pids_limit",
            };
            return Err(invalid(field, message));
        }
        Ok(self)
    }

    /// The limits to apply: the agent's, else `defaults`.
    pub fn limits(&self, defaults: &Limits) -> Limits {
        Limits {
            memory_mb: self.memory_mb.unwrap_or(defaults.memory_mb),
            cpus: self.cpus.unwrap_or(defaults.cpus),
            pids_limit: self.pids_limit.unwrap_or(defaults.pids_limit),
        }
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

    #[test]
    fn limits_fill_from_the_defaults_and_cpus_keep_thousandths() {
        let i = parse(json!({"memory_mb": 512, "cpus": 1.5})).unwrap();
        let limits = i.limits(&Limits::default());
        assert_eq!(limits.memory_mb, 512);
        assert_eq!(limits.cpus, Cpus::from_millis(1500));
        assert_eq!(limits.cpus.nanos(), 1_500_000_000);
        assert_eq!(limits.pids_limit, 256);
        assert_eq!(
            serde_json::to_value(&i).unwrap(),
            json!({"memory_mb": 512, "cpus": 1.5})
        );
    }

    #[test]
    fn limits_out_of_range_are_refused_naming_the_field() {
        for (bad, field) in [
            (json!({"memory_mb": 1}), "isolation.memory_mb"),
            (json!({"cpus": 0.001}), "isolation.cpus"),
            (json!({"cpus": 5000}), "isolation.cpus"),
            (json!({"pids_limit": 0}), "isolation.pids_limit"),
        ] {
            let e = parse(bad.clone()).unwrap_err();
            assert_eq!(e.field, field, "{bad}: {e}");
        }
        assert!(serde_json::from_value::<Isolation>(json!({"cpus": -1})).is_err());
    }
}
