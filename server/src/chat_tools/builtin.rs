//! Tools every install has, needing no network: the date and time, and a
//! calculator.

use serde_json::{json, Value};

use super::{calculator, ToolError};
use domain::ToolInfo;

pub const SOURCE: &str = "built-in";

pub fn tools() -> Vec<ToolInfo> {
    vec![
        ToolInfo {
            name: "get_current_time".into(),
            description: "Get the current date, time and weekday (the server's clock, in UTC and \
                          its local time zone)."
                .into(),
            source: SOURCE.into(),
            parameters: json!({"type": "object", "properties": {}}),
        },
        ToolInfo {
            name: "calculator".into(),
            description: "Evaluate an arithmetic expression exactly, e.g. (17.5 * 3) / 4 or \
                          sqrt(2) ^ 2. Supports + - * / % ^, parentheses, pi, e, sqrt, abs, \
                          round, floor, ceil, ln, log, exp, sin, cos, tan."
                .into(),
            source: SOURCE.into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "expression": {"type": "string", "description": "the expression to evaluate"}
                },
                "required": ["expression"]
            }),
        },
    ]
}

/// Runs built-in tool `name`; None if there is no such built-in.
pub fn call(name: &str, arguments: &Value) -> Option<Result<String, ToolError>> {
    Some(match name {
        "get_current_time" => Ok(current_time()),
        "calculator" => match arguments.get("expression").and_then(Value::as_str) {
            Some(expression) => calculator::evaluate(expression)
                .map(calculator::format)
                .map_err(ToolError::Failed),
            None => Err(ToolError::Arguments(
                "calculator needs a string \"expression\"".into(),
            )),
        },
        _ => return None,
    })
}

fn current_time() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let utc = civil(now);
    match local_offset(now) {
        Some((offset, zone)) if offset != 0 => {
            let local = civil(now + offset);
            format!("{} UTC; local time {} {zone}", utc, local)
        }
        _ => format!("{utc} UTC"),
    }
}

/// `2026-12-06 10:41:07 (Sunday)` for seconds since 1970 (UTC).
fn civil(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let time = seconds.rem_euclid(86_400);
    let (year, month, day) = crate::calendar::civil_date(days);
    const WEEKDAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} ({})",
        time / 3600,
        time % 3600 / 60,
        time % 60,
        WEEKDAYS[days.rem_euclid(7) as usize]
    )
}

/// The server's UTC offset in seconds and its zone's abbreviation.
fn local_offset(seconds: i64) -> Option<(i64, String)> {
    let t = seconds as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`, which outlives the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return None;
    }
    let zone = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: tm_zone points at a NUL-terminated static string.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    Some((tm.tm_gmtoff, zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_come_out_right() {
        assert_eq!(civil(0), "1970-01-01 00:00:00 (Thursday)");
        assert_eq!(civil(1_796_552_467), "2026-12-06 10:21:07 (Sunday)");
        assert_eq!(civil(951_782_400), "2000-02-29 00:00:00 (Tuesday)");
    }

    #[test]
    fn the_calculator_reports_bad_arguments() {
        let sum = call("calculator", &json!({"expression": "6*7"})).unwrap();
        assert_eq!(sum.unwrap(), "42");
        assert!(matches!(
            call("calculator", &json!({"expr": "6*7"})).unwrap(),
            Err(ToolError::Arguments(_))
        ));
        assert!(call("rm", &json!({})).is_none());
        assert!(call("get_current_time", &json!({}))
            .unwrap()
            .unwrap()
            .contains("UTC"));
    }
}
