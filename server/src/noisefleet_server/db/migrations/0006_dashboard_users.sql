-- The operator dashboard's own accounts (noisefleet-dashboard users …): users with a role, the
-- sites an operator or viewer may see, and sign-in sessions. Passwords are argon2id hashes;
-- session tokens are stored as SHA-256 hashes only (the browser session holds the token).
-- Failed sign-ins are counted per user: max_failed of them lock the account for lock_s.

CREATE TABLE noisefleet_store.dashboard_users (
    username       text PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._@-]{0,63}$'),
    password_hash  text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    role           text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    failed_count   integer NOT NULL DEFAULT 0 CHECK (failed_count >= 0),
    locked_until   timestamptz
);

-- Sites an operator or viewer may see (an admin sees every site; rows for an admin are ignored).
-- No foreign key to sites: a site may be assigned before it is registered.
CREATE TABLE noisefleet_store.dashboard_user_sites (
    username  text NOT NULL REFERENCES noisefleet_store.dashboard_users ON DELETE CASCADE,
    site      text NOT NULL,
    PRIMARY KEY (username, site)
);

CREATE TABLE noisefleet_store.dashboard_sessions (
    token_hash  bytea PRIMARY KEY,
    username    text NOT NULL REFERENCES noisefleet_store.dashboard_users ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboard_sessions_expires_at ON noisefleet_store.dashboard_sessions (expires_at);
