-- Quarantine rows by extract, motif and action, with the motif's label and explanation.
-- Needs _qualite_extraits and _qualite_motifs (libelles.sql).
--   signalements  quarantine rows (a line may have several, one per broken rule)
--   lignes        distinct lines concerned

WITH comptes AS (
    SELECT
        extrait,
        motif,
        action,
        count(*) AS signalements,
        count(DISTINCT (fichier, ligne)) AS lignes
    FROM staging.quarantaine
    GROUP BY extrait, motif, action
)

SELECT
    c.extrait,
    coalesce(x.libelle, c.extrait) AS libelle_extrait,
    c.motif,
    coalesce(m.libelle, c.motif) AS libelle,
    coalesce(m.explication, 'Motif sans description dans le rapport qualité.') AS explication,
    coalesce(m.etape, 'autre') AS etape,
    c.action,
    CAST(c.signalements AS BIGINT) AS signalements,
    CAST(c.lignes AS BIGINT) AS lignes
FROM comptes AS c
LEFT JOIN _qualite_extraits AS x ON x.extrait = c.extrait
LEFT JOIN _qualite_motifs AS m ON m.motif = c.motif
ORDER BY coalesce(x.ordre, 99), c.extrait, c.signalements DESC, c.motif, c.action;
