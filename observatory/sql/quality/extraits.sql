-- Rows of each extract file: read, loaded, rejected, kept and flagged. One row per (extrait, fichier).
-- Needs _qualite_extraits (libelles.sql) and _qualite_charges(extrait, fichier, ligne): the lines of the
-- staging tables (built by observatory.quality from the staging tables that exist).
--
-- A line is counted once whatever the number of its quarantine rows:
--   lignes_chargees        lines in staging
--   rejetees_lecture       lines rejected by ingestion (a 'rejete' row, not in staging)
--   lignes_lues            lignes_chargees + rejetees_lecture (blank lines are not rows)
--   rejetees_perimetre     lines in staging but rejected when attaching them to the perimeter
--                          (siren_inconnu, siret_inconnu: a 'rejete' row, in staging)
--   lignes_rejetees        rejetees_lecture + rejetees_perimetre: not counted in any figure
--   lignes_signalees       lines with only 'conserve' rows: counted, flagged
--   lignes_retenues        lignes_lues - lignes_rejetees
-- Rates are shares of lignes_lues (NULL when nothing was read).

WITH
charges AS (
    SELECT extrait, fichier, count(*) AS lignes_chargees
    FROM _qualite_charges
    GROUP BY extrait, fichier
),

lignes_en_quarantaine AS (
    SELECT
        extrait,
        fichier,
        ligne,
        bool_or(action = 'rejete') AS rejete,
        count(*) AS signalements
    FROM staging.quarantaine
    GROUP BY extrait, fichier, ligne
),

situees AS (
    SELECT q.*, c.ligne IS NOT NULL AS en_staging
    FROM lignes_en_quarantaine AS q
    LEFT JOIN _qualite_charges AS c
        ON c.extrait = q.extrait AND c.fichier = q.fichier AND c.ligne = q.ligne
),

quarantaine AS (
    SELECT
        extrait,
        fichier,
        count(*) FILTER (WHERE rejete AND NOT en_staging) AS rejetees_lecture,
        count(*) FILTER (WHERE rejete AND en_staging) AS rejetees_perimetre,
        count(*) FILTER (WHERE NOT rejete) AS lignes_signalees,
        sum(signalements) AS signalements
    FROM situees
    GROUP BY extrait, fichier
),

comptes AS (
    SELECT
        coalesce(c.extrait, q.extrait) AS extrait,
        coalesce(c.fichier, q.fichier) AS fichier,
        coalesce(c.lignes_chargees, 0) AS lignes_chargees,
        coalesce(q.rejetees_lecture, 0) AS rejetees_lecture,
        coalesce(q.rejetees_perimetre, 0) AS rejetees_perimetre,
        coalesce(q.lignes_signalees, 0) AS lignes_signalees,
        coalesce(q.signalements, 0) AS signalements
    FROM charges AS c
    FULL OUTER JOIN quarantaine AS q ON q.extrait = c.extrait AND q.fichier = c.fichier
)

SELECT
    c.extrait,
    coalesce(x.libelle, c.extrait) AS libelle_extrait,
    c.fichier,
    CAST(c.lignes_chargees + c.rejetees_lecture AS BIGINT) AS lignes_lues,
    CAST(c.lignes_chargees AS BIGINT) AS lignes_chargees,
    CAST(c.rejetees_lecture AS BIGINT) AS rejetees_lecture,
    CAST(c.rejetees_perimetre AS BIGINT) AS rejetees_perimetre,
    CAST(c.rejetees_lecture + c.rejetees_perimetre AS BIGINT) AS lignes_rejetees,
    CAST(c.lignes_signalees AS BIGINT) AS lignes_signalees,
    CAST(c.lignes_chargees - c.rejetees_perimetre AS BIGINT) AS lignes_retenues,
    CAST(c.signalements AS BIGINT) AS signalements,
    (c.rejetees_lecture + c.rejetees_perimetre) / nullif(c.lignes_chargees + c.rejetees_lecture, 0) AS taux_rejet,
    c.lignes_signalees / nullif(c.lignes_chargees + c.rejetees_lecture, 0) AS taux_signalement
FROM comptes AS c
LEFT JOIN _qualite_extraits AS x ON x.extrait = c.extrait
ORDER BY coalesce(x.ordre, 99), c.extrait, c.fichier;
