-- Establishments of staging.etablissements whose SIREN is not a legal unit of ess.unites_legales: they
-- cannot be classified, so they are not in ess.etablissements. Appended to staging.quarantaine with motif
-- 'siren_inconnu' and action 'rejete'; rows of an earlier run of this file are replaced.

CREATE TABLE IF NOT EXISTS staging.quarantaine (
    extrait VARCHAR,
    fichier VARCHAR,
    ligne BIGINT,
    colonne VARCHAR,
    valeur VARCHAR,
    motif VARCHAR,
    action VARCHAR
);

DELETE FROM staging.quarantaine WHERE extrait = 'etablissements' AND motif = 'siren_inconnu';

INSERT INTO staging.quarantaine (extrait, fichier, ligne, colonne, valeur, motif, action)
WITH
unites_connues AS (
    SELECT DISTINCT siren FROM ess.unites_legales
),

etablissements_orphelins AS (
    SELECT e._fichier, e._ligne, e.siren
    FROM staging.etablissements AS e
    ANTI JOIN unites_connues AS u ON u.siren = e.siren
)

SELECT 'etablissements', _fichier, _ligne, 'siren', siren, 'siren_inconnu', 'rejete'
FROM etablissements_orphelins
ORDER BY _fichier, _ligne;
