"""What the three Kivy apps (kiosk, displays, counter terminal) share.

`bootstrap` is Kivy-free and runs first: Kivy reads its configuration when it
is first imported, so the window is set up before any module imports Kivy.
"""
