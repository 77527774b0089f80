"""Reports built from the accessors' frames: tables, figures and text (the only tabulate/matplotlib users)."""

from .overview import crawl_overview, render_sections

__all__ = ["crawl_overview", "render_sections"]
