-- Share of the jobs whose SIRET matches no establishment (motif siret_inconnu) and of the establishments whose
-- SIREN matches no legal unit (motif siren_inconnu), per extract file: a high share means extracts that do not
-- belong together (another vintage, a truncated file), not a few dirty rows.
WITH totals AS (
    SELECT 'postes' AS extrait, _fichier AS fichier, count(*) AS lignes FROM staging.postes GROUP BY _fichier
    UNION ALL
    SELECT 'etablissements', _fichier, count(*) FROM staging.etablissements GROUP BY _fichier
),
orphans AS (
    SELECT extrait, fichier, count(*) AS orphelins
    FROM staging.quarantaine
    WHERE (extrait = 'postes' AND motif = 'siret_inconnu')
       OR (extrait = 'etablissements' AND motif = 'siren_inconnu')
    GROUP BY extrait, fichier
)
SELECT t.extrait, t.fichier, t.lignes, coalesce(o.orphelins, 0) AS orphelins,
       coalesce(o.orphelins, 0) / greatest(t.lignes, 1) AS taux
FROM totals AS t LEFT JOIN orphans AS o USING (extrait, fichier)
ORDER BY t.extrait, t.fichier
