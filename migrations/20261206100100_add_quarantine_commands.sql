-- `/pitot quarantine BENCHMARK noisy|ignored [until YYYY-MM-DD] REASON`
-- and `/pitot unquarantine BENCHMARK` are recorded like the other pull
-- request commands, so the worker sets the quarantine in the transaction
-- that records the command done, after the reaction is on GitHub.
ALTER TABLE pull_request_commands
    ADD COLUMN quarantine_benchmark text,
    ADD COLUMN quarantine_kind text,
    ADD COLUMN quarantine_reason text,
    -- The last day the quarantine holds, in UTC, as the command wrote it.
    ADD COLUMN quarantine_until date;

ALTER TABLE pull_request_commands DROP CONSTRAINT pull_request_commands_command_valid;
ALTER TABLE pull_request_commands ADD CONSTRAINT pull_request_commands_command_valid CHECK (
    command IN ('run', 'rerun', 'cancel', 'quarantine', 'unquarantine')
);

-- Both quarantine commands name a benchmark; only `quarantine` has a kind
-- and a reason.
ALTER TABLE pull_request_commands ADD CONSTRAINT pull_request_commands_quarantine_args CHECK (
    (command IN ('quarantine', 'unquarantine')) = (quarantine_benchmark IS NOT NULL)
    AND (command = 'quarantine') = (quarantine_kind IS NOT NULL AND quarantine_reason IS NOT NULL)
);
