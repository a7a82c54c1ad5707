-- The employer establishments a territory on demand is aggregated from: one row per establishment with its
-- commune (today's commune, code_commune_rattachement; NULL when outside the COG), its leaf of the champ and
-- family trees, the magnitudes of its cells and what the primary rules need.
--
-- feuille: the ESS family (association, cooperative, mutuelle, fondation, autre_obnl) for an ESS
-- establishment; '_sce' (a société commerciale de l'ESS: ESS loi 2014, not ESS); 'public'; '_oth' (other
-- private employers). Every published champ and family is a union of leaves (observatory.territories.cells).
-- Quantities as in ind.cellules (sql/indicators/cellules.sql): effectif = non-annex jobs held at 31/12,
-- etp = Σ EQTP, masse = Σ S_BRUT, masse_salaire and etp_salaire over the pay field (mean gross pay per ETP),
-- s_net and nbheur over the hourly-pay field's non-annex jobs; n_salaries = non-annex jobs;
-- max_poste_brut / max_poste_net = the establishment's largest single job pay (BTS 80 % rule);
-- temps_partiel = its part-time jobs among the non-annex jobs held at 31/12 (the numerator of the part-time rate).
-- The same quantities by sex, suffixed _F and _H (the women and men cells of a territory: the ESS by sex).
-- secteur and tranche: the establishment's sector (NCL when unclassified) and size band, as ind.cellules
-- reads them (the ESS of a territory by sector and by size band).

SELECT
    e.siret, e.siren, e.code_commune, e.code_departement, e.code_region, e.code_epci,
    CASE
        WHEN e.ess THEN e.famille_ess
        WHEN e.ess_loi_2014 THEN '_sce'
        WHEN e.public THEN 'public'
        ELSE '_oth'
    END AS feuille,
    coalesce(e.secteur, 'NCL') AS secteur, e.tranche,
    CAST(sum(p.effectif) AS DOUBLE) AS effectif,
    CAST(sum(p.etp) AS DOUBLE) AS etp,
    CAST(sum(p.masse) AS DOUBLE) AS masse,
    CAST(coalesce(sum(p.masse_salaire), 0) AS DOUBLE) AS masse_salaire,
    CAST(coalesce(sum(p.etp_salaire), 0) AS DOUBLE) AS etp_salaire,
    CAST(coalesce(sum(p.s_net), 0) AS DOUBLE) AS s_net,
    CAST(coalesce(sum(p.nbheur), 0) AS DOUBLE) AS nbheur,
    CAST(sum(p.n_salaries) AS DOUBLE) AS n_salaries,
    CAST(max(p.max_poste_brut) AS DOUBLE) AS max_poste_brut,
    CAST(max(p.max_poste_net) AS DOUBLE) AS max_poste_net,
    CAST(coalesce(sum(p.temps_partiel), 0) AS DOUBLE) AS temps_partiel,
    CAST(coalesce(sum(p.effectif) FILTER (WHERE p.sexe = 'F'), 0) AS DOUBLE) AS effectif_F,
    CAST(coalesce(sum(p.etp) FILTER (WHERE p.sexe = 'F'), 0) AS DOUBLE) AS etp_F,
    CAST(coalesce(sum(p.masse) FILTER (WHERE p.sexe = 'F'), 0) AS DOUBLE) AS masse_F,
    CAST(coalesce(sum(p.masse_salaire) FILTER (WHERE p.sexe = 'F'), 0) AS DOUBLE) AS masse_salaire_F,
    CAST(coalesce(sum(p.etp_salaire) FILTER (WHERE p.sexe = 'F'), 0) AS DOUBLE) AS etp_salaire_F,
    CAST(coalesce(sum(p.s_net) FILTER (WHERE p.sexe = 'F'), 0) AS DOUBLE) AS s_net_F,
    CAST(coalesce(sum(p.nbheur) FILTER (WHERE p.sexe = 'F'), 0) AS DOUBLE) AS nbheur_F,
    CAST(coalesce(sum(p.n_salaries) FILTER (WHERE p.sexe = 'F'), 0) AS DOUBLE) AS n_salaries_F,
    CAST(coalesce(max(p.max_poste_brut) FILTER (WHERE p.sexe = 'F'), 0) AS DOUBLE) AS max_poste_brut_F,
    CAST(coalesce(max(p.max_poste_net) FILTER (WHERE p.sexe = 'F'), 0) AS DOUBLE) AS max_poste_net_F,
    CAST(coalesce(sum(p.temps_partiel) FILTER (WHERE p.sexe = 'F'), 0) AS DOUBLE) AS temps_partiel_F,
    CAST(coalesce(sum(p.effectif) FILTER (WHERE p.sexe = 'H'), 0) AS DOUBLE) AS effectif_H,
    CAST(coalesce(sum(p.etp) FILTER (WHERE p.sexe = 'H'), 0) AS DOUBLE) AS etp_H,
    CAST(coalesce(sum(p.masse) FILTER (WHERE p.sexe = 'H'), 0) AS DOUBLE) AS masse_H,
    CAST(coalesce(sum(p.masse_salaire) FILTER (WHERE p.sexe = 'H'), 0) AS DOUBLE) AS masse_salaire_H,
    CAST(coalesce(sum(p.etp_salaire) FILTER (WHERE p.sexe = 'H'), 0) AS DOUBLE) AS etp_salaire_H,
    CAST(coalesce(sum(p.s_net) FILTER (WHERE p.sexe = 'H'), 0) AS DOUBLE) AS s_net_H,
    CAST(coalesce(sum(p.nbheur) FILTER (WHERE p.sexe = 'H'), 0) AS DOUBLE) AS nbheur_H,
    CAST(coalesce(sum(p.n_salaries) FILTER (WHERE p.sexe = 'H'), 0) AS DOUBLE) AS n_salaries_H,
    CAST(coalesce(max(p.max_poste_brut) FILTER (WHERE p.sexe = 'H'), 0) AS DOUBLE) AS max_poste_brut_H,
    CAST(coalesce(max(p.max_poste_net) FILTER (WHERE p.sexe = 'H'), 0) AS DOUBLE) AS max_poste_net_H,
    CAST(coalesce(sum(p.temps_partiel) FILTER (WHERE p.sexe = 'H'), 0) AS DOUBLE) AS temps_partiel_H
FROM ess.etablissements_employeurs AS e
JOIN ind.etab_sexe_pcs AS p ON p.siret = e.siret
GROUP BY ALL
ORDER BY e.siret;
