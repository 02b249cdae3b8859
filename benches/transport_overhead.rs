//! What the transport costs over a bare `reqwest::Client`: the same small GET against a local
//! loopback server, one at a time and 64 at once. Read the ratio of `transport/N` to
//! `baseline/N` (target: within 10%).
//!
//! The server is a minimal keep-alive HTTP/1.1 responder, so the numbers are dominated by the
//! client side rather than by a mock framework's request matching.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dropship::Operation;
use dropship::config::SupplierConfig;
use dropship::transport::{GovernorStore, RateQuota, Transport};
use futures::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 17\r\ncontent-type: application/json\r\n\r\n{\"stock\":[1,2,3]}";

async fn serve(listener: TcpListener) {
    while let Ok((mut socket, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(4096);
            let mut chunk = [0u8; 4096];
            loop {
                let n = match socket.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                // GETs have no body: each request ends at its blank line.
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    buf.drain(..end + 4);
                    if socket.write_all(ANSWER).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let addr = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(serve(listener));
        addr
    });
    let base = format!("http://{addr}");
    let url = format!("{base}/v1/stock");

    let bare = reqwest::Client::builder()
        .gzip(true)
        .brotli(true)
        .build()
        .expect("client");
    let config = SupplierConfig::from_json(
        &serde_json::json!({
            "id": "bench", "protocol": "rest", "base_url": base,
            "limits": { "max_concurrency": 64 }
        })
        .to_string(),
    )
    .expect("config");
    // A budget far above what loopback can reach, so the bench measures the throttle's cost,
    // not its waits; governor is still on the path of every request.
    let store = GovernorStore::new(RateQuota {
        per_second: 1e7,
        burst: 1_000_000,
        critical_reserve: 0.25,
    })
    .expect("store");
    let transport = Transport::builder(&config)
        .rate_store(Arc::new(store))
        .build()
        .expect("transport");

    let mut group = c.benchmark_group("transport_overhead");
    for concurrency in [1usize, 64] {
        group.throughput(Throughput::Elements(concurrency as u64));
        group.bench_with_input(
            BenchmarkId::new("baseline", concurrency),
            &concurrency,
            |b, &n| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            let calls = (0..n).map(|_| async {
                                let r = bare.get(&url).send().await.expect("send");
                                black_box(r.bytes().await.expect("body"));
                            });
                            join_all(calls).await;
                        }
                        start.elapsed()
                    })
                })
            },
        );
        // The transport bounds every attempt with a timer; this shows what a timer alone costs
        // bare reqwest, to tell the transport's own work from the price of any timeout.
        group.bench_with_input(
            BenchmarkId::new("baseline_with_timeout", concurrency),
            &concurrency,
            |b, &n| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            let calls = (0..n).map(|_| async {
                                let r = bare
                                    .get(&url)
                                    .timeout(Duration::from_secs(30))
                                    .send()
                                    .await
                                    .expect("send");
                                black_box(r.bytes().await.expect("body"));
                            });
                            join_all(calls).await;
                        }
                        start.elapsed()
                    })
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("transport", concurrency),
            &concurrency,
            |b, &n| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            let calls = (0..n).map(|_| async {
                                let r = transport
                                    .send(transport.get(Operation::Stock, "v1/stock"))
                                    .await
                                    .expect("send");
                                black_box(r.into_body());
                            });
                            join_all(calls).await;
                        }
                        start.elapsed()
                    })
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
