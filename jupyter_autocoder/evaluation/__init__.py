"""Measuring the agent loop on coding tasks (moved out of agent/, which it drives)."""
