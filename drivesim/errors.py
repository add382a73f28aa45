"""User-facing errors. The CLI prints these as one clear message, never a traceback."""

from __future__ import annotations


class DrivesimError(Exception):
    """An error caused by the user's input or environment, with a message saying how to fix it."""


class ScenarioError(DrivesimError):
    """One or more problems in a scenario file; `issues` holds every one, located."""

    def __init__(self, issues: list["ScenarioIssue"]):  # noqa: F821 - defined in scenario.loader
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class BundleError(DrivesimError):
    """A checkpoint bundle that is missing, incomplete or does not match its config."""
