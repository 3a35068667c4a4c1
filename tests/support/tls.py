"""A throwaway CA and server certificates for the tests: motcua.province.demo_pki,
which the province demo uses too (the same openssl commands as docs/province.md)."""
from motcua.province.demo_pki import EC, OpenSSLError, Pki, make_ca, openssl

__all__ = ["EC", "OpenSSLError", "Pki", "make_ca", "openssl"]
