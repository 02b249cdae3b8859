//! SOAP Faults, 1.1 and 1.2, as typed errors.
//!
//! A fault is read wherever it arrives (HTTP 500, as the specs say, or HTTP 200, as some
//! servers do) by the response classifier the adapter installs on its transport, so the
//! transport retries exactly the faults that may pass: server-side ones (`Server` /
//! `Receiver`, [`Transient`](ErrorKind::Transient)), never client-side ones (`Client` /
//! `Sender`, [`Invalid`](ErrorKind::Invalid)). The supplier's own code can override that
//! through the configured table (`soap.faults.codes`), looked up, in order, with the configured
//! detail element's text (`soap.faults.detail_code`), the 1.2 subcodes (innermost first), and
//! the fault code's local name. WS-Security fault codes (`wsse:FailedAuthentication`, ...) are
//! [`Auth`](ErrorKind::Auth).
//!
//! The fault itself stays available as data: the error's [`source`](std::error::Error::source)
//! is a [`SoapFault`] (see [`SoapFault::of`]) holding the code, subcodes, reason, actor, detail
//! entries and the response's SOAP header entries, every text sanitized.

use std::collections::BTreeMap;
use std::fmt;

use quick_xml::events::Event;
use quick_xml::name::QName;

use super::read::{
    Limits, XmlReader, append_capped, doctype_refused, element_ns, protocol, reference_char,
};
use super::spec::{FaultSpec, SoapVersion};
use crate::auth::wsse::WSSE_NS;
use crate::error::{Error, ErrorKind, Result, sanitize};

/// Most detail entries kept from one fault.
pub const MAX_DETAIL_ENTRIES: usize = 32;

/// A qualified fault code: the namespace URI its prefix was bound to (never the prefix) and
/// its local part, as in `soap:Client` or Magento's bare `5`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultCode {
    /// The namespace URI, when the code was qualified (or a default namespace applied).
    pub namespace: Option<String>,
    /// The local part (`Client`, `Sender`, `Client.Authentication`, `5`), sanitized.
    pub local: String,
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.local)
    }
}

/// What a fault code says about whose fault it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultClass {
    /// `Client` (1.1) / `Sender` (1.2): the request is wrong.
    Client,
    /// `Server` (1.1) / `Receiver` (1.2): the supplier failed; may pass.
    Server,
    /// `VersionMismatch`: the envelope version is not the supplier's.
    VersionMismatch,
    /// `MustUnderstand`: a header the supplier must understand, it did not.
    MustUnderstand,
    /// `DataEncodingUnknown` (1.2).
    DataEncodingUnknown,
    /// A WS-Security fault (`wsse:` namespace).
    Security,
    /// Anything else (a supplier's own code, such as Magento's `5`).
    Other,
}

impl FaultCode {
    /// The class of this code. A SOAP-namespace code is classed by its local part before any
    /// `.` (`Client.Authentication` is `Client`); an unqualified `Client`/`Server`/`Sender`/
    /// `Receiver` is classed the same way, as many servers omit the prefix.
    pub fn class(&self) -> FaultClass {
        let base = self.local.split('.').next().unwrap_or("");
        let soap_ns = self
            .namespace
            .as_deref()
            .is_some_and(|ns| SoapVersion::from_namespace(ns).is_some());
        if self.namespace.as_deref() == Some(WSSE_NS) {
            return FaultClass::Security;
        }
        if !soap_ns && self.namespace.is_some() {
            return FaultClass::Other;
        }
        match base {
            "Client" | "Sender" => FaultClass::Client,
            "Server" | "Receiver" => FaultClass::Server,
            "VersionMismatch" if soap_ns => FaultClass::VersionMismatch,
            "MustUnderstand" if soap_ns => FaultClass::MustUnderstand,
            "DataEncodingUnknown" if soap_ns => FaultClass::DataEncodingUnknown,
            _ => FaultClass::Other,
        }
    }
}

/// One named value from a fault's `detail`, or from the response's SOAP `Header`: the element's
/// local name and its text, both sanitized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultEntry {
    /// The element's local name.
    pub name: String,
    /// Its text, trimmed and sanitized.
    pub text: String,
}

impl FaultEntry {
    pub(crate) fn new(name: &str, text: &str) -> Self {
        FaultEntry {
            name: sanitize(name),
            text: sanitize(text),
        }
    }
}

