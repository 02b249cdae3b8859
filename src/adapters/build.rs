//! One entry point from configuration to suppliers: the adapter is chosen by `protocol`.

use std::sync::Arc;

use crate::config::{ConfigFile, Protocol, SupplierConfig};
use crate::dropshipper::Dropshipper;
use crate::error::{Error, Result};

use super::graphql::GraphqlSupplier;
use super::rest::RestSupplier;
use super::soap::SoapSupplier;

/// Builds the supplier a configuration describes, with the adapter its `protocol` names.
///
/// ```no_run
/// # fn main() -> dropship::Result<()> {
/// let file = dropship::config::ConfigFile::load("suppliers.json")?;
/// let suppliers = dropship::adapters::build_all(&file)?;
/// # Ok(()) }
/// ```
///
/// Adapter-level `env:` secrets (SOAP session logins) are the values read when the config was
/// loaded, through the loader's environment lookup, like `auth` secrets.
pub fn build(config: &SupplierConfig) -> Result<Arc<dyn Dropshipper>> {
    build_one(config, None)
}

/// Looks up `env:` secrets that adapters resolve themselves (SOAP session logins).
pub type SharedEnv = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Like [`build`], resolving adapter-level `env:` secrets through `env` now instead of taking
/// the values read at load.
pub fn build_with_env(config: &SupplierConfig, env: SharedEnv) -> Result<Arc<dyn Dropshipper>> {
    build_one(config, Some(env))
}

fn build_one(config: &SupplierConfig, env: Option<SharedEnv>) -> Result<Arc<dyn Dropshipper>> {
    Ok(match config.protocol {
        Protocol::Rest => Arc::new(RestSupplier::new(config)?),
        Protocol::Soap => {
            let builder = SoapSupplier::builder(config);
            let builder = match env {
                Some(env) => builder.env(move |name| env(name)),
                None => builder,
            };
            Arc::new(builder.build()?)
        }
        Protocol::Graphql => Arc::new(GraphqlSupplier::new(config)?),
    })
}

/// Builds every supplier of a config file, reporting every supplier's problems at once, with
/// paths from the file's root (`suppliers[1].operations.stock.items: ...`).
pub fn build_all(file: &ConfigFile) -> Result<Vec<Arc<dyn Dropshipper>>> {
    build_all_from(file, None)
}

/// Like [`build_all`], resolving adapter-level `env:` secrets through `env`.
pub fn build_all_with_env(file: &ConfigFile, env: SharedEnv) -> Result<Vec<Arc<dyn Dropshipper>>> {
    build_all_from(file, Some(env))
}

fn build_all_from(file: &ConfigFile, env: Option<SharedEnv>) -> Result<Vec<Arc<dyn Dropshipper>>> {
    let mut built = Vec::with_capacity(file.suppliers.len());
    let mut problems = Vec::new();
    let mut first_other: Option<Error> = None;
    for (i, config) in file.suppliers.iter().enumerate() {
        match build_one(config, env.clone()) {
            Ok(s) => built.push(s),
            Err(e) if !e.problems().is_empty() => {
                problems.extend(
                    e.within(&format!("suppliers[{i}]"))
                        .problems()
                        .iter()
                        .cloned(),
                );
            }
            Err(e) => {
                first_other.get_or_insert(e);
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::config(problems));
    }
    match first_other {
        Some(e) => Err(e),
        None => Ok(built),
    }
}
