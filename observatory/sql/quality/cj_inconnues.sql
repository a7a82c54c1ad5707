-- The legal-category codes unknown to the INSEE nomenclature (motif cj_inconnue in ess.unites_legales),
-- most frequent first: what an analyst checks first (a new code, a typo in a source file).

SELECT
    categorie_juridique,
    CAST(count(*) AS BIGINT) AS unites
FROM ess.unites_legales
WHERE motif = 'cj_inconnue'
GROUP BY categorie_juridique
ORDER BY count(*) DESC, categorie_juridique
LIMIT $limite;
