//! A GraphQL answer as it is: `data`, `errors` and `extensions`, all three kept.
//!
//! Popular GraphQL client crates drop the top-level `extensions`, which is where suppliers put
//! their cost and rate-limit data; [`GraphqlResponse`] keeps it readable.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use super::spec::DEFAULT_ERROR_CODES;
use crate::error::{Error, ErrorKind, Problem};
use crate::transport::{QueryCost, Response, status_kind};

/// One entry of a GraphQL `errors` array.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlError {
    /// The message, sanitized.
    pub message: String,
    /// The `path` as a JSON Pointer into `data` (`["productVariants","nodes",3]` is
    /// `/productVariants/nodes/3`), when the error has one.
    pub path: Option<String>,
    /// `extensions.code`, when given.
    pub code: Option<String>,
    /// The error's own `extensions`, as sent.
    pub extensions: Option<Value>,
}

impl GraphqlError {
    pub(crate) fn from_value(v: &Value) -> Self {
        let message = v.get("message").and_then(Value::as_str).map_or_else(
            || "error without a message".to_string(),
            crate::error::sanitize,
        );
        let path = v.get("path").and_then(Value::as_array).map(|segments| {
            let mut p = String::new();
            for s in segments {
                p.push('/');
                match s {
                    Value::String(s) => p.push_str(&s.replace('~', "~0").replace('/', "~1")),
                    other => p.push_str(&other.to_string()),
                }
            }
            p
        });
        let extensions = v.get("extensions").cloned();
        let code = extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .and_then(Value::as_str)
            .map(str::to_string)
            // Older Shopify throttled answers carry only the message "Throttled".
            .or_else(|| (message == "Throttled").then(|| "THROTTLED".to_string()));
        GraphqlError {
            message,
            path,
            code,
            extensions,
        }
    }

    /// The message with the path, for error texts: `/productVariants/nodes/3: Internal error`.
    pub fn describe(&self) -> String {
        match &self.path {
            Some(p) => format!("{p}: {}", self.message),
            None => self.message.clone(),
        }
    }

    /// Whether the error's path lies at or under the JSON Pointer `prefix` (segment-wise, so
    /// `/a/1` is not under `/a/10`).
    pub fn is_under(&self, prefix: &str) -> bool {
        self.path.as_deref().is_some_and(|p| under(p, prefix))
    }
}

/// Whether JSON Pointer `path` is `prefix` or lies under it.
pub(crate) fn under(path: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || path == prefix
        || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

/// A whole GraphQL answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlResponse {
    /// `data`; `Null` when absent.
    pub data: Value,
    /// `errors`, in order.
    pub errors: Vec<GraphqlError>,
    /// The top-level `extensions` (cost, rate limits, tracing), as sent.
    pub extensions: Option<Value>,
}

impl GraphqlResponse {
    /// Reads an answer body. A body that is not a JSON object is a
    /// [`Protocol`](ErrorKind::Protocol) error.
    pub fn from_slice(body: &[u8]) -> Result<Self, Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            data: Value,
            #[serde(default)]
            errors: Value,
            #[serde(default)]
            extensions: Option<Value>,
        }
        let raw: Raw = serde_json::from_slice(body).map_err(|e| {
            Error::new(
                ErrorKind::Protocol,
                format!("the GraphQL answer is not a JSON object: {e}"),
            )
        })?;
        let errors = match &raw.errors {
            Value::Array(list) => list.iter().map(GraphqlError::from_value).collect(),
            Value::Null => Vec::new(),
            other => vec![GraphqlError::from_value(other)],
        };
        Ok(GraphqlResponse {
            data: raw.data,
            errors,
            extensions: raw.extensions.filter(|e| !e.is_null()),
        })
    }

    /// The cost object at `pointer` inside `extensions`, read as Shopify shapes it.
    pub fn cost(&self, pointer: &str) -> Option<QueryCost> {
        QueryCost::from_json(self.extensions.as_ref()?.pointer(pointer)?)
    }

    /// The errors at or under the JSON Pointer `prefix` of `data`.
    pub fn errors_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a GraphqlError> {
        self.errors.iter().filter(move |e| e.is_under(prefix))
    }
}

/// `errors[].extensions.code` -> error kind, defaults first, config on top.
#[derive(Debug, Clone)]
pub struct ErrorCodes {
    map: HashMap<String, ErrorKind>,
}

