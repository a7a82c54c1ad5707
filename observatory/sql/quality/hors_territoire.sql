-- Establishments of ess.etablissements outside every territory (no département), by reason, from the
-- commune code of the extract (staging.etablissements.codeCommuneEtablissement; empty and '[ND]' are NULL
-- there). They are kept in the warehouse but counted in no territory (shared/domain/inputs.md §2).
--   categorie: etranger (99xxx), collectivite_outre_mer (98x), commune_absente (empty or not diffusible),
--              commune_inconnue (a code the current COG does not know)
--   etablissements, etablissements_ess (statistical perimeter), codes (distinct commune codes)

WITH
hors AS (
    SELECT
        e.siret,
        e.ess,
        nullif(trim(s.codeCommuneEtablissement), '') AS code
    FROM ess.etablissements AS e
    LEFT JOIN staging.etablissements AS s ON s.siret = e.siret
    WHERE e.code_departement IS NULL
),

classes AS (
    SELECT
        *,
        CASE
            WHEN code IS NULL THEN 'commune_absente'
            WHEN code LIKE '99%' THEN 'etranger'
            WHEN code LIKE '98%' THEN 'collectivite_outre_mer'
            ELSE 'commune_inconnue'
        END AS categorie
    FROM hors
),

categories (categorie, ordre, libelle, explication) AS (
    VALUES
        ('etranger', 1, 'Étranger',
         'Code commune 99xxx : établissement situé hors de France.'),
        ('collectivite_outre_mer', 2, 'Collectivité d''outre-mer',
         'Code commune 98x (Terres australes, Wallis-et-Futuna, Polynésie française, Nouvelle-Calédonie, Clipperton) : hors du champ des départements et régions.'),
        ('commune_absente', 3, 'Commune non renseignée',
         'Code commune vide ou non diffusible ([ND]) : l''établissement ne peut pas être localisé.'),
        ('commune_inconnue', 4, 'Commune inconnue du COG',
         'Code commune absent du Code officiel géographique en vigueur (commune fusionnée non reconnue, code erroné).')
),

comptes AS (
    SELECT
        categorie,
        count(*) AS etablissements,
        count(*) FILTER (WHERE ess) AS etablissements_ess,
        count(DISTINCT code) AS codes
    FROM classes
    GROUP BY categorie
)

SELECT
    k.categorie,
    k.libelle,
    k.explication,
    CAST(coalesce(c.etablissements, 0) AS BIGINT) AS etablissements,
    CAST(coalesce(c.etablissements_ess, 0) AS BIGINT) AS etablissements_ess,
    CAST(coalesce(c.codes, 0) AS BIGINT) AS codes
FROM categories AS k
LEFT JOIN comptes AS c ON c.categorie = k.categorie
ORDER BY k.ordre;
