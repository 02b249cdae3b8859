//! Checks a sub-order against what its supplier needs, before anything leaves the process.

use serde::{Deserialize, Serialize};

use crate::dropshipper::Dropshipper;
use crate::error::Problem;
use crate::model::{Address, OrderLine};

/// An optional address field a supplier may require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AddressField {
    /// `ship_to.company`.
    Company,
    /// `ship_to.line2`.
    Line2,
    /// `ship_to.region` (state, province).
    Region,
    /// `ship_to.postal_code`.
    PostalCode,
    /// `ship_to.phone`.
    Phone,
    /// `ship_to.email`.
    Email,
}

impl AddressField {
    fn name(self) -> &'static str {
        match self {
            AddressField::Company => "company",
            AddressField::Line2 => "line2",
            AddressField::Region => "region",
            AddressField::PostalCode => "postal_code",
            AddressField::Phone => "phone",
            AddressField::Email => "email",
        }
    }

    fn value(self, a: &Address) -> Option<&str> {
        match self {
            AddressField::Company => a.company.as_deref(),
            AddressField::Line2 => a.line2.as_deref(),
            AddressField::Region => a.region.as_deref(),
            AddressField::PostalCode => a.postal_code.as_deref(),
            AddressField::Phone => a.phone.as_deref(),
            AddressField::Email => a.email.as_deref(),
        }
    }
}

/// Every problem of one sub-order for its supplier: each line's SKU must map to the
/// supplier's spelling, and each required address field must be present. Paths name the
/// line in the merchant's order (`lines[2].sku`) and the supplier.
pub(crate) fn sub_order_problems(
    supplier: &dyn Dropshipper,
    lines: &[(usize, &OrderLine)],
    ship_to: &Address,
    required: &[AddressField],
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (index, line) in lines {
        if let Err(e) = supplier.supplier_sku(&line.sku) {
            problems.push(Problem::new(
                format!("lines[{index}].sku"),
                format!(
                    "{} cannot be sent to {}: {}",
                    line.sku,
                    supplier.id(),
                    e.message()
                ),
            ));
        }
    }
    for field in required {
        if field.value(ship_to).is_none_or(|v| v.trim().is_empty()) {
            problems.push(Problem::new(
                format!("ship_to.{}", field.name()),
                format!("is required by {}", supplier.id()),
            ));
        }
    }
    problems
}
