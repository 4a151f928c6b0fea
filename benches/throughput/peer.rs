//! The peer: `peer.py`, a Python consumer shaped like AWS's "GuardDuty to Slack" samples (five poller
//! threads; receive 10, one conditional PutItem and one DeleteMessage per message). The daemon is compared
//! with it on the same LOW load in the same run, because "faster and lighter than what a team would write
//! otherwise" is the claim, and ratios from one run hold up better on a shared host than absolute figures.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gd_incidents::adapters::dynamodb::{IncidentKey, RECORD_INCIDENT, SK_INCIDENT};
use serde_json::Value;

use crate::findings::{Findings, low_burst};
use crate::procstat::{busy_share, cpu_secs, host_cpu, peak_rss_kib};
use crate::support::localstack::{REGION, endpoint};
use crate::support::{Aws, Stack, repo};
use crate::{Result, SENDERS, log};

/// What the peer measured.
#[derive(Debug)]
pub struct PeerRun {
    /// Messages it processed (written or found written, then deleted).
    pub processed: f64,
    /// From its first receive to its last delete.
    pub secs: f64,
    /// `processed / secs`.
    pub rate: f64,
    /// User + system CPU of the process (all its threads, interpreter start included), read before it exits.
    pub cpu_secs: Option<f64>,
    /// Its VmHWM, KiB, read before it exits.
    pub rss_kib: Option<u64>,
    /// Share of the host's CPUs busy from its spawn to its result.
    pub host_busy: Option<f64>,
    /// Its JSON line as printed (call counts, errors).
    pub details: Value,
}

/// The Python of LocalStack's host venv (`$LS_HOME/venv`, `~/.cache/localstack-host/venv` by default, as
/// `deploy/start-localstack.sh` makes it): it has boto3.
fn python() -> Result<PathBuf> {
    let home = match std::env::var_os("LS_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").ok_or("peer: HOME is not set, so the venv cannot be found")?;
            PathBuf::from(home).join(".cache/localstack-host")
        }
    };
    let python = home.join("venv/bin/python");
    if !python.is_file() {
        return Err(format!(
            "peer: {} is missing: the peer runs with the Python (and boto3) of LocalStack's host venv, which \
             deploy/start-localstack.sh creates",
            python.display()
        ));
    }
    Ok(python)
}

/// The peer phase: loads `n` LOW findings (as the LOW-only phase does) onto `stack`'s idle queue and runs the
/// peer on that queue and the stack's table.
pub async fn phase(aws: &Aws, stack: &Stack, findings: &Findings, id: &str, n: usize, dir: &Path) -> Result<PeerRun> {
    let bodies: Vec<String> = low_burst(findings, &format!("q-{id}-"), n).into_iter().map(|m| m.body).collect();
    aws.load(stack.queue_url(), &bodies, SENDERS).await;
    log(format!("peer: loaded {n} LOW findings; starting peer.py (5 threads)"));
    let peer = run(dir, stack.queue_url(), stack.table(), n).await?;
    log(format!(
        "peer: {:.0} msg/s ({} in {:.1}s), CPU {:.2}s, peak RSS {:.1} MB",
        peer.rate,
        peer.processed,
        peer.secs,
        peer.cpu_secs.unwrap_or(f64::NAN),
        peer.rss_kib.map_or(f64::NAN, |k| k as f64 / 1024.0)
    ));
    Ok(peer)
}

/// Kills and reaps the peer after a failure, and says where its log is.
fn fail(child: &mut Child, log: &Path, what: String) -> String {
    let _ = child.kill();
    let _ = child.wait();
    format!("peer: {what}; see {}", log.display())
}

/// Runs the peer on `queue` and `table` until it has processed `expected` messages. Its stderr goes to
/// `dir/peer.log`.
pub async fn run(dir: &Path, queue: &str, table: &str, expected: usize) -> Result<PeerRun> {
    let (dir, queue, table) = (dir.to_owned(), queue.to_owned(), table.to_owned());
    tokio::task::spawn_blocking(move || run_blocking(&dir, &queue, &table, expected))
        .await
        .map_err(|e| format!("peer: {e}"))?
}

/// [`run`], on a thread that may block.
fn run_blocking(dir: &Path, queue: &str, table: &str, expected: usize) -> Result<PeerRun> {
    let python = python()?;
    let script = repo().join("benches/throughput/peer.py");
    let log_path = dir.join("peer.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    // The incident's key as the daemon builds it, with placeholders the script fills in.
    let key = IncidentKey { account_id: "{account}".into(), region: "{region}".into(), finding_id: "{id}".into() };
    let timeout = Duration::from_secs(60) + Duration::from_millis(50 * expected as u64);
    let cpu_before = host_cpu();
    let mut child = Command::new(&python)
        .arg(&script)
        .args(["--endpoint", &endpoint(), "--region", REGION, "--queue-url", queue, "--table", table])
        .args(["--expected", &expected.to_string(), "--timeout", &timeout.as_secs().to_string()])
        .args(["--pk-format", &key.pk(), "--sk", SK_INCIDENT, "--record-type", RECORD_INCIDENT])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", REGION)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_SQS")
        .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| format!("peer: cannot start {} {}: {e}", python.display(), script.display()))?;
    let pid = child.id();
    let Some(stdout) = child.stdout.take() else {
        return Err(fail(&mut child, &log_path, "no stdout".into()));
    };
    // One line, read on a thread of its own so that a stuck peer cannot hold the bench past the limit.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
        let _ = tx.send(read);
    });
    let line = match rx.recv_timeout(timeout + Duration::from_secs(30)) {
        Ok(Ok(line)) if !line.trim().is_empty() => line,
        Ok(Ok(_)) => return Err(fail(&mut child, &log_path, "exited without a result".into())),
        Ok(Err(e)) => return Err(fail(&mut child, &log_path, format!("reading its result: {e}"))),
        Err(_) => return Err(fail(&mut child, &log_path, format!("no result within {timeout:?}"))),
    };
    // It waits for a line on stdin now: read its totals while it still exists.
    let cpu = cpu_secs(pid);
    let rss_kib = peak_rss_kib(pid);
    let host_busy = busy_share(cpu_before, host_cpu());
    let details: Value = match serde_json::from_str(line.trim()) {
        Ok(v) => v,
        Err(e) => return Err(fail(&mut child, &log_path, format!("printed no JSON ({e}): {line}"))),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"\n");
    }
    let limit = Instant::now() + Duration::from_secs(10);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < limit => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => return Err(fail(&mut child, &log_path, "did not exit when told to".into())),
            Err(e) => return Err(fail(&mut child, &log_path, format!("wait: {e}"))),
        }
    };
    if !status.success() || details.get("ok") != Some(&Value::Bool(true)) {
        return Err(format!("peer: exited with {status}: {line}; see {}", log_path.display()));
    }
    let processed = details.get("processed").and_then(Value::as_f64).ok_or("peer: no `processed` in its result")?;
    let secs = details.get("seconds").and_then(Value::as_f64).ok_or("peer: no `seconds` in its result")?;
    Ok(PeerRun { processed, secs, rate: processed / secs.max(1e-9), cpu_secs: cpu, rss_kib, host_busy, details })
}
