//! Configuration rules: replacing the configuration.

use chrono::{DateTime, Utc};

use crate::domain::config::Config;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::ConfigItem;
    use crate::rules::test_support::{ann, config, maria, now};

    #[test]
    fn managers_replace_the_configuration_against_the_version_they_saw() {
        let next = config();
        let e = set_config(&ann(), now(), "set_config", None, &next, None, Vec::new()).err();
        assert!(matches!(e, Some(Error::Permission(_))), "{e:?}");
        let uow =
            set_config(&maria(), now(), "set_config", None, &next, None, Vec::new()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(uow.config.as_ref().map(|c| (c.version, c.expected)), Some((1, None)));
        let e = set_config(
            &maria(),
            now(),
            "set_config",
            Some((&next, 3)),
            &next,
            Some(2),
            Vec::new(),
        )
        .err();
        assert!(
            matches!(e, Some(Error::Config(ConfigError::Stale { expected: 2, found: 3 }))),
            "{e:?}"
        );
        let mut broken = config();
        let twice = broken.account_types[0].clone();
        broken.account_types.push(twice);
        let e = set_config(&maria(), now(), "set_config", None, &broken, None, Vec::new()).err();
        assert!(matches!(e, Some(Error::Config(ConfigError::Invalid { .. }))), "{e:?}");
        let used = ItemInUse {
            item: ConfigItem::Tag {
                code: crate::rules::test_support::code("vip"),
            },
            leads: 1,
            deals: 0,
            lead_examples: vec![1],
            deal_examples: Vec::new(),
        };
        let e = set_config(
            &maria(),
            now(),
            "set_config",
            Some((&next, 1)),
            &next,
            Some(1),
            vec![used],
        )
        .err();
        assert!(matches!(e, Some(Error::Config(ConfigError::InUse { .. }))), "{e:?}");
    }
}
