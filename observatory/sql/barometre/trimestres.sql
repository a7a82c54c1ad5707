-- The quarters present in the quarterly headcounts ('AAAA-Tn'), oldest first.
SELECT DISTINCT trimestre
FROM staging.effectifs_trimestriels
WHERE regexp_full_match(trimestre, '[0-9]{4}-T[1-4]')
ORDER BY trimestre;
