//! The command line and the configuration, through the real binary: bad input gets a clear message and a
//! non-zero exit before anything starts. No AWS needed.

mod support;

use std::process::Command;

use support::binary;

const GOOD: &str = r#"
[aws]
region = "us-east-1"
endpoint_url = "http://127.0.0.1:1"

[queue]
url = "http://127.0.0.1:1/000000000000/q"

[incidents]
table = "t"

[paging]
oce_topic_arn = "arn:aws:sns:us-east-1:000000000000:oce"
iso_topic_arn = "arn:aws:sns:us-east-1:000000000000:iso"
"#;

fn run_with(config_text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gd.toml");
    std::fs::write(&path, config_text).unwrap();
    let out = Command::new(binary()).args(["run", "--config"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(stderr.contains(path.to_str().unwrap()), "the message names the file: {stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

#[test]
fn a_bad_config_stops_the_start_naming_the_key_and_the_reason() {
    let cases = [
        ("missing key", GOOD.replace("table = \"t\"", ""), "key `incidents.table`", "missing field `table`"),
        ("unknown key", GOOD.replace("[queue]", "[queue]\nvisibility = 3"), "key `queue", "unknown field `visibility`"),
        (
            "wrong type",
            GOOD.replace("[queue]", "[queue]\nbatch_size = \"ten\""),
            "key `queue.batch_size`",
            "invalid type",
        ),
        (
            "out of range",
            GOOD.replace("[queue]", "[queue]\nwait_time_secs = 30"),
            "key `queue.wait_time_secs`",
            "out of range",
        ),
        (
            "bad arn",
            GOOD.replace("arn:aws:sns:us-east-1:000000000000:iso", "iso"),
            "key `paging.iso_topic_arn`",
            "not an sns ARN",
        ),
        ("not toml", "[aws\nregion=".to_string(), "line 1", "not valid TOML"),
    ];
    for (name, text, key, reason) in cases {
        let (code, stderr) = run_with(&text);
        assert_eq!(code, 2, "{name}: exit code; {stderr}");
        assert!(stderr.contains(key), "{name}: names {key}: {stderr}");
        assert!(stderr.contains(reason), "{name}: says {reason}: {stderr}");
    }
}

#[test]
fn an_unreadable_config_is_named() {
    let out = Command::new(binary()).args(["run", "--config", "/nonexistent/gd.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot read config file /nonexistent/gd.toml"), "{stderr}");
}

#[test]
fn help_describes_every_command_and_flag() {
    let out = Command::new(binary()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("run") && text.contains("GuardDuty"), "{text}");
    let out = Command::new(binary()).args(["run", "--help"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--config <FILE>") && text.contains("SIGTERM"), "{text}");
}

#[test]
fn a_bad_argument_says_what_was_expected() {
    let out = Command::new(binary()).arg("run").env_remove("GD_INCIDENTS_CONFIG").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--config <FILE>"), "{stderr}");
    let out = Command::new(binary()).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"));
}
