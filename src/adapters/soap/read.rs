//! Reading SOAP responses as a stream of events, never as a tree.
//!
//! One pass over the body with quick-xml's [`Reader`]: elements are matched by local name and,
//! where a path asks for it, by namespace URI (never by prefix), so `soap:`, `S:`, `env:`,
//! `SOAP-ENV:` and a default namespace all read the same. Items are handed to a callback one at
//! a time and their field buffers are reused, so memory is bounded by the largest item, not by
//! the document.
//!
//! Safety: a `<!DOCTYPE` is refused the moment it is seen, before anything could be expanded;
//! entity references other than the five predefined ones and character references are refused
//! (with no DTD accepted, nothing can define them); nesting depth, element count and the length
//! of a captured value are capped by the constants below. The body itself was already capped by
//! the transport (`limits.max_body_bytes`).

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::QName;
use quick_xml::reader::Reader;

use super::fault::{self, SoapFault};
use super::spec::{FieldPath, SoapVersion, Step};
use crate::error::{Error, ErrorKind, Result};

/// Deepest element nesting accepted in a response (the envelope counts as 1). Real SOAP answers
/// stay under 20; a deeper document is refused as soon as it passes this depth.
pub const MAX_DEPTH: usize = 128;

/// Most elements accepted in one response. The body cap bounds this too; the count stops a
/// document of millions of empty elements from costing time once it is clearly not a stock list.
pub const MAX_ELEMENTS: u64 = 20_000_000;

/// Longest value (text of one mapped element or attribute) kept, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Most header entries kept from a response's SOAP `Header` (shown with a fault).
pub const MAX_HEADER_ENTRIES: usize = 32;

/// Most namespace declarations in scope at once; more is refused.
pub const MAX_NAMESPACE_BINDINGS: usize = 1024;

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// One `xmlns` / `xmlns:p` declaration, with the nesting level of the element declaring it.
#[derive(Debug)]
struct Binding {
    level: usize,
    prefix: String,
    uri: String,
}

/// quick-xml's [`Reader`] with namespace scopes tracked lazily: only elements whose attributes
/// mention `xmlns` are looked at, so namespace awareness costs almost nothing on the long runs
/// of `xsi:type`-annotated items RPC/encoded services send (quick-xml's `NsReader` parses every
/// element's attributes, about doubling the cost of a pass).
///
/// Declarations are read only down to `declared_to`: a scan that never resolves a name below
/// some depth skips the attribute check there (see [`scan`]).
pub(crate) struct XmlReader<'i> {
    inner: Reader<&'i [u8]>,
    bindings: Vec<Binding>,
    level: usize,
    pending_pop: bool,
    declared_to: usize,
}

