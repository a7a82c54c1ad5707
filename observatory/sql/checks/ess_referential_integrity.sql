-- Rows of ess.* whose codes are unknown to the COG or the NAF reference (should be none).
SELECT 'etablissements.code_departement' AS colonne, count(*) AS inconnus
FROM ess.etablissements AS e
WHERE e.code_departement IS NOT NULL
  AND e.code_departement NOT IN (SELECT code_departement FROM ref.departements)
UNION ALL
SELECT 'etablissements.code_region', count(*)
FROM ess.etablissements AS e
WHERE e.code_region IS NOT NULL AND e.code_region NOT IN (SELECT code_region FROM ref.regions)
UNION ALL
SELECT 'etablissements.secteur', count(*)
FROM ess.etablissements AS e
WHERE e.secteur IS NULL OR (e.secteur <> 'NCL' AND e.secteur NOT IN (SELECT secteur FROM ref.secteurs))
UNION ALL
SELECT 'postes.siret', count(*)
FROM ess.postes AS p
WHERE p.siret NOT IN (SELECT siret FROM ess.etablissements)
