-- Robot logs (docs/logs.md): the time span of each stream's stored records (the robots' stamps), so a query over a
-- time window reports the drop counters of the streams whose records fall in it — not of the streams the cloud
-- happened to receive in it (after an outage a window's records arrive hours later).
ALTER TABLE robot_log_streams ADD COLUMN first_ts timestamptz, ADD COLUMN last_ts timestamptz;
UPDATE robot_log_streams s SET first_ts = r.first_ts, last_ts = r.last_ts
    FROM (SELECT robot_id, stream, min(ts) AS first_ts, max(ts) AS last_ts FROM robot_logs GROUP BY robot_id, stream) r
    WHERE r.robot_id = s.robot_id AND r.stream = s.stream;
GRANT UPDATE (first_ts, last_ts) ON robot_log_streams TO sigma_device;
