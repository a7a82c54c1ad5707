-- Legal units of ess.unites_legales by classification motif (sql/perimeter/unites_legales.sql), with the
-- motif's label and explanation. Every motif known to _qualite_motifs (etape 'classification') is listed,
-- with 0 when no unit has it, so that a report shows "0 catégorie juridique inconnue" explicitly; a motif
-- not in _qualite_motifs is listed under its code.
--   unites          legal units with this motif
--   unites_ess      of which in the statistical perimeter (ess)
--   unites_loi_2014 of which in the legal perimeter (ess_loi_2014)
--   part            share of all legal units

WITH
comptes AS (
    SELECT
        motif,
        count(*) AS unites,
        count(*) FILTER (WHERE ess) AS unites_ess,
        count(*) FILTER (WHERE ess_loi_2014) AS unites_loi_2014
    FROM ess.unites_legales
    GROUP BY motif
),

total AS (
    SELECT count(*) AS n FROM ess.unites_legales
),

motifs AS (
    SELECT motif, ordre, libelle, explication FROM _qualite_motifs WHERE etape = 'classification'
    UNION ALL
    SELECT c.motif, 99, coalesce(c.motif, '(vide)'), 'Motif sans description dans le rapport qualité.'
    FROM comptes AS c
    WHERE c.motif IS NULL OR c.motif NOT IN (SELECT motif FROM _qualite_motifs WHERE etape = 'classification')
)

SELECT
    m.motif,
    m.libelle,
    m.explication,
    CAST(coalesce(c.unites, 0) AS BIGINT) AS unites,
    CAST(coalesce(c.unites_ess, 0) AS BIGINT) AS unites_ess,
    CAST(coalesce(c.unites_loi_2014, 0) AS BIGINT) AS unites_loi_2014,
    coalesce(c.unites, 0) / nullif(t.n, 0) AS part
FROM motifs AS m
LEFT JOIN comptes AS c ON c.motif IS NOT DISTINCT FROM m.motif
CROSS JOIN total AS t
ORDER BY m.ordre, m.motif;
