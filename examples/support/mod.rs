//! What the config-driven examples share: argument reading, progress on stderr, one-line
//! errors, and the JSON summary each prints as its last line on stdout.

#![allow(dead_code)] // each example uses its own subset

use std::collections::BTreeMap;
use std::time::Instant;

use dropship::Error;
use serde_json::{Value, json};

/// `--name value` from the command line.
pub fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == name {
            return args.next();
        }
        if let Some(v) = a.strip_prefix(&format!("{name}=")) {
            return Some(v.to_string());
        }
    }
    None
}

/// A required argument, or the usage line and exit status 2.
pub fn required(name: &str, usage: &str) -> String {
    arg(name).unwrap_or_else(|| {
        eprintln!("error: {name} is required\nusage: {usage}");
        std::process::exit(2);
    })
}

/// `--name SECONDS` as a duration, or the usage line and exit status 2.
pub fn seconds(name: &str, usage: &str) -> Option<std::time::Duration> {
    arg(name).map(|s| {
        s.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0 && *v < 1e9)
            .map(std::time::Duration::from_secs_f64)
            .unwrap_or_else(|| {
                eprintln!("error: {name} {s:?} is not a number of seconds\nusage: {usage}");
                std::process::exit(2);
            })
    })
}

/// An error on one line: kind, operation, message, then every located problem.
pub fn one_line(e: &Error) -> String {
    let head = e.to_string();
    let head = head.lines().next().unwrap_or_default().to_string();
    if e.problems().is_empty() {
        return head;
    }
    let problems: Vec<String> = e
        .problems()
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect();
    format!("{head}: {}", problems.join("; "))
}

/// Stops with one error line on stderr and the summary on stdout, exit status 1.
pub fn fail(e: &Error, summary: Value) -> ! {
    eprintln!("error: {}", one_line(e));
    println!("{summary}");
    std::process::exit(1);
}

/// Counts errors by kind, for summaries.
pub fn by_kind<'a>(errors: impl IntoIterator<Item = &'a Error>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in errors {
        *out.entry(e.kind().as_str().to_string()).or_insert(0) += 1;
    }
    out
}

/// Milliseconds since `started`.
pub fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The summary for a run that failed before doing anything.
pub fn early(started: Instant, e: &Error) -> Value {
    json!({"ok": false, "errors_by_kind": by_kind([e]), "elapsed_ms": elapsed_ms(started)})
}
