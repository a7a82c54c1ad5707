-- ind.barometre_cellules: the baromètre's cells of every quarter up to $q_fin, with FREQ / VALUE / MAX and
-- the primary statut, from the table macro of sql/barometre/macro_cellules.sql (run first; see there for the
-- field of the source and the parameters).
CREATE OR REPLACE TABLE ind.barometre_cellules AS
SELECT *
FROM barometre_cellules($q_fin, $q_detail, $freq_min, $dominance)
ORDER BY q, niveau, code, champ, famille, secteur;
