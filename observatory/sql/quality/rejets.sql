-- _qualite_rejets: every row of staging.quarantaine (rejected: not counted; kept: counted, flagged), with
-- the French label of its motif, in the order of the extracts, then file, line and column.
-- Needs _qualite_extraits and _qualite_motifs (libelles.sql). Written to qualite/rejets.parquet.

CREATE OR REPLACE TEMP TABLE _qualite_rejets AS
SELECT
    q.extrait,
    q.fichier,
    q.ligne,
    q.colonne,
    q.valeur,
    q.motif,
    q.action,
    coalesce(m.libelle, q.motif) AS libelle_motif
FROM staging.quarantaine AS q
LEFT JOIN _qualite_extraits AS x ON x.extrait = q.extrait
LEFT JOIN _qualite_motifs AS m ON m.motif = q.motif
ORDER BY coalesce(x.ordre, 99), q.extrait, q.fichier, q.ligne NULLS LAST, q.colonne NULLS LAST, q.motif, q.valeur;
