"""The course: the notebooks' common set-up, the plots, the embedding explorer and the assignments' checks.
Only notebooks and the CLI import it."""
