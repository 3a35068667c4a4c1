from kivy.uix.screenmanager import Screen


class TicketScreen(Screen):
    """The number, big, with everything the citizen needs to wait calmly."""
