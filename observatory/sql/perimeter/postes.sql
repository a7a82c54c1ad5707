-- ess.postes: one row per job (poste) of staging.postes held in an establishment of ess.etablissements,
-- with the establishment's territory, sector and perimeter. Jobs of an unknown SIRET are not here: they are
-- written to staging.quarantaine by quarantaine_postes.sql.
--
-- Job variables (INSEE Base Tous salariés dictionary, shared/domain/inputs.md §3):
--   sexe           'F' for SEXE 2, 'H' for SEXE 1, NULL otherwise;
--   pcs            group from the first character of the PCS-ESE code: 3 cadres, 4 prof_intermediaires,
--                  5 employes, 6 ouvriers, anything else (2 chefs d'entreprise, missing) autres;
--   temps_partiel  CPFD = 'P';   cdd  CONT_TRAV = 'CDD';   annexe  FILT = '2';
--   present_31_12  non-annex job (FILT = '1') paid up to the last day of the year (DATFIN = 360): the jobs
--                  counted in the salaried headcount at 31/12.

CREATE OR REPLACE TABLE ess.postes AS
WITH
postes AS (
    SELECT
        SIRET AS siret,
        trim(CAST(SEXE AS VARCHAR)) AS sexe_code,
        AGE AS age,
        upper(left(trim(PCS), 1)) AS pcs_groupe,
        upper(trim(CPFD)) AS cpfd,
        upper(trim(CONT_TRAV)) AS contrat,
        trim(CAST(FILT AS VARCHAR)) AS filt,
        TRY_CAST(DATFIN AS INTEGER) AS datfin,
        CAST(EQTP AS DOUBLE) AS eqtp,
        CAST(S_BRUT AS DOUBLE) AS s_brut,
        CAST(S_NET AS DOUBLE) AS s_net,
        CAST(NBHEUR AS DOUBLE) AS nbheur
    FROM staging.postes
),

caracteristiques AS (
    SELECT
        siret,
        CASE sexe_code WHEN '2' THEN 'F' WHEN '1' THEN 'H' END AS sexe,
        age,
        CASE pcs_groupe
            WHEN '3' THEN 'cadres'
            WHEN '4' THEN 'prof_intermediaires'
            WHEN '5' THEN 'employes'
            WHEN '6' THEN 'ouvriers'
            ELSE 'autres'
        END AS pcs,
        coalesce(cpfd = 'P', false) AS temps_partiel,
        coalesce(contrat = 'CDD', false) AS cdd,
        coalesce(filt = '2', false) AS annexe,
        coalesce(filt = '1' AND datfin = 360, false) AS present_31_12,
        eqtp,
        s_brut,
        s_net,
        nbheur
    FROM postes
)

SELECT
    p.siret,
    e.siren,
    e.code_departement,
    e.code_region,
    e.code_epci,
    e.secteur,
    e.famille_ess,
    e.ess,
    e.ess_loi_2014,
    e.public,
    p.sexe,
    p.age,
    p.pcs,
    p.temps_partiel,
    p.cdd,
    p.annexe,
    p.present_31_12,
    p.eqtp,
    p.s_brut,
    p.s_net,
    p.nbheur
FROM caracteristiques AS p
JOIN ess.etablissements AS e ON e.siret = p.siret;
