-- ind.indicateurs: the tidy indicator table (shared/domain/products.md §2), before publication.
--
-- Every row is one indicator of one cell. `st` is the statut code (0 publie, 1 secret_secondaire,
-- 2 secret_primaire): a figure computed from several cells takes the worst statut of those cells
-- (greatest). The mean pay figures and the women / men gap take `s_salaire`: the magnitudes' statut, or
-- primary where 1 or 2 establishments contribute to the pay field (observatory.secrecy.rules.pay_rate_secret).
-- `valeur` is empty when the figure is secret; `valeur_calculee` keeps the computed value inside the
-- warehouse for the audit and never leaves it. Internal champs (_sce, _oth), internal territory
-- levels (_geo_inconnu, _epci_inconnu) and the PCS group
-- `autres` are protected but not published.
-- Units and precision (one convention in every published file, ref.indicateurs from
-- observatory/reference/indicateurs.csv): `unite` 'pourcent' is a percentage 0–100 (shares, rates, the pay
-- gap); `valeur` is rounded to the publication precision of its indicator (`decimales`: counts, ETP, ranks
-- whole, payroll to the thousand euros, annual pay to the euro, hourly pay to 0.1 €, percentages to 0.1
-- point), each figure on its own from the unrounded computation; `valeur_calculee` keeps full precision.

