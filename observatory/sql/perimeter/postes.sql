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
--                  counted in the salaried headcount at 31/12. Every job of staging.postes counts there,
--                  whatever its pay or age (a job with a missing pay or an impossible age is still a job);
--   age            AGE at 31/12, NULL when the extract's age was impossible (the job leaves the age
--                  indicators only: the age bands and the share of 50 and over);
--   eqtp           EQTP of every job (ETP = Σ EQTP, annex jobs included);
--   s_brut         gross pay of every job, NULL when missing or negative (masse salariale = Σ S_BRUT of the
--                  jobs whose pay is known);
--   dans_champ_salaire  the job is in the field of the pay indicators, INSEE's salary-statistics field (Dossier
--                  complet SAL G1/G2): a non-annex job that is neither an apprenticeship (TYP_EMPLOI 'A' or
--                  CONT_TRAV 'APP') nor an "other" job (TYP_EMPLOI 'X': trainees, subsidised jobs and
--                  unemployment benefits, which the BTS code does not tell apart);
--   s_brut_salaire, eqtp_salaire  gross pay and EQTP of the jobs of that field whose gross pay is known:
--                  mean gross annual pay per ETP = Σ s_brut_salaire / Σ eqtp_salaire;
--   s_net, nbheur  net pay and paid hours of the jobs of that field whose net pay is known and whose hours
--                  are positive, NULL for every other job: mean net hourly wage = Σ s_net / Σ nbheur and the
--                  women / men gap use them, so a job without hours (missing NBHEUR, zero hours) is out of
--                  both the numerator and the denominator.

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
        upper(trim(TYP_EMPLOI)) AS typ_emploi,
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
        filt = '1' AND coalesce(typ_emploi NOT IN ('A', 'X'), true) AND coalesce(contrat <> 'APP', true)
            AS dans_champ_salaire,
        eqtp,
        s_brut,
        s_net,
        nbheur
    FROM postes
),

pay_fields AS (
    SELECT
        * EXCLUDE (s_net, nbheur),
        CASE WHEN dans_champ_salaire AND s_brut IS NOT NULL THEN s_brut END AS s_brut_salaire,
        CASE WHEN dans_champ_salaire AND s_brut IS NOT NULL THEN eqtp END AS eqtp_salaire,
        CASE WHEN dans_champ_salaire AND s_net IS NOT NULL AND nbheur > 0 THEN s_net END AS s_net,
        CASE WHEN dans_champ_salaire AND s_net IS NOT NULL AND nbheur > 0 THEN nbheur END AS nbheur
    FROM caracteristiques
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
    p.dans_champ_salaire,
    p.eqtp,
    p.s_brut,
    p.s_brut_salaire,
    p.eqtp_salaire,
    p.s_net,
    p.nbheur
FROM pay_fields AS p
JOIN ess.etablissements AS e ON e.siret = p.siret;
