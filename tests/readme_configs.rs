//! Every JSON example in README.md loads and builds, exactly as a user would copy it.
//!
//! The test reads README.md, takes every fenced block whose language is `json` (or `jsonc`),
//! removes `//` comments outside strings, and checks the block according to what it is:
//!
//! | fence | what it holds | how it is checked |
//! |---|---|---|
//! | `` ```json `` | a whole config file (an object with `"suppliers"`) | `ConfigFile::from_json_with_env`, then every supplier built, then the inventory sync, fulfillment and webhook receivers built from it |
//! | `` ```json `` | one supplier (an object with `"protocol"`) | `SupplierConfig::from_json_with_env`, then built (and its webhook receiver, if any) |
//! | `` ```json supplier-fragment [rest\|soap\|graphql] `` | `"key": value` members of a supplier | merged into a minimal supplier of that protocol (default `rest`), then checked as one |
//! | `` ```json file-fragment `` | `"key": value` members of a config file | merged into a minimal file, then checked as one |
//!
//! Any other `json` block fails the test, so an example cannot be added unchecked. `env:`
//! secrets resolve to a dummy value; `file:` secrets would be read from disk, so the README
//! shows them in prose only. Adapter-level secrets (SOAP session logins) resolve through the
//! same dummy lookup, hence `build_with_env`/`build_all_with_env` rather than `build`/`build_all`
//! (which read the process environment; everything else is identical).
//!
//! Beyond each block on its own, the README as a whole must show a complete supplier for every
//! protocol, a whole file, and an `auth` example for every auth kind the loader accepts (the
//! list is read from the loader's own error message, so a new kind cannot go undocumented).

use std::collections::BTreeSet;
use std::sync::Arc;

use dropship::adapters::{build_all_with_env, build_with_env};
use dropship::config::{ConfigFile, SupplierConfig};
use dropship::fulfillment::Fulfillment;
use dropship::sync::InventorySync;
use dropship::webhook::Receiver;
use serde_json::{Map, Value, json};

fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn dummy_env(_: &str) -> Option<String> {
    Some("dummy-secret".into())
}

// ---- markdown ----------------------------------------------------------------------------

/// One fenced code block.
#[derive(Debug, Clone)]
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    /// The first word of the info string (`json`).
    lang: String,
    /// The other words (`supplier-fragment`, `soap`).
    tags: Vec<String>,
    body: String,
}

/// Every fenced block (backticks or tildes, any indentation), in order. An unclosed fence is an
/// error: everything after it would silently stop being checked.
fn fenced_blocks(markdown: &str) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    let mut open: Option<(Block, String, usize)> = None; // block, fence marker, indent
    for (i, raw) in markdown.lines().enumerate() {
        let indent = raw.len() - raw.trim_start().len();
        let line = raw.trim_start();
        match &mut open {
            None => {
                let marker_char = match line.chars().next() {
                    Some(c @ ('`' | '~')) => c,
                    _ => continue,
                };
                let marker_len = line.chars().take_while(|c| *c == marker_char).count();
                if marker_len < 3 {
                    continue;
                }
                let marker: String = std::iter::repeat_n(marker_char, marker_len).collect();
                let info = line[marker_len..].trim();
                let mut words = info.split_whitespace().map(str::to_string);
                let lang = words.next().unwrap_or_default();
                let tags = words.collect();
                let block = Block {
                    line: i + 1,
                    lang,
                    tags,
                    body: String::new(),
                };
                open = Some((block, marker, indent));
            }
            Some((block, marker, fence_indent)) => {
                let end = line.trim_end();
                let closes =
                    end.starts_with(marker.as_str()) && end.chars().all(|c| marker.starts_with(c));
                if closes {
                    let (block, _, _) = open.take().expect("open");
                    blocks.push(block);
                    continue;
                }
                // Drop the fence's own indentation from the content, as Markdown does.
                let keep = raw
                    .char_indices()
                    .find(|(j, c)| *j >= *fence_indent || !c.is_whitespace())
                    .map_or(raw.len(), |(j, _)| j);
                block.body.push_str(&raw[keep..]);
                block.body.push('\n');
            }
        }
    }
    match open {
        Some((block, _, _)) => Err(format!(
            "README.md line {}: the fence is never closed",
            block.line
        )),
        None => Ok(blocks),
    }
}

/// Removes `//` comments outside JSON strings (to the end of the line, keeping the newline).
/// Strings are followed through their escapes, so `"https://x"` and `"a\"//b"` survive.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => {
                    if let Some(escaped) = chars.next() {
                        out.push(escaped);
                    }
                }
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '/' && chars.peek() == Some(&'/') {
            while chars.peek().is_some_and(|c| *c != '\n') {
                chars.next();
            }
        } else {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    out
}

