//! deploy/compose.yaml, checked without a container engine: every host path it mounts or
//! builds from exists, `depends_on` names services that exist, Prometheus scrapes
//! warren's metrics port, Grafana's provisioning files parse, and warren's compose config
//! and definitions load in the real binary.

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

mod deploy_support;

use deploy_support::{deploy, print_config};

fn yaml(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .remove(0)
}

fn compose() -> Yaml {
    yaml(&deploy().join("compose.yaml"))
}

#[test]
fn every_mounted_file_exists_and_dependencies_are_services() {
    let c = compose();
    let services = c["services"].as_hash().expect("services");
    let names: Vec<&str> = services.keys().filter_map(Yaml::as_str).collect();
    for want in ["warren", "prometheus", "grafana", "producer", "worker"] {
        assert!(names.contains(&want), "service {want}");
    }
    for (name, s) in services {
        let name = name.as_str().unwrap();
        if let Some(volumes) = s["volumes"].as_vec() {
            for v in volumes {
                let spec = v.as_str().unwrap();
                let host = spec.split(':').next().unwrap();
                if host.starts_with('.') {
                    assert!(
                        deploy().join(host).exists(),
                        "{name} mounts {host}, which exists"
                    );
                } else {
                    let named = c["volumes"]
                        .as_hash()
                        .is_some_and(|h| h.contains_key(&Yaml::String(host.into())));
                    assert!(named, "{name} mounts the named volume {host}");
                }
            }
        }
        let deps: Vec<&str> = match &s["depends_on"] {
            Yaml::Array(list) => list.iter().filter_map(Yaml::as_str).collect(),
            Yaml::Hash(map) => map.keys().filter_map(Yaml::as_str).collect(),
            _ => Vec::new(),
        };
        for d in deps {
            assert!(names.contains(&d), "{name} depends on {d}, a service");
        }
    }
    let build = &c["services"]["warren"]["build"];
    let context = deploy().join(build["context"].as_str().unwrap());
    assert!(context.join(build["dockerfile"].as_str().unwrap()).exists());
}

#[test]
fn prometheus_scrapes_warrens_metrics_and_grafana_provisioning_parses() {
    let c = compose();
    let prom = yaml(&deploy().join("compose/prometheus.yml"));
    let target = prom["scrape_configs"][0]["static_configs"][0]["targets"][0]
        .as_str()
        .unwrap();
    assert_eq!(target, "warren:15692");
    let ports: Vec<&str> = c["services"]["warren"]["ports"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(ports.contains(&"15692:15692"), "{ports:?}");
    let ds = yaml(&deploy().join("compose/grafana-datasource.yaml"));
    assert_eq!(
        ds["datasources"][0]["url"].as_str(),
        Some("http://prometheus:9090")
    );
    let dash = yaml(&deploy().join("compose/grafana-dashboards.yaml"));
    assert_eq!(
        dash["providers"][0]["options"]["path"].as_str(),
        Some("/var/lib/grafana/dashboards")
    );
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(deploy().join("grafana/warren-overview.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    assert!(dashboard["panels"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));
}

#[test]
fn warrens_compose_config_and_definitions_load() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["warren.toml", "definitions.json"] {
        std::fs::copy(deploy().join("compose").join(file), dir.path().join(file)).unwrap();
    }
    let printed = print_config(&dir.path().join("warren.toml"));
    assert!(
        printed.contains(r#"prometheus = "0.0.0.0:15692""#),
        "{printed}"
    );
    let defs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("definitions.json")).unwrap(),
    )
    .unwrap();
    let defs: warren_server::config::Definitions =
        serde_json::from_value(defs).expect("definitions parse");
    assert_eq!(defs.queues[0].name, "tasks");
}
