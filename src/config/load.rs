//! Loading and validating configuration, collecting every problem with its path.
//!
//! Each section of a supplier is read on its own, so one typo does not hide the problems after
//! it; then the values are checked together (URLs against `allow_insecure_http`, secrets
//! against the environment, ids against each other).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{
    AuthConfig, BreakerConfig, ConfigFile, LimitsConfig, Protocol, RetryConfig, Secret,
    SecretOrigin, SupplierConfig,
};
use crate::error::{Error, Operation, Problem, join_path};
use crate::model::{SkuRules, StatusMap, SupplierId};

/// Looks up an environment variable.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

const SUPPLIER_FIELDS: &[&str] = &[
    "id",
    "name",
    "protocol",
    "base_url",
    "allow_insecure_http",
    "auth",
    "headers",
    "limits",
    "retry",
    "breaker",
    "sku_rules",
    "status_map",
    "operations",
    "webhook",
    "sync",
    "fulfillment",
    "rest",
    "soap",
    "graphql",
];

/// Operation names an `operations` object may hold.
pub const OPERATION_NAMES: &[&str] = &[
    "stock",
    "crawl_stock",
    "place_order",
    "order_status",
    "cancel_order",
];

impl ConfigFile {
    /// Reads and validates a config file, resolving `env:` secrets from the process
    /// environment.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(vec![Problem::new(
                "",
                format!("cannot read {}: {e}", path.display()),
            )])
            .with_operation(Operation::LoadConfig)
        })?;
        Self::from_json(&text)
    }

    /// Validates a config file's text, resolving `env:` secrets from the process environment.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        Self::from_json_with_env(text, &process_env)
    }

    /// Validates a config file's text, resolving `env:` secrets through `env`.
    ///
    /// ```
    /// use dropship::config::ConfigFile;
    /// let text = r#"{"suppliers": [
    ///     {"id": "a", "protocol": "rest", "base_url": "http://10.0.0.1",
    ///      "auth": {"kind": "bearer", "token": "env:A_TOKEN"}},
    ///     {"id": "a", "protocol": "soup", "base_url": "https://b.example"}]}"#;
    /// let err = ConfigFile::from_json_with_env(text, &|_| None).unwrap_err();
    /// let paths: Vec<_> = err.problems().iter().map(|p| p.path.as_str()).collect();
    /// assert_eq!(paths, [
    ///     "suppliers[0].base_url",
    ///     "suppliers[0].auth.token",
    ///     "suppliers[1].protocol",
    ///     "suppliers[1].id",
    /// ]);
    /// ```
    pub fn from_json_with_env(text: &str, env: EnvLookup<'_>) -> Result<Self, Error> {
        let root = parse_json(text)?;
        let mut problems = Vec::new();
        let Value::Object(mut root) = root else {
            return Err(config_error(vec![Problem::new(
                "",
                "the file must hold a JSON object with a \"suppliers\" array",
            )]));
        };
        const TOP_FIELDS: &[&str] = &["suppliers", "sync", "fulfillment"];
        for key in root.keys() {
            if !TOP_FIELDS.contains(&key.as_str()) {
                problems.push(unknown_field(key, key, TOP_FIELDS));
            }
        }
        let sync = optional::<super::SyncConfig>(&mut root, "sync", &mut problems);
        if let Some(s) = &sync {
            problems.extend(prefixed("sync", s.problems()));
        }
        let fulfillment =
            optional::<super::FulfillmentConfig>(&mut root, "fulfillment", &mut problems);
        let list = match root.remove("suppliers") {
            Some(Value::Array(list)) if !list.is_empty() => list,
            Some(Value::Array(_)) => {
                problems.push(Problem::new("suppliers", "must list at least one supplier"));
                Vec::new()
            }
            Some(_) => {
                problems.push(Problem::new("suppliers", "must be an array of suppliers"));
                Vec::new()
            }
            None => {
                problems.push(Problem::new("suppliers", "is required"));
                Vec::new()
            }
        };
        let mut suppliers = Vec::new();
        let mut first_index: BTreeMap<String, usize> = BTreeMap::new();
        for (i, value) in list.into_iter().enumerate() {
            let path = format!("suppliers[{i}]");
            let id = value.get("id").and_then(Value::as_str).map(str::to_string);
            match parse_supplier(value, env) {
                Ok(s) => suppliers.push(s),
                Err(ps) => problems.extend(prefixed(&path, ps)),
            }
            if let Some(id) = id {
                if let Some(first) = first_index.get(&id) {
                    problems.push(Problem::new(
                        format!("{path}.id"),
                        format!("{id:?} is already the id of suppliers[{first}]"),
                    ));
                } else {
                    first_index.insert(id, i);
                }
            }
        }
        if let Some(f) = &fulfillment {
            let ids: Vec<SupplierId> = suppliers.iter().map(|s| s.id.clone()).collect();
            problems.extend(prefixed("fulfillment", f.problems(&ids)));
        }
        match (sync, fulfillment) {
            (Some(sync), Some(fulfillment)) if problems.is_empty() => Ok(ConfigFile {
                suppliers,
                sync,
                fulfillment,
            }),
            _ => Err(config_error(problems)),
        }
    }
}

