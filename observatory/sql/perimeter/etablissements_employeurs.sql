-- ess.etablissements_employeurs: establishments that employed at least one salaried job (annex jobs
-- included) during the year, with the INSEE volume measures (shared/domain/inputs.md §3):
--   effectif_31_12         salaried headcount at 31/12: number of non-annex jobs (FILT = '1') with
--                          DATFIN = 360 (ess.postes.present_31_12);
--   etp                    full-time equivalents: Σ EQTP over ALL jobs of the year, annex jobs included
--                          (INSEE states ETP = Σ EQTP without restriction; the non-annex restriction applies
--                          to the headcount and to the mean hourly wage only);
--   masse_salariale_brute  gross payroll: Σ S_BRUT over ALL jobs of the year, annex jobs included (the
--                          whole pay the employer paid out);
--   tranche                size band on effectif_31_12 (perimeter.md §7): '0' (employer during the year,
--                          nobody at 31/12), '1-9', '10-49', '50-249', '250+'.
-- Missing EQTP or S_BRUT count as 0 in the sums. Territory, sector and perimeter are the establishment's.
-- Only establishments located in France (a commune of a région, overseas départements included) are here:
-- those abroad (99xxx), in a collectivité d'outre-mer (98x) or without a known commune are outside every
-- territory, France included, so that France is the sum of its régions (they are counted in the
-- data-quality report, sql/quality/hors_territoire.sql).

CREATE OR REPLACE TABLE ess.etablissements_employeurs AS
WITH
volumes AS (
    SELECT
        siret,
        count(*) FILTER (WHERE present_31_12) AS effectif_31_12,
        coalesce(sum(eqtp), 0) AS etp,
        coalesce(sum(s_brut), 0) AS masse_salariale_brute
    FROM ess.postes
    GROUP BY siret
),

tranches AS (
    SELECT
        *,
        CASE
            WHEN effectif_31_12 = 0 THEN '0'
            WHEN effectif_31_12 < 10 THEN '1-9'
            WHEN effectif_31_12 < 50 THEN '10-49'
            WHEN effectif_31_12 < 250 THEN '50-249'
            ELSE '250+'
        END AS tranche
    FROM volumes
)

SELECT
    e.siret,
    e.siren,
    e.code_commune,
    e.code_departement,
    e.code_region,
    e.code_epci,
    e.secteur,
    e.famille_ess,
    e.ess,
    e.ess_loi_2014,
    e.public,
    t.effectif_31_12,
    t.etp,
    t.masse_salariale_brute,
    t.tranche
FROM tranches AS t
JOIN ess.etablissements AS e ON e.siret = t.siret
WHERE e.code_region IS NOT NULL
ORDER BY e.siret;
