//! Reasons (closing, lost): the checks a reason and its note pass.

use crate::domain::config::Config;
use crate::domain::error::InputError;
use crate::domain::ids::Code;
use crate::domain::limits::{self, Lines};
use crate::rules::error::Error;
use crate::rules::machine::{ReasonError, ReasonKind};

/// A closing or lost note: trimmed, `None` when empty, within [`limits::NOTE`].
pub(crate) fn note(note: Option<&str>) -> Result<Option<String>, InputError> {
    let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    limits::check("note", n, limits::NOTE, Lines::Multi)?;
    Ok(Some(n.to_owned()))
}

/// Checks a reason of `kind` and its note: the reason is configured, and a
/// reason that requires a note has one. Returns the trimmed note.
pub fn check_reason(
    config: &Config,
    kind: ReasonKind,
    reason: &Code,
    note_text: Option<&str>,
) -> Result<Option<String>, Error> {
    let requires_note = match kind {
        ReasonKind::Closing => config.closing_reason(reason).map(|r| r.requires_note),
        ReasonKind::Lost => config.lost_reason(reason).map(|r| r.requires_note),
    }
    .ok_or_else(|| ReasonError::Unknown {
        kind,
        code: reason.clone(),
    })?;
    let n = note(note_text)?;
    if requires_note && n.is_none() {
        return Err(ReasonError::NoteRequired {
            kind,
            code: reason.clone(),
        }
        .into());
    }
    Ok(n)
}

/// Checks a lost reason (Disqualify / Lost / losing a deal) and its note.
pub fn lost_reason(config: &Config, reason: &Code, note_text: Option<&str>) -> Result<Option<String>, Error> {
    check_reason(config, ReasonKind::Lost, reason, note_text)
}

/// Checks a closing reason and its note.
pub fn closing_reason(config: &Config, reason: &Code, note_text: Option<&str>) -> Result<Option<String>, Error> {
    check_reason(config, ReasonKind::Closing, reason, note_text)
}
