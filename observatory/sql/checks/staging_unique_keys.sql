-- Duplicate identifiers left in staging after ingestion (should be none: later duplicates are quarantined).
WITH ul AS (
    SELECT 'staging.unites_legales' AS table_name, count(*) - count(DISTINCT siren) AS doublons
    FROM staging.unites_legales
),
et AS (
    SELECT 'staging.etablissements', count(*) - count(DISTINCT siret) FROM staging.etablissements
)
SELECT * FROM ul UNION ALL SELECT * FROM et
