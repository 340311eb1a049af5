-- DuckDB queries over the merged JSON Lines of rdprobe probe runs or shards
-- (README, "Past one process"): duckdb -c ".read docs/recipes/fleet.sql" after
--   cat shard*.jsonl > fleet.jsonl
-- Each line is {"type": "target" | "summary", "data": ...}: the queries read the target lines.

CREATE OR REPLACE VIEW targets AS
  SELECT json->'$.data' AS r
  FROM read_ndjson_objects('fleet.jsonl', maximum_object_size = 67108864)
  WHERE json->>'$.type' = 'target';

-- Which servers fail, and where.
SELECT r->>'$.target' AS target, (r->>'$.port')::INT AS port,
       r->>'$.stopped_at' AS stopped_at, r->>'$.diagnosis.primary_finding' AS finding
FROM targets
WHERE r->>'$.stopped_at' IS NOT NULL
ORDER BY stopped_at, target, port;

-- Where targets stopped, by stage.
SELECT r->>'$.stopped_at' AS stopped_at, count(*) AS targets
FROM targets
WHERE r->>'$.stopped_at' IS NOT NULL
GROUP BY ALL ORDER BY targets DESC, stopped_at;

-- Findings by how many targets have them.
SELECT f->>'$.id' AS finding, max(f->>'$.severity') AS severity,
       count(DISTINCT (r->>'$.target') || ':' || (r->>'$.port')) AS targets
FROM targets, unnest(from_json(r->'$.findings', '["JSON"]')) AS t(f)
GROUP BY ALL ORDER BY targets DESC, finding;

-- The slowest stages: each stage's time from the end of the one before, per target.
WITH stages AS (
  SELECT r->>'$.target' AS target, s.unnest->>'$.name' AS stage,
         (s.unnest->>'$.elapsed_ms')::DOUBLE AS end_ms,
         generate_subscripts(from_json(r->'$.stages', '["JSON"]'), 1) AS i
  FROM targets, unnest(from_json(r->'$.stages', '["JSON"]')) AS s
)
SELECT target, stage, end_ms - coalesce(lag(end_ms) OVER (PARTITION BY target ORDER BY i), 0) AS ms
FROM stages
ORDER BY ms DESC
LIMIT 10;
