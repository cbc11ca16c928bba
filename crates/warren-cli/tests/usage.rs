//! The command line itself: usage errors, help, completions, settings precedence and
//! an unreachable server. No broker needed.

mod common;

use common::{assert_code, assert_error, closed_port, Ctl, FakeApi};

fn unreachable() -> String {
    format!("http://127.0.0.1:{}", closed_port())
}

#[test]
fn unknown_flag_is_exit_64_on_one_line() {
    let out = Ctl::new(&unreachable()).run(&["list", "queues", "--bogus"]);
    assert_error(&out, 64, "unexpected argument '--bogus'");
}

#[test]
fn missing_or_malformed_arguments_are_exit_64() {
    let ctl = Ctl::new(&unreachable());
    assert_error(
        &ctl.run(&["declare", "exchange", "x"]),
        64,
        "the following required arguments were not provided: --type <TYPE> (see --help)",
    );
    assert_error(
        &ctl.run(&["list", "sausages"]),
        64,
        "invalid value 'sausages'",
    );
    assert_error(
        &ctl.run(&["declare", "queue", "q", "--arg", "novalue"]),
        64,
        "expected key=value",
    );
    assert_error(
        &ctl.run(&["list", "queues", "--filter", "("]),
        64,
        "--filter",
    );
    assert_error(
        &ctl.run(&[
            "set",
            "policy",
            "p",
            "--pattern",
            ".",
            "--definition",
            "[1]",
        ]),
        64,
        "JSON object",
    );
    assert_code(&ctl.run_raw(&[]), 64);
}

#[test]
fn help_and_version_succeed_and_help_lists_exit_codes() {
    let ctl = Ctl::new(&unreachable());
    let help = ctl.run_raw(&["--help"]);
    assert_code(&help, 0);
    for needle in [
        "Exit codes:",
        "69  management API unreachable",
        "WARREN_URL",
    ] {
        assert!(help.stdout.contains(needle), "--help lacks {needle}");
    }
    assert_code(&ctl.run_raw(&["--version"]), 0);
}

#[test]
fn unreachable_server_is_exit_69() {
    let url = unreachable();
    let out = Ctl::new(&url).run(&["list", "queues"]);
    assert_error(&out, 69, &format!("cannot reach {url}: connection refused"));
}

#[test]
fn https_urls_are_refused_as_usage() {
    let out = Ctl::new("https://127.0.0.1:15671").run(&["status"]);
    assert_error(&out, 64, "https is not supported");
}

#[test]
fn completions_need_no_server() {
    let ctl = Ctl::new(&unreachable());
    for shell in ["bash", "zsh", "fish"] {
        let out = ctl.run_raw(&["completions", shell]);
        assert_code(&out, 0);
        assert!(out.stdout.contains("warrenctl"), "{shell} script");
    }
}

fn recorder(name: &'static str) -> FakeApi {
    FakeApi::start(move |_| (200, format!(r#"[{{"name":"{name}","vhost":"/"}}]"#)))
}

#[test]
fn flag_beats_env_beats_config_file() {
    let (flag, env, file) = (recorder("flag"), recorder("env"), recorder("file"));
    let ctl = Ctl::new(&unreachable())
        .env("WARREN_URL", &env.url)
        .config_file(&format!("url = \"{}\"\nuser = \"from-file\"\n", file.url));
    let out = ctl.run_raw(&["--url", &flag.url, "list", "users"]);
    assert_code(&out, 0);
    assert!(out.stdout.contains("flag"));
    let out = ctl.run_raw(&["list", "users"]);
    assert!(out.stdout.contains("env"), "{out:?}");
    assert!(env.requests().len() == 1 && flag.requests().len() == 1);
    // The file's user still applies where neither flag nor env names one.
    let auth = env.last().header("authorization").map(String::from);
    assert_eq!(
        auth.as_deref(),
        Some("Basic ZnJvbS1maWxlOmd1ZXN0"), // from-file:guest
    );
    let only_file =
        Ctl::new(&unreachable()).config_file(&format!("url = \"{}\"\nvhost = \"v\"\n", file.url));
    assert_code(&only_file.run_raw(&["list", "queues"]), 0);
    // A vhost from the config file narrows listings to it.
    assert_eq!(file.last().target, "/api/queues/v");
}

#[test]
fn malformed_config_file_is_exit_78() {
    let ctl = Ctl::new(&unreachable()).config_file("uri = \"http://x\"\n");
    let out = ctl.run_raw(&["status"]);
    assert_error(&out, 78, "warrenctl.toml");
}
