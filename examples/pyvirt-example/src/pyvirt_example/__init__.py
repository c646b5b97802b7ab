"""An example out-of-tree pyvirt driver (see driver.py)."""
