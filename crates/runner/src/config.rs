//! The agent's settings: [`AgentConfig`] and the URL rewrites it applies
//! before fetching.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// The asv version the agent installs into its own virtual environment when
/// no `asv` is on `PATH`.
pub const DEFAULT_ASV_VERSION: &str = "0.6.6";

/// Settings of `pitot agent`, read once at start.
///
/// Field names are the TOML keys. Durations are written as in `"10m"` or
/// `"90s"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Base URL of the pitot server, such as `https://pitot.example.org`.
    /// Required.
    pub server_url: String,
    /// The agent's bearer token, issued by the server for this agent
    /// (environment variable `PITOT_AGENT_TOKEN`). Required. Never logged,
    /// and removed from the environment of git and asv.
    pub token: SecretString,
    /// The agent's name, unique among the server's agents. Default: the
    /// host name.
    #[serde(default = "default_agent_name")]
    pub name: String,
    /// The asv machine name results are recorded under. Only results from
    /// one machine name are compared with each other. Default: the agent's
    /// name.
    #[serde(default)]
    pub machine: Option<String>,
    /// The folder for checkouts, job logs and asv's virtual environment.
    /// Required. It needs room for one clone of each repository plus asv's
    /// environments for it. Each agent needs its own folder, because jobs
    /// reuse the checkouts in it without locking them.
    pub work_dir: PathBuf,
    /// Rewrites applied to each job's clone URL before fetching, in order;
    /// the first whose prefix matches is used. Default: none.
    #[serde(default)]
    pub url_rewrites: Vec<UrlRewrite>,
    /// The asv program to run. Default: `asv` from `PATH`, else the agent's
    /// own virtual environment (see `asv_venv`).
    #[serde(default)]
    pub asv_program: Option<PathBuf>,
    /// The asv version installed into the agent's own virtual environment.
    /// Default: `0.6.6`.
    #[serde(default = "default_asv_version")]
    pub asv_version: String,
    /// The folder of the agent's own virtual environment for asv. Default:
    /// `<work_dir>/asv-venv`.
    #[serde(default)]
    pub asv_venv: Option<PathBuf>,
    /// The Python interpreter that creates that virtual environment.
    /// Default: `python3`.
    #[serde(default = "default_python")]
    pub python: PathBuf,
    /// The time limit for one git command (each fetch, the checkout).
    /// Default: 10 minutes.
    #[serde(default = "default_git_timeout", with = "humantime_serde")]
    pub git_timeout: Duration,
    /// The maximum size of the log sent with a report, in bytes. A longer
    /// log keeps its first quarter and its end. Default: 1 MiB.
    #[serde(default = "default_log_upload_limit")]
    pub log_upload_limit: usize,
    /// The pause before claiming again after the server could not be
    /// reached. Default: 10 seconds.
    #[serde(default = "default_reconnect_delay", with = "humantime_serde")]
    pub reconnect_delay: Duration,
}

impl AgentConfig {
    /// Creates a configuration with the required settings and every other
    /// one at its default.
    pub fn new(server_url: impl Into<String>, token: SecretString, work_dir: impl Into<PathBuf>) -> Self {
        Self {
            server_url: server_url.into(),
            token,
            name: default_agent_name(),
            machine: None,
            work_dir: work_dir.into(),
            url_rewrites: Vec::new(),
            asv_program: None,
            asv_version: default_asv_version(),
            asv_venv: None,
            python: default_python(),
            git_timeout: default_git_timeout(),
            log_upload_limit: default_log_upload_limit(),
            reconnect_delay: default_reconnect_delay(),
        }
    }

    /// Returns the asv machine name: `machine`, else the agent's name.
    pub fn machine_name(&self) -> &str {
        self.machine.as_deref().unwrap_or(&self.name)
    }

    /// Returns the folder of the agent's own virtual environment for asv.
    pub fn asv_venv_dir(&self) -> PathBuf {
        self.asv_venv
            .clone()
            .unwrap_or_else(|| self.work_dir.join("asv-venv"))
    }

