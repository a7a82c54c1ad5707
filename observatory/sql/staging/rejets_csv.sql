-- The lines of a CSV extract that the parser refused (_csv_rejets, DuckDB's rejects table), one row per line
-- (its first error): line, column (the header's name for the generated name, _entete), the raw line cut to
-- 200 characters, and the reason. A line without a column (too many columns at its end) is put on the last
-- column of the header ($derniere_colonne).
CREATE OR REPLACE TEMP TABLE _rejets AS
SELECT CAST(r.line AS BIGINT) AS ligne,
       coalesce(e.nom, r.column_name) AS colonne,
       left(trim(r.csv_line, chr(10) || chr(13)), 200) AS valeur,
       CASE r.error_type
           WHEN 'INVALID ENCODING' THEN 'encodage_invalide'
           WHEN 'INVALID UNICODE' THEN 'encodage_invalide'
           WHEN 'TOO MANY COLUMNS' THEN 'colonnes_en_trop'
           WHEN 'MISSING COLUMNS' THEN 'colonnes_manquantes'
           WHEN 'UNQUOTED VALUE' THEN 'guillemet_non_ferme'
           WHEN 'LINE SIZE OVER MAXIMUM' THEN 'ligne_trop_longue'
           ELSE 'ligne_illisible'
       END AS motif,
       $fichier AS _fichier
FROM (SELECT *, row_number() OVER (PARTITION BY line ORDER BY byte_position) AS k FROM _csv_rejets) AS r
LEFT JOIN _entete AS e ON e.nom_genere = r.column_name
WHERE r.k = 1;

UPDATE _rejets SET colonne = $derniere_colonne WHERE colonne IS NULL;
