-- The cost of secrecy, stated once for the annual table (sql/indicators/cout_secret.sql) and the baromètre
-- (sql/barometre/cout_secret.sql): two temporary macros.
--
-- statuts_par_niveau(tbl): the figures of a published table by level and statut.
CREATE OR REPLACE TEMP MACRO statuts_par_niveau(tbl) AS TABLE
    SELECT
        niveau,
        count(*) AS cellules,
        count(*) FILTER (WHERE statut = 'publie') AS publie,
        count(*) FILTER (WHERE statut = 'secret_primaire') AS secret_primaire,
        count(*) FILTER (WHERE statut = 'secret_secondaire') AS secret_secondaire
    FROM query_table(tbl)
    GROUP BY niveau;

-- part_masquee(masques, n_masques, total): the share of jobs held in hidden headcount cells, in whole percent
-- (rounded so coarsely that it adds no useful relation between hidden cells); not given (NULL) when one or two
-- hidden cells make it, which it would bound.
CREATE OR REPLACE TEMP MACRO part_masquee(masques, n_masques, total) AS
    CASE
        WHEN coalesce(n_masques, 0) BETWEEN 1 AND 2 THEN NULL
        ELSE CAST(round(100 * coalesce(masques, 0) / nullif(total, 0)) AS INTEGER)
    END;
