//! The ETSI GS QKD 014 endpoint as plain functions: an HTTP request (method,
//! path, query, content type, body) in, an [`Answer`] (status, JSON body)
//! out. No sockets, no TLS, no clock of its own.
//!
//! Why a layer between hyper and [`KmeLink`]: the link model knows the
//! spec's *semantics* (pool, pairing, error messages) but not HTTP; hyper
//! knows HTTP but not the spec. What sits in between is exactly the part of
//! the spec about the transport, and it is easiest to get right, and to
//! test exhaustively, as pure code:
//!
//! * routing (ETSI 014 §5.1): `GET .../{slave}/status`, `GET|POST
//!   .../{slave}/enc_keys`, `GET|POST .../{master}/dec_keys`; any other path
//!   is 404, another method on a known path 405 with `Allow`;
//! * request forms (§5.3, §5.4): POST bodies are JSON (`Content-Type:
//!   application/json`, else 415), GET takes `number`/`size` or `key_ID`
//!   query parameters; a body that does not parse is 400 with the spec's
//!   `{"message": ...}`;
//! * answers (§5.2-§5.4, §6): 200 with a JSON body, 400 and 503 with an
//!   error body, 401 with **no** body (the spec defines none);
//! * authorisation that the link model cannot know about: whether the
//!   calling SAE is attached to this KME at all (401 otherwise).
//!
//! Every non-2xx answer made here changes nothing in the link.
//!
//! Key material leaves this module only inside [`Answer::body`], a
//! [`Zeroizing`] buffer, and is never formatted into a log line or a
//! `Debug` string.

use std::collections::HashSet;
use std::time::Instant;

use qsafe_qkd::api::path::{self, Call};
use qsafe_qkd::api::{ApiError, ErrorBody, KeyContainer, KeyIds, KeyRequest};
use qsafe_qkd::kme::{KmeError, KmeLink, Site};
use zeroize::Zeroizing;

/// An HTTP answer of the endpoint.
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// JSON body (`Content-Type: application/json`), or none (401).
    pub body: Option<Zeroizing<Vec<u8>>>,
    /// Value of an `Allow` header (405 answers).
    pub allow: Option<&'static str>,
    /// Which call the request named, for metrics and logs ("none" when the
    /// path matched no call).
    pub call: &'static str,
    /// Keys and key bits this answer delivers.
    pub delivered: Delivered,
}

/// What an answer hands out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Keys in the body.
    pub keys: u64,
    /// Sum of their sizes, bits.
    pub bits: u64,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("body_len", &self.body.as_ref().map(|b| b.len()))
            .field("allow", &self.allow)
            .field("call", &self.call)
            .field("delivered", &self.delivered)
            .finish()
    }
}

impl Answer {
    fn json(status: u16, call: &'static str, body: Vec<u8>) -> Self {
        Self { status, body: Some(Zeroizing::new(body)), allow: None, call, delivered: Delivered::default() }
    }

    /// An answer with an error body `{"message": ...}`.
    pub fn error(status: u16, call: &'static str, body: &ErrorBody) -> Self {
        Self::json(status, call, body.to_json())
    }

    /// 401 without a body (ETSI 014 defines none).
    pub fn unauthorized(call: &'static str) -> Self {
        Self { status: 401, body: None, allow: None, call, delivered: Delivered::default() }
    }

    fn from_kme_error(call: &'static str, e: &KmeError) -> Self {
        match e.body() {
            Some(body) => Self::error(e.http_status(), call, body),
            None => Self::unauthorized(call),
        }
    }

    fn keys(call: &'static str, container: &KeyContainer) -> Self {
        let delivered = Delivered {
            keys: container.keys.len() as u64,
            bits: container.keys.iter().map(|k| k.key.len_bits()).sum(),
        };
        Self { status: 200, body: Some(container.to_json()), allow: None, call, delivered }
    }

    /// The body as text, for tests and error logs of non-key answers
    /// (empty for 200 answers, which may carry keys).
    pub fn error_text(&self) -> String {
        match (&self.body, self.status) {
            (Some(b), s) if s != 200 => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        }
    }
}

/// A request as the endpoint sees it. The body is read only for POST.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path without the query.
    pub path: &'a str,
    /// Query string without `?`.
    pub query: Option<&'a str>,
    /// `Content-Type` header value.
    pub content_type: Option<&'a str>,
}

/// A request that names one of the three calls with an allowed method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The SAE ID in the path (slave for status/enc_keys, master for dec_keys), percent-decoded.
    pub sae_id: String,
    /// The call.
    pub call: Call,
    /// Whether it is the POST (JSON body) form.
    pub post: bool,
    /// The query string (the GET form's parameters; ignored for POST).
    pub query: String,
}