CREATE OR REPLACE TABLE ind.indicateurs AS
WITH cm AS (                        -- each cell with its statut per nature
    SELECT
        c.*, m.s_comptage, m.s_entreprises, m.s_montant, m.s_salaire, m.s_temps_partiel, m.s_cdd, m.s_age50,
        m.s_age_moins_25, m.s_age_25_34, m.s_age_35_44, m.s_age_45_54, m.s_age_55_plus
    FROM ind.cellules AS c
    JOIN ind.masque AS m USING (niveau, code, champ, famille, secteur, tranche, sexe, pcs)
),
tot AS (                            -- the territory total of each champ (no breakdown)
    SELECT * FROM cm
    WHERE famille = 'toutes' AND secteur = 'tous' AND tranche = 'toutes' AND sexe = 'tous' AND pcs = 'toutes'
),
own AS (                            -- figures of a cell alone
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs,
           'etablissements_employeurs' AS indicateur, CAST(n_etab AS DOUBLE) AS valeur, 'nombre' AS unite,
           s_comptage AS st
    FROM cm WHERE sexe = 'tous' AND pcs = 'toutes'
    UNION ALL
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs,
           'entreprises_employeuses', n_ent, 'nombre', greatest(s_entreprises, s_comptage)
    FROM cm WHERE sexe = 'tous' AND pcs = 'toutes'
    UNION ALL
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs,
           'effectif_31_12', effectif, 'nombre', s_montant FROM cm
    UNION ALL
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs, 'etp', etp, 'nombre', s_montant FROM cm
    UNION ALL
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs,
           'masse_salariale_brute', masse, 'euros', s_montant FROM cm
    UNION ALL
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs,
           'salaire_brut_annuel_moyen_etp', masse_salaire / etp_salaire, 'euros', s_salaire
    FROM cm WHERE etp_salaire > 0
    UNION ALL
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs,
           'salaire_net_horaire_moyen', s_net / nbheur, 'euros', s_salaire FROM cm WHERE nbheur > 0
    UNION ALL
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs,
           'taux_temps_partiel', 100 * temps_partiel / effectif, 'pourcent', greatest(s_montant, s_temps_partiel)
    FROM cm WHERE effectif > 0 AND pcs = 'toutes'
    UNION ALL
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs,
           'part_cdd', 100 * cdd / effectif, 'pourcent', greatest(s_montant, s_cdd)
    FROM cm WHERE effectif > 0 AND pcs = 'toutes'
    UNION ALL
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs,
           'part_50_ans_et_plus', 100 * age50 / (effectif - age_inconnu), 'pourcent', greatest(s_montant, s_age50)
    FROM cm WHERE effectif - age_inconnu > 0 AND pcs = 'toutes'   -- over the jobs of known age
),
pyramide AS (                       -- jobs at 31/12 by age band (they add up to effectif); secret with their cell
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs,
           'effectif_age_' || bande AS indicateur, CAST(n AS DOUBLE) AS valeur, 'nombre' AS unite, st
    FROM (
        SELECT *, 'moins_25' AS bande, age_moins_25 AS n, greatest(s_montant, s_age_moins_25) AS st FROM cm
        UNION ALL
        SELECT *, '25_34' AS bande, age_25_34 AS n, greatest(s_montant, s_age_25_34) AS st FROM cm
        UNION ALL
        SELECT *, '35_44' AS bande, age_35_44 AS n, greatest(s_montant, s_age_35_44) AS st FROM cm
        UNION ALL
        SELECT *, '45_54' AS bande, age_45_54 AS n, greatest(s_montant, s_age_45_54) AS st FROM cm
        UNION ALL
        SELECT *, '55_plus' AS bande, age_55_plus AS n, greatest(s_montant, s_age_55_plus) AS st FROM cm
    )
    WHERE famille = 'toutes' AND secteur = 'tous' AND tranche = 'toutes' AND pcs = 'toutes'
        AND niveau IN ('france', 'region', 'departement')
),
femmes AS (                         -- share of women (by family, sector, size) and among cadres
    SELECT t.niveau, t.code, t.champ, t.famille, t.secteur, t.tranche, t.sexe, t.pcs,
           CASE WHEN t.pcs = 'cadres' THEN 'part_femmes_cadres' ELSE 'part_femmes' END AS indicateur,
           100 * f.effectif / t.effectif AS valeur, 'pourcent' AS unite, greatest(t.s_montant, f.s_montant) AS st
    FROM cm AS t
    JOIN cm AS f USING (niveau, code, champ, famille, secteur, tranche, pcs)
    WHERE t.sexe = 'tous' AND f.sexe = 'F' AND t.effectif > 0 AND t.pcs IN ('toutes', 'cadres')
),
cadres AS (                         -- share of cadres, by sex
    SELECT t.niveau, t.code, t.champ, t.famille, t.secteur, t.tranche, t.sexe, t.pcs,
           'part_cadres' AS indicateur, 100 * c.effectif / t.effectif AS valeur, 'pourcent' AS unite,
           greatest(t.s_montant, c.s_montant) AS st
    FROM cm AS t
    JOIN cm AS c USING (niveau, code, champ, famille, secteur, tranche, sexe)
    WHERE t.pcs = 'toutes' AND c.pcs = 'cadres' AND t.effectif > 0
),
ecart AS (                          -- 1 − women's / men's mean net hourly wage, on the row sexe = tous
    SELECT f.niveau, f.code, f.champ, f.famille, f.secteur, f.tranche, 'tous' AS sexe, f.pcs,
           'ecart_salarial_fh' AS indicateur,
           100 * (1 - (f.s_net / f.nbheur) / (h.s_net / h.nbheur)) AS valeur, 'pourcent' AS unite,
           greatest(f.s_salaire, h.s_salaire) AS st
    FROM cm AS f
    JOIN cm AS h USING (niveau, code, champ, famille, secteur, tranche, pcs)
    WHERE f.sexe = 'F' AND h.sexe = 'H' AND f.nbheur > 0 AND h.nbheur > 0 AND h.s_net > 0
),
parts AS (                          -- shares of the private field / of all employers of the territory
    SELECT c.niveau, c.code, c.champ, c.famille, c.secteur, c.tranche, c.sexe, c.pcs,
           'part_emploi_prive' AS indicateur, 100 * c.effectif / p.effectif AS valeur, 'pourcent' AS unite,
           greatest(c.s_montant, p.s_montant) AS st
    FROM cm AS c JOIN tot AS p ON p.niveau = c.niveau AND p.code = c.code AND p.champ = 'prive'
    WHERE c.sexe = 'tous' AND c.pcs = 'toutes' AND c.champ NOT IN ('public', 'ensemble') AND p.effectif > 0
    UNION ALL
    SELECT c.niveau, c.code, c.champ, c.famille, c.secteur, c.tranche, c.sexe, c.pcs,
           'part_emploi_total', 100 * c.effectif / p.effectif, 'pourcent', greatest(c.s_montant, p.s_montant)
    FROM cm AS c JOIN tot AS p ON p.niveau = c.niveau AND p.code = c.code AND p.champ = 'ensemble'
    WHERE c.sexe = 'tous' AND c.pcs = 'toutes' AND c.champ <> 'ensemble' AND p.effectif > 0
    UNION ALL
    SELECT c.niveau, c.code, c.champ, c.famille, c.secteur, c.tranche, c.sexe, c.pcs,
           'part_etablissements_prive', 100 * c.n_etab / p.n_etab, 'pourcent', greatest(c.s_comptage, p.s_comptage)
    FROM cm AS c JOIN tot AS p ON p.niveau = c.niveau AND p.code = c.code AND p.champ = 'prive'
    WHERE c.sexe = 'tous' AND c.pcs = 'toutes' AND c.champ NOT IN ('public', 'ensemble') AND p.n_etab > 0
    UNION ALL                       -- the champ's share of the sector's jobs (all employers of the sector)
    SELECT c.niveau, c.code, c.champ, c.famille, c.secteur, c.tranche, c.sexe, c.pcs,
           'part_emploi_secteur', 100 * c.effectif / e.effectif, 'pourcent', greatest(c.s_montant, e.s_montant)
    FROM cm AS c
    JOIN cm AS e ON e.niveau = c.niveau AND e.code = c.code AND e.champ = 'ensemble' AND e.secteur = c.secteur
        AND e.famille = 'toutes' AND e.tranche = 'toutes' AND e.sexe = 'tous' AND e.pcs = 'toutes'
    WHERE c.secteur <> 'tous' AND c.famille = 'toutes' AND c.tranche = 'toutes' AND c.sexe = 'tous'
        AND c.pcs = 'toutes' AND c.champ <> 'ensemble' AND e.effectif > 0
),
deps AS (                           -- département cells with their region's cell
    SELECT d.*, r.effectif AS effectif_region, r.s_montant AS s_region, ref.code_region
    FROM tot AS d
    JOIN ref.departements AS ref ON ref.code_departement = d.code
    JOIN tot AS r ON r.niveau = 'region' AND r.code = ref.code_region AND r.champ = d.champ
    WHERE d.niveau = 'departement'
),
rangs AS (                          -- ranks on effectif at 31/12 (1 = largest; ties share a rank), among the
                                    -- départements whose effectif is published only: a rank among all of them
                                    -- would bracket a hidden effectif between its published neighbours'
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs, 'rang_region' AS indicateur,
           CAST(rank() OVER (PARTITION BY champ, code_region ORDER BY effectif DESC) AS DOUBLE) AS valeur,
           'nombre' AS unite, s_montant AS st
    FROM deps WHERE s_montant = 0
    UNION ALL
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs, 'rang_france',
           CAST(rank() OVER (PARTITION BY champ ORDER BY effectif DESC) AS DOUBLE), 'nombre', s_montant
    FROM deps WHERE s_montant = 0
    UNION ALL                       -- a hidden département has no rank (and takes no place in the others')
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs, r.indicateur, NULL, 'nombre', s_montant
    FROM deps, (VALUES ('rang_region'), ('rang_france')) AS r (indicateur)
    WHERE s_montant <> 0
    UNION ALL
    SELECT niveau, code, champ, famille, secteur, tranche, sexe, pcs, 'part_region',
           100 * effectif / effectif_region, 'pourcent', greatest(s_montant, s_region)
    FROM deps WHERE effectif_region > 0
),
tous AS (
    SELECT * FROM own
    UNION ALL SELECT * FROM pyramide
    UNION ALL SELECT * FROM femmes
    UNION ALL SELECT * FROM cadres
    UNION ALL SELECT * FROM ecart
    UNION ALL SELECT * FROM parts
    UNION ALL SELECT * FROM rangs
),
libelles AS (
    SELECT 'france' AS niveau, 'FR' AS code, 'France' AS libelle
    UNION ALL SELECT 'region', code_region, libelle FROM ref.regions
    UNION ALL SELECT 'departement', code_departement, libelle FROM ref.departements
    UNION ALL SELECT 'epci', code_epci, libelle FROM ref.epci
)
SELECT
    CAST($millesime AS INTEGER) AS millesime,
    t.niveau, t.code, l.libelle, t.champ, t.famille, t.secteur, t.tranche, t.sexe, t.pcs, t.indicateur,
    CASE WHEN t.st = 0 THEN round(CAST(t.valeur AS DOUBLE), CAST(p.decimales AS INTEGER)) + 0.0 END AS valeur,  -- + 0.0: no -0
    t.unite,
    CASE t.st WHEN 0 THEN 'publie' WHEN 1 THEN 'secret_secondaire' ELSE 'secret_primaire' END AS statut,
    CAST($perimetre_version AS VARCHAR) AS perimetre_version,
    CAST(t.valeur AS DOUBLE) AS valeur_calculee,
    t.st
FROM tous AS t
LEFT JOIN libelles AS l USING (niveau, code)
LEFT JOIN (SELECT indicateur, decimales FROM ref.indicateurs) AS p USING (indicateur)  -- every code listed (tested)
WHERE t.champ NOT LIKE '\_%' ESCAPE '\' AND t.niveau NOT LIKE '\_%' ESCAPE '\' AND t.pcs <> 'autres'
    AND (                               -- EPCI: champs, families and sexes (the only cells computed there;
                                        -- the figures of other crossings, e.g. the share of cadres, have no
                                        -- cell); the sexes without the families, as computed
        t.niveau <> 'epci'
        OR (t.secteur = 'tous' AND t.tranche = 'toutes' AND t.pcs = 'toutes'
            AND (t.sexe = 'tous' OR t.famille = 'toutes')
            AND t.indicateur NOT IN ('part_femmes_cadres', 'part_cadres'))
        -- and the ESS's size bands and sectors, one at a time, for the establishments and jobs at 31/12 only
        -- (the portrait's figures): their ETP and payroll would be small cells (size band 0: a few ETP of jobs
        -- ended in the year) that a published département figure bounds within their rounding; the ESS's share
        -- of a sector's jobs would need every champ by sector, which the EPCIs do not have
        OR ((t.secteur = 'tous' OR t.tranche = 'toutes') AND t.famille = 'toutes' AND t.sexe = 'tous'
            AND t.pcs = 'toutes' AND t.indicateur IN ('effectif_31_12', 'etablissements_employeurs'))
    )
ORDER BY t.niveau, t.code, t.champ, t.famille, t.secteur, t.tranche, t.sexe, t.pcs, t.indicateur;