impl SupplierConfig {
    /// Validates one supplier's JSON object, resolving `env:` secrets from the process
    /// environment. Problem paths are relative to the object (`auth.token_url`).
    pub fn from_json(text: &str) -> Result<Self, Error> {
        Self::from_json_with_env(text, &process_env)
    }

    /// Like [`from_json`](SupplierConfig::from_json), resolving secrets through `env`.
    pub fn from_json_with_env(text: &str, env: EnvLookup<'_>) -> Result<Self, Error> {
        parse_supplier(parse_json(text)?, env).map_err(config_error)
    }
}

fn config_error(problems: Vec<Problem>) -> Error {
    Error::config(problems).with_operation(Operation::LoadConfig)
}

fn parse_json(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| {
        config_error(vec![Problem::new(
            "",
            format!(
                "not valid JSON at line {} column {}: {}",
                e.line(),
                e.column(),
                strip_position(&e.to_string())
            ),
        )])
    })
}

/// serde_json appends " at line L column C"; we state the position ourselves.
fn strip_position(msg: &str) -> &str {
    msg.rfind(" at line ").map_or(msg, |i| &msg[..i])
}

fn prefixed(prefix: &str, problems: Vec<Problem>) -> impl Iterator<Item = Problem> + '_ {
    problems
        .into_iter()
        .map(move |p| Problem::new(join_path(prefix, &p.path), p.message))
}

