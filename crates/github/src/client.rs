//! The GitHub REST client: construction, settings and authentication.
//!
//! Requests go through octocrab's HTTP stack (hyper with rustls), built
//! without octocrab's own retry layer and default headers, so that this
//! crate decides on retries and every request carries exactly one
//! `User-Agent`, `Accept` and `X-GitHub-Api-Version` header.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use octocrab::service::middleware::base_uri::BaseUriLayer;
use octocrab::{AuthState, Octocrab, OctocrabBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::auth::{is_fresh, AppTokens, Authenticator, Credentials, InstallationToken};
use crate::error::GitHubError;
use crate::identity::Identity;
use crate::retry::RetryPolicy;
use crate::stats::{CallRecorder, CallStats};
use crate::transport::{AuthKind, Call};

/// The public GitHub API.
pub const GITHUB_API_URL: &str = "https://api.github.com";

/// Client settings; [`ClientSettings::default`] suits github.com.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// API base URL: `https://api.github.com`, or `https://HOST/api/v3` for
    /// GitHub Enterprise Server.
    pub base_url: String,
    /// The `User-Agent` header, which GitHub requires and uses to contact
    /// the owner of misbehaving clients.
    pub user_agent: String,
    /// Maximum wait for one complete response, body included.
    pub request_timeout: Duration,
    /// Maximum wait for a TCP connection.
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// How long before its expiry an installation token is replaced.
    pub token_refresh_margin: Duration,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            base_url: GITHUB_API_URL.to_owned(),
            user_agent: concat!("pitot/", env!("CARGO_PKG_VERSION")).to_owned(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            token_refresh_margin: Duration::from_secs(5 * 60),
        }
    }
}