impl<'i> XmlReader<'i> {
    /// The next event. Scopes follow the events: an element's declarations apply from its start
    /// tag through its end tag (they are dropped when the event after the end tag is read).
    pub(crate) fn read_event(&mut self) -> Result<Event<'i>> {
        let event = self.read_untracked().map_err(|e| xml_error(self, &e))?;
        self.track(&event)?;
        Ok(event)
    }

    /// quick-xml's next event, before [`track`](Self::track) has seen it. For the hot loop of
    /// [`scan`], which looks at the event where quick-xml left it: moving an event out of its
    /// `Result` costs a stalled copy per event, a noticeable share of a pass.
    #[inline]
    fn read_untracked(&mut self) -> quick_xml::Result<Event<'i>> {
        if self.pending_pop {
            self.pending_pop = false;
            while self.bindings.last().is_some_and(|b| b.level >= self.level) {
                self.bindings.pop();
            }
            self.level = self.level.saturating_sub(1);
        }
        self.inner.read_event()
    }

    /// Follows `event`'s scopes; must see every event [`read_untracked`](Self::read_untracked)
    /// returns, before any name in it is resolved.
    #[inline]
    fn track(&mut self, event: &Event<'_>) -> Result<()> {
        match event {
            Event::Start(e) => self.enter(e, false),
            Event::Empty(e) => self.enter(e, true),
            Event::End(_) => {
                self.leave();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// An element starts (and for an empty element, also ends): its declarations come into
    /// scope.
    #[inline]
    fn enter(&mut self, start: &BytesStart<'_>, empty: bool) -> Result<()> {
        self.level += 1;
        self.pending_pop = empty;
        if self.level > self.declared_to {
            return Ok(());
        }
        self.declare(start)
    }

    /// An element ends: its declarations leave scope once the next event is read.
    #[inline]
    fn leave(&mut self) {
        self.pending_pop = true;
    }

    /// Takes in `start`'s namespace declarations, if it has any: the check is inlined into
    /// every event, the reading of the attributes is not.
    #[inline]
    fn declare(&mut self, start: &BytesStart<'_>) -> Result<()> {
        if mentions_xmlns(start.attributes_raw().as_bytes()) {
            self.bind(start)
        } else {
            Ok(())
        }
    }

    #[inline(never)]
    fn bind(&mut self, start: &BytesStart<'_>) -> Result<()> {
        for attr in start.attributes() {
            let attr = attr.map_err(|e| protocol(format!("malformed attribute: {e}")))?;
            let key = attr.key.into_inner();
            let prefix = if key == "xmlns" {
                ""
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                p
            } else {
                continue;
            };
            if self.bindings.len() >= MAX_NAMESPACE_BINDINGS {
                return Err(refused(format!(
                    "response declares more than {MAX_NAMESPACE_BINDINGS} namespaces in scope"
                )));
            }
            let uri = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| attr_error(self, &e))?;
            self.bindings.push(Binding {
                level: self.level,
                prefix: prefix.to_string(),
                uri: uri.into_owned(),
            });
        }
        Ok(())
    }

    /// The namespace bound to `prefix` where the reader is; `None` (no prefix) is the default
    /// namespace. An undeclared prefix, or one reset with `xmlns:p=""`, resolves to nothing.
    pub(crate) fn resolve(&self, prefix: Option<&str>) -> Option<&str> {
        let p = prefix.unwrap_or("");
        if p == "xml" {
            return Some(XML_NS);
        }
        self.bindings
            .iter()
            .rev()
            .find(|b| b.prefix == p)
            .map(|b| b.uri.as_str())
            .filter(|u| !u.is_empty())
    }

    /// Where the last error happened.
    pub(crate) fn error_position(&self) -> u64 {
        self.inner.error_position()
    }
}

/// Whether an element's raw attributes could declare a namespace. Asked of every element, and
/// their attributes are short (`xsi:type="xsd:string"`), so every position is compared without
/// a branch (the compiler makes it a vector loop): a search that stops at each `x` mispredicts
/// more often than not, and a substring search spends longer setting itself up.
#[inline]
fn mentions_xmlns(raw: &[u8]) -> bool {
    let n = raw.len().saturating_sub(4);
    let at = |k: usize| raw.get(k..k + n).unwrap_or_default();
    at(0)
        .iter()
        .zip(at(1))
        .zip(at(2))
        .zip(at(3))
        .zip(at(4))
        .fold(false, |found, ((((x, m), l), n), s)| {
            found | ((*x == b'x') & (*m == b'm') & (*l == b'l') & (*n == b'n') & (*s == b's'))
        })
}

/// A protocol error about the response's XML.
pub(crate) fn protocol(message: impl AsRef<str>) -> Error {
    Error::new(ErrorKind::Protocol, message)
}

/// A quick-xml error as a `Protocol` error, with where it happened.
pub(crate) fn xml_error(reader: &XmlReader<'_>, e: &quick_xml::Error) -> Error {
    if let quick_xml::Error::Encoding(_) = e {
        return protocol(format!(
            "response is not UTF-8 (invalid byte near {})",
            reader.error_position()
        ));
    }
    protocol(format!(
        "malformed XML near byte {}: {e}",
        reader.error_position()
    ))
}

/// A reader over `body` with the settings every SOAP read uses. UTF-8 is the only encoding
/// read; quick-xml checks it event by event as it hands out text, so the body is not checked
/// in a pass of its own first.
pub(crate) fn xml_reader(body: &[u8]) -> XmlReader<'_> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut inner = Reader::from_reader(body);
    let config = inner.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.expand_empty_elements = false;
    XmlReader {
        inner,
        bindings: Vec::new(),
        level: 0,
        pending_pop: false,
        declared_to: usize::MAX,
    }
}

/// Counts elements and checks depth against the caps.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    elements: u64,
}

impl Limits {
    pub(crate) fn enter(&mut self, depth: usize) -> Result<()> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(refused(format!(
                "response has more than {MAX_ELEMENTS} elements"
            )));
        }
        if depth > MAX_DEPTH {
            return Err(refused(format!(
                "response nests deeper than {MAX_DEPTH} elements"
            )));
        }
        Ok(())
    }
}

