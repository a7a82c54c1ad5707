-- staging.postes: salaried jobs (Base Tous salariés / Flores "postes" layout), one row per job.
-- Input: temporary tables _brut and _rejets made by observatory.ingest. Numbers may use a decimal comma.
-- Rules (INSEE dictionary of the postes file): SEXE 1/2; AGE 14..80; FILT 1/2; DATDEB and DATFIN day of
-- year 1..360 with DATDEB <= DATFIN; S_BRUT and S_NET present and >= 0; EQTP in [0, 1.5]; NBHEUR >= 0.
-- A broken rule rejects the job (action 'rejete'), except where the job is still a job: an impossible AGE,
-- a missing, non-numeric or negative S_BRUT / S_NET or NBHEUR, and zero hours with a positive EQTP are
-- flagged (action 'conserve') and the job is kept with that value NULL (zero hours stay 0). Such a job
-- counts in the headcounts, ETP and establishment counts, and leaves only the indicators that need the
-- missing value (age, pay, hourly pay: sql/perimeter/postes.sql).

DELETE FROM staging.quarantaine WHERE extrait = $extrait;

CREATE OR REPLACE TEMP TABLE _propre AS
WITH texte AS (
    SELECT
        $fichier AS _fichier, _ligne, _complet,
        SIRET,
        nullif(trim(SEXE), '') AS SEXE,
        nullif(trim(AGE), '') AS AGE,
        nullif(trim(PCS), '') AS PCS,
        nullif(trim(CPFD), '') AS CPFD,
        nullif(trim(CONT_TRAV), '') AS CONT_TRAV,
        nullif(trim(TYP_EMPLOI), '') AS TYP_EMPLOI,
        nullif(trim(FILT), '') AS FILT,
        nullif(trim(DATDEB), '') AS DATDEB,
        nullif(trim(DATFIN), '') AS DATFIN,
        nullif(trim(DUREE), '') AS DUREE,
        nullif(trim(NBHEUR), '') AS NBHEUR,
        nullif(trim(EQTP), '') AS EQTP,
        nullif(trim(S_BRUT), '') AS S_BRUT,
        nullif(trim(S_NET), '') AS S_NET,
        nullif(trim(DEPT), '') AS DEPT,
        nullif(trim(REGT), '') AS REGT
    FROM _brut
)
SELECT
    *,
    try_cast(replace(AGE, ',', '.') AS DOUBLE) AS _age,
    try_cast(replace(DATDEB, ',', '.') AS DOUBLE) AS _datdeb,
    try_cast(replace(DATFIN, ',', '.') AS DOUBLE) AS _datfin,
    try_cast(replace(DUREE, ',', '.') AS DOUBLE) AS _duree,
    try_cast(replace(NBHEUR, ',', '.') AS DOUBLE) AS _nbheur,
    try_cast(replace(EQTP, ',', '.') AS DOUBLE) AS _eqtp,
    try_cast(replace(S_BRUT, ',', '.') AS DOUBLE) AS _s_brut,
    try_cast(replace(S_NET, ',', '.') AS DOUBLE) AS _s_net
FROM texte;

