-- The primary cells of the baromètre's quarter $q (the year-end quarter <millesime>-T4, whose headcounts are
-- the annual table's at 31/12), from the same table macro as ind.barometre_cellules
-- (sql/barometre/macro_cellules.sql, run first): the annual protection takes them as primary
-- (observatory.barometre.year_end_primaries), so no cell is primary in one product and published in the other.
SELECT niveau, code, champ, famille, secteur, freq, value, max
FROM barometre_cellules($q, $q, $freq_min, $dominance)
WHERE q = $q AND statut = 'secret_primaire'
ORDER BY niveau, code, champ, famille, secteur;