impl ErrorCodes {
    /// [`DEFAULT_ERROR_CODES`] with `extra` added or replacing.
    pub fn new(extra: impl IntoIterator<Item = (String, ErrorKind)>) -> Self {
        let mut map: HashMap<String, ErrorKind> = DEFAULT_ERROR_CODES
            .iter()
            .map(|(c, k)| (c.to_string(), *k))
            .collect();
        map.extend(extra);
        ErrorCodes { map }
    }

    /// The kind of a code, if known.
    pub fn kind(&self, code: &str) -> Option<ErrorKind> {
        self.map.get(code).copied()
    }

    /// The typed error for a list of errors (the first known code wins): its kind, its code and
    /// every message with its path. `http_status` decides when no code is known: a non-2xx
    /// status by its usual meaning, a 2xx as [`Invalid`](ErrorKind::Invalid) (a query the
    /// server refused to run stays refused).
    pub fn error_for(&self, errors: &[GraphqlError], http_status: u16) -> Error {
        let coded = errors
            .iter()
            .find_map(|e| e.code.as_deref().and_then(|c| Some((c, self.kind(c)?))));
        let kind = coded.map(|(_, k)| k).unwrap_or_else(|| {
            reqwest::StatusCode::from_u16(http_status)
                .ok()
                .and_then(status_kind)
                .unwrap_or(ErrorKind::Invalid)
        });
        let code = coded
            .map(|(c, _)| c)
            .or_else(|| errors.iter().find_map(|e| e.code.as_deref()));
        let text: Vec<String> = errors.iter().map(GraphqlError::describe).collect();
        let text = if text.is_empty() {
            "GraphQL error without details".to_string()
        } else {
            text.join("; ")
        };
        let mut err = Error::new(kind, text);
        if let Some(code) = code {
            err = err.with_supplier_code(code);
        }
        err
    }
}

