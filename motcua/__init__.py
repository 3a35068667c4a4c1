"""motcua: queue, displays, rating and dossiers for Vietnam's one-stop centres."""
__version__ = "0.1.0"
