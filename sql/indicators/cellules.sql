-- ind.etab_sexe_pcs: each establishment's jobs by sex and PCS group, with its classification.
-- ind.cellules: one row per published (or protection-relevant) cell, with what secrecy needs.
--
-- A cell is territory (niveau, code) x champ x one crossing of the breakdowns:
--   none | famille | secteur | tranche | sexe | pcs | sexe x pcs | famille x sexe | secteur x sexe
-- (famille crossings only for the champs ess and ess_loi_2014). Champs: ensemble, public, prive
-- (NOT public), ess, prive_hors_ess (prive AND NOT ess), ess_loi_2014, plus two internal champs never
-- published but protected because they can be derived by subtraction: _sce (ess_loi_2014 AND NOT ess,
-- the sociétés commerciales de l'ESS) and _oth (prive_hors_ess AND NOT ess_loi_2014). Likewise two internal
-- territory levels: _geo_inconnu and _epci_inconnu (code '?'), establishments without a département / EPCI.
--
-- Per cell: FREQ (n_etab contributing establishments, n_ent enterprises), the quantities (exact DECIMAL
-- sums, so the result does not depend on the order of summation), for each quantity the number of
-- establishments with a non-zero contribution and the largest establishment contribution, the number of
-- non-annex jobs (n_salaries) and the largest single job's gross and net pay.
--
-- Definitions (INSEE, Base Tous salariés): effectif_31_12 = non-annex jobs held at 31/12; etp = Σ EQTP;
-- masse = Σ S_BRUT; s_net and nbheur over non-annex jobs (mean net hourly wage = Σ S_NET / Σ NBHEUR);
-- temps_partiel, cdd, age50 count jobs held at 31/12 (part-time, fixed-term contract, aged 50 or more).
-- age_moins_25, age_25_34, age_35_44, age_45_54, age_55_plus: jobs held at 31/12 by age band (AGE at 31/12);
-- the five bands add up to effectif.

CREATE OR REPLACE TABLE ind.etab_sexe_pcs AS      -- one row per establishment x sex x PCS group
WITH postes AS (
    SELECT
        siret,
        sexe,
        pcs,
        count(*) FILTER (WHERE NOT annexe)                                          AS n_salaries,
        sum(CASE WHEN present_31_12 THEN 1 ELSE 0 END)                              AS effectif,
        sum(CAST(eqtp AS DECIMAL(18, 4)))                                           AS etp,
        sum(CAST(s_brut AS DECIMAL(18, 2)))                                         AS masse,
        sum(CAST(s_net AS DECIMAL(18, 2))) FILTER (WHERE NOT annexe)                AS s_net,
        sum(CAST(nbheur AS DECIMAL(18, 2))) FILTER (WHERE NOT annexe)               AS nbheur,
        sum(CASE WHEN present_31_12 AND temps_partiel THEN 1 ELSE 0 END)            AS temps_partiel,
        sum(CASE WHEN present_31_12 AND cdd THEN 1 ELSE 0 END)                      AS cdd,
        sum(CASE WHEN present_31_12 AND age >= 50 THEN 1 ELSE 0 END)                AS age50,
        sum(CASE WHEN present_31_12 AND age < 25 THEN 1 ELSE 0 END)                AS age_moins_25,
        sum(CASE WHEN present_31_12 AND age BETWEEN 25 AND 34 THEN 1 ELSE 0 END)                AS age_25_34,
        sum(CASE WHEN present_31_12 AND age BETWEEN 35 AND 44 THEN 1 ELSE 0 END)                AS age_35_44,
        sum(CASE WHEN present_31_12 AND age BETWEEN 45 AND 54 THEN 1 ELSE 0 END)                AS age_45_54,
        sum(CASE WHEN present_31_12 AND age >= 55 THEN 1 ELSE 0 END)                AS age_55_plus,
        max(CAST(s_brut AS DECIMAL(18, 2)))                                         AS max_poste_brut,
        max(CAST(s_net AS DECIMAL(18, 2))) FILTER (WHERE NOT annexe)                AS max_poste_net
    FROM ess.postes
    GROUP BY siret, sexe, pcs
)
SELECT
    e.siret, e.siren, e.code_region, e.code_departement, e.code_epci,
    coalesce(e.secteur, 'NCL') AS secteur, e.tranche, e.famille_ess, e.ess, e.ess_loi_2014, e.public,
    p.sexe, p.pcs, p.n_salaries, p.effectif, p.etp, p.masse, p.s_net, p.nbheur,
    p.temps_partiel, p.cdd, p.age50, p.age_moins_25, p.age_25_34, p.age_35_44, p.age_45_54, p.age_55_plus,
    p.max_poste_brut, p.max_poste_net
FROM postes AS p
JOIN ess.etablissements_employeurs AS e USING (siret)
ORDER BY e.siret, p.sexe, p.pcs;

CREATE OR REPLACE TABLE ind.cellules AS
WITH etab AS (                      -- the employer establishments (with at least one job)
    SELECT DISTINCT siret, siren, code_region, code_departement, code_epci, ess, ess_loi_2014, public
    FROM ind.etab_sexe_pcs
),
champs AS (                         -- each establishment in every champ it belongs to
    SELECT siret, 'ensemble' AS champ FROM etab
    UNION ALL SELECT siret, 'public' FROM etab WHERE public
    UNION ALL SELECT siret, 'prive' FROM etab WHERE NOT public
    UNION ALL SELECT siret, 'ess' FROM etab WHERE ess
    UNION ALL SELECT siret, 'prive_hors_ess' FROM etab WHERE NOT public AND NOT ess
    UNION ALL SELECT siret, 'ess_loi_2014' FROM etab WHERE ess_loi_2014
    UNION ALL SELECT siret, '_sce' FROM etab WHERE ess_loi_2014 AND NOT ess
    UNION ALL SELECT siret, '_oth' FROM etab WHERE NOT public AND NOT ess AND NOT ess_loi_2014
),
territoires AS (                    -- each establishment in every territory it belongs to
    SELECT siret, 'france' AS niveau, 'FR' AS code FROM etab
    UNION ALL SELECT siret, 'region', code_region FROM etab WHERE code_region IS NOT NULL
    UNION ALL SELECT siret, 'departement', code_departement FROM etab WHERE code_departement IS NOT NULL
    UNION ALL SELECT siret, 'epci', code_epci FROM etab WHERE code_epci IS NOT NULL
    -- establishments without a département / an EPCI: never published, but France minus the published
    -- territories gives them away, so the secrecy protects them as territories of their own
    UNION ALL SELECT siret, '_geo_inconnu', '?' FROM etab WHERE code_departement IS NULL
    UNION ALL SELECT siret, '_epci_inconnu', '?' FROM etab WHERE code_epci IS NULL
),
base AS (
    SELECT
        t.niveau, t.code, c.champ, p.siret, p.siren,
        CASE WHEN c.champ IN ('ess', 'ess_loi_2014') THEN p.famille_ess END AS famille,
        p.secteur, p.tranche, p.sexe, p.pcs,
        p.n_salaries, p.effectif, p.etp, p.masse, p.s_net, p.nbheur,
        p.temps_partiel, p.cdd, p.age50, p.age_moins_25, p.age_25_34, p.age_35_44, p.age_45_54, p.age_55_plus,
        p.max_poste_brut, p.max_poste_net
    FROM ind.etab_sexe_pcs AS p
    JOIN champs AS c USING (siret)
    JOIN territoires AS t USING (siret)
),
contributions AS (                  -- each establishment's contribution to each cell
    SELECT
        niveau, code, champ, famille, secteur, tranche, sexe, pcs, siret, siren,
        GROUPING(famille) AS famille_non_croise,
        sum(n_salaries) AS n_salaries,
        sum(effectif) AS effectif,
        sum(etp) AS etp,
        sum(masse) AS masse,
        coalesce(sum(s_net), 0) AS s_net,
        coalesce(sum(nbheur), 0) AS nbheur,
        sum(temps_partiel) AS temps_partiel,
        sum(cdd) AS cdd,
        sum(age50) AS age50,
        sum(age_moins_25) AS age_moins_25,
        sum(age_25_34) AS age_25_34,
        sum(age_35_44) AS age_35_44,
        sum(age_45_54) AS age_45_54,
        sum(age_55_plus) AS age_55_plus,
        max(max_poste_brut) AS max_poste_brut,
        max(max_poste_net) AS max_poste_net
    FROM base
    GROUP BY GROUPING SETS (
        (niveau, code, champ, siret, siren),
        (niveau, code, champ, famille, siret, siren),
        (niveau, code, champ, secteur, siret, siren),
        (niveau, code, champ, tranche, siret, siren),
        (niveau, code, champ, sexe, siret, siren),
        (niveau, code, champ, pcs, siret, siren),
        (niveau, code, champ, sexe, pcs, siret, siren),
        (niveau, code, champ, famille, sexe, siret, siren),
        (niveau, code, champ, secteur, sexe, siret, siren)
    )
),
kept AS (                           -- famille crossings exist only within ess / ess_loi_2014
    SELECT * FROM contributions
    WHERE famille_non_croise = 1 OR famille IS NOT NULL
),
cellules AS (
    SELECT
        niveau, code, champ,
        coalesce(famille, 'toutes') AS famille,
        coalesce(secteur, 'tous') AS secteur,
        coalesce(tranche, 'toutes') AS tranche,
        coalesce(sexe, 'tous') AS sexe,
        coalesce(pcs, 'toutes') AS pcs,
        count(*) AS n_etab,
        count(DISTINCT siren) AS n_ent,
        sum(n_salaries) AS n_salaries,
        sum(effectif) AS effectif,     count(*) FILTER (WHERE effectif > 0) AS freq_effectif,   max(effectif) AS max_effectif,
        sum(etp) AS etp,               count(*) FILTER (WHERE etp > 0) AS freq_etp,             max(etp) AS max_etp,
        sum(masse) AS masse,           count(*) FILTER (WHERE masse > 0) AS freq_masse,         max(masse) AS max_masse,
        sum(s_net) AS s_net,           max(s_net) AS max_s_net,
        sum(nbheur) AS nbheur,         max(nbheur) AS max_nbheur,
        sum(temps_partiel) AS temps_partiel, count(*) FILTER (WHERE temps_partiel > 0) AS freq_temps_partiel,
        max(temps_partiel) AS max_temps_partiel,
        sum(cdd) AS cdd,               count(*) FILTER (WHERE cdd > 0) AS freq_cdd,             max(cdd) AS max_cdd,
        sum(age50) AS age50,           count(*) FILTER (WHERE age50 > 0) AS freq_age50,         max(age50) AS max_age50,
        sum(age_moins_25) AS age_moins_25, count(*) FILTER (WHERE age_moins_25 > 0) AS freq_age_moins_25, max(age_moins_25) AS max_age_moins_25,
        sum(age_25_34) AS age_25_34, count(*) FILTER (WHERE age_25_34 > 0) AS freq_age_25_34, max(age_25_34) AS max_age_25_34,
        sum(age_35_44) AS age_35_44, count(*) FILTER (WHERE age_35_44 > 0) AS freq_age_35_44, max(age_35_44) AS max_age_35_44,
        sum(age_45_54) AS age_45_54, count(*) FILTER (WHERE age_45_54 > 0) AS freq_age_45_54, max(age_45_54) AS max_age_45_54,
        sum(age_55_plus) AS age_55_plus, count(*) FILTER (WHERE age_55_plus > 0) AS freq_age_55_plus, max(age_55_plus) AS max_age_55_plus,
        coalesce(max(max_poste_brut), 0) AS max_poste_brut,
        coalesce(max(max_poste_net), 0) AS max_poste_net
    FROM kept
    GROUP BY ALL
)
SELECT * FROM cellules
ORDER BY niveau, code, champ, famille, secteur, tranche, sexe, pcs;
