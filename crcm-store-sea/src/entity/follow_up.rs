//! Table `crcm_follow_ups`: Follow-ups of leads and deals.

use sea_orm::entity::prelude::*;

/// A row of `crcm_follow_ups`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crcm_follow_ups")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Column `version`.
    pub version: i64,
    /// Column `subject`.
    pub subject: String,
    /// Column `due`.
    pub due: String,
    /// Column `body`.
    #[sea_orm(column_type = "Text")]
    pub body: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
