"""Host utilities shared by every driver: processes, capabilities, audit, host facts.

Plugins may import these modules (they are part of the plugin-facing API);
each module owns one concern and is named after it.
"""
