//! The units CloudWatch accepts for a metric.

use std::fmt;

/// A CloudWatch metric unit: the `Unit` of a metric in an EMF document.
///
/// The list is CloudWatch's own (`StandardUnit` in its API); a unit outside it makes CloudWatch
/// drop the document, which is why units are an enum here rather than strings. [`Unit::from_str`](std::str::FromStr::from_str)
/// reads CloudWatch's spelling (`"Bytes/Second"`) for units that come from configuration.
///
/// ```
/// use lamina::metrics::Unit;
///
/// assert_eq!(Unit::BytesPerSecond.as_str(), "Bytes/Second");
/// assert_eq!("Milliseconds".parse::<Unit>().unwrap(), Unit::Milliseconds);
/// assert!("ms".parse::<Unit>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Unit {
    Seconds,
    Microseconds,
    Milliseconds,
    Bytes,
    Kilobytes,
    Megabytes,
    Gigabytes,
    Terabytes,
    Bits,
    Kilobits,
    Megabits,
    Gigabits,
    Terabits,
    Percent,
    Count,
    BytesPerSecond,
    KilobytesPerSecond,
    MegabytesPerSecond,
    GigabytesPerSecond,
    TerabytesPerSecond,
    BitsPerSecond,
    KilobitsPerSecond,
    MegabitsPerSecond,
    GigabitsPerSecond,
    TerabitsPerSecond,
    CountPerSecond,
    /// No unit.
    None,
}

const ALL: [Unit; 27] = [
    Unit::Seconds,
    Unit::Microseconds,
    Unit::Milliseconds,
    Unit::Bytes,
    Unit::Kilobytes,
    Unit::Megabytes,
    Unit::Gigabytes,
    Unit::Terabytes,
    Unit::Bits,
    Unit::Kilobits,
    Unit::Megabits,
    Unit::Gigabits,
    Unit::Terabits,
    Unit::Percent,
    Unit::Count,
    Unit::BytesPerSecond,
    Unit::KilobytesPerSecond,
    Unit::MegabytesPerSecond,
    Unit::GigabytesPerSecond,
    Unit::TerabytesPerSecond,
    Unit::BitsPerSecond,
    Unit::KilobitsPerSecond,
    Unit::MegabitsPerSecond,
    Unit::GigabitsPerSecond,
    Unit::TerabitsPerSecond,
    Unit::CountPerSecond,
    Unit::None,
];

impl Unit {
    /// The unit as CloudWatch spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::Seconds => "Seconds",
            Unit::Microseconds => "Microseconds",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
            Unit::Kilobytes => "Kilobytes",
            Unit::Megabytes => "Megabytes",
            Unit::Gigabytes => "Gigabytes",
            Unit::Terabytes => "Terabytes",
            Unit::Bits => "Bits",
            Unit::Kilobits => "Kilobits",
            Unit::Megabits => "Megabits",
            Unit::Gigabits => "Gigabits",
            Unit::Terabits => "Terabits",
            Unit::Percent => "Percent",
            Unit::Count => "Count",
            Unit::BytesPerSecond => "Bytes/Second",
            Unit::KilobytesPerSecond => "Kilobytes/Second",
            Unit::MegabytesPerSecond => "Megabytes/Second",
            Unit::GigabytesPerSecond => "Gigabytes/Second",
            Unit::TerabytesPerSecond => "Terabytes/Second",
            Unit::BitsPerSecond => "Bits/Second",
            Unit::KilobitsPerSecond => "Kilobits/Second",
            Unit::MegabitsPerSecond => "Megabits/Second",
            Unit::GigabitsPerSecond => "Gigabits/Second",
            Unit::TerabitsPerSecond => "Terabits/Second",
            Unit::CountPerSecond => "Count/Second",
            Unit::None => "None",
        }
    }

    /// Every unit, in CloudWatch's order.
    pub fn all() -> impl Iterator<Item = Unit> {
        ALL.into_iter()
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_reads_back_from_its_name() {
        for unit in Unit::all() {
            assert_eq!(unit.as_str().parse::<Unit>().unwrap(), unit);
        }
        assert_eq!(Unit::all().count(), 27);
    }

    #[test]
    fn an_unknown_unit_lists_the_accepted_ones() {
        let err = "Kilobytes/s".parse::<Unit>().unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "`Kilobytes/s` is not a CloudWatch unit; use one of Seconds, Microseconds, "
            ),
            "{text}"
        );
        assert!(text.ends_with("Count/Second, None"), "{text}");
    }
}
