-- ind.barometre: the baromètre's indicator table, in the shape of the indicator table (products.md §2)
-- plus `trimestre`. From ind.barometre_cellules (whose `statut` already holds the primary and, when
-- applied, secondary secrecy):
--   effectif_fin_trimestre  headcount at the end of quarter T                    (nombre)
--   glissement_annuel       100 * (effectif(T) / effectif(T - 4) - 1)            (pourcent, 0–100 scale)
--   solde_annuel            effectif(T) - effectif(T - 4), net jobs over a year  (nombre)
-- A change is secret when either of its two cells is (primary if one of them is primary), "non
-- disponible" when T - 4 is outside the series, in Mayotte, or (for the rate) when the base is 0.
-- Changes are published from $q_detail on for breakdowns and for the whole series for totals.
-- Units and precision as in the indicator table (ref.indicateurs): a percentage is 0–100 with unite
-- 'pourcent', published to 0.1 point; headcounts and net jobs are whole. The data are raw (not seasonally
-- adjusted) and at constant perimeter (every quarter classified with today's SIRENE).
CREATE OR REPLACE TABLE ind.barometre AS
WITH
cellules AS (
    SELECT * FROM ind.barometre_cellules
),

rang_statut AS (   -- the most restrictive status wins when two cells make one figure
    SELECT * FROM (VALUES
        ('publie', 0), ('secret_secondaire', 1), ('secret_primaire', 2), ('non_disponible', 3)
    ) AS r (statut, rang)
),

effectifs AS (
    SELECT
        q, trimestre, niveau, code, libelle, champ, famille, secteur,
        'effectif_fin_trimestre' AS indicateur,
        CASE WHEN statut = 'publie' THEN CAST(value AS DOUBLE) END AS valeur,
        'nombre' AS unite,
        statut
    FROM cellules
),

paires AS (   -- each quarter with the same quarter a year before
    SELECT
        t.q, t.trimestre, t.niveau, t.code, t.libelle, t.champ, t.famille, t.secteur,
        t.value AS value_t,
        a.value AS value_a,
        CASE
            WHEN a.q IS NULL THEN 'non_disponible'
            WHEN ra.rang > rt.rang THEN a.statut
            ELSE t.statut
        END AS statut
    FROM cellules AS t
    JOIN rang_statut AS rt ON rt.statut = t.statut
    LEFT JOIN cellules AS a
        ON a.q = t.q - 4 AND a.niveau = t.niveau AND a.code = t.code AND a.champ = t.champ
        AND a.famille = t.famille AND a.secteur = t.secteur
    LEFT JOIN rang_statut AS ra ON ra.statut = a.statut
    WHERE t.q >= $q_detail OR (t.famille = 'toutes' AND t.secteur = 'tous')
),

evolutions AS (
    SELECT
        q, trimestre, niveau, code, libelle, champ, famille, secteur,
        'glissement_annuel' AS indicateur,
        CASE WHEN statut = 'publie' AND value_a > 0 THEN 100 * (value_t / value_a - 1) END AS valeur,
        'pourcent' AS unite,
        CASE WHEN statut = 'publie' AND NOT value_a > 0 THEN 'non_disponible' ELSE statut END AS statut
    FROM paires
    UNION ALL
    SELECT
        q, trimestre, niveau, code, libelle, champ, famille, secteur,
        'solde_annuel' AS indicateur,
        CASE WHEN statut = 'publie' THEN CAST(value_t - value_a AS DOUBLE) END AS valeur,
        'nombre' AS unite,
        statut
    FROM paires
)

SELECT
    CAST($millesime AS INTEGER) AS millesime,
    niveau,
    code,
    libelle,
    champ,
    famille,
    secteur,
    'toutes' AS tranche,
    'tous' AS sexe,
    'toutes' AS pcs,
    indicateur,
    round(CAST(valeur AS DOUBLE), CAST(p.decimales AS INTEGER)) + 0.0 AS valeur,   -- + 0.0: no -0
    unite,
    statut,
    CAST($perimetre_version AS VARCHAR) AS perimetre_version,
    trimestre
FROM (SELECT * FROM effectifs UNION ALL SELECT * FROM evolutions)
LEFT JOIN (SELECT indicateur, decimales FROM ref.indicateurs) AS p USING (indicateur)
ORDER BY
    q, CASE niveau WHEN 'france' THEN 0 WHEN 'region' THEN 1 ELSE 2 END, code,
    champ, famille, secteur, indicateur;
