//! Every input limit crcm enforces, in one place. A command that exceeds one
//! is refused with a typed error naming the field, before anything is
//! written; every backend stores anything within them (the conformance suite
//! sends the edge values to each).

use chrono::NaiveDate;

use crate::domain::error::InputError;

/// Single-line texts: names, titles, summaries, company, address parts,
/// zone, labels of configuration items, external document ids.
pub const LINE: usize = 200;
/// A lead's id in another system ([`ExternalRef::id`](crate::domain::lead::ExternalRef::id)):
/// with its system's code it stays within one indexed column on every backend.
pub const EXTERNAL_ID: usize = 128;
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
/// Members of one sales team.
pub const SALES_TEAM: usize = 1_000;
/// A configuration, as JSON, in bytes.
pub const CONFIG_BYTES: usize = 256 * 1024;
/// A search text, in characters.
pub const SEARCH: usize = LINE;
/// Words of one search (each is one index range to intersect).
pub const SEARCH_WORDS: usize = 10;

/// A custom text field's value, in characters.
pub const CUSTOM_TEXT: usize = 4_000;
/// The largest amount of money stored (expected revenue, deal value), in
/// the currency's minor units: 10^15, i.e. ten trillion in a two-decimal
/// currency (USD, EUR), a quadrillion JPY. Bounded so that a board cell, a
/// forecast or any other sum over a store stays exact: crcm sums in 128-bit
/// integers, and a 64-bit sum alone holds 9,223 amounts at this bound.
pub const AMOUNT: i64 = 1_000_000_000_000_000;
/// The earliest date crcm stores (expected close, follow-up due, custom dates).
pub const DATE_MIN: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};
/// The latest date crcm stores. Within [`DATE_MIN`]..=[`DATE_MAX`] every
/// backend orders dates alike (as four-digit years).
pub const DATE_MAX: NaiveDate = match NaiveDate::from_ymd_opt(2999, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};
/// A number of days: a phase's rot period, a query's minimum days in phase,
/// the stuck report's threshold (100 years).
pub const DAYS: u32 = 36_500;
/// Documents linked to one lead or deal (quotations, orders, invoices).
pub const DOCUMENTS: usize = 500;
/// Contact persons of one customer.
pub const CONTACTS: usize = 500;
/// Leads merged into one lead, over its life (`Lead::merged_from`).
pub const MERGED: usize = 100;
/// One record (row) of an imported CSV file, in bytes: a longer record is
/// refused with its line number, whatever the file holds.
pub const IMPORT_RECORD_BYTES: usize = 1024 * 1024;

/// A time at crcm's one precision, microseconds: every stored and answered
/// time has it, whatever the platform clock or the client gave (finer
/// digits are dropped, toward the past).
pub fn to_micros(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::Timelike;
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}

/// Checks an amount in minor units: 0..=[`AMOUNT`].
pub fn check_amount(field: &str, minor: i64) -> Result<(), InputError> {
    if (0..=AMOUNT).contains(&minor) {
        return Ok(());
    }
    if minor < 0 {
        return Err(InputError::NegativeAmount { minor });
    }
    Err(InputError::OutOfRange {
        field: field.to_owned(),
        value: minor.to_string(),
        min: "0".to_owned(),
        max: AMOUNT.to_string(),
    })
}

/// Checks a date: [`DATE_MIN`]..=[`DATE_MAX`].
pub fn check_date(field: &str, date: NaiveDate) -> Result<(), InputError> {
    if (DATE_MIN..=DATE_MAX).contains(&date) {
        return Ok(());
    }
    Err(InputError::OutOfRange {
        field: field.to_owned(),
        value: date.to_string(),
        min: DATE_MIN.to_string(),
        max: DATE_MAX.to_string(),
    })
}

/// [`check_date`] on an optional date, collecting the error.
pub fn collect_date(errors: &mut Vec<InputError>, field: &str, date: Option<NaiveDate>) {
    if let Some(d) = date
        && let Err(e) = check_date(field, d)
    {
        errors.push(e);
    }
}

/// Checks a number of days: 0..=[`DAYS`].
pub fn check_days(field: &str, days: u32) -> Result<(), InputError> {
    if days <= DAYS {
        return Ok(());
    }
    Err(InputError::OutOfRange {
        field: field.to_owned(),
        value: days.to_string(),
        min: "0".to_owned(),
        max: DAYS.to_string(),
    })
}

/// Checks a list's length against its limit.
pub fn check_count(field: &str, count: usize, max: usize) -> Result<(), InputError> {
    if count <= max {
        return Ok(());
    }
    Err(InputError::TooMany {
        field: field.to_owned(),
        max,
    })
}

/// `now` minus `days` days, or the earliest time chrono represents when that
/// lies before it (a cut-off no record is older than): never a panic.
pub fn days_before(now: chrono::DateTime<chrono::Utc>, days: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::TimeDelta::try_days(days)
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
}

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
    fn amounts_dates_and_days_have_bounds() {
        assert!(check_amount("value", AMOUNT).is_ok());
        assert!(check_amount("value", 0).is_ok());
        assert!(matches!(
            check_amount("value", AMOUNT + 1),
            Err(InputError::OutOfRange { ref field, .. }) if field == "value"
        ));
        assert!(matches!(
            check_amount("value", i64::MAX),
            Err(InputError::OutOfRange { .. })
        ));
        assert!(matches!(
            check_amount("value", -1),
            Err(InputError::NegativeAmount { minor: -1 })
        ));
        // A 64-bit sum holds 9,223 amounts at the bound.
        assert!(AMOUNT.checked_mul(9_223).is_some());
        assert!(check_date("due", DATE_MIN).is_ok() && check_date("due", DATE_MAX).is_ok());
        for bad in [
            NaiveDate::MIN,
            NaiveDate::MAX,
            DATE_MIN.pred_opt().unwrap_or(DATE_MIN),
            DATE_MAX.succ_opt().unwrap_or(NaiveDate::MAX),
        ] {
            assert!(
                matches!(check_date("due", bad), Err(InputError::OutOfRange { .. })),
                "{bad}"
            );
        }
        assert!(check_days("rot_after_days", DAYS).is_ok());
        assert!(check_days("rot_after_days", u32::MAX).is_err());
        let now = chrono::Utc::now();
        assert_eq!(days_before(now, i64::MAX), chrono::DateTime::<chrono::Utc>::MIN_UTC);
        assert_eq!(days_before(now, 1), now - chrono::TimeDelta::days(1));
    }

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
