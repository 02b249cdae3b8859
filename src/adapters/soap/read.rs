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
pub(crate) struct XmlReader<'i> {
    inner: Reader<&'i [u8]>,
    bindings: Vec<Binding>,
    level: usize,
    pending_pop: bool,
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
            Event::Start(e) => {
                self.level += 1;
                self.declare(e)?;
            }
            Event::Empty(e) => {
                self.level += 1;
                self.declare(e)?;
                self.pending_pop = true;
            }
            Event::End(_) => self.pending_pop = true,
            _ => {}
        }
        Ok(())
    }

    fn declare(&mut self, start: &BytesStart<'_>) -> Result<()> {
        if !start.attributes_raw().contains("xmlns") {
            return Ok(());
        }
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

/// A protocol error about the response's XML.
pub(crate) fn protocol(message: impl AsRef<str>) -> Error {
    Error::new(ErrorKind::Protocol, message)
}

/// A quick-xml error as a `Protocol` error, with where it happened.
pub(crate) fn xml_error(reader: &XmlReader<'_>, e: &quick_xml::Error) -> Error {
    protocol(format!(
        "malformed XML near byte {}: {e}",
        reader.error_position()
    ))
}

/// A reader over `body` with the settings every SOAP read uses.
pub(crate) fn xml_reader(body: &str) -> XmlReader<'_> {
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    let mut inner = Reader::from_str(body);
    let config = inner.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.expand_empty_elements = false;
    XmlReader {
        inner,
        bindings: Vec::new(),
        level: 0,
        pending_pop: false,
    }
}

/// The body as UTF-8, the only encoding accepted.
pub(crate) fn utf8(body: &[u8]) -> Result<&str> {
    std::str::from_utf8(body).map_err(|e| {
        protocol(format!(
            "response is not UTF-8 (invalid byte at {})",
            e.valid_up_to()
        ))
    })
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
}

impl Values {
    pub(crate) fn new(n: usize) -> Self {
        Values {
            text: vec![String::new(); n],
            present: vec![false; n],
        }
    }

    /// The value of field `i`, if the element (or attribute) was there.
    pub(crate) fn get(&self, i: usize) -> Option<&str> {
        match (self.present.get(i), self.text.get(i)) {
            (Some(true), Some(t)) => Some(t.as_str()),
            _ => None,
        }
    }

