//! Just enough of a GraphQL document to route it: whether it is a mutation, the first root
//! field, and that field's arguments with variables resolved. Selections below the root are
//! not interpreted: the sandbox answers with a fixed shape that covers what the profile asks.

use serde_json::{Map, Value};

/// The first root field of a document and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RootField {
    pub mutation: bool,
    pub name: String,
    pub args: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Var(String),
    Str(String),
    Num(String),
    Punct(char),
}

/// Splits a document into tokens, skipping whitespace, commas and comments.
fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() || c == ',' || c == '\u{feff}' => {
                chars.next();
            }
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated string".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(other) => s.push(other),
                            None => return Err("unterminated string".into()),
                        },
                        Some(other) => s.push(other),
                    }
                }
                out.push(Token::Str(s));
            }
            '$' => {
                chars.next();
                out.push(Token::Var(name(&mut chars)));
            }
            c if c.is_ascii_alphabetic() || c == '_' => out.push(Token::Name(name(&mut chars))),
            c if c.is_ascii_digit() || c == '-' => {
                let mut n = String::new();
                while let Some(&d) = chars.peek() {
                    if d.is_ascii_digit() || matches!(d, '-' | '.' | 'e' | 'E' | '+') {
                        n.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Num(n));
            }
            '.' => {
                chars.next();
                out.push(Token::Punct('.'));
            }
            other => {
                chars.next();
                out.push(Token::Punct(other));
            }
        }
    }
    Ok(out)
}

fn name(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut s = String::new();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '_' {
            s.push(c);
            chars.next();
        } else {
            break;
        }
    }
    s
}

/// Reads one argument value starting at `i`; returns it and the index after it.
fn value(toks: &[Token], i: usize, vars: &Map<String, Value>) -> Result<(Value, usize), String> {
    match toks.get(i) {
        Some(Token::Var(v)) => Ok((vars.get(v).cloned().unwrap_or(Value::Null), i + 1)),
        Some(Token::Str(s)) => Ok((Value::String(s.clone()), i + 1)),
        Some(Token::Num(n)) => {
            let v = serde_json::from_str::<Value>(n).map_err(|_| format!("bad number {n}"))?;
            Ok((v, i + 1))
        }
        Some(Token::Name(n)) => Ok((
            match n.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => Value::String(n.clone()),
            },
            i + 1,
        )),
        Some(Token::Punct('[')) => {
            let mut list = Vec::new();
            let mut j = i + 1;
            while toks.get(j) != Some(&Token::Punct(']')) {
                if j >= toks.len() {
                    return Err("unterminated list".into());
                }
                let (v, next) = value(toks, j, vars)?;
                list.push(v);
                j = next;
            }
            Ok((Value::Array(list), j + 1))
        }
        Some(Token::Punct('{')) => {
            let mut obj = Map::new();
            let mut j = i + 1;
            while toks.get(j) != Some(&Token::Punct('}')) {
                let Some(Token::Name(key)) = toks.get(j) else {
                    return Err("expected a field name in an object value".into());
                };
                if toks.get(j + 1) != Some(&Token::Punct(':')) {
                    return Err("expected ':' in an object value".into());
                }
                let (v, next) = value(toks, j + 2, vars)?;
                obj.insert(key.clone(), v);
                j = next;
            }
            Ok((Value::Object(obj), j + 1))
        }
        _ => Err("expected a value".into()),
    }
}

/// Finds the first root field of the (first) operation and resolves its arguments.
pub(crate) fn root_field(document: &str, vars: &Map<String, Value>) -> Result<RootField, String> {
    let toks = tokens(document)?;
    let mutation = matches!(toks.first(), Some(Token::Name(n)) if n == "mutation");
    // The selection set opens at the first '{' outside the variable definitions' parentheses.
    let mut depth = 0usize;
    let mut open = None;
    for (i, t) in toks.iter().enumerate() {
        match t {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth = depth.saturating_sub(1),
            Token::Punct('{') if depth == 0 => {
                open = Some(i);
                break;
            }
            _ => {}
        }
    }
    let start = open.ok_or("the document has no selection set")? + 1;
    let mut i = start;
    let Some(Token::Name(mut field)) = toks.get(i).cloned() else {
        return Err("the selection set names no field".into());
    };
    i += 1;
    if toks.get(i) == Some(&Token::Punct(':')) {
        let Some(Token::Name(real)) = toks.get(i + 1).cloned() else {
            return Err("an alias names no field".into());
        };
        field = real;
        i += 2;
    }
    let mut args = Map::new();
    if toks.get(i) == Some(&Token::Punct('(')) {
        i += 1;
        while toks.get(i) != Some(&Token::Punct(')')) {
            let Some(Token::Name(arg)) = toks.get(i).cloned() else {
                return Err(format!("bad argument list for {field}"));
            };
            if toks.get(i + 1) != Some(&Token::Punct(':')) {
                return Err(format!("expected ':' after argument {arg}"));
            }
            let (v, next) = value(&toks, i + 2, vars)?;
            args.insert(arg, v);
            i = next;
        }
    }
    Ok(RootField {
        mutation,
        name: field,
        args,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn reads_the_root_field_and_its_arguments() {
        let q = "query StockBySku($search: String!, $first: Int!, $after: String) { \
                 productVariants(first: $first, after: $after, query: $search) { nodes { sku } } }";
        let root = root_field(q, &vars(json!({"search": "sku:\"a\"", "first": 5}))).unwrap();
        assert!(!root.mutation);
        assert_eq!(root.name, "productVariants");
        assert_eq!(root.args["first"], json!(5));
        assert_eq!(root.args["after"], Value::Null);
        assert_eq!(root.args["query"], json!("sku:\"a\""));

        let m = "mutation CancelOrder($id: ID!) { orderCancel(orderId: $id, reason: OTHER, \
                 refund: false, restock: true) { job { id } } }";
        let root = root_field(m, &vars(json!({"id": "gid://x/1"}))).unwrap();
        assert!(root.mutation);
        assert_eq!(root.name, "orderCancel");
        assert_eq!(root.args["reason"], json!("OTHER"));
        assert_eq!(root.args["refund"], json!(false));

        let aliased = "{ v: productVariants(first: 2, query: \"sku:x\") { nodes { sku } } }";
        let root = root_field(aliased, &Map::new()).unwrap();
        assert_eq!(root.name, "productVariants");
        assert_eq!(root.args["first"], json!(2));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(root_field("query {", &Map::new()).is_err());
        assert!(root_field("query X", &Map::new()).is_err());
        assert!(root_field("{ a(b: \"unterminated) }", &Map::new()).is_err());
    }
}