/// A SOAP fault as the supplier sent it, every text sanitized (control characters removed,
/// secret-looking values redacted, length capped). Found as the [`source`] of the
/// [`Error`] the adapter returns; see [`SoapFault::of`].
///
/// [`source`]: std::error::Error::source
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SoapFault {
    /// The envelope version the fault came in.
    pub version: SoapVersion,
    /// `faultcode` (1.1) or `Code/Value` (1.2).
    pub code: FaultCode,
    /// `Code/Subcode/Value`, outermost first (1.2 only).
    pub subcodes: Vec<FaultCode>,
    /// `faultstring` (1.1) or the first `Reason/Text` (1.2).
    pub reason: String,
    /// `faultactor` (1.1) or `Role`/`Node` (1.2).
    pub actor: Option<String>,
    /// The `detail` / `Detail` leaf elements, in document order.
    pub detail: Vec<FaultEntry>,
    /// The response's SOAP `Header` leaf elements (a correlation id, a WS-Security timestamp).
    pub headers: Vec<FaultEntry>,
}

impl SoapFault {
    pub(crate) fn empty(version: SoapVersion) -> Self {
        SoapFault {
            version,
            code: FaultCode::default(),
            subcodes: Vec::new(),
            reason: String::new(),
            actor: None,
            detail: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn with_headers(mut self, headers: Vec<FaultEntry>) -> Self {
        self.headers = headers;
        self
    }

    /// The fault behind an error the SOAP adapter returned, if it was a fault.
    pub fn of(error: &Error) -> Option<&SoapFault> {
        std::error::Error::source(error).and_then(|s| s.downcast_ref::<SoapFault>())
    }

    /// The text of the first detail entry named `name`.
    pub fn detail_value(&self, name: &str) -> Option<&str> {
        self.detail
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.text.as_str())
    }

    /// The class of the fault: its code's, or for 1.2 a WS-Security subcode's.
    pub fn class(&self) -> FaultClass {
        if self
            .subcodes
            .iter()
            .any(|s| s.class() == FaultClass::Security)
        {
            return FaultClass::Security;
        }
        self.code.class()
    }
}

impl fmt::Display for SoapFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SOAP {} fault {}", self.version.as_str(), self.code)?;
        for s in &self.subcodes {
            write!(f, "/{s}")?;
        }
        write!(f, ": {}", self.reason)?;
        for e in &self.detail {
            write!(f, "; {}={}", e.name, e.text)?;
        }
        Ok(())
    }
}

impl std::error::Error for SoapFault {}

/// How faults become kinds, from the supplier's config.
#[derive(Debug, Clone)]
pub(crate) struct FaultPolicy {
    codes: BTreeMap<String, ErrorKind>,
    detail_code: Option<String>,
    unknown: ErrorKind,
    session_expired: Vec<String>,
}

impl FaultPolicy {
    pub(crate) fn new(spec: &FaultSpec, session_expired: Vec<String>) -> Self {
        FaultPolicy {
            codes: spec.codes.clone(),
            detail_code: spec.detail_code.clone(),
            unknown: spec.unknown,
            session_expired,
        }
    }

    /// The codes to look up, most specific first.
    fn candidates<'f>(&self, fault: &'f SoapFault) -> Vec<&'f str> {
        let mut out = Vec::new();
        if let Some(name) = &self.detail_code
            && let Some(v) = fault.detail_value(name)
        {
            out.push(v);
        }
        out.extend(fault.subcodes.iter().rev().map(|s| s.local.as_str()));
        out.push(fault.code.local.as_str());
        out.retain(|c| !c.is_empty());
        out
    }

    /// Whether the fault says the session expired (log in again).
    pub(crate) fn is_session_expired(&self, fault: &SoapFault) -> bool {
        self.candidates(fault)
            .iter()
            .any(|c| self.session_expired.iter().any(|s| s == c))
    }

    /// The kind and the supplier code for a fault.
    pub(crate) fn kind(&self, fault: &SoapFault) -> (ErrorKind, Option<String>) {
        let candidates = self.candidates(fault);
        let code = candidates.first().map(|c| c.to_string());
        for c in &candidates {
            if self.session_expired.iter().any(|s| s == c) {
                return (ErrorKind::Auth, code);
            }
            if let Some(k) = self.codes.get(*c) {
                return (*k, code);
            }
        }
        let kind = match fault.class() {
            FaultClass::Client => ErrorKind::Invalid,
            FaultClass::Server => ErrorKind::Transient,
            FaultClass::Security => ErrorKind::Auth,
            FaultClass::VersionMismatch
            | FaultClass::MustUnderstand
            | FaultClass::DataEncodingUnknown => ErrorKind::Protocol,
            FaultClass::Other => self.unknown,
        };
        (kind, code)
    }

    /// The typed error for a fault, the fault kept as its source.
    pub(crate) fn error(&self, fault: SoapFault) -> Error {
        let (kind, code) = self.kind(&fault);
        let mut message = format!("SOAP fault {}", fault.code);
        if !fault.reason.is_empty() {
            message.push_str(": ");
            message.push_str(&fault.reason);
        }
        let mut err = Error::new(kind, message);
        if let Some(c) = code {
            err = err.with_supplier_code(c);
        }
        err.with_source(fault)
    }
}

