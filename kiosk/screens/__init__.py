"""The kiosk's screens: each a small class with its kv file beside it."""
from pathlib import Path

from motcua.resources import package_path

from .. import widgets  # noqa: F401  registers LongPressLabel for the kv files
from .. import keyboard  # noqa: F401  registers KeyField and OnScreenKeyboard
from .admin import AdminScreen, PinScreen
from .dossier import DossierResultScreen, DossierScreen, TicketStatusScreen
from .home import HomeScreen
from .priority import PriorityScreen
from .procedures import ProcedureScreen, ProceduresScreen
from .services import ServicesScreen
from .ticket import TicketScreen

HERE = package_path("motcua.kiosk.screens")

SCREENS = [
    ("home", HomeScreen, HERE / "home.kv"),
    ("services", ServicesScreen, HERE / "services.kv"),
    ("priority", PriorityScreen, HERE / "priority.kv"),
    ("ticket", TicketScreen, HERE / "ticket.kv"),
    ("dossier", DossierScreen, HERE / "dossier.kv"),
    ("dossierresult", DossierResultScreen, None),
    ("ticketstatus", TicketStatusScreen, None),
    ("procedures", ProceduresScreen, HERE / "procedures.kv"),
    ("procedure", ProcedureScreen, None),
    ("pin", PinScreen, HERE / "pin.kv"),
    ("admin", AdminScreen, HERE / "admin.kv"),
]