/// The refusal of a document type declaration: it can declare entities (billion laughs,
/// external entities), so it is refused before anything in it is looked at.
pub(crate) fn doctype_refused() -> Error {
    refused("response contains a DOCTYPE (DTDs and entity declarations are not accepted)")
}

/// Ends every refusal message, so the classifier can tell a refused document (never retried,
/// whatever the HTTP status) from one that merely failed to parse.
pub(crate) const REFUSED: &str = "; refused";

/// A `Protocol` error for a document refused on safety grounds.
pub(crate) fn refused(what: impl std::fmt::Display) -> Error {
    protocol(format!("{what}{REFUSED}"))
}

/// Whether `e` is a refusal made by [`refused`].
pub(crate) fn is_refusal(e: &Error) -> bool {
    e.kind() == ErrorKind::Protocol && e.message().ends_with(REFUSED)
}

/// The character a reference stands for: `&#NN;`, `&#xNN;` and the five predefined entities.
/// Any other entity could only come from a DTD, and DTDs are refused.
pub(crate) fn reference_char(r: &BytesRef<'_>) -> Result<char> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err(protocol("response contains an invalid character reference")),
        };
    }
    match &**r {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(refused(format!(
            "response references the undeclared entity &{}; (no DTD is accepted)",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

/// Appends `text` to a captured value, within [`MAX_VALUE_BYTES`].
pub(crate) fn append_capped(out: &mut String, text: &str) -> Result<()> {
    if out.len() + text.len() > MAX_VALUE_BYTES {
        return Err(refused(format!(
            "a mapped value is longer than {MAX_VALUE_BYTES} bytes"
        )));
    }
    out.push_str(text);
    Ok(())
}

/// The namespace URI of an element name, as bound where it appears.
pub(crate) fn element_ns<'r>(reader: &'r XmlReader<'_>, name: QName<'_>) -> Option<&'r str> {
    reader.resolve(name.prefix().map(|p| p.into_inner()))
}

/// Checks the XML declaration's encoding: only UTF-8 (and its subset US-ASCII) is read.
fn check_decl(decl: &quick_xml::events::BytesDecl<'_>) -> Result<()> {
    match decl.encoding() {
        None => Ok(()),
        Some(Ok(enc)) => {
            let e = enc.to_ascii_lowercase();
            if matches!(e.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii") {
                Ok(())
            } else {
                Err(protocol(format!(
                    "response declares encoding {:?}; only UTF-8 is read",
                    e.chars().take(32).collect::<String>()
                )))
            }
        }
        Some(Err(_)) => Err(protocol("response has a malformed XML declaration")),
    }
}

/// Captured values: one slot per field, reused from item to item so an item costs no new
/// allocation once the first one has sized the buffers.
#[derive(Debug, Clone)]
pub(crate) struct Values {
    text: Vec<String>,
    present: Vec<bool>,
    /// Byte offsets of an item's start and end tags in the body (for an item: sizing hints).
    span: (u64, u64),
}

impl Values {
    pub(crate) fn new(n: usize) -> Self {
        Values {
            text: vec![String::new(); n],
            present: vec![false; n],
            span: (0, 0),
        }
    }

    /// The value of field `i`, if the element (or attribute) was there.
    pub(crate) fn get(&self, i: usize) -> Option<&str> {
        match (self.present.get(i), self.text.get(i)) {
            (Some(true), Some(t)) => Some(t.as_str()),
            _ => None,
        }
    }

    /// Where the item began and ended in the body, in bytes.
    pub(crate) fn span(&self) -> (u64, u64) {
        self.span
    }

    /// Like [`get`](Values::get), for an optional field index; blank counts as absent.
    pub(crate) fn opt(&self, i: Option<usize>) -> Option<&str> {
        i.and_then(|i| self.get(i))
            .map(crate::text::trim)
            .filter(|s| !s.is_empty())
    }

    fn clear(&mut self) {
        for t in &mut self.text {
            t.clear();
        }
        self.present.fill(false);
    }

    fn mark(&mut self, i: usize) {
        if let Some(p) = self.present.get_mut(i) {
            *p = true;
        }
    }

    fn append(&mut self, i: usize, text: &str) -> Result<()> {
        match self.text.get_mut(i) {
            Some(t) => append_capped(t, text),
            None => Ok(()),
        }
    }
}

/// Progress of one path along the current branch: how many of its steps are matched by the
/// open elements. Advancing and retreating are O(1) per event.
#[derive(Debug, Clone, Copy, Default)]
struct Track {
    matched: usize,
}

impl Track {
    /// An element opened at relative depth `rel`; returns true when this completes the path.
    /// Always inlined: it runs for every path at every element, and the first test usually
    /// settles it.
    #[inline(always)]
    fn open<'n>(
        &mut self,
        steps: &[Step],
        rel: usize,
        local: &str,
        ns: impl FnOnce() -> Option<&'n str>,
    ) -> bool {
        if rel != self.matched + 1 {
            return false;
        }
        match steps.get(self.matched) {
            Some(step) if step.matches(local, ns) => {
                self.matched += 1;
                self.matched == steps.len()
            }
            _ => false,
        }
    }

    /// An element closed at relative depth `rel`.
    #[inline]
    fn close(&mut self, rel: usize) {
        if rel == self.matched && self.matched > 0 {
            self.matched -= 1;
        }
    }
}

/// Reads attribute `name` (matched by local name) of `start` into slot `i`.
fn capture_attr(
    reader: &XmlReader<'_>,
    start: &BytesStart<'_>,
    name: &str,
    values: &mut Values,
    i: usize,
) -> Result<()> {
    for attr in start.attributes() {
        let attr = attr.map_err(|e| protocol(format!("malformed attribute: {e}")))?;
        if attr.key.local_name().into_inner() == name
            && attr.key.prefix().is_none_or(|p| p.into_inner() != "xmlns")
        {
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| attr_error(reader, &e))?;
            values.mark(i);
            return values.append(i, &value);
        }
    }
    Ok(())
}

