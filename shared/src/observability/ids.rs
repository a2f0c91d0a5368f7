//! Request identity: the `x-request-id` a client may send (accepted only when sane, otherwise
//! generated) and the W3C trace context (`traceparent`: accepted when valid, otherwise a new
//! trace is started; every request gets its own span id. A downstream call sees as its parent
//! its own `downstream.call` span when that span is recorded (see
//! [`super::DownstreamCall`]), else the request's span).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest request id accepted from a client.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The client's `x-request-id` when it is 1..=128 characters of `[A-Za-z0-9-_.]`, else a new id.
pub fn accept_request_id(header: Option<&str>) -> String {
    match header {
        Some(id) if is_sane_request_id(id) => id.to_owned(),
        _ => new_request_id(),
    }
}

/// Whether a client-sent request id may be echoed, logged and passed on.
pub fn is_sane_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A fresh request id: 32 lowercase hex digits.
pub fn new_request_id() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

/// The trace context of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits, shared by the whole trace.
    pub trace_id: String,
    /// The caller's span id (16 hex digits) when a valid `traceparent` came in.
    pub parent_span_id: Option<String>,
    /// This request's own span id (16 hex digits), the parent of its downstream calls.
    pub span_id: String,
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
}

impl TraceContext {
    /// Continues the incoming `traceparent` when it is valid, else starts a new trace. The
    /// sampled flag is the installed OTLP sampler's decision ([`super::otlp`]); without an
    /// exporter, the incoming flags are kept and new traces are sampled.
    pub fn from_header(header: Option<&str>) -> Self {
        let span_id = new_span_id();
        match header.and_then(parse_traceparent) {
            Some((trace_id, parent, flags)) => {
                let sampled = super::otlp::sampled(&trace_id, Some(flags));
                Self {
                    flags: (flags & !1) | u8::from(sampled),
                    trace_id,
                    parent_span_id: Some(parent),
                    span_id,
                }
            }
            None => {
                let trace_id = new_trace_id();
                Self {
                    flags: u8::from(super::otlp::sampled(&trace_id, None)),
                    trace_id,
                    parent_span_id: None,
                    span_id,
                }
            }
        }
    }

    /// Whether this trace is sampled (flags bit 0).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The `traceparent` sent downstream: same trace, this request's span as the parent.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, self.flags)
    }
}

/// Parses a W3C `traceparent` into (trace id, parent span id, flags); `None` when invalid.
pub fn parse_traceparent(value: &str) -> Option<(String, String, u8)> {
    let value = value.trim();
    let mut parts = value.splitn(5, '-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let parent = parts.next()?;
    let flags = parts.next()?;
    let rest = parts.next();
    let lower_hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if !lower_hex(version, 2) || version == "ff" || (version == "00" && rest.is_some()) {
        return None;
    }
    if !lower_hex(trace_id, 32) || trace_id.bytes().all(|b| b == b'0') {
        return None;
    }
    if !lower_hex(parent, 16) || parent.bytes().all(|b| b == b'0') {
        return None;
    }
    if !lower_hex(flags, 2) {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((trace_id.to_owned(), parent.to_owned(), flags))
}

/// `traceparent` (as [`TraceContext::traceparent`] writes it) with `span_id` as the parent:
/// same version, trace id and flags. `None` unless both are well formed.
pub fn with_parent(traceparent: &str, span_id: &str) -> Option<String> {
    let is_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if traceparent.len() != 55 || span_id.len() != 16 || !is_hex(span_id) {
        return None;
    }
    let (head, tail) = (traceparent.get(..36)?, traceparent.get(52..)?);
    if !head.ends_with('-') || !tail.starts_with('-') {
        return None;
    }
    Some(format!("{head}{span_id}{tail}"))
}

/// A fresh trace id: 32 lowercase hex digits, not all zero.
pub fn new_trace_id() -> String {
    loop {
        let (hi, lo) = (random_u64(), random_u64());
        if hi != 0 || lo != 0 {
            return format!("{hi:016x}{lo:016x}");
        }
    }
}

/// A fresh span id: 16 lowercase hex digits, not all zero.
pub fn new_span_id() -> String {
    loop {
        let id = random_u64();
        if id != 0 {
            return format!("{id:016x}");
        }
    }
}

/// 64 unpredictable-enough bits for ids (not for secrets): SipHash with per-process random keys
/// over a counter and the clock.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_accepted_only_when_sane() {
        assert_eq!(accept_request_id(Some("abc-123_x.y")), "abc-123_x.y");
        for bad in ["", "has space", "new\nline", "ünï", &"a".repeat(129)] {
            let id = accept_request_id(Some(bad));
            assert_ne!(id, bad);
            assert!(is_sane_request_id(&id));
        }
        assert_eq!(accept_request_id(Some(&"a".repeat(128))).len(), 128);
        assert_ne!(new_request_id(), new_request_id());
    }

    #[test]
    fn traceparent_is_continued_when_valid() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let ctx = TraceContext::from_header(Some(incoming));
        assert_eq!(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(ctx.span_id, "00f067aa0ba902b7");
        let out = ctx.traceparent();
        assert!(out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(out.ends_with("-01"));
        assert!(parse_traceparent(&out).is_some());
    }

    #[test]
    fn a_call_span_becomes_the_parent() {
        let ctx = TraceContext::from_header(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        ));
        assert!(!ctx.sampled());
        let out = with_parent(&ctx.traceparent(), "1234567890abcdef").unwrap_or_default();
        assert_eq!(
            out,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-1234567890abcdef-00"
        );
        assert!(parse_traceparent(&out).is_some());
        assert_eq!(with_parent("garbage", "1234567890abcdef"), None);
        assert_eq!(with_parent(&ctx.traceparent(), "short"), None);
        assert_eq!(with_parent(&ctx.traceparent(), "1234567890ABCDEF"), None);
    }

    #[test]
    fn invalid_traceparents_start_a_new_trace() {
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            let ctx = TraceContext::from_header(Some(bad));
            assert!(ctx.parent_span_id.is_none(), "{bad}");
            assert!(parse_traceparent(&ctx.traceparent()).is_some());
        }
        // A future version may carry more fields.
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
                .is_some()
        );
    }
}
