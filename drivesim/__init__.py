"""drivesim: scenario in, labelled camera video out (Video LDM, Blattmann et al. 2023).

    from drivesim import DriveSimPipeline
    pipe = DriveSimPipeline.from_pretrained()
    frames = pipe("scenarios/minimal.yaml", steps=4).frames
"""

__version__ = "0.1.0"

__all__ = ["DriveSimPipeline", "__version__"]

# Registers OpenSCENARIO's .xosc with the scenario loader (a suffix -> reader entry, nothing heavy is
# loaded), so that every entry point's `load_scenario` reads .xosc; the scenario layer never imports it.
import drivesim.standards  # noqa: E402,F401


def __getattr__(name: str):
    # Imported on first use: `import drivesim` stays light (the client and server never load torch).
    if name == "DriveSimPipeline":
        from drivesim.api import DriveSimPipeline

        return DriveSimPipeline
    raise AttributeError(f"module 'drivesim' has no attribute {name!r}")
