//! The deployment files, checked without AWS, Docker or systemd: every CloudFormation template passes
//! cfn-lint; the ECS template's environment variables name real config keys, override every placeholder of
//! the config file baked into the image, and import only what the core stack exports; the Dockerfile and the
//! systemd unit run subcommands and flags that the real binary has; the image's health check works with the
//! image's environment. No network beyond 127.0.0.1.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CORE_TEMPLATE: &str = "deploy/cloudformation/gd-incidents.yaml";
const ECS_TEMPLATE: &str = "deploy/cloudformation/gd-incidents-ecs.yaml";
const MEMBER_TEMPLATE: &str = "deploy/cloudformation/gd-incidents-member.yaml";
const PEOPLE_TEMPLATE: &str = "deploy/cloudformation/gd-incidents-people.yaml";
const FORWARD_TEMPLATE: &str = "deploy/cloudformation/gd-incidents-forward.yaml";
const DOCKERFILE: &str = "deploy/Dockerfile";
const UNIT: &str = "deploy/gd-incidents.service";
const BAKED_CONFIG: &str = "config/aws.toml";
/// Where the Dockerfile installs the binary; the ECS health check and the unit run it from there.
const INSTALLED_BINARY: &str = "/usr/local/bin/gd-incidents";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gd-incidents"));
    // Whatever the developer's shell sets must not change what the binary is asked.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GD_INCIDENTS") {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `gd-incidents [sub] --help`, which must succeed.
fn help(sub: Option<&str>) -> String {
    let mut cmd = binary();
    cmd.args(sub).arg("--help");
    let out = cmd.output().expect("run gd-incidents --help");
    assert!(out.status.success(), "gd-incidents {} --help failed: {}", sub.unwrap_or(""), text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands listed under `Commands:` in `gd-incidents --help` (clap's layout).
fn subcommands() -> BTreeSet<String> {
    let top = help(None);
    let mut lines = top.lines().skip_while(|l| l.trim() != "Commands:").skip(1);
    let mut names = BTreeSet::new();
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        // Entries are indented by two spaces; deeper lines continue a wrapped description.
        if line.starts_with("  ") && !line.starts_with("   ") {
            names.insert(line.split_whitespace().next().unwrap().to_string());
        }
    }
    assert!(names.contains("run"), "no `run` under Commands: in\n{top}");
    names
}

/// Asserts that `sub` is a real subcommand: listed by `--help`, and `sub --help` succeeds.
fn assert_subcommand(sub: &str, named_by: &str) {
    let names = subcommands();
    assert!(
        names.contains(sub),
        "{named_by} runs `gd-incidents {sub}`, but `gd-incidents --help` lists only {names:?}"
    );
    help(Some(sub));
}

// ---- CloudFormation ---------------------------------------------------------------------------------------

/// cfn-lint from the virtualenv that deploy/start-localstack.sh installs (pinned in
/// deploy/localstack-constraints.txt); the script is run when it is missing. Never skipped.
fn cfn_lint() -> PathBuf {
    let ls_home = std::env::var_os("LS_HOME").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is not set")).join(".cache/localstack-host")
    });
    let bin = ls_home.join("venv/bin/cfn-lint");
    if !bin.exists() {
        let out = Command::new("bash")
            .arg(repo().join("deploy/start-localstack.sh"))
            .output()
            .expect("run deploy/start-localstack.sh");
        assert!(out.status.success(), "deploy/start-localstack.sh failed: {}", text(&out));
    }
    assert!(
        bin.exists(),
        "no cfn-lint at {0} even after deploy/start-localstack.sh. The script installs it only when it starts \
         LocalStack itself (not when one already runs, e.g. in Docker). Set LS_HOME to where it installed it, or \
         install it there: python3 -m venv {1}/venv && {1}/venv/bin/pip install -c \
         deploy/localstack-constraints.txt cfn-lint",
        bin.display(),
        ls_home.display()
    );
    bin
}