    /// Applies the first URL rewrite whose prefix matches `url`.
    pub fn rewrite_url(&self, url: &str) -> String {
        for rewrite in &self.url_rewrites {
            if let Some(rest) = url.strip_prefix(&rewrite.prefix) {
                return format!("{}{rest}", rewrite.replacement);
            }
        }
        url.to_string()
    }
}

fn default_agent_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "pitot-agent".to_string())
}

fn default_asv_version() -> String {
    DEFAULT_ASV_VERSION.to_string()
}

fn default_python() -> PathBuf {
    PathBuf::from("python3")
}

fn default_git_timeout() -> Duration {
    Duration::from_secs(10 * 60)
}

fn default_log_upload_limit() -> usize {
    1024 * 1024
}

fn default_reconnect_delay() -> Duration {
    Duration::from_secs(10)
}

/// A clone URL rewrite: URLs starting with `prefix` have it replaced by
/// `replacement`, for example to fetch from a local mirror
/// (`https://github.com/` to `/srv/mirrors/`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UrlRewrite {
    /// The start of the URLs to rewrite.
    pub prefix: String,
    /// The text that replaces the prefix.
    pub replacement: String,
}

/// Parses `PREFIX=REPLACEMENT`, the command-line form. The first `=`
/// separates the two parts.
impl FromStr for UrlRewrite {
    type Err = InvalidUrlRewrite;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('=') {
            Some((prefix, replacement)) if !prefix.is_empty() => Ok(UrlRewrite {
                prefix: prefix.to_string(),
                replacement: replacement.to_string(),
            }),
            _ => Err(InvalidUrlRewrite(text.to_string())),
        }
    }
}

/// A URL rewrite that is not of the form `PREFIX=REPLACEMENT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid URL rewrite {0:?}: expected PREFIX=REPLACEMENT, for example https://github.com/=/srv/mirrors/")]
pub struct InvalidUrlRewrite(String);

impl fmt::Display for UrlRewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.prefix, self.replacement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(rewrites: &[&str]) -> AgentConfig {
        let mut config = AgentConfig::new("http://127.0.0.1:1", SecretString::from("t"), "/tmp/work");
        config.url_rewrites = rewrites
            .iter()
            .map(|text| text.parse().expect("valid rewrite"))
            .collect();
        config
    }

    #[test]
    fn rewrite_first_matching_prefix() {
        let config = config_with(&["https://github.com/octo/=/srv/octo/", "https://github.com/=/srv/mirrors/"]);

        assert_eq!(config.rewrite_url("https://github.com/octo/demo.git"), "/srv/octo/demo.git");
        assert_eq!(config.rewrite_url("https://github.com/other/x.git"), "/srv/mirrors/other/x.git");
        assert_eq!(config.rewrite_url("https://gitlab.com/a/b.git"), "https://gitlab.com/a/b.git");
    }

    #[test]
    fn rewrite_parse_rejects_missing_prefix() {
        let cases = [("", "empty"), ("no-separator", "no ="), ("=/srv/", "empty prefix")];

        for (text, why) in cases {
            let parsed = text.parse::<UrlRewrite>();

            assert!(parsed.is_err(), "{why}: {text:?} was accepted");
        }
    }

    #[test]
    fn config_from_toml_defaults() {
        let text = r#"
            server_url = "https://pitot.example.org"
            token = "secret-token"
            work_dir = "/var/lib/pitot/agent"
            git_timeout = "90s"
            [[url_rewrites]]
            prefix = "https://github.com/"
            replacement = "/srv/mirrors/"
        "#;

        let config: AgentConfig = toml::from_str(text).expect("valid config");

        assert_eq!(config.git_timeout, Duration::from_secs(90));
        assert_eq!(config.asv_version, DEFAULT_ASV_VERSION);
        assert_eq!(config.machine_name(), config.name);
        assert_eq!(config.asv_venv_dir(), PathBuf::from("/var/lib/pitot/agent/asv-venv"));
        assert_eq!(config.url_rewrites.len(), 1);
        assert!(!format!("{config:?}").contains("secret-token"));
    }
}
