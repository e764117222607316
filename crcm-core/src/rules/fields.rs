//! Field checks shared by the rules: text lengths, teams, e-mail and phone
//! parsing, references.

use std::collections::BTreeSet;

use crate::domain::config::Config;
use crate::domain::contact::{Email, Phone};
use crate::domain::error::{InputError, ReferenceKind};
use crate::domain::ids::{Code, UserId};
use crate::domain::limits::{self, Lines};

/// A text within `max` characters; texts allowed more than one line's worth
/// ([`limits::TEXT`]) may hold line breaks and tabs.
pub(crate) fn check_len(errors: &mut Vec<InputError>, field: &str, value: &str, max: usize) {
    let lines = if max > limits::LINE {
        Lines::Multi
    } else {
        Lines::Single
    };
    limits::collect(errors, field, value, max, lines);
}

/// A record team within [`limits::TEAM`] members.
pub(crate) fn check_team(team: &BTreeSet<UserId>) -> Result<(), InputError> {
    if team.len() > limits::TEAM {
        return Err(InputError::TooMany {
            field: "team".to_owned(),
            max: limits::TEAM,
        });
    }
    Ok(())
}

pub(crate) fn parse_email(errors: &mut Vec<InputError>, raw: Option<&str>) -> Option<Email> {
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    Email::parse(raw).map_err(|e| errors.push(e)).ok()
}

pub(crate) fn parse_phone(errors: &mut Vec<InputError>, raw: Option<&str>, region: &str) -> Option<Phone> {
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    Phone::parse(raw, region).map_err(|e| errors.push(e)).ok()
}

pub(crate) fn unknown(kind: ReferenceKind, code: &Code) -> InputError {
    InputError::UnknownReference {
        kind,
        code: code.to_string(),
    }
}

/// The reference codes a lead (or a filter on leads) names, each checked
/// against the configuration: an account type, source, priority or tag no
/// item has is `unknown_reference`. One check for the lead rules and the
/// lead filters.
pub(crate) fn check_lead_codes<'a>(
    errors: &mut Vec<InputError>,
    config: &Config,
    account_type: Option<&Code>,
    source: Option<&Code>,
    priority: Option<&Code>,
    tags: impl IntoIterator<Item = &'a Code>,
) {
    if let Some(a) = account_type
        && config.account_type(a).is_none()
    {
        errors.push(unknown(ReferenceKind::AccountType, a));
    }
    if let Some(s) = source
        && !config.sources.iter().any(|x| &x.code == s)
    {
        errors.push(unknown(ReferenceKind::LeadSource, s));
    }
    if let Some(p) = priority
        && !config.priorities.iter().any(|x| &x.code == p)
    {
        errors.push(unknown(ReferenceKind::Priority, p));
    }
    for t in tags {
        if !config.tags.iter().any(|x| &x.code == t) {
            errors.push(unknown(ReferenceKind::Tag, t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_data_is_optional_but_valid_when_given() {
        let mut errors = Vec::new();
        assert_eq!(parse_email(&mut errors, None), None);
        assert_eq!(parse_email(&mut errors, Some("   ")), None);
        assert_eq!(
            parse_email(&mut errors, Some(" ada@example.com ")).map(|e| e.as_str().to_owned()),
            Some("ada@example.com".to_owned())
        );
        assert_eq!(
            parse_phone(&mut errors, Some("+31 20 555 0100"), "US").map(|p| p.e164),
            Some("+31205550100".to_owned())
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(parse_email(&mut errors, Some("ada@")), None);
        assert_eq!(parse_phone(&mut errors, Some("12"), "US"), None);
        assert!(
            matches!(
                errors.as_slice(),
                [InputError::InvalidEmail { .. }, InputError::InvalidPhone { .. }]
            ),
            "{errors:?}"
        );
    }

    #[test]
    fn single_line_fields_refuse_line_breaks_and_teams_have_a_limit() {
        let mut errors = Vec::new();
        check_len(&mut errors, "title", "two\\nlines", limits::LINE);
        assert!(errors.is_empty(), "an escaped newline is text");
        check_len(&mut errors, "title", "two\nlines", limits::LINE);
        check_len(&mut errors, "description", "two\nlines", limits::TEXT);
        assert!(
            matches!(errors.as_slice(), [InputError::ControlCharacter { field, .. }] if field == "title"),
            "{errors:?}"
        );
        let team: BTreeSet<UserId> = (0..=limits::TEAM)
            .map(|i| UserId::new(format!("u{i}")).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert!(matches!(check_team(&team), Err(InputError::TooMany { .. })));
    }
}
