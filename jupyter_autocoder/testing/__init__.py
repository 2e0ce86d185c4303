"""Test doubles that speak the same protocols as the real parts."""
