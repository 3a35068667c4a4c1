"""Hardware at a kiosk: the ESC/POS ticket printer (hardware.printer) and the
QR scanner, serial or keyboard wedge (hardware.scanner). At a counter: the
satisfaction rating pad, its serial protocol and state machine
(hardware.padproto), its bridge to the centre (hardware.pad_bridge, `motcua
pad`) and a simulated pad on a pty (hardware.pad_sim, `motcua pad-sim`)."""
