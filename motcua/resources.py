"""Package data (fonts, kv files, voice pack, templates), found with
importlib.resources so that it is the same from a checkout and an install."""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_path(package: str, *parts: str) -> Path:
    """The file or folder `parts` inside `package`, as a real path: Kivy,
    fpdf2 and PIL open fonts and kv files by name, so motcua is installed
    unzipped (pip does so)."""
    path = Path(str(files(package).joinpath(*parts)))
    if not path.exists():
        raise FileNotFoundError(f"{'/'.join(parts)} is missing from the {package} package: "
                                "reinstall motcua (pip install -e . in a checkout)")
    return path


FONT_DIR = package_path("motcua", "fonts")
