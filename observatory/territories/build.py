"""Build and publish one territory on demand: cells, protection, audit, portrait, registry.

``publish_territory(settings, request)`` writes ``output/<m>/territoires/<slug>/``:

- ``indicateurs.parquet`` and ``.csv``: the territory's cells in the indicator table's schema
  (``niveau = 'territoire'``, ``code`` = the slug, ``libelle`` = the name), every champ and ESS family:
  establishments, jobs at 31/12, ETP, payroll, mean pays, part-time rate, shares of private and of all
  employment; the ESS's women and men; the ESS's establishments and jobs by sector and by size band
  (:func:`table_rows`);
- ``<slug>.pdf`` and ``.xlsx``: the portrait (:mod:`observatory.publish.portrait`), compared with the
  territory's départements, régions and France; ``donnees/<figure>.csv``: the data behind each figure;
- ``communes.csv``: today's communes of the territory (what the cells cover).

The folder is built aside and swapped in at once; the registry is updated only after. The warehouse is
read under the run lock (one process at a time), read-only.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pyarrow import feather

from observatory import territories as terr
from observatory.config import Settings
from observatory.errors import TerritoryError
from observatory.files import atomic_dir, atomic_path
from observatory.publish import documents, layout_check, model, portrait
from observatory.reference.indicateurs import round_published
from observatory.territories import audit as taudit
from observatory.territories import cells as tc
from observatory.territories import protect as tp
from observatory.warehouse import connect, sql_text

STATUT_CODE = {"publie": 0, "secret_secondaire": 1, "secret_primaire": 2}
STATUTS = {v: k for k, v in STATUT_CODE.items()}


@dataclass
class TerritoryResult:
    """What one request published: the folder, its files, the mask summary, timings."""

    slug: str
    nom: str
    folder: Path
    files: list[Path]
    n_communes: int
    mapped: dict[str, str]
    cells: pd.DataFrame
    hidden: int
    reused: bool
    seconds: float


def table_rows(
    cells_t: pd.DataFrame, mask: pd.DataFrame, slug: str, nom: str, millesime: int, perimetre: str
):
    """The territory's rows in the indicator table's schema (shares in percent, ``valeur`` empty when secret).

    Every champ and family: establishments, jobs at 31/12, ETP, payroll, mean gross pay per ETP and net
    hourly pay, part-time rate, shares of private and of all employment; the ESS's women and men (the cells
    of the mask by sex, ``cells.SEXED``): jobs, ETP, payroll, the two mean pays, the part-time rate, and on
    the ``tous`` row the share of women and the hourly pay gap, defined as in ``sql/indicators/indicateurs.sql``; the ESS by sector and by size
    band (``cells.BROKEN``): establishments and jobs at 31/12, as an EPCI. A mask recorded before the cells
    by sex, sector or band were published (no such column, or no such cells) gives none of them.
    """
    st = {
        (*key, r.nature): STATUT_CODE[r.statut]
        for r, key in zip(mask.itertuples(), tc.keys_of(mask), strict=True)
        if r.statut != "interne"
    }
    val = dict(zip(tc.keys_of(cells_t), cells_t.itertuples(), strict=True))
    pay_secret = dict(zip(val, tc.pay_rate_secret(cells_t), strict=True))
    rows = []

    def add(key, indicateur, valeur, unite, code):
        rows.append((*key, indicateur, valeur, unite, code))

    def pay_code(key) -> int:
        sm = st[(*key, "montant")]
        return max(sm, STATUT_CODE["secret_primaire"]) if pay_secret[key] else sm

    for key, c in val.items():
        champ, famille, sexe, secteur, tranche = key
        if key in tc.INTERNAL or (*key, "montant") not in st:
            continue
        sm = st[(*key, "montant")]
        if sexe == tc.TOUS:
            add(key, "etablissements_employeurs", float(c.n_etab), "nombre", st[(*key, "comptage")])
        add(key, "effectif_31_12", c.effectif, "nombre", sm)
        if secteur != tc.TOUS or tranche != tc.TOUTES:
            continue  # by sector and by size band: establishments and jobs only, as at EPCI level
        add(key, "etp", c.etp, "nombre", sm)
        add(key, "masse_salariale_brute", c.masse, "euros", sm)
        if c.etp_salaire > 0:  # the indicator table's definitions (sql/indicators/indicateurs.sql)
            add(key, "salaire_brut_annuel_moyen_etp", c.masse_salaire / c.etp_salaire, "euros", pay_code(key))
        if c.nbheur > 0:
            add(key, "salaire_net_horaire_moyen", c.s_net / c.nbheur, "euros", pay_code(key))
        if c.effectif > 0 and (*key, "temps_partiel") in st:  # a mask recorded before the rate: none
            add(key, "taux_temps_partiel", 100 * c.temps_partiel / c.effectif, "pourcent",
                max(sm, st[(*key, "temps_partiel")]))  # fmt: skip
        if sexe != tc.TOUS:
            continue
        for total, ind, field_, nature in (
            ("prive", "part_emploi_prive", "effectif", "montant"),
            ("ensemble", "part_emploi_total", "effectif", "montant"),
            ("prive", "part_etablissements_prive", "n_etab", "comptage"),
        ):
            if champ in ("public", "ensemble") and total == "prive" or champ == "ensemble":
                continue
            total_key = (total, "toutes", tc.TOUS, tc.TOUS, tc.TOUTES)
            den = getattr(val[total_key], field_)
            if den > 0:
                code = max(st[(*key, nature)], st[(*total_key, nature)])
                add(key, ind, 100 * getattr(c, field_) / den, "pourcent", code)
        f, h = (tc.sexed_key(champ, famille, x) for x in tc.SEXES)
        if (*f, "montant") in st and (*h, "montant") in st:
            if c.effectif > 0:
                add(key, "part_femmes", 100 * val[f].effectif / c.effectif, "pourcent",
                    max(sm, st[(*f, "montant")]))  # fmt: skip
            vf, vh = val[f], val[h]
            if vf.nbheur > 0 and vh.nbheur > 0 and vh.s_net > 0:
                gap = 100 * (1 - (vf.s_net / vf.nbheur) / (vh.s_net / vh.nbheur))
                add(key, "ecart_salarial_fh", gap, "pourcent", max(pay_code(f), pay_code(h)))
    df = pd.DataFrame(rows, columns=[*tc.KEY_COLUMNS, "indicateur", "valeur", "unite", "st"])
    out = pd.DataFrame(
        {
            "millesime": np.int32(millesime),
            "niveau": "territoire",
            "code": slug,
            "libelle": nom,
            "champ": df["champ"],
            "famille": df["famille"],
            "secteur": df["secteur"],
            "tranche": df["tranche"],
            "sexe": df["sexe"],
            "pcs": "toutes",
            "indicateur": df["indicateur"],
            # the publication precision of each indicator, as the indicator table's
            "valeur": np.where(df["st"] == 0, round_published(df["valeur"], df["indicateur"]), np.nan),
            "unite": df["unite"],
            "statut": df["st"].map(STATUTS),
            "perimetre_version": perimetre,
        }
    )
    keys = ["champ", "famille", "secteur", "tranche", "sexe", "indicateur"]
    return out.sort_values(keys, ignore_index=True)


def _published_territories(vintage: Path, registry: dict) -> dict[str, pd.DataFrame]:
    out = {}
    for slug in registry:
        path = vintage / portrait.TERRITOIRES / slug / "indicateurs.parquet"
        if path.exists():
            out[slug] = pd.read_parquet(path)
    return out


def _protect_and_audit(etabs, table, registry, req, vintage, millesime, perimetre):
    members = etabs["code_commune"].isin(set(req.communes)).to_numpy()
    others = tp.published_levels(etabs, table, members) + tp.registry_levels(
        etabs, registry, skip=req.slug, near=set(req.communes)
    )
    cells_t = tc.aggregate(etabs[members])
    before = _published_territories(vintage, {s: e for s, e in registry.items() if s != req.slug})
    custom_before = {s: tuple(e["communes"]) for s, e in registry.items() if s != req.slug}
    custom_after = {**custom_before, req.slug: req.communes}
    com = portrait._communes()
    hide_all: frozenset = frozenset()
    too_narrow: dict[str, set] = {}
    for _attempt in range(2 * len(tp.INDICATEUR)):
        mask = tp.protect_territory(etabs, members, others, hide_all, too_narrow)
        rows = table_rows(cells_t, mask, req.slug, req.nom, millesime, perimetre)
        report = taudit.audit(
            etabs, table, before, {**before, req.slug: rows}, custom_before, custom_after, com
        )
        if report.passed:
            return cells_t, mask, rows
        # a nature failing for the first time: the cells the audit names are widened (its other cells kept);
        # failing again: every cell of it hidden (the fallback); failing even so: nothing is published
        again = frozenset(n for n in report.failing_natures if n in too_narrow)
        fresh = {n: report.failing_cells[n] for n in report.failing_natures if n not in too_narrow}
        if not fresh and again <= hide_all:
            break
        hide_all |= again
        too_narrow.update(fresh)
    raise TerritoryError(
        f"territoire « {req.slug} » : l'audit du secret échoue même en masquant ses cellules : "
        + "; ".join(report.problems[:3])
    )


CACHE_FORMAT = 2
"""In the establishments' cache key: a new layout of the file makes a new file."""


