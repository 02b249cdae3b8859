//! Just enough XML for the SOAP supplier: request envelopes read into a small tree
//! (namespace-aware, with DOCTYPEs and unknown entities refused and size capped), and answers
//! written with quick-xml's escaping writer.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// Deepest element nesting read.
const MAX_DEPTH: usize = 32;
/// Most elements read from one request.
const MAX_ELEMENTS: usize = 20_000;

/// An element: its namespace URI, local name, attributes (local name, value), text and
/// children.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    pub ns: Option<String>,
    pub local: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    /// The first child with this local name.
    pub(crate) fn child(&self, local: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.local == local)
    }

    /// Every child with this local name.
    pub(crate) fn all<'a>(&'a self, local: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.local == local)
    }

    /// A child's trimmed text.
    pub(crate) fn text_of(&self, local: &str) -> Option<&str> {
        self.child(local).map(|c| c.text.trim())
    }

    pub(crate) fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == local)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a document into its root element; an error says what was wrong, never panics.
pub(crate) fn parse(body: &[u8]) -> Result<Node, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the request is not UTF-8".to_string())?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut count = 0usize;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("malformed XML: {e}"))?;
        let ns = match ns {
            ResolveResult::Bound(n) => Some(n.into_inner().to_string()),
            _ => None,
        };
        match event {
            Event::DocType(_) => return Err("DOCTYPE is not accepted".into()),
            Event::Start(ref e) | Event::Empty(ref e) => {
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err("the document is too large or too deep".into());
                }
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(|e| format!("malformed attribute: {e}"))?;
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| format!("malformed attribute value: {e}"))?;
                    attrs.push((
                        a.key.local_name().into_inner().to_string(),
                        value.into_owned(),
                    ));
                }
                let node = Node {
                    ns,
                    local: e.local_name().into_inner().to_string(),
                    attrs,
                    text: String::new(),
                    children: Vec::new(),
                };
                if matches!(event, Event::Empty(_)) {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => return Ok(node),
                    }
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                let Some(done) = stack.pop() else {
                    return Err("unbalanced end tag".into());
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                let c = match &*r {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => r
                        .resolve_char_ref()
                        .ok()
                        .flatten()
                        .ok_or_else(|| "undeclared entity".to_string())?,
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push(c);
                }
            }
            Event::Eof => return Err("the document ended early".into()),
            _ => {}
        }
    }
}

/// Builds an answer document; every text and attribute value goes through quick-xml's
/// escaping.
pub(crate) struct Out {
    w: Writer<Vec<u8>>,
    ok: bool,
}

impl Out {
    pub(crate) fn new() -> Self {
        let mut w = Writer::new(Vec::with_capacity(1024));
        let ok = w
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
            .is_ok();
        Out { w, ok }
    }

    /// Opens `name` with attributes.
    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        let mut start = BytesStart::new(name);
        for a in attrs {
            start.push_attribute(*a);
        }
        self.ok &= self.w.write_event(Event::Start(start)).is_ok();
        self
    }

    pub(crate) fn close(&mut self, name: &str) -> &mut Self {
        self.ok &= self.w.write_event(Event::End(BytesEnd::new(name))).is_ok();
        self
    }

    /// `<name>text</name>`.
    pub(crate) fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name, &[]);
        self.ok &= self
            .w
            .write_event(Event::Text(BytesText::new(text)))
            .is_ok();
        self.close(name)
    }

    /// The document; `None` if writing failed (it writes to memory, so it does not).
    pub(crate) fn finish(self) -> Option<Vec<u8>> {
        self.ok.then(|| self.w.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_namespaces_entities_and_refuses_doctype() {
        let doc =
            br#"<?xml version="1.0"?><s:E xmlns:s="urn:s"><s:B a="1 &amp; 2">x &lt; y</s:B></s:E>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.ns.as_deref(), Some("urn:s"));
        let b = root.child("B").unwrap();
        assert_eq!(b.attr("a"), Some("1 & 2"));
        assert_eq!(b.text, "x < y");
        assert!(parse(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>").is_err());
        assert!(parse(b"<x><y></x>").is_err());
        assert!(parse(b"").is_err());
    }

    #[test]
    fn writes_escaped_text() {
        let mut out = Out::new();
        out.open("a", &[("k", "<&>")]).leaf("b", "1 & 2").close("a");
        let text = String::from_utf8(out.finish().unwrap()).unwrap();
        assert!(text.contains("1 &amp; 2"), "{text}");
        assert!(text.contains("&lt;&amp;&gt;"), "{text}");
    }
}
