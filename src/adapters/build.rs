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
pub fn build(config: &SupplierConfig) -> Result<Arc<dyn Dropshipper>> {
    Ok(match config.protocol {
        Protocol::Rest => Arc::new(RestSupplier::new(config)?),
        Protocol::Soap => Arc::new(SoapSupplier::new(config)?),
        Protocol::Graphql => Arc::new(GraphqlSupplier::new(config)?),
    })
}

/// Builds every supplier of a config file, reporting every supplier's problems at once, with
/// paths from the file's root (`suppliers[1].operations.stock.items: ...`).
pub fn build_all(file: &ConfigFile) -> Result<Vec<Arc<dyn Dropshipper>>> {
    let mut built = Vec::with_capacity(file.suppliers.len());
    let mut problems = Vec::new();
    let mut first_other: Option<Error> = None;
    for (i, config) in file.suppliers.iter().enumerate() {
        match build(config) {
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
