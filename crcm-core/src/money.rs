//! Money as integer minor units with an ISO 4217 currency code; never floats.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::InputError;

/// An ISO 4217 alphabetic currency code (three upper-case ASCII letters, e.g. `EUR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses a currency code; lower case is accepted and upper-cased.
    pub fn new(raw: &str) -> Result<Self, InputError> {
        let upper = raw.trim().to_ascii_uppercase();
        match upper.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|ch| ch.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(InputError::InvalidCurrency { value: raw.to_owned() }),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl TryFrom<String> for Currency {
    type Error = InputError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money: integer minor units (cents for EUR/USD) and a currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount in the currency's minor unit; must not be negative for values
    /// crcm stores (expected revenue, deal value).
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// Builds an amount, refusing negative values.
    pub fn new(minor: i64, currency: Currency) -> Result<Self, InputError> {
        if minor < 0 {
            return Err(InputError::NegativeAmount { minor });
        }
        Ok(Self { minor, currency })
    }

    /// Checks an amount that arrived deserialized (e.g. through a command).
    pub fn validate(&self) -> Result<(), InputError> {
        Self::new(self.minor, self.currency).map(|_| ())
    }
}

impl fmt::Display for Money {
    /// Shows the amount with two decimals, which is right for most currencies;
    /// hosts that need currency-specific formatting use `minor` directly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_letters() {
        assert_eq!(Currency::new("eur").map(|c| c.to_string()), Ok("EUR".to_owned()));
        assert!(Currency::new("EU").is_err());
        assert!(Currency::new("E1R").is_err());
        assert!(Currency::new("ÉUR").is_err());
    }

    #[test]
    fn money_refuses_negative_amounts_and_formats_minor_units() {
        let eur = Currency::new("EUR").expect("valid literal");
        assert!(matches!(
            Money::new(-1, eur),
            Err(InputError::NegativeAmount { minor: -1 })
        ));
        let m = Money::new(123_405, eur).expect("valid literal");
        assert_eq!(m.to_string(), "1234.05 EUR");
    }
}
