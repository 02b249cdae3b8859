//! Business errors inside HTTP answers: many suppliers answer `200 OK` with
//! `{"result": false, "code": 1600200, "message": "Too Many Requests"}`. This classifier runs in
//! the transport before the status rules, so a throttling code in a 200 is retried like a 429
//! and an expired-token code triggers one fresh login, exactly as the HTTP status would.

use serde_json::Value;

use super::spec::RestOptions;
use crate::error::{Error, ErrorKind, sanitize};
use crate::transport::{Response, ResponseClassifier};

/// The supplier's success tests and error-code table, applied to every answer.
#[derive(Debug, Clone)]
pub struct BusinessErrors {
    options: RestOptions,
}

impl BusinessErrors {
    /// From the supplier's `"rest"` options.
    pub fn new(options: RestOptions) -> Self {
        BusinessErrors { options }
    }

    fn code(&self, doc: &Value) -> Option<String> {
        let v = doc.pointer(self.options.error_code.as_deref()?)?;
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn error(&self, doc: &Value, code: Option<String>, kind: ErrorKind) -> Error {
        let message = self
            .options
            .error_message
            .as_deref()
            .and_then(|p| doc.pointer(p))
            .and_then(Value::as_str)
            .map(sanitize)
            .unwrap_or_else(|| "the supplier reported an error".into());
        let mut e = Error::new(kind, message);
        if let Some(c) = code {
            e = e.with_supplier_code(c);
        }
        e
    }
}

impl ResponseClassifier for BusinessErrors {
    fn classify(&self, response: &Response) -> Option<Error> {
        let body = response.body();
        if body.is_empty() {
            return None;
        }
        // A body that is not JSON is the operation's problem to report, with its path.
        let doc: Value = serde_json::from_slice(body).ok()?;
        let code = self.code(&doc);
        let listed = code
            .as_ref()
            .and_then(|c| self.options.error_codes.get(c))
            .copied();
        if !response.status().is_success() {
            // A listed code names the kind whatever the HTTP status (CJ sends 1600200 with
            // both 200 and 429); an unlisted one leaves the status rules in charge.
            return listed.map(|kind| self.error(&doc, code, kind));
        }
        let tests = &self.options.success;
        let failed = if tests.is_empty() {
            listed.is_some()
        } else {
            !tests
                .iter()
                .any(|t| doc.pointer(&t.pointer) == Some(&t.equals))
        };
        failed.then(|| self.error(&doc, code, listed.unwrap_or(ErrorKind::Invalid)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn cj() -> BusinessErrors {
        let options: RestOptions = serde_json::from_value(serde_json::json!({
            "success": [{"pointer": "/result", "equals": true}, {"pointer": "/success", "equals": true}],
            "error_code": "/code",
            "error_message": "/message",
            "error_codes": {"1600001": "auth", "1600200": "throttled", "1600100": "unavailable"}
        }))
        .unwrap();
        BusinessErrors::new(options)
    }

    fn answer(status: u16, body: &str) -> Response {
        Response::new(
            StatusCode::from_u16(status).unwrap(),
            HeaderMap::new(),
            body.as_bytes().to_vec(),
        )
    }

    #[test]
    fn codes_in_a_200_become_kinds() {
        let c = cj();
        let cases = [
            (
                r#"{"code":1600200,"result":false,"message":"Too Many Requests, QPS limit is 1 time/1second"}"#,
                ErrorKind::Throttled,
            ),
            (
                r#"{"code":1600001,"result":false,"message":"Invalid token"}"#,
                ErrorKind::Auth,
            ),
            (
                r#"{"code":1600100,"result":false,"message":"interface offline"}"#,
                ErrorKind::Unavailable,
            ),
            (
                r#"{"code":1609999,"result":false,"message":"Param error"}"#,
                ErrorKind::Invalid,
            ),
        ];
        for (body, kind) in cases {
            let e = c.classify(&answer(200, body)).expect("an error");
            assert_eq!(e.kind(), kind, "{body}");
        }
        let e = c.classify(&answer(200, cases[0].0)).unwrap();
        assert_eq!(e.supplier_code(), Some("1600200"));
        assert!(e.message().starts_with("Too Many Requests"));
    }

    #[test]
    fn success_variants_and_non_json_pass() {
        let c = cj();
        assert!(
            c.classify(&answer(200, r#"{"code":200,"result":true,"data":[]}"#))
                .is_none()
        );
        assert!(
            c.classify(&answer(200, r#"{"success":true,"code":0}"#))
                .is_none()
        );
        assert!(c.classify(&answer(200, "")).is_none());
        assert!(c.classify(&answer(200, "<html>")).is_none());
    }

    #[test]
    fn listed_codes_win_over_the_status_and_unlisted_ones_defer_to_it() {
        let c = cj();
        let e = c
            .classify(&answer(429, r#"{"code":1600200,"result":false}"#))
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert!(
            c.classify(&answer(500, r#"{"code":1,"result":false}"#))
                .is_none()
        );
    }
}
