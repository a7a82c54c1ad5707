-- Every legal unit gets exactly one family and a reason; shares by family for the metadata.
SELECT famille_ess, motif, count(*) AS unites
FROM ess.unites_legales
GROUP BY ALL
ORDER BY famille_ess, motif
