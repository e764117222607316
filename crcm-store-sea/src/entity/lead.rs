//! Table `crcm_leads`: Leads: the JSON record plus the columns filters use.

use sea_orm::entity::prelude::*;

/// A row of `crcm_leads`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crcm_leads")]
pub struct Model {
    /// Column `id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Column `number`.
    #[sea_orm(unique)]
    pub number: i64,
    /// Column `version`.
    pub version: i64,
    /// Column `status`.
    pub status: String,
    /// Column `owner`.
    pub owner: String,
    /// Column `account_type`.
    pub account_type: String,
    /// Column `phase`.
    pub phase: Option<String>,
    /// Column `source`.
    pub source: Option<String>,
    /// Column `priority`.
    pub priority: Option<String>,
    /// Column `zone`.
    pub zone: String,
    /// Column `email`.
    pub email: Option<String>,
    /// Column `phone`.
    pub phone: Option<String>,
    /// Column `customer_id`.
    pub customer_id: Option<String>,
    /// Column `closing_reason`.
    pub closing_reason: Option<String>,
    /// Column `lost_reason`.
    pub lost_reason: Option<String>,
    /// Column `updated_at`.
    pub updated_at: i64,
    /// Column `body`.
    #[sea_orm(column_type = "Text")]
    pub body: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