def _establishments(settings: Settings) -> pd.DataFrame:
    """The employer establishments (:func:`observatory.territories.cells.establishments`), kept in the cache
    folder as Arrow (``territoires/etablissements-<key>.arrow``, lz4, one record batch) for the next request:
    at France the query takes 7–8 s over 2.3 M establishments, the file 1.7 s. The key is the file's layout
    (:data:`CACHE_FORMAT`), the warehouse file's size and modification time and the query's text: a run that
    rewrites the warehouse, or a changed query, makes a new file (the old one is removed). A damaged file is
    read from the warehouse again; a cache folder that cannot be written only costs the time. Called under the
    run lock, as the warehouse is read."""
    if not settings.warehouse.exists():
        raise TerritoryError(f"{settings.warehouse}: aucun entrepôt de données : lancez d'abord observatory run")
    stat = settings.warehouse.stat()
    query = sql_text("territories/etablissements.sql")
    key = hashlib.sha256(f"{CACHE_FORMAT}:{stat.st_size}:{stat.st_mtime_ns}:{query}".encode()).hexdigest()[:16]
    folder = settings.cache_dir / "territoires"
    path = folder / f"etablissements-{key}.arrow"
    if path.exists():
        try:
            return feather.read_table(path, memory_map=True).combine_chunks().to_pandas()
        except (OSError, pa.ArrowException):  # damaged (a disk full while it was written, a copy cut short…)
            pass
    con = connect(settings.warehouse, read_only=True)
    try:
        table = tc.establishments_arrow(con)
    finally:
        con.close()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("etablissements-*.arrow"):
            old.unlink()
        with atomic_path(path) as tmp:
            # one record batch: read back, each column is one chunk (no copy to combine them: 1.8 s at France)
            feather.write_feather(table, tmp, compression="lz4", chunksize=max(table.num_rows, 1))
    except OSError:  # a cache that cannot be written: the next request reads the warehouse again
        pass
    return table.to_pandas()