CREATE OR REPLACE TEMP TABLE _controles AS
WITH incomplet AS (         -- fewer fields than the header: the line was cut
    SELECT _ligne, $derniere_colonne AS colonne, NULL AS valeur, 'colonnes_manquantes' AS motif, 'rejete' AS action
    FROM _propre WHERE NOT _complet
), siret AS (
    SELECT _ligne, 'SIRET', SIRET, 'siret_invalide', 'rejete'
    FROM _propre WHERE NOT coalesce(regexp_full_match(SIRET, '[0-9]{14}'), false)
), sexe AS (
    SELECT _ligne, 'SEXE', SEXE, 'sexe_invalide', 'rejete'
    FROM _propre WHERE SEXE IS NULL OR SEXE NOT IN ('1', '2')
), age AS (
    SELECT _ligne, 'AGE', AGE, 'age_impossible', 'conserve'
    FROM _propre WHERE NOT coalesce(_age BETWEEN 14 AND 80 AND _age = round(_age), false)
), filt AS (
    SELECT _ligne, 'FILT', FILT, 'filt_invalide', 'rejete'
    FROM _propre WHERE FILT IS NULL OR FILT NOT IN ('1', '2')
), datdeb AS (
    SELECT _ligne, 'DATDEB', DATDEB, 'date_hors_plage', 'rejete'
    FROM _propre WHERE NOT coalesce(_datdeb BETWEEN 1 AND 360 AND _datdeb = round(_datdeb), false)
), datfin AS (
    SELECT _ligne, 'DATFIN', DATFIN, 'date_hors_plage', 'rejete'
    FROM _propre WHERE NOT coalesce(_datfin BETWEEN 1 AND 360 AND _datfin = round(_datfin), false)
), dates AS (
    SELECT _ligne, 'DATFIN', DATFIN, 'dates_incoherentes', 'rejete'
    FROM _propre
    WHERE _datdeb BETWEEN 1 AND 360 AND _datfin BETWEEN 1 AND 360 AND _datdeb > _datfin
), duree AS (
    SELECT _ligne, 'DUREE', DUREE, 'valeur_non_numerique', 'rejete'
    FROM _propre
    WHERE DUREE IS NOT NULL AND NOT coalesce(_duree BETWEEN 0 AND 366 AND _duree = round(_duree), false)
), nbheur AS (
    SELECT _ligne, 'NBHEUR', NBHEUR,
           CASE WHEN _nbheur < 0 THEN 'heures_negatives' ELSE 'valeur_non_numerique' END, 'conserve'
    FROM _propre WHERE NBHEUR IS NOT NULL AND (_nbheur IS NULL OR _nbheur < 0)
), heures_nulles AS (
    SELECT _ligne, 'NBHEUR', NBHEUR, 'heures_nulles', 'conserve'
    FROM _propre WHERE _nbheur = 0 AND _eqtp > 0 AND _eqtp <= 1.5
), eqtp AS (
    SELECT _ligne, 'EQTP', EQTP, 'eqtp_hors_plage', 'rejete'
    FROM _propre WHERE NOT coalesce(_eqtp BETWEEN 0 AND 1.5, false)
), salaires AS (
    SELECT _ligne, colonne, valeur,
           CASE WHEN valeur IS NULL THEN 'salaire_manquant'
                WHEN montant IS NULL THEN 'valeur_non_numerique'
                ELSE 'salaire_negatif' END,
           'conserve'
    FROM (
        SELECT _ligne, 'S_BRUT' AS colonne, S_BRUT AS valeur, _s_brut AS montant FROM _propre
        UNION ALL
        SELECT _ligne, 'S_NET', S_NET, _s_net FROM _propre
    )
    WHERE montant IS NULL OR montant < 0
)
SELECT * FROM incomplet
UNION ALL SELECT * FROM siret
UNION ALL SELECT * FROM sexe
UNION ALL SELECT * FROM age
UNION ALL SELECT * FROM filt
UNION ALL SELECT * FROM datdeb
UNION ALL SELECT * FROM datfin
UNION ALL SELECT * FROM dates
UNION ALL SELECT * FROM duree
UNION ALL SELECT * FROM nbheur
UNION ALL SELECT * FROM heures_nulles
UNION ALL SELECT * FROM eqtp
UNION ALL SELECT * FROM salaires;

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

CREATE OR REPLACE TABLE staging.postes AS
SELECT
    SIRET,
    SEXE,
    CASE WHEN _age BETWEEN 14 AND 80 AND _age = round(_age) THEN CAST(_age AS SMALLINT) END AS AGE,
    PCS,
    CPFD,
    CONT_TRAV,
    TYP_EMPLOI,
    FILT,
    CAST(_datdeb AS SMALLINT) AS DATDEB,
    CAST(_datfin AS SMALLINT) AS DATFIN,
    CAST(_duree AS SMALLINT) AS DUREE,
    CASE WHEN _nbheur >= 0 THEN _nbheur END AS NBHEUR,
    _eqtp AS EQTP,
    CASE WHEN _s_brut >= 0 THEN _s_brut END AS S_BRUT,
    CASE WHEN _s_net >= 0 THEN _s_net END AS S_NET,
    DEPT,
    REGT,
    _fichier,
    _ligne
FROM _propre;  -- in line order: _brut is (observatory.ingest), and a single-table SELECT keeps the order

-- Rejected rows out. Deleting keeps the order of the others; a filter joined to _controles, then an
-- ORDER BY _ligne, would sort every job again (14 s of 46 s at national scale).
DELETE FROM staging.postes WHERE _ligne IN (SELECT _ligne FROM _controles WHERE action = 'rejete');

DROP TABLE _propre;
DROP TABLE _controles;
