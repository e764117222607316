//! References to stored entities: their kind and id.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::ids::{ActivityId, CommunicationId, CustomerId, DealId, FollowUpId, LeadId};

/// The kinds of stored entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// [`Lead`](crate::Lead).
    Lead,
    /// [`Customer`](crate::Customer).
    Customer,
    /// [`Deal`](crate::Deal).
    Deal,
    /// [`Activity`](crate::Activity).
    Activity,
    /// [`FollowUp`](crate::FollowUp).
    FollowUp,
    /// [`Communication`](crate::Communication).
    Communication,
}

impl EntityKind {
    /// Every kind.
    pub const ALL: [EntityKind; 6] = [
        EntityKind::Lead,
        EntityKind::Customer,
        EntityKind::Deal,
        EntityKind::Activity,
        EntityKind::FollowUp,
        EntityKind::Communication,
    ];

    /// The stable snake_case name (also used as storage table/tree names).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lead => "lead",
            Self::Customer => "customer",
            Self::Deal => "deal",
            Self::Activity => "activity",
            Self::FollowUp => "follow_up",
            Self::Communication => "communication",
        }
    }
}

/// Names one stored entity: `{"type": "lead", "id": "…"}`, the form of a
/// [`Subject`](crate::Subject) (stores written before read `kind` too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EntityRef {
    /// Its kind (JSON `type`).
    #[serde(rename = "type", alias = "kind")]
    pub kind: EntityKind,
    /// Its id.
    pub id: Uuid,
}

impl EntityRef {
    /// A lead.
    pub fn lead(id: LeadId) -> Self {
        Self {
            kind: EntityKind::Lead,
            id: id.0,
        }
    }
    /// A customer.
    pub fn customer(id: CustomerId) -> Self {
        Self {
            kind: EntityKind::Customer,
            id: id.0,
        }
    }
    /// A deal.
    pub fn deal(id: DealId) -> Self {
        Self {
            kind: EntityKind::Deal,
            id: id.0,
        }
    }
    /// An activity.
    pub fn activity(id: ActivityId) -> Self {
        Self {
            kind: EntityKind::Activity,
            id: id.0,
        }
    }
    /// A follow-up.
    pub fn follow_up(id: FollowUpId) -> Self {
        Self {
            kind: EntityKind::FollowUp,
            id: id.0,
        }
    }
    /// A communication.
    pub fn communication(id: CommunicationId) -> Self {
        Self {
            kind: EntityKind::Communication,
            id: id.0,
        }
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.id)
    }
}
