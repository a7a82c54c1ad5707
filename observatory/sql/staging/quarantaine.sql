-- staging.quarantaine: every row of an extract that breaks a rule, with where and why.
-- action = 'rejete': the row is not in staging; 'conserve': the row is in staging, flagged.
-- ligne is the 1-based line in the file (header = line 1; Parquet: row number).
CREATE OR REPLACE TABLE staging.quarantaine (
    extrait VARCHAR NOT NULL,
    fichier VARCHAR NOT NULL,
    ligne   BIGINT,
    colonne VARCHAR,
    valeur  VARCHAR,
    motif   VARCHAR NOT NULL,
    action  VARCHAR NOT NULL CHECK (action IN ('rejete', 'conserve'))
);
