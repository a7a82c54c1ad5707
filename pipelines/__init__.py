"""The Dagster code location of the observatory (assets, checks, jobs, schedules, sensors) and ``observatory run``."""

import warnings

import dagster as dg

# `backfill_policy` (one run for a backfill over several régions) is marked beta in dagster 1.13: say it once
# here, not in every step process's output
warnings.filterwarnings("ignore", category=dg.BetaWarning)