fn attr_error(reader: &XmlReader<'_>, e: &quick_xml::Error) -> Error {
    match e {
        quick_xml::Error::Escape(_) => {
            refused("an attribute references an undeclared entity (no DTD is accepted)")
        }
        other => xml_error(reader, other),
    }
}

/// What to pick out of a response: values at paths below the `Body` (read once, first match
/// wins), and repeated items with fields relative to each item.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Capture<'p> {
    pub scalars: &'p [FieldPath],
    pub items: Option<(&'p [Step], &'p [FieldPath])>,
}

impl Capture<'_> {
    /// Whether any path names a namespace, so names must be resolved wherever they are.
    fn resolves_names(&self) -> bool {
        let named = |steps: &[Step]| steps.iter().any(|s| s.ns.is_some());
        self.scalars.iter().any(|p| named(&p.elems))
            || self
                .items
                .is_some_and(|(item, fields)| named(item) || fields.iter().any(|f| named(&f.elems)))
    }
}

/// The depth of the `Body`'s child (the envelope is 1).
const BODY_CHILD_DEPTH: usize = 3;

/// How much of the document to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Stop at the `Body`'s first child: enough to tell a fault from an answer. Used by the
    /// response classifier, so a large stock list is not read twice.
    Sniff,
    /// Read to the end.
    Full,
}

/// The outcome of a read.
#[derive(Debug)]
pub(crate) enum Scanned {
    /// A normal answer (in `Sniff` mode: not a fault).
    Answer,
    /// The `Body` held a fault.
    Fault(Box<SoapFault>),
}

