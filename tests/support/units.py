"""Reading the systemd units `motcua install` and `motcua province install` write."""
from __future__ import annotations

import configparser

from motcua.install import Target

# A centre's machine as docs/operations.md lays it out.
T = Target(exe="/opt/motcua/venv/bin/motcua", site_file="/etc/motcua/site.toml", data_dir="/var/lib/motcua")


def unit(text: str) -> configparser.ConfigParser:
    """A unit file's sections and settings (comments out, keys as written, no %-interpolation)."""
    c = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#",))
    c.optionxform = str
    c.read_string(text)
    return c
