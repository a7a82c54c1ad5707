-- The baromètre's headcounts of one quarter ($trimestre, the annual vintage's 31/12) as published (`statut`,
-- `valeur` empty when hidden) with the computed headcount (`valeur_calculee`, which never leaves the
-- warehouse): the audit sets them against the annual table (observatory.audit.products).
SELECT b.niveau, b.code, b.champ, b.famille, b.secteur, b.statut, b.valeur, CAST(c.value AS DOUBLE) AS valeur_calculee
FROM ind.barometre AS b
JOIN ind.barometre_cellules AS c USING (trimestre, niveau, code, champ, famille, secteur)
WHERE b.indicateur = 'effectif_fin_trimestre' AND b.trimestre = $trimestre
ORDER BY b.niveau, b.code, b.champ, b.famille, b.secteur;