/// Turns mutation `userErrors` (`[{field: [..], message, code}]`) into an
/// [`Invalid`](ErrorKind::Invalid) error with one [`Problem`] per entry, its path being the
/// `field` list joined with dots (`order.lineItems.0.quantity`). `None` when the list is
/// empty or absent.
pub fn user_errors(value: Option<&Value>) -> Option<Error> {
    let list = value?.as_array().filter(|l| !l.is_empty())?;
    let mut problems = Vec::with_capacity(list.len());
    let mut first_code = None;
    for entry in list {
        let field = match entry.get("field") {
            Some(Value::Array(parts)) => parts
                .iter()
                .map(|p| match p {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("."),
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let message = entry
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("rejected without a message");
        let code = entry.get("code").and_then(Value::as_str);
        if first_code.is_none() {
            first_code = code.map(str::to_string);
        }
        let message = match code {
            Some(c) => format!("{} ({c})", crate::error::sanitize(message)),
            None => crate::error::sanitize(message),
        };
        problems.push(Problem::new(field, message));
    }
    let mut err = Error::invalid(problems);
    if let Some(code) = first_code {
        err = err.with_supplier_code(code);
    }
    Some(err)
}

/// What the classifier reads of an answer: errors, whether data came, and `extensions`,
/// skipping over `data` without building it (the adapter reads it once, later).
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    data: Option<IgnoredAny>,
    #[serde(default)]
    errors: Option<Vec<Value>>,
    #[serde(default)]
    extensions: Option<Value>,
}

/// What the classifier learnt from one answer, handed to its observer.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The answer's `extensions`.
    pub extensions: Option<Value>,
    /// The cost object in it, if any.
    pub cost: Option<QueryCost>,
}

/// Classifies every GraphQL answer before the transport looks at its status: `errors` with no
/// `data` become a typed error by `extensions.code`, a throttled one with a `retry_after` of
/// `(requested cost - currentlyAvailable) / restoreRate`; and every answer's `extensions`
/// (cost included) is handed to `observe`, throttled ones too.
pub fn classify(
    response: &Response,
    codes: &ErrorCodes,
    cost_pointer: &str,
    observe: &dyn Fn(Observed),
) -> Option<Error> {
    let envelope: Envelope = serde_json::from_slice(response.body()).ok()?;
    let cost = envelope
        .extensions
        .as_ref()
        .and_then(|e| e.pointer(cost_pointer))
        .and_then(QueryCost::from_json);
    observe(Observed {
        extensions: envelope.extensions,
        cost,
    });
    let errors = envelope.errors.filter(|e| !e.is_empty())?;
    if envelope.data.is_some() {
        // Partial data: the adapter reports the failed items one by one.
        return None;
    }
    let errors: Vec<GraphqlError> = errors.iter().map(GraphqlError::from_value).collect();
    let mut err = codes.error_for(&errors, response.status().as_u16());
    if err.kind() == ErrorKind::Throttled
        && let Some(wait) = cost.and_then(|c| c.retry_after())
    {
        err = err.with_retry_after(wait);
    }
    Some(err)
}

/// A shareable classifier closure for one request.
pub(crate) fn classifier(
    codes: Arc<ErrorCodes>,
    cost_pointer: Arc<str>,
    observe: Arc<dyn Fn(Observed) + Send + Sync>,
) -> impl Fn(&Response) -> Option<Error> + Send + Sync + 'static {
    move |r: &Response| classify(r, &codes, &cost_pointer, &*observe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(status: u16, body: Value) -> Response {
        Response::new(
            reqwest::StatusCode::from_u16(status).unwrap(),
            Default::default(),
            body.to_string(),
        )
    }

    #[test]
    fn errors_without_data_are_typed_by_code() {
        let codes = ErrorCodes::new([("CUSTOM_LIMIT".to_string(), ErrorKind::Throttled)]);
        let cases = [
            ("THROTTLED", ErrorKind::Throttled),
            ("ACCESS_DENIED", ErrorKind::Auth),
            ("NOT_FOUND", ErrorKind::NotFound),
            ("INTERNAL_SERVER_ERROR", ErrorKind::Transient),
            ("MAX_COST_EXCEEDED", ErrorKind::Invalid),
            ("CUSTOM_LIMIT", ErrorKind::Throttled),
            ("SOMETHING_NEW", ErrorKind::Invalid),
        ];
        for (code, kind) in cases {
            let body = json!({"errors": [{"message": "no", "extensions": {"code": code}}]});
            let err = classify(&response(200, body), &codes, "/cost", &|_| {}).unwrap();
            assert_eq!(err.kind(), kind, "{code}");
            assert_eq!(err.supplier_code(), Some(code));
        }
        // No code, non-2xx: the status decides.
        let body = json!({"errors": [{"message": "boom"}]});
        let err = classify(&response(503, body), &codes, "/cost", &|_| {}).unwrap();
        assert_eq!(err.kind(), ErrorKind::Transient);
    }

    #[test]
    fn throttled_waits_for_the_bucket_and_data_with_errors_is_not_claimed() {
        let codes = ErrorCodes::new([]);
        let body = json!({"errors": [{"message": "Throttled"}],
            "extensions": {"cost": {"requestedQueryCost": 50, "actualQueryCost": null,
                "throttleStatus": {"maximumAvailable": 1000, "currentlyAvailable": 0,
                                   "restoreRate": 50}}}});
        let seen = std::sync::Mutex::new(None);
        let err = classify(&response(200, body), &codes, "/cost", &|o| {
            *seen.lock().unwrap() = o.cost;
        })
        .unwrap();
        assert_eq!(err.kind(), ErrorKind::Throttled);
        assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(1)));
        assert_eq!(seen.lock().unwrap().unwrap().requested, Some(50.0));
        let partial = json!({"data": {"x": null}, "errors": [{"message": "m", "path": ["x"]}]});
        assert!(classify(&response(200, partial), &codes, "/cost", &|_| {}).is_none());
        assert!(
            classify(
                &response(200, json!("not an object")),
                &codes,
                "/cost",
                &|_| {}
            )
            .is_none()
        );
    }

    #[test]
    fn paths_become_pointers_and_user_errors_name_fields() {
        let r = GraphqlResponse::from_slice(
            br#"{"data": null, "errors": [{"message": "m", "path": ["a/b", "nodes", 10]}]}"#,
        )
        .unwrap();
        assert_eq!(r.errors[0].path.as_deref(), Some("/a~1b/nodes/10"));
        assert!(r.errors[0].is_under("/a~1b/nodes"));
        assert!(!r.errors[0].is_under("/a~1b/nodes/1"));
        let e = user_errors(Some(&json!([
            {"field": ["order", "lineItems", "0", "quantity"], "message": "must be positive",
             "code": "INVALID"},
            {"field": null, "message": "general"}
        ])))
        .unwrap();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert_eq!(e.problems()[0].path, "order.lineItems.0.quantity");
        assert_eq!(e.problems()[0].message, "must be positive (INVALID)");
        assert_eq!(e.supplier_code(), Some("INVALID"));
        assert!(user_errors(Some(&json!([]))).is_none());
        assert!(user_errors(None).is_none());
    }
}
