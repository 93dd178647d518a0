//! Asking GitHub whom the configured credentials belong to, which proves
//! that the API is reachable and that it accepts them, and telling apart
//! what that account wrote from what anyone else wrote.
//!
//! Anyone who can comment on a public repository can copy pitot's hidden
//! markers into a comment or an issue. So pitot edits a comment or an
//! issue that carries its marker only when the account it acts as wrote it.

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

/// The account in the `user` field of a comment or an issue.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Account {
    login: String,
    /// `User`, `Bot` or `Organization`.
    #[serde(rename = "type")]
    kind: String,
}

impl Identity {
    /// Returns whether `author`, the `user` of a comment or an issue, is
    /// the account these credentials act as. An App acts as its bot user
    /// `<slug>[bot]` of type `Bot`. No person can hold that login, because
    /// a GitHub user's login cannot contain brackets. A personal token acts
    /// as its owner. Logins are compared ignoring case, as GitHub does.
    pub(crate) fn is_author(&self, author: Option<&Account>) -> bool {
        let Some(author) = author else {
            return false;
        };
        match self {
            Identity::App { slug, .. } => {
                author.kind == "Bot" && author.login.eq_ignore_ascii_case(&format!("{slug}[bot]"))
            }
            Identity::User { login } => author.login.eq_ignore_ascii_case(login),
        }
    }
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
    /// Returns whether `author`, the `user` of a comment or an issue, is
    /// the account these credentials act as (see [`Identity::is_author`]). The
    /// identity is fetched with [`GitHubClient::identity`] on the first
    /// call and kept for the client and its clones.
    // NOTE: if the App's slug changes while pitot runs, the kept bot login
    // is stale until a restart. A marker search then misses pitot's earlier
    // comments, so a report without a stored id posts a new comment.
    pub(crate) async fn is_own_account(
        &self,
        author: Option<&Account>,
    ) -> Result<bool, GitHubError> {
        let identity = self
            .shared
            .identity
            .get_or_try_init(|| self.identity())
            .await?;
        Ok(identity.is_author(author))
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_own_account_is_author() {
        let app = Identity::App {
            id: 1,
            slug: "pitot".to_owned(),
        };
        let token = Identity::User {
            login: "bench-user".to_owned(),
        };
        let cases = [
            ("App's bot user", &app, Some(("pitot[bot]", "Bot")), true),
            (
                "bot login in another case",
                &app,
                Some(("Pitot[bot]", "Bot")),
                true,
            ),
            (
                "another App's bot",
                &app,
                Some(("pitot-fork[bot]", "Bot")),
                false,
            ),
            (
                "person named like the App",
                &app,
                Some(("pitot", "User")),
                false,
            ),
            (
                "bot login on a person",
                &app,
                Some(("pitot[bot]", "User")),
                false,
            ),
            ("deleted account, App", &app, None, false),
            ("token's owner", &token, Some(("bench-user", "User")), true),
            (
                "owner in another case",
                &token,
                Some(("Bench-User", "User")),
                true,
            ),
            ("someone else", &token, Some(("octocat", "User")), false),
            ("deleted account, token", &token, None, false),
        ];

        for (case, identity, author, expected) in cases {
            let author = author.map(|(login, kind)| Account {
                login: login.to_owned(),
                kind: kind.to_owned(),
            });

            assert_eq!(identity.is_author(author.as_ref()), expected, "{case}");
        }
    }
}
