//! Reading supplier JSON by JSON Pointer, with errors that name the place that did not fit.
//! Shared by the JSON-speaking adapters.
//!
//! Two ways in:
//! - [`parse_body`] builds the whole document as a [`Value`]; [`list_at`], [`text_at`] and
//!   [`u64_at`] read it by pointer.
//! - [`parse_sparse`] walks the document once and keeps only what a [`Selection`] names: some
//!   pointers whole (a total, a next cursor) and one item list, of whose elements only the
//!   first-level keys that the mapping's [`Field`]s read are kept. Everything else is skipped
//!   without building it, which on a 10,000-item catalog page is most of the cost of reading it.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Number, Value};

use crate::error::{Error, ErrorKind};

/// Parses a response body. A body that ends early (a cut connection, a proxy's size limit) is
/// told apart from one that is malformed.
pub fn parse_body(body: &[u8], what: &str) -> Result<Value, Error> {
    serde_json::from_slice(body).map_err(|e| syntax_error(what, &e))
}

fn syntax_error(what: &str, e: &serde_json::Error) -> Error {
    let why = if e.is_eof() {
        "is truncated (the JSON ends early)"
    } else {
        "is not valid JSON"
    };
    Error::new(
        ErrorKind::Protocol,
        format!("{what} {why} at line {} column {}", e.line(), e.column()),
    )
}

/// The list at `pointer` (`""` is the whole document). Missing or not a list is a
/// [`Protocol`](ErrorKind::Protocol) error naming the pointer.
pub fn list_at<'a>(doc: &'a Value, pointer: &str) -> Result<&'a Vec<Value>, Error> {
    match doc.pointer(pointer) {
        Some(Value::Array(items)) => Ok(items),
        Some(Value::Null) | None => Err(no_list(pointer)),
        Some(other) => Err(not_a_list(pointer, type_name(other))),
    }
}

fn no_list(pointer: &str) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!("no item list at {}", show(pointer)),
    )
}

fn not_a_list(pointer: &str, found: &str) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!("{}: expected a list, found {found}", show(pointer)),
    )
}

/// Text at `pointer`: strings as they are, numbers as their decimal text (suppliers send ids
/// both ways). `Ok(None)` when absent or `null`; other types are errors naming `at`.
pub fn text_at(item: &Value, pointer: &str, at: &str) -> Result<Option<String>, Error> {
    text_of(item.pointer(pointer), || format!("{at}{pointer}"))
}

/// Like [`text_at`], for a value already looked up; `place` names it in an error (and is only
/// called then).
pub fn text_of(v: Option<&Value>, place: impl FnOnce() -> String) -> Result<Option<String>, Error> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(Error::new(
            ErrorKind::Protocol,
            format!("{}: expected text, found {}", place(), type_name(other)),
        )),
    }
}

/// A non-negative integer at `pointer` (a number or digits in a string). `Ok(None)` when absent.
pub fn u64_at(item: &Value, pointer: &str, at: &str) -> Result<Option<u64>, Error> {
    u64_of(item.pointer(pointer), || format!("{at}{pointer}"))
}

/// Like [`u64_at`], for a value already looked up; `place` names it in an error (and is only
/// called then).
pub fn u64_of(v: Option<&Value>, place: impl FnOnce() -> String) -> Result<Option<u64>, Error> {
    let bad = |found: &str, place: String| {
        Error::new(
            ErrorKind::Protocol,
            format!("{place}: expected a whole number, found {found}"),
        )
    };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| bad(&n.to_string(), place())),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad("text", place())),
        Some(other) => Err(bad(type_name(other), place())),
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

/// The reference tokens of a JSON Pointer, unescaped (`~1` is `/`, `~0` is `~`, as
/// [`Value::pointer`] reads them); `None` for text that is not a pointer.
fn tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(rest.split('/').map(unescape).collect())
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// An array index as [`Value::pointer`] reads one: digits, no sign, no leading zero.
fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// What [`parse_sparse`] keeps of a document: pointers kept whole ([`keep`](Selection::keep)),
/// at most one item [`list`](Selection::list), and inside each of its elements the
/// first-level keys that the [`Field`]s made by [`field`](Selection::field) read.
///
/// ```
/// use dropship::adapters::json::{Lookup, Selection, parse_sparse};
/// let body = br#"{"data": {"total": 2, "noise": [1, 2, 3],
///     "list": [{"sku": "a", "qty": 1, "name": "skipped"}, {"sku": "b", "qty": {"n": 2}}]}}"#;
/// let mut sel = Selection::new();
/// sel.keep("/data/total").list("/data/list");
/// let sku = sel.field("/sku");
/// let n = sel.field("/qty/n");
/// let page = parse_sparse(body, "page", &sel).unwrap();
/// assert_eq!(page.doc().pointer("/data/total"), Some(&serde_json::json!(2)));
/// assert_eq!(page.doc().pointer("/data/noise"), None);
/// let items = page.items().unwrap();
/// assert_eq!(items[0].lookup(&sku), Some(&serde_json::json!("a")));
/// assert_eq!(items[1].lookup(&n), Some(&serde_json::json!(2)));
/// assert_eq!(items[0].lookup(&n), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Selection {
    root: Node,
    /// The list's pointer, as given, for messages.
    list: Option<String>,
    /// First-level keys kept in each list element; a [`Field`]'s slot indexes this.
    keys: Vec<String>,
    /// A field reads the element itself (`""`): elements are kept whole.
    whole_items: bool,
    /// Elements are read by this [`Pick`] instead of by fields.
    pick: Option<Pick>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    keep: bool,
    list: bool,
    children: Vec<Child>,
}

