//! Shared helpers for the transport contract tests: a supplier config pointed at a loopback
//! mock, and a responder that records when each request arrived.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use dropship::config::SupplierConfig;
use dropship::transport::{FixedJitter, Transport, TransportBuilder};
use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

/// A supplier config for `base_url` with fast test policies; `overrides` is merged per section
/// (`{"limits": {...}, "retry": {...}, "breaker": {...}}`).
pub fn config(base_url: &str, overrides: Value) -> SupplierConfig {
    let mut root = json!({
        "id": "test-supplier",
        "protocol": "rest",
        "base_url": base_url,
        "headers": { "X-Store-Id": "store-7" },
        "limits": { "requests_per_second": 1000, "burst": 1000, "max_concurrency": 64,
                    "critical_reserve": 0.0, "timeout": "2s", "connect_timeout": "1s" },
        "retry": { "max_attempts": 3, "base_delay": "10ms", "max_delay": "20ms", "deadline": "10s" },
        "breaker": { "min_calls": 100, "cool_down": "1s" }
    });
    if let (Some(base), Some(extra)) = (root.as_object_mut(), overrides.as_object()) {
        for (section, values) in extra {
            match (base.get_mut(section), values) {
                (Some(Value::Object(b)), Value::Object(v)) => {
                    for (k, x) in v {
                        b.insert(k.clone(), x.clone());
                    }
                }
                _ => {
                    base.insert(section.clone(), values.clone());
                }
            }
        }
    }
    SupplierConfig::from_json(&root.to_string()).expect("test config is valid")
}

/// A builder with deterministic full-backoff jitter.
pub fn builder(base_url: &str, overrides: Value) -> TransportBuilder {
    Transport::builder(&config(base_url, overrides)).jitter(Arc::new(FixedJitter(1.0)))
}

pub fn transport(base_url: &str, overrides: Value) -> Transport {
    builder(base_url, overrides)
        .build()
        .expect("transport builds")
}

/// Answers from a fixed script (the last entry repeats) and records each arrival time.
#[derive(Clone)]
pub struct Script {
    pub answers: Arc<Vec<ResponseTemplate>>,
    pub arrivals: Arc<Mutex<Vec<(Instant, Request)>>>,
}

impl Script {
    pub fn new(answers: Vec<ResponseTemplate>) -> Self {
        Script {
            answers: Arc::new(answers),
            arrivals: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn times(&self) -> Vec<Instant> {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| *t)
            .collect()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }
}

impl Respond for Script {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut arrivals = self.arrivals.lock().unwrap();
        let n = arrivals.len();
        arrivals.push((Instant::now(), request.clone()));
        let i = n.min(self.answers.len() - 1);
        self.answers[i].clone()
    }
}

/// The value of `name` in a recorded request.
pub fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