fn unknown_field(path: &str, key: &str, known: &[&str]) -> Problem {
    let hint = known
        .iter()
        .filter(|k| edit_distance(k, key) <= 2)
        .min_by_key(|k| edit_distance(k, key))
        .map(|k| format!("; did you mean {k:?}?"))
        .unwrap_or_else(|| format!("; expected one of {}", known.join(", ")));
    Problem::new(path, format!("unknown field{hint}"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Reads one field with serde, recording a located problem on failure.
/// `Ok(None)` when absent (or `null`); `Err(())` when present and wrong.
fn field<T: DeserializeOwned>(
    obj: &mut Map<String, Value>,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Result<Option<T>, ()> {
    let Some(value) = obj.remove(key) else {
        return Ok(None);
    };
    if value.is_null() {
        return Ok(None);
    }
    deserialize_at(&value, key)
        .map(Some)
        .map_err(|p| problems.push(p))
}

/// Deserializes one section of configuration, locating a failure inside it: the problem's path
/// is `path` joined with serde's own path to the value that did not fit
/// (`operations.stock` + `batch_size`). Every config reader uses this, so paths read the same
/// everywhere.
pub(crate) fn deserialize_at<T: DeserializeOwned>(value: &Value, path: &str) -> Result<T, Problem> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let inner = e.path().to_string();
        let message = e.into_inner().to_string();
        let inner = match (inner.as_str(), value) {
            (".", Value::Object(map)) => culprit(map, &message).unwrap_or_default(),
            (".", _) => String::new(),
            _ => inner,
        };
        Problem::new(join_path(path, &inner), message)
    })
}

/// The field of `map` an unlocated error is about. Serde reads a section told apart by
/// `kind` (an internally tagged enum, such as `auth`) from a buffered copy and loses the path
/// inside it; its message still names an unknown field, or shows the value that did not fit.
/// That is tied to a field only when exactly one value anywhere in the section fits it and
/// that value is a field's own: otherwise the section is named, as serde left it.
fn culprit(map: &Map<String, Value>, message: &str) -> Option<String> {
    if !map.contains_key("kind") {
        return None;
    }
    let quoted = |prefix: &str| {
        let rest = message.strip_prefix(prefix)?;
        Some(rest.split_once('`')?.0.to_string())
    };
    if let Some(name) = quoted("unknown field `") {
        return Some(name);
    }
    let fits: Box<dyn Fn(&Value) -> bool> = if let Some(word) = quoted("unknown variant `") {
        Box::new(move |v| v.as_str() == Some(word.as_str()))
    } else {
        let shown = message
            .strip_prefix("invalid type: ")
            .or_else(|| message.strip_prefix("invalid value: "))?
            .to_string();
        Box::new(move |v| shows(&shown, v))
    };
    // Every value in the section that fits, nested ones included.
    fn count(v: &Value, fits: &dyn Fn(&Value) -> bool) -> usize {
        let inner = match v {
            Value::Object(m) => m.values().map(|x| count(x, fits)).sum(),
            Value::Array(items) => items.iter().map(|x| count(x, fits)).sum(),
            _ => 0,
        };
        inner + usize::from(fits(v))
    }
    let total: usize = map.values().map(|v| count(v, fits.as_ref())).sum();
    let mut own = map.iter().filter(|(_, v)| fits(v)).map(|(k, _)| k);
    match (total, own.next()) {
        (1, Some(only)) => Some(only.clone()),
        _ => None,
    }
}

/// Whether `v` is the value serde shows as `shown` (`string "read"`, `integer `5``, `map`).
fn shows(shown: &str, v: &Value) -> bool {
    if let Some(text) = shown.strip_prefix("string ") {
        return v
            .as_str()
            .is_some_and(|s| text.starts_with(&format!("{s:?}")));
    }
    let scalar = |kind: &str| shown.strip_prefix(kind).and_then(|r| r.split('`').nth(1));
    if let Some(n) = scalar("integer ").or_else(|| scalar("floating ")) {
        return v
            .as_number()
            .is_some_and(|x| n.parse::<serde_json::Number>().ok().as_ref() == Some(x));
    }
    if let Some(b) = scalar("boolean ") {
        return v.as_bool().is_some() && v.as_bool() == b.parse::<bool>().ok();
    }
    (shown.starts_with("map") && v.is_object())
        || (shown.starts_with("sequence") && v.is_array())
        || (shown.starts_with("null") && v.is_null())
}

fn required<T: DeserializeOwned>(
    obj: &mut Map<String, Value>,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    match field(obj, key, problems) {
        Ok(Some(v)) => Some(v),
        Ok(None) => {
            problems.push(Problem::new(key, "is required"));
            None
        }
        Err(()) => None,
    }
}

fn optional<T: DeserializeOwned + Default>(
    obj: &mut Map<String, Value>,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    field(obj, key, problems)
        .ok()
        .map(Option::unwrap_or_default)
}

fn parse_supplier(value: Value, env: EnvLookup<'_>) -> Result<SupplierConfig, Vec<Problem>> {
    let Value::Object(mut obj) = value else {
        return Err(vec![Problem::new("", "must be a JSON object")]);
    };
    let mut problems = Vec::new();
    for key in obj.keys() {
        if !SUPPLIER_FIELDS.contains(&key.as_str()) {
            problems.push(unknown_field(key, key, SUPPLIER_FIELDS));
        }
    }
    let id = required::<String>(&mut obj, "id", &mut problems).and_then(|id| {
        SupplierId::new(id)
            .map_err(|e| problems.push(Problem::new("id", e.message())))
            .ok()
    });
    let name = optional::<Option<String>>(&mut obj, "name", &mut problems).flatten();
    let protocol = required::<Protocol>(&mut obj, "protocol", &mut problems);
    let allow_insecure_http =
        optional::<bool>(&mut obj, "allow_insecure_http", &mut problems).unwrap_or(false);
    let base_url = required::<String>(&mut obj, "base_url", &mut problems)
        .and_then(|u| check_base_url(&u, allow_insecure_http, &mut problems));
    let mut auth = optional::<AuthConfig>(&mut obj, "auth", &mut problems);
    if let Some(auth) = &mut auth {
        check_auth(
            auth,
            base_url.as_ref(),
            allow_insecure_http,
            env,
            &mut problems,
        );
    }
    if let (Some(AuthConfig::Wsse { .. }), Some(p)) = (&auth, protocol)
        && p != Protocol::Soap
    {
        // WS-Security lives in a SOAP envelope's header; anywhere else it would send nothing.
        problems.push(Problem::new(
            "auth.kind",
            "\"wsse\" applies only to suppliers with \"protocol\": \"soap\"",
        ));
    }
    let headers = optional::<BTreeMap<String, String>>(&mut obj, "headers", &mut problems);
    if let Some(headers) = &headers {
        check_headers(headers, &mut problems);
    }
    let limits = optional::<LimitsConfig>(&mut obj, "limits", &mut problems);
    if let Some(l) = &limits {
        problems.extend(prefixed("limits", l.problems()));
    }
    let retry = optional::<RetryConfig>(&mut obj, "retry", &mut problems);
    if let Some(r) = &retry {
        problems.extend(prefixed("retry", r.problems()));
    }
    let breaker = optional::<BreakerConfig>(&mut obj, "breaker", &mut problems);
    if let Some(b) = &breaker {
        problems.extend(prefixed("breaker", b.problems()));
    }
    let sku_rules = optional::<SkuRules>(&mut obj, "sku_rules", &mut problems);
    let status_map = optional::<StatusMap>(&mut obj, "status_map", &mut problems);
    let operations = optional::<BTreeMap<String, Value>>(&mut obj, "operations", &mut problems);
    if let Some(ops) = &operations {
        for (name, spec) in ops {
            let path = format!("operations.{name}");
            if !OPERATION_NAMES.contains(&name.as_str()) {
                problems.push(unknown_field(&path, name, OPERATION_NAMES));
            } else if !spec.is_object() {
                problems.push(Problem::new(path, "must be a JSON object"));
            }
        }
    }
    let mut webhook =
        optional::<Option<super::WebhookConfig>>(&mut obj, "webhook", &mut problems).flatten();
    if let Some(w) = &mut webhook {
        problems.extend(prefixed("webhook", w.problems()));
        for (i, secret) in w.secrets.iter_mut().enumerate() {
            if let Err(message) = secret.resolve(env) {
                problems.push(Problem::new(format!("webhook.secrets[{i}]"), message));
            }
        }
    }
    let sync = optional::<super::SupplierSyncConfig>(&mut obj, "sync", &mut problems);
    if let Some(s) = &sync {
        problems.extend(prefixed("sync", s.problems()));
    }
    let fulfillment =
        optional::<super::SupplierFulfillmentConfig>(&mut obj, "fulfillment", &mut problems);
    if let Some(f) = &fulfillment {
        problems.extend(prefixed("fulfillment", f.problems()));
    }
    let mut protocol_options = Value::Null;
    for (key, which) in [
        ("rest", Protocol::Rest),
        ("soap", Protocol::Soap),
        ("graphql", Protocol::Graphql),
    ] {
        let Some(v) = obj.remove(key) else { continue };
        if !v.is_object() {
            problems.push(Problem::new(key, "must be a JSON object"));
        } else if protocol.is_some_and(|p| p != which) {
            problems.push(Problem::new(
                key,
                format!("applies only to suppliers with \"protocol\": \"{key}\""),
            ));
        } else {
            protocol_options = v;
        }
    }
    match (
        id,
        protocol,
        base_url,
        auth,
        headers,
        limits,
        retry,
        breaker,
        sku_rules,
        status_map,
        operations,
        sync,
        fulfillment,
    ) {
        (
            Some(id),
            Some(protocol),
            Some(base_url),
            Some(auth),
            Some(headers),
            Some(limits),
            Some(retry),
            Some(breaker),
            Some(sku_rules),
            Some(status_map),
            Some(operations),
            Some(sync),
            Some(fulfillment),
        ) if problems.is_empty() => Ok(SupplierConfig {
            id,
            name,
            protocol,
            base_url,
            allow_insecure_http,
            auth,
            headers,
            limits,
            retry,
            breaker,
            sku_rules,
            status_map,
            operations,
            webhook,
            option_secrets: option_secrets(&protocol_options, env),
            protocol_options,
            sync,
            fulfillment,
        }),
        _ => Err(problems),
    }
}

/// Reads every `"secret": "env:NAME"` inside a supplier's protocol options through `env`, the
/// lookup the loader uses for `auth`. Only the values are kept (as secrets); the options
/// themselves keep the reference, so they never hold a secret's text.
fn option_secrets(options: &Value, env: EnvLookup<'_>) -> BTreeMap<String, SecretString> {
    fn walk(v: &Value, env: EnvLookup<'_>, out: &mut BTreeMap<String, SecretString>) {
        match v {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("secret", Value::String(text)) => {
                            // Named as the adapter will ask for it (trimmed, as `Secret` reads).
                            if let SecretOrigin::Env(name) = Secret::from_config(text).origin()
                                && let Some(found) = env(name)
                            {
                                out.insert(name.clone(), SecretString::from(found));
                            }
                        }
                        (_, nested) => walk(nested, env, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, env, out)),
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk(options, env, &mut out);
    out
}

/// Whether a URL's host is on this machine, where plain HTTP cannot be sniffed.
pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check_url(
    path: &str,
    url: &reqwest::Url,
    allow_insecure_http: bool,
    problems: &mut Vec<Problem>,
) -> bool {
    let before = problems.len();
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure_http || is_loopback(url) => {}
        "http" => problems.push(Problem::new(
            path,
            "must be https (plain http is allowed only to loopback addresses, or with \
             \"allow_insecure_http\": true)",
        )),
        other => problems.push(Problem::new(
            path,
            format!("scheme {other:?} is not supported; use https"),
        )),
    }
    if !url.username().is_empty() || url.password().is_some() {
        problems.push(Problem::new(
            path,
            "must not embed credentials; put them in \"auth\"",
        ));
    }
    problems.len() == before
}

fn check_base_url(
    text: &str,
    allow_insecure_http: bool,
    problems: &mut Vec<Problem>,
) -> Option<reqwest::Url> {
    let url = match reqwest::Url::parse(text) {
        Ok(u) => u,
        Err(e) => {
            problems.push(Problem::new("base_url", format!("is not a URL: {e}")));
            return None;
        }
    };
    let mut ok = check_url("base_url", &url, allow_insecure_http, problems);
    if url.query().is_some() || url.fragment().is_some() {
        problems.push(Problem::new(
            "base_url",
            "must not have a query or fragment; keys belong in \"auth\", parameters in \"operations\"",
        ));
        ok = false;
    }
    ok.then_some(url)
}

fn check_auth(
    auth: &mut AuthConfig,
    base_url: Option<&reqwest::Url>,
    allow_insecure_http: bool,
    env: EnvLookup<'_>,
    problems: &mut Vec<Problem>,
) {
    for (path, url) in auth.urls() {
        let path = format!("auth.{path}");
        // A relative endpoint ("/auth/token") is joined to base_url by the authenticator, so it
        // inherits base_url's scheme, already checked.
        if url.starts_with('/') && base_url.is_some() {
            continue;
        }
        let resolved = match reqwest::Url::parse(url) {
            Ok(u) => Some(u),
            Err(e) => {
                problems.push(Problem::new(path.clone(), format!("is not a URL: {e}")));
                None
            }
        };
        if let Some(u) = resolved {
            check_url(&path, &u, allow_insecure_http, problems);
        }
    }
    for (path, name) in auth.required_names() {
        if name.trim().is_empty() {
            problems.push(Problem::new(format!("auth.{path}"), "must not be empty"));
        }
    }
    if let AuthConfig::TokenExchange {
        token_pointer,
        expires_in_pointer,
        expires_at_pointer,
        refresh_token_pointer,
        ..
    } = auth
    {
        let pointers = [
            ("token_pointer", Some(token_pointer.as_str())),
            ("expires_in_pointer", expires_in_pointer.as_deref()),
            ("expires_at_pointer", expires_at_pointer.as_deref()),
            ("refresh_token_pointer", refresh_token_pointer.as_deref()),
        ];
        for (path, p) in pointers {
            if p.is_some_and(|p| !p.starts_with('/')) {
                problems.push(Problem::new(
                    format!("auth.{path}"),
                    "must be a JSON Pointer starting with '/', such as /data/accessToken",
                ));
            }
        }
    }
    for (path, secret) in auth.secrets_mut() {
        if let Err(message) = secret.resolve(env) {
            problems.push(Problem::new(format!("auth.{path}"), message));
        }
    }
}

fn check_headers(headers: &BTreeMap<String, String>, problems: &mut Vec<Problem>) {
    for (name, value) in headers {
        let path = format!("headers.{name}");
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            problems.push(Problem::new(path, "is not a valid header name"));
        } else if reqwest::header::HeaderValue::from_str(value).is_err() {
            problems.push(Problem::new(path, "is not a valid header value"));
        } else if name.eq_ignore_ascii_case("authorization") {
            problems.push(Problem::new(
                path,
                "credentials belong in \"auth\", where they are kept secret",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unlocated_errors_are_tied_to_a_field_only_inside_kind_tagged_sections() {
        // Not a tagged section: serde's own (empty) path stands.
        let e = deserialize_at::<String>(&json!({"en": {"x": 1}}), "name").unwrap_err();
        assert_eq!(e.path, "name");
        // A value that fits twice, once nested in another field: no guess.
        let hmac = json!({"kind": "hmac", "parts": ["method", "X-Ts"], "timestamp_header": "X-Ts"});
        let Value::Object(map) = &hmac else {
            unreachable!()
        };
        assert_eq!(
            culprit(map, "unknown variant `X-Ts`, expected one of"),
            None
        );
        assert_eq!(
            culprit(map, "unknown variant `method`, expected one of"),
            None,
            "a value inside a list is not a field's own"
        );
        let one = json!({"kind": "bearer", "token": 5});
        let Value::Object(map) = &one else {
            unreachable!()
        };
        assert_eq!(
            culprit(map, "invalid type: integer `5`, expected a string").as_deref(),
            Some("token")
        );
    }

    #[test]
    fn option_secrets_are_named_as_the_adapter_asks_for_them() {
        let options = json!({"session": {"params": [
            {"name": "apiKey", "secret": "env: API_KEY "},
            {"name": "user", "secret": "inline-user"},
            {"name": "other", "secret": "env:UNKNOWN"}
        ]}});
        let found = option_secrets(&options, &|name| {
            (name == "API_KEY").then(|| "k3y".to_string())
        });
        assert_eq!(found.keys().collect::<Vec<_>>(), ["API_KEY"]);
        assert!(!format!("{found:?}").contains("k3y"));
    }
}
