-- Share of rejected rows per extract: rejected / (loaded + rejected).
WITH loaded AS (
    SELECT 'unites_legales' AS extrait, count(*) AS n FROM staging.unites_legales
    UNION ALL SELECT 'etablissements', count(*) FROM staging.etablissements
    UNION ALL SELECT 'postes', count(*) FROM staging.postes
),
rejected AS (
    SELECT extrait, count(*) AS n FROM staging.quarantaine WHERE action = 'rejete' GROUP BY extrait
)
SELECT l.extrait, l.n AS charges, coalesce(r.n, 0) AS rejetes,
       coalesce(r.n, 0) / greatest(l.n + coalesce(r.n, 0), 1) AS taux
FROM loaded AS l LEFT JOIN rejected AS r USING (extrait)
ORDER BY l.extrait
