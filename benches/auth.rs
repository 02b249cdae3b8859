//! Signing cost: the crate's HMAC request signer on a typical order request, beside the bare
//! HMAC-SHA256 of the same canonical bytes (the limit).
//!
//! `cargo bench --bench auth`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use dropship::Operation;
use dropship::auth::hmac::{HmacSigner, SigningContext};
use dropship::config::{SignatureEncoding, SignedPart};
use dropship::transport::SignableRequest;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

fn auth_signing(c: &mut Criterion) {
    let body = br#"{"orderNumber":"SO-1001","shippingCountryCode":"US","products":[{"vid":"92511400-C758-4474-93CA-66D442F5F787","quantity":2}]}"#;
    let signer = HmacSigner::new(
        SecretString::from("bench-secret-key"),
        vec![
            SignedPart::Method,
            SignedPart::Path,
            SignedPart::SortedQuery,
            SignedPart::Timestamp,
            SignedPart::Nonce,
            SignedPart::BodySha256,
            SignedPart::Header("content-type".into()),
        ],
        SignatureEncoding::Hex,
        "X-Signature",
    )
    .timestamp_header("X-Timestamp")
    .nonce_header("X-Nonce");
    let ctx = SigningContext {
        timestamp: 1_764_478_800,
        nonce: "00112233445566778899aabbccddeeff".into(),
    };
    let mut url = reqwest::Url::parse(
        "https://api.example.com/api2.0/v1/shopping/order/createOrderV2?b=2&a=1",
    )
    .expect("url");
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let req = SignableRequest::new(
        &Method::POST,
        &mut url,
        &mut headers,
        body,
        Operation::PlaceOrder,
        1,
    );
    let canonical = signer.canonical_string(&req, &ctx);

    let mut g = c.benchmark_group("auth_signing");
    g.bench_function("baseline", |b| {
        // The same work done by hand: hash the body, HMAC the canonical bytes.
        b.iter(|| {
            black_box(Sha256::digest(black_box(&body[..])));
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"bench-secret-key")
                .expect("any key length");
            mac.update(black_box(canonical.as_bytes()));
            black_box(mac.finalize().into_bytes())
        })
    });
    g.bench_function("canonical_string_only", |b| {
        b.iter(|| black_box(signer.canonical_string(black_box(&req), &ctx)))
    });
    g.bench_function("hmac_signer", |b| {
        b.iter(|| black_box(signer.signature_headers(black_box(&req), &ctx)))
    });
    g.finish();
}

criterion_group!(benches, auth_signing);
criterion_main!(benches);