/// Routes a request (§5.1): 404 for an unknown path, 405 for a method the
/// call does not have. Only what routing needs is looked at.
pub fn route(req: &Request<'_>) -> Result<Route, Answer> {
    let Some((sae_id, call)) = path::parse(req.path) else {
        return Err(Answer::error(
            404,
            "none",
            &ErrorBody::new(
                "no such resource: the API paths are /api/v1/keys/{SAE_ID}/status, /enc_keys and /dec_keys",
            ),
        ));
    };
    let (allowed, allow): (&[&str], &'static str) = match call {
        Call::Status => (&["GET"], "GET"),
        Call::EncKeys | Call::DecKeys => (&["GET", "POST"], "GET, POST"),
    };
    if !allowed.contains(&req.method) {
        let mut a = Answer::error(
            405,
            call.as_str(),
            &ErrorBody::new(format!("method {} not allowed for {}; allowed: {allow}", req.method, call.as_str())),
        );
        a.allow = Some(allow);
        return Err(a);
    }
    Ok(Route { sae_id, call, post: req.method == "POST", query: req.query.unwrap_or("").to_owned() })
}

/// Whether a POST's `Content-Type` is JSON (`application/json`, any
/// parameters, any case). 415 otherwise, naming what to send.
pub fn check_content_type(route: &Route, content_type: Option<&str>) -> Result<(), Answer> {
    if !route.post {
        return Ok(());
    }
    let essence = content_type.map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if essence.as_deref() == Some("application/json") {
        return Ok(());
    }
    Err(Answer::error(
        415,
        route.call.as_str(),
        &ErrorBody::new(format!(
            "request body must be JSON with Content-Type: application/json (got {})",
            content_type.map_or_else(|| "no Content-Type".to_string(), |c| format!("{c:?}"))
        )),
    ))
}

/// 413 for a body over the configured limit.
pub fn body_too_large(route_call: &'static str, limit: usize) -> Answer {
    Answer::error(413, route_call, &ErrorBody::new(format!("request body is larger than {limit} bytes")))
}

/// 400 for a request whose body could not be read off the connection.
pub fn body_unreadable(route_call: &'static str, why: &str) -> Answer {
    Answer::error(400, route_call, &ErrorBody::new(format!("bad request format: request body unreadable: {why}")))
}

/// Which SAEs may call a KME.
#[derive(Debug, Clone, Default)]
pub struct Attachment {
    /// `None`: any SAE the client CA certified.
    allowed: Option<HashSet<String>>,
}

impl Attachment {
    /// Any certified SAE.
    pub fn any() -> Self {
        Self { allowed: None }
    }
    /// Only these SAEs.
    pub fn only(ids: impl IntoIterator<Item = String>) -> Self {
        Self { allowed: Some(ids.into_iter().collect()) }
    }
    /// Whether `sae` may call this KME.
    pub fn admits(&self, sae: &str) -> bool {
        self.allowed.as_ref().is_none_or(|set| set.contains(sae))
    }
}

fn bad_format(call: Call, e: &ApiError) -> Answer {
    Answer::error(400, call.as_str(), &e.to_error_body())
}