/// Reads a SOAP response. `scalars` receives the capture's scalar values; `on_item` is called
/// once per item with that item's field values.
pub(crate) fn scan(
    body: &[u8],
    capture: Capture<'_>,
    scalars: &mut Values,
    on_item: &mut dyn FnMut(&Values) -> Result<()>,
    mode: Mode,
) -> Result<Scanned> {
    let mut reader = xml_reader(body);
    // Without a namespaced step, no name below the Body's child is ever resolved (that child
    // is where a fault is told apart), so declarations deeper than it need not be read: their
    // scope ends inside the part of the document that is matched by local name alone. A fault
    // is read with every declaration again.
    if !capture.resolves_names() {
        reader.declared_to = BODY_CHILD_DEPTH;
    }
    let mut state = Scan::new(capture, scalars, on_item, mode);
    loop {
        let before = reader.inner.buffer_position();
        let read = reader.read_untracked();
        let event = match &read {
            Ok(event) => event,
            Err(e) => return Err(xml_error(&reader, e)),
        };
        // Scopes are followed here rather than by `track`, saving a second dispatch per event.
        match event {
            Event::Start(e) => {
                reader.enter(e, false)?;
                if let Some(done) = state.open(&mut reader, e, false, before)? {
                    return Ok(done);
                }
            }
            Event::Empty(e) => {
                reader.enter(e, true)?;
                if let Some(done) = state.open(&mut reader, e, true, before)? {
                    return Ok(done);
                }
                state.close(reader.inner.buffer_position())?;
            }
            Event::End(_) => {
                reader.leave();
                if state.in_body && state.depth == 2 && mode == Mode::Sniff {
                    return Ok(Scanned::Answer);
                }
                state.close(reader.inner.buffer_position())?;
            }
            // Text is only decoded where a value is captured.
            Event::Text(t) if state.takes_text() => state.text(&t.xml10_content())?,
            Event::CData(t) if state.takes_text() => state.text(&t.xml10_content())?,
            Event::Text(_) | Event::CData(_) => {}
            Event::GeneralRef(r) => {
                let c = reference_char(r)?;
                state.text(c.encode_utf8(&mut [0u8; 4]))?;
            }
            Event::DocType(_) => return Err(doctype_refused()),
            Event::Decl(d) => check_decl(d)?,
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => return state.eof(),
        }
    }
}

/// Where a [`scan`] is in the document, and what it has captured so far.
struct Scan<'c, 'v> {
    capture: Capture<'c>,
    mode: Mode,
    limits: Limits,
    /// Open elements; the envelope is 1, the `Header` and `Body` 2.
    depth: usize,
    version: Option<SoapVersion>,
    in_header: bool,
    in_body: bool,
    seen_body: bool,
    body_child_seen: bool,
    /// Header entries kept for a fault, and the (name, text) of the header element open now.
    header_entries: Vec<fault::FaultEntry>,
    header_leaf: (String, String),
    scalar_tracks: Vec<Track>,
    scalar_done: Vec<bool>,
    scalars: &'v mut Values,
    item_track: Track,
    /// The open item's depth below the `Body`, while one is open.
    item_depth: Option<usize>,
    field_tracks: Vec<Track>,
    item: Values,
    on_item: &'v mut dyn FnMut(&Values) -> Result<()>,
    /// Where text read now goes: the (depth, value) of every path whose last element is open,
    /// innermost last. Text is only ever kept directly inside such an element, so one look at
    /// the top tells whether text at the current depth is wanted.
    takers: Vec<(usize, Slot)>,
}

/// A captured value: a scalar's or an item field's.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Scalar(usize),
    Field(usize),
}

impl<'c, 'v> Scan<'c, 'v> {
    fn new(
        capture: Capture<'c>,
        scalars: &'v mut Values,
        on_item: &'v mut dyn FnMut(&Values) -> Result<()>,
        mode: Mode,
    ) -> Self {
        let fields = capture.items.map_or(0, |(_, f)| f.len());
        Scan {
            capture,
            mode,
            limits: Limits::default(),
            depth: 0,
            version: None,
            in_header: false,
            in_body: false,
            seen_body: false,
            body_child_seen: false,
            header_entries: Vec::new(),
            header_leaf: (String::new(), String::new()),
            scalar_tracks: vec![Track::default(); capture.scalars.len()],
            scalar_done: vec![false; capture.scalars.len()],
            scalars,
            item_track: Track::default(),
            item_depth: None,
            field_tracks: vec![Track::default(); fields],
            item: Values::new(fields),
            on_item,
            takers: Vec::new(),
        }
    }

