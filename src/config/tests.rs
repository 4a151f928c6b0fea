//! The file's parsing, defaults, overrides and error messages.

use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn environment_variables_override_and_complete_the_file() {
    let without_table = MINIMAL.replace("table = \"gd-incidents\"", "");
    let env = vars(&[
        ("GD_INCIDENTS__INCIDENTS__TABLE", "from-env"),
        ("GD_INCIDENTS__QUEUE__BATCH_SIZE", "5"),
        ("GD_INCIDENTS__QUEUE__URL", "https://sqs.eu-west-1.amazonaws.com/1/q"),
        ("GD_INCIDENTS__AWS__REGION", "eu-west-1"),
        ("GD_INCIDENTS__LOG__FORMAT", "json"),
        ("GD_INCIDENTS__DAEMON__SHUTDOWN_GRACE_SECS", "10"),
        ("OTHER", "ignored"),
    ]);
    let c = Config::parse_with_env(&without_table, Path::new("gd.toml"), env).unwrap();
    assert_eq!(c.incidents.table, "from-env");
    assert_eq!(c.queue.batch_size, 5);
    assert_eq!(c.queue.url, "https://sqs.eu-west-1.amazonaws.com/1/q");
    assert_eq!(c.aws.region, "eu-west-1");
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.daemon.shutdown_grace_secs, 10);
}

#[test]
fn bad_environment_overrides_name_the_variable() {
    let cases = [
        ("GD_INCIDENTS__QUEUE__BATCH_SIZE", "ten", "queue.batch_size", "GD_INCIDENTS__QUEUE__BATCH_SIZE"),
        ("GD_INCIDENTS__QUEUE__URLL", "x", "queue.urll", "GD_INCIDENTS__QUEUE__URLL"),
        ("GD_INCIDENTS__QUEUE", "x", "GD_INCIDENTS__QUEUE", "expected GD_INCIDENTS__<SECTION>__<KEY>"),
        ("GD_INCIDENTS__QUEUE__BATCH_SIZE", "11", "queue.batch_size", "out of range"),
    ];
    for (var, value, key, says) in cases {
        let err = Config::parse_with_env(MINIMAL, Path::new("gd.toml"), vars(&[(var, value)])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("key `{key}`")), "{var}: {msg}");
        assert!(msg.contains(says), "{var}: {msg}");
    }
}

const MINIMAL: &str = r#"
[aws]
region = "us-east-1"
endpoint_url = "http://127.0.0.1:4566"

[queue]
url = "http://127.0.0.1:4566/000000000000/gd-findings"

[incidents]
table = "gd-incidents"

[paging]
oce_topic_arn = "arn:aws:sns:us-east-1:000000000000:oce"
iso_topic_arn = "arn:aws:sns:us-east-1:000000000000:iso"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("gd.toml"))
}

#[test]
fn minimal_config_gets_safe_defaults() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.queue.wait_time_secs, 20);
    assert_eq!(c.queue.batch_size, 10);
    assert_eq!(c.queue.visibility_timeout_secs, 60);
    assert_eq!(c.aws.endpoint_url.as_deref(), Some("http://127.0.0.1:4566"));
    assert_eq!(c.log.format, LogFormat::Auto);
    assert_eq!(c.daemon.shutdown_grace_secs, 15);
    assert_eq!((c.containment.check_interval_secs, c.containment.role()), (5, None));
    let c = parse(&MINIMAL.replace("endpoint_url = \"http://127.0.0.1:4566\"\n", "")).unwrap();
    assert_eq!(c.aws.endpoint_url, None);
}

