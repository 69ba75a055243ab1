"""SLAs: business-time arithmetic (engine.py, pure), policies, clocks and events."""
