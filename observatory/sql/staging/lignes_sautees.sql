-- The lines of a CSV extract that were skipped before each readable row: blank lines (found by the byte scan,
-- $blancs) and lines the CSV parser refused (_csv_rejets). A readable row of rank r (1-based, header excluded)
-- ranked after v is shifted by j: its line is r + 1 + j (observatory/ingest.py, _read_csv_table).
CREATE OR REPLACE TEMP TABLE _seuils AS
WITH sautees AS (
    SELECT ligne, row_number() OVER (ORDER BY ligne) AS j
    FROM (SELECT CAST(line AS BIGINT) AS ligne FROM _csv_rejets
          UNION SELECT unnest($blancs::BIGINT[]))
)  -- v = readable rows before the j-th skipped line: rows ranked after v are shifted by j
SELECT ligne - 1 - j AS v, max(j) AS j FROM sautees GROUP BY ALL;