// ---- classification and checks -------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A whole config file, as written.
    File,
    /// One supplier, as written.
    Supplier,
    /// Supplier members, wrapped into a minimal supplier.
    SupplierFragment,
    /// File members, wrapped into a minimal file.
    FileFragment,
}

/// A block that passed, with the JSON that was checked (after wrapping).
#[derive(Debug)]
struct Checked {
    kind: Kind,
    value: Value,
}

fn base_supplier(protocol: &str) -> Option<Value> {
    Some(match protocol {
        "rest" => json!({"id": "example", "protocol": "rest",
                         "base_url": "https://api.example.com"}),
        "graphql" => json!({"id": "example", "protocol": "graphql",
                            "base_url": "https://shop.example.com"}),
        // A SOAP supplier needs its envelope settings and one operation to build.
        "soap" => json!({"id": "example", "protocol": "soap",
            "base_url": "https://ws.example.com/soap",
            "soap": {"version": "1.1", "namespace": "urn:example"},
            "operations": {"stock": {"operation": "GetStock",
                "params": [{"name": "sku", "from": "skus"}],
                "items": {"path": "GetStockResponse/item", "sku": "@sku", "quantity": "qty"}}}}),
        _ => return None,
    })
}

/// `"key": value` members, as an object.
fn members(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(&format!("{{{text}}}")) {
        Ok(Value::Object(m)) if !m.is_empty() => Ok(m),
        Ok(_) => Err("a fragment must hold at least one \"key\": value member".into()),
        Err(e) => Err(format!(
            "a fragment must be \"key\": value members without surrounding braces: {e}"
        )),
    }
}

fn merged(mut base: Value, fragment: Map<String, Value>) -> Value {
    let obj = base.as_object_mut().expect("base is an object");
    for (k, v) in fragment {
        obj.insert(k, v);
    }
    base
}

fn describe(err: &dropship::Error) -> String {
    let mut s = err.to_string();
    for p in err.problems() {
        let line = format!("{}: {}", p.path, p.message);
        if !s.contains(&line) {
            s.push_str(&format!("\n  - {line}"));
        }
    }
    s
}

fn check_file(value: &Value) -> Result<(), String> {
    let file = ConfigFile::from_json_with_env(&value.to_string(), &dummy_env)
        .map_err(|e| format!("does not load: {}", describe(&e)))?;
    let suppliers = build_all_with_env(&file, Arc::new(dummy_env))
        .map_err(|e| format!("loads but does not build: {}", describe(&e)))?;
    let sync = InventorySync::from_config(&file, suppliers)
        .map_err(|e| format!("the inventory sync refuses it: {}", describe(&e)))?;
    Fulfillment::from_config(&file, sync)
        .map_err(|e| format!("fulfillment refuses it: {}", describe(&e)))?;
    for s in &file.suppliers {
        if s.webhook.is_some() {
            Receiver::from_config(s)
                .map_err(|e| format!("{}: webhook receiver: {}", s.id, describe(&e)))?;
        }
    }
    Ok(())
}

fn check_supplier(value: &Value) -> Result<(), String> {
    let config = SupplierConfig::from_json_with_env(&value.to_string(), &dummy_env)
        .map_err(|e| format!("does not load: {}", describe(&e)))?;
    build_with_env(&config, Arc::new(dummy_env))
        .map_err(|e| format!("loads but does not build: {}", describe(&e)))?;
    if config.webhook.is_some() {
        Receiver::from_config(&config)
            .map_err(|e| format!("webhook receiver: {}", describe(&e)))?;
    }
    Ok(())
}

/// Classifies one `json` block, wraps it if it is a fragment, and checks it.
fn check_block(block: &Block) -> Result<Checked, String> {
    let text = strip_comments(&block.body);
    let tags: Vec<&str> = block.tags.iter().map(String::as_str).collect();
    let (kind, value) = match tags.as_slice() {
        [] => {
            let value: Value = serde_json::from_str(&text).map_err(|e| {
                format!(
                    "not JSON ({e}); a fragment needs a fence tag: \
                     ```json supplier-fragment [rest|soap|graphql] or ```json file-fragment"
                )
            })?;
            let kind = if value.get("suppliers").is_some() {
                Kind::File
            } else if value.get("protocol").is_some() {
                Kind::Supplier
            } else {
                return Err("neither a config file (\"suppliers\") nor a supplier \
                            (\"protocol\"); tag a fragment ```json supplier-fragment or \
                            ```json file-fragment"
                    .into());
            };
            (kind, value)
        }
        ["supplier-fragment", rest @ ..] => {
            let protocol = match rest {
                [] => "rest",
                [p] => p,
                _ => return Err(format!("too many fence tags: {tags:?}")),
            };
            let base = base_supplier(protocol).ok_or_else(|| {
                format!("unknown protocol tag {protocol:?}; use rest, soap or graphql")
            })?;
            (Kind::SupplierFragment, merged(base, members(&text)?))
        }
        ["file-fragment"] => {
            let base = json!({"suppliers": [base_supplier("rest").expect("rest")]});
            (Kind::FileFragment, merged(base, members(&text)?))
        }
        _ => {
            return Err(format!(
                "unknown fence tags {tags:?}; use none, supplier-fragment [protocol] or \
                 file-fragment"
            ));
        }
    };
    match kind {
        Kind::File | Kind::FileFragment => check_file(&value)?,
        Kind::Supplier | Kind::SupplierFragment => check_supplier(&value)?,
    }
    Ok(Checked { kind, value })
}

