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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{code, config};

    #[test]
    fn a_reason_is_configured_and_some_need_a_note() {
        let config = config();
        let ok = |r: Result<Option<String>, Error>| r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ok(lost_reason(&config, &code("no_budget"), Some("  "))),
            None,
            "a blank note is no note"
        );
        assert_eq!(
            ok(lost_reason(&config, &code("other"), Some(" went dark "))),
            Some("went dark".to_owned())
        );
        let e = lost_reason(&config, &code("other"), None).err();
        assert!(
            matches!(&e, Some(Error::Reason(ReasonError::NoteRequired { kind: ReasonKind::Lost, code: c })) if c.as_str() == "other"),
            "{e:?}"
        );
        let e = closing_reason(&config, &code("no_budget"), None).err();
        assert!(
            matches!(
                e,
                Some(Error::Reason(ReasonError::Unknown {
                    kind: ReasonKind::Closing,
                    ..
                }))
            ),
            "a lost reason is not a closing reason: {e:?}"
        );
        let long = "x".repeat(limits::NOTE + 1);
        let e = closing_reason(&config, &code("won"), Some(&long)).err();
        assert!(matches!(e, Some(Error::Input(InputError::TooLong { .. }))), "{e:?}");
    }
}