    /// A start tag (or an empty element, which [`close`](Self::close) then ends) read at byte
    /// `at`. Returns the outcome when the scan can stop here: a fault, or in `Sniff` mode an
    /// answer.
    fn open(
        &mut self,
        reader: &mut XmlReader<'_>,
        e: &BytesStart<'_>,
        empty: bool,
        at: u64,
    ) -> Result<Option<Scanned>> {
        self.depth += 1;
        self.limits.enter(self.depth)?;
        let local = e.local_name().into_inner();
        match self.depth {
            1 => {
                let v = element_ns(reader, e.name()).and_then(SoapVersion::from_namespace);
                match (local, v) {
                    ("Envelope", Some(v)) => self.version = Some(v),
                    _ => {
                        return Err(protocol(format!(
                            "not a SOAP envelope: the root element is {:?}",
                            local.chars().take(64).collect::<String>()
                        )));
                    }
                }
            }
            2 => {
                let env = self.version.map(SoapVersion::namespace);
                let ns = element_ns(reader, e.name());
                self.in_header = local == "Header" && ns == env;
                self.in_body = local == "Body" && ns == env;
                self.seen_body |= self.in_body;
                if self.in_body && empty && self.mode == Mode::Sniff {
                    return Ok(Some(Scanned::Answer));
                }
            }
            _ if self.in_header => {
                self.header_leaf.0.clear();
                self.header_leaf.0.push_str(local);
                self.header_leaf.1.clear();
            }
            _ if self.in_body => {
                let rel = self.depth - 2;
                if rel == 1 && !self.body_child_seen {
                    self.body_child_seen = true;
                    let env = self.version.map(SoapVersion::namespace);
                    if local == "Fault" && element_ns(reader, e.name()) == env {
                        let v = self.version.unwrap_or(SoapVersion::V11);
                        let fault = if empty {
                            SoapFault::empty(v)
                        } else {
                            reader.declared_to = usize::MAX;
                            fault::read_fault(reader, v, &mut self.limits, self.depth)?
                        };
                        let headers = std::mem::take(&mut self.header_entries);
                        return Ok(Some(Scanned::Fault(Box::new(fault.with_headers(headers)))));
                    }
                    if self.mode == Mode::Sniff {
                        return Ok(Some(Scanned::Answer));
                    }
                }
                self.open_in_body(reader, e, local, rel, at)?;
            }
            _ => {}
        }
        Ok(None)
    }

    /// An element opened `rel` levels below the `Body`: advances the scalar paths, and either
    /// the open item's field paths or the item path.
    fn open_in_body(
        &mut self,
        reader: &XmlReader<'_>,
        e: &BytesStart<'_>,
        local: &str,
        rel: usize,
        at: u64,
    ) -> Result<()> {
        let ns = || element_ns(reader, e.name());
        for (i, path) in self.capture.scalars.iter().enumerate() {
            if self.scalar_done.get(i).copied().unwrap_or(true) {
                continue;
            }
            let Some(track) = self.scalar_tracks.get_mut(i) else {
                continue;
            };
            if track.open(&path.elems, rel, local, ns) {
                self.scalars.mark(i);
                match &path.attr {
                    Some(a) => capture_attr(reader, e, a, self.scalars, i)?,
                    None => self.takers.push((self.depth, Slot::Scalar(i))),
                }
            }
        }
        let (item_steps, fields) = self.capture.items.unwrap_or((&[], &[]));
        if let Some(d) = self.item_depth {
            let frel = rel - d;
            for ((i, f), track) in fields.iter().enumerate().zip(&mut self.field_tracks) {
                if !f.elems.is_empty() && track.open(&f.elems, frel, local, ns) {
                    self.item.mark(i);
                    match &f.attr {
                        Some(a) => capture_attr(reader, e, a, &mut self.item, i)?,
                        None => self.takers.push((self.depth, Slot::Field(i))),
                    }
                }
            }
        } else if !item_steps.is_empty() && self.item_track.open(item_steps, rel, local, ns) {
            self.item_depth = Some(rel);
            self.item.clear();
            self.item.span = (at, at);
            self.field_tracks.fill(Track::default());
            for (i, f) in fields.iter().enumerate() {
                if f.elems.is_empty()
                    && let Some(a) = &f.attr
                {
                    capture_attr(reader, e, a, &mut self.item, i)?;
                }
            }
        }
        Ok(())
    }

    /// Whether [`text`](Self::text) would keep text read now.
    #[inline]
    fn takes_text(&self) -> bool {
        (self.in_header && self.depth >= 3) || self.takers.last().is_some_and(|t| t.0 == self.depth)
    }

    /// Text directly inside the element open now: kept for a header entry, or for each scalar
    /// and item field whose path ends here.
    fn text(&mut self, text: &str) -> Result<()> {
        if self.depth >= 3 && self.in_header {
            // Header text is only shown with a fault: keep a bounded, readable excerpt.
            if self.header_leaf.1.len() < crate::error::MAX_MESSAGE_CHARS * 4 {
                self.header_leaf.1.push_str(text);
            }
            return Ok(());
        }
        for &(depth, slot) in self.takers.iter().rev() {
            if depth != self.depth {
                break;
            }
            match slot {
                Slot::Scalar(i) => self.scalars.append(i, text)?,
                Slot::Field(i) => self.item.append(i, text)?,
            }
        }
        Ok(())
    }