/// Serves a routed request of an identified caller on `link` at `site`.
///
/// `caller` is the SAE ID from the client certificate, or `None` when the
/// certificate yielded none (401). `body` is the full POST body (ignored
/// for GET, whose parameters are in [`Route::query`]).
pub fn serve(
    link: &mut KmeLink,
    site: Site,
    attachment: &Attachment,
    caller: Option<&str>,
    route: &Route,
    body: &[u8],
    now: Instant,
) -> Answer {
    let call = route.call;
    let Some(caller) = caller.filter(|c| attachment.admits(c)) else {
        // Still let the link see the time pass; nothing else changes.
        link.advance(now);
        return Answer::unauthorized(call.as_str());
    };
    let query = route.query.as_str();
    match call {
        Call::Status => match link.status(site, caller, &route.sae_id, now) {
            Ok(status) => Answer::json(200, call.as_str(), status.to_json()),
            Err(e) => Answer::from_kme_error(call.as_str(), &e),
        },
        Call::EncKeys => {
            let req = if route.post { KeyRequest::from_json(body) } else { KeyRequest::from_query(query) };
            let req = match req {
                Ok(r) => r,
                Err(e) => return bad_format(call, &e),
            };
            match link.enc_keys(site, caller, &route.sae_id, &req, now) {
                Ok(container) => Answer::keys(call.as_str(), &container),
                Err(e) => Answer::from_kme_error(call.as_str(), &e),
            }
        }
        Call::DecKeys => {
            let req = if route.post { KeyIds::from_json(body) } else { KeyIds::from_query(query) };
            let req = match req {
                Ok(r) => r,
                Err(e) => return bad_format(call, &e),
            };
            match link.dec_keys(site, caller, &route.sae_id, &req, now) {
                Ok(container) => Answer::keys(call.as_str(), &container),
                Err(e) => Answer::from_kme_error(call.as_str(), &e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qsafe_qkd::kme::LinkConfig;
    use serde_json::Value;

    const MASTER: &str = "ric-xapp";
    const SLAVE: &str = "e2node-1";

    fn link(initial_keys: u64) -> (KmeLink, Instant) {
        let now = Instant::now();
        let cfg = LinkConfig {
            kme_ids: ["kme-a".into(), "kme-b".into()],
            seed: Some(7),
            initial_key_count: initial_keys,
            secret_key_rate_bps: 0,
            ..LinkConfig::default()
        };
        (KmeLink::new(cfg, now).unwrap(), now)
    }

    fn req<'a>(method: &'a str, path: &'a str) -> Request<'a> {
        Request { method, path, query: None, content_type: Some("application/json") }
    }

    fn call(
        link: &mut KmeLink,
        site: Site,
        caller: &str,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Answer {
        let r = Request { method, path, query, content_type: Some("application/json") };
        let route = match route(&r) {
            Ok(route) => route,
            Err(a) => return a,
        };
        serve(link, site, &Attachment::any(), Some(caller), &route, body, Instant::now())
    }

    fn json(a: &Answer) -> Value {
        serde_json::from_slice(a.body.as_deref().expect("body")).expect("json")
    }

    #[test]
    fn routing_404_and_405() {
        for p in ["/", "/api/v1/keys", "/api/v1/keys//status", "/api/v1/keys/x/other", "/api/v2/keys/x/status"] {
            let a = route(&req("GET", p)).unwrap_err();
            assert_eq!(a.status, 404, "{p}");
            assert!(json(&a)["message"].as_str().unwrap().contains("/api/v1/keys"));
        }
        let a = route(&req("POST", "/api/v1/keys/x/status")).unwrap_err();
        assert_eq!((a.status, a.allow), (405, Some("GET")));
        for m in ["PUT", "DELETE", "PATCH", "HEAD"] {
            let a = route(&req(m, "/api/v1/keys/x/enc_keys")).unwrap_err();
            assert_eq!((a.status, a.allow), (405, Some("GET, POST")), "{m}");
        }
        let r = route(&req("POST", "/api/v1/keys/SAE%201/dec_keys")).unwrap();
        assert_eq!(r, Route { sae_id: "SAE 1".into(), call: Call::DecKeys, post: true, query: String::new() });
    }

    #[test]
    fn content_type_must_be_json_for_post() {
        let post = Route { sae_id: "x".into(), call: Call::EncKeys, post: true, query: String::new() };
        assert!(check_content_type(&post, Some("application/json")).is_ok());
        assert!(check_content_type(&post, Some("Application/JSON; charset=utf-8")).is_ok());
        for ct in [None, Some("application/x-www-form-urlencoded"), Some("text/plain")] {
            let a = check_content_type(&post, ct).unwrap_err();
            assert_eq!(a.status, 415);
            assert!(json(&a)["message"].as_str().unwrap().contains("application/json"));
        }
        let get = Route { post: false, ..post };
        assert!(check_content_type(&get, None).is_ok());
    }

    #[test]
    fn enc_at_a_then_dec_at_b_once() {
        let (mut l, _) = link(10);
        let a = call(
            &mut l,
            Site::A,
            MASTER,
            "POST",
            "/api/v1/keys/e2node-1/enc_keys",
            None,
            br#"{"number":2,"size":128}"#,
        );
        assert_eq!(a.status, 200, "{}", a.error_text());
        assert_eq!(a.delivered, Delivered { keys: 2, bits: 256 });
        let enc = json(&a);
        let ids: Vec<&str> = enc["keys"].as_array().unwrap().iter().map(|k| k["key_ID"].as_str().unwrap()).collect();
        let body = format!(r#"{{"key_IDs":[{{"key_ID":"{}"}},{{"key_ID":"{}"}}]}}"#, ids[0], ids[1]);
        let d = call(&mut l, Site::B, SLAVE, "POST", "/api/v1/keys/ric-xapp/dec_keys", None, body.as_bytes());
        assert_eq!(d.status, 200, "{}", d.error_text());
        assert_eq!(json(&d)["keys"], enc["keys"]);
        let again = call(&mut l, Site::B, SLAVE, "POST", "/api/v1/keys/ric-xapp/dec_keys", None, body.as_bytes());
        assert_eq!(again.status, 400);
        assert_eq!(json(&again)["message"], "one or more keys specified are not found on KME");
    }

    #[test]
    fn get_forms() {
        let (mut l, _) = link(10);
        let a = call(
            &mut l,
            Site::A,
            MASTER,
            "GET",
            "/api/v1/keys/e2node-1/enc_keys",
            Some("number=1&size=512"),
            b"ignored",
        );
        assert_eq!(a.status, 200, "{}", a.error_text());
        let enc = json(&a);
        let id = enc["keys"][0]["key_ID"].as_str().unwrap().to_string();
        let q = format!("key_ID={id}");
        let d = call(&mut l, Site::B, SLAVE, "GET", "/api/v1/keys/ric-xapp/dec_keys", Some(&q), b"");
        assert_eq!(d.status, 200, "{}", d.error_text());
        assert_eq!(json(&d)["keys"], enc["keys"]);
        let s = call(&mut l, Site::A, MASTER, "GET", "/api/v1/keys/e2node-1/status", None, b"");
        let s = json(&s);
        assert_eq!(s["source_KME_ID"], "kme-a");
        assert_eq!(s["target_KME_ID"], "kme-b");
        assert_eq!(s["master_SAE_ID"], MASTER);
        assert_eq!(s["slave_SAE_ID"], SLAVE);
        assert_eq!(s["stored_key_count"], 8);
    }

    #[test]
    fn bad_requests_are_400_with_message_and_change_nothing() {
        let (mut l, _) = link(10);
        let before = l.stats().pool_bits;
        for (method, query, body, needle) in [
            ("POST", None, &b"{not json"[..], "bad request format"),
            ("POST", None, b"", "bad request format"),
            ("POST", None, br#"{"number":"two"}"#, "bad request format"),
            ("POST", None, br#"{"size":100}"#, "size shall be a multiple of 8"),
            ("POST", None, br#"{"number":1000}"#, "requested parameters do not adhere"),
            ("GET", Some("number=abc"), b"", "number"),
            ("POST", None, br#"{"extension_mandatory":[{"x":1}]}"#, "extension_mandatory"),
        ] {
            let a = call(&mut l, Site::A, MASTER, method, "/api/v1/keys/e2node-1/enc_keys", query, body);
            assert_eq!(a.status, 400, "{body:?}");
            let msg = json(&a)["message"].as_str().unwrap().to_string();
            assert!(msg.contains(needle), "{msg} vs {needle}");
        }
        let a = call(&mut l, Site::B, SLAVE, "GET", "/api/v1/keys/ric-xapp/dec_keys", Some("key_ID=nope"), b"");
        assert_eq!(a.status, 400);
        assert_eq!(l.stats().pool_bits, before);
    }

    #[test]
    fn unauthorized_has_no_body() {
        let (mut l, now) = link(10);
        let r = Route { sae_id: SLAVE.into(), call: Call::EncKeys, post: false, query: String::new() };
        let a = serve(&mut l, Site::A, &Attachment::any(), None, &r, b"", now);
        assert_eq!((a.status, a.body.is_none()), (401, true));
        let only = Attachment::only(["someone-else".to_string()]);
        let a = serve(&mut l, Site::A, &only, Some(MASTER), &r, b"", now);
        assert_eq!((a.status, a.body.is_none()), (401, true));
        assert_eq!(l.stats().keys_issued_total, 0);
        // dec_keys by an SAE that is not the named slave.
        let enc = serve(&mut l, Site::A, &Attachment::any(), Some(MASTER), &r, b"", now);
        let id = json(&enc)["keys"][0]["key_ID"].as_str().unwrap().to_string();
        let q = format!("key_ID={id}");
        let d = call(&mut l, Site::B, "intruder", "GET", "/api/v1/keys/ric-xapp/dec_keys", Some(&q), b"");
        assert_eq!((d.status, d.body.is_none()), (401, true));
    }

    #[test]
    fn empty_pool_is_503_with_body() {
        let (mut l, _) = link(0);
        let a = call(&mut l, Site::A, MASTER, "GET", "/api/v1/keys/e2node-1/enc_keys", None, b"");
        assert_eq!(a.status, 503);
        assert!(json(&a)["message"].is_string());
    }

    #[test]
    fn answer_debug_shows_no_key_material() {
        let (mut l, _) = link(1);
        let a = call(&mut l, Site::A, MASTER, "GET", "/api/v1/keys/e2node-1/enc_keys", None, b"");
        let key = json(&a)["keys"][0]["key"].as_str().unwrap().to_string();
        assert!(!format!("{a:?}").contains(&key));
        assert_eq!(a.error_text(), "");
    }
}
