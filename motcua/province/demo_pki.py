"""A throwaway certificate authority and server certificates made with the
`openssl` command, for the province demo and the tests: the same commands
docs/province.md ("TLS files") gives for a real province, with short lifetimes.
A real province keeps its CA key off the broker; here it sits beside it."""
from __future__ import annotations

import ipaddress
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


class OpenSSLError(RuntimeError):
    pass


def openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise OpenSSLError("the openssl command is not installed: apt-get install openssl (`make demo-province` "
                           "installs it)")
    done = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise OpenSSLError(f"openssl {args[0]} failed: {done.stderr.strip()}")


@dataclass(frozen=True)
class Pki:
    folder: Path
    ca: Path       # the CA certificate: what a client (a centre's bridge) trusts
    ca_key: Path   # kept by whoever signs; never copied to a broker or a centre

    def server(self, name: str, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
               days: int = 2) -> tuple[Path, Path]:
        """A server certificate and key signed by this CA, valid for `hosts` (IP
        addresses or DNS names: the subjectAltName a client checks the address against)."""
        key, csr, crt = (self.folder / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
        openssl("req", *EC, "-keyout", key.name, "-out", csr.name, "-subj", f"/CN={hosts[0]}", cwd=self.folder)
        ext = self.folder / f"{name}.ext"
        ext.write_text(
            f"subjectAltName={','.join(_san(h) for h in hosts)}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n", encoding="utf-8")
        openssl("x509", "-req", "-in", csr.name, "-CA", self.ca.name, "-CAkey", self.ca_key.name,
                "-CAcreateserial", "-out", crt.name, "-days", str(days), "-extfile", ext.name, cwd=self.folder)
        csr.unlink()
        # Mosquitto started as root reads them as the `mosquitto` user: a throwaway key may be 0644
        for f in (crt, key):
            f.chmod(0o644)
        return crt, key


def _san(host: str) -> str:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return f"DNS:{host}"
    return f"IP:{host}"


def make_ca(folder: Path, name: str = "motcua test CA", days: int = 2) -> Pki:
    """A new CA in `folder` (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    openssl("req", "-x509", *EC, "-keyout", "ca.key", "-out", "ca.crt", "-days", str(days),
            "-subj", f"/CN={name}", cwd=folder)
    (folder / "ca.crt").chmod(0o644)
    return Pki(folder, folder / "ca.crt", folder / "ca.key")