    /// The element open now ends, at byte `at`; an item ending here goes to `on_item`.
    fn close(&mut self, at: u64) -> Result<()> {
        let d = self.depth;
        if d == 0 {
            return Err(protocol("response closes an element it never opened"));
        }
        while self.takers.last().is_some_and(|t| t.0 == d) {
            self.takers.pop();
        }
        if d == 2 {
            self.in_header = false;
            self.in_body = false;
        } else if d >= 3 && self.in_header {
            let (name, text) = &mut self.header_leaf;
            if !text.trim().is_empty() && self.header_entries.len() < MAX_HEADER_ENTRIES {
                self.header_entries.push(fault::FaultEntry::new(name, text));
            }
            text.clear();
        } else if d >= 3 && self.in_body {
            let rel = d - 2;
            for (i, t) in self.scalar_tracks.iter_mut().enumerate() {
                let was_full = t.matched > 0 && rel == t.matched;
                t.close(rel);
                // First match wins: once a scalar's element closed with a value, stop matching it.
                if was_full
                    && self.scalars.get(i).is_some()
                    && let Some(done) = self.scalar_done.get_mut(i)
                {
                    *done = true;
                }
            }
            match self.item_depth {
                Some(idepth) if idepth == rel => {
                    self.item.span.1 = at;
                    (self.on_item)(&self.item)?;
                    self.item_depth = None;
                }
                Some(idepth) => {
                    let frel = rel - idepth;
                    for t in &mut self.field_tracks {
                        t.close(frel);
                    }
                }
                None => {}
            }
            self.item_track.close(rel);
        }
        self.depth = d - 1;
        Ok(())
    }

