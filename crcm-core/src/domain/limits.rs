//! Every input limit crcm enforces, in one place. A command that exceeds one
//! is refused with a typed error naming the field, before anything is
//! written; every backend stores anything within them (the conformance suite
//! sends the edge values to each).

use crate::domain::error::InputError;

/// Single-line texts: names, titles, summaries, company, address parts,
/// zone, labels of configuration items, external document ids.
pub const LINE: usize = 200;
/// Multi-line texts: descriptions, activity and communication bodies,
/// follow-up notes.
pub const TEXT: usize = 10_000;
/// Notes given with a closing or lost reason.
pub const NOTE: usize = 2_000;
/// An e-mail address (RFC 5321: a path holds at most 254 characters).
pub const EMAIL: usize = 254;
/// A user id of the host application.
pub const USER_ID: usize = 128;
/// Members of one record team (besides the owner).
pub const TEAM: usize = 100;
/// A configuration, as JSON, in bytes.
pub const CONFIG_BYTES: usize = 256 * 1024;
/// A search text, in characters.
pub const SEARCH: usize = LINE;
/// Words of one search (each is one index range to intersect).
pub const SEARCH_WORDS: usize = 10;

/// Whether a text may span lines. Single-line texts allow no control
/// characters at all; multi-line texts allow line feed, carriage return and
/// tab. NUL and the other control characters are refused everywhere (some
/// databases cannot store them, and no user types them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lines {
    /// One line.
    Single,
    /// Several lines.
    Multi,
}

/// Checks a text's length (in characters) and characters.
pub fn check(field: &str, value: &str, max: usize, lines: Lines) -> Result<(), InputError> {
    if value.chars().count() > max {
        return Err(InputError::TooLong {
            field: field.to_owned(),
            max,
        });
    }
    let allowed = |c: char| lines == Lines::Multi && matches!(c, '\n' | '\r' | '\t');
    if let Some(c) = value.chars().find(|c| c.is_control() && !allowed(*c)) {
        return Err(InputError::ControlCharacter {
            field: field.to_owned(),
            code_point: u32::from(c),
        });
    }
    Ok(())
}

/// [`check`], collecting the error.
pub fn collect(errors: &mut Vec<InputError>, field: &str, value: &str, max: usize, lines: Lines) {
    if let Err(e) = check(field, value, max, lines) {
        errors.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters_and_control_characters_are_refused() {
        assert!(check("name", &"é".repeat(LINE), LINE, Lines::Single).is_ok());
        assert!(matches!(
            check("name", &"é".repeat(LINE + 1), LINE, Lines::Single),
            Err(InputError::TooLong { max: LINE, .. })
        ));
        assert!(check("body", "a\nb\tc\r\n", TEXT, Lines::Multi).is_ok());
        for (text, lines) in [
            ("a\nb", Lines::Single),
            ("a\0b", Lines::Multi),
            ("\u{1b}[0m", Lines::Multi),
        ] {
            assert!(
                matches!(check("f", text, TEXT, lines), Err(InputError::ControlCharacter { .. })),
                "{text:?}"
            );
        }
    }
}
