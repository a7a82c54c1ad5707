-- staging.etablissements: SIRENE establishments (StockEtablissement, plain or géolocalisé), one row per SIRET.
-- Input: temporary tables _brut and _rejets made by observatory.ingest.
-- '[ND]' (non-diffusible) and empty values are missing values, not errors.
-- Communes: 98x (collectivités d'outre-mer, New Caledonia), 99xxx (abroad) and empty are outside the
-- territories (hors_territoire, kept); other codes unknown to the COG (ref.communes) are reported, kept.

DELETE FROM staging.quarantaine WHERE extrait = $extrait;

CREATE OR REPLACE TEMP TABLE _propre AS
SELECT
    $fichier AS _fichier,
    _ligne,
    _complet,
    siret,
    siren,
    nic,
    codeCommuneEtablissement AS _commune_brute,
    nullif(nullif(codeCommuneEtablissement, ''), '[ND]') AS codeCommuneEtablissement,
    nullif(nullif(activitePrincipaleEtablissement, ''), '[ND]') AS activitePrincipaleEtablissement,
    nullif(nullif(nomenclatureActivitePrincipaleEtablissement, ''), '[ND]') AS nomenclatureActivitePrincipaleEtablissement,
    nullif(nullif(trancheEffectifsEtablissement, ''), '[ND]') AS trancheEffectifsEtablissement,
    nullif(nullif(etatAdministratifEtablissement, ''), '[ND]') AS etatAdministratifEtablissement,
    nullif(nullif(lower(etablissementSiege), ''), '[nd]') AS _siege_brut
FROM _brut;

CREATE OR REPLACE TEMP TABLE _controles AS
WITH incomplet AS (         -- fewer fields than the header: the line was cut
    SELECT _ligne, $derniere_colonne AS colonne, NULL AS valeur, 'colonnes_manquantes' AS motif, 'rejete' AS action
    FROM _propre WHERE NOT _complet
), siret AS (
    SELECT _ligne, 'siret', siret, 'siret_invalide', 'rejete'
    FROM _propre WHERE NOT coalesce(regexp_full_match(siret, '[0-9]{14}'), false)
), siren AS (
    SELECT _ligne, 'siren', siren, 'siren_invalide', 'rejete'
    FROM _propre WHERE NOT coalesce(regexp_full_match(siren, '[0-9]{9}'), false)
), coherence AS (           -- siret = siren || nic
    SELECT _ligne, 'siret', siret, 'siret_incoherent', 'rejete'
    FROM _propre
    WHERE regexp_full_match(siret, '[0-9]{14}') AND regexp_full_match(siren, '[0-9]{9}')
      AND siret IS DISTINCT FROM siren || coalesce(nic, '')
), naf AS (                 -- only NAF rév. 2 codes can be checked; older nomenclatures are kept as they are
    SELECT p._ligne, 'activitePrincipaleEtablissement', p.activitePrincipaleEtablissement, 'naf_inconnu', 'conserve'
    FROM _propre AS p
    LEFT JOIN ref.naf AS n ON n.sous_classe = p.activitePrincipaleEtablissement
    WHERE p.nomenclatureActivitePrincipaleEtablissement = 'NAFRev2'
      AND p.activitePrincipaleEtablissement IS NOT NULL
      AND n.sous_classe IS NULL
), hors_territoire AS (
    SELECT _ligne, 'codeCommuneEtablissement', coalesce(_commune_brute, ''), 'hors_territoire', 'conserve'
    FROM _propre
    WHERE (codeCommuneEtablissement IS NULL AND _commune_brute IS DISTINCT FROM '[ND]')
       OR codeCommuneEtablissement LIKE '98%'
       OR codeCommuneEtablissement LIKE '99%'
), commune AS (
    SELECT p._ligne, 'codeCommuneEtablissement', p.codeCommuneEtablissement, 'commune_inconnue', 'conserve'
    FROM _propre AS p
    LEFT JOIN ref.communes AS c ON c.code_commune = p.codeCommuneEtablissement
    WHERE p.codeCommuneEtablissement IS NOT NULL
      AND p.codeCommuneEtablissement NOT LIKE '98%'
      AND p.codeCommuneEtablissement NOT LIKE '99%'
      AND c.code_commune IS NULL
), siege AS (
    SELECT _ligne, 'etablissementSiege', _siege_brut, 'booleen_invalide', 'conserve'
    FROM _propre WHERE _siege_brut NOT IN ('true', 'false')
)
SELECT * FROM incomplet
UNION ALL SELECT * FROM siret
UNION ALL SELECT * FROM siren
UNION ALL SELECT * FROM coherence
UNION ALL SELECT * FROM naf
UNION ALL SELECT * FROM hors_territoire
UNION ALL SELECT * FROM commune
UNION ALL SELECT * FROM siege;

-- Duplicates among otherwise valid rows: the first line wins.
INSERT INTO _controles
SELECT _ligne, 'siret', siret, 'doublon', 'rejete'
FROM (
    SELECT _ligne, siret, row_number() OVER (PARTITION BY siret ORDER BY _ligne) AS rang
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

CREATE OR REPLACE TABLE staging.etablissements AS
SELECT
    siret,
    siren,
    nic,
    codeCommuneEtablissement,
    activitePrincipaleEtablissement,
    nomenclatureActivitePrincipaleEtablissement,
    trancheEffectifsEtablissement,
    etatAdministratifEtablissement,
    CASE _siege_brut WHEN 'true' THEN true WHEN 'false' THEN false END AS etablissementSiege,
    _fichier,
    _ligne
FROM _propre
WHERE _ligne NOT IN (SELECT _ligne FROM _controles WHERE action = 'rejete')
ORDER BY _ligne;

DROP TABLE _propre;
DROP TABLE _controles;
