"""The ``motcua`` simulator: a provincial one-stop system modelled on VNPT-iGate (see docs/simulators/motcua.md)."""

from __future__ import annotations

from simulators.motcua.app import TOKEN_PATH, MotcuaApp
from simulators.motcua.mess import MESS_KINDS
from simulators.motcua.settings import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, MotcuaSettings

__all__ = ["DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "MESS_KINDS", "TOKEN_PATH", "MotcuaApp", "MotcuaSettings"]
