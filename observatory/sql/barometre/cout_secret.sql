-- (macros statuts_par_niveau, part_masquee: sql/indicators/macro_cout_secret.sql)
-- The cost of secrecy of one semester's baromètre, per level (manifest.json, cout_du_secret.barometre, and the
-- publications' methodology line): the figures of ind.barometre by statut, and the share of the jobs at the end
-- of the semester's last quarter ($q_fin) held in hidden headcount cells — champs ESS and privé hors ESS without
-- breakdown, which partition the source's private field (public only when the source has it) — in whole percent,
-- as for the annual table (sql/indicators/cout_secret.sql), and like it not given when one or two hidden cells
-- make it.
WITH emplois AS (
    SELECT
        niveau,
        sum(value) FILTER (WHERE statut IN ('secret_primaire', 'secret_secondaire')) AS masques,
        count(*) FILTER (WHERE statut IN ('secret_primaire', 'secret_secondaire')) AS n_masques,
        sum(value) AS total
    FROM ind.barometre_cellules
    WHERE q = $q_fin
      AND champ IN ('ess', 'prive_hors_ess', 'public')
      AND famille = 'toutes' AND secteur = 'tous'
      AND statut <> 'non_disponible'
    GROUP BY niveau
)

SELECT
    f.niveau,
    f.cellules,
    f.publie,
    f.secret_primaire,
    f.secret_secondaire,
    part_masquee(e.masques, e.n_masques, e.total) AS part_emploi_masque_pourcent
FROM statuts_par_niveau('ind.barometre') AS f
LEFT JOIN emplois AS e USING (niveau)
ORDER BY CASE f.niveau WHEN 'france' THEN 0 WHEN 'region' THEN 1 WHEN 'departement' THEN 2 ELSE 3 END, f.niveau;
