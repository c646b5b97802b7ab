"""Drivers that ship with core (the ``test:///`` driver)."""
