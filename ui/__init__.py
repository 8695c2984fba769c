"""Shared Streamlit helpers for the pages: the chapter frame, cached resources, pickers and visuals.

The backend lives in ``interp`` (no Streamlit there); this package only calls it, caches and shows.
"""