/// The member accounts' role may do exactly what the containment role may: the same statements.
#[test]
fn the_member_role_has_the_containment_roles_policy() {
    let statements = |template: &str, end: &str| -> String {
        let text = read(template);
        let start =
            text.find("              - Sid: Observe").unwrap_or_else(|| panic!("no Observe statement in {template}"));
        let len = text[start..].find(end).unwrap_or_else(|| panic!("no {end:?} after it in {template}"));
        text[start..start + len].to_owned()
    };
    let core = statements(CORE_TEMPLATE, "              - Sid: QuarantineCopies");
    let member = statements(MEMBER_TEMPLATE, "              - !If\n                - CopiesToQuarantine");
    assert!(core.contains("ec2:ModifyInstanceAttribute") && core.contains("s3:PutObjectTagging"), "{core}");
    assert_eq!(member, core, "{MEMBER_TEMPLATE} and {CORE_TEMPLATE}'s ContainmentRole differ");
}

/// CloudFormation takes a template body of at most 51,200 bytes without an S3 bucket: operators deploy these
/// with `aws cloudformation deploy --template-file`, as deploy-stack.sh does.
#[test]
fn every_template_deploys_without_an_s3_bucket() {
    for template in [
        CORE_TEMPLATE,
        ECS_TEMPLATE,
        MEMBER_TEMPLATE,
        PEOPLE_TEMPLATE,
        FORWARD_TEMPLATE,
        "deploy/cloudformation/gd-incidents-portal.yaml",
    ] {
        let size = read(template).len();
        assert!(size <= 51_200, "{template} is {size} bytes: over CloudFormation's 51,200 for a template body");
    }
}

#[test]
fn every_template_passes_cfn_lint() {
    let out = Command::new(cfn_lint())
        .current_dir(repo())
        .args([CORE_TEMPLATE, ECS_TEMPLATE, MEMBER_TEMPLATE, PEOPLE_TEMPLATE, FORWARD_TEMPLATE])
        .output()
        .expect("run cfn-lint");
    // Exit 0 means no error, no warning and no informational finding.
    assert!(out.status.success(), "cfn-lint found problems: {}", text(&out));
}

/// `(name, line)` of every `- Name: GD_INCIDENTS__...` entry of the ECS container's environment.
/// Variables the ECS template sets only when another stack is named (so the baked config has no value).
const OPTIONAL_KEYS: [&str; 2] = ["GD_INCIDENTS__PAGING__PORTAL_URL", "GD_INCIDENTS__PAGING__ACK_LINK_KEY"];

fn ecs_environment() -> Vec<(String, String)> {
    let ecs = read(ECS_TEMPLATE);
    let vars: Vec<(String, String)> = ecs
        .lines()
        .filter_map(|line| {
            let name = line.trim().strip_prefix("- Name:")?.trim().trim_matches('"');
            name.starts_with("GD_INCIDENTS").then(|| (name.to_string(), line.trim().to_string()))
        })
        .collect();
    assert!(!vars.is_empty(), "no GD_INCIDENTS environment variables in {ECS_TEMPLATE}");
    vars
}

/// `GD_INCIDENTS__SECTION__KEY` to `("section", "key")`.
fn config_key(var: &str) -> (String, String) {
    let rest =
        var.strip_prefix("GD_INCIDENTS__").unwrap_or_else(|| panic!("{var}: not GD_INCIDENTS__<SECTION>__<KEY>"));
    let parts: Vec<&str> = rest.split("__").collect();
    assert!(parts.len() == 2 && parts.iter().all(|p| !p.is_empty()), "{var}: not GD_INCIDENTS__<SECTION>__<KEY>");
    (parts[0].to_lowercase(), parts[1].to_lowercase())
}

fn baked_config() -> toml::Table {
    toml::from_str(&read(BAKED_CONFIG)).unwrap_or_else(|e| panic!("{BAKED_CONFIG}: {e}"))
}

#[test]
fn ecs_environment_variables_name_real_config_keys() {
    let config = baked_config();
    let vars = ecs_environment();
    for (var, line) in &vars {
        let (section, key) = config_key(var);
        // A key the baked-in config has, or one it leaves out on purpose (set only with another stack, as
        // the acknowledgement links with PortalStackName), documented in config/README.md.
        if OPTIONAL_KEYS.contains(&var.as_str()) {
            assert!(read("config/README.md").contains(&format!("`{section}.{key}`")), "`{line}`: undocumented");
            continue;
        }
        let table = config
            .get(&section)
            .and_then(|s| s.as_table())
            .unwrap_or_else(|| panic!("`{line}`: {BAKED_CONFIG} has no [{section}] section"));
        assert!(
            table.contains_key(&key),
            "`{line}`: {BAKED_CONFIG} has no key `{key}` in [{section}] (keys: {:?})",
            table.keys().collect::<Vec<_>>()
        );
    }
    let names: BTreeSet<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), vars.len(), "a variable is set twice: {vars:?}");
    for wanted in [
        "GD_INCIDENTS__AWS__REGION",
        "GD_INCIDENTS__QUEUE__URL",
        "GD_INCIDENTS__QUEUE__DEAD_LETTER_URL",
        "GD_INCIDENTS__INCIDENTS__TABLE",
        "GD_INCIDENTS__PAGING__OCE_TOPIC_ARN",
        "GD_INCIDENTS__PAGING__ISO_TOPIC_ARN",
        "GD_INCIDENTS__LOG__FORMAT",
    ] {
        assert!(names.contains(wanted), "{ECS_TEMPLATE} does not set {wanted}");
    }
}

