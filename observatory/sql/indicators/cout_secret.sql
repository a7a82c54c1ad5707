-- (macros statuts_par_niveau, part_masquee: sql/indicators/macro_cout_secret.sql)
-- The cost of secrecy, per published level (manifest.json, section cout_du_secret): the figures of the
-- indicator table by statut, and the share of jobs at 31/12 held in hidden headcount cells — on the champs
-- public, ESS and privé hors ESS without breakdown, which partition each territory's jobs — in whole percent
-- (rounded so coarsely that it adds no useful relation between hidden cells; not given — NULL — when one or two
-- hidden cells make it, which it would bound).
WITH emplois AS (
    SELECT
        niveau,
        sum(valeur_calculee) FILTER (WHERE statut IN ('secret_primaire', 'secret_secondaire')) AS masques,
        count(*) FILTER (WHERE statut IN ('secret_primaire', 'secret_secondaire')) AS n_masques,
        sum(valeur_calculee) AS total
    FROM ind.indicateurs
    WHERE indicateur = 'effectif_31_12'
      AND champ IN ('public', 'ess', 'prive_hors_ess')
      AND famille = 'toutes' AND secteur = 'tous' AND tranche = 'toutes' AND sexe = 'tous' AND pcs = 'toutes'
    GROUP BY niveau
)

SELECT
    f.niveau,
    f.cellules,
    f.publie,
    f.secret_primaire,
    f.secret_secondaire,
    part_masquee(e.masques, e.n_masques, e.total) AS part_emploi_masque_pourcent
FROM statuts_par_niveau('ind.indicateurs') AS f
LEFT JOIN emplois AS e USING (niveau)
ORDER BY CASE f.niveau WHEN 'france' THEN 0 WHEN 'region' THEN 1 WHEN 'departement' THEN 2 ELSE 3 END, f.niveau;
