//! Money as integer minor units with an ISO 4217 currency code; never floats.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::error::InputError;

/// An ISO 4217 currency (e.g. `EUR`), checked against the ISO 4217 list of
/// the `iso_currency` crate. Only currencies with a minor unit are accepted:
/// codes such as XAU (gold) or XXX (no currency) are not money a deal is
/// valued in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(into = "String")]
#[cfg_attr(feature = "schema", schemars(from = "String"))]
pub struct Currency([u8; 3]);

/// Read from its code; another text is `invalid_currency`.
impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::domain::error::deserialize_checked(deserializer, |text| Self::new(&text))
    }
}

impl Currency {
    /// Parses a currency code; lower case is accepted and upper-cased.
    pub fn new(raw: &str) -> Result<Self, InputError> {
        let upper = raw.trim().to_ascii_uppercase();
        let refused = || InputError::InvalidCurrency { value: raw.to_owned() };
        let iso = iso_currency::Currency::from_code(&upper).ok_or_else(refused)?;
        if iso.exponent().is_none() {
            return Err(refused());
        }
        match upper.as_bytes() {
            [a, b, c] => Ok(Self([*a, *b, *c])),
            _ => Err(refused()),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ISO codes (ASCII upper-case letters) are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// The number of decimals of the currency's minor unit: 2 for EUR (cents),
    /// 0 for JPY, 3 for KWD. [`Money::minor`] counts in this unit.
    pub fn minor_units(&self) -> u32 {
        iso_currency::Currency::from_code(self.as_str())
            .and_then(iso_currency::Currency::exponent)
            .map_or(2, u32::from)
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// The amount in the currency's minor unit; must not be negative for values
    /// crcm stores (expected revenue, deal value).
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// Builds an amount, refusing negative values and values above
    /// [`limits::AMOUNT`](crate::domain::limits::AMOUNT).
    pub fn new(minor: i64, currency: Currency) -> Result<Self, InputError> {
        crate::domain::limits::check_amount("amount", minor)?;
        Ok(Self { minor, currency })
    }

    /// Checks an amount that arrived deserialized (e.g. through a command).
    pub fn validate(&self) -> Result<(), InputError> {
        Self::new(self.minor, self.currency).map(|_| ())
    }

    /// Reads an amount as [`Display`](fmt::Display) writes it, `1234.05 EUR`,
    /// or without its currency (then in `default`): digits, at most one `.`
    /// and at most the currency's number of decimals. `None` for anything
    /// else (a negative amount, a thousands separator, an unknown currency).
    pub fn parse(text: &str, default: Currency) -> Option<Self> {
        let text = text.trim();
        let (amount, currency) = match text.rsplit_once(char::is_whitespace) {
            Some((amount, code)) => (amount.trim(), Currency::new(code).ok()?),
            None => (text, default),
        };
        let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
        let decimals = currency.minor_units() as usize;
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > decimals {
            return None;
        }
        let padded = format!("{whole}{fraction:0<decimals$}");
        let minor = padded.parse::<i64>().ok()?;
        Self::new(minor, currency).ok()
    }
}

impl fmt::Display for Money {
    /// Shows the amount in major units with the currency's number of
    /// decimals: `1234.05 EUR`, `1234 JPY`, `1.234 KWD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_amount(f, i128::from(self.minor), self.currency)
    }
}

fn write_amount(f: &mut fmt::Formatter<'_>, minor: i128, currency: Currency) -> fmt::Result {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let decimals = currency.minor_units();
    let scale = 10u128.pow(decimals);
    if decimals == 0 {
        write!(f, "{sign}{abs} {currency}")
    } else {
        let width = decimals as usize;
        write!(f, "{sign}{}.{:0width$} {currency}", abs / scale, abs % scale)
    }
}

/// A sum of amounts in one currency (a board column's expected revenue, a
/// forecast): a sum of many amounts may exceed what one [`Money`] holds, so
/// it counts minor units in 128 bits. Its JSON form is [`Money`]'s,
/// `{"minor": 1234, "currency": "EUR"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MoneySum {
    /// The sum in the currency's minor unit.
    #[serde(deserialize_with = "sum_minor")]
    pub minor: i128,
    /// The currency.
    pub currency: Currency,
}

/// Reads a sum's minor units from a JSON integer within 64 bits (signed or
/// unsigned). Not through `i128` directly: a sum inside a tagged response is
/// buffered by serde, which cannot hold an `i128`, and an integer beyond 64
/// bits reaches us as a float: it is refused, never rounded.
fn sum_minor<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i128, D::Error> {
    struct Minor;
    impl serde::de::Visitor<'_> for Minor {
        type Value = i128;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer number of minor units")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i128, E> {
            Ok(i128::from(v))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i128, E> {
            Ok(i128::from(v))
        }
        fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<i128, E> {
            Ok(v)
        }
        fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<i128, E> {
            i128::try_from(v).map_err(|_| E::custom("a sum of minor units beyond 128 bits"))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i128, E> {
            Err(E::custom(format!(
                "{v} is not an exact integer of minor units (crcm reads back sums within 64 bits; \
                 a larger one is refused, never rounded)"
            )))
        }
    }
    deserializer.deserialize_any(Minor)
}

impl fmt::Display for MoneySum {
    /// As [`Money`]: `1234.05 EUR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_amount(f, self.minor, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_back_as_displayed() {
        let usd = Currency::new("USD").unwrap_or_else(|e| panic!("{e}"));
        let read = |t: &str| Money::parse(t, usd).map(|m| m.to_string());
        assert_eq!(read("1054"), Some("1054.00 USD".to_owned()));
        assert_eq!(read(" 1054.5 "), Some("1054.50 USD".to_owned()));
        assert_eq!(read("1234.05 EUR"), Some("1234.05 EUR".to_owned()));
        assert_eq!(read("1.234 kwd"), Some("1.234 KWD".to_owned()));
        assert_eq!(read("1234 JPY"), Some("1234 JPY".to_owned()));
        for bad in [
            "",
            "-5",
            "1,054",
            "1.234",
            "12.5 JPY",
            "5 XYZ",
            ".5",
            "1e3",
            "99999999999999999999",
        ] {
            assert_eq!(read(bad), None, "{bad:?} must be refused");
        }
    }