/// Where in a fault an element sits, for 1.1 (`faultcode` ...) and 1.2 (`Code/Value` ...).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Frame {
    local: String,
    /// In the envelope's namespace (1.2 fault parts must be; 1.1 parts are unqualified).
    soap: bool,
}

/// Reads a fault whose start tag was just read (at absolute `depth`), up to its end tag.
pub(crate) fn read_fault(
    reader: &mut XmlReader<'_>,
    version: SoapVersion,
    limits: &mut Limits,
    depth: usize,
) -> Result<SoapFault> {
    let env = version.namespace();
    let mut fault = SoapFault::empty(version);
    let mut stack: Vec<Frame> = Vec::new();
    let mut text = String::new();
    let mut reason_seen = false;
    let mut code_seen = false;
    loop {
        let event = reader.read_event()?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                limits.enter(depth + stack.len() + 1)?;
                let ns = element_ns(reader, e.name());
                stack.push(Frame {
                    local: e.local_name().into_inner().to_string(),
                    soap: ns == Some(env),
                });
                text.clear();
                if matches!(event, Event::Empty(_)) {
                    finish(
                        reader,
                        version,
                        &stack,
                        "",
                        &mut fault,
                        &mut reason_seen,
                        &mut code_seen,
                    );
                    stack.pop();
                }
            }
            Event::End(_) => {
                if stack.is_empty() {
                    return Ok(fault);
                }
                finish(
                    reader,
                    version,
                    &stack,
                    &text,
                    &mut fault,
                    &mut reason_seen,
                    &mut code_seen,
                );
                text.clear();
                stack.pop();
            }
            Event::Text(ref t) => append_capped(&mut text, &t.xml10_content())?,
            Event::CData(ref t) => append_capped(&mut text, &t.xml10_content())?,
            Event::GeneralRef(ref r) => {
                let mut buf = [0u8; 4];
                append_capped(&mut text, reference_char(r)?.encode_utf8(&mut buf))?;
            }
            Event::DocType(_) => return Err(doctype_refused()),
            Event::Eof => return Err(protocol("response is truncated inside a SOAP Fault")),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
        }
    }
}

/// Files the text of the element on top of `stack` into the fault.
fn finish(
    reader: &XmlReader<'_>,
    version: SoapVersion,
    stack: &[Frame],
    text: &str,
    fault: &mut SoapFault,
    reason_seen: &mut bool,
    code_seen: &mut bool,
) {
    let names: Vec<&str> = stack.iter().map(|f| f.local.as_str()).collect();
    let text = text.trim();
    match version {
        SoapVersion::V11 => {
            // 1.1 parts are unqualified; some servers qualify them anyway, accepted.
            let top_level = stack.first().is_some_and(|f| f.soap || stack.len() == 1);
            match names.as_slice() {
                ["faultcode"] if top_level => fault.code = qname(reader, text),
                ["faultstring"] if top_level => fault.reason = sanitize(text),
                ["faultactor"] if top_level => fault.actor = Some(sanitize(text)),
                ["detail", .., leaf] => detail_entry(fault, leaf, text),
                _ => {}
            }
        }
        SoapVersion::V12 => {
            let soap_path = stack.iter().all(|f| f.soap);
            match names.as_slice() {
                ["Code", "Value"] if soap_path && !*code_seen => {
                    fault.code = qname(reader, text);
                    *code_seen = true;
                }
                ["Code", "Subcode", rest @ ..] if soap_path && rest.last() == Some(&"Value") => {
                    fault.subcodes.push(qname(reader, text));
                }
                ["Reason", "Text"] if soap_path && !*reason_seen => {
                    fault.reason = sanitize(text);
                    *reason_seen = true;
                }
                ["Role"] | ["Node"] if soap_path => fault.actor = Some(sanitize(text)),
                ["Detail", .., leaf] if stack.first().is_some_and(|f| f.soap) => {
                    detail_entry(fault, leaf, text)
                }
                _ => {}
            }
        }
    }
}

