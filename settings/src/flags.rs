//! The flags of a binary, made from `keys::KEYS`: one `--kebab-case` flag per setting that
//! applies to the binary, each also read from its `CREWSHIP_*` variable (clap shows both in
//! `--help`), plus `--config` / `CREWSHIP_CONFIG`. Values stay text here; the loader types them.

use std::marker::PhantomData;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};

use crate::keys::{Bin, KEYS, Kind};
use crate::load::{self, File, Override, SettingsError};
use crate::model::Settings;

/// Names the binary a [`Flags`] is for.
pub trait ForBin {
    const BIN: Bin;
}

/// `#[command(flatten)]` this into a binary's clap arguments.
pub struct Flags<B> {
    pub config: Option<PathBuf>,
    overrides: Vec<Override>,
    bin: PhantomData<B>,
}

impl<B> std::fmt::Debug for Flags<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Overrides may hold secrets: only their keys.
        let keys: Vec<&str> = self.overrides.iter().map(|o| o.key.path).collect();
        f.debug_struct("Flags")
            .field("config", &self.config)
            .field("overrides", &keys)
            .finish()
    }
}

impl<B> Clone for Flags<B> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            overrides: self.overrides.clone(),
            bin: PhantomData,
        }
    }
}

impl<B: ForBin> Flags<B> {
    /// Loads the settings: `file` when no `--config` / `CREWSHIP_CONFIG` is given.
    pub fn load(&self, fallback: File<'_>) -> Result<Settings, SettingsError> {
        let file = match &self.config {
            Some(path) => File::Path(path),
            None => fallback,
        };
        load::load(B::BIN, file, &self.overrides)
    }
}

/// Settings (and `config`, `log.format`) that every subcommand of a binary shares.
fn is_global(path: &str) -> bool {
    path == "log.format"
}

impl<B: ForBin> Args for Flags<B> {
    fn augment_args(cmd: Command) -> Command {
        let mut cmd = cmd.arg(
            Arg::new("config")
                .long("config")
                .env("CREWSHIP_CONFIG")
                .global(true)
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("TOML settings file (docs/configuration.md)."),
        );
        for key in KEYS.iter().filter(|k| k.applies_to(B::BIN)) {
            let Some(flag) = key.flag() else { continue };
            cmd = cmd.arg(
                Arg::new(key.path)
                    .long(flag)
                    .env(key.env)
                    .hide_env_values(key.kind == Kind::Secret)
                    .global(is_global(key.path))
                    .value_name(value_name(key.kind))
                    .help(key.help),
            );
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

fn value_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Int => "N",
        Kind::Bool => "BOOL",
        _ => "VALUE",
    }
}

impl<B: ForBin> FromArgMatches for Flags<B> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut overrides = Vec::new();
        for key in KEYS.iter().filter(|k| k.applies_to(B::BIN)) {
            let Some(flag) = key.flag() else { continue };
            let Ok(Some(value)) = m.try_get_one::<String>(key.path) else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            let origin = match m.value_source(key.path) {
                Some(ValueSource::EnvVariable) => key.env.to_owned(),
                _ => format!("--{flag}"),
            };
            overrides.push(Override {
                key,
                value: value.clone(),
                origin,
            });
        }
        Ok(Self {
            config: m.get_one::<PathBuf>("config").cloned(),
            overrides,
            bin: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}
