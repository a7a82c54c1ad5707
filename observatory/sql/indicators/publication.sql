-- ind.publication: the published indicator table, exactly the columns of products.md §2, in a fixed order.
-- Secret figures have an empty valeur; the computed value never leaves the warehouse.

CREATE OR REPLACE TABLE ind.publication AS
SELECT
    millesime, niveau, code, libelle, champ, famille, secteur, tranche, sexe, pcs, indicateur,
    CASE WHEN statut = 'publie' THEN valeur END AS valeur,
    unite, statut, perimetre_version
FROM ind.indicateurs
ORDER BY niveau, code, champ, famille, secteur, tranche, sexe, pcs, indicateur;
