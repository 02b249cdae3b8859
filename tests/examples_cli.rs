//! The config-driven examples run as programs against the sandbox: their exit status, their
//! stderr, and the JSON summary on the last line of stdout, checked against the sandbox's own
//! records. A config pointing at an unreachable or misconfigured supplier must end with one
//! clear error line and a non-zero exit, never a panic.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dropship::testkit::{Sandbox, SandboxSupplier};
use serde_json::{Value, json};

/// The example binary, brought up to date first: `cargo test --test examples_cli` alone does
/// not rebuild examples, and a stale binary would test old code. Under a full `cargo test`
/// this is a no-op check.
fn example(name: &str) -> PathBuf {
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile directory");
    let target_dir = profile_dir.parent().expect("target directory");
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--all-features",
            "--example",
            name,
            "--target-dir",
        ])
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo build");
    assert!(status.success(), "building example {name}");
    profile_dir.join("examples").join(name)
}

/// A temporary file removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn with(contents: &str) -> TempFile {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "dropship-examples-{}-{}.json",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, contents).expect("temp file");
        TempFile(path)
    }
    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn run(name: &str, args: Vec<String>) -> Output {
    let exe = example(name);
    tokio::task::spawn_blocking(move || {
        Command::new(exe)
            .args(args)
            .env("RUST_BACKTRACE", "1")
            .output()
            .expect("run example")
    })
    .await
    .expect("join")
}

fn summary(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last stdout line {last:?}: {e}"))
}

/// A free loopback port (bound, then released for the program under test to take).
fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    format!("127.0.0.1:{port}")
}