    #[test]
    fn sums_hold_more_than_one_amount_and_read_as_money() {
        let usd = Currency::new("USD").unwrap_or_else(|e| panic!("{e}"));
        let big = MoneySum {
            minor: i128::from(i64::MAX) * 3,
            currency: usd,
        };
        assert_eq!(big.to_string(), "276701161105643274.21 USD");
        let json = serde_json::to_string(&MoneySum {
            minor: 123_405,
            currency: usd,
        })
        .unwrap_or_default();
        assert_eq!(json, r#"{"minor":123405,"currency":"USD"}"#);
        assert_eq!(
            serde_json::from_str::<Money>(&json).map(|m| m.minor).ok(),
            Some(123_405)
        );
    }

    #[test]
    fn currency_codes_are_iso_4217() {
        assert_eq!(Currency::new("eur").map(|c| c.to_string()), Ok("EUR".to_owned()));
        for bad in ["EU", "E1R", "ÉUR", "ABC", "QQQ", "XAU", "XXX", ""] {
            assert!(
                matches!(Currency::new(bad), Err(InputError::InvalidCurrency { .. })),
                "{bad:?} must be refused"
            );
        }
        let minor = |c: &str| Currency::new(c).map(|c| c.minor_units());
        assert_eq!(minor("JPY"), Ok(0));
        assert_eq!(minor("KWD"), Ok(3));
        assert_eq!(minor("USD"), Ok(2));
        assert_eq!(minor("CLF"), Ok(4));
        // Deserializing checks the code too.
        assert!(serde_json::from_str::<Currency>("\"ABC\"").is_err());
        assert_eq!(
            serde_json::from_str::<Currency>("\"KWD\"").ok(),
            Currency::new("KWD").ok()
        );
    }

    #[test]
    fn money_refuses_negative_amounts_and_formats_minor_units() {
        let eur = Currency::new("EUR").expect("valid literal");
        assert!(matches!(
            Money::new(-1, eur),
            Err(InputError::NegativeAmount { minor: -1 })
        ));
        let max = crate::domain::limits::AMOUNT;
        assert!(Money::new(max, eur).is_ok());
        for big in [max + 1, i64::MAX / 2 + 1, i64::MAX] {
            assert!(
                matches!(Money::new(big, eur), Err(InputError::OutOfRange { .. })),
                "{big}"
            );
            assert!(
                Money {
                    minor: big,
                    currency: eur
                }
                .validate()
                .is_err(),
                "{big}"
            );
        }
        let m = Money::new(123_405, eur).expect("valid literal");
        assert_eq!(m.to_string(), "1234.05 EUR");
        let in_ = |code: &str| Currency::new(code).expect("valid literal");
        assert_eq!(
            Money::new(123_405, in_("JPY")).map(|m| m.to_string()),
            Ok("123405 JPY".into())
        );
        assert_eq!(
            Money::new(123_405, in_("KWD")).map(|m| m.to_string()),
            Ok("123.405 KWD".into())
        );
        assert_eq!(Money::new(5, in_("KWD")).map(|m| m.to_string()), Ok("0.005 KWD".into()));
    }
}
