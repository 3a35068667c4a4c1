"""The officer's counter terminal (issue 6): `motcua counter-app N`."""
