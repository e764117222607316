//! Table `crcm_lead_tags`: One row per tag of a lead (the tag filter).

use sea_orm::entity::prelude::*;

/// A row of `crcm_lead_tags`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crcm_lead_tags")]
pub struct Model {
    /// Column `lead_id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub lead_id: String,
    /// Column `tag`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
