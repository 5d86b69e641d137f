//! The timestamp check of `docs/webhooks.md` step 5, done before the agent is looked up.

use std::time::Duration;

use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampError {
    /// Not 1–19 decimal digits.
    Invalid,
    /// Further than the tolerance from the server clock.
    Stale,
}

/// Accepts 1–19 ASCII digits (no sign, space or decimal point) within `tolerance` of `now`,
/// bounds inclusive. 19 digits always fit in a `u64`, and the difference is taken in `i128`, so
/// no value can overflow.
pub fn check(value: &str, now: OffsetDateTime, tolerance: Duration) -> Result<u64, TimestampError> {
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimestampError::Invalid);
    }
    let ts: u64 = value.parse().map_err(|_| TimestampError::Invalid)?;
    let skew = (i128::from(ts) - i128::from(now.unix_timestamp())).unsigned_abs();
    if skew > u128::from(tolerance.as_secs()) {
        return Err(TimestampError::Stale);
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn at(value: &str) -> Result<u64, TimestampError> {
        check(
            value,
            OffsetDateTime::from_unix_timestamp(NOW).unwrap(),
            Duration::from_secs(300),
        )
    }

    #[test]
    fn hostile_timestamps_are_invalid_never_a_panic() {
        for value in [
            "",
            " ",
            "+1800000000",
            "-1800000000",
            "1800000000.0",
            "1800000000 ",
            " 1800000000",
            "1.8e9",
            "0x6B49D200",
            "１８００００００００",
            "18446744073709551616",
            "99999999999999999999",
            "123456789012345678901234567890",
            "1800000000\n",
            "abc",
        ] {
            assert_eq!(at(value), Err(TimestampError::Invalid), "{value:?}");
        }
    }

    #[test]
    fn window_is_inclusive_and_overflow_free() {
        assert_eq!(at(&(NOW - 300).to_string()), Ok((NOW - 300) as u64));
        assert_eq!(at(&(NOW + 300).to_string()), Ok((NOW + 300) as u64));
        assert_eq!(at(&(NOW - 301).to_string()), Err(TimestampError::Stale));
        assert_eq!(at(&(NOW + 301).to_string()), Err(TimestampError::Stale));
        assert_eq!(at("9223372036854775807"), Err(TimestampError::Stale));
        assert_eq!(at("9999999999999999999"), Err(TimestampError::Stale));
        assert_eq!(at("0"), Err(TimestampError::Stale));
        assert_eq!(at("0000001800000000"), Ok(NOW as u64));
    }
}