/// The image bakes config/aws.toml in, with example resource names: in ECS every one of them (and the
/// region) must be replaced from the core stack, or the daemon would consume a queue that is not ours.
#[test]
fn ecs_environment_replaces_every_placeholder_of_the_baked_in_config() {
    let overridden: BTreeSet<(String, String)> = ecs_environment().iter().map(|(n, _)| config_key(n)).collect();
    let mut placeholders = vec![("aws".to_string(), "region".to_string())];
    for (section, table) in baked_config() {
        for (key, value) in table.as_table().into_iter().flatten() {
            if value.as_str().is_some_and(|v| v.contains("123456789012")) {
                placeholders.push((section.clone(), key.clone()));
            }
        }
    }
    assert!(placeholders.len() > 1, "no example account 123456789012 found in {BAKED_CONFIG}");
    for (section, key) in placeholders {
        assert!(
            overridden.contains(&(section.clone(), key.clone())),
            "{ECS_TEMPLATE} does not override {section}.{key}: the image's example value would be used \
             (set GD_INCIDENTS__{}__{})",
            section.to_uppercase(),
            key.to_uppercase()
        );
    }
}

/// cfn-lint cannot see across stacks: every `${CoreStackName}-X` the ECS template imports must be an export
/// `${AWS::StackName}-X` of the core template, and every `${PortalStackName}-X` one of the portal template.
#[test]
fn ecs_template_imports_only_exports_of_the_core_stack() {
    let exports_of = |template: &str| -> BTreeSet<String> {
        read(template)
            .lines()
            .filter_map(|l| {
                l.trim().strip_prefix("Name: !Sub \"${AWS::StackName}-")?.strip_suffix('"').map(str::to_owned)
            })
            .collect()
    };
    let (core, portal) = (exports_of(CORE_TEMPLATE), exports_of("deploy/cloudformation/gd-incidents-portal.yaml"));
    assert!(core.contains("QueueUrl"), "no exports found in {CORE_TEMPLATE}: {core:?}");
    let ecs = read(ECS_TEMPLATE);
    let imported = |marker: &str| -> Vec<String> {
        ecs.lines()
            .filter(|l| l.contains("Fn::ImportValue"))
            .filter_map(|l| Some(l[l.find(marker)? + marker.len()..].split('"').next()?.to_owned()))
            .collect()
    };
    let (imports, from_portal) = (imported("!Sub \"${CoreStackName}-"), imported("!Sub \"${PortalStackName}-"));
    let all_imports = ecs.matches("Fn::ImportValue").count();
    assert_eq!(
        imports.len() + from_portal.len(),
        all_imports,
        "every Fn::ImportValue in {ECS_TEMPLATE} is written `Fn::ImportValue: !Sub \"${{CoreStackName}}-<Output>\"` on one line"
    );
    for import in &imports {
        assert!(
            core.contains(import),
            "{ECS_TEMPLATE} imports {import}, which {CORE_TEMPLATE} does not export ({core:?})"
        );
    }
    for import in &from_portal {
        assert!(portal.contains(import), "{ECS_TEMPLATE} imports {import}, which the portal template does not export");
    }
    assert_eq!(from_portal.len(), 3, "the portal's address and the links' key: {from_portal:?}");
    for needed in [
        "DaemonRoleArn",
        "LogGroupName",
        "QueueUrl",
        "DeadLetterQueueUrl",
        "IncidentTableName",
        "OceTopicArn",
        "IsoTopicArn",
    ] {
        assert!(imports.iter().any(|i| i == needed), "{ECS_TEMPLATE} does not import {needed}");
    }
}

