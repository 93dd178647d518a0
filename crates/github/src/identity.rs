//! Asking GitHub whom the configured credentials belong to, which proves
//! that the API is reachable and that it accepts them.

use http::Method;
use serde::Deserialize;

use crate::auth::Authenticator;
use crate::client::GitHubClient;
use crate::error::GitHubError;
use crate::transport::{AuthKind, Call};

/// The owner of a client's credentials, as GitHub reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A GitHub App, from `GET /app` with the App's JSON Web Token.
    App { id: u64, slug: String },
    /// A user, from `GET /user` with a personal access token.
    User { login: String },
}

#[derive(Deserialize)]
struct AppResponse {
    id: u64,
    slug: String,
}

#[derive(Deserialize)]
struct UserResponse {
    login: String,
}

impl GitHubClient {
    /// Fetches the App (`GET /app`, authenticated with the App's JWT) or the
    /// user (`GET /user`, with the token) that the credentials belong to.
    pub async fn identity(&self) -> Result<Identity, GitHubError> {
        let (target, auth) = match self.shared.authenticator {
            Authenticator::App(_) => ("/app", AuthKind::AppJwt),
            Authenticator::Token(_) => ("/user", AuthKind::Installation),
        };
        let call = Call {
            method: Method::GET,
            target: target.to_owned(),
            body: None,
            idempotent: true,
            auth,
        };
        let response = self.send(&call).await?;
        let identity = match auth {
            AuthKind::AppJwt => {
                let app: AppResponse = response.json(&call)?;
                Identity::App {
                    id: app.id,
                    slug: app.slug,
                }
            }
            AuthKind::Installation => {
                let user: UserResponse = response.json(&call)?;
                Identity::User { login: user.login }
            }
        };
        Ok(identity)
    }
}
