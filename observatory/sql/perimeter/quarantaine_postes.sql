-- Jobs of staging.postes whose SIRET is not an establishment of ess.etablissements (unknown to the
-- establishments extract, or of an establishment whose legal unit is unknown): appended to
-- staging.quarantaine with motif 'siret_inconnu' and action 'rejete' (they are not in ess.postes).
-- Rows written by an earlier run of this file are replaced, so that the step can be rerun.

CREATE TABLE IF NOT EXISTS staging.quarantaine (
    extrait VARCHAR,
    fichier VARCHAR,
    ligne BIGINT,
    colonne VARCHAR,
    valeur VARCHAR,
    motif VARCHAR,
    action VARCHAR
);

DELETE FROM staging.quarantaine WHERE extrait = 'postes' AND motif = 'siret_inconnu';

INSERT INTO staging.quarantaine (extrait, fichier, ligne, colonne, valeur, motif, action)
WITH
etablissements_connus AS (
    SELECT DISTINCT siret FROM ess.etablissements
),

postes_orphelins AS (
    SELECT p._fichier, p._ligne, p.SIRET
    FROM staging.postes AS p
    ANTI JOIN etablissements_connus AS e ON e.siret = p.SIRET
)

SELECT 'postes', _fichier, _ligne, 'SIRET', SIRET, 'siret_inconnu', 'rejete'
FROM postes_orphelins
ORDER BY _fichier, _ligne;
