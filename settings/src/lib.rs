//! The one settings model of every binary (local-runner, crewship-server, crewship-executor,
//! crewship-provision and the three Lambda functions): one typed structure, laid the same way
//! everywhere — embedded defaults, then a TOML file, then `CREWSHIP_*` environment variables,
//! then flags — each binary reading the sections that apply to it. An unknown key, a malformed
//! value or an unknown name (a runtime, a backend) stops the start with the key named.
//! `docs/configuration.md` is the reference; a test keeps it and [`keys::KEYS`] in step with the
//! structure.
//!
//! - [`keys`]: every setting's path, variable, flag and binaries — the one table.
//! - [`model`]: the typed structure ([`Settings`]) and its embedded defaults (`defaults.toml`).
//! - [`load`]: the layering and [`SettingsError`].
//! - [`resolve`]: checks across keys and the values binaries take (runtime, tokens, agents).
//! - [`flags`]: the clap flags made from the table, for the binaries that take flags.

pub mod flags;
pub mod keys;
pub mod load;
pub mod model;
pub mod resolve;

pub use flags::{Flags, ForBin};
pub use keys::Bin;
pub use load::{File, SettingsError, env_overrides, load};
pub use model::Settings;
pub use resolve::{DockerOptions, Runtime, Token};

/// The process environment's overrides for `bin` (the Lambda functions pass their own, with
/// SSM references resolved).
pub fn load_from_env(bin: Bin, file: File<'_>) -> Result<Settings, SettingsError> {
    load(
        bin,
        file,
        &env_overrides(bin, |name| std::env::var(name).ok()),
    )
}

#[cfg(test)]
mod tests;
