"""Hardware at a kiosk: the ESC/POS ticket printer (hardware.printer) and the
QR scanner, serial or keyboard wedge (hardware.scanner)."""
