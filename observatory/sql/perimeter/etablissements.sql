-- ess.etablissements: every establishment of staging.etablissements whose legal unit is classified in
-- ess.unites_legales, with its territory, its sector and its unit's perimeter.
--
-- Territory: codeCommuneEtablissement is looked up in ref.communes (current COG), then taken to the commune
-- it counts in (code_commune_rattachement: Paris, Lyon, Marseille arrondissements → their commune,
-- communes déléguées/associées → their commune nouvelle); département, région and EPCI are those of that
-- commune. code_commune holds the rattachement commune. A code unknown to the COG, a code abroad (98x,
-- 99xxx) or an empty code leaves code_commune and the territory codes NULL: the establishment is kept,
-- outside every territory, and counted in the data-quality report.
-- Sector: the establishment's own activity (APET), a valid NAF rév. 2 sous-classe (ref.naf) whose
-- division maps to ref.secteurs; missing, invalid or older-nomenclature codes give secteur 'NCL'. A sector
-- of the public field only (ref.secteurs.public_seulement: ADM, administration publique, division 84,
-- perimeter.md §6) declared by a private employer gives 'NCL' too: ADM is published for the public champ
-- only, and the private champs' sectors still add up to their total.
-- Perimeter: that of the legal unit. With the switch activite_etablissement (ref.perimetre_parametres) the
-- activity exclusion is tested on the establishment's APET instead of the unit's APEN: an establishment of a
-- unit whose CJ has an ESS family is in `ess` unless its own NAF rév. 2 activity is excluded; `ess_loi_2014`
-- is then `ess` or the unit's SIRENE flag 'O'.
-- A legal unit listed twice in ess.unites_legales is read once (ingestion quarantines later duplicates).

CREATE OR REPLACE TABLE ess.etablissements AS
WITH
parametres AS (
    SELECT activite_etablissement FROM ref.perimetre_parametres
),

unites AS (
    SELECT DISTINCT ON (u.siren)
        u.siren,
        u.famille_ess,
        u.ess,
        u.ess_loi_2014,
        u.public,
        coalesce(p.famille, 'hors_ess') AS famille_cj,
        u.motif IN ('cj_absente', 'cj_inconnue') AS cj_invalide
    FROM ess.unites_legales AS u
    LEFT JOIN ref.perimetre_cj AS p ON p.cj = u.categorie_juridique
),

drapeaux AS (
    SELECT siren, bool_or(upper(trim(economieSocialeSolidaireUniteLegale)) = 'O') AS drapeau_ess
    FROM staging.unites_legales
    GROUP BY siren
),

etablissements AS (
    SELECT
        siret,
        siren,
        nullif(trim(codeCommuneEtablissement), '') AS code_commune_source,
        nullif(upper(trim(activitePrincipaleEtablissement)), '') AS activite_principale,
        nullif(trim(nomenclatureActivitePrincipaleEtablissement), '') AS nomenclature,
        etablissementSiege AS siege
    FROM staging.etablissements
),

territoires AS (
    SELECT
        e.*,
        r.code_commune,
        r.code_departement,
        r.code_region,
        r.code_epci
    FROM etablissements AS e
    LEFT JOIN ref.communes AS c ON c.code_commune = e.code_commune_source
    LEFT JOIN ref.communes AS r ON r.code_commune = c.code_commune_rattachement
),

activites AS (
    SELECT
        t.*,
        n.division,
        coalesce(s.secteur, 'NCL') AS secteur,
        coalesce(s.public_seulement = 'oui', false) AS secteur_public_seulement,
        coalesce(t.nomenclature, 'NAFRev2') = 'NAFRev2' AND n.sous_classe IS NOT NULL AS activite_rev2,
        EXISTS (
            SELECT 1
            FROM ref.activites_exclues AS x
            WHERE (x.niveau = 'sous_classe' AND x.code = n.sous_classe)
               OR (x.niveau = 'division' AND x.code = n.division)
        ) AS activite_dans_liste
    FROM territoires AS t
    LEFT JOIN ref.naf AS n
        ON n.sous_classe = t.activite_principale AND coalesce(t.nomenclature, 'NAFRev2') = 'NAFRev2'
    LEFT JOIN ref.secteurs AS s ON s.division = n.division
),

perimetre_etablissement AS (
    SELECT
        a.*,
        u.famille_cj <> 'hors_ess' AND NOT u.cj_invalide
            AND NOT (a.activite_rev2 AND a.activite_dans_liste) AS ess_apet,
        coalesce(d.drapeau_ess, false) AS drapeau_ess,
        u.famille_ess AS famille_unite,
        u.famille_cj,
        u.ess AS ess_unite,
        u.ess_loi_2014 AS ess_loi_2014_unite,
        u.public
    FROM activites AS a
    JOIN unites AS u ON u.siren = a.siren
    LEFT JOIN drapeaux AS d ON d.siren = a.siren
),

classement AS (
    SELECT
        e.*,
        CASE WHEN p.activite_etablissement THEN e.ess_apet ELSE e.ess_unite END AS ess,
        CASE
            WHEN NOT p.activite_etablissement THEN e.famille_unite
            WHEN e.ess_apet THEN e.famille_cj
            WHEN e.drapeau_ess THEN 'societe_commerciale_ess'
            ELSE 'hors_ess'
        END AS famille_ess,
        CASE
            WHEN p.activite_etablissement THEN e.ess_apet OR e.drapeau_ess
            ELSE e.ess_loi_2014_unite
        END AS ess_loi_2014
    FROM perimetre_etablissement AS e
    CROSS JOIN parametres AS p
)

SELECT
    siret,
    siren,
    code_commune,
    code_departement,
    code_region,
    code_epci,
    activite_principale,
    division,
    CASE WHEN secteur_public_seulement AND NOT coalesce(public, false) THEN 'NCL' ELSE secteur END AS secteur,
    famille_ess,
    ess,
    ess_loi_2014,
    public,
    siege
FROM classement;