    /// The end of the input: a whole envelope with a `Body` is an answer.
    fn eof(&self) -> Result<Scanned> {
        if self.depth > 0 {
            return Err(protocol(format!(
                "response is truncated: it ends inside {} open element(s)",
                self.depth
            )));
        }
        match self.version {
            None => Err(protocol("response holds no SOAP envelope")),
            Some(_) if !self.seen_body => Err(protocol("SOAP envelope has no Body")),
            Some(_) => Ok(Scanned::Answer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::soap::spec::parse_path;

    fn items(body: &str) -> Result<Vec<(Option<String>, Option<String>)>> {
        let steps = parse_path("resp/result/item", false).unwrap().elems;
        let fields = vec![
            parse_path("sku", true).unwrap(),
            parse_path("qty", true).unwrap(),
        ];
        let mut scalars = Values::new(0);
        let mut out = Vec::new();
        scan(
            body.as_bytes(),
            Capture {
                scalars: &[],
                items: Some((&steps, &fields)),
            },
            &mut scalars,
            &mut |v| {
                out.push((v.get(0).map(str::to_string), v.get(1).map(str::to_string)));
                Ok(())
            },
            Mode::Full,
        )?;
        Ok(out)
    }

    const NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

    #[test]
    fn items_and_references_read_in_one_pass() {
        let body = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="{NS}"><s:Body><m:resp xmlns:m="urn:x"><result>
<item><sku>A&amp;B</sku><qty>3</qty></item>
<item><sku>C&#x41;</sku><qty><![CDATA[>10]]></qty><extra><sku>ignored</sku></extra></item>
<item/></result></m:resp></s:Body></s:Envelope>"#
        );
        let got = items(&body).unwrap();
        assert_eq!(
            got,
            [
                (Some("A&B".into()), Some("3".into())),
                (Some("CA".into()), Some(">10".into())),
                (None, None)
            ]
        );
    }

    #[test]
    fn doctype_custom_entities_depth_and_truncation_are_refused() {
        let dtd = format!(r#"<!DOCTYPE x [<!ENTITY a "b">]><s:Envelope xmlns:s="{NS}"/>"#);
        assert!(items(&dtd).unwrap_err().message().contains("DOCTYPE"));
        let ent = format!(r#"<s:Envelope xmlns:s="{NS}"><s:Body>&a;</s:Body></s:Envelope>"#);
        assert!(items(&ent).unwrap_err().message().contains("entity"));
        let deep = format!(
            r#"<s:Envelope xmlns:s="{NS}"><s:Body>{}</s:Body></s:Envelope>"#,
            "<a>".repeat(MAX_DEPTH)
        );
        assert!(items(&deep).unwrap_err().message().contains("deeper"));
        let cut = format!(
            r#"<s:Envelope xmlns:s="{NS}"><s:Body><m:resp xmlns:m="urn:x"><result><item><sku>A"#
        );
        let e = items(&cut).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(items("").is_err());
        assert!(
            items("<html/>")
                .unwrap_err()
                .message()
                .contains("not a SOAP envelope")
        );
    }

    #[test]
    fn deep_declarations_are_read_when_a_path_names_a_namespace() {
        // `y` is declared three levels below the Body's child: a namespaced item path must
        // still see it, and a plain path matches by local name whatever is declared.
        let body = format!(
            r#"<s:Envelope xmlns:s="{NS}"><s:Body><m:resp xmlns:m="urn:x"><result>
<w xmlns:y="urn:y"><y:item><sku>A</sku></y:item><z:item xmlns:z="urn:z"><sku>B</sku></z:item></w>
</result></m:resp></s:Body></s:Envelope>"#
        );
        let read = |path: &str| {
            let steps = parse_path(path, false).unwrap().elems;
            let fields = vec![parse_path("sku", true).unwrap()];
            let mut got = Vec::new();
            scan(
                body.as_bytes(),
                Capture {
                    scalars: &[],
                    items: Some((&steps, &fields)),
                },
                &mut Values::new(0),
                &mut |v| {
                    got.push(v.get(0).unwrap_or_default().to_string());
                    Ok(())
                },
                Mode::Full,
            )
            .unwrap();
            got
        };
        assert_eq!(read("resp/result/w/{urn:y}item"), ["A"]);
        assert_eq!(read("resp/result/w/{urn:z}item"), ["B"]);
        assert_eq!(read("resp/result/w/item"), ["A", "B"]);
    }

    #[test]
    fn namespace_declarations_are_spotted_anywhere_in_the_attributes() {
        for yes in [
            " xmlns='u'",
            " a='1' xmlns:p=\"u\"",
            "xmlns",
            " xsi:type=\"x\" xmlns=''",
        ] {
            assert!(mentions_xmlns(yes.as_bytes()), "{yes}");
        }
        for no in [
            "",
            " ",
            "xmln",
            " xsi:type=\"xsd:string\"",
            " xmlx='1' mlns='2'",
        ] {
            assert!(!mentions_xmlns(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_a_typed_error_wherever_they_are() {
        let ok = format!(
            r#"<s:Envelope xmlns:s="{NS}"><s:Body><m:resp xmlns:m="urn:x"><result><item><sku>AB</sku><qty>1</qty></item></result></m:resp></s:Body></s:Envelope>"#
        );
        let at = |needle: &str, bad: &[u8]| {
            let i = ok.find(needle).unwrap();
            let mut b = ok.as_bytes().to_vec();
            b.splice(i..i + needle.len(), bad.iter().copied());
            b
        };
        // In text, in an element name, in an attribute value; a BOM is accepted.
        for body in [
            at("AB", b"A\xff"),
            at("<qty>", b"<q\xc3ty>"),
            at(r#"xmlns:m="urn:x""#, b"xmlns:m=\"urn:\xfe\""),
        ] {
            let e = items_of(&body).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Protocol);
            assert!(e.message().contains("not UTF-8"), "{}", e.message());
        }
        let bom = [b"\xEF\xBB\xBF".as_slice(), ok.as_bytes()].concat();
        assert_eq!(items_of(&bom).unwrap(), 1);
    }

    fn items_of(body: &[u8]) -> Result<usize> {
        let steps = parse_path("resp/result/item", false).unwrap().elems;
        let fields = vec![parse_path("sku", true).unwrap()];
        let mut n = 0;
        scan(
            body,
            Capture {
                scalars: &[],
                items: Some((&steps, &fields)),
            },
            &mut Values::new(0),
            &mut |_| {
                n += 1;
                Ok(())
            },
            Mode::Full,
        )?;
        Ok(n)
    }

    #[test]
    fn values_never_panic_on_bad_indexes() {
        let v = Values::new(1);
        assert_eq!(v.get(5), None);
        assert_eq!(v.opt(Some(9)), None);
    }
}
