//! text-generation-webui's message time stamp (`metadata.user_N.timestamp`,
//! `"Dec 06, 2026 15:32"`), written so that TGW shows when a message was
//! sent in a chat made here. TGW writes its server's local time; this
//! server writes UTC, the time zone of the cloud machines it runs on.

use crate::calendar::civil_date;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `ms` (milliseconds since 1970, UTC) in TGW's `%b %d, %Y %H:%M`.
pub fn tgw_timestamp(ms: u64) -> String {
    let seconds = ms / 1000;
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_date(days as i64);
    format!(
        "{} {day:02}, {year} {:02}:{:02}",
        MONTHS[month as usize - 1],
        of_day / 3600,
        of_day % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_tgw_does() {
        assert_eq!(tgw_timestamp(0), "Jan 01, 1970 00:00");
        // 2026-12-06 15:32:59 UTC
        assert_eq!(tgw_timestamp(1_796_571_179_000), "Dec 06, 2026 15:32");
        // A leap day and the last minute of a year.
        assert_eq!(tgw_timestamp(951_782_400_000), "Feb 29, 2000 00:00");
        assert_eq!(tgw_timestamp(1_798_761_599_000), "Dec 31, 2026 23:59");
    }
}
