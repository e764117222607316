//! Table `crcm_deals`: Deals, with the columns deal filters use.

use sea_orm::entity::prelude::*;

/// A row of `crcm_deals`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crcm_deals")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Column `version`.
    pub version: i64,
    /// Column `lead_id`.
    pub lead_id: Option<String>,
    /// Column `customer_id`.
    pub customer_id: String,
    /// Column `pipeline`.
    pub pipeline: String,
    /// Column `stage`.
    pub stage: String,
    /// Column `status`.
    pub status: String,
    /// Column `lost_reason`.
    pub lost_reason: Option<String>,
    /// Column `owner`.
    pub owner: String,
    /// Column `body`.
    #[sea_orm(column_type = "Text")]
    pub body: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
