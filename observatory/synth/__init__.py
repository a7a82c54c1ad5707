"""Synthetic INSEE-style extracts (SIRENE stocks, BTS *postes*, Urssaf quarterly headcounts).

``generate(out_dir, millesime, fraction, seed, dirty_rate)`` writes the four files of a millésime at a
fraction of the national volume; see :mod:`observatory.synth.generate`. Parameters are data files in
``observatory/synth/data`` (see :mod:`observatory.synth.params`).
"""

from observatory.synth.generate import SEUIL_PARQUET, generate

__all__ = ["SEUIL_PARQUET", "generate"]
