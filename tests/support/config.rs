//! The daemon's configuration file for a stack: the tests' form (short polls and timeouts, debug logs) and
//! the daemon's defaults (what the benchmark measures), with extra lines where a test needs them.

use std::path::{Path, PathBuf};

use super::localstack::{REGION, endpoint};
use super::stack::Stack;

/// What a configuration holds beyond the stack's names.
#[derive(Debug, Clone, Default)]
pub struct ConfigText {
    /// Lines of `[aws]` after the region and endpoint.
    pub aws: String,
    /// Lines of `[queue]` after its URL.
    pub queue: String,
    /// `[log] level`.
    pub log_level: String,
    /// More sections, appended.
    pub tail: String,
}

impl ConfigText {
    /// The tests' form: 5 s attempts, 3 attempts, 1 s polls, debug logs of the crate; `queue_extra` added to
    /// `[queue]`, `tail` appended.
    pub fn for_tests(queue_extra: &str, tail: &str) -> ConfigText {
        ConfigText {
            aws: "attempt_timeout_secs = 5\nmax_attempts = 3\n".into(),
            queue: format!("wait_time_secs = 1\n{queue_extra}\n"),
            log_level: "gd_incidents=debug,info".into(),
            tail: tail.into(),
        }
    }

    /// The text for `stack`.
    pub fn render(&self, stack: &Stack) -> String {
        format!(
            "[aws]\nregion = \"{REGION}\"\nendpoint_url = \"{endpoint}\"\n{aws}\n\
             [queue]\nurl = \"{queue}\"\n{queue_extra}\n\
             [incidents]\ntable = \"{table}\"\nconfidential_table = \"{confidential}\"\n\n\
             [paging]\noce_topic_arn = \"{oce}\"\niso_topic_arn = \"{iso}\"\n\n\
             [log]\nformat = \"json\"\nlevel = \"{level}\"\n\n{tail}\n",
            endpoint = endpoint(),
            aws = self.aws,
            queue = stack.queue_url(),
            queue_extra = self.queue,
            table = stack.table(),
            confidential = stack.confidential_table(),
            oce = stack.oce_topic(),
            iso = stack.iso_topic(),
            level = self.log_level,
            tail = self.tail,
        )
    }

    /// Writes the text for `stack` to `dir/<name>.toml`.
    pub fn write(&self, dir: &Path, stack: &Stack, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, self.render(stack)).expect("write config");
        path
    }
}

/// Writes a configuration for `stack` into `dir`, with `queue_extra` added to `[queue]`.
pub fn write_config(dir: &Path, stack: &Stack, queue_extra: &str) -> PathBuf {
    write_config_with(dir, stack, queue_extra, "")
}

/// Like [`write_config`], with `tail` (more sections) appended.
pub fn write_config_with(dir: &Path, stack: &Stack, queue_extra: &str, tail: &str) -> PathBuf {
    ConfigText::for_tests(queue_extra, tail).write(dir, stack, &stack.name)
}
