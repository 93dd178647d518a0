-- The quarantines in force when the job's comment was written, as an
-- object from benchmark name to kind ("noisy" or "ignored"). The job's
-- charts are drawn with them, so the image URLs in that comment keep
-- working when a quarantine is set, lifted or expires later. Null until a
-- comment with a comparison is written; the charts then use the
-- quarantines in force.
ALTER TABLE jobs ADD COLUMN chart_quarantines jsonb;