/// The people's policies name the core stack's resources by its exports, which cfn-lint cannot check.
#[test]
fn people_template_imports_only_exports_of_the_core_stack() {
    let core = read(CORE_TEMPLATE);
    let people = read(PEOPLE_TEMPLATE);
    let marker = "\"Fn::ImportValue\": !Sub \"${CoreStackName}-";
    let imports: Vec<&str> =
        people.match_indices(marker).filter_map(|(at, _)| people[at + marker.len()..].split('"').next()).collect();
    assert_eq!(imports.len(), people.matches("Fn::ImportValue").count(), "every import is written {marker}<Output>\"");
    assert!(imports.contains(&"IncidentTableArn") && imports.contains(&"ConfidentialKeyArn"), "{imports:?}");
    for import in imports {
        assert!(
            core.contains(&format!("Name: !Sub \"${{AWS::StackName}}-{import}\"")),
            "{PEOPLE_TEMPLATE} imports {import}, which {CORE_TEMPLATE} does not export"
        );
    }
}

/// The task role is the core DaemonRole, so that role must trust ECS tasks (it also trusts EC2).
#[test]
fn the_task_role_is_the_core_daemon_role_and_trusts_ecs_tasks() {
    let ecs = read(ECS_TEMPLATE);
    let task_role = ecs.split("TaskRoleArn:").nth(1).expect("no TaskRoleArn in the ECS template");
    let task_role = task_role.lines().take(3).collect::<String>();
    assert!(
        task_role.contains("${CoreStackName}-DaemonRoleArn"),
        "TaskRoleArn is not the core DaemonRoleArn: {task_role}"
    );

    let core = read(CORE_TEMPLATE);
    let role = core.split("\n  DaemonRole:\n").nth(1).expect("no DaemonRole in the core template");
    let trust = role.split("Policies:").next().unwrap();
    assert!(trust.contains("AssumeRolePolicyDocument:"), "DaemonRole has no trust policy before Policies:");
    assert!(
        trust.contains("Service: ecs-tasks.amazonaws.com"),
        "DaemonRole does not trust ecs-tasks.amazonaws.com:\n{trust}"
    );
    assert!(
        ecs.contains(r#"Command: ["CMD", "/usr/local/bin/gd-incidents", "health"]"#),
        "the ECS health check is not `gd-incidents health`"
    );
}

// ---- Dockerfile -------------------------------------------------------------------------------------------

/// The Dockerfile's instructions as (INSTRUCTION, arguments), continuation lines joined, comments dropped.
fn dockerfile_instructions() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read(DOCKERFILE).lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (instr, args) = current.split_once(char::is_whitespace).unwrap_or((current.as_str(), ""));
        out.push((instr.to_uppercase(), args.trim().to_string()));
        current.clear();
    }
    out
}

/// The one instruction `name` of the final stage (after the last FROM).
fn final_stage(name: &str) -> Vec<String> {
    let instrs = dockerfile_instructions();
    let last_from = instrs.iter().rposition(|(i, _)| i == "FROM").expect("no FROM in the Dockerfile");
    instrs[last_from..].iter().filter(|(i, _)| i == name).map(|(_, a)| a.clone()).collect()
}

/// An exec-form (JSON array) argument list.
fn exec_form(what: &str, args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("{what} {args}: not an exec-form JSON array ({e})"))
}

#[test]
fn dockerfile_entrypoint_cmd_and_healthcheck_name_real_subcommands() {
    let entrypoint = final_stage("ENTRYPOINT");
    assert_eq!(entrypoint.len(), 1, "one ENTRYPOINT in the final stage: {entrypoint:?}");
    let entrypoint = exec_form("ENTRYPOINT", &entrypoint[0]);
    assert_eq!(entrypoint, [INSTALLED_BINARY], "ENTRYPOINT");
    assert!(
        final_stage("COPY").iter().any(|c| c.starts_with("--from=") && c.ends_with(&format!(" {INSTALLED_BINARY}"))),
        "the final stage does not copy the built binary to {INSTALLED_BINARY}"
    );

    let cmd = final_stage("CMD");
    assert_eq!(cmd.len(), 1, "one CMD in the final stage: {cmd:?}");
    let cmd = exec_form("CMD", &cmd[0]);
    assert_eq!(cmd, ["run"], "CMD is `run`, the config coming from GD_INCIDENTS_CONFIG");
    assert_subcommand("run", "the image's CMD");

    let healthcheck = final_stage("HEALTHCHECK");
    assert_eq!(healthcheck.len(), 1, "one HEALTHCHECK in the final stage: {healthcheck:?}");
    let (_, check) = healthcheck[0].split_once("CMD ").expect("HEALTHCHECK [options] CMD [...]");
    let check = exec_form("HEALTHCHECK CMD", check.trim());
    assert_eq!(check, [INSTALLED_BINARY, "health"], "HEALTHCHECK");
    assert_subcommand("health", "the image's HEALTHCHECK");
}

