-- Data retention (`[retention]` in the configuration) deletes the raw
-- reports of jobs that finished long ago. The job row stays, and this
-- column records when its reports went, so that the log and results file
-- routes can answer 410 Gone with the reason instead of "no agent
-- reported yet". NULL while the job's reports are stored (or it never had
-- any).
ALTER TABLE jobs ADD COLUMN reports_deleted_at timestamptz;

-- The pruning step looks for old deliveries by arrival time; without this
-- index each hourly round would read the whole table.
CREATE INDEX deliveries_received_at ON deliveries (received_at);