/// The reason a client could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    #[error(
        "invalid GitHub API base URL {url:?}: expected an absolute http or https URL such as https://api.github.com"
    )]
    InvalidBaseUrl { url: String },
    #[error("invalid GitHub User-Agent {0:?}: it must be printable ASCII")]
    InvalidUserAgent(String),
    #[error("the GitHub App private key is not a valid RSA key in PEM form: {0}")]
    InvalidPrivateKey(#[source] jsonwebtoken::errors::Error),
    #[error("no trusted root certificates found for HTTPS to GitHub: install the system's CA certificates (ca-certificates)")]
    NoRootCertificates(#[source] std::io::Error),
    #[error("cannot set up TLS: {0}")]
    Tls(#[source] rustls::Error),
}

/// A GitHub REST client. Cheap to clone; clones share connections and
/// cached installation tokens.
///
/// With App credentials, each call acts as one installation: take a handle
/// with [`GitHubClient::for_installation`] (the id comes with each webhook).
#[derive(Clone)]
pub struct GitHubClient {
    pub(crate) shared: Arc<Shared>,
    pub(crate) installation_id: Option<u64>,
}

/// An HTTP client that sends requests as they are, without the API base
/// URL or credentials, for artifact downloads from GitHub's storage.
pub(crate) type PlainHttp = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<HttpConnector>,
    octocrab::OctoBody,
>;

pub(crate) struct Shared {
    pub http: Octocrab,
    pub plain_http: PlainHttp,
    pub base_url: Uri,
    pub settings: ClientSettings,
    pub authenticator: Authenticator,
    /// Set once the "check runs need an App" warning has been logged.
    pub warned_no_check_runs: AtomicBool,
    /// The account the credentials act as, fetched on first use.
    pub identity: tokio::sync::OnceCell<Identity>,
    pub calls: CallRecorder,
    /// The check runs, by repository and external id, whose creation may
    /// have taken effect although the call failed. The next creation of
    /// one looks for it first.
    pub uncertain_check_runs: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for GitHubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.shared.authenticator {
            Authenticator::Token(_) => "token",
            Authenticator::App(_) => "app",
        };
        f.debug_struct("GitHubClient")
            .field("base_url", &self.shared.settings.base_url)
            .field("auth", &mode)
            .field("installation_id", &self.installation_id)
            .finish()
    }
}

/// The body of `POST /app/installations/{id}/access_tokens`.
#[derive(Deserialize)]
struct AccessTokenResponse {
    token: SecretString,
    expires_at: chrono::DateTime<chrono::Utc>,
}

impl GitHubClient {
    /// Builds a client; no request is sent until the first call.
    pub fn new(settings: ClientSettings, credentials: Credentials) -> Result<GitHubClient, ClientBuildError> {
        let invalid_url = || ClientBuildError::InvalidBaseUrl {
            url: settings.base_url.clone(),
        };
        let base_url: Uri = settings
            .base_url
            .trim_end_matches('/')
            .parse()
            .map_err(|_| invalid_url())?;
        if !matches!(base_url.scheme_str(), Some("http" | "https")) || base_url.authority().is_none() {
            return Err(invalid_url());
        }
        HeaderValue::from_str(&settings.user_agent)
            .map_err(|_| ClientBuildError::InvalidUserAgent(settings.user_agent.clone()))?;

        let authenticator = match credentials {
            Credentials::Token(token) => Authenticator::Token(token),
            Credentials::App {
                app_id,
                private_key_pem,
            } => Authenticator::App(
                AppTokens::new(app_id, &private_key_pem).map_err(ClientBuildError::InvalidPrivateKey)?,
            ),
        };
        let plain_http = build_plain_http(&base_url, &settings)?;
        let http = build_octocrab(plain_http.clone(), &base_url);

        let shared = Shared {
            http,
            plain_http,
            base_url,
            settings,
            authenticator,
            warned_no_check_runs: AtomicBool::new(false),
            identity: tokio::sync::OnceCell::new(),
            calls: CallRecorder::default(),
            uncertain_check_runs: std::sync::Mutex::default(),
        };
        Ok(GitHubClient {
            shared: Arc::new(shared),
            installation_id: None,
        })
    }

    /// Returns a handle that acts as installation `installation_id`. With a
    /// personal token the id is kept for logs but changes nothing.
    pub fn for_installation(&self, installation_id: u64) -> GitHubClient {
        GitHubClient {
            shared: self.shared.clone(),
            installation_id: Some(installation_id),
        }
    }

    /// Returns the counts of the calls this client and its clones have sent.
    pub fn call_stats(&self) -> CallStats {
        self.shared.calls.snapshot()
    }

    /// Returns whether this client can create check runs (App credentials).
    pub fn supports_check_runs(&self) -> bool {
        matches!(self.shared.authenticator, Authenticator::App(_))
    }

    /// Returns the id of the App the client authenticates as, or `None`
    /// with a personal token.
    pub(crate) fn app_id(&self) -> Option<u64> {
        match &self.shared.authenticator {
            Authenticator::App(app) => Some(app.app_id()),
            Authenticator::Token(_) => None,
        }
    }

    /// Logs once per client that check runs are skipped; returns `true` when
    /// the caller must skip them.
    pub(crate) fn skip_check_runs(&self) -> bool {
        if self.supports_check_runs() {
            return false;
        }
        if !self.shared.warned_no_check_runs.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "skipping GitHub check runs: GitHub lets only Apps create them and pitot is configured \
                 with a token; results still go to the pull request comment"
            );
        }
        true
    }

    /// Returns the `Authorization` header value for a request, minting an
    /// installation token when none is cached or the cached one is near expiry.
    pub(crate) async fn authorization(&self, kind: AuthKind) -> Result<SecretString, GitHubError> {
        match (&self.shared.authenticator, kind) {
            (Authenticator::App(app), AuthKind::AppJwt) => Ok(bearer(&app.jwt()?)),
            (Authenticator::Token(token), _) => Ok(bearer(token)),
            (Authenticator::App(app), AuthKind::Installation) => {
                let installation_id = self.installation_id.ok_or(GitHubError::NoInstallation)?;
                let slot = app.slot(installation_id);
                let mut cached = slot.lock().await;
                let margin = self.shared.settings.token_refresh_margin;
                if let Some(token) = cached
                    .as_ref()
                    .filter(|token| is_fresh(token, margin, chrono::Utc::now()))
                {
                    return Ok(bearer(&token.secret));
                }
                // Boxed because minting sends a request, which calls back into
                // `authorization` (with the App JWT, so it does not recurse further).
                let token = Box::pin(self.mint_installation_token(installation_id)).await?;
                let header = bearer(&token.secret);
                *cached = Some(token);
                Ok(header)
            }
        }
    }

    /// Drops the cached installation token if it is still the one that
    /// GitHub rejected; another task may have replaced it already.
    pub(crate) async fn forget_installation_token(&self, rejected: &SecretString) {
        let (Authenticator::App(app), Some(installation_id)) = (&self.shared.authenticator, self.installation_id)
        else {
            return;
        };
        let slot = app.slot(installation_id);
        let mut cached = slot.lock().await;
        if cached
            .as_ref()
            .is_some_and(|token| bearer(&token.secret).expose_secret() == rejected.expose_secret())
        {
            *cached = None;
        }
    }

    /// Returns whether a 401 can be cured by minting a new token.
    pub(crate) fn can_refresh_token(&self, kind: AuthKind) -> bool {
        matches!(
            (&self.shared.authenticator, kind),
            (Authenticator::App(_), AuthKind::Installation)
        )
    }

    #[tracing::instrument(skip_all, fields(installation_id))]
    async fn mint_installation_token(&self, installation_id: u64) -> Result<InstallationToken, GitHubError> {
        let call = Call {
            method: Method::POST,
            target: format!("/app/installations/{installation_id}/access_tokens"),
            body: Some(serde_json::json!({})),
            idempotent: true,
            auth: AuthKind::AppJwt,
        };
        let response = self.send(&call).await?;
        let minted: AccessTokenResponse = response.json(&call)?;
        tracing::debug!(expires_at = %minted.expires_at, "minted a GitHub installation token");
        Ok(InstallationToken {
            secret: minted.token,
            expires_at: minted.expires_at,
        })
    }
}

fn bearer(token: &SecretString) -> SecretString {
    SecretString::from(format!("Bearer {}", token.expose_secret()))
}

/// Builds hyper's pooled client over rustls (ring). It trusts the
/// system's roots when the API is on HTTPS, and no roots otherwise (a
/// local stand-in), so it then reaches plain HTTP hosts only.
fn build_plain_http(base_url: &Uri, settings: &ClientSettings) -> Result<PlainHttp, ClientBuildError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(settings.connect_timeout));

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = if base_url.scheme_str() == Some("https") {
        builder
            .with_provider_and_native_roots(provider)
            .map_err(ClientBuildError::NoRootCertificates)?
    } else {
        // Plain HTTP (a local stand-in in tests) needs no trusted roots.
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(ClientBuildError::Tls)?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        builder.with_tls_config(config)
    };
    let connector = builder.https_or_http().enable_http1().wrap_connector(http);
    Ok(hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector))
}

/// Builds the API client: `client` with the base URL applied to relative
/// request paths.
fn build_octocrab(client: PlainHttp, base_url: &Uri) -> Octocrab {
    let octocrab = OctocrabBuilder::new_empty()
        .with_service(client)
        .with_layer(&BaseUriLayer::new(base_url.clone()))
        .with_auth(AuthState::None)
        .build();
    match octocrab {
        Ok(octocrab) => octocrab,
        Err(infallible) => match infallible {},
    }
}
