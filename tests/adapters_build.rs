//! Every ready profile loads from one config file into a `Vec<Arc<dyn Dropshipper>>`, with the
//! adapter its protocol names; a file with broken operations reports every supplier's problems
//! with paths from the file's root.

use std::sync::Arc;

use dropship::ErrorKind;
use dropship::adapters::build_all_with_env;
use dropship::config::ConfigFile;
use serde_json::{Value, json};

fn profile(name: &str) -> Value {
    let path = format!(
        "{}/fixtures/profiles/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("profile")).expect("json")
}

fn env(name: &str) -> Option<String> {
    Some(format!("test-value-for-{name}"))
}

#[test]
fn every_profile_builds_with_its_adapter() {
    let names = [
        "cj",
        "printful",
        "shopify_rest",
        "shopify_graphql",
        "magento1_soap",
    ];
    let file = json!({"suppliers": names.iter().map(|n| profile(n)).collect::<Vec<_>>()});
    let file = ConfigFile::from_json_with_env(&file.to_string(), &env).expect("profiles load");
    let suppliers = build_all_with_env(&file, Arc::new(env)).expect("profiles build");
    assert_eq!(suppliers.len(), names.len());
    for s in &suppliers {
        let caps = s.capabilities();
        assert!(
            caps.stock_by_sku || caps.stock_crawl,
            "{} reads stock",
            s.id()
        );
        assert!(caps.order_status, "{} reads order status", s.id());
    }
    let cj = suppliers.iter().find(|s| s.id().as_str() == "cj").unwrap();
    assert!(cj.capabilities().place_order);
    assert!(cj.capabilities().order_lookup_by_reference);
}

#[test]
fn broken_operations_are_reported_for_every_supplier() {
    let mut rest = profile("cj");
    rest["operations"]["stock"]["items"] = json!("data");
    let mut gql = profile("shopify_graphql");
    gql["id"] = json!("gql");
    gql["operations"]["crawl_stock"]["connection"] = json!("productVariants");
    let file = json!({"suppliers": [rest, gql]});
    let file =
        ConfigFile::from_json_with_env(&file.to_string(), &env).expect("envelopes are valid");
    let err = build_all_with_env(&file, Arc::new(env)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert!(
        paths.contains(&"suppliers[0].operations.stock.items"),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("suppliers[1].operations.crawl_stock")),
        "{paths:?}"
    );
}