#[test]
fn examples_in_config_dir_parse() {
    for file in ["config/localstack.toml", "config/aws.toml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        Config::load(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn errors_name_the_file_the_key_and_the_reason() {
    let cases: &[(&str, String, &str, &str)] = &[
        ("missing key", MINIMAL.replace("table = \"gd-incidents\"", ""), "incidents.table", "missing field"),
        ("missing section", MINIMAL.replace("[incidents]\ntable = \"gd-incidents\"", ""), "incidents", "missing field"),
        ("unknown key", MINIMAL.replace("[queue]", "[queue]\nurll = \"x\""), "queue", "unknown field `urll`"),
        ("unknown section", format!("{MINIMAL}\n[extra]\na = 1\n"), "", "unknown field `extra`"),
        ("wrong type", MINIMAL.replace("[queue]", "[queue]\nbatch_size = \"ten\""), "queue.batch_size", "invalid type"),
        ("out of range", MINIMAL.replace("[queue]", "[queue]\nbatch_size = 11"), "queue.batch_size", "out of range"),
        (
            "no thread",
            format!("{MINIMAL}\n[daemon]\nworker_threads = 0\n"),
            "daemon.worker_threads",
            "out of range: expected 1 to 64",
        ),
        (
            "negative",
            MINIMAL.replace("[queue]", "[queue]\nwait_time_secs = -1"),
            "queue.wait_time_secs",
            "invalid value",
        ),
        (
            "bad url",
            MINIMAL.replace("url = \"http://127.0.0.1:4566/000000000000/gd-findings\"", "url = \"gd-findings\""),
            "queue.url",
            "not a URL",
        ),
        (
            "bad arn",
            MINIMAL.replace("arn:aws:sns:us-east-1:000000000000:oce", "oce"),
            "paging.oce_topic_arn",
            "not an sns ARN",
        ),
        ("bad format", MINIMAL.replace("[queue]", "[log]\nformat = \"xml\"\n[queue]"), "log.format", "unknown variant"),
        (
            "containment role not a role",
            format!("{MINIMAL}\n[containment]\nrole_arn = \"arn:aws:iam::1:user/bob\"\n"),
            "containment.role_arn",
            "is not an IAM role ARN",
        ),
        (
            "member role not a name",
            format!("{MINIMAL}\n[containment]\nmember_role_name = \"role/admin\"\n"),
            "containment.member_role_name",
            "is not an IAM role name",
        ),
        (
            "quarantine bucket not a bucket",
            format!("{MINIMAL}\n[containment]\nquarantine_bucket = \"Evidence_Bucket\"\n"),
            "containment.quarantine_bucket",
            "is not an S3 bucket name",
        ),
        (
            "IP set not an IP set",
            format!(
                "{MINIMAL}\n[containment]\nwaf_ip_set_arns = [\"arn:aws:wafv2:us-east-1:123456789012:regional/webacl/a/b\"]\n"
            ),
            "containment.waf_ip_set_arns",
            "is not an AWS WAF IP set ARN",
        ),
        (
            "empty table",
            MINIMAL.replace("table = \"gd-incidents\"", "table = \"\""),
            "incidents.table",
            "must not be empty",
        ),
        (
            "same confidential table",
            MINIMAL.replace("table = \"gd-incidents\"", "table = \"t\"\nconfidential_table = \"t\""),
            "incidents.confidential_table",
            "must not be the incident table",
        ),
        (
            "escalation path to nobody",
            format!(
                "{MINIMAL}\n[[escalation.paths]]\nlevel = \"HIGH\"\ntiers = [{{ after_mins = 5, targets = [\"ops\"] }}]\n"
            ),
            "escalation.paths",
            "target `ops` is not oce, iso or a [[paging.routes]] name",
        ),
        (
            "objectives out of order",
            format!("{MINIMAL}\n[sla.high]\nacknowledge_mins = 60\ncontain_mins = 30\nresolve_mins = 90\n"),
            "sla",
            "acknowledge_mins <= contain_mins <= resolve_mins",
        ),
        (
            "bad time zone",
            format!("{MINIMAL}\n[work_hours]\ntime_zone = \"Mars\"\n"),
            "work_hours",
            "not an IANA time zone",
        ),
    ];
    for (name, text, key, reason) in cases {
        let err = parse(text).expect_err(name);
        let msg = err.to_string();
        assert!(msg.starts_with("config file gd.toml"), "{name}: {msg}");
        assert!(msg.contains(reason), "{name}: {msg}");
        if !key.is_empty() {
            assert!(msg.contains(&format!("key `{key}`")) || msg.contains(&format!("key `{key}.")), "{name}: {msg}");
        }
    }
}

#[test]
fn routes_and_clients_parse_and_bad_ones_name_the_entry() {
    let routes = r#"
[[paging.routes]]
name = "infra-ops"
topic_arn = "arn:aws:sns:us-east-1:000000000000:infra"
min_level = "HIGH"

[[paging.routes]]
name = "management"
topic_arn = "arn:aws:sns:us-east-1:000000000000:mgmt"
min_level = "CRITICAL"
accounts = ["123456789012"]

[[clients]]
name = "acme"
accounts = ["210987654321"]
topic_arn = "arn:aws:sns:us-east-1:000000000000:acme"
"#;
    let c = parse(&format!("{MINIMAL}{routes}")).unwrap();
    assert_eq!(c.paging.routes.len(), 2);
    assert_eq!(c.paging.routes[1].accounts, vec!["123456789012"]);
    assert_eq!(c.clients[0].min_level, crate::domain::severity::Level::High, "clients default to HIGH");
    let bad = format!("{MINIMAL}{}", routes.replace("min_level = \"CRITICAL\"", "min_level = \"MEDIUM\""));
    let msg = parse(&bad).unwrap_err().to_string();
    assert!(msg.starts_with("config file gd.toml"), "{msg}");
    assert!(msg.contains("key `paging.routes[1].min_level`") && msg.contains("never pages"), "{msg}");
    let bad = format!("{MINIMAL}{}", routes.replace("name = \"acme\"", "name = \"acme\"\ncolour = 1"));
    let msg = parse(&bad).unwrap_err().to_string();
    assert!(msg.contains("clients") && msg.contains("unknown field `colour`"), "{msg}");
}

#[test]
fn syntax_errors_give_the_line() {
    let err = parse("[aws]\nregion = \"us-east-1\"\nthis is not toml\n").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("line 3") && msg.contains("not valid TOML"), "{msg}");
}

#[test]
fn unreadable_file_names_the_file() {
    let err = Config::load(Path::new("/nonexistent/gd.toml")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/gd.toml"), "{err}");
}
