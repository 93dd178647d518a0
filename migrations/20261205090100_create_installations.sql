-- One row per GitHub App installation, kept up to date by `installation`
-- webhook events. The id is GitHub's own installation id, because every
-- event and API call names the installation by it; pitot never creates one.
CREATE TABLE installations (
    id bigint NOT NULL,
    -- The user or organization login the App is installed on; GitHub sends
    -- it with every installation event, but it is optional in the payload.
    account text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Set while GitHub has the installation suspended; the App may not act
    -- for it then.
    suspended_at timestamptz,
    -- Set when the App was uninstalled. The row stays, so deliveries and
    -- jobs that name the installation still resolve to an account.
    deleted_at timestamptz,
    CONSTRAINT installations_pkey PRIMARY KEY (id)
);
