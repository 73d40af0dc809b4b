"""The desktop app (PySide6 + pyqtgraph). It imports the core; the core never imports it."""
