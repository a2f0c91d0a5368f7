//! The deployment files under `deploy/` agree with the binaries: they parse; every environment
//! variable they set is one the BFFs read (`shared::config::is_known`) and their values are accepted
//! by `BffConfig::from_vars_for`; ports are each BFF's `DEFAULT_PORT`; probes use `/health` and
//! `/ready`, which the router serves; the termination grace period covers the shutdown grace.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;
use shared::config::{BffConfig, is_known, parse_duration};
use shared::server::Bff;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Every YAML document of a file, as JSON values.
fn documents(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(deploy_dir().join(path)).expect(path);
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

fn bffs() -> [(&'static str, u16); 3] {
    [
        (bff_mobile::Mobile::NAME, bff_mobile::Mobile::DEFAULT_PORT),
        (bff_web::Web::NAME, bff_web::Web::DEFAULT_PORT),
        (bff_admin::Admin::NAME, bff_admin::Admin::DEFAULT_PORT),
    ]
}

/// The variables a BFF would see, checked against the real parser (secrets get a dummy value).
fn assert_accepted(bff: &str, vars: &BTreeMap<String, String>) {
    for name in vars.keys() {
        assert!(is_known(name), "{bff}: unknown variable {name}");
    }
    let mut vars = vars.clone();
    vars.entry("BFF_JWT_SECRET".into())
        .or_insert_with(|| "x".repeat(32));
    let default = SocketAddr::from(([127, 0, 0, 1], 0));
    if let Err(err) = BffConfig::from_vars_for(bff, default, vars) {
        panic!("{bff}: the deployed settings are refused: {err}");
    }
}

fn string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn kubernetes_manifests_match_the_binaries() {
    let config_map = documents("k8s/configmap.yaml");
    let shared_vars: BTreeMap<String, String> = config_map[0]["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), string(v)))
        .collect();
    assert_eq!(config_map[0]["metadata"]["name"], "bff-config");
    for (bff, port) in bffs() {
        let docs = documents(&format!("k8s/{bff}.yaml"));
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "Deployment",
                "Service",
                "HorizontalPodAutoscaler",
                "PodDisruptionBudget"
            ],
            "{bff}"
        );
        let pod = &docs[0]["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(container["ports"][0]["containerPort"], port, "{bff}");
        assert_eq!(
            container["envFrom"][0]["configMapRef"]["name"],
            "bff-config"
        );
        let mut vars = shared_vars.clone();
        for env in container["env"].as_array().unwrap() {
            let name = env["name"].as_str().unwrap().to_owned();
            let value = if env["valueFrom"]["secretKeyRef"].is_object() {
                "s".repeat(40)
            } else {
                string(&env["value"])
            };
            vars.insert(name, value);
        }
        assert_eq!(vars["BFF_LISTEN"], format!("0.0.0.0:{port}"), "{bff}");
        assert_accepted(bff, &vars);
        for (probe, path) in [("livenessProbe", "/health"), ("readinessProbe", "/ready")] {
            assert_eq!(container[probe]["httpGet"]["path"], path, "{bff} {probe}");
            assert_eq!(container[probe]["httpGet"]["port"], "http", "{bff} {probe}");
        }
        // Shutdown: preStop pause + BFF_SHUTDOWN_GRACE fit in the termination grace period.
        let grace = parse_duration("BFF_SHUTDOWN_GRACE", &vars["BFF_SHUTDOWN_GRACE"]).unwrap();
        let pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
            .as_u64()
            .unwrap();
        let termination = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
        assert!(
            grace.as_secs() + pause < termination,
            "{bff}: shutdown outlasts the grace period"
        );
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert!(container["resources"]["requests"]["cpu"].is_string());
        assert_eq!(
            docs[1]["spec"]["ports"][0]["targetPort"], port,
            "{bff} Service"
        );
        for doc in &docs[2..] {
            assert_eq!(doc["metadata"]["name"], bff);
        }
        assert_eq!(docs[2]["spec"]["scaleTargetRef"]["name"], bff);
    }
}

/// A compose value with each `${NAME:-default}` replaced by its default, as compose does when
/// `NAME` is unset.
fn interpolate(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${...}") + start;
        let inner = &rest[start + 2..end];
        out.push_str(inner.split_once(":-").map_or("", |(_, default)| default));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_compose_file_matches_the_binaries() {
    let compose = documents("compose.yaml").remove(0);
    let services = compose["services"].as_object().unwrap();
    assert!(services.contains_key("redis") && services.contains_key("demo-services"));
    for (bff, port) in bffs() {
        let service = &services[bff];
        assert_eq!(service["build"]["args"]["BIN"], bff);
        let vars: BTreeMap<String, String> = service["environment"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.as_str() != "<<")
            .map(|(k, v)| (k.clone(), interpolate(&string(v))))
            .collect();
        // The merged anchor (x-bff-env) is the shared part.
        let mut all: BTreeMap<String, String> = compose["x-bff-env"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), interpolate(&string(v))))
            .collect();
        all.extend(vars);
        assert_eq!(all["BFF_LISTEN"], format!("0.0.0.0:{port}"), "{bff}");
        assert_eq!(service["ports"][0], format!("{port}:{port}"), "{bff}");
        assert_accepted(bff, &all);
    }
}

#[test]
fn the_dockerfile_builds_one_binary_into_a_non_root_image() {
    let text = std::fs::read_to_string(deploy_dir().join("Dockerfile")).unwrap();
    assert!(text.contains("ARG BIN="));
    assert!(text.contains("--bin \"${BIN}\""));
    assert!(text.matches("\nFROM ").count() >= 2, "multi-stage");
    assert!(text.contains("distroless") && text.contains("USER nonroot"));
}

#[tokio::test]
async fn the_probe_paths_exist_in_the_router() {
    let stack = testkit::TestStack::start::<bff_web::Web>().await;
    for path in ["/health", "/ready"] {
        let response = stack
            .http()
            .get(format!("{}{path}", stack.bff_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}