fn is_json(block: &Block) -> bool {
    matches!(block.lang.as_str(), "json" | "jsonc")
}

/// Checks every `json` block of `markdown`: the blocks that passed, and one message per
/// block that did not.
fn check_markdown(markdown: &str) -> (Vec<Checked>, Vec<String>) {
    let blocks = match fenced_blocks(markdown) {
        Ok(b) => b,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    for block in blocks.iter().filter(|b| is_json(b)) {
        match check_block(block) {
            Ok(c) => passed.push(c),
            Err(e) => failed.push(format!(
                "README.md line {} (```{} {}): {e}",
                block.line,
                block.lang,
                block.tags.join(" ")
            )),
        }
    }
    (passed, failed)
}

// ---- coverage ------------------------------------------------------------------------------

/// The `auth.kind` values the loader accepts, read from its own refusal of an unknown one
/// (serde lists every variant: "unknown variant `x`, expected one of `none`, `api_key`, ...").
fn accepted_auth_kinds() -> BTreeSet<String> {
    let text = r#"{"id": "x", "protocol": "rest", "base_url": "https://x.example",
                   "auth": {"kind": "no-such-kind"}}"#;
    let err = SupplierConfig::from_json_with_env(text, &dummy_env).expect_err("unknown kind");
    let message = describe(&err);
    let list = message
        .split("expected one of")
        .nth(1)
        .unwrap_or_else(|| panic!("the loader no longer lists auth kinds: {message}"));
    let kinds: BTreeSet<String> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    assert!(
        kinds.contains("bearer") && kinds.contains("wsse"),
        "could not read the auth kinds from {message:?}"
    );
    kinds
}

