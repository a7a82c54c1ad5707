-- staging.unites_legales: SIRENE legal units (StockUniteLegale), text codes, one row per SIREN.
-- Input: temporary _brut (text columns, _ligne, _complet) and _rejets (lines the CSV
-- reader refused), made by observatory.ingest. Output: the staging table and its quarantine rows.
-- '[ND]' (non-diffusible) and empty values are missing values, not errors.

DELETE FROM staging.quarantaine WHERE extrait = $extrait;

CREATE OR REPLACE TEMP TABLE _propre AS
SELECT
    $fichier AS _fichier,
    _ligne,
    _complet,
    siren,
    nullif(nullif(categorieJuridiqueUniteLegale, ''), '[ND]') AS categorieJuridiqueUniteLegale,
    nullif(nullif(activitePrincipaleUniteLegale, ''), '[ND]') AS activitePrincipaleUniteLegale,
    nullif(nullif(nomenclatureActivitePrincipaleUniteLegale, ''), '[ND]') AS nomenclatureActivitePrincipaleUniteLegale,
    nullif(nullif(economieSocialeSolidaireUniteLegale, ''), '[ND]') AS economieSocialeSolidaireUniteLegale,
    nullif(nullif(etatAdministratifUniteLegale, ''), '[ND]') AS etatAdministratifUniteLegale,
    nullif(nullif(denominationUniteLegale, ''), '[ND]') AS denominationUniteLegale
FROM _brut;

CREATE OR REPLACE TEMP TABLE _controles AS
WITH incomplet AS (         -- fewer fields than the header: the line was cut
    SELECT _ligne, $derniere_colonne AS colonne, NULL AS valeur, 'colonnes_manquantes' AS motif, 'rejete' AS action
    FROM _propre WHERE NOT _complet
), siren AS (
    SELECT _ligne, 'siren', siren, 'siren_invalide', 'rejete'
    FROM _propre WHERE NOT coalesce(regexp_full_match(siren, '[0-9]{9}'), false)
), naf AS (                 -- only NAF rév. 2 codes can be checked; older nomenclatures are kept as they are
    SELECT p._ligne, 'activitePrincipaleUniteLegale', p.activitePrincipaleUniteLegale, 'naf_inconnu', 'conserve'
    FROM _propre AS p
    LEFT JOIN ref.naf AS n ON n.sous_classe = p.activitePrincipaleUniteLegale
    WHERE p.nomenclatureActivitePrincipaleUniteLegale = 'NAFRev2'
      AND p.activitePrincipaleUniteLegale IS NOT NULL
      AND n.sous_classe IS NULL
), cj AS (
    SELECT _ligne, 'categorieJuridiqueUniteLegale', categorieJuridiqueUniteLegale, 'cj_invalide', 'conserve'
    FROM _propre
    WHERE categorieJuridiqueUniteLegale IS NOT NULL
      AND NOT regexp_full_match(categorieJuridiqueUniteLegale, '[0-9]{4}')
)
SELECT * FROM incomplet
UNION ALL SELECT * FROM siren
UNION ALL SELECT * FROM naf
UNION ALL SELECT * FROM cj;

-- Duplicates among otherwise valid rows: the first line wins.
INSERT INTO _controles
SELECT _ligne, 'siren', siren, 'doublon', 'rejete'
FROM (
    SELECT _ligne, siren, row_number() OVER (PARTITION BY siren ORDER BY _ligne) AS rang
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

CREATE OR REPLACE TABLE staging.unites_legales AS
SELECT
    siren,
    categorieJuridiqueUniteLegale,
    activitePrincipaleUniteLegale,
    nomenclatureActivitePrincipaleUniteLegale,
    economieSocialeSolidaireUniteLegale,
    etatAdministratifUniteLegale,
    denominationUniteLegale,
    _fichier,
    _ligne
FROM _propre
WHERE _ligne NOT IN (SELECT _ligne FROM _controles WHERE action = 'rejete')
ORDER BY _ligne;

DROP TABLE _propre;
DROP TABLE _controles;
