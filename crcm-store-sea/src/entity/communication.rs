//! Table `crcm_communications`: Inbound calls and e-mails.

use sea_orm::entity::prelude::*;

/// A row of `crcm_communications`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crcm_communications")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Column `version`.
    pub version: i64,
    /// Column `lead_id`.
    pub lead_id: Option<String>,
    /// Column `received_at`.
    pub received_at: i64,
    /// Column `body`.
    #[sea_orm(column_type = "Text")]
    pub body: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