/// Every supplier object in a checked value: the value itself, or the file's suppliers.
fn suppliers_of(c: &Checked) -> Vec<&Value> {
    match c.kind {
        Kind::File | Kind::FileFragment => c.value["suppliers"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        Kind::Supplier | Kind::SupplierFragment => vec![&c.value],
    }
}

// ---- tests ---------------------------------------------------------------------------------

#[test]
fn every_json_example_in_the_readme_loads_and_builds() {
    let (passed, failed) = check_markdown(&readme());
    assert!(
        failed.is_empty(),
        "{} README example(s) fail:\n\n{}\n",
        failed.len(),
        failed.join("\n\n")
    );
    assert!(
        passed.len() >= 10,
        "only {} JSON examples found in README.md: did the fences change?",
        passed.len()
    );
}

#[test]
fn the_readme_shows_every_protocol_every_auth_kind_and_every_section() {
    let (passed, failed) = check_markdown(&readme());
    assert!(
        failed.is_empty(),
        "see every_json_example_in_the_readme_loads_and_builds"
    );

    assert!(
        passed.iter().any(|c| c.kind == Kind::File),
        "a whole config file"
    );
    for protocol in ["rest", "soap", "graphql"] {
        let complete = passed.iter().any(|c| {
            c.kind == Kind::Supplier
                && c.value["protocol"] == protocol
                && c.value["operations"]
                    .as_object()
                    .is_some_and(|ops| ops.len() >= 3)
        });
        assert!(
            complete,
            "a complete {protocol} supplier (with at least three operations)"
        );
    }

    let suppliers: Vec<&Value> = passed.iter().flat_map(suppliers_of).collect();
    let shown: BTreeSet<String> = suppliers
        .iter()
        .filter_map(|s| s["auth"]["kind"].as_str().map(str::to_string))
        .collect();
    let missing: Vec<_> = accepted_auth_kinds().difference(&shown).cloned().collect();
    assert!(
        missing.is_empty(),
        "auth kinds without an example: {missing:?}"
    );
    for placement in ["header", "query"] {
        assert!(
            suppliers
                .iter()
                .any(|s| s["auth"]["kind"] == "api_key" && s["auth"]["in"] == placement),
            "an api_key example with \"in\": \"{placement}\""
        );
    }

    for scheme in ["body_hmac", "timestamped"] {
        assert!(
            suppliers.iter().any(|s| s["webhook"]["scheme"] == scheme),
            "a webhook example with scheme {scheme}"
        );
    }
    assert!(
        suppliers.iter().any(|s| s["webhook"]["events"].is_object()),
        "a webhook example with an events block"
    );
    for section in ["sync", "fulfillment"] {
        assert!(
            suppliers.iter().any(|s| s[section].is_object()),
            "a supplier-level {section} section"
        );
        assert!(
            passed
                .iter()
                .any(|c| c.kind == Kind::File && c.value[section].is_object()),
            "a file-wide {section} section in a whole file"
        );
    }
}

/// The checker itself: broken or unclassifiable examples fail, good ones pass.
#[test]
fn a_broken_or_unmarked_example_fails_the_check() {
    let good_supplier = r#"{ "id": "a", "protocol": "rest",   // a comment
  "base_url": "https://api.example.com/v1",
  "operations": { "stock": { "path": "/stock", "items": "/data", "sku": "/sku", "quantity": "/qty" } } }"#;
    let cases: &[(&str, &str, bool)] = &[
        ("json", good_supplier, true),
        (
            "json",
            &good_supplier.replace("\"/data\"", "\"data\""),
            false, // the adapter refuses a pointer without '/': loads, does not build
        ),
        (
            "json",
            &good_supplier.replace("https://api", "http://api"),
            false, // the loader refuses plain http
        ),
        ("json", r#"{ "kind": "bearer", "token": "env:T" }"#, false), // unmarked fragment
        (
            "json supplier-fragment",
            r#""auth": { "kind": "bearer", "token": "env:T" }"#,
            true,
        ),
        (
            "json supplier-fragment",
            r#""auth": { "kind": "bearer", "tokn": "env:T" }"#,
            false,
        ),
        // A fragment is members, not an object.
        (
            "json supplier-fragment",
            r#"{ "auth": { "kind": "none" } }"#,
            false,
        ),
        (
            "json supplier-fragment cobol",
            r#""auth": { "kind": "none" }"#,
            false,
        ),
        ("json example", r#"{ "id": "a" }"#, false),
        ("jsonc", r#"{ "id": "a" }"#, false),
        (
            "json file-fragment",
            r#""fulfillment": { "routing": { "priority": ["nobody"] } }"#,
            false, // names a supplier the file does not have
        ),
        (
            "json file-fragment",
            r#""sync": { "crawl_interval": "10m", "jitter": 0.2 }"#,
            true,
        ),
        ("text", "not json at all", true), // other languages are not checked
    ];
    for (info, body, ok) in cases {
        let markdown = format!("# t\n\n```{info}\n{body}\n```\n");
        let (_, failed) = check_markdown(&markdown);
        assert_eq!(failed.is_empty(), *ok, "```{info}\n{body}\n-> {failed:?}");
    }
    let (_, failed) = check_markdown("```json\n{\"suppliers\": []}\n");
    assert!(failed[0].contains("never closed"), "{failed:?}");
}

#[test]
fn comments_are_stripped_only_outside_strings() {
    let text = r#"{ "url": "https://a.example//b", // trailing
  "q": "say \"//hi\"", "e": "\\", // after an escaped backslash
  // a whole line
  "n": 1 }"#;
    let stripped = strip_comments(text);
    let v: Value = serde_json::from_str(&stripped).expect(&stripped);
    assert_eq!(v["url"], "https://a.example//b");
    assert_eq!(v["q"], "say \"//hi\"");
    assert_eq!(v["e"], "\\");
    assert_eq!(v["n"], 1);
    assert_eq!(stripped.lines().count(), text.lines().count());
}

#[test]
fn fences_are_found_with_their_tags_and_indentation() {
    let md = "x\n  ```json supplier-fragment soap\n  \"a\": 1\n  ```\n~~~~text\n```\n~~~~\n";
    let blocks = fenced_blocks(md).unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].line, 2);
    assert_eq!(blocks[0].lang, "json");
    assert_eq!(blocks[0].tags, ["supplier-fragment", "soap"]);
    assert_eq!(blocks[0].body, "\"a\": 1\n");
    assert_eq!(blocks[1].body, "```\n");
}

/// The error at the top of the README's "Configuration" is what the loader says for this file.
#[test]
fn the_error_shown_in_the_readme_is_the_loaders_own() {
    let text = r#"{"suppliers": [
      {"id": "cj", "protocol": "rest", "base_url": "http://developers.cjdropshipping.com/api2.0/v1",
       "auth": {"kind": "bearer", "token": "env:CJ_TOKEN"}},
      {"id": "printful", "protocol": "rest", "base_url": "https://api.printful.com", "limts": {}}]}"#;
    let shown = ConfigFile::from_json_with_env(text, &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        readme().contains(&format!("```text\n{shown}\n```")),
        "README.md should show this error as it is now:\n{shown}"
    );
}