#[derive(Debug, Clone)]
struct Child {
    key: String,
    index: Option<usize>,
    node: Node,
}

impl Node {
    fn at(&mut self, tokens: &[String]) -> &mut Node {
        let mut node = self;
        for t in tokens {
            let pos = match node.children.iter().position(|c| c.key == *t) {
                Some(pos) => pos,
                None => {
                    node.children.push(Child {
                        key: t.clone(),
                        index: array_index(t),
                        node: Node::default(),
                    });
                    node.children.len() - 1
                }
            };
            node = &mut node.children[pos].node;
        }
        node
    }

    fn child_by_key(&self, key: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.key == key).map(|c| &c.node)
    }

    fn child_by_index(&self, i: usize) -> Option<&Node> {
        self.children
            .iter()
            .find(|c| c.index == Some(i))
            .map(|c| &c.node)
    }
}

/// A pointer inside each element of a [`Selection`]'s list, resolved once so that reading it
/// from an [`Item`] needs no string comparison. A `Field` is only meaningful for items parsed
/// with the selection that made it (or, through [`Lookup`] on [`Value`], for any value).
#[derive(Debug, Clone)]
pub struct Field {
    pointer: String,
    /// Position of the first token among the selection's keys; `None` when the pointer is
    /// `""` or not a pointer.
    slot: Option<usize>,
    /// Where, in `pointer`, the part below the first token starts.
    rest: usize,
}

impl Field {
    /// A field for plain [`Value`]s, outside any selection.
    pub fn plain(pointer: &str) -> Field {
        Field {
            pointer: pointer.to_string(),
            slot: None,
            rest: pointer.len(),
        }
    }

    /// The pointer, as given.
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// Whether both fields read under the same first-level key of an element (taking one's
    /// value would take the other's).
    pub fn overlaps(&self, other: &Field) -> bool {
        let head = |f: &Field| {
            let p = f.pointer.strip_prefix('/')?;
            Some(p.split('/').next().unwrap_or(p).to_string())
        };
        match (head(self), head(other)) {
            (Some(a), Some(b)) => a == b,
            // `""` (the whole element) overlaps everything.
            _ => self.pointer.is_empty() || other.pointer.is_empty(),
        }
    }
}

impl Selection {
    /// An empty selection (keeps nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value at `pointer` whole (text that is not a pointer is never found).
    pub fn keep(&mut self, pointer: &str) -> &mut Self {
        if let Some(t) = tokens(pointer) {
            self.root.at(&t).keep = true;
        }
        self
    }

    /// The item list, at `pointer`; a second call replaces the first.
    pub fn list(&mut self, pointer: &str) -> &mut Self {
        if let Some(old) = self.list.take()
            && let Some(t) = tokens(&old)
        {
            self.root.at(&t).list = false;
        }
        if let Some(t) = tokens(pointer) {
            self.root.at(&t).list = true;
        }
        self.list = Some(pointer.to_string());
        self
    }

    /// A pointer read inside each list element: its first token is kept in every element that
    /// is an object (elements that are not objects are kept whole). `""` keeps elements whole.
    pub fn field(&mut self, pointer: &str) -> Field {
        let Some(inner) = pointer.strip_prefix('/') else {
            if pointer.is_empty() {
                self.whole_items = true;
            }
            return Field::plain(pointer);
        };
        let end = inner.find('/').unwrap_or(inner.len());
        let key = unescape(&inner[..end]);
        let slot = match self.keys.iter().position(|k| *k == key) {
            Some(slot) => slot,
            None => {
                self.keys.push(key);
                self.keys.len() - 1
            }
        };
        Field {
            pointer: pointer.to_string(),
            slot: Some(slot),
            rest: 1 + end,
        }
    }

    /// Reads each list element with `pick` (down to the leaves it names, lists inside read
    /// element by element) instead of keeping first-level keys: see [`Item::picked`].
    pub fn pick(&mut self, pick: Pick) -> &mut Self {
        self.pick = Some(pick);
        self
    }

    /// Whether the list lies inside something kept whole (or something is kept inside it):
    /// then it is read whole too and taken out of the kept document.
    fn list_in_doc(&self) -> bool {
        let Some(t) = self.list.as_deref().and_then(tokens) else {
            return false;
        };
        let mut node = &self.root;
        for token in &t {
            if node.keep {
                return true;
            }
            match node.child_by_key(token) {
                Some(n) => node = n,
                None => return false,
            }
        }
        node.keep || !node.children.is_empty()
    }
}

/// One element of a sparse list: the kept first-level values of an object, or the whole
/// element (when it is not an object, or when the selection keeps elements whole).
#[derive(Debug, Clone, PartialEq)]
pub struct Item(ItemRepr);

#[derive(Debug, Clone, PartialEq)]
enum ItemRepr {
    /// One slot per selection key; `None` when the object had no such key.
    Fields(Box<[Option<Value>]>),
    Whole(Value),
    Picked(Picked),
}

/// Reading a [`Field`] out of a list element: a sparse [`Item`] or a whole [`Value`].
pub trait Lookup {
    /// The value at the field's pointer, as [`Value::pointer`] would find it.
    fn lookup(&self, field: &Field) -> Option<&Value>;
}

impl Lookup for Value {
    fn lookup(&self, field: &Field) -> Option<&Value> {
        self.pointer(&field.pointer)
    }
}