/// Neither `run` nor `health` gets `--config` in the image: both must take the file from GD_INCIDENTS_CONFIG,
/// which must name the file the image copies config/aws.toml to.
#[test]
fn the_image_gives_the_config_file_through_the_environment() {
    let env = final_stage("ENV").join(" ");
    let config_path = env
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("GD_INCIDENTS_CONFIG="))
        .unwrap_or_else(|| panic!("the final stage sets no GD_INCIDENTS_CONFIG: ENV {env}"));
    assert!(
        final_stage("COPY").iter().any(|c| c == &format!("{BAKED_CONFIG} {config_path}")),
        "the final stage does not COPY {BAKED_CONFIG} to {config_path}"
    );
    assert!(
        env.contains("GD_INCIDENTS__SERVER__LISTEN=0.0.0.0:9090"),
        "the image does not turn the server on: ENV {env}"
    );
    assert_eq!(final_stage("EXPOSE"), ["9090"]);
    assert_eq!(final_stage("USER"), ["nonroot"]);
    assert_eq!(final_stage("STOPSIGNAL"), ["SIGTERM"]);
    for sub in ["run", "health"] {
        let h = help(Some(sub));
        assert!(h.contains("--config"), "`gd-incidents {sub} --help` has no --config:\n{h}");
        assert!(h.contains("GD_INCIDENTS_CONFIG"), "`gd-incidents {sub}` does not read GD_INCIDENTS_CONFIG:\n{h}");
    }
}

/// Runs `gd-incidents health` the way the image's HEALTHCHECK does (no arguments beyond the subcommand;
/// the config file from GD_INCIDENTS_CONFIG, the server address from GD_INCIDENTS__SERVER__LISTEN), with
/// the baked-in config/aws.toml. Returns its exit code; fails after 15 s.
fn image_health_check(port: u16) -> (i32, String) {
    let mut child = binary()
        .arg("health")
        .env("GD_INCIDENTS_CONFIG", repo().join(BAKED_CONFIG))
        .env("GD_INCIDENTS__SERVER__LISTEN", format!("0.0.0.0:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gd-incidents health");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (status.code().unwrap_or(-1), text(&out));
        }
        if Instant::now() > deadline {
            child.kill().ok();
            let out = child.wait_with_output().unwrap();
            panic!("gd-incidents health did not finish within 15 s: {}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A one-shot HTTP server on 127.0.0.1 answering `status`; sends the request line it got.
fn fake_server(status: &'static str) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let line = String::from_utf8_lossy(&request).lines().next().unwrap_or("").to_string();
        tx.send(line).ok();
        let body = "ok\n";
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    (port, rx)
}

#[test]
fn the_image_health_check_works_with_the_image_environment() {
    // Healthy: /healthz answers 200.
    let (port, request) = fake_server("200 OK");
    let (code, out) = image_health_check(port);
    let line = request.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
    assert_eq!(code, 0, "/healthz answered 200 but health did not exit 0 (it asked `{line}`): {out}");
    assert!(line.starts_with("GET /healthz "), "health asked `{line}`, not GET /healthz: {out}");

    // Unhealthy: /healthz answers 503.
    let (port, _request) = fake_server("503 Service Unavailable");
    let (code, out) = image_health_check(port);
    assert_eq!(code, 1, "/healthz answered 503 but health did not exit 1: {out}");

    // Down: nothing listens (the port was free a moment ago).
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, out) = image_health_check(port);
    assert_eq!(code, 1, "nothing listens but health did not exit 1: {out}");
}

// ---- systemd ----------------------------------------------------------------------------------------------

fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines().filter_map(|l| l.trim().strip_prefix(&format!("{key}=")).map(str::to_string)).collect()
}

#[test]
fn the_systemd_unit_runs_the_daemon_with_its_config() {
    let unit = read(UNIT);
    let exec = unit_values(&unit, "ExecStart");
    assert_eq!(exec.len(), 1, "one ExecStart: {exec:?}");
    let args: Vec<&str> = exec[0].split_whitespace().collect();
    assert_eq!(args.first(), Some(&INSTALLED_BINARY), "ExecStart runs {INSTALLED_BINARY}");
    assert_eq!(args.get(1), Some(&"run"), "ExecStart runs `gd-incidents run`");
    assert_subcommand("run", "the unit's ExecStart");
    let run_help = help(Some("run"));
    for flag in args[2..].iter().filter(|a| a.starts_with('-')) {
        assert!(
            run_help.contains(flag),
            "ExecStart passes {flag}, which `gd-incidents run --help` does not list:\n{run_help}"
        );
    }
    let at = args.iter().position(|a| *a == "--config").expect("ExecStart names --config");
    let config = Path::new(args.get(at + 1).expect("--config FILE"));
    assert!(config.is_absolute(), "--config {}: systemd needs an absolute path", config.display());
    assert_eq!(args.len(), at + 2, "nothing after --config FILE: {args:?}");

    // The file is readable by the dynamic user, read-only, and the daemon stops in time.
    let read_only = unit_values(&unit, "ReadOnlyPaths");
    assert!(
        read_only.iter().any(|p| config.starts_with(p)),
        "--config {} is not under ReadOnlyPaths {read_only:?}",
        config.display()
    );
    assert_eq!(unit_values(&unit, "DynamicUser"), ["yes"]);
    assert_eq!(unit_values(&unit, "KillSignal"), ["SIGTERM"]);
    assert_eq!(
        unit_values(&unit, "TimeoutStopSec"),
        ["30"],
        "the daemon exits within 20 s of SIGTERM; 30 s leaves margin"
    );
    assert_eq!(unit_values(&unit, "Restart"), ["always"]);
}

/// The `detail-type`s the rules of `template` route (every `- X` line under a `detail-type:`).
fn routed_detail_types(template: &str) -> BTreeSet<String> {
    let text = read(template);
    let mut found = BTreeSet::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() != "detail-type:" {
            continue;
        }
        while let Some(item) = lines.peek().and_then(|l| l.trim().strip_prefix("- ")) {
            found.insert(item.trim_matches('"').to_owned());
            lines.next();
        }
    }
    found
}

