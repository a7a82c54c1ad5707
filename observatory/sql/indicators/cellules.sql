-- ind.etab_sexe_pcs: each establishment's jobs by sex and PCS group, with its classification.
-- ind.cellules: one row per published (or protection-relevant) cell, with what secrecy needs.
--
-- A cell is territory (niveau, code) x champ x one crossing of the breakdowns:
--   none | famille | secteur | tranche | sexe | pcs | sexe x pcs | famille x sexe | secteur x sexe
-- (famille crossings only for the champs ess and ess_loi_2014). Champs: ensemble, public, prive
-- (NOT public), ess, prive_hors_ess (prive AND NOT ess), ess_loi_2014, plus two internal champs never
-- published but protected because they can be derived by subtraction: _sce (ess_loi_2014 AND NOT ess,
-- the sociétés commerciales de l'ESS) and _oth (prive_hors_ess AND NOT ess_loi_2014). Likewise two internal
-- territory levels: _geo_inconnu and _epci_inconnu (code '?'), establishments without a département / EPCI,
-- and the geographic atoms _piece (code '<département>|<EPCI>', '?' when unknown: the intersections of
-- départements and EPCIs, observatory/reference/geography.py): every published territory is a union of atoms,
-- which ties the EPCIs to their départements. The EPCIs, _epci_inconnu and the atoms carry five crossings
-- only, none, famille, secteur, tranche and sexe (the last three for the ESS alone): an EPCI is published for
-- its champs, families, and its ESS by sector, by size band and by sexe (its portrait's figures), so no other
-- crossing of theirs is published or derivable (the other champs by sector would cost most of the table).
--
-- Per cell: FREQ (n_etab contributing establishments, n_ent enterprises — NULL in the sexe and pcs crossings,
-- where no enterprise count is published; freq_entreprises, the enterprises up to 3, in every crossing), the
-- quantities (exact DECIMAL sums, so the result does not depend on the order of summation), the largest
-- establishment contribution to each quantity (max_*) and, except for s_net and nbheur, the number of
-- establishments with a non-zero contribution (freq_*; freq_salaire and freq_horaire: those with pay in the
-- pay field, masse_salaire > 0, and with hours in the hourly-pay field, nbheur > 0 — the contributors to the
-- mean pay figures), the number of non-annex jobs (n_salaries) and the largest single job's gross and net
-- pay.
--
-- The breakdown values are never NULL (staging rejects any other SEXE; the perimeter sets tranche, pcs and
-- famille; secteur falls back to NCL below): a NULL would be folded into the breakdown's total.
--
-- Definitions (INSEE, Base Tous salariés): effectif_31_12 = non-annex jobs held at 31/12; etp = Σ EQTP;
-- masse = Σ S_BRUT (jobs whose pay is known); masse_salaire and etp_salaire: Σ S_BRUT and Σ EQTP over the
-- jobs of the pay field whose gross pay is known (mean gross pay per ETP = masse_salaire / etp_salaire);
-- s_net and nbheur over the jobs of the hourly-pay field (mean net hourly wage = Σ S_NET / Σ NBHEUR): the
-- fields are defined once, per job, in sql/perimeter/postes.sql (apprentices, trainees, annex jobs, jobs
-- without hours or pay are out of them; they stay in effectif, etp and the establishment counts).
-- temps_partiel, cdd, age50 count jobs held at 31/12 (part-time, fixed-term contract, aged 50 or more).
-- age_moins_25, age_25_34, age_35_44, age_45_54, age_55_plus: jobs held at 31/12 by age band (AGE at 31/12);
-- age_inconnu: jobs held at 31/12 whose age was impossible in the extract (never published, but effectif
-- minus the published bands gives it away, so the secrecy protects it as a band); the six add up to
-- effectif. The share of 50 and over is age50 over the jobs of known age (effectif - age_inconnu).
--
-- Enterprises by size band (tranche crossing): an enterprise is counted once per territory, in the band of
-- its largest employer establishment in that territory (the establishment bands of perimeter.md §7; the
-- enterprise's own headcount is not used, so that its cell is always one where it has an establishment):
-- the bands add up to the territory's enterprise count.

CREATE OR REPLACE TABLE ind.etab_sexe_pcs AS      -- one row per establishment x sex x PCS group
WITH postes AS (
    SELECT
        siret,
        sexe,
        pcs,
        count(*) FILTER (WHERE NOT annexe)                                          AS n_salaries,
        count(*) FILTER (WHERE present_31_12)                                       AS effectif,
        sum(CAST(eqtp AS DECIMAL(18, 4)))                                           AS etp,
        sum(CAST(s_brut AS DECIMAL(18, 2)))                                         AS masse,
        sum(CAST(s_brut_salaire AS DECIMAL(18, 2)))                                 AS masse_salaire,
        sum(CAST(eqtp_salaire AS DECIMAL(18, 4)))                                   AS etp_salaire,
        sum(CAST(s_net AS DECIMAL(18, 2))) FILTER (WHERE NOT annexe)                AS s_net,
        sum(CAST(nbheur AS DECIMAL(18, 2))) FILTER (WHERE NOT annexe)               AS nbheur,
        count(*) FILTER (WHERE present_31_12 AND temps_partiel)                     AS temps_partiel,
        count(*) FILTER (WHERE present_31_12 AND cdd)                               AS cdd,
        count(*) FILTER (WHERE present_31_12 AND age >= 50)                         AS age50,
        count(*) FILTER (WHERE present_31_12 AND age < 25)                          AS age_moins_25,
        count(*) FILTER (WHERE present_31_12 AND age BETWEEN 25 AND 34)             AS age_25_34,
        count(*) FILTER (WHERE present_31_12 AND age BETWEEN 35 AND 44)             AS age_35_44,
        count(*) FILTER (WHERE present_31_12 AND age BETWEEN 45 AND 54)             AS age_45_54,
        count(*) FILTER (WHERE present_31_12 AND age >= 55)                         AS age_55_plus,
        count(*) FILTER (WHERE present_31_12 AND age IS NULL)                       AS age_inconnu,
        max(CAST(s_brut AS DECIMAL(18, 2)))                                         AS max_poste_brut,
        max(CAST(s_net AS DECIMAL(18, 2))) FILTER (WHERE NOT annexe)                AS max_poste_net
    FROM ess.postes
    GROUP BY siret, sexe, pcs
)
-- sums back to 64-bit types (an establishment's figures fit; wider types would be carried by every later
-- aggregate); sid: an integer key for the establishment, cheaper to group and join on than the SIRET
SELECT
    e.sid, e.siret, e.siren, e.code_region, e.code_departement, e.code_epci,
    coalesce(e.secteur, 'NCL') AS secteur, e.tranche, e.effectif_31_12 AS effectif_etab, e.famille_ess, e.ess, e.ess_loi_2014, e.public,
    p.sexe, p.pcs, p.n_salaries, p.effectif,
    CAST(p.etp AS DECIMAL(18, 4)) AS etp, CAST(p.masse AS DECIMAL(18, 2)) AS masse,
    CAST(p.masse_salaire AS DECIMAL(18, 2)) AS masse_salaire, CAST(p.etp_salaire AS DECIMAL(18, 4)) AS etp_salaire,
    CAST(p.s_net AS DECIMAL(18, 2)) AS s_net, CAST(p.nbheur AS DECIMAL(18, 2)) AS nbheur,
    p.temps_partiel, p.cdd, p.age50, p.age_moins_25, p.age_25_34, p.age_35_44, p.age_45_54, p.age_55_plus,
    p.age_inconnu, p.max_poste_brut, p.max_poste_net
FROM postes AS p
JOIN (SELECT row_number() OVER () AS sid, * FROM ess.etablissements_employeurs) AS e USING (siret);

-- ind.cellules is built in steps so that its cost grows with the data, not with data x cells:
-- 1. each establishment's contribution to each crossing: its own row for famille / secteur / tranche / none
--    (attributes of the establishment), its rows by sexe, by pcs, and by sexe x pcs (ind.etab_sexe_pcs);
-- 2. summed per "grain" — région x département x EPCI x leaf x crossing value, the leaf being the
--    combination (public, ess, ess_loi_2014) of the establishment — then each territory level is the sum of
--    its grains (sums and counts add up, maxima take the max);
-- 3. enterprises apart: a SIREN spans grains, so they are counted per territory as distinct SIRENs, on the
--    crossings without sexe / pcs only; a SIREN with one employer establishment is counted by count(*), the
--    others by count(DISTINCT) on an integer id (the hash only holds the SIRENs that need it). For the
--    frequency rule, every crossing also carries freq_entreprises, the enterprises counted up to 3: each
--    grain keeps its mono-establishment count, the two smallest distinct ids of its other SIRENs and the
--    largest, which add up over grains and leaves (the two smallest of a union are among the parts' two
--    smallest; a third distinct id exists exactly when the largest is above the second smallest);
-- 4. each champ is a union of leaves (its predicate evaluated on the leaf's flags). A SIREN with
--    establishments in several leaves of one champ would be counted once per leaf: the surplus removes the
--    extra counts (none when the flags are the legal unit's).
-- Crossing codes (croisement): bit 16 famille, 8 secteur, 4 tranche, 2 sexe, 1 pcs set when NOT crossed.
-- The territory levels of an establishment (or a grain): France, its région, département and EPCI, and the
-- unknown territories '?' of those without a département / an EPCI (never published, but France minus the
-- published territories gives them away, so the secrecy protects them as territories of their own).
CREATE OR REPLACE TEMP MACRO dans_territoire(niveau, reg, dep, epci) AS
    CASE niveau
        WHEN 'france' THEN true
        WHEN 'region' THEN reg IS NOT NULL
        WHEN 'departement' THEN dep IS NOT NULL
        WHEN 'epci' THEN epci IS NOT NULL
        WHEN '_piece' THEN true
        WHEN '_geo_inconnu' THEN dep IS NULL
        ELSE epci IS NULL
    END;

CREATE OR REPLACE TEMP MACRO territoire_code(niveau, reg, dep, epci) AS
    CASE niveau WHEN 'france' THEN 'FR' WHEN 'region' THEN reg WHEN 'departement' THEN dep
         WHEN 'epci' THEN epci WHEN '_piece' THEN coalesce(dep, '?') || '|' || coalesce(epci, '?')
         ELSE '?' END;

-- The EPCI-like levels (the EPCIs, the unknown EPCI, the atoms), and whether a territory level carries a
-- crossing: those only none (31), famille (15), secteur (23), tranche (27) and sexe (29; those three for the
-- ESS only, step 4).
CREATE OR REPLACE TEMP MACRO niveau_epci(niveau) AS niveau IN ('epci', '_epci_inconnu', '_piece');
CREATE OR REPLACE TEMP MACRO croisement_du_niveau(niveau, croisement) AS
    NOT niveau_epci(niveau) OR croisement IN (31, 15, 23, 27, 29);

-- The two smallest distinct values of a column of small lists (an enterprise summary of step 3).
CREATE OR REPLACE TEMP MACRO deux_plus_petits(x) AS
    list_slice(list_sort(list_distinct(flatten(list(x) FILTER (WHERE x IS NOT NULL)))), 1, 2);

CREATE OR REPLACE TABLE ind.cellules AS
WITH par_etab AS (                  -- per establishment (1), by sexe (2), by pcs (3), by sexe x pcs (4)
    SELECT sid, sexe, pcs,
           CASE grouping(sexe, pcs) WHEN 3 THEN 1 WHEN 1 THEN 2 ELSE 3 END AS niveau_detail,
           sum(n_salaries) AS n_salaries, sum(effectif) AS effectif, sum(etp) AS etp, sum(masse) AS masse,
           sum(masse_salaire) AS masse_salaire, sum(etp_salaire) AS etp_salaire,
           sum(s_net) AS s_net, sum(nbheur) AS nbheur, sum(temps_partiel) AS temps_partiel, sum(cdd) AS cdd,
           sum(age50) AS age50, sum(age_moins_25) AS age_moins_25, sum(age_25_34) AS age_25_34, sum(age_35_44) AS age_35_44, sum(age_45_54) AS age_45_54, sum(age_55_plus) AS age_55_plus,
           sum(age_inconnu) AS age_inconnu,
           max(max_poste_brut) AS max_poste_brut, max(max_poste_net) AS max_poste_net
    FROM ind.etab_sexe_pcs
    GROUP BY GROUPING SETS ((sid), (sid, sexe), (sid, pcs))
    UNION ALL
    SELECT sid, sexe, pcs, 4,
           n_salaries, effectif, etp, masse, masse_salaire, etp_salaire, s_net, nbheur, temps_partiel, cdd, age50,
           age_moins_25, age_25_34, age_35_44, age_45_54, age_55_plus, age_inconnu,
           max_poste_brut, max_poste_net
    FROM ind.etab_sexe_pcs
),
etab AS (
    SELECT *,
           dense_rank() OVER (ORDER BY siren) AS siren_id,
           count(*) OVER (PARTITION BY siren) = 1 AS mono   -- the SIREN's only employer establishment
    FROM (
        SELECT DISTINCT sid, siren, code_region, code_departement, code_epci, public, ess, ess_loi_2014,
               famille_ess, secteur, tranche, effectif_etab,
               100 * coalesce(CAST(public AS INTEGER), 9) + 10 * coalesce(CAST(ess AS INTEGER), 9)
                   + coalesce(CAST(ess_loi_2014 AS INTEGER), 9) AS feuille
        FROM ind.etab_sexe_pcs
    )
),
croisements(niveau_detail, croisement) AS (  -- which crossings each detail level feeds
    VALUES (1, 31), (1, 15), (1, 23), (1, 27), (2, 29), (2, 13), (2, 21), (3, 30), (4, 28)
),
contributions AS (                  -- each establishment's contribution to each crossing (its EPCI only in
    SELECT                          -- the crossings of the EPCI-like levels: the others group by département)
        e.code_region, e.code_departement,
        CASE WHEN croisement_du_niveau('epci', c.croisement) THEN e.code_epci END AS code_epci,
        e.feuille, c.croisement,
        CASE WHEN (c.croisement & 16) = 0 THEN e.famille_ess END AS famille,
        CASE WHEN (c.croisement & 8) = 0 THEN e.secteur END AS secteur,
        CASE WHEN (c.croisement & 4) = 0 THEN e.tranche END AS tranche,
        p.sexe, p.pcs,
        p.n_salaries, p.effectif, p.etp, p.masse, coalesce(p.masse_salaire, 0) AS masse_salaire,
        coalesce(p.etp_salaire, 0) AS etp_salaire, coalesce(p.s_net, 0) AS s_net,
        coalesce(p.nbheur, 0) AS nbheur, p.temps_partiel, p.cdd, p.age50,
        p.age_moins_25, p.age_25_34, p.age_35_44, p.age_45_54, p.age_55_plus, p.age_inconnu,
        p.max_poste_brut, p.max_poste_net, e.siren_id, e.mono
    FROM par_etab AS p
    JOIN etab AS e USING (sid)
    JOIN croisements AS c USING (niveau_detail)
),
grains AS (                         -- per région x département x EPCI x leaf x crossing value
    SELECT
        code_region, code_departement, code_epci, feuille, croisement, famille, secteur, tranche, sexe, pcs,
        count(*) AS n_etab,
        sum(n_salaries) AS n_salaries,
        sum(effectif) AS effectif,     count(*) FILTER (WHERE effectif > 0) AS freq_effectif,   max(effectif) AS max_effectif,
        sum(etp) AS etp,               count(*) FILTER (WHERE etp > 0) AS freq_etp,             max(etp) AS max_etp,
        sum(masse) AS masse,           count(*) FILTER (WHERE masse > 0) AS freq_masse,         max(masse) AS max_masse,
        sum(masse_salaire) AS masse_salaire, sum(etp_salaire) AS etp_salaire,
        count(*) FILTER (WHERE masse_salaire > 0) AS freq_salaire,
        sum(s_net) AS s_net,           max(s_net) AS max_s_net,
        sum(nbheur) AS nbheur,         max(nbheur) AS max_nbheur,
        count(*) FILTER (WHERE nbheur > 0) AS freq_horaire,
        sum(temps_partiel) AS temps_partiel, count(*) FILTER (WHERE temps_partiel > 0) AS freq_temps_partiel,
        max(temps_partiel) AS max_temps_partiel,
        sum(cdd) AS cdd,               count(*) FILTER (WHERE cdd > 0) AS freq_cdd,             max(cdd) AS max_cdd,
        sum(age50) AS age50,           count(*) FILTER (WHERE age50 > 0) AS freq_age50,         max(age50) AS max_age50,
        sum(age_moins_25) AS age_moins_25, count(*) FILTER (WHERE age_moins_25 > 0) AS freq_age_moins_25, max(age_moins_25) AS max_age_moins_25,
        sum(age_25_34) AS age_25_34, count(*) FILTER (WHERE age_25_34 > 0) AS freq_age_25_34, max(age_25_34) AS max_age_25_34,
        sum(age_35_44) AS age_35_44, count(*) FILTER (WHERE age_35_44 > 0) AS freq_age_35_44, max(age_35_44) AS max_age_35_44,
        sum(age_45_54) AS age_45_54, count(*) FILTER (WHERE age_45_54 > 0) AS freq_age_45_54, max(age_45_54) AS max_age_45_54,
        sum(age_55_plus) AS age_55_plus, count(*) FILTER (WHERE age_55_plus > 0) AS freq_age_55_plus, max(age_55_plus) AS max_age_55_plus,
        sum(age_inconnu) AS age_inconnu, count(*) FILTER (WHERE age_inconnu > 0) AS freq_age_inconnu, max(age_inconnu) AS max_age_inconnu,
        max(max_poste_brut) AS max_poste_brut,
        max(max_poste_net) AS max_poste_net,
        -- enterprises, as much as the frequency rule needs (step 3 below): mono-establishment ones counted,
        -- the others as their two smallest distinct ids and their largest
        count(*) FILTER (WHERE mono) AS ent_mono,
        min(DISTINCT siren_id, 2) FILTER (WHERE NOT mono) AS ent_bas,
        max(siren_id) FILTER (WHERE NOT mono) AS ent_haut
    FROM contributions
    GROUP BY ALL
),
niveaux(niveau) AS (
    VALUES ('france'), ('region'), ('departement'), ('epci'), ('_geo_inconnu'), ('_epci_inconnu'), ('_piece')
),
territoires AS (                    -- each grain in every territory it belongs to, in the crossings of
                                    -- that level (croisement_du_niveau)
    SELECT t.niveau, territoire_code(t.niveau, g.code_region, g.code_departement, g.code_epci) AS code, g.*
    FROM grains AS g
    JOIN niveaux AS t ON dans_territoire(t.niveau, g.code_region, g.code_departement, g.code_epci)
        AND croisement_du_niveau(t.niveau, g.croisement)
),
etab_territoire AS (                -- each establishment in every territory it belongs to, and whether its
    SELECT                          -- band is that of its enterprise's largest establishment there
        *,
        mono OR tranche = arg_max(tranche, effectif_etab) OVER (PARTITION BY niveau, code, siren_id, feuille)
            AS plus_grand
    FROM (
        SELECT e.*, t.niveau, territoire_code(t.niveau, e.code_region, e.code_departement, e.code_epci) AS code
        FROM etab AS e
        JOIN niveaux AS t ON dans_territoire(t.niveau, e.code_region, e.code_departement, e.code_epci)
    )
),
entreprises AS (                    -- per territory x leaf x crossing value without sexe / pcs
    SELECT
        e.niveau, e.code, e.feuille, c.croisement,
        CASE WHEN (c.croisement & 16) = 0 THEN e.famille_ess END AS famille,
        CASE WHEN (c.croisement & 8) = 0 THEN e.secteur END AS secteur,
        CASE WHEN (c.croisement & 4) = 0 THEN e.tranche END AS tranche,
        count(*) FILTER (WHERE e.mono) + count(DISTINCT CASE WHEN NOT e.mono THEN e.siren_id END) AS n_ent
    FROM etab_territoire AS e
    JOIN croisements AS c ON c.niveau_detail = 1
    WHERE ((c.croisement & 4) = 4 OR e.plus_grand)   -- by size band: once, in its largest establishment's band
      AND croisement_du_niveau(e.niveau, c.croisement)
    GROUP BY ALL
),
feuilles AS (                       -- per territory x leaf x crossing value
    SELECT
        f.*,
        CASE WHEN (f.croisement & 3) = 3 THEN coalesce(n.n_ent, 0) END AS n_ent  -- 0: none has its band here
    FROM (
        SELECT
            niveau, code, feuille, croisement, famille, secteur, tranche, sexe, pcs,
            sum(n_etab) AS n_etab,
            sum(n_salaries) AS n_salaries,
            sum(effectif) AS effectif,     sum(freq_effectif) AS freq_effectif,   max(max_effectif) AS max_effectif,
            sum(etp) AS etp,               sum(freq_etp) AS freq_etp,             max(max_etp) AS max_etp,
            sum(masse) AS masse,           sum(freq_masse) AS freq_masse,         max(max_masse) AS max_masse,
            sum(masse_salaire) AS masse_salaire, sum(etp_salaire) AS etp_salaire,
            sum(freq_salaire) AS freq_salaire,
            sum(s_net) AS s_net,           max(max_s_net) AS max_s_net,
            sum(nbheur) AS nbheur,         max(max_nbheur) AS max_nbheur,
            sum(freq_horaire) AS freq_horaire,
            sum(temps_partiel) AS temps_partiel, sum(freq_temps_partiel) AS freq_temps_partiel,
            max(max_temps_partiel) AS max_temps_partiel,
            sum(cdd) AS cdd,               sum(freq_cdd) AS freq_cdd,             max(max_cdd) AS max_cdd,
            sum(age50) AS age50,           sum(freq_age50) AS freq_age50,         max(max_age50) AS max_age50,
            sum(age_moins_25) AS age_moins_25, sum(freq_age_moins_25) AS freq_age_moins_25, max(max_age_moins_25) AS max_age_moins_25,
            sum(age_25_34) AS age_25_34, sum(freq_age_25_34) AS freq_age_25_34, max(max_age_25_34) AS max_age_25_34,
            sum(age_35_44) AS age_35_44, sum(freq_age_35_44) AS freq_age_35_44, max(max_age_35_44) AS max_age_35_44,
            sum(age_45_54) AS age_45_54, sum(freq_age_45_54) AS freq_age_45_54, max(max_age_45_54) AS max_age_45_54,
            sum(age_55_plus) AS age_55_plus, sum(freq_age_55_plus) AS freq_age_55_plus, max(max_age_55_plus) AS max_age_55_plus,
            sum(age_inconnu) AS age_inconnu, sum(freq_age_inconnu) AS freq_age_inconnu, max(max_age_inconnu) AS max_age_inconnu,
            max(max_poste_brut) AS max_poste_brut,
            max(max_poste_net) AS max_poste_net,
            sum(ent_mono) AS ent_mono, deux_plus_petits(ent_bas) AS ent_bas, max(ent_haut) AS ent_haut
        FROM territoires
        GROUP BY ALL
    ) AS f
    LEFT JOIN entreprises AS n
      ON n.niveau = f.niveau AND n.code = f.code AND n.feuille = f.feuille
     AND n.croisement = f.croisement AND n.famille IS NOT DISTINCT FROM f.famille
     AND n.secteur IS NOT DISTINCT FROM f.secteur AND n.tranche IS NOT DISTINCT FROM f.tranche
     AND (f.croisement & 3) = 3
),
appartenance AS (                   -- the champs of each leaf
    SELECT l.feuille, c.champ
    FROM (SELECT DISTINCT feuille, public, ess, ess_loi_2014 FROM etab) AS l
    JOIN (
        VALUES ('ensemble'), ('public'), ('prive'), ('ess'), ('prive_hors_ess'), ('ess_loi_2014'), ('_sce'),
               ('_oth')
    ) AS c(champ)
      ON CASE c.champ
             WHEN 'ensemble' THEN true
             WHEN 'public' THEN l.public
             WHEN 'prive' THEN NOT l.public
             WHEN 'ess' THEN l.ess
             WHEN 'prive_hors_ess' THEN NOT l.public AND NOT l.ess
             WHEN 'ess_loi_2014' THEN l.ess_loi_2014
             WHEN '_sce' THEN l.ess_loi_2014 AND NOT l.ess
             WHEN '_oth' THEN NOT l.public AND NOT l.ess AND NOT l.ess_loi_2014
         END
),
champs AS (                         -- each leaf in every champ it belongs to
    SELECT f.*, a.champ
    FROM feuilles AS f
    JOIN appartenance AS a USING (feuille)
    -- famille crossings exist only within ess / ess_loi_2014
    WHERE ((f.croisement & 16) = 16 OR (a.champ IN ('ess', 'ess_loi_2014') AND f.famille IS NOT NULL))
    -- and the EPCI-like levels' secteur, tranche and sexe crossings within ess only (what the portraits show)
        AND ((f.croisement & 14) = 14 OR a.champ = 'ess' OR NOT niveau_epci(f.niveau))
),
plusieurs AS (                      -- establishments of SIRENs that have establishments in several leaves
    SELECT * FROM ind.etab_sexe_pcs
    WHERE siren IN (
        SELECT siren FROM etab GROUP BY siren HAVING count(DISTINCT feuille) > 1
    )
),
surplus AS (                        -- such a SIREN is counted once per leaf of the champ: keep one
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs, sum(en_trop) AS en_trop
    FROM (
        SELECT
            t.niveau, t.code, a.champ,
            coalesce(CASE WHEN t.champ_famille THEN t.famille_ess END, 'toutes') AS famille,
            coalesce(t.secteur, 'tous') AS secteur,
            coalesce(t.tranche, 'toutes') AS tranche,
            coalesce(t.sexe, 'tous') AS sexe,
            coalesce(t.pcs, 'toutes') AS pcs,
            t.siren,
            count(DISTINCT t.feuille) - 1 AS en_trop
        FROM (
            SELECT DISTINCT
                n.niveau,
                CASE n.niveau WHEN 'france' THEN 'FR' WHEN 'region' THEN p.code_region
                     WHEN 'departement' THEN p.code_departement WHEN 'epci' THEN p.code_epci
                     WHEN '_piece' THEN coalesce(p.code_departement, '?') || '|' || coalesce(p.code_epci, '?')
                     WHEN '_geo_inconnu' THEN CASE WHEN p.code_departement IS NULL THEN '?' END
                     ELSE CASE WHEN p.code_epci IS NULL THEN '?' END END AS code,
                p.siren,
                100 * coalesce(CAST(p.public AS INTEGER), 9) + 10 * coalesce(CAST(p.ess AS INTEGER), 9)
                    + coalesce(CAST(p.ess_loi_2014 AS INTEGER), 9) AS feuille,
                x.champ_famille,
                CASE WHEN x.champ_famille THEN p.famille_ess END AS famille_ess,
                CASE WHEN x.secteur THEN p.secteur END AS secteur,
                CASE WHEN x.tranche THEN p.tranche END AS tranche,
                CASE WHEN x.sexe THEN p.sexe END AS sexe,
                CASE WHEN x.pcs THEN p.pcs END AS pcs
            FROM plusieurs AS p
            CROSS JOIN (
                VALUES ('france'), ('region'), ('departement'), ('epci'), ('_geo_inconnu'), ('_epci_inconnu'),
                       ('_piece')
            ) AS n(niveau)
            CROSS JOIN (        -- the crossings with an enterprise count (no sexe, no pcs)
                VALUES (false, false, false, false, false, 31), (true, false, false, false, false, 15),
                       (false, true, false, false, false, 23)   -- the size bands: surplus_tranche below
            ) AS x(champ_famille, secteur, tranche, sexe, pcs, croisement)
            WHERE croisement_du_niveau(n.niveau, x.croisement)
        ) AS t
        JOIN appartenance AS a USING (feuille)
        WHERE code IS NOT NULL
          AND (NOT t.champ_famille OR (a.champ IN ('ess', 'ess_loi_2014') AND t.famille_ess IS NOT NULL))
        GROUP BY ALL
    )
    GROUP BY ALL
),
tranche_feuille AS (                -- such a SIREN per territory and leaf: the band it was counted in there
    SELECT niveau, code, siren_id, feuille, arg_max(tranche, effectif_etab) AS tranche,
           max(effectif_etab) AS effectif_etab
    FROM etab_territoire
    WHERE siren_id IN (SELECT siren_id FROM etab GROUP BY siren_id HAVING count(DISTINCT feuille) > 1)
      AND croisement_du_niveau(niveau, 27)     -- the size bands' crossing
    GROUP BY ALL
),
surplus_tranche AS (                -- counted once per leaf of the champ, in each leaf's band: keep one count,
    SELECT niveau, code, champ, 'toutes' AS famille, 'tous' AS secteur, tranche, 'tous' AS sexe,
           'toutes' AS pcs, sum(en_trop) AS en_trop
    FROM (                          -- in the band of its largest establishment in the champ
        SELECT t.niveau, t.code, a.champ, t.tranche, 1 AS en_trop
        FROM tranche_feuille AS t JOIN appartenance AS a USING (feuille)
        UNION ALL
        SELECT t.niveau, t.code, a.champ, arg_max(t.tranche, t.effectif_etab), -1
        FROM tranche_feuille AS t JOIN appartenance AS a USING (feuille)
        GROUP BY t.niveau, t.code, a.champ, t.siren_id
    )
    GROUP BY ALL
),
cellules AS (
    SELECT
        niveau, code, champ,
        coalesce(CASE WHEN (croisement & 16) = 0 THEN famille END, 'toutes') AS famille,
        coalesce(secteur, 'tous') AS secteur,
        coalesce(tranche, 'toutes') AS tranche,
        coalesce(sexe, 'tous') AS sexe,
        coalesce(pcs, 'toutes') AS pcs,
        CAST(sum(n_etab) AS BIGINT) AS n_etab,
        CAST(sum(n_ent) AS BIGINT) AS n_ent,  -- corrected by the surplus below
        sum(n_salaries) AS n_salaries,
        sum(effectif) AS effectif,     CAST(sum(freq_effectif) AS BIGINT) AS freq_effectif,   max(max_effectif) AS max_effectif,
        sum(etp) AS etp,               CAST(sum(freq_etp) AS BIGINT) AS freq_etp,             max(max_etp) AS max_etp,
        sum(masse) AS masse,           CAST(sum(freq_masse) AS BIGINT) AS freq_masse,         max(max_masse) AS max_masse,
        sum(masse_salaire) AS masse_salaire, sum(etp_salaire) AS etp_salaire,
        CAST(sum(freq_salaire) AS BIGINT) AS freq_salaire,
        sum(s_net) AS s_net,           max(max_s_net) AS max_s_net,
        sum(nbheur) AS nbheur,         max(max_nbheur) AS max_nbheur,
        CAST(sum(freq_horaire) AS BIGINT) AS freq_horaire,
        sum(temps_partiel) AS temps_partiel, CAST(sum(freq_temps_partiel) AS BIGINT) AS freq_temps_partiel,
        max(max_temps_partiel) AS max_temps_partiel,
        sum(cdd) AS cdd,               CAST(sum(freq_cdd) AS BIGINT) AS freq_cdd,             max(max_cdd) AS max_cdd,
        sum(age50) AS age50,           CAST(sum(freq_age50) AS BIGINT) AS freq_age50,         max(max_age50) AS max_age50,
        sum(age_moins_25) AS age_moins_25, CAST(sum(freq_age_moins_25) AS BIGINT) AS freq_age_moins_25, max(max_age_moins_25) AS max_age_moins_25,
        sum(age_25_34) AS age_25_34, CAST(sum(freq_age_25_34) AS BIGINT) AS freq_age_25_34, max(max_age_25_34) AS max_age_25_34,
        sum(age_35_44) AS age_35_44, CAST(sum(freq_age_35_44) AS BIGINT) AS freq_age_35_44, max(max_age_35_44) AS max_age_35_44,
        sum(age_45_54) AS age_45_54, CAST(sum(freq_age_45_54) AS BIGINT) AS freq_age_45_54, max(max_age_45_54) AS max_age_45_54,
        sum(age_55_plus) AS age_55_plus, CAST(sum(freq_age_55_plus) AS BIGINT) AS freq_age_55_plus, max(max_age_55_plus) AS max_age_55_plus,
        sum(age_inconnu) AS age_inconnu, CAST(sum(freq_age_inconnu) AS BIGINT) AS freq_age_inconnu, max(max_age_inconnu) AS max_age_inconnu,
        coalesce(max(max_poste_brut), 0) AS max_poste_brut,
        coalesce(max(max_poste_net), 0) AS max_poste_net,
        sum(ent_mono) AS ent_mono, deux_plus_petits(ent_bas) AS ent_bas, max(ent_haut) AS ent_haut
    FROM champs
    GROUP BY ALL
)
SELECT
    c.* EXCLUDE (ent_mono, ent_bas, ent_haut)
        REPLACE (CAST(c.n_ent - coalesce(s.en_trop, 0) - coalesce(b.en_trop, 0) AS BIGINT) AS n_ent),
    -- enterprises with an establishment in the cell, counted up to 3 (every crossing): the mono-establishment
    -- ones, plus the others' distinct ids — 0, 1 or 2 of the two smallest, a third when the largest is above
    CAST(least(3, c.ent_mono + CASE coalesce(len(c.ent_bas), 0)
        WHEN 0 THEN 0 WHEN 1 THEN 1 ELSE 2 + CAST(c.ent_haut > c.ent_bas[2] AS INTEGER) END) AS BIGINT)
        AS freq_entreprises
FROM cellules AS c
LEFT JOIN surplus AS s USING (niveau, code, champ, famille, secteur, tranche, sexe, pcs)
LEFT JOIN surplus_tranche AS b USING (niveau, code, champ, famille, secteur, tranche, sexe, pcs)
ORDER BY niveau, code, champ, famille, secteur, tranche, sexe, pcs;
