//! Citizen reports (docs/open311.md): the register with each report's lifecycle, the KPIs, the
//! `reports` view and the Open311 read queries.

pub mod kpi;
pub mod query;
pub mod record;
pub mod register;

pub use kpi::ReportKpi;
pub use query::ReportQuery;
pub use record::{Report, Status, mask_email, mask_phone};
pub use register::{ChangeError, Register};