fn detail_entry(fault: &mut SoapFault, leaf: &str, text: &str) {
    if !text.is_empty() && fault.detail.len() < MAX_DETAIL_ENTRIES {
        fault.detail.push(FaultEntry::new(leaf, text));
    }
}

/// Resolves a QName written as text (`soap:Client`) with the namespace bindings in scope: the
/// prefix is looked up, never compared.
fn qname(reader: &XmlReader<'_>, text: &str) -> FaultCode {
    let name = QName(text);
    let local = name.local_name().into_inner();
    // An unprefixed QName takes the default namespace in scope, as XML Schema QNames do.
    let namespace = reader
        .resolve(name.prefix().map(|p| p.into_inner()))
        .map(str::to_string);
    FaultCode {
        namespace,
        local: sanitize(local),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::soap::read::{Capture, Mode, Scanned, Values, scan};

    fn fault_of(body: &str) -> SoapFault {
        let mut v = Values::new(0);
        match scan(
            body.as_bytes(),
            Capture {
                scalars: &[],
                items: None,
            },
            &mut v,
            &mut |_| Ok(()),
            Mode::Sniff,
        )
        .unwrap()
        {
            Scanned::Fault(f) => *f,
            other => panic!("no fault: {other:?}"),
        }
    }

    fn policy(codes: &[(&str, ErrorKind)], detail: Option<&str>) -> FaultPolicy {
        FaultPolicy {
            codes: codes.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            detail_code: detail.map(str::to_string),
            unknown: ErrorKind::Invalid,
            session_expired: vec!["5".into()],
        }
    }

    #[test]
    fn soap11_fault_code_is_resolved_by_namespace_not_prefix() {
        let f = fault_of(
            r#"<x:Envelope xmlns:x="http://schemas.xmlsoap.org/soap/envelope/">
            <x:Header><corr:Id xmlns:corr="urn:c">abc-1</corr:Id></x:Header>
            <x:Body><x:Fault><faultcode>x:Server.Busy</faultcode>
            <faultstring>try later, token=abc123</faultstring>
            <detail><e:err xmlns:e="urn:e"><e:code>E42</e:code><e:msg>busy</e:msg></e:err></detail>
            </x:Fault></x:Body></x:Envelope>"#,
        );
        assert_eq!(
            f.code.namespace.as_deref(),
            Some(super::super::spec::SOAP11_NS)
        );
        assert_eq!(f.class(), FaultClass::Server);
        assert_eq!(f.reason, "try later, token=[redacted]");
        assert_eq!(f.detail_value("code"), Some("E42"));
        assert_eq!(f.headers, [FaultEntry::new("Id", "abc-1")]);
        let p = policy(&[("E42", ErrorKind::Throttled)], Some("code"));
        assert_eq!(p.kind(&f), (ErrorKind::Throttled, Some("E42".into())));
        let p = policy(&[], None);
        assert_eq!(p.kind(&f).0, ErrorKind::Transient);
    }

    #[test]
    fn soap12_subcodes_and_magento_bare_codes() {
        let f = fault_of(
            r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>
            <env:Fault><env:Code><env:Value>env:Sender</env:Value>
            <env:Subcode><env:Value xmlns:w="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">w:FailedAuthentication</env:Value></env:Subcode></env:Code>
            <env:Reason><env:Text xml:lang="en">bad token</env:Text><env:Text xml:lang="de">x</env:Text></env:Reason>
            </env:Fault></env:Body></env:Envelope>"#,
        );
        assert_eq!(f.class(), FaultClass::Security);
        assert_eq!(f.reason, "bad token");
        assert_eq!(policy(&[], None).kind(&f).0, ErrorKind::Auth);

        let magento = fault_of(
            r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>5</env:Value></env:Code><env:Reason><env:Text>Session expired. Try to relogin.</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#,
        );
        let p = policy(&[], None);
        assert!(p.is_session_expired(&magento));
        assert_eq!(p.kind(&magento), (ErrorKind::Auth, Some("5".into())));
    }
}
