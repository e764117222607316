//! Custom field values, validated against their definitions.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::config::{Config, CustomFieldKind};
use crate::domain::error::InputError;
use crate::domain::ids::Code;
use crate::domain::limits;

/// A value of a custom field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum CustomValue {
    /// Text.
    Text(String),
    /// A finite number.
    Number(f64),
    /// A date.
    Date(NaiveDate),
    /// Yes or no.
    Bool(bool),
    /// One of the field's options.
    Choice(String),
}

/// Checks values against the configured definitions: every name is defined,
/// every value has the field's type (choices among its options, numbers
/// finite), and every required field has a value. Reports every problem.
pub fn validate(config: &Config, values: &BTreeMap<Code, CustomValue>) -> Result<(), InputError> {
    let mut errors = Vec::new();
    let err = |field: &Code, reason: &str| InputError::CustomField {
        field: field.to_string(),
        reason: reason.to_owned(),
    };
    for (name, value) in values {
        let Some(def) = config.custom_field(name) else {
            errors.push(err(name, "no such custom field"));
            continue;
        };
        let fits = match (&def.kind, value) {
            (CustomFieldKind::Text, CustomValue::Text(t)) => {
                match limits::check(name.as_str(), t, limits::CUSTOM_TEXT, limits::Lines::Multi) {
                    Ok(()) => true,
                    Err(e) => {
                        errors.push(err(name, &e.to_string()));
                        continue;
                    }
                }
            }
            (CustomFieldKind::Number, CustomValue::Number(n)) => n.is_finite(),
            (CustomFieldKind::Date, CustomValue::Date(d)) => {
                if let Err(e) = limits::check_date(name.as_str(), *d) {
                    errors.push(err(name, &e.to_string()));
                    continue;
                }
                true
            }
            (CustomFieldKind::Bool, CustomValue::Bool(_)) => true,
            (CustomFieldKind::Choice { options }, CustomValue::Choice(c)) => options.contains(c),
            _ => false,
        };
        if !fits {
            errors.push(err(name, &format!("value {value:?} does not fit type {:?}", def.kind)));
        }
    }
    for def in config.custom_fields.iter().filter(|d| d.required) {
        if !values.contains_key(&def.name) {
            errors.push(err(&def.name, "is required"));
        }
    }
    InputError::collect(errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::CustomFieldDef;
    use crate::domain::money::Currency;

    fn config() -> Config {
        let usd = Currency::new("USD").unwrap_or_else(|e| panic!("{e}"));
        let mut c = Config::default_with("US", usd);
        for (name, kind) in [("notes", CustomFieldKind::Text), ("since", CustomFieldKind::Date)] {
            c.custom_fields.push(CustomFieldDef {
                name: Code::new(name).unwrap_or_else(|e| panic!("{e}")),
                label: name.into(),
                kind,
                required: false,
            });
        }
        c
    }

    fn one(name: &str, value: CustomValue) -> BTreeMap<Code, CustomValue> {
        [(Code::new(name).unwrap_or_else(|e| panic!("{e}")), value)].into()
    }

    #[test]
    fn texts_and_dates_keep_to_the_limits() {
        let c = config();
        let text = |t: &str| validate(&c, &one("notes", CustomValue::Text(t.to_owned())));
        assert!(text("two\nlines\tand a tab").is_ok());
        assert!(text(&"é".repeat(limits::CUSTOM_TEXT)).is_ok());
        for bad in [
            "nul \0 inside",
            "escape \u{1b}[31m",
            &"x".repeat(limits::CUSTOM_TEXT + 1),
        ] {
            assert!(matches!(text(bad), Err(InputError::CustomField { .. })), "{bad:?}");
        }
        let date = |d: NaiveDate| validate(&c, &one("since", CustomValue::Date(d)));
        assert!(date(limits::DATE_MIN).is_ok() && date(limits::DATE_MAX).is_ok());
        for bad in [NaiveDate::MIN, NaiveDate::MAX] {
            assert!(matches!(date(bad), Err(InputError::CustomField { .. })), "{bad}");
        }
    }
}
