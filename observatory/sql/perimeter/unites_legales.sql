-- ess.unites_legales: every legal unit of staging.unites_legales, classified in the ESS perimeter
-- (shared/domain/perimeter.md §1–§5) with the tables loaded by observatory.reference.load.
--
-- Statistical perimeter `ess`: the CJ's family (ref.perimetre_cj, switches applied) is an ESS family
-- and the unit's activity (APEN) is not excluded (ref.activites_exclues: a division or a sous-classe).
-- The activity is tested only when the unit's nomenclature is NAFRev2; with another or an empty
-- nomenclature the unit is classified on its CJ alone (motif nomenclature_non_rev2), and with NAFRev2 but
-- no activity code likewise (motif activite_absente).
-- Legal perimeter `ess_loi_2014`: `ess` or the SIRENE flag economieSocialeSolidaireUniteLegale = 'O'.
-- Units that enter it only through the flag get the family societe_commerciale_ess. A flag 'N' never
-- removes a unit from `ess`.
-- `public`: CJ of level I 7 (personnes morales de droit administratif), and level I 4 (personnes
-- morales de droit public soumises au droit commercial) when ref.perimetre_parametres.public_4xxx.
--
-- motif (one per unit, first that applies):
--   cj_absente            empty CJ                                   → hors_ess
--   cj_inconnue           CJ not in the nomenclature                 → hors_ess (data-quality report)
--   cj_hors_perimetre     known CJ outside the ESS families          → hors_ess
--   activite_exclue       ESS family, excluded NAF rév. 2 activity   → hors_ess
--   nomenclature_non_rev2 ESS family, activity not in NAF rév. 2     → the family, on the CJ alone
--   activite_absente      ESS family, NAFRev2 but no activity code   → the family, on the CJ alone
--   cj_famille            ESS family, activity not excluded          → the family
--   drapeau_sirene        replaces cj_hors_perimetre / activite_exclue when the flag is 'O'
--                         (family societe_commerciale_ess); cj_absente and cj_inconnue are kept as they
--                         are, so that the data-quality report still counts them.
-- Rows keep the order of the extract (_fichier, _ligne).

CREATE OR REPLACE TABLE ess.unites_legales AS
WITH
parametres AS (
    SELECT perimetre_version, public_4xxx FROM ref.perimetre_parametres
),

unites AS (
    SELECT
        _fichier,
        _ligne,
        siren,
        nullif(trim(categorieJuridiqueUniteLegale), '') AS categorie_juridique,
        nullif(upper(trim(activitePrincipaleUniteLegale)), '') AS activite_principale,
        nullif(trim(nomenclatureActivitePrincipaleUniteLegale), '') AS nomenclature,
        coalesce(upper(trim(economieSocialeSolidaireUniteLegale)) = 'O', false) AS drapeau_ess
    FROM staging.unites_legales
),

avec_cj AS (
    SELECT
        u.*,
        c.cj IS NOT NULL AS cj_connue,
        coalesce(p.famille, 'hors_ess') AS famille_cj
    FROM unites AS u
    LEFT JOIN ref.categories_juridiques AS c ON c.cj = u.categorie_juridique
    LEFT JOIN ref.perimetre_cj AS p ON p.cj = u.categorie_juridique
),

avec_activite AS (
    SELECT
        a.*,
        a.nomenclature = 'NAFRev2' AND a.activite_principale IS NOT NULL AS activite_rev2,
        EXISTS (
            SELECT 1
            FROM ref.activites_exclues AS x
            WHERE (x.niveau = 'sous_classe' AND x.code = a.activite_principale)
               OR (x.niveau = 'division' AND x.code = left(a.activite_principale, 2))
        ) AS activite_dans_liste
    FROM avec_cj AS a
),

perimetre_statistique AS (
    SELECT
        *,
        CASE
            WHEN categorie_juridique IS NULL THEN 'cj_absente'
            WHEN NOT cj_connue THEN 'cj_inconnue'
            WHEN famille_cj = 'hors_ess' THEN 'cj_hors_perimetre'
            WHEN activite_rev2 AND activite_dans_liste THEN 'activite_exclue'
            WHEN coalesce(nomenclature, '') <> 'NAFRev2' THEN 'nomenclature_non_rev2'
            WHEN NOT activite_rev2 THEN 'activite_absente'
            ELSE 'cj_famille'
        END AS motif_statistique
    FROM avec_activite
),

classement AS (
    SELECT
        *,
        motif_statistique IN ('cj_famille', 'nomenclature_non_rev2', 'activite_absente') AS ess
    FROM perimetre_statistique
),

perimetre_legal AS (
    SELECT
        *,
        ess OR drapeau_ess AS ess_loi_2014,
        CASE
            WHEN ess THEN famille_cj
            WHEN drapeau_ess THEN 'societe_commerciale_ess'
            ELSE 'hors_ess'
        END AS famille_ess,
        CASE
            WHEN NOT ess AND drapeau_ess AND motif_statistique IN ('cj_hors_perimetre', 'activite_exclue')
                THEN 'drapeau_sirene'
            ELSE motif_statistique
        END AS motif
    FROM classement
)

SELECT
    l.siren,
    l.categorie_juridique,
    l.activite_principale,
    l.famille_ess,
    l.ess,
    l.ess_loi_2014,
    coalesce(
        left(l.categorie_juridique, 1) = '7' OR (left(l.categorie_juridique, 1) = '4' AND p.public_4xxx),
        false
    ) AS public,
    l.motif,
    p.perimetre_version
FROM perimetre_legal AS l
CROSS JOIN parametres AS p
ORDER BY l._fichier, l._ligne;
