"""The console's pages, one module each (``PAGE``), listed in ``console.app.PAGES``."""
