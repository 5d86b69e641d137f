//! The layering, the same for every binary: embedded defaults (with the binary's own few), then
//! the TOML file, then `CREWSHIP_*` environment variables, then flags. Each layer is checked key
//! by key as it is laid: an unknown key, a value of the wrong type or a name that is not one of
//! the choices stops the start with an error naming the key and where its value came from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::keys::{self, Bin, Key, Kind};
use crate::model::Settings;

const DEFAULTS: &str = include_str!("defaults.toml");

/// A key's value is wrong, missing, or the key does not exist.
#[derive(Debug, thiserror::Error)]
#[error("configuration key `{key}`{}: {message}", origin.as_ref().map(|o| format!(" (from {o})")).unwrap_or_default())]
pub struct SettingsError {
    pub key: String,
    /// Where the offending value came from: a file, `CREWSHIP_…`, `--flag`.
    pub origin: Option<String>,
    pub message: String,
}

impl SettingsError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            origin: None,
            message: message.into(),
        }
    }
}

/// A value from the environment or a flag, before it is typed.
#[derive(Debug, Clone)]
pub struct Override {
    pub key: &'static Key,
    pub value: String,
    /// `CREWSHIP_…` or `--flag`.
    pub origin: String,
}

/// The file layer: a path, or a text a binary embeds (local-runner's demo configuration).
#[derive(Debug, Clone)]
pub enum File<'a> {
    None,
    Path(&'a Path),
    Embedded { name: &'static str, text: &'a str },
}

/// The overrides of the environment variables that apply to `bin`, read through `var` (the
/// process environment, or the Lambda functions' resolved one). Empty values count as unset.
pub fn env_overrides(bin: Bin, var: impl Fn(&str) -> Option<String>) -> Vec<Override> {
    keys::KEYS
        .iter()
        .filter(|k| !k.env.is_empty() && k.applies_to(bin))
        .filter_map(|k| {
            let value = var(k.env).filter(|v| !v.is_empty())?;
            Some(Override {
                key: k,
                value,
                origin: k.env.to_owned(),
            })
        })
        .collect()
}

/// Lays the layers and checks what `bin` needs.
pub fn load(bin: Bin, file: File<'_>, overrides: &[Override]) -> Result<Settings, SettingsError> {
    let mut layers = Layers::default();
    let defaults: toml::Table = toml::from_str(DEFAULTS).expect("the embedded defaults parse");
    layers.lay(&defaults, "the embedded defaults", None)?;
    layers.lay(&bin_defaults(bin), "the binary's defaults", None)?;
    match file {
        File::None => {}
        File::Path(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| SettingsError {
                key: "config".into(),
                origin: Some(path.display().to_string()),
                message: format!("cannot read the file: {e}"),
            })?;
            layers.lay_file(&text, &path.display().to_string(), bin)?;
        }
        File::Embedded { name, text } => layers.lay_file(text, name, bin)?,
    }
    for o in overrides {
        layers.set(o)?;
    }
    let settings: Settings = serde_path_to_error::deserialize(toml::Value::Table(
        layers.table.clone(),
    ))
    .map_err(|e| {
        let key = e.path().to_string();
        SettingsError {
            origin: layers.origin_of(&key),
            message: e.into_inner().message().to_owned(),
            key,
        }
    })?;
    settings.check(bin).map_err(|mut e| {
        e.origin = layers.origin_of(&e.key);
        e
    })?;
    Ok(settings)
}

/// The few defaults that differ by binary.
fn bin_defaults(bin: Bin) -> toml::Table {
    let mut t = toml::Table::new();
    let mut section = |name: &str, key: &str, value: toml::Value| {
        t.entry(name)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("a section")
            .insert(key.into(), value);
    };
    let work_dir = match bin {
        Bin::LocalRunner => Some(std::env::temp_dir().join("crewship-local-runner")),
        Bin::Executor => Some(PathBuf::from("./crewship-work")),
        Bin::ExecutorLambda => Some(PathBuf::from("/tmp/crews")),
        _ => None,
    };
    if let Some(dir) = work_dir {
        section(
            "executor",
            "work_dir",
            toml::Value::String(dir.display().to_string()),
        );
    }
    if bin == Bin::Server {
        section(
            "server",
            "container_runtime",
            toml::Value::String("executor via queue".into()),
        );
    }
    if bin.is_lambda() {
        // CloudWatch Logs Insights reads JSON lines.
        section("log", "format", toml::Value::String("json".into()));
    }
    t
}

#[derive(Default)]
struct Layers {
    table: toml::Table,
    /// Where each key's current value came from, for error messages.
    origins: HashMap<String, String>,
}