def publish_territory(settings: Settings, req: terr.TerritoryRequest) -> TerritoryResult:
    """Protect, audit and publish the territory ``req`` for ``settings.millesime`` (see the module docstring)."""
    from observatory.runlock import run_lock

    t0 = time.perf_counter()
    vintage = settings.vintage_output
    table_path = vintage / "tables" / "indicateurs.parquet"
    if not table_path.exists():
        raise TerritoryError(
            f"{table_path}: aucune table des indicateurs publiée : lancez d'abord observatory run"
        )
    table = pd.read_parquet(table_path)
    with run_lock(settings.warehouse):
        registry = terr.read_registry(settings.warehouse, settings.millesime)
        entry = terr.check_against_registry(registry, req)
        etabs = _establishments(settings)
        if entry is not None:  # published before: same mask, same files
            members = etabs["code_commune"].isin(set(req.communes)).to_numpy()
            cells_t = tc.aggregate(etabs[members])
            mask = pd.DataFrame(entry["masque"])
            rows = table_rows(cells_t, mask, req.slug, req.nom, settings.millesime, settings.perimetre)
        else:
            cells_t, mask, rows = _protect_and_audit(
                etabs, table, registry, req, vintage, settings.millesime, settings.perimetre
            )
        folder = vintage / portrait.TERRITOIRES / req.slug
        files = _write(folder, req, rows, table, vintage)
        terr.record(settings.warehouse, settings.millesime, req, mask)
    hidden = int((rows["statut"] != "publie").sum())
    return TerritoryResult(
        req.slug,
        req.nom,
        folder,
        files,
        len(req.communes),
        req.mapped,
        rows,
        hidden,
        entry is not None,
        time.perf_counter() - t0,
    )


def _write(folder: Path, req: terr.TerritoryRequest, rows: pd.DataFrame, table: pd.DataFrame, vintage: Path):
    it = model.IndicatorTable(pd.concat([table, rows], ignore_index=True))
    manifest = documents.read_manifest(vintage)
    t = it.territory("territoire", req.slug)
    place = portrait.place_of_communes(req.communes)
    doc = portrait.portrait_document(it, manifest, t, place, f"{req.nom} (territoire)", req.slug)
    with atomic_dir(folder) as tmp, tempfile.TemporaryDirectory(prefix="observatoire-territoire-") as build:
        rows.to_parquet(tmp / "indicateurs.parquet", index=False)
        rows.to_csv(tmp / "indicateurs.csv", index=False)
        pd.DataFrame({"code_commune": list(req.communes)}).to_csv(tmp / "communes.csv", index=False)
        batch = portrait.Batch(Path(build))
        portrait.write_portrait(doc, batch, tmp / f"{req.slug}.pdf", tmp / "donnees")
        expected = layout_check.expected_figures(rows, "territoire", req.slug)
        problems = layout_check.check_pdf(tmp / f"{req.slug}.pdf", "portrait", expected)
        if problems:
            raise TerritoryError(
                f"territoire « {req.slug} » : contrôle de mise en page : " + "; ".join(problems)
            )
        for p in tmp.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        tmp.chmod(0o755)
    return sorted(p for p in folder.rglob("*") if p.is_file())
