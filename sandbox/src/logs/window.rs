//! GetLogEvents' window over a stream and FilterLogEvents' patterns.

use super::{limit, Event};
use crate::awsjson::{opt_str, AwsError, OpResult};
use serde_json::{json, Value};

pub(super) fn event_json(e: &Event) -> Value {
    json!({"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion})
}

/// The most a response holds: 1 MB, counting each event as its message and 26 bytes.
const RESPONSE_BYTES: usize = 1_048_576;

/// GetLogEvents: a window of the stream after (`f/N`) or before (`b/N`) a position.
pub(super) fn get_log_events(events: &[Event], body: &Value) -> OpResult {
    let limit = limit(body, 10_000, 10_000)?;
    let in_range = |e: &&Event| {
        body.get("startTime")
            .and_then(Value::as_i64)
            .is_none_or(|s| e.timestamp >= s)
            && body
                .get("endTime")
                .and_then(Value::as_i64)
                .is_none_or(|t| e.timestamp < t)
    };
    let events: Vec<&Event> = events.iter().filter(in_range).collect();
    let bad_token = || AwsError::invalid_parameter("The specified nextToken is invalid.");
    let (forward, at) = match opt_str(body, "nextToken") {
        Some(t) => {
            let (dir, n) = t.split_once('/').ok_or_else(bad_token)?;
            let n: usize = n.parse().map_err(|_| bad_token())?;
            match dir {
                "f" => (true, n.min(events.len())),
                "b" => (false, n.min(events.len())),
                _ => return Err(bad_token()),
            }
        }
        None if body.get("startFromHead").and_then(Value::as_bool) == Some(true) => (true, 0),
        None => (false, events.len()),
    };
    let (mut start, mut end) = if forward {
        (at, (at + limit).min(events.len()))
    } else {
        (at.saturating_sub(limit), at)
    };
    // The 1 MB cap, from the side the window grows from.
    let size = |e: &&Event| e.message.len() + 26;
    let mut bytes: usize = events[start..end].iter().map(size).sum();
    while bytes > RESPONSE_BYTES && end > start {
        if forward {
            end -= 1;
            bytes -= size(&events[end]);
        } else {
            bytes -= size(&events[start]);
            start += 1;
        }
    }
    Ok(json!({
        "events": events[start..end].iter().map(|e| event_json(e)).collect::<Vec<_>>(),
        "nextForwardToken": format!("f/{end:056}"),
        "nextBackwardToken": format!("b/{start:056}"),
    }))
}

/// FilterLogEvents' pattern, as far as plain terms and quoted phrases: every one must occur.
pub(super) fn matches(pattern: &str, message: &str) -> bool {
    let mut terms = Vec::new();
    let mut rest = pattern.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('"') {
            let (phrase, after) = r.split_once('"').unwrap_or((r, ""));
            terms.push(phrase.to_string());
            rest = after.trim_start();
        } else {
            let (term, after) = rest.split_once(' ').unwrap_or((rest, ""));
            terms.push(term.to_string());
            rest = after.trim_start();
        }
    }
    terms.iter().all(|t| message.contains(t.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| Event {
                timestamp: i as i64,
                message: format!("m{i}"),
                ingestion: 0,
            })
            .collect()
    }

    fn messages(v: &Value) -> Vec<String> {
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn forward_tokens_page_to_the_end_and_then_come_back_unchanged() {
        let ev = events(5);
        let first = get_log_events(&ev, &json!({"startFromHead": true, "limit": 2})).unwrap();
        assert_eq!(messages(&first), ["m0", "m1"]);
        let second = get_log_events(
            &ev,
            &json!({"nextToken": first["nextForwardToken"], "limit": 2}),
        )
        .unwrap();
        assert_eq!(messages(&second), ["m2", "m3"]);
        let third = get_log_events(&ev, &json!({"nextToken": second["nextForwardToken"]})).unwrap();
        assert_eq!(messages(&third), ["m4"]);
        let end = get_log_events(&ev, &json!({"nextToken": third["nextForwardToken"]})).unwrap();
        assert!(messages(&end).is_empty());
        assert_eq!(end["nextForwardToken"], third["nextForwardToken"]);
        // Without a token and not from the head: the newest events, and backwards from there.
        let tail = get_log_events(&ev, &json!({"limit": 2})).unwrap();
        assert_eq!(messages(&tail), ["m3", "m4"]);
        let before = get_log_events(
            &ev,
            &json!({"nextToken": tail["nextBackwardToken"], "limit": 2}),
        )
        .unwrap();
        assert_eq!(messages(&before), ["m1", "m2"]);
        assert_eq!(
            get_log_events(&ev, &json!({"nextToken": "x/1"}))
                .unwrap_err()
                .code,
            "InvalidParameterException"
        );
        assert_eq!(
            get_log_events(&ev, &json!({"limit": 10001}))
                .unwrap_err()
                .code,
            "InvalidParameterException"
        );
    }

    #[test]
    fn filter_patterns_are_terms_and_phrases() {
        assert!(matches("", "anything"));
        assert!(matches("ERROR db", "ERROR: db down"));
        assert!(!matches("ERROR db", "ERROR: cache down"));
        assert!(matches("\"db down\"", "ERROR: db down"));
    }
}
