"""Event-sourced case workflow engine for one-stop dispute mediation centers."""

__version__ = "0.1.0"