impl<T: Lookup + ?Sized> Lookup for &T {
    fn lookup(&self, field: &Field) -> Option<&Value> {
        (**self).lookup(field)
    }
}

/// A list element that values can be moved out of, so that text is not copied.
pub trait Take: Lookup {
    /// The value at the field's pointer, taken out (`null` is left behind) where the element
    /// is owned, copied where it is borrowed.
    fn take(&mut self, field: &Field) -> Option<Value>;
}

impl Take for &Value {
    fn take(&mut self, field: &Field) -> Option<Value> {
        self.lookup(field).cloned()
    }
}

impl Take for Item {
    fn take(&mut self, field: &Field) -> Option<Value> {
        let v = match &mut self.0 {
            ItemRepr::Picked(_) => return None,
            ItemRepr::Whole(v) => v.pointer_mut(&field.pointer)?,
            ItemRepr::Fields(slots) => {
                let v = slots.get_mut(field.slot?)?.as_mut()?;
                match field.pointer.get(field.rest..) {
                    Some("") | None => v,
                    Some(rest) => v.pointer_mut(rest)?,
                }
            }
        };
        Some(v.take())
    }
}

impl Lookup for Item {
    fn lookup(&self, field: &Field) -> Option<&Value> {
        match &self.0 {
            ItemRepr::Picked(_) => None,
            ItemRepr::Whole(v) => v.pointer(&field.pointer),
            ItemRepr::Fields(slots) => {
                let v = slots.get(field.slot?)?.as_ref()?;
                match field.pointer.get(field.rest..) {
                    Some("") | None => Some(v),
                    Some(rest) => v.pointer(rest),
                }
            }
        }
    }
}

impl Item {
    /// The element's JSON type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.0 {
            ItemRepr::Fields(_) => "an object",
            ItemRepr::Whole(v) => type_name(v),
            ItemRepr::Picked(p) => p.kind.unwrap_or("null"),
        }
    }

    /// What a [`Pick`] read of the element, when the selection had one
    /// ([`Selection::pick`]); fields then find nothing.
    pub fn picked(&self) -> Option<&Picked> {
        match &self.0 {
            ItemRepr::Picked(p) => Some(p),
            _ => None,
        }
    }
}

/// What was at a selection's list pointer.
#[derive(Debug, Clone, PartialEq)]
enum Listed {
    /// Nothing, or `null`.
    Missing,
    /// A list.
    Items(Vec<Item>),
    /// One object (single-item endpoints answer so).
    Object(Item),
    /// Something else: its type name.
    Other(&'static str),
}

/// A document read by [`parse_sparse`].
#[derive(Debug, Clone, PartialEq)]
pub struct Sparse {
    doc: Value,
    list_pointer: String,
    listed: Listed,
}

impl Sparse {
    /// The document with only the kept pointers (and the objects on their way) in it; `null`
    /// when nothing is kept. The item list is not in it: see [`items`](Sparse::items).
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// The item list, or the same [`Protocol`](ErrorKind::Protocol) error as [`list_at`]
    /// when it is missing or not a list.
    pub fn items(&self) -> Result<&[Item], Error> {
        match &self.listed {
            Listed::Items(items) => Ok(items),
            Listed::Missing => Err(no_list(&self.list_pointer)),
            Listed::Object(_) => Err(not_a_list(&self.list_pointer, "an object")),
            Listed::Other(found) => Err(not_a_list(&self.list_pointer, found)),
        }
    }

    /// The item list by value (see [`items`](Sparse::items)), so that [`Take`] can move
    /// values out of it.
    pub fn into_items(self) -> Result<Vec<Item>, Error> {
        match self.listed {
            Listed::Items(items) => Ok(items),
            _ => self.items().map(<[Item]>::to_vec),
        }
    }

