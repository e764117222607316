#!/usr/bin/env python3
"""Generates phones.csv: phone numbers in the forms people write them, with
the E.164 form (or a refusal) that Google's libphonenumber gives, through its
Python port `phonenumbers`. crcm's phone parsing must agree on every row
(crcm-core/tests/phones.rs).

    pip install phonenumbers==9.0.43
    python3 crcm-core/tests/data/phones.py > crcm-core/tests/data/phones.csv

Columns: raw text, default region it is read in, expected E.164 or empty
for a refusal (not a number, or not a valid number).
"""

import csv
import sys

import phonenumbers
from phonenumbers import PhoneNumberFormat as F
from phonenumbers import PhoneNumberType as T

COUNTRIES = [
    "US", "CA", "GB", "DE", "FR", "NL", "BE", "IT", "ES", "CH", "AT", "SE",
    "NO", "DK", "PL", "IE", "PT", "AU", "NZ", "JP", "CN", "IN", "BR", "MX",
    "ZA", "SG", "AE", "IL", "KR", "AR", "TR", "FI",
]
# Regions a number is read in: its own, and two common defaults.
DEFAULTS = ["US", "GB"]


def expected(raw, region):
    try:
        n = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(n):
        return ""
    return phonenumbers.format_number(n, F.E164)


def forms(n, region):
    """The written forms of one number."""
    intl = phonenumbers.format_number(n, F.INTERNATIONAL)
    national = phonenumbers.format_number(n, F.NATIONAL)
    e164 = phonenumbers.format_number(n, F.E164)
    out = [
        (e164, True),
        (intl, True),
        (intl.replace(" ", "-"), True),
        (intl.replace(" ", "."), True),
        (national, False),
        (national.replace(" ", ""), False),
    ]
    # The "(0)" trunk-prefix convention: +44 (0)20 7031 3000.
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is not None and meta.national_prefix == "0":
        cc = "+%d " % n.country_code
        if intl.startswith(cc):
            out.append((cc + "(0)" + intl[len(cc):], True))
    # Too short: the last two digits dropped.
    out.append((e164[:-2], True))
    return out


def main():
    rows = []
    for region in COUNTRIES:
        for kind in (T.FIXED_LINE, T.MOBILE):
            n = phonenumbers.example_number_for_type(region, kind)
            if n is None:
                continue
            for raw, international in forms(n, region):
                readers = [region] + [d for d in DEFAULTS if d != region]
                # A national form means something only in its own region; in
                # another it is read as that region's number (or refused).
                for reader in readers if international else [region, "US"]:
                    rows.append((raw, reader, expected(raw, reader)))
    for raw in ["not a phone", "12", "+", "+999 123 456", "call me"]:
        rows.append((raw, "US", expected(raw, "US")))
    seen = set()
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["raw", "region", "e164"])
    for row in rows:
        if row not in seen:
            seen.add(row)
            w.writerow(row)


if __name__ == "__main__":
    main()
