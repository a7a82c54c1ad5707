-- The audit's own sums of the jobs per employer establishment × sexe × pcs (the finest crossing of the
-- indicator table), with the largest single job's pay; written apart from sql/indicators (the audit recomputes
-- what the protection computed). Reads `_audit_postes` (the audit's columns of ess.postes, or a test's
-- DataFrame) and `_audit_employeurs` (siret → sid, the establishment's position in the audit's list):
-- jobs of other establishments are left out.
--   effectif      jobs present at 31/12
--   etp, masse    ETP and gross pay of every job; masse_salaire the gross pay of the pay field (s_brut_salaire)
--   s_net, nbheur net pay and hours of the non-annex jobs; n_salaries the non-annex jobs
--   max_poste_*   the largest job's gross pay (every job) and net pay (non-annex jobs)
-- A float NaN (a test's DataFrame) counts as missing, as NULL does; a sum of nothing is 0, a max of nothing NULL.
-- Sums are compensated (fsum): in practice the same bits whatever order the threads add the jobs in (two runs
-- of the sample compared), where a plain sum of doubles differed in the last bits from one run to the next.
SELECT
    e.sid, p.sexe, p.pcs,
    coalesce(sum(coalesce(p.present_31_12::BIGINT, 0)), 0) AS effectif,
    coalesce(fsum(nullif(p.eqtp::DOUBLE, 'NaN')), 0) AS etp,
    coalesce(fsum(nullif(p.s_brut::DOUBLE, 'NaN')), 0) AS masse,
    coalesce(fsum(nullif(p.s_brut_salaire::DOUBLE, 'NaN')), 0) AS masse_salaire,
    coalesce(fsum(CASE WHEN NOT coalesce(p.annexe, false) THEN nullif(p.s_net::DOUBLE, 'NaN') END), 0) AS s_net,
    coalesce(fsum(CASE WHEN NOT coalesce(p.annexe, false) THEN nullif(p.nbheur::DOUBLE, 'NaN') END), 0) AS nbheur,
    count(*) FILTER (WHERE NOT coalesce(p.annexe, false)) AS n_salaries,
    max(nullif(p.s_brut::DOUBLE, 'NaN')) AS max_poste_brut,
    max(CASE WHEN NOT coalesce(p.annexe, false) THEN nullif(p.s_net::DOUBLE, 'NaN') END) AS max_poste_net
FROM _audit_postes AS p
JOIN _audit_employeurs AS e USING (siret)
GROUP BY e.sid, p.sexe, p.pcs
ORDER BY e.sid, p.sexe, p.pcs
