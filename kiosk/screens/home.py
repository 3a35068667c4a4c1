from kivy.uix.screenmanager import Screen


class HomeScreen(Screen):
    """Three big choices, Vietnamese first, English one tap away."""
