"""drivesim: scenario in, labelled camera video out (Video LDM, Blattmann et al. 2023)."""

__version__ = "0.1.0"
