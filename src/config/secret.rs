//! Secrets in config files: inline, `env:VAR_NAME` or `file:/path`, always held in `secrecy`
//! types once loaded.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use crate::error::{Error, ErrorKind};

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretOrigin {
    /// Written in the config file itself.
    Inline,
    /// Read from this environment variable when the config is loaded.
    Env(String),
    /// Read from this file when the config is loaded (trailing newline removed), for mounted
    /// secrets.
    File(String),
}

/// A credential from a config file.
///
/// `Debug` shows only where it comes from, never the value; the value is reachable only through
/// [`expose`](Secret::expose), so every place that reads it is easy to find.
///
/// ```
/// use dropship::config::Secret;
/// let s = Secret::inline("hunter2");
/// assert_eq!(s.expose().unwrap(), "hunter2");
/// assert!(!format!("{s:?}").contains("hunter2"));
/// ```
#[derive(Clone)]
pub struct Secret {
    origin: SecretOrigin,
    value: Option<SecretString>,
}

impl Secret {
    /// A secret given directly.
    pub fn inline(value: impl Into<String>) -> Self {
        Secret {
            origin: SecretOrigin::Inline,
            value: Some(SecretString::from(value.into())),
        }
    }

    /// Reads a config value: `env:NAME`, `file:PATH` or the secret itself. `env:`/`file:` values
    /// stay unresolved until [`resolve`](Secret::resolve).
    pub fn from_config(text: &str) -> Self {
        if let Some(name) = text.strip_prefix("env:") {
            Secret {
                origin: SecretOrigin::Env(name.trim().to_string()),
                value: None,
            }
        } else if let Some(path) = text.strip_prefix("file:") {
            Secret {
                origin: SecretOrigin::File(path.trim().to_string()),
                value: None,
            }
        } else {
            Secret::inline(text)
        }
    }

    /// Where it comes from.
    pub fn origin(&self) -> &SecretOrigin {
        &self.origin
    }

    /// Whether it has a value yet.
    pub fn is_resolved(&self) -> bool {
        self.value.is_some()
    }

    /// Fetches an `env:` or `file:` secret. `env` looks a variable up (the process environment
    /// in [`ConfigFile::load`](crate::config::ConfigFile::load); a map in tests). The error
    /// message names the variable or file, never a value.
    pub fn resolve(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        if self.value.is_some() {
            return Ok(());
        }
        let value = match &self.origin {
            SecretOrigin::Inline => return Ok(()),
            SecretOrigin::Env(name) => {
                if name.is_empty() {
                    return Err("env: needs a variable name, as in env:SUPPLIER_TOKEN".into());
                }
                env(name).ok_or_else(|| format!("environment variable {name} is not set"))?
            }
            SecretOrigin::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read secret file {path}: {}", e.kind()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        };
        if value.is_empty() {
            return Err(format!("{} is empty", self.describe()));
        }
        self.value = Some(SecretString::from(value));
        Ok(())
    }

    /// The value. An `env:`/`file:` secret that was never resolved is a
    /// [`Config`](ErrorKind::Config) error rather than an empty string.
    pub fn expose(&self) -> Result<&str, Error> {
        match &self.value {
            Some(v) => Ok(v.expose_secret()),
            None => Err(Error::new(
                ErrorKind::Config,
                format!(
                    "secret from {} was not resolved; load configuration with ConfigFile::load",
                    self.describe()
                ),
            )),
        }
    }

    fn describe(&self) -> String {
        match &self.origin {
            SecretOrigin::Inline => "inline value".into(),
            SecretOrigin::Env(n) => format!("env:{n}"),
            SecretOrigin::File(p) => format!("file:{p}"),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({}, [redacted])", self.describe())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(Secret::from_config(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_and_file_sources_resolve() {
        let mut s = Secret::from_config("env:TOKEN");
        assert!(s.expose().is_err());
        let env = |name: &str| (name == "TOKEN").then(|| "t0k3n".to_string());
        s.resolve(&env).unwrap();
        assert_eq!(s.expose().unwrap(), "t0k3n");

        let mut missing = Secret::from_config("env:NOPE");
        let err = missing.resolve(&env).unwrap_err();
        assert_eq!(err, "environment variable NOPE is not set");

        let dir = std::env::temp_dir().join(format!("dropship-secret-{}", std::process::id()));
        std::fs::write(&dir, "from-file\n").unwrap();
        let mut f = Secret::from_config(&format!("file:{}", dir.display()));
        f.resolve(&env).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(f.expose().unwrap(), "from-file");
    }

    #[test]
    fn debug_never_shows_the_value() {
        let mut s = Secret::from_config("env:TOKEN");
        s.resolve(&|_| Some("zzsecretzz".into())).unwrap();
        let dbg = format!("{s:?} {:?}", Secret::inline("zzsecretzz"));
        assert!(!dbg.contains("zzsecretzz"), "{dbg}");
        assert!(dbg.contains("env:TOKEN"));
    }
}