impl Layers {
    fn origin_of(&self, path: &str) -> Option<String> {
        // `agents[2].timeout_secs` came from wherever `agents` did.
        let mut p = path;
        loop {
            if let Some(o) = self.origins.get(p) {
                return Some(o.clone());
            }
            p = &p[..p.rfind(['.', '['])?];
        }
    }

    fn lay_file(&mut self, text: &str, name: &str, bin: Bin) -> Result<(), SettingsError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| SettingsError {
            key: "config".into(),
            origin: Some(name.to_owned()),
            message: format!("not valid TOML: {e}"),
        })?;
        self.lay(&table, name, Some(bin))
    }

    /// Lays a table of sections and top-level arrays. With `bin`, a file's: every key must
    /// exist and apply to `bin`.
    fn lay(
        &mut self,
        table: &toml::Table,
        origin: &str,
        bin: Option<Bin>,
    ) -> Result<(), SettingsError> {
        for (name, value) in table {
            let is_section = keys::KEYS
                .iter()
                .any(|k| k.path.split_once('.').is_some_and(|(s, _)| s == name));
            if !is_section {
                let key = Self::known(name, bin, origin)?;
                if key.kind == Kind::FileOnly && !value.is_array() {
                    return Err(SettingsError {
                        key: name.clone(),
                        origin: Some(origin.to_owned()),
                        message: format!("must be an array of tables ([[{name}]])"),
                    });
                }
                self.table.insert(name.clone(), value.clone());
                self.origins.insert(name.clone(), origin.to_owned());
                continue;
            }
            let Some(entries) = value.as_table() else {
                return Err(SettingsError {
                    key: name.clone(),
                    origin: Some(origin.to_owned()),
                    message: format!("must be a section ([{name}])"),
                });
            };
            let section = self
                .table
                .entry(name.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .expect("sections are tables");
            for (k, v) in entries {
                let path = format!("{name}.{k}");
                let key = Self::known(&path, bin, origin)?;
                check_type(key, v).map_err(|message| SettingsError {
                    key: path.clone(),
                    origin: Some(origin.to_owned()),
                    message,
                })?;
                section.insert(k.clone(), v.clone());
                self.origins.insert(path, origin.to_owned());
            }
        }
        Ok(())
    }

    fn known(path: &str, bin: Option<Bin>, origin: &str) -> Result<&'static Key, SettingsError> {
        let err = |message: String| SettingsError {
            key: path.to_owned(),
            origin: Some(origin.to_owned()),
            message,
        };
        let key = keys::find(path)
            .ok_or_else(|| err("unknown key (docs/configuration.md lists them all)".into()))?;
        match bin {
            Some(bin) if !key.applies_to(bin) => Err(err(format!(
                "does not apply to {} (docs/configuration.md)",
                bin.name()
            ))),
            _ => Ok(key),
        }
    }

    fn set(&mut self, o: &Override) -> Result<(), SettingsError> {
        let err = |message: String| SettingsError {
            key: o.key.path.to_owned(),
            origin: Some(o.origin.clone()),
            message,
        };
        let value = match o.key.kind {
            Kind::Text | Kind::Secret => toml::Value::String(o.value.clone()),
            Kind::Int => o
                .value
                .trim()
                .parse::<u64>()
                .ok()
                .and_then(|n| i64::try_from(n).ok())
                .map(toml::Value::Integer)
                .ok_or_else(|| err(format!("`{}` is not a whole number", o.value)))?,
            Kind::Bool => match o.value.trim() {
                "true" => toml::Value::Boolean(true),
                "false" => toml::Value::Boolean(false),
                other => return Err(err(format!("`{other}` is not true or false"))),
            },
            Kind::FileOnly => return Err(err("can be set in the file only".into())),
        };
        let (section, name) = o.key.path.split_once('.').expect("sectioned key");
        self.table
            .entry(section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("sections are tables")
            .insert(name.into(), value);
        self.origins.insert(o.key.path.into(), o.origin.clone());
        Ok(())
    }
}

/// A file's value has the type its key takes (choices and formats are the structure's check).
fn check_type(key: &Key, v: &toml::Value) -> Result<(), String> {
    let ok = match key.kind {
        Kind::Text | Kind::Secret => v.is_str(),
        Kind::Int => v.as_integer().is_some_and(|n| n >= 0),
        Kind::Bool => v.is_bool(),
        Kind::FileOnly => v.is_array(),
    };
    if ok {
        Ok(())
    } else {
        let expected = match key.kind {
            Kind::Text | Kind::Secret => "a string",
            Kind::Int => "a whole number ≥ 0",
            Kind::Bool => "true or false",
            Kind::FileOnly => "an array of tables",
        };
        // The type, never the value: it may be a secret.
        Err(format!("expected {expected}, found {}", v.type_str()))
    }
}
