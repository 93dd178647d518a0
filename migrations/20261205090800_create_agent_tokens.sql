-- The tokens `pitot agent` processes authenticate with. Only the SHA-256 of
-- each token is stored: the tokens are 256-bit random values, so a fast
-- unsalted hash is enough to make a leaked table useless, and it lets a
-- request be checked with one index lookup.
CREATE TABLE agent_tokens (
    id integer GENERATED ALWAYS AS IDENTITY,
    -- A name for people, such as the benchmark machine's host name.
    name text NOT NULL,
    token_sha256 bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set when the token was revoked; it then authenticates nothing.
    revoked_at timestamptz,
    CONSTRAINT agent_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT agent_tokens_name_key UNIQUE (name),
    CONSTRAINT agent_tokens_token_sha256_key UNIQUE (token_sha256),
    CONSTRAINT agent_tokens_token_sha256_length CHECK (octet_length(token_sha256) = 32),
    CONSTRAINT agent_tokens_name_not_empty CHECK (name <> '')
);
