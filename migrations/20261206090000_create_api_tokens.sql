-- The tokens that let people and scripts change state through the JSON API:
-- quarantining a benchmark, triaging a detected regression, running a
-- job again. Reading the API needs no token. As with agent tokens,
-- only the SHA-256 of each token is stored.
CREATE TABLE api_tokens (
    id integer GENERATED ALWAYS AS IDENTITY,
    -- Who holds the token, such as a maintainer's GitHub login; recorded
    -- with each change the token makes.
    name text NOT NULL,
    token_sha256 bytea NOT NULL,
    -- What the token may do; see `ApiScope` in the server crate.
    scopes text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT api_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT api_tokens_name_key UNIQUE (name),
    CONSTRAINT api_tokens_token_sha256_key UNIQUE (token_sha256),
    CONSTRAINT api_tokens_token_sha256_length CHECK (octet_length(token_sha256) = 32),
    CONSTRAINT api_tokens_name_not_empty CHECK (name <> ''),
    CONSTRAINT api_tokens_scopes_not_empty CHECK (cardinality(scopes) > 0)
);
