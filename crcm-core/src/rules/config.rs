//! Configuration rules: replacing the configuration.

use chrono::{DateTime, Utc};

use crate::domain::config::{Config, ConfigItem};
use crate::domain::config::{ConfigError, ItemInUse};
pub use crate::domain::error::InputError;
use crate::domain::event::DomainEvent;

use crate::rules::access::{self, Action, Actor, Role};
use crate::rules::error::Error;
use crate::store::uow::{ConfigWrite, UnitOfWork};

/// Replaces the configuration (manager): it must be valid as a whole, based on
/// the current version, and must not remove items data still uses (`in_use`,
/// computed by the engine from [`Config::removed_items`]).
pub fn set_config(
    actor: &Actor,
    now: DateTime<Utc>,
    action: &str,
    current: Option<(&Config, u64)>,
    next: &Config,
    expected_version: Option<u64>,
    in_use: Vec<ItemInUse>,
) -> Result<UnitOfWork, Error> {
    access::require_role(actor, Role::Manager, Action::Configure)?;
    let found = current.map(|(_, v)| v);
    if found != expected_version {
        return Err(ConfigError::Stale {
            expected: expected_version.unwrap_or(0),
            found: found.unwrap_or(0),
        }
        .into());
    }
    let problems = next.problems();
    if !problems.is_empty() {
        return Err(ConfigError::Invalid { problems }.into());
    }
    if !in_use.is_empty() {
        return Err(ConfigError::InUse { uses: in_use }.into());
    }
    let version = found.map_or(1, |v| v + 1);
    let mut uow = UnitOfWork::new(&actor.user, now, action);
    uow.config = Some(ConfigWrite {
        config: next.clone(),
        version,
        expected: found,
    });
    uow.event(DomainEvent::ConfigChanged { version });
    Ok(uow)
}

/// Describes one removed item that is still in use.
pub fn in_use(item: &ConfigItem, what: &str, count: usize, examples: Vec<String>) -> ItemInUse {
    ItemInUse {
        item: item.to_string(),
        count,
        what: what.to_owned(),
        examples,
    }
}