/// The templates' rules, the forwarding stack and the program read the same kinds of event: a kind added to
/// one and not the others would be lost (or dead-lettered as unknown).
#[test]
fn the_rules_route_exactly_the_events_the_program_reads() {
    use gd_incidents::domain::finding::{DETAIL_TYPE, HEALTH_DETAIL_TYPES, SCAN_RESULT_DETAIL_TYPE};
    let read_by_the_program: BTreeSet<String> =
        [DETAIL_TYPE, SCAN_RESULT_DETAIL_TYPE].into_iter().chain(HEALTH_DETAIL_TYPES).map(str::to_owned).collect();
    assert_eq!(routed_detail_types(CORE_TEMPLATE), read_by_the_program, "{CORE_TEMPLATE}'s rules");
    assert_eq!(routed_detail_types(FORWARD_TEMPLATE), read_by_the_program, "{FORWARD_TEMPLATE}'s rule");
}

/// What cargo reads to build the binary reaches the builder stage before the build that needs it: the manifest,
/// the lock file and the build script (its link option) with the dependencies, then the sources.
#[test]
fn the_image_builds_from_every_file_the_build_reads() {
    let instrs = dockerfile_instructions();
    let first_build = instrs.iter().position(|(i, a)| i == "RUN" && a.contains("cargo build")).expect("a cargo build");
    let copied: Vec<&str> = instrs[..first_build]
        .iter()
        .filter(|(i, _)| i == "COPY")
        .flat_map(|(_, a)| {
            a.split_whitespace().collect::<Vec<_>>().split_last().map(|(_, s)| s.to_vec()).unwrap_or_default()
        })
        .collect();
    for file in ["Cargo.toml", "Cargo.lock", "build.rs"] {
        assert!(std::path::Path::new(file).exists(), "{file} is in the repository");
        assert!(copied.contains(&file), "{file} is not copied before the first cargo build: {copied:?}");
    }
    let sources = instrs.iter().position(|(i, a)| i == "COPY" && a.starts_with("src ")).expect("COPY src");
    assert!(
        instrs[sources..].iter().any(|(i, a)| i == "RUN" && a.contains("cargo build --release")),
        "the sources are built after they are copied"
    );
}
