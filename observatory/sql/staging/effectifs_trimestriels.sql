-- staging.effectifs_trimestriels: Urssaf-style quarterly headcounts, one row per establishment and quarter.
-- Input: temporary tables _brut and _rejets made by observatory.ingest. Numbers may use a decimal comma.
-- Rules: siret 14 digits; trimestre AAAA-Tn with n in 1..4; effectif_fin_trimestre a whole number >= 0;
-- masse_salariale >= 0 when given; one row per (siret, trimestre), the first line wins.

DELETE FROM staging.quarantaine WHERE extrait = $extrait;

CREATE OR REPLACE TEMP TABLE _propre AS
SELECT
    $fichier AS _fichier, _ligne, _complet,
    siret,
    trim(trimestre) AS trimestre,
    nullif(trim(effectif_fin_trimestre), '') AS effectif_fin_trimestre,
    nullif(trim(masse_salariale), '') AS masse_salariale,
    try_cast(replace(effectif_fin_trimestre, ',', '.') AS DOUBLE) AS _effectif,
    try_cast(replace(masse_salariale, ',', '.') AS DOUBLE) AS _masse
FROM _brut;

CREATE OR REPLACE TEMP TABLE _controles AS
WITH incomplet AS (         -- fewer fields than the header: the line was cut
    SELECT _ligne, $derniere_colonne AS colonne, NULL AS valeur, 'colonnes_manquantes' AS motif, 'rejete' AS action
    FROM _propre WHERE NOT _complet
), siret AS (
    SELECT _ligne, 'siret', siret, 'siret_invalide', 'rejete'
    FROM _propre WHERE NOT coalesce(regexp_full_match(siret, '[0-9]{14}'), false)
), trimestre AS (
    SELECT _ligne, 'trimestre', trimestre, 'trimestre_invalide', 'rejete'
    FROM _propre WHERE NOT coalesce(regexp_full_match(trimestre, '[0-9]{4}-T[1-4]'), false)
), effectif AS (
    SELECT _ligne, 'effectif_fin_trimestre', effectif_fin_trimestre,
           CASE WHEN _effectif < 0 THEN 'effectif_negatif' ELSE 'effectif_invalide' END, 'rejete'
    FROM _propre WHERE NOT coalesce(_effectif >= 0 AND _effectif = round(_effectif), false)
), masse AS (
    SELECT _ligne, 'masse_salariale', masse_salariale,
           CASE WHEN _masse < 0 THEN 'salaire_negatif' ELSE 'valeur_non_numerique' END, 'rejete'
    FROM _propre WHERE masse_salariale IS NOT NULL AND (_masse IS NULL OR _masse < 0)
)
SELECT * FROM incomplet
UNION ALL SELECT * FROM siret
UNION ALL SELECT * FROM trimestre
UNION ALL SELECT * FROM effectif
UNION ALL SELECT * FROM masse;

-- Duplicates among otherwise valid rows: the first line wins.
INSERT INTO _controles
SELECT _ligne, 'siret', siret, 'doublon', 'rejete'
FROM (
    SELECT _ligne, siret, row_number() OVER (PARTITION BY siret, trimestre ORDER BY _ligne) AS rang
    FROM _propre
    WHERE _ligne NOT IN (SELECT _ligne FROM _controles WHERE action = 'rejete')
)
WHERE rang > 1;

-- A cut line is reported once, as cut, not once per field it lacks.
DELETE FROM _controles
WHERE motif <> 'colonnes_manquantes' AND _ligne IN (SELECT _ligne FROM _propre WHERE NOT _complet);

INSERT INTO staging.quarantaine
SELECT $extrait, _fichier, ligne, colonne, valeur, motif, 'rejete' FROM _rejets
UNION ALL
SELECT $extrait, p._fichier, c._ligne, c.colonne, c.valeur, c.motif, c.action
FROM _controles AS c
JOIN _propre AS p USING (_ligne)
ORDER BY 3, 4;

CREATE OR REPLACE TABLE staging.effectifs_trimestriels AS
SELECT
    siret,
    trimestre,
    CAST(_effectif AS INTEGER) AS effectif_fin_trimestre,
    _masse AS masse_salariale,
    _fichier,
    _ligne
FROM _propre
WHERE _ligne NOT IN (SELECT _ligne FROM _controles WHERE action = 'rejete')
ORDER BY _ligne;

DROP TABLE _propre;
DROP TABLE _controles;
