//! The real `gd-incidents` binary as a process: one-shot commands, and long-running ones (`run`, `portal`)
//! that are killed when dropped and print their log if the test failed.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use hyper::Method;
use serde_json::Value;

use super::http::Http;

/// The path of the binary under test (the release one under `cargo bench`).
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_gd-incidents")
}

/// `gd-incidents ARGS --config CONFIG` with LocalStack's credentials and `env`. The config's endpoint must
/// win, so every variable that could point the SDK elsewhere is dropped first.
fn command(args: &[&str], config: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .arg("--config")
        .arg(config)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("RUST_LOG")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_SQS")
        .env_remove("AWS_ENDPOINT_URL_SNS")
        .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
        .envs(env.iter().copied());
    cmd
}

const CALL_LOG_VARIABLE: &str = "GD_INCIDENTS__AWS__CALL_LOG_FILE";

/// Where the AWS calls of a daemon (`run`) or portal on a test stack go, for the suite's permission check
/// (`tests/iam/suite.mjs`, run by `deploy/test.sh` after the tests): `target/call-logs/<id>.jsonl`, with
/// `<id>.json` naming the stack, the process and the routes' and clients' topics. `None` for other commands, for processes whose test
/// records their calls itself, and for configurations of no test stack.
fn record_calls(command_name: &str, config: &Path, env: &[(&str, &str)]) -> Option<PathBuf> {
    let kind = match command_name {
        "run" => "daemon",
        "portal" => "portal",
        _ => return None,
    };
    if env.iter().any(|(k, _)| *k == CALL_LOG_VARIABLE) {
        return None;
    }
    let text = std::fs::read_to_string(config).ok()?;
    let table = text.lines().find_map(|l| l.trim().strip_prefix("table = \"")?.strip_suffix('"'))?;
    let stack = table.strip_suffix("-incidents")?;
    let dir = super::repo().join("target/call-logs");
    std::fs::create_dir_all(&dir).ok()?;
    let id = format!("{kind}-{}", uuid::Uuid::new_v4().simple());
    // Routes' and clients' topics: the stack parameter StakeholderTopicArns of a deployment with this config.
    let topics: Vec<&str> =
        text.lines().filter_map(|l| l.trim().strip_prefix("topic_arn = \"")?.strip_suffix('"')).collect();
    // Containment's reach: stack parameter WafIpSetArns, and the bucket the stack made.
    let setting =
        |key: &str| text.lines().find_map(|l| l.trim().strip_prefix(key)?.trim().strip_prefix('=')).map(str::trim);
    let waf: Vec<&str> = setting("waf_ip_set_arns")
        .map(|list| {
            list.trim_matches(['[', ']'])
                .split(',')
                .map(|a| a.trim().trim_matches('"'))
                .filter(|a| !a.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let bucket = setting("quarantine_bucket").map(|b| b.trim_matches('"'));
    let about = serde_json::json!({ "process": kind, "stack": stack, "stakeholder_topics": topics,
        "waf_ip_sets": waf, "quarantine_bucket": bucket });
    std::fs::write(dir.join(format!("{id}.json")), about.to_string()).ok()?;
    Some(dir.join(format!("{id}.jsonl")))
}

/// Runs a `gd-incidents` command with LocalStack's credentials: (exit code, stdout, stderr).
pub fn gd(config: &Path, args: &[&str]) -> (i32, String, String) {
    gd_env(config, args, &[])
}

/// Like [`gd`], with extra environment variables.
pub fn gd_env(config: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = command(args, config, env).output().expect("run gd-incidents");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command that must succeed with `--json`, and returns its output.
pub fn gd_json(config: &Path, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    let (code, out, err) = gd(config, &all);
    assert_eq!(code, 0, "gd-incidents {args:?} failed:\n{err}\n{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("gd-incidents {args:?} printed no JSON ({e}): {out}"))
}

/// A running `gd-incidents COMMAND`; killed when dropped, and its log printed if the test failed.
pub struct Process {
    child: Option<Child>,
    /// Its stderr: the logs.
    pub log_path: PathBuf,
    pub name: String,
    /// When it was spawned, on the monotonic clock and on the wall clock (that of SQS and DynamoDB).
    pub started: Instant,
    pub started_at: SystemTime,
}

/// A `gd-incidents run`.
pub type Daemon = Process;

impl Process {
    /// Starts `gd-incidents COMMAND --config CONFIG` with extra `env`, its log next to the config.
    /// The daemon's and the portal's AWS calls are recorded for the suite's permission check (unless the test
    /// records them itself): see [`record_calls`].
    pub fn spawn(command_name: &str, config: &Path, name: &str, env: &[(&str, &str)]) -> Process {
        Process::spawn_recording(command_name, config, name, env, record_calls(command_name, config, env))
    }

    /// [`Process::spawn`], recording the process's AWS calls in `recording` if given.
    fn spawn_recording(
        command_name: &str,
        config: &Path,
        name: &str,
        env: &[(&str, &str)],
        recording: Option<PathBuf>,
    ) -> Process {
        let log_path = config.with_extension(format!("{name}.log"));
        let file = std::fs::File::create(&log_path).expect("create the process's log file");
        let (started, started_at) = (Instant::now(), SystemTime::now());
        let mut env = env.to_vec();
        if let Some(calls) = &recording {
            env.push((CALL_LOG_VARIABLE, calls.to_str().expect("a UTF-8 path")));
        }
        let child = command(&[command_name], config, &env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap_or_else(|e| panic!("start gd-incidents {command_name}: {e}"));
        Process { child: Some(child), log_path, name: name.into(), started, started_at }
    }

    /// Starts `gd-incidents run`.
    pub fn start(config: &Path, name: &str) -> Process {
        Process::start_with_env(config, name, &[])
    }

    /// Starts `gd-incidents run` with extra environment variables (e.g. `AWS_ENDPOINT_URL_GUARDDUTY`).
    pub fn start_with_env(config: &Path, name: &str, env: &[(&str, &str)]) -> Process {
        Process::spawn("run", config, name, env)
    }

    /// Starts `gd-incidents run` as deployed: without the tests' call log, whose JSON line and file write
    /// per AWS call were a tenth of the daemon's CPU in the benchmark's profile.
    pub fn start_as_deployed(config: &Path, name: &str) -> Process {
        Process::spawn_recording("run", config, name, &[], None)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log_path) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// How it exited, if it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().expect("wait"))
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.is_some() && self.exited().is_none()
    }

    /// Waits until it answers `GET /healthz` on `addr` with 200; panics if it exits or `limit` passes.
    pub async fn wait_healthy(&mut self, addr: SocketAddr, limit: Duration) {
        let (http, url) = (Http::default(), format!("http://{addr}/healthz"));
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.exited() {
                panic!("{} exited with {status}:\n{}", self.name, self.log());
            }
            let answer = http.try_send(Method::GET, &url, &[], None, Duration::from_secs(5)).await;
            if answer.is_ok_and(|a| a.status == 200) {
                return;
            }
            assert!(Instant::now() < deadline, "{} did not answer within {limit:?}:\n{}", self.name, self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit; returns the status and how long it took.
    pub fn terminate(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let child = self.child.as_mut().expect("running");
        let started = Instant::now();
        let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill -TERM").success();
        assert!(ok, "could not signal {}", self.name);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                self.child = None;
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < limit,
                "{} did not exit within {limit:?} of SIGTERM; log:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- log of {} ----\n{}", self.name, self.log());
        }
    }
}