    /// Like [`items`](Sparse::items), but a single object at the list's place is a list of
    /// that one item.
    pub fn items_or_single(&self) -> Result<&[Item], Error> {
        match &self.listed {
            Listed::Object(item) => Ok(std::slice::from_ref(item)),
            _ => self.items(),
        }
    }
}

/// Parses `body`, keeping only what `sel` names (see [`Selection`]). Errors are those of
/// [`parse_body`] (malformed told apart from truncated, with line and column); parts that are
/// skipped are checked for JSON syntax but not built, so a number too large for `f64` or
/// nesting past the parser's depth limit is only refused where it is kept.
pub fn parse_sparse(body: &[u8], what: &str, sel: &Selection) -> Result<Sparse, Error> {
    // Skipped strings are not checked for UTF-8 by the parser: check the whole body first (fast
    // on ASCII) and let the full parser name the place of a bad byte.
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(match parse_body(body, what) {
            Err(e) => e,
            Ok(_) => Error::new(ErrorKind::Protocol, format!("{what} is not UTF-8")),
        });
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let mut listed = Listed::Missing;
    let in_doc = sel.list_in_doc();
    let walk = Walk {
        sel,
        node: &sel.root,
        in_doc,
        listed: &mut listed,
    };
    let doc = walk
        .deserialize(&mut de)
        .and_then(|doc| de.end().map(|()| doc))
        .map_err(|e| syntax_error(what, &e))?
        .unwrap_or(Value::Null);
    let list_pointer = sel.list.clone().unwrap_or_default();
    if in_doc {
        listed = match doc.pointer(&list_pointer) {
            None | Some(Value::Null) => Listed::Missing,
            Some(Value::Array(items)) => {
                Listed::Items(items.iter().map(|v| whole_item(sel, v)).collect())
            }
            Some(v @ Value::Object(_)) => Listed::Object(whole_item(sel, v)),
            Some(other) => Listed::Other(type_name(other)),
        };
    }
    Ok(Sparse {
        doc,
        list_pointer,
        listed,
    })
}

/// An element of a list that was read whole (inside a kept subtree).
fn whole_item(sel: &Selection, v: &Value) -> Item {
    match &sel.pick {
        Some(pick) => Item(ItemRepr::Picked(pick.read_value(v))),
        None => Item(ItemRepr::Whole(v.clone())),
    }
}

/// Walks one value at `node` of the selection; `None` when nothing of it is kept.
struct Walk<'s, 'o> {
    sel: &'s Selection,
    node: &'s Node,
    in_doc: bool,
    listed: &'o mut Listed,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        if self.node.keep || (self.in_doc && self.node.list) {
            return Value::deserialize(d).map(Some);
        }
        if self.node.list {
            *self.listed = d.deserialize_any(ListVisitor(self.sel))?;
            return Ok(None);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    // Scalars where an object or list was expected on the way to a kept pointer: nothing
    // below them can be found, so nothing of them is kept.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<Value>, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let Walk {
            sel,
            node,
            in_doc,
            listed,
        } = self;
        let mut kept = Map::new();
        while let Some(key) = map.next_key_seed(ChildKey(node))? {
            match key {
                Some((key, child)) => {
                    let walk = Walk {
                        sel,
                        node: child,
                        in_doc,
                        listed: &mut *listed,
                    };
                    match map.next_value_seed(walk)? {
                        Some(v) => {
                            kept.insert(key, v);
                        }
                        // A repeated key: the last one wins, as in a whole parse.
                        None => {
                            kept.remove(&key);
                        }
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(Value::Object(kept)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
        let Walk {
            sel,
            node,
            in_doc,
            listed,
        } = self;
        // Kept elements stay at their index; skipped ones before them are `null`.
        let mut kept = Vec::new();
        let mut i = 0;
        loop {
            let found = match node.child_by_index(i) {
                Some(child) => {
                    let walk = Walk {
                        sel,
                        node: child,
                        in_doc,
                        listed: &mut *listed,
                    };
                    match seq.next_element_seed(walk)? {
                        None => break,
                        Some(v) => v,
                    }
                }
                None => match seq.next_element::<IgnoredAny>()? {
                    None => break,
                    Some(_) => None,
                },
            };
            if let Some(v) = found {
                kept.resize(i, Value::Null);
                kept.push(v);
            }
            i += 1;
        }
        Ok(Some(Value::Array(kept)))
    }
}

/// Reads an object key, answering the child node it leads to (`None`: skip the value).
struct ChildKey<'s>(&'s Node);

impl<'de, 's> DeserializeSeed<'de> for ChildKey<'s> {
    type Value = Option<(String, &'s Node)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 's> Visitor<'de> for ChildKey<'s> {
    type Value = Option<(String, &'s Node)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.child_by_key(key).map(|n| (key.to_string(), n)))
    }
}

/// Reads an object key without keeping it, answering where it leads: its slot among a
/// selection's keys, or the pick child it names. One visitor for both readers.
struct KeyPosition<F>(F);

impl<'de, F: FnOnce(&str) -> Option<usize>> DeserializeSeed<'de> for KeyPosition<F> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, F: FnOnce(&str) -> Option<usize>> Visitor<'de> for KeyPosition<F> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok((self.0)(key))
    }
}

/// The value at the list pointer.
struct ListVisitor<'s>(&'s Selection);

impl<'de> Visitor<'de> for ListVisitor<'_> {
    type Value = Listed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Listed, E> {
        Ok(Listed::Other("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Listed, E> {
        Ok(Listed::Other("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Listed, E> {
        Ok(Listed::Other("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Listed, E> {
        Ok(Listed::Other("a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Listed, E> {
        Ok(Listed::Other("text"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Listed, E> {
        Ok(Listed::Missing)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Listed, A::Error> {
        if let Some(pick) = &self.0.pick {
            let mut out = pick.empty();
            out.kind = Some("an object");
            PickWalk {
                node: &pick.root,
                out: &mut out,
            }
            .visit_map(map)?;
            return Ok(Listed::Object(Item(ItemRepr::Picked(out))));
        }
        if self.0.whole_items {
            let whole = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
            return Ok(Listed::Object(Item(ItemRepr::Whole(whole))));
        }
        read_fields(self.0, map).map(Listed::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Listed, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(ItemSeed(self.0))? {
            items.push(item);
        }
        Ok(Listed::Items(items))
    }
}

fn read_fields<'de, A: MapAccess<'de>>(sel: &Selection, mut map: A) -> Result<Item, A::Error> {
    let mut slots: Box<[Option<Value>]> = vec![None; sel.keys.len()].into_boxed_slice();
    while let Some(slot) =
        map.next_key_seed(KeyPosition(|k: &str| sel.keys.iter().position(|x| x == k)))?
    {
        match slot.and_then(|s| slots.get_mut(s)) {
            Some(slot) => *slot = Some(map.next_value()?),
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(Item(ItemRepr::Fields(slots)))
}

/// One list element.
struct ItemSeed<'s>(&'s Selection);

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = Item;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Item, D::Error> {
        if let Some(pick) = &self.0.pick {
            return pick.read(d).map(|p| Item(ItemRepr::Picked(p)));
        }
        if self.0.whole_items {
            return Value::deserialize(d).map(|v| Item(ItemRepr::Whole(v)));
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list element")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Item, E> {
        Ok(Item(ItemRepr::Whole(Value::Bool(v))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Item, E> {
        Ok(Item(ItemRepr::Whole(Value::Number(v.into()))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Item, E> {
        Ok(Item(ItemRepr::Whole(Value::Number(v.into()))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Item, E> {
        Ok(Item(ItemRepr::Whole(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        )))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Item, E> {
        Ok(Item(ItemRepr::Whole(Value::String(v.to_string()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Item, E> {
        Ok(Item(ItemRepr::Whole(Value::String(v))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Item, E> {
        Ok(Item(ItemRepr::Whole(Value::Null)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Item, A::Error> {
        Value::deserialize(de::value::SeqAccessDeserializer::new(seq))
            .map(|v| Item(ItemRepr::Whole(v)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Item, A::Error> {
        read_fields(self.0, map)
    }
}

/// Pointers read inside one value, each down to its leaf: what [`Selection::pick`] keeps of
/// every list element. [`value`](Pick::value) keeps the value at a pointer,
/// [`kind`](Pick::kind) only its JSON type, and [`each`](Pick::each) reads every element of
/// a list at a pointer with a pick of its own. Nothing else is built, not even the objects on
/// the way, so a deep element costs about what its leaves cost.
///
/// ```
/// use dropship::adapters::json::Pick;
/// let mut loc = Pick::new();
/// let qty = loc.value("/q/0/n").unwrap();
/// let mut item = Pick::new();
/// let sku = item.value("/sku").unwrap();
/// let locs = item.each("/inv/nodes", loc).unwrap();
/// let v = serde_json::json!({"sku": "a", "skip": [1], "inv": {"nodes": [{"q": [{"n": 2}]}, null]}});
/// let p = item.read_value(&v);
/// assert_eq!(p.get(sku), Some(&serde_json::json!("a")));
/// let entries = p.list(locs).unwrap();
/// assert_eq!(entries.len(), 2);
/// assert_eq!(entries[0].get(qty), Some(&serde_json::json!(2)));
/// assert_eq!(entries[1].get(qty), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Pick {
    root: PickNode,
    values: usize,
    kinds: usize,
    lists: usize,
}

#[derive(Debug, Clone, Default)]
struct PickNode {
    value: Option<usize>,
    kind: Option<usize>,
    each: Option<(usize, Box<Pick>)>,
    children: Vec<PickChild>,
}

#[derive(Debug, Clone)]
struct PickChild {
    key: String,
    index: Option<usize>,
    node: PickNode,
}

/// A [`Pick::value`] handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueSlot(usize);
/// A [`Pick::kind`] handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSlot(usize);
/// A [`Pick::each`] handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListSlot(usize);

/// What a [`Pick`] read of one value.
#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    /// The JSON type of the value itself (`None`: absent).
    kind: Option<&'static str>,
    /// The values' slots, then the kinds', then the lists': one allocation per picked value
    /// rather than three, since a crawl page picks one per node and one per location.
    slots: Box<[Slot]>,
    /// Where the kinds start in `slots`.
    kinds: usize,
    /// Where the lists start in `slots`.
    lists: usize,
}

/// One answer of a [`Picked`]; which variant a slot may hold follows from its region.
#[derive(Debug, Clone, PartialEq, Default)]
enum Slot {
    #[default]
    Absent,
    Value(Value),
    Kind(&'static str),
    List(Vec<Picked>),
}

impl Picked {
    /// The place of slot `i` of the region `start..end`, if there is one.
    fn at(&self, start: usize, end: usize, i: usize) -> Option<usize> {
        start.checked_add(i).filter(|at| *at < end)
    }

    fn value_at(&self, i: usize) -> Option<usize> {
        self.at(0, self.kinds, i)
    }

    fn kind_at(&self, i: usize) -> Option<usize> {
        self.at(self.kinds, self.lists, i)
    }

    fn list_at(&self, i: usize) -> Option<usize> {
        self.at(self.lists, self.slots.len(), i)
    }

    /// Fills (or, with [`Slot::Absent`], forgets) the slot at `at`.
    fn set(&mut self, at: Option<usize>, answer: Slot) {
        if let Some(slot) = at.and_then(|at| self.slots.get_mut(at)) {
            *slot = answer;
        }
    }

    /// The value at the slot's pointer, as [`Value::pointer`] finds it.
    pub fn get(&self, slot: ValueSlot) -> Option<&Value> {
        match self.slots.get(self.value_at(slot.0)?)? {
            Slot::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The value at the slot's pointer, moved out.
    pub fn take(&mut self, slot: ValueSlot) -> Option<Value> {
        let at = self.value_at(slot.0)?;
        match self.slots.get_mut(at)? {
            s @ Slot::Value(_) => match std::mem::take(s) {
                Slot::Value(v) => Some(v),
                _ => None,
            },
            _ => None,
        }
    }

    /// The JSON type name at the slot's pointer (see [`type_name`]); `None` when absent.
    pub fn kind(&self, slot: KindSlot) -> Option<&'static str> {
        match self.slots.get(self.kind_at(slot.0)?)? {
            Slot::Kind(k) => Some(k),
            _ => None,
        }
    }

    /// The elements of the list at the slot's pointer; `None` when it is not a list.
    pub fn list(&self, slot: ListSlot) -> Option<&[Picked]> {
        match self.slots.get(self.list_at(slot.0)?)? {
            Slot::List(l) => Some(l),
            _ => None,
        }
    }
}

impl Pick {
    /// A pick that reads nothing.
    pub fn new() -> Self {
        Self::default()
    }

    fn node(&mut self, pointer: &str) -> Option<&mut PickNode> {
        let tokens = tokens(pointer)?;
        let mut node = &mut self.root;
        for t in tokens {
            let pos = match node.children.iter().position(|c| c.key == t) {
                Some(pos) => pos,
                None => {
                    node.children.push(PickChild {
                        index: array_index(&t),
                        key: t,
                        node: PickNode::default(),
                    });
                    node.children.len() - 1
                }
            };
            node = &mut node.children[pos].node;
        }
        Some(node)
    }

    /// Keeps the value at `pointer` whole; `None` when `pointer` is not a JSON Pointer.
    pub fn value(&mut self, pointer: &str) -> Option<ValueSlot> {
        let next = self.values;
        let node = self.node(pointer)?;
        let slot = *node.value.get_or_insert(next);
        if slot == next {
            self.values += 1;
        }
        Some(ValueSlot(slot))
    }

    /// Records the JSON type at `pointer` without keeping the value.
    pub fn kind(&mut self, pointer: &str) -> Option<KindSlot> {
        let next = self.kinds;
        let node = self.node(pointer)?;
        let slot = *node.kind.get_or_insert(next);
        if slot == next {
            self.kinds += 1;
        }
        Some(KindSlot(slot))
    }

    /// Reads every element of the list at `pointer` with `items` (a second call for the same
    /// pointer replaces the first's pick).
    pub fn each(&mut self, pointer: &str, items: Pick) -> Option<ListSlot> {
        let next = self.lists;
        let node = self.node(pointer)?;
        let slot = match &node.each {
            Some((slot, _)) => *slot,
            None => next,
        };
        node.each = Some((slot, Box::new(items)));
        if slot == next {
            self.lists += 1;
        }
        Some(ListSlot(slot))
    }

    fn empty(&self) -> Picked {
        let n = self.values + self.kinds + self.lists;
        Picked {
            kind: None,
            slots: std::iter::repeat_with(Slot::default).take(n).collect(),
            kinds: self.values,
            lists: self.values + self.kinds,
        }
    }

    /// Reads an already-built value (the same answers as reading it from text).
    pub fn read_value(&self, v: &Value) -> Picked {
        let mut out = self.empty();
        out.kind = Some(type_name(v));
        eval(&self.root, v, &mut out);
        out
    }

    /// Reads one value from a deserializer, building only what the pick names.
    fn read<'de, D: Deserializer<'de>>(&self, d: D) -> Result<Picked, D::Error> {
        let mut out = self.empty();
        PickWalk {
            node: &self.root,
            out: &mut out,
        }
        .deserialize(d)?;
        out.kind = out.kind.or(Some("null"));
        Ok(out)
    }
}

/// Fills `out` from `node` of a pick, on a built value.
fn eval(node: &PickNode, v: &Value, out: &mut Picked) {
    if let Some(s) = node.value {
        out.set(out.value_at(s), Slot::Value(v.clone()));
    }
    eval_below(node, v, out);
}

/// [`eval`] for a value read for this node alone: moved into its slot, not copied.
fn eval_owned(node: &PickNode, v: Value, out: &mut Picked) {
    eval_below(node, &v, out);
    if let Some(s) = node.value {
        out.set(out.value_at(s), Slot::Value(v));
    }
}

/// [`eval`] without `node`'s own value slot.
fn eval_below(node: &PickNode, v: &Value, out: &mut Picked) {
    if let Some(s) = node.kind {
        out.set(out.kind_at(s), Slot::Kind(type_name(v)));
    }
    if let (Some((s, items)), Value::Array(list)) = (&node.each, v) {
        let read = list.iter().map(|e| items.read_value(e)).collect();
        out.set(out.list_at(*s), Slot::List(read));
    }
    for c in &node.children {
        let child = match v {
            Value::Object(m) => m.get(&c.key),
            Value::Array(a) => c.index.and_then(|i| a.get(i)),
            _ => None,
        };
        if let Some(child) = child {
            eval(&c.node, child, out);
        }
    }
}

/// Forgets what `node` and below filled (a repeated key: the last one wins).
fn clear(node: &PickNode, out: &mut Picked) {
    if let Some(s) = node.value {
        out.set(out.value_at(s), Slot::Absent);
    }
    if let Some(s) = node.kind {
        out.set(out.kind_at(s), Slot::Absent);
    }
    if let Some((s, _)) = &node.each {
        out.set(out.list_at(*s), Slot::Absent);
    }
    for c in &node.children {
        clear(&c.node, out);
    }
}

/// Reads one value at `node` of a pick into `out`. The value's own type goes to `out.kind`
/// only at the pick's root (the caller resets it below).
struct PickWalk<'s, 'o> {
    node: &'s PickNode,
    out: &'o mut Picked,
}

impl PickWalk<'_, '_> {
    fn saw(&mut self, kind: &'static str) {
        if let Some(s) = self.node.kind {
            self.out.set(self.out.kind_at(s), Slot::Kind(kind));
        }
        if self.out.kind.is_none() {
            self.out.kind = Some(kind);
        }
    }
}

impl<'de> DeserializeSeed<'de> for PickWalk<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let node = self.node;
        let indexed_each = node.each.is_some() && node.children.iter().any(|c| c.index.is_some());
        if node.value.is_some() || indexed_each {
            let v = Value::deserialize(d)?;
            if self.out.kind.is_none() {
                self.out.kind = Some(type_name(&v));
            }
            eval_owned(node, v, self.out);
            return Ok(());
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PickWalk<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(mut self, _: bool) -> Result<(), E> {
        self.saw("a boolean");
        Ok(())
    }
    fn visit_i64<E: de::Error>(mut self, _: i64) -> Result<(), E> {
        self.saw("a number");
        Ok(())
    }
    fn visit_u64<E: de::Error>(mut self, _: u64) -> Result<(), E> {
        self.saw("a number");
        Ok(())
    }
    fn visit_f64<E: de::Error>(mut self, _: f64) -> Result<(), E> {
        self.saw("a number");
        Ok(())
    }
    fn visit_str<E: de::Error>(mut self, _: &str) -> Result<(), E> {
        self.saw("text");
        Ok(())
    }
    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        self.saw("null");
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.saw("an object");
        let node = self.node;
        let mut seen: u64 = 0;
        while let Some(pos) = map.next_key_seed(KeyPosition(|k: &str| {
            node.children.iter().position(|c| c.key == k)
        }))? {
            match pos {
                Some(pos) => {
                    let child = &node.children[pos].node;
                    let bit = 1u64.checked_shl(pos as u32).unwrap_or(0);
                    if bit == 0 || seen & bit != 0 {
                        clear(child, self.out);
                    }
                    seen |= bit;
                    map.next_value_seed(PickWalk {
                        node: child,
                        out: &mut *self.out,
                    })?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.saw("a list");
        let node = self.node;
        if let Some((s, items)) = &node.each {
            let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(p) = seq.next_element_seed(PickSeed(items))? {
                list.push(p);
            }
            self.out.set(self.out.list_at(*s), Slot::List(list));
            return Ok(());
        }
        let mut i = 0;
        loop {
            let more = match node.children.iter().find(|c| c.index == Some(i)) {
                Some(c) => seq
                    .next_element_seed(PickWalk {
                        node: &c.node,
                        out: &mut *self.out,
                    })?
                    .is_some(),
                None => seq.next_element::<IgnoredAny>()?.is_some(),
            };
            if !more {
                return Ok(());
            }
            i += 1;
        }
    }
}

/// One list element read by a pick.
struct PickSeed<'s>(&'s Pick);

impl<'de> DeserializeSeed<'de> for PickSeed<'_> {
    type Value = Picked;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Picked, D::Error> {
        self.0.read(d)
    }
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

    /// Every pointer of `fields` reads the same in the sparse items as in the whole list.
    fn same_as_whole(body: &str, list: &str, keep: &[&str], fields: &[&str]) {
        let whole = parse_body(body.as_bytes(), "t").unwrap();
        let mut sel = Selection::new();
        for k in keep {
            sel.keep(k);
        }
        sel.list(list);
        let fs: Vec<Field> = fields.iter().map(|p| sel.field(p)).collect();
        let sparse = parse_sparse(body.as_bytes(), "t", &sel).unwrap();
        for k in keep {
            assert_eq!(sparse.doc().pointer(k), whole.pointer(k), "{body} {k}");
        }
        match list_at(&whole, list) {
            Ok(items) => {
                let got = sparse.items().unwrap();
                assert_eq!(got.len(), items.len(), "{body}");
                for (a, b) in got.iter().zip(items) {
                    for f in &fs {
                        assert_eq!(a.lookup(f), b.lookup(f), "{body} {}", f.pointer());
                    }
                }
            }
            Err(e) => assert_eq!(sparse.items().unwrap_err().to_string(), e.to_string()),
        }
    }

    #[test]
    fn sparse_reads_what_a_whole_parse_reads() {
        let body = r#"{"code": 200, "data": {"total": 7, "skip": {"deep": [1, {"x": "y"}]},
            "list": [{"sku": "a", "qty": 3, "name": "x", "inv": {"us": 2, "eu": [1, 2]}},
                     {"qty": null, "sku": 12, "sku": "last wins", "a/b": 1, "t~x": 2},
                     "scalar", [1, 2], null, {"inv": 5}]}}"#;
        let fields = [
            "/sku",
            "/qty",
            "/inv/us",
            "/inv/eu/1",
            "/a~1b",
            "/t~0x",
            "/0",
            "/none",
            "x",
        ];
        same_as_whole(
            body,
            "/data/list",
            &["/data/total", "/code", "/nope"],
            &fields,
        );
        // Fields that read the element itself keep elements whole.
        same_as_whole(body, "/data/list", &[], &["", "/sku"]);
        // The list inside something kept whole, and something kept inside the list.
        same_as_whole(body, "/data/list", &["/data"], &fields);
        same_as_whole(body, "/data/list", &["/data/list/0/name"], &fields);
        // Lists reached through arrays, top-level lists, missing and mistyped lists.
        let nested = r#"{"pages": [{"list": [1]}, {"list": [{"sku": "b"}]}], "n": 2}"#;
        same_as_whole(
            nested,
            "/pages/1/list",
            &["/n", "/pages/0/list/0"],
            &["/sku"],
        );
        same_as_whole(r#"[{"sku": "a"}, {"sku": "b"}]"#, "", &[], &["/sku"]);
        for missing in [
            r#"{"data": {}}"#,
            r#"{"data": {"list": null}}"#,
            r#"{"data": 3}"#,
        ] {
            same_as_whole(missing, "/data/list", &[], &["/sku"]);
        }
        for wrong in [
            r#"{"data": {"list": {"sku": "a"}}}"#,
            r#"{"data": {"list": "x"}}"#,
        ] {
            same_as_whole(wrong, "/data/list", &[], &["/sku"]);
        }
    }

    #[test]
    fn sparse_errors_match_the_whole_parse() {
        let mut sel = Selection::new();
        sel.list("/data/list");
        sel.field("/sku");
        for body in [
            &br#"{"data": {"list": [{"sku": "a", "other": [1, 2"#[..],
            br#"{"skipped": "unterminated"#,
            br#"{"data": {"list": [{"sku": "a"}]}, "skipped": nope}"#,
            br#"{"data": {"list": []}} trailing"#,
            b"{\"skipped\": \"\xff\", \"data\": {\"list\": []}}",
            b"",
        ] {
            let whole = parse_body(body, "page").unwrap_err().to_string();
            let sparse = parse_sparse(body, "page", &sel).unwrap_err().to_string();
            assert_eq!(sparse, whole);
        }
        let truncated = parse_sparse(br#"{"x": [1, 2"#, "page", &sel).unwrap_err();
        assert!(truncated.to_string().contains("truncated"), "{truncated}");
        assert_eq!(truncated.kind(), ErrorKind::Protocol);
        let single = parse_sparse(br#"{"data": {"list": {"sku": "a"}}}"#, "p", &sel).unwrap();
        assert_eq!(single.items_or_single().unwrap().len(), 1);
    }

    #[test]
    fn taking_moves_values_out() {
        let mut sel = Selection::new();
        sel.list("/l");
        let sku = sel.field("/sku");
        let deep = sel.field("/q/n");
        assert!(!sku.overlaps(&deep) && deep.overlaps(&Field::plain("/q")));
        let page = parse_sparse(br#"{"l": [{"sku": "a", "q": {"n": 1}}]}"#, "p", &sel).unwrap();
        let mut items = page.into_items().unwrap();
        assert_eq!(items[0].take(&sku), Some(json!("a")));
        assert_eq!(items[0].lookup(&sku), Some(&Value::Null));
        assert_eq!(items[0].take(&deep), Some(json!(1)));
        let whole = json!({"sku": "b"});
        assert_eq!((&whole).take(&Field::plain("/sku")), Some(json!("b")));
    }

    #[test]
    fn picks_read_what_a_whole_parse_reads() {
        let mut loc = Pick::new();
        let q = loc.value("/q/0/n").unwrap();
        let name = loc.value("/loc/name").unwrap();
        let mut item = Pick::new();
        let sku = item.value("/sku").unwrap();
        let root = item.kind("").unwrap();
        let inv = item.kind("/inv").unwrap();
        let nodes = item.each("/inv/nodes", loc.clone()).unwrap();
        let arr = item.each("/inv", loc).unwrap();
        let more = item.value("/inv/page/more").unwrap();
        let whole = item.value("/w").unwrap();
        let under = item.value("/w/x").unwrap();
        let mut sel = Selection::new();
        sel.list("/l").pick(item.clone());
        let body = r#"{"l": [{"sku": "a", "inv": {"page": {"more": true}, "nodes": [
                {"q": [{"n": 1}], "loc": {"name": "M", "id": 1}}, null, "s", {"q": []}]},
                "w": {"x": [1]}},
            {"sku": 1, "sku": {"no": 1}, "inv": [{"q": [{"n": 2}, {"n": 3}]}]},
            null, 7, {"inv": {"nodes": {"q": 1}}}, {"inv": {"nodes": [1]}, "inv": 3}]}"#;
        let doc = parse_body(body.as_bytes(), "t").unwrap();
        let page = parse_sparse(body.as_bytes(), "t", &sel).unwrap();
        let items = page.items().unwrap();
        let list = list_at(&doc, "/l").unwrap();
        assert_eq!(items.len(), list.len());
        for (got, v) in items.iter().zip(list) {
            let want = item.read_value(v);
            let got = got.picked().unwrap();
            assert_eq!(got, &want, "{v}");
            assert_eq!(got.get(sku), v.pointer("/sku"));
            assert_eq!(got.get(more), v.pointer("/inv/page/more"));
            assert_eq!(got.get(whole), v.pointer("/w"));
            assert_eq!(got.get(under), v.pointer("/w/x"));
            assert_eq!(got.kind(root), Some(type_name(v)));
            assert_eq!(got.kind(inv), v.pointer("/inv").map(type_name));
            for (slot, p) in [(nodes, "/inv/nodes"), (arr, "/inv")] {
                match v.pointer(p) {
                    Some(Value::Array(es)) => {
                        let ps = got.list(slot).unwrap();
                        assert_eq!(ps.len(), es.len());
                        for (pe, e) in ps.iter().zip(es) {
                            assert_eq!(pe.get(q), e.pointer("/q/0/n"));
                            assert_eq!(pe.get(name), e.pointer("/loc/name"));
                        }
                    }
                    _ => assert_eq!(got.list(slot), None),
                }
            }
        }
        // A single object at the list's place, and a list inside something kept whole.
        let one = parse_sparse(br#"{"l": {"sku": "z"}}"#, "t", &sel).unwrap();
        assert_eq!(
            one.items_or_single().unwrap()[0].picked().unwrap().get(sku),
            Some(&json!("z"))
        );
        sel.keep("/l");
        let kept = parse_sparse(body.as_bytes(), "t", &sel).unwrap();
        for (got, v) in kept.items().unwrap().iter().zip(list) {
            assert_eq!(got.picked(), Some(&item.read_value(v)));
        }
    }
}
