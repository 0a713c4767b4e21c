"""The course helpers: the notebooks' common set-up and profiles, the plots and the embedding explorer.
Only notebooks and the CLI import it. (The assignments' instructor material lives outside the package, in the
repository's course/ folder, so that no solution is ever installed.)"""

from . import plots
from .explorer import Explorer
from .notebook import RunSettings, get_settings, setup, trained_plug
from .results import seed_summary

__all__ = ["Explorer", "RunSettings", "get_settings", "plots", "seed_summary", "setup", "trained_plug"]
