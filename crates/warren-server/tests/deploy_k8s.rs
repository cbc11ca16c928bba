//! deploy/k8s, checked without a cluster: every manifest parses, and the rules a cluster
//! would only reveal at apply or run time hold: the kustomization lists files that
//! exist; selectors match the pod labels; Services target named container ports; every
//! volume mount has a volume; the probes run `warren --check` on a config the ConfigMap
//! mounts; the container has a memory limit; and the ConfigMap's warren.toml and
//! definitions.json load in the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

mod deploy_support;

use deploy_support::{answers_check, free_port, print_config, Running, WARREN};

fn k8s(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/k8s")
        .join(file)
}

fn load(file: &str) -> Vec<Yaml> {
    let text = std::fs::read_to_string(k8s(file)).unwrap();
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn text<'a>(y: &'a Yaml, what: &str) -> &'a str {
    y.as_str()
        .unwrap_or_else(|| panic!("{what} must be a string: {y:?}"))
}

fn list<'a>(y: &'a Yaml, what: &str) -> &'a Vec<Yaml> {
    y.as_vec()
        .unwrap_or_else(|| panic!("{what} must be a list: {y:?}"))
}

/// Every document of every manifest the kustomization lists, each with the basics.
fn documents() -> Vec<Yaml> {
    let kustomization = &load("kustomization.yaml")[0];
    let mut docs = Vec::new();
    for file in list(&kustomization["resources"], "resources") {
        let file = text(file, "resource");
        assert!(k8s(file).exists(), "the kustomization lists {file}");
        for doc in load(file) {
            for key in ["apiVersion", "kind"] {
                text(&doc[key], key);
            }
            text(&doc["metadata"]["name"], "metadata.name");
            docs.push(doc);
        }
    }
    docs
}

fn of_kind<'a>(docs: &'a [Yaml], kind: &str) -> Vec<&'a Yaml> {
    docs.iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect()
}

fn labels_match(selector: &Yaml, labels: &Yaml) -> bool {
    let selector = selector.as_hash().expect("a selector map");
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| labels[k.as_str().unwrap()] == *v)
}

#[test]
fn the_manifests_are_consistent() {
    let docs = documents();
    let sets = of_kind(&docs, "StatefulSet");
    assert_eq!(sets.len(), 1);
    let set = sets[0];
    let pod = &set["spec"]["template"];
    let labels = &pod["metadata"]["labels"];
    assert!(labels_match(
        &set["spec"]["selector"]["matchLabels"],
        labels
    ));
    let services = of_kind(&docs, "Service");
    let service_name = text(&set["spec"]["serviceName"], "serviceName");
    let headless = services
        .iter()
        .find(|s| s["metadata"]["name"].as_str() == Some(service_name))
        .expect("serviceName names a Service");
    assert_eq!(headless["spec"]["clusterIP"].as_str(), Some("None"));
    let containers = list(&pod["spec"]["containers"], "containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let port_names: Vec<&str> = list(&c["ports"], "ports")
        .iter()
        .map(|p| text(&p["name"], "port name"))
        .collect();
    for s in &services {
        assert!(
            labels_match(&s["spec"]["selector"], labels),
            "Service selector"
        );
        for p in list(&s["spec"]["ports"], "service ports") {
            let target = text(&p["targetPort"], "targetPort");
            assert!(
                port_names.contains(&target),
                "targetPort {target} is a container port"
            );
        }
    }
    text(&c["resources"]["limits"]["memory"], "a memory limit");
    let volumes: Vec<&str> = list(&pod["spec"]["volumes"], "volumes")
        .iter()
        .map(|v| text(&v["name"], "volume name"))
        .chain(
            list(&set["spec"]["volumeClaimTemplates"], "claims")
                .iter()
                .map(|v| text(&v["metadata"]["name"], "claim name")),
        )
        .collect();
    let mut config_dir = None;
    for m in list(&c["volumeMounts"], "volumeMounts") {
        let name = text(&m["name"], "mount name");
        assert!(volumes.contains(&name), "mount {name} has a volume");
        if name == "config" {
            config_dir = Some(text(&m["mountPath"], "mountPath"));
        }
    }
    let config_dir = config_dir.expect("the config volume is mounted");
    let maps = of_kind(&docs, "ConfigMap");
    let config_volume = list(&pod["spec"]["volumes"], "volumes")
        .iter()
        .find(|v| v["name"].as_str() == Some("config"))
        .unwrap();
    let map_name = text(&config_volume["configMap"]["name"], "configMap name");
    let map = maps
        .iter()
        .find(|m| m["metadata"]["name"].as_str() == Some(map_name))
        .expect("the config volume names a ConfigMap");
    text(&map["data"]["warren.toml"], "warren.toml in the ConfigMap");
    for probe in ["readinessProbe", "livenessProbe"] {
        let command: Vec<&str> = list(&c[probe]["exec"]["command"], probe)
            .iter()
            .map(|a| text(a, "probe argument"))
            .collect();
        assert_eq!(
            command[..2],
            ["/usr/local/bin/warren", "--check"],
            "{probe}"
        );
        let config = command
            .windows(2)
            .find(|w| w[0] == "--config")
            .map(|w| w[1])
            .expect("the probe reads the mounted config");
        assert_eq!(config, format!("{config_dir}/warren.toml"), "{probe}");
    }
}

#[test]
fn the_configmap_loads_in_warren() {
    let docs = documents();
    let map = of_kind(&docs, "ConfigMap")[0];
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in map["data"].as_hash().unwrap() {
        std::fs::write(
            dir.path().join(key.as_str().unwrap()),
            value.as_str().unwrap(),
        )
        .unwrap();
    }
    let printed = print_config(&dir.path().join("warren.toml"));
    assert!(
        printed.contains(r#"prometheus = "0.0.0.0:15692""#),
        "{printed}"
    );
    // The definitions the config loads are valid: a broker applies them and starts.
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut broker = Running(
        Command::new(WARREN)
            .arg("--config")
            .arg(dir.path().join("warren.toml"))
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--management-listen",
                "off",
            ])
            .args(["--prometheus-listen", "off", "--data-dir"])
            .arg(data.path())
            .spawn()
            .unwrap(),
    );
    let started = answers_check(&mut broker, || {
        let mut probe = Command::new(WARREN);
        probe.args(["--check", "--listen", &format!("127.0.0.1:{port}")]);
        probe
    });
    assert!(
        started,
        "warren starts with the ConfigMap's config and definitions"
    );
}