    /// Like [`get`](Values::get), for an optional field index; blank counts as absent.
    pub(crate) fn opt(&self, i: Option<usize>) -> Option<&str> {
        i.and_then(|i| self.get(i))
            .map(str::trim)
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
    fn close(&mut self, rel: usize) {
        if rel == self.matched && self.matched > 0 {
            self.matched -= 1;
        }
    }

    /// Whether text at relative depth `rel` is directly inside the path's last element.
    fn holds_text(&self, steps: &[Step], rel: usize) -> bool {
        !steps.is_empty() && self.matched == steps.len() && rel == steps.len()
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
    body: &str,
    capture: Capture<'_>,
    scalars: &mut Values,
    on_item: &mut dyn FnMut(&Values) -> Result<()>,
    mode: Mode,
) -> Result<Scanned> {
    let mut reader = xml_reader(body);
    let mut limits = Limits::default();
    let mut depth = 0usize;
    let mut version: Option<SoapVersion> = None;
    let mut in_header = false;
    let mut in_body = false;
    let mut seen_body = false;
    let mut body_child_seen = false;
    let mut header_entries: Vec<fault::FaultEntry> = Vec::new();
    let mut header_leaf = (String::new(), String::new());

    let mut scalar_tracks = vec![Track::default(); capture.scalars.len()];
    let mut scalar_done = vec![false; capture.scalars.len()];
    let (item_steps, fields) = capture.items.unwrap_or((&[], &[]));
    let mut item_track = Track::default();
    let mut item_depth: Option<usize> = None;
    let mut field_tracks = vec![Track::default(); fields.len()];
    let mut item = Values::new(fields.len());

    loop {
        let read = reader.read_untracked();
        let event = match &read {
            Ok(event) => event,
            Err(e) => return Err(xml_error(&reader, e)),
        };
        reader.track(event)?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let empty = matches!(event, Event::Empty(_));
                depth += 1;
                limits.enter(depth)?;
                let local = e.local_name().into_inner();
                match depth {
                    1 => {
                        let v = element_ns(&reader, e.name()).and_then(SoapVersion::from_namespace);
                        match (local, v) {
                            ("Envelope", Some(v)) => version = Some(v),
                            _ => {
                                return Err(protocol(format!(
                                    "not a SOAP envelope: the root element is {:?}",
                                    local.chars().take(64).collect::<String>()
                                )));
                            }
                        }
                    }
                    2 => {
                        let env = version.map(SoapVersion::namespace);
                        let ns = element_ns(&reader, e.name());
                        in_header = local == "Header" && ns == env;
                        in_body = local == "Body" && ns == env;
                        seen_body |= in_body;
                        if in_body && empty && mode == Mode::Sniff {
                            return Ok(Scanned::Answer);
                        }
                    }
                    _ if in_header => {
                        header_leaf.0.clear();
                        header_leaf.0.push_str(local);
                        header_leaf.1.clear();
                    }
                    _ if in_body => {
                        let rel = depth - 2;
                        if rel == 1 && !body_child_seen {
                            body_child_seen = true;
                            let env = version.map(SoapVersion::namespace);
                            if local == "Fault" && element_ns(&reader, e.name()) == env {
                                let v = version.unwrap_or(SoapVersion::V11);
                                let fault = if empty {
                                    SoapFault::empty(v)
                                } else {
                                    fault::read_fault(&mut reader, v, &mut limits, depth)?
                                };
                                return Ok(Scanned::Fault(Box::new(
                                    fault.with_headers(header_entries),
                                )));
                            }
                            if mode == Mode::Sniff {
                                return Ok(Scanned::Answer);
                            }
                        }
                        // Scalars below the Body.
                        for (i, path) in capture.scalars.iter().enumerate() {
                            if scalar_done.get(i).copied().unwrap_or(true) {
                                continue;
                            }
                            let Some(track) = scalar_tracks.get_mut(i) else {
                                continue;
                            };
                            if track.open(&path.elems, rel, local, || element_ns(&reader, e.name()))
                            {
                                scalars.mark(i);
                                if let Some(a) = &path.attr {
                                    capture_attr(&reader, e, a, scalars, i)?;
                                }
                            }
                        }
                        // Items and their fields.
                        if let Some(d) = item_depth {
                            let frel = rel - d;
                            for (i, f) in fields.iter().enumerate() {
                                let Some(track) = field_tracks.get_mut(i) else {
                                    continue;
                                };
                                if !f.elems.is_empty()
                                    && track.open(&f.elems, frel, local, || {
                                        element_ns(&reader, e.name())
                                    })
                                {
                                    item.mark(i);
                                    if let Some(a) = &f.attr {
                                        capture_attr(&reader, e, a, &mut item, i)?;
                                    }
                                }
                            }
                        } else if !item_steps.is_empty()
                            && item_track
                                .open(item_steps, rel, local, || element_ns(&reader, e.name()))
                        {
                            item_depth = Some(rel);
                            item.clear();
                            field_tracks.fill(Track::default());
                            for (i, f) in fields.iter().enumerate() {
                                if f.elems.is_empty()
                                    && let Some(a) = &f.attr
                                {
                                    capture_attr(&reader, e, a, &mut item, i)?;
                                }
                            }
                        }
                    }
                    _ => {}
                }
                if empty {
                    close(
                        &mut depth,
                        &mut in_header,
                        &mut in_body,
                        &mut header_leaf,
                        &mut header_entries,
                        &mut scalar_tracks,
                        &mut scalar_done,
                        scalars,
                        &mut item_track,
                        &mut item_depth,
                        &mut field_tracks,
                        &item,
                        on_item,
                    )?;
                }
            }
            Event::End(_) => {
                if in_body && depth == 2 && mode == Mode::Sniff {
                    return Ok(Scanned::Answer);
                }
                close(
                    &mut depth,
                    &mut in_header,
                    &mut in_body,
                    &mut header_leaf,
                    &mut header_entries,
                    &mut scalar_tracks,
                    &mut scalar_done,
                    scalars,
                    &mut item_track,
                    &mut item_depth,
                    &mut field_tracks,
                    &item,
                    on_item,
                )?;
            }
            Event::Text(t) => {
                let text = t.xml10_content();
                text_event(
                    &text,
                    depth,
                    in_header,
                    in_body,
                    &mut header_leaf,
                    capture,
                    &scalar_tracks,
                    scalars,
                    item_depth,
                    fields,
                    &field_tracks,
                    &mut item,
                )?;
            }
            Event::CData(t) => {
                let text = t.xml10_content();
                text_event(
                    &text,
                    depth,
                    in_header,
                    in_body,
                    &mut header_leaf,
                    capture,
                    &scalar_tracks,
                    scalars,
                    item_depth,
                    fields,
                    &field_tracks,
                    &mut item,
                )?;
            }
            Event::GeneralRef(r) => {
                let c = reference_char(r)?;
                let mut buf = [0u8; 4];
                text_event(
                    c.encode_utf8(&mut buf),
                    depth,
                    in_header,
                    in_body,
                    &mut header_leaf,
                    capture,
                    &scalar_tracks,
                    scalars,
                    item_depth,
                    fields,
                    &field_tracks,
                    &mut item,
                )?;
            }
            Event::DocType(_) => return Err(doctype_refused()),
            Event::Decl(d) => check_decl(d)?,
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => {
                if depth > 0 {
                    return Err(protocol(format!(
                        "response is truncated: it ends inside {depth} open element(s)"
                    )));
                }
                return match version {
                    None => Err(protocol("response holds no SOAP envelope")),
                    Some(_) if !seen_body => Err(protocol("SOAP envelope has no Body")),
                    Some(_) => Ok(Scanned::Answer),
                };
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn text_event(
    text: &str,
    depth: usize,
    in_header: bool,
    in_body: bool,
    header_leaf: &mut (String, String),
    capture: Capture<'_>,
    scalar_tracks: &[Track],
    scalars: &mut Values,
    item_depth: Option<usize>,
    fields: &[FieldPath],
    field_tracks: &[Track],
    item: &mut Values,
) -> Result<()> {
    if depth >= 3 && in_header {
        // Header text is only shown with a fault: keep a bounded, readable excerpt.
        if header_leaf.1.len() < crate::error::MAX_MESSAGE_CHARS * 4 {
            header_leaf.1.push_str(text);
        }
        return Ok(());
    }
    if depth < 3 || !in_body {
        return Ok(());
    }
    let rel = depth - 2;
    for (i, path) in capture.scalars.iter().enumerate() {
        if path.attr.is_none()
            && scalar_tracks
                .get(i)
                .is_some_and(|t| t.holds_text(&path.elems, rel))
        {
            scalars.append(i, text)?;
        }
    }
    if let Some(d) = item_depth {
        let frel = rel - d;
        for (i, f) in fields.iter().enumerate() {
            if f.attr.is_none()
                && field_tracks
                    .get(i)
                    .is_some_and(|t| t.holds_text(&f.elems, frel))
            {
                item.append(i, text)?;
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn close(
    depth: &mut usize,
    in_header: &mut bool,
    in_body: &mut bool,
    header_leaf: &mut (String, String),
    header_entries: &mut Vec<fault::FaultEntry>,
    scalar_tracks: &mut [Track],
    scalar_done: &mut [bool],
    scalars: &Values,
    item_track: &mut Track,
    item_depth: &mut Option<usize>,
    field_tracks: &mut [Track],
    item: &Values,
    on_item: &mut dyn FnMut(&Values) -> Result<()>,
) -> Result<()> {
    let d = *depth;
    if d == 0 {
        return Err(protocol("response closes an element it never opened"));
    }
    if d == 2 {
        *in_header = false;
        *in_body = false;
    } else if d >= 3 && *in_header {
        if !header_leaf.1.trim().is_empty() && header_entries.len() < MAX_HEADER_ENTRIES {
            header_entries.push(fault::FaultEntry::new(&header_leaf.0, &header_leaf.1));
        }
        header_leaf.1.clear();
    } else if d >= 3 && *in_body {
        let rel = d - 2;
        for (i, t) in scalar_tracks.iter_mut().enumerate() {
            let was_full = t.matched > 0 && rel == t.matched;
            t.close(rel);
            // First match wins: once a scalar's element closed with a value, stop matching it.
            if was_full
                && scalars.get(i).is_some()
                && let Some(done) = scalar_done.get_mut(i)
            {
                *done = true;
            }
        }
        match *item_depth {
            Some(idepth) if idepth == rel => {
                on_item(item)?;
                *item_depth = None;
            }
            Some(idepth) => {
                let frel = rel - idepth;
                for t in field_tracks.iter_mut() {
                    t.close(frel);
                }
            }
            None => {}
        }
        item_track.close(rel);
    }
    *depth = d - 1;
    Ok(())
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
            body,
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
    fn values_never_panic_on_bad_indexes() {
        let v = Values::new(1);
        assert_eq!(v.get(5), None);
        assert_eq!(v.opt(Some(9)), None);
    }
}
