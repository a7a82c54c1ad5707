-- The annual table's headcounts at 31/12 of the vintage $millesime, on the baromètre's cells (France, régions,
-- départements; no size band, sex or PCS breakdown): the baromètre's year-end quarter (<millesime>-T4) shows
-- the same headcounts and is protected jointly with them (observatory.barometre.protect_cells).
-- `valeur` is the published figure (empty when secret); `valeur_calculee` the computed one, for the audit.
SELECT niveau, code, champ, famille, secteur, statut, valeur, valeur_calculee
FROM ind.indicateurs
WHERE indicateur = 'effectif_31_12'
  AND millesime = $millesime
  AND niveau IN ('france', 'region', 'departement')
  AND tranche = 'toutes' AND sexe = 'tous' AND pcs = 'toutes'
ORDER BY niveau, code, champ, famille, secteur;
