"""Quality control: the checks, the verdicts a take gets, retakes, the film checked again."""
