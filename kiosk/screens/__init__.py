"""The kiosk's screens: each a small class with its kv file beside it."""
from pathlib import Path

from .. import widgets  # noqa: F401  registers LongPressLabel for the kv files
from .admin import AdminScreen, PinScreen
from .home import HomeScreen
from .priority import PriorityScreen
from .services import ServicesScreen
from .ticket import TicketScreen

HERE = Path(__file__).resolve().parent

SCREENS = [
    ("home", HomeScreen, HERE / "home.kv"),
    ("services", ServicesScreen, HERE / "services.kv"),
    ("priority", PriorityScreen, HERE / "priority.kv"),
    ("ticket", TicketScreen, HERE / "ticket.kv"),
    ("pin", PinScreen, HERE / "pin.kv"),
    ("admin", AdminScreen, HERE / "admin.kv"),
]
