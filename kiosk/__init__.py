"""The citizen kiosk (Kivy): take a number, look up procedures, check a dossier."""
