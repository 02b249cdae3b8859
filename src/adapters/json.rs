//! Reading supplier JSON by JSON Pointer, with errors that name the place that did not fit.
//! Shared by the JSON-speaking adapters.

use serde_json::Value;

use crate::error::{Error, ErrorKind};

/// Parses a response body. A body that ends early (a cut connection, a proxy's size limit) is
/// told apart from one that is malformed.
pub fn parse_body(body: &[u8], what: &str) -> Result<Value, Error> {
    serde_json::from_slice(body).map_err(|e| {
        let why = if e.is_eof() {
            "is truncated (the JSON ends early)"
        } else {
            "is not valid JSON"
        };
        Error::new(
            ErrorKind::Protocol,
            format!("{what} {why} at line {} column {}", e.line(), e.column()),
        )
    })
}

/// The list at `pointer` (`""` is the whole document). Missing or not a list is a
/// [`Protocol`](ErrorKind::Protocol) error naming the pointer.
pub fn list_at<'a>(doc: &'a Value, pointer: &str) -> Result<&'a Vec<Value>, Error> {
    match doc.pointer(pointer) {
        Some(Value::Array(items)) => Ok(items),
        Some(Value::Null) | None => Err(Error::new(
            ErrorKind::Protocol,
            format!("no item list at {}", show(pointer)),
        )),
        Some(other) => Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "{}: expected a list, found {}",
                show(pointer),
                type_name(other)
            ),
        )),
    }
}

/// Text at `pointer`: strings as they are, numbers as their decimal text (suppliers send ids
/// both ways). `Ok(None)` when absent or `null`; other types are errors naming `at`.
pub fn text_at(item: &Value, pointer: &str, at: &str) -> Result<Option<String>, Error> {
    match item.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(Error::new(
            ErrorKind::Protocol,
            format!("{at}{pointer}: expected text, found {}", type_name(other)),
        )),
    }
}

/// A non-negative integer at `pointer` (a number or digits in a string). `Ok(None)` when absent.
pub fn u64_at(item: &Value, pointer: &str, at: &str) -> Result<Option<u64>, Error> {
    let bad = |found: &str| {
        Error::new(
            ErrorKind::Protocol,
            format!("{at}{pointer}: expected a whole number, found {found}"),
        )
    };
    match item.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| bad(&n.to_string())),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad("text")),
        Some(other) => Err(bad(type_name(other))),
    }
}

/// A JSON type's name, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn show(pointer: &str) -> &str {
    if pointer.is_empty() {
        "the document root"
    } else {
        pointer
    }
}

/// Whether `pointer` is a JSON Pointer (`""` or starting with `/`).
pub fn is_pointer(pointer: &str) -> bool {
    pointer.is_empty() || pointer.starts_with('/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_place() {
        let doc = json!({"data": {"list": {"x": 1}, "n": "12", "bad": -1}});
        assert!(
            list_at(&doc, "/data/list")
                .unwrap_err()
                .to_string()
                .contains("/data/list: expected a list, found an object")
        );
        assert!(
            list_at(&doc, "/data/none")
                .unwrap_err()
                .to_string()
                .contains("no item list at /data/none")
        );
        assert_eq!(u64_at(&doc, "/data/n", "").unwrap(), Some(12));
        assert!(
            u64_at(&doc, "/data/bad", "/items/0")
                .unwrap_err()
                .to_string()
                .contains("/items/0/data/bad")
        );
        assert_eq!(
            text_at(&json!({"id": 7}), "/id", "").unwrap().as_deref(),
            Some("7")
        );
        let truncated = parse_body(br#"{"data": [1, 2"#, "stock response").unwrap_err();
        assert!(truncated.to_string().contains("truncated"), "{truncated}");
        let bad = parse_body(br#"{"data": nope}"#, "stock response").unwrap_err();
        assert!(bad.to_string().contains("not valid JSON"), "{bad}");
    }
}
