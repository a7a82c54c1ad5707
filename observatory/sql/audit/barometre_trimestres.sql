-- The audit's own headcount cells of the baromètre, per quarter: the value and the largest establishment's
-- headcount, written apart from sql/barometre (the audit recomputes what the protection computed). Reads
-- `_audit_effectifs` (siret, trimestre, effectif_fin_trimestre) and `_audit_etablissements` (siret,
-- code_departement, code_region, famille_ess, secteur, ess, public): views of the warehouse, or a test's
-- DataFrames.
-- The field: quarters written AAAA-Tn only; a missing headcount counts 0; a (siret, quarter) given twice counts
-- once, its largest; establishments without a département, in Mayotte (976) or in agriculture (AGR) are outside
-- the source's field. Champs: ess (ESS, not public), prive_hors_ess, prive (not public), public.
-- Cells: régions (an establishment without a région counts in its département only) and départements, without
-- breakdown (famille 'toutes', secteur 'tous': the audit's DEFAULTS), by family ('hors_ess' outside the ESS)
-- and by sector ('NCL' when unknown).
WITH q AS (
    SELECT siret, trimestre, max(coalesce(effectif_fin_trimestre, 0)) AS e
    FROM _audit_effectifs
    WHERE regexp_full_match(trimestre, '[0-9]{4}-T[1-4]')
    GROUP BY siret, trimestre
),
etab AS (
    SELECT
        siret, code_region, code_departement,
        coalesce(famille_ess, 'hors_ess') AS famille,
        coalesce(secteur, 'NCL') AS secteur,
        coalesce(ess, false) AS ess,
        coalesce(public, false) AS public
    FROM _audit_etablissements
    WHERE code_departement IS NOT NULL AND code_departement <> '976' AND coalesce(secteur, 'NCL') <> 'AGR'
),
-- the establishments' headcounts summed (and their largest kept) per territory × breakdown × leaf × quarter
-- first: the champs and the levels below are unions of these groups
groupes AS (
    SELECT
        etab.code_region, etab.code_departement, etab.famille, etab.secteur, etab.ess, etab.public, q.trimestre,
        sum(q.e) AS s,
        max(q.e) AS m
    FROM q
    JOIN etab USING (siret)
    GROUP BY ALL
),
champs AS (
    SELECT g.trimestre, g.s, g.m, g.code_region, g.code_departement, g.famille, g.secteur, c.champ
    FROM groupes AS g
    JOIN (VALUES ('ess'), ('prive_hors_ess'), ('prive'), ('public')) AS c (champ)
        ON CASE c.champ
            WHEN 'ess' THEN g.ess AND NOT g.public
            WHEN 'prive_hors_ess' THEN NOT g.ess AND NOT g.public
            WHEN 'prive' THEN NOT g.public
            ELSE g.public
        END
),
territoires AS (
    SELECT 'region' AS niveau, code_region AS code, champ, famille, secteur, trimestre, s, m
    FROM champs WHERE code_region IS NOT NULL
    UNION ALL
    SELECT 'departement', code_departement, champ, famille, secteur, trimestre, s, m
    FROM champs
)
SELECT
    niveau, code, champ,
    CASE WHEN grouping(famille) = 0 THEN famille ELSE 'toutes' END AS famille,
    CASE WHEN grouping(secteur) = 0 THEN secteur ELSE 'tous' END AS secteur,
    trimestre,
    sum(s)::DOUBLE AS valeur,
    max(m)::DOUBLE AS plus_grand
FROM territoires
GROUP BY GROUPING SETS (
    (niveau, code, champ, trimestre),
    (niveau, code, champ, trimestre, famille),
    (niveau, code, champ, trimestre, secteur)
)
