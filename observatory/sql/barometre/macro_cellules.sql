-- barometre_cellules(q_fin, q_detail, freq_min, dominance): a temporary table macro, one magnitude cell per
-- quarter x territory x champ x breakdown, with its secrecy inputs FREQ (establishments with at least one
-- employee at the end of the quarter), VALUE (headcount at the end of the quarter) and MAX (largest
-- establishment's headcount), and its primary status.
--
-- Field of the source (Urssaf-style quarterly file): régime général, hence outside agriculture (sector AGR
-- is left out) and outside Mayotte (976, whose cells are "non disponible", never 0).
--
-- Quarters are numbered q = 4 * year + (n - 1) for 'AAAA-Tn'. Parameters (of the macro):
--   q_fin      last quarter of the semester (Q2 for S1, Q4 for S2)
--   q_detail   first quarter whose breakdowns (famille, secteur) are published; cells from
--               q_detail - 4 on are built so that every published change has its base
--   freq_min   frequency rule: a cell of 1 .. freq_min - 1 establishments is secret (3)
--   dominance  dominance rule: a cell is secret when MAX > dominance * VALUE (0.85)
--
-- The one statement of the baromètre's cells and primary rule: ind.barometre_cellules
-- (sql/barometre/cellules.sql) is built from it, and so are the year-end quarter's primary cells that the
-- annual protection takes as primary (sql/barometre/primaires_fin_annee.sql): the two products cannot
-- disagree on what is primary.
CREATE OR REPLACE TEMP MACRO barometre_cellules(q_fin, q_detail, freq_min, dominance) AS TABLE
WITH
trimestres AS (   -- one row per establishment and quarter (a duplicated row counts once)
    SELECT
        siret,
        CAST(substr(trimestre, 1, 4) AS INTEGER) * 4 + CAST(substr(trimestre, 7, 1) AS INTEGER) - 1 AS q,
        max(coalesce(effectif_fin_trimestre, 0)) AS effectif
    FROM staging.effectifs_trimestriels
    WHERE regexp_full_match(trimestre, '[0-9]{4}-T[1-4]')
    GROUP BY ALL
),

champ_source AS (   -- establishments in the source's field, with their territory and classification
    SELECT
        t.q,
        t.siret,
        t.effectif,
        e.code_departement,
        e.code_region,
        coalesce(e.famille_ess, 'hors_ess') AS famille_ess,
        coalesce(e.secteur, 'NCL') AS secteur,
        coalesce(e.ess, false) AS ess,
        coalesce(e.public, false) AS public
    FROM trimestres AS t
    JOIN ess.etablissements AS e USING (siret)
    WHERE t.q <= q_fin
      AND e.code_departement IS NOT NULL
      AND e.code_departement <> '976'
      AND coalesce(e.secteur, 'NCL') <> 'AGR'
),

groupes AS (   -- the establishments counted, summed and their largest kept per quarter x territory x
                -- breakdown x leaf first: every cell below is a union of these groups
    SELECT
        q, code_departement, code_region, famille_ess, secteur, ess, public,
        count(*) FILTER (WHERE effectif > 0) AS freq,
        sum(effectif) AS value,
        max(effectif) AS max
    FROM champ_source
    GROUP BY ALL
),

par_champ AS (   -- ess and prive_hors_ess partition the private field; public only when the source has it
    SELECT *, 'ess' AS champ FROM groupes WHERE ess AND NOT public
    UNION ALL
    SELECT *, 'prive_hors_ess' AS champ FROM groupes WHERE NOT ess AND NOT public
    UNION ALL
    SELECT *, 'prive' AS champ FROM groupes WHERE NOT public
    UNION ALL
    SELECT *, 'public' AS champ FROM groupes WHERE public
),

agregats AS (   -- France, région, département; all, by family (ESS only), by sector
    SELECT
        q,
        champ,
        CASE
            WHEN grouping(code_departement) = 0 THEN 'departement'
            WHEN grouping(code_region) = 0 THEN 'region'
            ELSE 'france'
        END AS niveau,
        coalesce(code_departement, code_region, 'FR') AS code,
        CASE WHEN grouping(famille_ess) = 0 THEN famille_ess ELSE 'toutes' END AS famille,
        CASE WHEN grouping(secteur) = 0 THEN secteur ELSE 'tous' END AS secteur,
        sum(freq)::BIGINT AS freq,
        sum(value) AS value,
        max(max) AS max
    FROM par_champ
    GROUP BY GROUPING SETS (
        (q, champ), (q, champ, code_region), (q, champ, code_departement),
        (q, champ, famille_ess), (q, champ, code_region, famille_ess), (q, champ, code_departement, famille_ess),
        (q, champ, secteur), (q, champ, code_region, secteur), (q, champ, code_departement, secteur)
    )
),

couverts AS (   -- the départements the extracts cover: all of them for a national extract, not for a regional one
    SELECT DISTINCT code_departement, code_region FROM ess.etablissements WHERE code_departement IS NOT NULL
),

territoires AS (   -- every covered territory of the COG, Mayotte included (shown as non disponible): a région
                   -- outside a regional extract is not a région without jobs
    SELECT 'france' AS niveau, 'FR' AS code, 'France hors Mayotte' AS libelle
    UNION ALL
    SELECT 'region', code_region, libelle FROM ref.regions WHERE code_region IN (SELECT code_region FROM couverts)
    UNION ALL
    SELECT 'departement', code_departement, libelle FROM ref.departements
    WHERE code_departement IN (SELECT code_departement FROM couverts)
),

premier AS (
    SELECT min(q) AS q_premier FROM trimestres
),

ventilations AS (   -- breakdowns present somewhere in the field (family breakdowns for the ESS only)
    SELECT DISTINCT champ, famille, secteur
    FROM agregats
    WHERE famille = 'toutes' OR champ = 'ess'
),

grille AS (   -- totals for the whole series; breakdowns from q_detail - 4 on
    SELECT g.q, v.champ, v.famille, v.secteur, t.niveau, t.code, t.libelle
    FROM premier AS p,
        range(p.q_premier, q_fin + 1) AS g (q),
        ventilations AS v,
        territoires AS t
    WHERE (v.famille = 'toutes' AND v.secteur = 'tous') OR g.q >= q_detail - 4
)

SELECT
    g.q,
    printf('%d-T%d', g.q // 4, g.q % 4 + 1) AS trimestre,
    g.niveau,
    g.code,
    g.libelle,
    g.champ,
    g.famille,
    g.secteur,
    coalesce(a.freq, 0) AS freq,
    coalesce(a.value, 0) AS value,
    coalesce(a.max, 0) AS max,
    CASE
        WHEN (g.niveau, g.code) IN (('departement', '976'), ('region', '06')) THEN 'non_disponible'
        WHEN coalesce(a.freq, 0) BETWEEN 1 AND freq_min - 1 THEN 'secret_primaire'
        WHEN coalesce(a.max, 0) > dominance * coalesce(a.value, 0) THEN 'secret_primaire'
        ELSE 'publie'
    END AS statut
FROM grille AS g
LEFT JOIN agregats AS a
    ON a.q = g.q AND a.champ = g.champ AND a.famille = g.famille AND a.secteur = g.secteur
    AND a.niveau = g.niveau AND a.code = g.code;
