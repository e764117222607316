//! Field checks shared by the rules: text lengths, teams, e-mail and phone
//! parsing, references.

use std::collections::BTreeSet;

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