/// Waits until the program under test listens on `addr`, then points every sandbox
/// supplier's webhooks at it.
async fn send_webhooks_to(sandbox: &Sandbox, addr: &str) {
    let mut up = false;
    for _ in 0..250 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(up, "nothing listened on {addr}");
    for s in SandboxSupplier::ALL {
        sandbox
            .register_webhook(s, &format!("http://{addr}/webhooks/{}", s.id()))
            .expect("register webhook");
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_clean_failure(out: &Output) {
    let err = stderr(out);
    assert!(!out.status.success(), "must fail: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("stack backtrace"),
        "{err}"
    );
    let error_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "one error line: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_inventory_crawls_every_sandbox_supplier_and_resumes_from_its_snapshot() {
    let sandbox = Sandbox::start().await.unwrap();
    let config = TempFile::with(&sandbox.config_json());
    let out_file = TempFile::with("");
    let out = run(
        "sync_inventory",
        vec![
            "--config".into(),
            config.path().into(),
            "--out".into(),
            out_file.path().into(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&out);
    assert_eq!(
        (s["suppliers"].clone(), s["crawled"].clone()),
        (json!(3), json!(3))
    );
    assert_eq!(s["ok"], json!(true));
    // Ground truth: every supplier's total per SKU in the snapshot equals the sandbox's own.
    let snapshot: dropship::sync::Snapshot =
        serde_json::from_str(&std::fs::read_to_string(&out_file.0).unwrap()).unwrap();
    assert_eq!(s["levels"], json!(snapshot.levels.len()));
    let catalog = sandbox.catalog();
    let mut checked = 0;
    for sup in SandboxSupplier::ALL {
        for sku in catalog.skus(sup) {
            let held: u64 = snapshot
                .levels
                .iter()
                .filter(|l| l.supplier.as_str() == sup.id() && l.sku.as_str() == sku)
                .map(|l| l.available.exact().expect("exact counts"))
                .sum();
            assert_eq!(Some(held as u32), catalog.total(sup, &sku), "{sup} {sku}");
            checked += 1;
        }
    }
    assert_eq!(checked, 42);
    assert!(stderr(&out).contains("crawling sandbox-cj"));

    // Resuming from the snapshot, then crawling again, finds nothing new to report.
    let out = run(
        "sync_inventory",
        vec![
            "--config".into(),
            config.path().into(),
            "--resume".into(),
            out_file.path().into(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("resumed {} stock levels", snapshot.levels.len())),
        "{}",
        stderr(&out)
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn place_order_places_once_and_reports_the_supplier_order() {
    let sandbox = Sandbox::start().await.unwrap();
    let config = TempFile::with(&sandbox.config_json());
    let order = TempFile::with(
        &json!({
            "reference": "CLI-1",
            "lines": [{"sku": "MUG-BLUE", "quantity": 2}],
            "ship_to": {"name": "Ada", "line1": "1 Road", "city": "London", "country_code": "GB",
                        "postal_code": "SW1", "phone": "+44 20 0000", "email": "a@example.com"}
        })
        .to_string(),
    );
    let args = vec![
        "--config".into(),
        config.path().into(),
        "--order".into(),
        order.path().into(),
    ];
    let out = run("place_order", args.clone()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&out);
    assert_eq!(s["placed"], json!(1));
    let sub = &s["sub_orders"][0];
    let supplier = SandboxSupplier::from_id(sub["supplier"].as_str().unwrap()).unwrap();
    assert_eq!(sandbox.order_count(supplier), 1);
    let placed = sandbox
        .order(supplier, sub["reference"].as_str().unwrap())
        .unwrap();
    assert_eq!(sub["supplier_order_id"], json!(placed.supplier_order_id));

    // Running it again (a re-run after a crash) finds the order instead of placing another.
    let out = run("place_order", args).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sandbox.order_count(supplier), 1);

    // An order nobody can fill ends with one error line and exit status 1.
    let big = TempFile::with(
        &json!({"reference": "CLI-2", "lines": [{"sku": "MUG-BLUE", "quantity": 100000}],
                "ship_to": {"name": "A", "line1": "1", "city": "B", "country_code": "GB"}})
        .to_string(),
    );
    let out = run(
        "place_order",
        vec![
            "--config".into(),
            config.path().into(),
            "--order".into(),
            big.path().into(),
        ],
    )
    .await;
    assert_clean_failure(&out);
    assert!(stderr(&out).contains("out_of_stock"), "{}", stderr(&out));
    assert_eq!(summary(&out)["errors_by_kind"]["out_of_stock"], json!(1));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_receiver_accepts_signed_deliveries_and_refuses_forgeries() {
    let sandbox = Sandbox::start().await.unwrap();
    let config = TempFile::with(&sandbox.config_json());
    let addr = free_addr();
    let receiver = tokio::spawn(run(
        "webhook_receiver",
        vec![
            "--config".into(),
            config.path().into(),
            "--listen".into(),
            addr.clone(),
            "--for".into(),
            "3".into(),
        ],
    ));
    send_webhooks_to(&sandbox, &addr).await;
    sandbox
        .set_stock(SandboxSupplier::Graphql, "MUG-BLUE", "Main warehouse", 7)
        .unwrap();
    sandbox
        .set_stock(SandboxSupplier::Rest, "MUG-RED", "US", 4)
        .unwrap();
    sandbox.webhooks_settled().await;
    // A forgery: right shape, no signature.
    let forged = reqwest::Client::new()
        .post(format!("http://{addr}/webhooks/sandbox-shopify"))
        .header("X-Shopify-Topic", "inventory_levels/update")
        .body(r#"{"items":[{"sku":"mug-blue","available":999}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let out = receiver.await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&out);
    assert_eq!(s["accepted"], json!(2));
    assert_eq!(s["refused"], json!(1));
    assert_eq!(s["events"], json!(2));
    for s in SandboxSupplier::ALL {
        assert!(
            sandbox
                .webhooks(s)
                .iter()
                .all(|w| w.status == Some(200) || w.suppressed)
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_or_misconfigured_suppliers_end_with_one_clear_line() {
    // Nothing listens on this port: the crawl fails after its retries.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let unreachable = TempFile::with(
        &json!({"suppliers": [{
            "id": "gone", "protocol": "rest", "base_url": format!("http://127.0.0.1:{port}/v1"),
            "retry": {"max_attempts": 2, "base_delay": "10ms", "max_delay": "20ms", "deadline": "2s"},
            "operations": {"crawl_stock": {"path": "/stock", "items": "/data", "sku": "/sku", "quantity": "/qty"}}
        }]})
        .to_string(),
    );
    let out = run(
        "sync_inventory",
        vec!["--config".into(), unreachable.path().into()],
    )
    .await;
    assert_clean_failure(&out);
    let err = stderr(&out);
    assert!(
        err.contains("error: gone: transient during crawl_stock"),
        "{err}"
    );
    let s = summary(&out);
    assert_eq!(
        (s["ok"].clone(), s["crawled"].clone()),
        (json!(false), json!(0))
    );
    assert_eq!(s["errors_by_kind"]["transient"], json!(1));

    // A typo and a missing secret: every problem, located, on the one line.
    let broken = TempFile::with(
        r#"{"suppliers": [{"id": "x", "protocol": "rest", "base_url": "https://x.example",
            "auth": {"kind": "bearer", "token": "env:DROPSHIP_TEST_SURELY_UNSET"},
            "limts": {}}]}"#,
    );
    for name in ["sync_inventory", "webhook_receiver", "place_order"] {
        let mut args = vec!["--config".to_string(), broken.path().to_string()];
        args.extend(["--listen", "127.0.0.1:0", "--order", broken.path()].map(String::from));
        let out = run(name, args).await;
        assert_clean_failure(&out);
        let err = stderr(&out);
        if name != "place_order" {
            assert!(
                err.contains("suppliers[0].limts: unknown field"),
                "{name}: {err}"
            );
            assert!(err.contains("suppliers[0].auth.token"), "{name}: {err}");
        }
    }
    // A missing argument is a usage error (status 2), not a panic.
    let out = run("place_order", vec![]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("usage: place_order"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_inventory_keeps_exact_stock_from_webhooks_and_crawls_while_it_runs() {
    let sandbox = Sandbox::start().await.unwrap();
    let mut config: Value = serde_json::from_str(&sandbox.config_json()).unwrap();
    config["sync"] = json!({"crawl_interval": "300ms", "jitter": 0.0});
    let config = TempFile::with(&config.to_string());
    let stock_file = TempFile::with("");
    let addr = free_addr();
    let args: Vec<String> = [
        "--config",
        config.path(),
        "--for",
        "2.5",
        "--listen",
        &addr,
        "--stock",
        stock_file.path(),
    ]
    .map(String::from)
    .to_vec();
    let job = tokio::spawn(run("sync_inventory", args));
    send_webhooks_to(&sandbox, &addr).await;
    // One change arrives by webhook; one webhook is lost and only a crawl can tell.
    sandbox
        .set_stock(SandboxSupplier::Graphql, "MUG-BLUE", "Main warehouse", 7)
        .unwrap();
    sandbox.faults(SandboxSupplier::Rest).suppress_webhooks(1);
    sandbox
        .set_stock(SandboxSupplier::Rest, "MUG-RED", "US", 4)
        .unwrap();
    sandbox.webhooks_settled().await;
    let out = job.await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&out);
    assert!(s["webhooks_accepted"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["webhooks_refused"], json!(0));
    assert!(
        s["discrepancies"].as_u64().unwrap() >= 1,
        "the lost webhook: {s}"
    );

    // Ground truth: every supplier's units per SKU equal the sandbox's own, exactly.
    let stock: Value =
        serde_json::from_str(&std::fs::read_to_string(&stock_file.0).unwrap()).unwrap();
    let catalog = sandbox.catalog();
    for sup in SandboxSupplier::ALL {
        for sku in catalog.skus(sup) {
            let ours = &stock[&sku][sup.id()];
            assert_eq!(
                ours["available"].as_u64().map(|n| n as u32),
                sandbox.stock(sup, &sku),
                "{sup} {sku}: {ours}"
            );
            assert_eq!(ours["exact"], json!(true));
        }
    }
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn place_order_takes_a_list_of_orders() {
    let sandbox = Sandbox::start().await.unwrap();
    let config = TempFile::with(&sandbox.config_json());
    let ship_to = json!({"name": "A", "line1": "1 Road", "city": "B", "country_code": "GB",
                         "postal_code": "X1", "phone": "+44 1", "email": "a@example.com"});
    let orders = TempFile::with(
        &json!([
            {"reference": "LIST-1", "lines": [{"sku": "CAP-BLACK", "quantity": 1}], "ship_to": ship_to},
            {"reference": "LIST-2", "lines": [{"sku": "TOTE-NATURAL", "quantity": 2}], "ship_to": ship_to},
        ])
        .to_string(),
    );
    let out = run(
        "place_order",
        vec![
            "--config".into(),
            config.path().into(),
            "--order".into(),
            orders.path().into(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&out);
    assert_eq!(s["placed"], json!(2));
    assert_eq!(s["orders"].as_array().unwrap().len(), 2);
    let total: usize = SandboxSupplier::ALL
        .into_iter()
        .map(|s| sandbox.order_count(s))
        .sum();
    assert_eq!(total, 2);
    sandbox.shutdown().await;
}
