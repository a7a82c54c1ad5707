"""The ``observatory`` command: generate, run, classify, audit, portrait, portal.

Domain errors (:class:`observatory.errors.ObservatoryError`) are printed as one clear message and the
command exits with status 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from observatory.config import DEFAULT_MILLESIME, DEFAULT_PERIMETRE, Settings
from observatory.errors import ObservatoryError

SCALES = {"sample": 0.02, "france": 1.0}


def _cmd_generate(args: argparse.Namespace) -> int:
    from observatory import synth

    fraction = args.fraction if args.fraction is not None else SCALES[args.scale]
    out = Path(args.out) if args.out else Settings().data_dir
    if args.region:
        from observatory.synth.regional import check_regions

        check_regions(args.region)  # before minutes of drawing
    t0 = time.perf_counter()
    summary = synth.generate(
        out_dir=out / str(args.millesime),
        millesime=args.millesime,
        fraction=fraction,
        seed=args.seed,
        dirty_rate=args.dirty_rate,
    )
    if args.region:
        from observatory.synth.regional import keep_regions

        summary = keep_regions(out / str(args.millesime), args.region)
    print(f"generated {out / str(args.millesime)} in {time.perf_counter() - t0:.1f} s")
    for name, rows in summary.items():
        print(f"  {name}: {rows:,} rows".replace(",", " "))
    return 0


def _cmd_classify(args: argparse.Namespace) -> int:
    from observatory import classify

    n = classify.classify_file(Path(args.input), Path(args.output), perimetre=args.perimetre)
    print(f"classified {n} legal units into {args.output} ({args.perimetre})")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from pipelines.run import run_pipeline

    settings = Settings().with_(millesime=args.millesime, perimetre=args.perimetre)
    return 0 if run_pipeline(settings, region=args.region) else 1


def _cmd_audit(args: argparse.Namespace) -> int:
    from observatory import audit

    settings = Settings().with_(millesime=args.millesime)
    report = audit.audit_publication(settings, joint_rounded=args.joint_rounded)
    print(report.summary())
    return 0 if report.passed else 1


def _cmd_portal(args: argparse.Namespace) -> int:
    from observatory.publish import portal

    settings = Settings().with_(millesime=args.millesime)
    path = portal.build_portal(settings.output_dir, args.millesime)
    print(f"portal written to {path}")
    return 0


def _cmd_portrait(args: argparse.Namespace) -> int:
    from observatory import territories
    from observatory.territories.build import publish_territory

    settings = Settings().with_(millesime=args.millesime)
    req = territories.request_from_file(args.communes, nom=args.nom, slug=args.slug)
    res = publish_territory(settings, req)
    print(
        f"territoire « {res.nom} » ({res.n_communes} communes) publié dans {res.folder} en {res.seconds:.1f} s"
        f"{' (déjà publié : même masque)' if res.reused else ''}; {res.hidden} case(s) masquée(s) sur {len(res.cells)}"
    )
    for code, parent in sorted(res.mapped.items()):
        print(f"  {code} compté dans la commune {parent}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="observatory", description="Observatoire de l'ESS: pipeline and tools")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write synthetic INSEE-style extracts into data_raw/<millesime>/")
    g.add_argument("--scale", choices=sorted(SCALES), default="sample")
    g.add_argument(
        "--fraction", type=float, default=None, help="share of the national volume (overrides --scale)"
    )
    g.add_argument("--millesime", type=int, default=DEFAULT_MILLESIME)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--dirty-rate", type=float, default=0.002, help="share of dirty rows in each extract")
    g.add_argument("--out", default=None, help="drop zone (default: $OBSERVATORY_DATA_DIR or data_raw)")
    g.add_argument(
        "--region",
        action="append",
        default=None,
        help="keep only this région's establishments, units, jobs and headcounts, as INSEE delivers a regional "
        "observatory its extract (COG code; repeat for several)",
    )
    g.set_defaults(func=_cmd_generate)

    c = sub.add_parser("classify", help="classify the legal units of one StockUniteLegale file")
    c.add_argument("input")
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--perimetre", default=DEFAULT_PERIMETRE)
    c.set_defaults(func=_cmd_classify)

    r = sub.add_parser("run", help="run the pipeline's Dagster jobs (the whole graph, or one region)")
    r.add_argument("--millesime", type=int, default=Settings().millesime)
    r.add_argument("--perimetre", default=Settings().perimetre)
    r.add_argument("--region", default=None, help="rebuild the publications of one region only (COG code)")
    r.set_defaults(func=_cmd_run)

    a = sub.add_parser("audit", help="independent secrecy audit of the published indicator table")
    a.add_argument("--millesime", type=int, default=Settings().millesime)
    a.add_argument(
        "--joint-rounded",
        action="store_true",
        help="also bound the hidden ETP and payroll on their families of relations at once (slower)",
    )
    a.set_defaults(func=_cmd_audit)

    t = sub.add_parser(
        "portrait", help="portrait of a territory on demand (a CSV of commune codes), secrecy-safe"
    )
    t.add_argument(
        "--communes", required=True, help="CSV file with a code_commune column (and optionally nom)"
    )
    t.add_argument(
        "--nom", default=None, help="the territory's name (default: the file's nom column or its name)"
    )
    t.add_argument("--slug", default=None, help="folder name under territoires/ (default: the file name)")
    t.add_argument("--millesime", type=int, default=Settings().millesime)
    t.set_defaults(func=_cmd_portrait)

    o = sub.add_parser("portal", help="rebuild the static download portal")
    o.add_argument("--millesime", type=int, default=Settings().millesime)
    o.set_defaults(func=_cmd_portal)
    return p


def main(argv: list[str] | None = None) -> int:
    # SIGTERM (``kill``, ``timeout``, a service manager) stops a run as Ctrl-C does: the running Dagster run is
    # stopped with its step processes, its staged publication removed, and the publication left unchanged
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ObservatoryError as exc:
        print(f"observatory: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("observatory: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
